"""Repository of the NSDs onboarded through the SOL005 API (collection ``ns_descriptors``):
see :class:`mano.records.NsdInfoRecord`."""
from __future__ import annotations

from mano.records import NsdInfoRecord
from mano.store.repository import Index, Repository


class NsdInfoRepository(Repository[NsdInfoRecord]):
    """NSD infos by id."""

    collection_name = "ns_descriptors"
    record_type = NsdInfoRecord
    indexes = (Index.on("created_at"),)
