"""A typed repository over one MongoDB collection, with optimistic concurrency.

Why optimistic concurrency
--------------------------
Several actors may write the same record (a service actor and the gateway both touch an
operation; a restarted actor races its not-yet-dead predecessor). Each record carries a store
revision ``rev``. :meth:`Repository.update` replaces the stored document only if it still has
the revision the caller read (``{_id: id, _rev: rev}`` as the filter of one ``replace_one``,
which the server applies atomically) and writes ``rev + 1``. A write based on an old read is
refused with :class:`~mano.errors.StaleRecordError`, never applied over a newer one: the caller
re-reads and decides again, which :meth:`Repository.mutate` automates for pure changes.

Fencing
-------
An instance's records are written by the one activation that holds its lease
(:mod:`mano.lifecycle.lease`). The holder writes through :meth:`Repository.fenced` views: each
write stores the holder's fencing token in ``_fence`` and is applied only if the stored token
is not newer, so a holder whose lease was taken over (a paused process, a partitioned node)
cannot write after its successor: it gets :class:`~mano.errors.FencedOutError`. A successor
that took over an expired lease first raises the token on the instance's records
(:meth:`Repository.raise_fence`), so the predecessor is shut out even of records the successor
has not written yet. Unfenced writers (admission, the gateway) keep the token they read.

What callers see
----------------
Typed records in and out (never dicts), filters written with record field names
(``{"service_id": x, "state": OperationState.PROCESSING}``; ``id``/``rev`` map to ``_id``/
``_rev``), and only :mod:`mano.errors` exceptions: every driver call runs inside
:func:`~mano.store.boundary.map_store_errors`. Records that have an ``updated_at`` field get it
stamped on every write, so it is the time of the last store write.
"""
from __future__ import annotations

import copy
import dataclasses
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Generic

from pymongo.collection import Collection
from pymongo.database import Database

from mano.errors import DuplicateRecordError, FencedOutError, RecordNotFoundError, StaleRecordError
from mano.records import utcnow
from mano.store.boundary import map_store_errors
from mano.store.documents import (
    FENCE_KEY,
    FIELD_TO_KEY,
    ID_KEY,
    REV_KEY,
    RecordCodec,
    RecordT,
    to_store_filter,
    to_store_key,
)

SortSpec = str | Sequence[str] | None
"""Sort order: a field name or a list of them; a leading ``-`` sorts descending."""


@dataclasses.dataclass(frozen=True)
class Index:
    """A secondary index, declared with record field names and 1 (ascending) / -1 (descending)."""

    keys: tuple[tuple[str, int], ...]
    unique: bool = False

    @classmethod
    def on(cls, *fields: str, unique: bool = False) -> Index:
        """An ascending index on ``fields`` (a leading ``-`` makes a field descending)."""
        return cls(tuple(_sort_key(f) for f in fields), unique=unique)

    def store_keys(self) -> list[tuple[str, int]]:
        """The index keys as document keys, for pymongo."""
        return [(to_store_key(name), direction) for name, direction in self.keys]


def _sort_key(field: str) -> tuple[str, int]:
    return (field[1:], -1) if field.startswith("-") else (field, 1)


class Repository(Generic[RecordT]):
    """CRUD for one record type in one collection; subclasses set the class attributes.

    Subclasses (one module per collection) declare ``collection_name``, ``record_type``,
    ``indexes`` and, for SONATA records, ``codec_type``, and add typed queries.
    """

    collection_name: ClassVar[str]
    record_type: ClassVar[type[Any]]
    indexes: ClassVar[tuple[Index, ...]] = ()
    codec_type: ClassVar[type[RecordCodec[Any]]] = RecordCodec

    def __init__(self, database: Database[dict[str, Any]], *, url: str):
        self._collection: Collection[dict[str, Any]] = database[self.collection_name]
        self._url = url
        self._codec: RecordCodec[RecordT] = self.codec_type(self.record_type, self.collection_name)
        self._stamps_updated_at = "updated_at" in self.record_type.model_fields
        self._fence: int | None = None  # the token of a fenced view (see the module docstring)

    def __repr__(self) -> str:
        fenced = "" if self._fence is None else f" fenced at {self._fence}"
        return f"<{type(self).__name__} {self.collection_name!r}{fenced}>"

    def fenced(self, token: int) -> Repository[RecordT]:
        """This repository as written by the lease holder with fencing token ``token``."""
        view = copy.copy(self)
        view._fence = token
        return view

    def raise_fence(self, filter: Mapping[str, Any], token: int) -> int:
        """Raise the fencing token of the matching records to ``token`` (never lower it), with a
        new revision, so that every write based on an earlier read or an older token fails.
        Returns how many records matched."""
        with self._errors("raise fence"):
            return self._collection.update_many(
                to_store_filter(filter), {"$max": {FENCE_KEY: token}, "$inc": {REV_KEY: 1}}).matched_count

    # --- reads ---------------------------------------------------------------------------------
    def get(self, record_id: str) -> RecordT:
        """The record with that id.

        Raises:
            RecordNotFoundError: no such record (the message names collection and id).
        """
        record = self.find_one(record_id)
        if record is None:
            raise RecordNotFoundError(f"no {self.collection_name} record with id {record_id!r}")
        return record

    def find_one(self, record_id: str) -> RecordT | None:
        """The record with that id, or None."""
        with self._errors(f"get {record_id}"):
            document = self._collection.find_one({ID_KEY: record_id})
        return None if document is None else self._codec.from_document(document)

    def find(self, filter: Mapping[str, Any] | None = None, *,
             sort: SortSpec = None, limit: int | None = None) -> list[RecordT]:
        """Records matching a MongoDB filter written with record field names.

        Args:
            filter: e.g. ``{"service_id": sid, "state": {"$in": [s1, s2]}}``; enums are fine.
            sort: ``"created_at"``, ``"-created_at"`` or a list of such names.
            limit: at most this many records.
        """
        with self._errors("find"):
            cursor = self._collection.find(to_store_filter(filter))
            if sort:
                names = [sort] if isinstance(sort, str) else list(sort)
                cursor = cursor.sort([(to_store_key(f), d) for f, d in map(_sort_key, names)])
            if limit:
                cursor = cursor.limit(limit)
            documents = list(cursor)
        return [self._codec.from_document(d) for d in documents]

    def count(self, filter: Mapping[str, Any] | None = None) -> int:
        """How many records match ``filter`` (all records without one)."""
        with self._errors("count"):
            return self._collection.count_documents(to_store_filter(filter))

    # --- writes --------------------------------------------------------------------------------
    def insert(self, record: RecordT) -> RecordT:
        """Store a new record and return it as stored.

        Raises:
            DuplicateRecordError: a record with that id (or another unique key) exists.
        """
        stored = self._stamped(record, rev=record.rev)
        try:
            with self._errors(f"insert {record.id}"):
                self._collection.insert_one(self._codec.to_document(stored))
        except DuplicateRecordError:
            if self._fence is not None:  # a newer holder created it: say so, not "duplicate"
                with self._errors(f"get {record.id}"):
                    current = self._collection.find_one({ID_KEY: record.id}, {FENCE_KEY: 1})
                if current is not None:
                    self._check_fence(record.id, current)
            raise
        return stored

    def update(self, record: RecordT) -> RecordT:
        """Replace the stored record if it still has ``record.rev``; return it with ``rev + 1``.

        Raises:
            StaleRecordError: the stored record has another revision (someone wrote first).
            RecordNotFoundError: there is no record with that id.
        """
        stored = self._stamped(record, rev=record.rev + 1)
        document = self._codec.to_document(stored)
        query: dict[str, Any] = {ID_KEY: record.id, REV_KEY: record.rev}
        if self._fence is not None:
            # "not newer" (a record written before fencing existed has no token). Not ``$or``:
            # nx-27017 ORs a top-level ``$or`` with the other conditions (2026-12: a replace_one
            # then overwrote another record), while ``$nor`` is ANDed as it should be.
            query["$nor"] = [{FENCE_KEY: {"$gt": self._fence}}]
        with self._errors(f"update {record.id}"):
            result = self._collection.replace_one(query, document)
            if result.matched_count == 1:
                return stored
            current = self._collection.find_one({ID_KEY: record.id}, {REV_KEY: 1, FENCE_KEY: 1})
        if current is None:
            raise RecordNotFoundError(f"no {self.collection_name} record with id {record.id!r}")
        self._check_fence(record.id, current)
        raise StaleRecordError(
            f"{self.collection_name} record {record.id!r} was changed by someone else: "
            f"update expected rev {record.rev}, the store has rev {current.get(REV_KEY)}")

    def upsert(self, record: RecordT, *, exists: bool | None = None) -> RecordT:
        """Insert the record, or update it if it exists; never overwrites a newer revision.

        ``exists``: whether the caller just read the record (True) or found none (False), which
        saves looking it up again; None looks it up. If one was inserted since the caller found
        none, the write falls back to the revision-checked update, as without the hint.

        Raises:
            StaleRecordError: the record exists with a revision other than ``record.rev``.
            RecordNotFoundError: ``exists=True`` but the record is gone.
        """
        if exists is None:
            exists = self.find_one(record.id) is not None
        if not exists:
            try:
                return self.insert(record)
            except DuplicateRecordError:
                if self.find_one(record.id) is None:
                    raise  # another unique key clashed, not the id
                # inserted concurrently: fall through to the revision-checked update
        return self.update(record)

    def delete(self, record_id: str, *, missing_ok: bool = False) -> bool:
        """Delete the record; return whether one was deleted.

        Raises:
            RecordNotFoundError: no such record and not ``missing_ok``.
        """
        with self._errors(f"delete {record_id}"):
            deleted = self._collection.delete_one({ID_KEY: record_id}).deleted_count == 1
        if not deleted and not missing_ok:
            raise RecordNotFoundError(f"no {self.collection_name} record with id {record_id!r}")
        return deleted

    def mutate(self, record_id: str, change: Callable[[RecordT], RecordT], *,
               retries: int = 10, current: RecordT | None = None) -> RecordT:
        """Apply a pure ``change`` to the latest record, re-reading and retrying when stale.

        ``change`` gets the current record and returns the new one (it may be called several
        times, so it must not have side effects). Returning the record unchanged writes nothing.
        ``current``, if given, is the caller's latest copy (one it read or wrote): the first try
        starts from it instead of a read, which saves a round trip when it is still current. A
        stale copy costs the usual stale retry; a change that raises or changes nothing on it is
        tried again on a fresh read, so a stale copy never decides the outcome.

        Raises:
            StaleRecordError: still conflicting after ``retries`` re-reads.
            RecordNotFoundError: no such record.
        """
        if current is not None and current.id != record_id:
            raise ValueError(f"mutate of {self.collection_name}/{record_id} was given record {current.id!r}")
        hinted = current is not None
        tries = retries + 1 + int(hinted)  # a try on the caller's copy is not one of the retries
        for attempt in range(tries):
            if current is None:
                current = self.get(record_id)
            try:
                changed = change(current)
            except Exception:
                if not hinted:
                    raise
                hinted, current = False, None
                continue
            if changed.id != record_id:
                raise ValueError(f"mutate of {self.collection_name}/{record_id} changed the id "
                                 f"to {changed.id!r}")
            if changed == current:
                if hinted:
                    hinted, current = False, None
                    continue
                return current
            hinted = False
            try:
                return self.update(changed.model_copy(update={"rev": current.rev, "fence": current.fence}))
            except StaleRecordError:
                if attempt == tries - 1:
                    raise
                current = None
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))  # de-synchronise writers
        raise AssertionError("unreachable")  # pragma: no cover

    # --- indexes -------------------------------------------------------------------------------
    def ensure_indexes(self) -> None:
        """Create the declared indexes (idempotent; called by ``connect`` on start)."""
        for index in self.indexes:
            with self._errors(f"create index {index.keys}"):
                self._collection.create_index(index.store_keys(), unique=index.unique)

    def existing_indexes(self) -> dict[tuple[tuple[str, int], ...], bool]:
        """The collection's indexes as ``{keys (record field names): unique}``.

        Index *names* are not reported: the embedded server (nx-27017) ignores the names
        clients choose.
        """
        reverse = {key: field for field, key in FIELD_TO_KEY.items()}
        with self._errors("list indexes"):
            found = list(self._collection.list_indexes())
        return {tuple((reverse.get(k, k), int(d)) for k, d in info["key"].items()):
                bool(info.get("unique", False)) for info in found}

    # --- helpers -------------------------------------------------------------------------------
    def _check_fence(self, record_id: str, current: Mapping[str, Any]) -> None:
        stored = int(current.get(FENCE_KEY, 0))
        if self._fence is not None and stored > self._fence:
            raise FencedOutError(
                f"{self.collection_name} record {record_id!r} belongs to a newer lease (token {stored}); "
                f"this writer's lease (token {self._fence}) was taken over")

    def _stamped(self, record: RecordT, *, rev: int) -> RecordT:
        update: dict[str, Any] = {"rev": rev}
        if self._fence is not None:
            update["fence"] = self._fence
        if self._stamps_updated_at:
            update["updated_at"] = utcnow()
        return record.model_copy(update=update)

    def _errors(self, action: str) -> Any:
        return map_store_errors(self._url, f"{action} in {self.collection_name}")
