"""Repository of the final replies the AMQP gateway owes (collection ``gateway_replies``):
see :class:`mano.records.GatewayReplyRecord` and :mod:`mano.gateway.core`."""
from __future__ import annotations

from mano.records import GatewayReplyRecord
from mano.store.repository import Repository


class GatewayReplyRepository(Repository[GatewayReplyRecord]):
    """Owed final replies by operation id."""

    collection_name = "gateway_replies"
    record_type = GatewayReplyRecord

    def owed(self) -> list[GatewayReplyRecord]:
        """Every reply still owed, oldest first."""
        return self.find({}, sort="created_at")
