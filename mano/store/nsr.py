"""Repository of SONATA network service records (collection ``nsr``).

Documents hold the exact SONATA NSR (see :class:`~mano.store.documents.SonataRecordCodec`);
the NSR id is the service instance id, so no extra link field is needed.
"""
from __future__ import annotations

from mano.records import NsrRecord
from mano.store.documents import SonataRecordCodec
from mano.store.repository import Index, Repository


class NsrRepository(Repository[NsrRecord]):
    """NSRs by service instance id."""

    collection_name = "nsr"
    record_type = NsrRecord
    codec_type = SonataRecordCodec
    indexes = (Index.on("status"),)
