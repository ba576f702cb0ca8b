"""Repository of the specific manager registry (collection ``specific_managers``).

``(owner_id, sm_id)`` is unique: one SM of a given id per service/VNF instance. SONATA keyed
its registry by service uuid alone, so a second SSM of a service was refused yet reported as
instantiated (SONATA.md section 7); here each SM has its own record and a duplicate is a
:class:`~mano.errors.DuplicateRecordError`.
"""
from __future__ import annotations

from mano.records import SmType, SpecificManagerRecord
from mano.store.repository import Index, Repository


class SpecificManagerRepository(Repository[SpecificManagerRecord]):
    """SSM/FSM registrations by registry uuid, queryable by owner and SM id."""

    collection_name = "specific_managers"
    record_type = SpecificManagerRecord
    indexes = (Index.on("owner_id", "sm_id", unique=True), Index.on("sm_type", "sm_kind"))

    def for_owner(self, owner_id: str, sm_type: SmType | None = None) -> list[SpecificManagerRecord]:
        """The SMs of one service or VNF instance (optionally only SSMs or FSMs)."""
        query: dict[str, object] = {"owner_id": owner_id}
        if sm_type is not None:
            query["sm_type"] = sm_type
        return self.find(query, sort="created_at")

    def by_sm_id(self, owner_id: str, sm_id: str) -> SpecificManagerRecord | None:
        """The SM ``sm_id`` of ``owner_id``, or None."""
        found = self.find({"owner_id": owner_id, "sm_id": sm_id}, limit=1)
        return found[0] if found else None

    def of_kind(self, owner_id: str, sm_kind: str) -> SpecificManagerRecord | None:
        """The SM registered for ``sm_kind`` (``placement``, ``start``, ...) of an owner, or None."""
        found = self.find({"owner_id": owner_id, "sm_kind": sm_kind}, limit=1)
        return found[0] if found else None
