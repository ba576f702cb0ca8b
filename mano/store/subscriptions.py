"""Repositories of the SOL005 API's subscriptions (collection ``subscriptions``) and of the
notifications owed to them (collection ``notifications``, the outbox): see
:class:`mano.records.SubscriptionRecord` and :class:`mano.records.NotificationRecord`."""
from __future__ import annotations

from mano.records import NotificationRecord, SubscriptionRecord
from mano.store.repository import Index, Repository


class SubscriptionRepository(Repository[SubscriptionRecord]):
    """Subscriptions by ``LccnSubscription`` id."""

    collection_name = "subscriptions"
    record_type = SubscriptionRecord
    indexes = (Index.on("created_at"),)


class NotificationRepository(Repository[NotificationRecord]):
    """Notifications by id; a subscriber's undelivered ones in ``seq`` order."""

    collection_name = "notifications"
    record_type = NotificationRecord
    indexes = (Index.on("subscription_id", "delivered", "seq"), Index.on("created_at"))

    def owed(self, subscription_id: str, limit: int | None = None) -> list[NotificationRecord]:
        """The subscriber's undelivered notifications, oldest first."""
        return self.find({"subscription_id": subscription_id, "delivered": False}, sort="seq", limit=limit)
