"""The SONATA message envelope and body codec (pure: no pika, no sockets).

What goes over the wire is fixed by SONATA (SONATA.md §2) because an unmodified SONATA
gatekeeper must keep working against us:

* bodies are YAML mappings, except on the plugin-manager topics (``platform.management.plugin.*``),
  whose SONATA readers call ``json.loads``: :func:`encode_json_body` writes those. Readers here
  parse both, JSON being YAML;
* ``content_type`` is always ``application/json``, even though we write YAML. That is a
  SONATA quirk we keep on purpose: SONATA readers ignore the content type and parse YAML;
* properties ``app_id``, ``correlation_id``, ``reply_to`` are always present, ``None`` is
  sent as ``""``, and ``headers`` is ``{key: 'default', type: 'request'|'reply'}``.

Decoding is the gateway's first line of defence against whatever is on the bus, so it is
strict and bounded *before* PyYAML builds any object:

1. the raw size is checked against ``Settings.max_descriptor_bytes``;
2. the bytes must be UTF-8;
3. the YAML *event stream* is scanned (libyaml's parser is iterative, unlike PyYAML's
   recursive composer, which dies with ``RecursionError`` or, in C, worse, on ``[[[[…``).
   The scan bounds the nesting depth and the number of nodes *after alias expansion*, so
   a "billion laughs" document is refused although anchors and aliases stay legal (Ruby's
   Psych, which the SONATA gatekeeper uses, emits them for shared objects). libyaml's own
   nesting limit, which its scanner may hit first, is reported as too deep as well
   (:mod:`mano.safe_yaml`);
4. only then ``yaml.safe_load`` (the C loader when libyaml is present) builds the body.
   Only the safe loader is ever used: no Python object tags.

Every refusal is a :class:`MalformedMessageError` whose :attr:`~MalformedMessageError.reason`
says which of the rules was broken, so the gateway can answer
``{status: ERROR, error: ...}`` with a precise text instead of a stack trace.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
import enum
import json
import pathlib
import uuid
from collections.abc import Mapping
from typing import Any, Literal

import yaml

from mano.errors import MessagingError
from mano.safe_yaml import SAFE_DUMPER, SAFE_LOADER, is_nesting_limit
from mano.settings import Settings

__all__ = [
    "CONTENT_TYPE",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_NODES",
    "NO_RESPONSE",
    "ORIGIN_HEADER",
    "Codec",
    "HeaderType",
    "MalformedMessageError",
    "MalformedReason",
    "Message",
    "decode_body",
    "encode_body",
    "encode_json_body",
    "sonata_properties",
]

CONTENT_TYPE = "application/json"
"""SONATA sends this content type for every body, YAML included (SONATA.md §2)."""

ORIGIN_HEADER = "x-mano-origin"
"""Extra header naming the :class:`~mano.messaging.bus.Bus` instance that published a message.

SONATA readers ignore unknown headers; we use it to drop our own messages (``ignore_own``),
which is more precise than SONATA's ``app_id`` comparison when two processes share an app id.
"""

NO_RESPONSE = "NO_RESPONSE"
"""A ``reply_to`` value that tells a SONATA callee to run the request but not answer."""

DEFAULT_MAX_DEPTH = 64
"""Deepest accepted nesting of mappings/sequences. SONATA descriptors nest about 8 levels."""

DEFAULT_MAX_NODES = 1_000_000
"""Most YAML nodes a body may expand to (aliases counted as copies)."""

HeaderType = Literal["request", "reply"]

_Loader: type = SAFE_LOADER
_BaseDumper: type = SAFE_DUMPER


# --- errors ------------------------------------------------------------------------------
class MalformedReason(str, enum.Enum):
    """Which decoding rule a message broke."""

    NOT_UTF8 = "not UTF-8"
    NOT_YAML = "not YAML"
    NOT_MAPPING = "not a mapping"
    TOO_LARGE = "too large"
    TOO_DEEP = "too deep"


class MalformedMessageError(MessagingError):
    """A message body cannot be accepted; :attr:`reason` says why, the text says where.

    Never retryable: the same bytes will fail again.
    """

    retryable = False

    def __init__(self, reason: MalformedReason, detail: str, *, topic: str | None = None,
                 correlation_id: str | None = None):
        self.reason = reason
        self.detail = detail
        self.topic = topic
        self.correlation_id = correlation_id
        where = ""
        if topic is not None:
            where = f"message on {topic!r}"
            if correlation_id:
                where += f" (correlation id {correlation_id})"
            where += ": "
        super().__init__(f"{where}{reason.value}: {detail}")

    def for_message(self, topic: str, correlation_id: str | None) -> MalformedMessageError:
        """The same error, annotated with the message it came from."""
        return MalformedMessageError(self.reason, self.detail, topic=topic,
                                     correlation_id=correlation_id)


# --- the decoded message -----------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Message:
    """One message as received from (or about to be sent to) the bus.

    ``body`` is the decoded mapping, or ``None`` for an empty body. Properties use ``None``
    where SONATA puts ``""``. ``error`` is only set for subscriptions that asked to see
    malformed messages (``on_malformed='deliver'``); ``body`` is then ``None``.
    """

    topic: str
    body: dict[str, Any] | None
    raw: bytes
    correlation_id: str | None = None
    reply_to: str | None = None
    app_id: str | None = None
    headers: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    content_type: str | None = CONTENT_TYPE
    message_id: str | None = None
    exchange: str | None = None
    delivery_tag: int | None = None
    redelivered: bool = False
    error: MalformedMessageError | None = None

    @property
    def header_type(self) -> str | None:
        """SONATA's ``headers.type``: ``'request'`` or ``'reply'`` (or ``None``)."""
        value = self.headers.get("type")
        return value or None

    @property
    def is_request(self) -> bool:
        """SONATA rule: a message that carries ``reply_to`` is a request."""
        return bool(self.reply_to)

    @property
    def origin(self) -> str | None:
        """Instance id of the mano bus that published this message, if it was one."""
        return self.headers.get(ORIGIN_HEADER) or None


# --- the codec ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Codec:
    """Decoding limits bundled with the encode/decode functions.

    Build it from :class:`~mano.settings.Settings` with :meth:`from_settings` so the
    message-size limit is the same one used for descriptors.
    """

    max_bytes: int = Settings.max_descriptor_bytes
    max_depth: int = DEFAULT_MAX_DEPTH
    max_nodes: int = DEFAULT_MAX_NODES

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> Codec:
        """Limits from ``settings`` (``max_descriptor_bytes``); keyword overrides win."""
        values: dict[str, Any] = {"max_bytes": settings.max_descriptor_bytes}
        values.update(overrides)
        return cls(**values)

    def decode(self, raw: bytes) -> dict[str, Any] | None:
        """See :func:`decode_body`."""
        return decode_body(raw, max_bytes=self.max_bytes, max_depth=self.max_depth,
                           max_nodes=self.max_nodes)

    def encode(self, body: Mapping[str, Any] | None) -> bytes:
        """See :func:`encode_body`."""
        return encode_body(body)

    def message(self, topic: str, raw: bytes, *, correlation_id: str | None = None,
                reply_to: str | None = None, app_id: str | None = None,
                headers: Mapping[str, Any] | None = None, content_type: str | None = None,
                message_id: str | None = None, exchange: str | None = None,
                delivery_tag: int | None = None, redelivered: bool = False,
                keep_malformed: bool = False) -> Message:
        """Decode ``raw`` and wrap it with its properties (``""`` becomes ``None``).

        Raises :class:`MalformedMessageError` (annotated with topic and correlation id),
        unless ``keep_malformed`` is true: then the error is stored in ``Message.error``.
        """
        correlation_id = correlation_id or None
        error: MalformedMessageError | None = None
        body: dict[str, Any] | None = None
        try:
            body = self.decode(raw)
        except MalformedMessageError as exc:
            error = exc.for_message(topic, correlation_id)
            if not keep_malformed:
                raise error from None
        return Message(topic=topic, body=body, raw=raw, correlation_id=correlation_id,
                       reply_to=reply_to or None, app_id=app_id or None,
                       headers=dict(headers or {}), content_type=content_type or None,
                       message_id=message_id or None, exchange=exchange,
                       delivery_tag=delivery_tag, redelivered=redelivered, error=error)


def decode_body(raw: bytes, *, max_bytes: int = Settings.max_descriptor_bytes,
                max_depth: int = DEFAULT_MAX_DEPTH,
                max_nodes: int = DEFAULT_MAX_NODES) -> dict[str, Any] | None:
    """Decode a SONATA body (YAML or JSON) into a mapping; ``None`` for an empty body.

    Raises :class:`MalformedMessageError` with reason ``TOO_LARGE``, ``NOT_UTF8``,
    ``NOT_YAML``, ``TOO_DEEP`` or ``NOT_MAPPING``. Note that JSON is read as YAML 1.1, as
    SONATA readers do: ``1e3`` stays the string ``'1e3'``.
    """
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if len(raw) > max_bytes:
        raise MalformedMessageError(MalformedReason.TOO_LARGE,
                                    f"{len(raw)} bytes, the limit is {max_bytes}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedMessageError(MalformedReason.NOT_UTF8,
                                    f"invalid byte at offset {exc.start}") from None
    if not text.strip():
        return None
    _check_structure(text, max_depth=max_depth, max_nodes=max_nodes)
    try:
        value = yaml.load(text, Loader=_Loader)  # a *safe* loader (CSafeLoader/SafeLoader)
    except yaml.YAMLError as exc:
        raise MalformedMessageError(MalformedReason.NOT_YAML, _yaml_problem(exc)) from None
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MalformedMessageError(MalformedReason.NOT_MAPPING,
                                    f"the body is a {_kind(value)}, expected a mapping")
    return value


def _check_structure(text: str, *, max_depth: int, max_nodes: int) -> None:
    """Bound depth and expanded size by scanning YAML events, before anything is built.

    Each open collection is a frame ``[anchor, nodes, height]``. A closed node reports its
    node count and height to its parent and, if anchored, remembers them so that an alias
    counts as a full copy. Counts are exact integers, so this is O(events) even for
    exponential alias bombs.
    """
    anchors: dict[str, tuple[int, int]] = {}
    stack: list[list[Any]] = []
    total = 0

    def add(nodes: int, height: int) -> None:
        nonlocal total
        if stack:
            frame = stack[-1]
            frame[1] += nodes
            frame[2] = max(frame[2], height)
        else:
            total += nodes
        if total > max_nodes or (stack and stack[-1][1] > max_nodes):
            raise MalformedMessageError(
                MalformedReason.TOO_LARGE,
                f"the body expands to more than {max_nodes} nodes (check anchors/aliases)")

    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if len(stack) >= max_depth:
                    raise MalformedMessageError(MalformedReason.TOO_DEEP,
                                                f"nesting deeper than {max_depth} levels")
                stack.append([event.anchor, 1, 0])
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                anchor, nodes, child_height = stack.pop()
                if anchor is not None:
                    anchors[anchor] = (nodes, child_height + 1)
                add(nodes, child_height + 1)
            elif isinstance(event, yaml.ScalarEvent):
                if event.anchor is not None:
                    anchors[event.anchor] = (1, 0)
                add(1, 0)
            elif isinstance(event, yaml.AliasEvent):
                nodes, height = anchors.get(event.anchor or "", (1, 0))
                if len(stack) + height > max_depth:
                    raise MalformedMessageError(
                        MalformedReason.TOO_DEEP,
                        f"nesting deeper than {max_depth} levels (through alias *{event.anchor})")
                add(nodes, height)
    except (yaml.YAMLError, RecursionError) as exc:
        if is_nesting_limit(exc):  # the parser's own limit stopped it before ours could
            raise MalformedMessageError(MalformedReason.TOO_DEEP,
                                        f"nesting deeper than {max_depth} levels") from None
        raise MalformedMessageError(MalformedReason.NOT_YAML, _yaml_problem(exc)) from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(problem)


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


# --- encoding ----------------------------------------------------------------------------
class _Dumper(_BaseDumper):  # type: ignore[misc, valid-type]
    """SafeDumper that also writes the types our records and models carry.

    Datetimes/dates use YAML timestamps (SafeDumper's own behaviour; SONATA readers get
    ``datetime`` objects back). UUIDs, paths and decimals become strings, enums their
    value, tuples and sets lists, dataclasses and pydantic models their field mapping.
    Anchors are never written: they are legal, but a plain tree is friendlier to readers.
    """

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, data: object) -> yaml.Node:
    return dumper.represent_str(str(data))


def _represent_str_subclass(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    # str.__str__ gives the plain text, also for ``class State(str, Enum)`` members.
    return dumper.represent_str(str.__str__(data))


def _represent_list(dumper: yaml.SafeDumper, data: Any) -> yaml.Node:
    return dumper.represent_list(list(data))


def _represent_set(dumper: yaml.SafeDumper, data: Any) -> yaml.Node:
    items = list(data)
    try:
        items.sort()
    except TypeError:
        pass
    return dumper.represent_list(items)


def _represent_enum(dumper: yaml.SafeDumper, data: enum.Enum) -> yaml.Node:
    return dumper.represent_data(data.value)


def _represent_decimal(dumper: yaml.SafeDumper, data: decimal.Decimal) -> yaml.Node:
    if data == data.to_integral_value() and abs(data) < 2**63:
        return dumper.represent_int(int(data))
    return dumper.represent_float(float(data))


def _represent_object(dumper: yaml.SafeDumper, data: Any) -> yaml.Node:
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        return dumper.represent_dict({f.name: getattr(data, f.name)
                                      for f in dataclasses.fields(data)})
    model_dump = getattr(data, "model_dump", None)  # pydantic v2 models
    if callable(model_dump):
        return dumper.represent_dict(model_dump(mode="json"))
    if isinstance(data, Mapping):
        return dumper.represent_dict(dict(data))
    if isinstance(data, (list, tuple)):
        return dumper.represent_list(list(data))
    raise yaml.representer.RepresenterError(f"cannot encode a {type(data).__name__} "
                                            f"in a message body: {data!r}")


_Dumper.add_representer(tuple, _represent_list)
_Dumper.add_representer(set, _represent_set)
_Dumper.add_representer(frozenset, _represent_set)
_Dumper.add_representer(uuid.UUID, _represent_str)
_Dumper.add_representer(decimal.Decimal, _represent_decimal)
_Dumper.add_multi_representer(pathlib.PurePath, _represent_str)
_Dumper.add_multi_representer(enum.Enum, _represent_enum)
_Dumper.add_multi_representer(str, _represent_str_subclass)  # str subclasses, str enums
_Dumper.add_multi_representer(_dt.datetime, yaml.SafeDumper.represent_datetime)
_Dumper.add_multi_representer(_dt.date, yaml.SafeDumper.represent_date)
_Dumper.add_multi_representer(object, _represent_object)  # dataclasses, models, mappings


def encode_body(body: Mapping[str, Any] | None) -> bytes:
    """Encode a body as YAML (UTF-8). ``None`` becomes the empty body, as in SONATA.

    Raises :class:`~mano.errors.MessagingError` when a value has no YAML form.
    """
    if body is None:
        return b""
    if not isinstance(body, Mapping) and not dataclasses.is_dataclass(body) \
            and not hasattr(body, "model_dump"):
        raise MessagingError(f"a message body must be a mapping, not a {type(body).__name__}")
    try:
        text = yaml.dump(body, Dumper=_Dumper, default_flow_style=False, allow_unicode=True,
                         sort_keys=False)
    except (yaml.YAMLError, RecursionError, TypeError, ValueError) as exc:
        raise MessagingError(f"cannot encode message body: {exc}") from exc
    return text.encode("utf-8")


def encode_json_body(body: Mapping[str, Any] | None) -> bytes:
    """Encode a body as JSON (UTF-8), for the topics whose SONATA readers parse JSON only;
    ``None`` becomes ``{}``, as SONATA's ``notify`` sends for no message."""
    try:
        return json.dumps({} if body is None else dict(body), default=str).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise MessagingError(f"cannot encode message body as JSON: {exc}") from exc


def sonata_properties(*, app_id: str, correlation_id: str | None = None,
                      reply_to: str | None = None, headers_type: HeaderType = "request",
                      extra_headers: Mapping[str, Any] | None = None,
                      message_id: str | None = None) -> dict[str, Any]:
    """The AMQP properties SONATA puts on every message, as a plain dict.

    ``None`` is sent as ``""`` (SONATA.md §2); ``content_type`` is always
    ``application/json``; headers are ``{key: 'default', type: ...}`` plus any extras.
    """
    if headers_type not in ("request", "reply"):
        raise ValueError(f"headers_type must be 'request' or 'reply', not {headers_type!r}")
    headers: dict[str, Any] = {"key": "default", "type": headers_type}
    if extra_headers:
        headers.update({k: "" if v is None else v for k, v in extra_headers.items()})
    props: dict[str, Any] = {
        "app_id": app_id or "",
        "content_type": CONTENT_TYPE,
        "correlation_id": correlation_id or "",
        "reply_to": reply_to or "",
        "headers": headers,
    }
    if message_id:
        props["message_id"] = message_id
    return props
