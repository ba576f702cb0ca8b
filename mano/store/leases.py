"""Repository of instance leases (collection ``leases``): see :mod:`mano.lifecycle.lease`.

A lease is taken in one atomic write (:meth:`LeaseRepository.take`): the store applies it only
if the lease is free, so of two activations that try at once one gets it and the other is told
it is held. Renewals and releases go through the optimistic concurrency of every repository.
"""
from __future__ import annotations

from pymongo import ReturnDocument

from mano.errors import DuplicateRecordError
from mano.records import LeaseRecord
from mano.store.documents import FENCE_KEY, ID_KEY, REV_KEY
from mano.store.repository import Repository


class LeaseRepository(Repository[LeaseRecord]):
    """Leases by instance key (``service:<uuid>``, ``vnf:<uuid>``)."""

    collection_name = "leases"
    record_type = LeaseRecord

    def take(self, key: str, *, holder: str, incarnation: str, now: float,
             ttl_s: float) -> tuple[LeaseRecord, bool] | None:
        """Take the lease on ``key`` for ``holder`` if it is free at ``now``; one round trip when
        it is new or was given back, two when it must be taken over.

        Free: never taken or given back; else expired, or left by another incarnation of
        ``holder`` (a restarted actor): then it is *taken over*. Taking it raises its token.

        Returns:
            ``(the lease now, whether it was taken over)``, or None if it is held.
        """
        claim = {"$set": {"holder": holder, "incarnation": incarnation, "expires_at": now + ttl_s, "released": False},
                 "$inc": {"token": 1, REV_KEY: 1}}
        given_back = self._take({ID_KEY: key, "released": True}, claim, key, upsert=True)
        if given_back is not None:
            return given_back, False
        busy = {"expires_at": {"$gt": now}, "$nor": [{"holder": holder, "incarnation": {"$ne": incarnation}}]}
        left = self._take({ID_KEY: key, "released": False, "$nor": [busy]}, claim, key, upsert=False)
        return None if left is None else (left, True)

    def _take(self, filter: dict, update: dict, key: str, *, upsert: bool) -> LeaseRecord | None:
        try:
            with self._errors(f"take {key}"):
                after = self._collection.find_one_and_update(
                    filter, {**update, **({"$setOnInsert": {FENCE_KEY: 0}} if upsert else {})},
                    upsert=upsert, return_document=ReturnDocument.AFTER)
        except DuplicateRecordError:  # it exists and is not free this way: the upsert tried to insert
            return None
        # (nx-27017 answers None instead of the duplicate key error, and writes nothing)
        return None if after is None else self._codec.from_document(after)
