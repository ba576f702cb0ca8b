"""Repository of the NS instance identifiers created through the SOL005 API (collection
``ns_identifiers``): see :class:`mano.records.NsIdentifierRecord`."""
from __future__ import annotations

from mano.records import NsIdentifierRecord
from mano.store.repository import Index, Repository


class NsIdentifierRepository(Repository[NsIdentifierRecord]):
    """NS instance identifiers by id."""

    collection_name = "ns_identifiers"
    record_type = NsIdentifierRecord
    indexes = (Index.on("nsd_info_id"), Index.on("created_at"))
