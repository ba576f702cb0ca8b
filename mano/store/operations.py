"""Repository of lifecycle operations (collection ``operations``).

Indexed by ``(service_id, state)`` for "is a workflow running on this service?" (SONATA refuses
a second one) and by ``state`` for "which operations must a restarted runtime resume?".
"""
from __future__ import annotations

from mano.records import OperationRecord
from mano.states import OperationState
from mano.store.repository import Index, Repository

_UNFINISHED = [s for s in OperationState if not s.is_final]


class OperationRepository(Repository[OperationRecord]):
    """Operations by operation id (the correlation id for gateway requests)."""

    collection_name = "operations"
    record_type = OperationRecord
    indexes = (Index.on("service_id", "state"), Index.on("state"), Index.on("created_at"), Index.on("updated_at"))

    def for_service(self, service_id: str) -> list[OperationRecord]:
        """All operations of a service, oldest first."""
        return self.find({"service_id": service_id}, sort="created_at")

    def unfinished(self, service_id: str | None = None) -> list[OperationRecord]:
        """Operations not in a final state (of one service, or of all), oldest first."""
        query: dict[str, object] = {"state": {"$in": _UNFINISHED}}
        if service_id is not None:
            query["service_id"] = service_id
        return self.find(query, sort="created_at")
