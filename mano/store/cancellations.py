"""Repository of operators' requests to cancel a running operation (collection
``cancellations``): see :class:`mano.records.CancelRequestRecord`."""
from __future__ import annotations

from mano.records import CancelRequestRecord
from mano.store.repository import Repository


class CancelRequestRepository(Repository[CancelRequestRecord]):
    """Cancel requests by operation id."""

    collection_name = "cancellations"
    record_type = CancelRequestRecord

    def reason(self, operation_id: str) -> str | None:
        """Why the operation is to stop, if an operator asked it to; else None."""
        request = self.find_one(operation_id)
        return None if request is None else request.reason
