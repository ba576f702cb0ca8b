"""Conversion between typed records and MongoDB documents.

A document is the record's fields with two renames: ``id`` is stored as ``_id`` (MongoDB's
primary key, so lookups by id use the built-in unique index), ``rev`` as ``_rev`` and ``fence``
as ``_fence`` (store fields, kept apart from record data such as SONATA's own ``version``). Enums are stored as
their string values and datetimes natively, so documents stay queryable and readable in any
MongoDB tool. Plain records store *all* fields, defaults included: a record read back never
depends on today's defaults.

SONATA records (:class:`~mano.records.NsrRecord`, :class:`~mano.records.VnfrRecord`) are stored
as their exact SONATA dict plus the store fields, so a record read back emits the same SONATA
dict it was created from (see ``_SonataRecord`` in :mod:`mano.records`).

Reading a document that does not validate as its record type raises
:class:`~mano.errors.StoreError` naming the collection and id, never a pydantic traceback.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import pydantic

from mano.errors import StoreError
from mano.records import Record

RecordT = TypeVar("RecordT", bound=Record)

ID_KEY = "_id"
REV_KEY = "_rev"
FENCE_KEY = "_fence"
FIELD_TO_KEY = {"id": ID_KEY, "rev": REV_KEY, "fence": FENCE_KEY}
"""Record field names that are stored under another key (used for filters, sorts, indexes)."""

_INT64 = (-(2**63), 2**63 - 1)


def to_bson_value(value: Any, *, where: str = "") -> Any:
    """``value`` with enums as their values and tuples as lists, checked for BSON ints.

    Raises:
        StoreError: an int does not fit BSON's 64 bits (bson would raise OverflowError).
    """
    try:
        return _convert(value)
    except _TooBig as too_big:  # rare: walk again to name where it is
        path = _path_to(value, too_big.value, where) or where
        raise StoreError(f"{path.lstrip('.') or 'value'}: integer {too_big.value} does not fit in 64 bits") from None


class _TooBig(Exception):
    def __init__(self, value: int):
        self.value = value


def _convert(value: Any) -> Any:
    # Every stored record goes through here (descriptors included): the common exact types are
    # tested first, by identity, before the slower isinstance checks of enums and ABCs.
    kind = type(value)
    if kind is str or kind is float or kind is bool or value is None:
        return value
    if kind is dict:
        return {k if type(k) is str else str(k): _convert(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_convert(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, int) and not isinstance(value, bool):
        if not _INT64[0] <= value <= _INT64[1]:
            raise _TooBig(value)
        return value
    if isinstance(value, Mapping):
        return {str(k): _convert(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_convert(v) for v in value]
    return value


def _path_to(value: Any, target: int, where: str) -> str | None:
    """The path of the first int equal to ``target`` in ``value`` (for the error message)."""
    if isinstance(value, int) and not isinstance(value, (bool, enum.Enum)) and value == target:
        return where
    if isinstance(value, Mapping):
        items: Any = ((f"{where}.{k}", v) for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((f"{where}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for path, child in items:
        found = _path_to(child, target, path)
        if found is not None:
            return found
    return None


def to_store_key(field: str) -> str:
    """The document key of a record field path (``id`` -> ``_id``; dotted paths pass through)."""
    head, dot, rest = field.partition(".")
    return FIELD_TO_KEY.get(head, head) + dot + rest


def to_store_filter(query: Mapping[str, Any] | None) -> dict[str, Any]:
    """A MongoDB filter written with record field names, in document keys and BSON values."""
    if not query:
        return {}
    translated: dict[str, Any] = {}
    for key, value in query.items():
        if key in ("$and", "$or", "$nor"):
            translated[key] = [to_store_filter(part) for part in value]
        else:
            translated[to_store_key(key)] = to_bson_value(value, where=key)
    return translated


class RecordCodec(Generic[RecordT]):
    """Record <-> document for plain records."""

    def __init__(self, record_type: type[RecordT], collection: str):
        self.record_type = record_type
        self.collection = collection

    def to_document(self, record: RecordT) -> dict[str, Any]:
        """The MongoDB document for ``record``."""
        body = self._body(record)
        where = f"{self.collection}/{record.id}"
        return {ID_KEY: record.id, REV_KEY: record.rev, FENCE_KEY: record.fence,
                **to_bson_value(body, where=where)}

    def from_document(self, document: Mapping[str, Any]) -> RecordT:
        """The record stored in ``document``; StoreError if it does not validate."""
        fields = {k: v for k, v in document.items() if k not in (ID_KEY, REV_KEY, FENCE_KEY)}
        record_id = document.get(ID_KEY)
        try:
            return self._load(fields, str(record_id), int(document.get(REV_KEY, 0)),
                              int(document.get(FENCE_KEY, 0)))
        except (pydantic.ValidationError, TypeError, ValueError) as exc:
            raise StoreError(
                f"{self.collection}/{record_id}: stored document is not a valid "
                f"{self.record_type.__name__}: {exc}") from exc

    def _body(self, record: RecordT) -> dict[str, Any]:
        """The fields to store besides ``_id``, ``_rev`` and ``_fence``."""
        return record.model_dump(exclude={"id", "rev", "fence"})

    def _load(self, fields: dict[str, Any], record_id: str, rev: int, fence: int) -> RecordT:
        return self.record_type.model_validate({**fields, "id": record_id, "rev": rev, "fence": fence})


class SonataRecordCodec(RecordCodec[RecordT]):
    """Record <-> document for SONATA records: the exact SONATA dict plus store fields.

    The SONATA dict keeps its own ``id`` key when the source had one (a copy of ``_id``), so
    a record loaded from a dict without ``id`` (a repository copy keyed by ``uuid``) still
    round-trips without gaining one.
    """

    def _body(self, record: RecordT) -> dict[str, Any]:
        store_names = record.STORE_FIELDS - {"rev", "fence"}  # type: ignore[attr-defined]
        store_fields = {name: getattr(record, name) for name in store_names}
        return {**record.to_sonata(), **store_fields}  # type: ignore[attr-defined]

    def _load(self, fields: dict[str, Any], record_id: str, rev: int, fence: int) -> RecordT:
        store_names = self.record_type.STORE_FIELDS - {"rev", "fence"}  # type: ignore[attr-defined]
        store_fields = {k: fields.pop(k) for k in list(fields) if k in store_names}
        return self.record_type.from_sonata(  # type: ignore[attr-defined,no-any-return]
            fields, record_id=record_id, rev=rev, fence=fence, **store_fields)
