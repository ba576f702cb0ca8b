"""Repository of service instances (collection ``services``): mano's desired/current state.

Indexed by ``state`` (list the live or busy services) and ``name``.
"""
from __future__ import annotations

from mano.records import ServiceRecord
from mano.states import ServiceState
from mano.store.repository import Index, Repository


class ServiceRepository(Repository[ServiceRecord]):
    """Service instance records by service instance id."""

    collection_name = "services"
    record_type = ServiceRecord
    indexes = (Index.on("state"), Index.on("name"))

    def in_state(self, *states: ServiceState) -> list[ServiceRecord]:
        """Services in any of ``states``, oldest first."""
        return self.find({"state": {"$in": list(states)}}, sort="created_at")
