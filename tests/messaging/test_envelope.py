"""Codec unit tests: SONATA bodies and properties, and one specific error per malformed case."""
from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import uuid

import pytest
import yaml

from mano.errors import MessagingError
from mano.messaging.envelope import (
    CONTENT_TYPE,
    Codec,
    MalformedMessageError,
    MalformedReason,
    Message,
    decode_body,
    encode_body,
    sonata_properties,
)
from mano.settings import Settings


class Status(str, enum.Enum):
    READY = "READY"


@dataclasses.dataclass
class Point:
    x: int
    tags: tuple[str, ...]


def test_yaml_body_is_decoded() -> None:
    raw = b"status: READY\nerror: null\nvnfrs:\n- id: a\n  vdu: [1, 2]\n"
    assert decode_body(raw) == {"status": "READY", "error": None,
                                "vnfrs": [{"id": "a", "vdu": [1, 2]}]}


def test_json_body_is_decoded_as_yaml() -> None:
    raw = b'{"NSD": {"name": "sonata-demo", "vendor": "eu.sonata"}, "VNFD0": {"a": [1, true]}}'
    assert decode_body(raw) == {"NSD": {"name": "sonata-demo", "vendor": "eu.sonata"},
                                "VNFD0": {"a": [1, True]}}


@pytest.mark.parametrize("raw", [b"", b"  \n", b"null", b"~"])
def test_empty_body_is_none(raw: bytes) -> None:
    assert decode_body(raw) is None


def test_encode_round_trip_with_records_types() -> None:
    when = dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.timezone.utc)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    body = {"status": Status.READY, "timestamp": when, "serv_id": ident, "day": dt.date(2024, 5, 1),
            "point": Point(1, ("a", "b")), "pair": (1, 2), "set": {2, 1}, "name": "ünïcode"}
    raw = encode_body(body)
    assert b"!!python" not in raw and b"&id" not in raw
    assert yaml.safe_load(raw) == decode_body(raw) == {
        "status": "READY", "timestamp": when, "serv_id": str(ident), "day": dt.date(2024, 5, 1),
        "point": {"x": 1, "tags": ["a", "b"]}, "pair": [1, 2], "set": [1, 2], "name": "ünïcode"}


def test_shared_objects_are_written_without_anchors() -> None:
    shared = {"vim": "pop1"}
    raw = encode_body({"a": shared, "b": shared})
    assert b"&" not in raw and b"*" not in raw
    assert decode_body(raw) == {"a": {"vim": "pop1"}, "b": {"vim": "pop1"}}


def test_none_body_encodes_to_empty() -> None:
    assert encode_body(None) == b""


def test_encode_refuses_non_mappings_and_unknown_types() -> None:
    with pytest.raises(MessagingError, match="mapping"):
        encode_body([1, 2])  # type: ignore[arg-type]
    with pytest.raises(MessagingError, match="cannot encode"):
        encode_body({"x": object()})


def test_sonata_properties() -> None:
    props = sonata_properties(app_id="son-plugin.Gateway", correlation_id=None, reply_to=None)
    assert props == {"app_id": "son-plugin.Gateway", "content_type": "application/json",
                     "correlation_id": "", "reply_to": "",
                     "headers": {"key": "default", "type": "request"}}
    reply = sonata_properties(app_id="x", correlation_id="c1", reply_to="t", headers_type="reply")
    assert reply["headers"]["type"] == "reply"
    assert reply["correlation_id"] == "c1" and reply["reply_to"] == "t"
    assert CONTENT_TYPE == "application/json"
    with pytest.raises(ValueError):
        sonata_properties(app_id="x", headers_type="notify")  # type: ignore[arg-type]


# --- one specific error per malformed case ---------------------------------------------------
def _reason(raw: bytes, **limits: int) -> MalformedMessageError:
    with pytest.raises(MalformedMessageError) as info:
        decode_body(raw, **limits)
    assert isinstance(info.value, MessagingError)
    return info.value


def test_not_utf8() -> None:
    err = _reason(b"status: \xff\xfe")
    assert err.reason is MalformedReason.NOT_UTF8
    assert "not UTF-8" in str(err) and "offset 8" in str(err)


@pytest.mark.parametrize("raw", [b"a: [1, 2", b"a: b: c", b"a: 'unterminated", b"a: 1\n---\nb: 2"])
def test_not_yaml(raw: bytes) -> None:
    err = _reason(raw)
    assert err.reason is MalformedReason.NOT_YAML
    assert "not YAML" in str(err)


def test_python_tags_are_refused() -> None:
    err = _reason(b"!!python/object/apply:os.system ['true']")
    assert err.reason is MalformedReason.NOT_YAML


@pytest.mark.parametrize("raw,kind", [(b"- 1\n- 2", "list"), (b"hello", "string"),
                                      (b"42", "number"), (b"true", "boolean")])
def test_not_a_mapping(raw: bytes, kind: str) -> None:
    err = _reason(raw)
    assert err.reason is MalformedReason.NOT_MAPPING
    assert f"a {kind}" in str(err)


def test_too_large() -> None:
    err = _reason(b"a: " + b"x" * 2000, max_bytes=1000)
    assert err.reason is MalformedReason.TOO_LARGE
    assert "2003 bytes" in str(err) and "1000" in str(err)


def test_alias_bomb_is_too_large() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    err = _reason("\n".join(lines).encode())
    assert err.reason is MalformedReason.TOO_LARGE
    assert "aliases" in str(err)


def test_harmless_aliases_are_accepted() -> None:
    assert decode_body(b"base: &b {cpu: 2}\nvdu1: *b\nvdu2: *b\n") == {
        "base": {"cpu": 2}, "vdu1": {"cpu": 2}, "vdu2": {"cpu": 2}}


def test_too_deep() -> None:
    err = _reason(b"a: " + b"[" * 200 + b"]" * 200, max_depth=64)
    assert err.reason is MalformedReason.TOO_DEEP
    assert "64" in str(err)
    # deep enough to crash PyYAML's recursive composer, refused before it runs
    assert _reason(b"[" * 100_000).reason is MalformedReason.TOO_DEEP


@pytest.mark.parametrize("loader", ["libyaml", "python"])
@pytest.mark.parametrize("body", [b"[" * 100_000, b"a: " + b"[" * 1_000 + b"]" * 1_000,
                                  b"{a: " * 5_000])
def test_too_deep_whichever_parser_layer_stops_it(monkeypatch, loader: str, body: bytes) -> None:
    """libyaml's scanner refuses ~1,000 levels before our scan sees level 65: still TOO_DEEP."""
    from mano.messaging import envelope

    if loader == "python":
        monkeypatch.setattr(envelope, "_Loader", yaml.SafeLoader)
    elif not getattr(yaml, "__with_libyaml__", False):
        pytest.skip("PyYAML built without libyaml")
    err = _reason(body)
    assert err.reason is MalformedReason.TOO_DEEP
    assert "nesting deeper than 64 levels" in str(err)


def test_unclosed_shallow_input_is_still_not_yaml() -> None:
    assert _reason(b"a: [[[1, 2]").reason is MalformedReason.NOT_YAML


def test_too_deep_through_alias() -> None:
    raw = b"a: &a [[[[1]]]]\nb: [[[[*a]]]]"
    assert decode_body(raw, max_depth=10)["a"] == [[[[1]]]]
    assert _reason(raw, max_depth=8).reason is MalformedReason.TOO_DEEP


def test_codec_uses_settings_limit_and_annotates_the_message() -> None:
    codec = Codec.from_settings(Settings(max_descriptor_bytes=10))
    assert codec.max_bytes == 10
    with pytest.raises(MalformedMessageError) as info:
        codec.message("service.instances.create", b"a: 123456789", correlation_id="c-1")
    assert info.value.reason is MalformedReason.TOO_LARGE
    assert "'service.instances.create'" in str(info.value) and "c-1" in str(info.value)
    kept = codec.message("t", b"- 1", keep_malformed=True)
    assert kept.body is None and kept.error is not None
    assert kept.error.reason is MalformedReason.NOT_MAPPING


def test_message_maps_empty_properties_to_none() -> None:
    msg = Codec().message("t", b"a: 1", correlation_id="", reply_to="", app_id="",
                          headers={"key": "default", "type": "reply"})
    assert msg == Message(topic="t", body={"a": 1}, raw=b"a: 1",
                          headers={"key": "default", "type": "reply"}, content_type=None)
    assert msg.header_type == "reply" and not msg.is_request and msg.origin is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        msg.topic = "u"  # type: ignore[misc]
