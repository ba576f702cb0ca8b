"""Repository of SONATA VNF records (collection ``vnfr``).

Documents hold the exact SONATA VNFR plus mano's ``service_id`` link, indexed so that "the
VNFRs of a service" does not need the NSR.
"""
from __future__ import annotations

from mano.records import VnfrRecord
from mano.store.documents import SonataRecordCodec
from mano.store.repository import Index, Repository


class VnfrRepository(Repository[VnfrRecord]):
    """VNFRs by VNF instance id, queryable by owning service."""

    collection_name = "vnfr"
    record_type = VnfrRecord
    codec_type = SonataRecordCodec
    indexes = (Index.on("service_id"), Index.on("descriptor_reference"))

    def for_service(self, service_id: str) -> list[VnfrRecord]:
        """The VNFRs of one service instance, in id order."""
        return self.find({"service_id": service_id}, sort="id")
