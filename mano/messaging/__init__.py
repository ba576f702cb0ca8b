"""mano's AMQP message bus, wire-compatible with SONATA's ``son-kernel`` topic exchange.

Modules:

* :mod:`~mano.messaging.envelope` – :class:`Message`, the YAML/JSON codec with size and
  depth limits, SONATA properties (pure Python, no pika);
* :mod:`~mano.messaging.bus` – :class:`Bus`: one connection thread, publisher confirms,
  buffered publishing and automatic reconnection;
* :mod:`~mano.messaging.rpc` – SONATA request/reply: :class:`RpcClient`, :func:`serve`;
* :mod:`~mano.messaging.reconnect` – backoff and restart-rate policy;
* :mod:`~mano.messaging.testing` – ``ensure_broker()`` and friends for tests and CI.

The bus and RPC names are imported lazily so that code which only needs the envelope does
not import pika.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mano.messaging.envelope import (
    CONTENT_TYPE,
    NO_RESPONSE,
    Codec,
    MalformedMessageError,
    MalformedReason,
    Message,
    decode_body,
    encode_body,
    sonata_properties,
)
from mano.messaging.reconnect import ReconnectPolicy

if TYPE_CHECKING:
    from mano.messaging.bus import Bus, BusState, Delivery
    from mano.messaging.rpc import ReplyStream, RpcClient, RpcTimeoutError, is_final, serve
    from mano.messaging.subscription import Subscription

__all__ = [
    "CONTENT_TYPE",
    "NO_RESPONSE",
    "Bus",
    "BusState",
    "Codec",
    "Delivery",
    "MalformedMessageError",
    "MalformedReason",
    "Message",
    "ReconnectPolicy",
    "ReplyStream",
    "RpcClient",
    "RpcTimeoutError",
    "Subscription",
    "decode_body",
    "encode_body",
    "is_final",
    "serve",
    "sonata_properties",
]

_LAZY = {
    "Bus": "mano.messaging.bus",
    "BusState": "mano.messaging.bus",
    "Delivery": "mano.messaging.bus",
    "Subscription": "mano.messaging.subscription",
    "ReplyStream": "mano.messaging.rpc",
    "RpcClient": "mano.messaging.rpc",
    "RpcTimeoutError": "mano.messaging.rpc",
    "is_final": "mano.messaging.rpc",
    "serve": "mano.messaging.rpc",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mano.messaging' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
