"""SONATA request/reply on top of the :class:`~mano.messaging.bus.Bus`.

The rule every SONATA component follows (SONATA.md §2), and that a gatekeeper relies on:

* the caller publishes on topic ``T`` with ``reply_to=T`` and a fresh correlation id;
* the callee answers **on T** with the same correlation id and an empty ``reply_to``;
* callers ignore messages that carry ``reply_to`` (those are requests, their own included);
* async endpoints reply only when ``reply_to`` is set (``NO_RESPONSE`` disables it).

A request may get several replies on the same correlation id: the SLM answers a
``service.instances.create`` first with ``INSTANTIATING`` and later with ``READY`` (or
``ERROR``). :meth:`RpcClient.call_many` returns a :class:`ReplyStream` that yields them as
they come and stops at a final one; :meth:`RpcClient.call` returns the first.

The client keeps one reply subscription per topic (an anonymous ``q.<T>.<uuid>`` queue,
``kind='replies'``) for its lifetime and routes replies to waiting calls by correlation id;
subscribing before publishing means no reply can be missed. Every caller on ``T`` sees
every reply on ``T`` (that is how SONATA's topic exchange works); replies for correlation
ids nobody here is waiting for are dropped.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from mano.errors import MessagingError
from mano.messaging.bus import Bus
from mano.messaging.envelope import NO_RESPONSE, Message
from mano.messaging.subscription import Subscription

__all__ = ["FINAL_STATUSES", "NO_RESPONSE", "ReplyStream", "RpcClient", "RpcTimeoutError",
           "is_final", "serve"]

LOG = logging.getLogger("mano.messaging.rpc")

FINAL_STATUSES = frozenset({"READY", "ERROR"})
"""Statuses after which the SONATA client (``client/sonmano``) stops waiting."""

DEFAULT_TIMEOUT = 20.0
"""SONATA's ``call_sync`` timeout."""


class RpcTimeoutError(MessagingError, TimeoutError):
    """No (final) reply arrived in time. ``replies`` holds those that did arrive."""

    retryable = True

    def __init__(self, topic: str, correlation_id: str, timeout: float,
                 replies: Iterable[Message] = ()):
        self.topic = topic
        self.correlation_id = correlation_id
        self.timeout = timeout
        self.replies = list(replies)
        got = f" (got {len(self.replies)} non-final replies)" if self.replies else ""
        super().__init__(f"no reply on {topic!r} for correlation id {correlation_id} within "
                         f"{timeout:g} s{got}")


def is_final(message: Message) -> bool:
    """True for a reply whose ``status`` is READY or ERROR (any case)."""
    status = (message.body or {}).get("status")
    return isinstance(status, str) and status.upper() in FINAL_STATUSES


class ReplyStream(Iterator[Message]):
    """The replies to one request, in arrival order; also a context manager.

    Iteration ends after the reply for which ``until`` is true. If ``timeout`` passes
    first, ``__next__`` raises :class:`RpcTimeoutError`. ``replies`` lists what came so far.
    """

    def __init__(self, client: RpcClient, topic: str, correlation_id: str,
                 inbox: queue.Queue[Message], timeout: float,
                 until: Callable[[Message], bool] | None):
        self.topic = topic
        self.correlation_id = correlation_id
        self.replies: list[Message] = []
        self._client = client
        self._inbox = inbox
        self._timeout = timeout
        self._deadline = time.monotonic() + timeout
        self._until = until
        self._done = False

    def __iter__(self) -> ReplyStream:
        return self

    def __next__(self) -> Message:
        if self._done:
            raise StopIteration
        remaining = self._deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise queue.Empty
            message = self._inbox.get(timeout=remaining)
        except queue.Empty:
            self.close()
            raise RpcTimeoutError(self.topic, self.correlation_id, self._timeout,
                                  self.replies) from None
        if message.error is not None:
            self.close()
            raise message.error
        self.replies.append(message)
        if self._until is not None and self._until(message):
            self.close()
        return message

    def close(self) -> None:
        """Stop listening for replies to this request."""
        if not self._done:
            self._done = True
            self._client._forget(self.correlation_id)

    def __enter__(self) -> ReplyStream:  # noqa: PYI034 - no typing.Self on 3.10
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class RpcClient:
    """Caller side of SONATA request/reply, on a started :class:`Bus`."""

    def __init__(self, bus: Bus, *, timeout: float = DEFAULT_TIMEOUT,
                 subscribe_timeout: float = 10.0):
        self.bus = bus
        self.timeout = timeout
        self._subscribe_timeout = subscribe_timeout
        self._lock = threading.Lock()
        self._subs: dict[str, Subscription] = {}
        self._waiting: dict[str, queue.Queue[Message]] = {}

    def call(self, topic: str, body: Mapping[str, Any] | None, timeout: float | None = None,
             *, correlation_id: str | None = None, **publish_kwargs: Any) -> Message:
        """Send a request on ``topic`` and return the first reply.

        Raises :class:`RpcTimeoutError` if none arrives within ``timeout`` (default 20 s).
        """
        with self.call_many(topic, body, timeout=timeout, until=lambda _m: True,
                            correlation_id=correlation_id, **publish_kwargs) as replies:
            return next(replies)

    def call_many(self, topic: str, body: Mapping[str, Any] | None, *,
                  timeout: float | None = None,
                  until: Callable[[Message], bool] | None = is_final,
                  correlation_id: str | None = None, **publish_kwargs: Any) -> ReplyStream:
        """Send a request now; iterate the returned stream for its replies.

        ``until`` marks the last reply (default: status READY or ERROR); ``timeout`` bounds
        the whole exchange. ``correlation_id`` defaults to a fresh uuid4.
        """
        correlation_id = correlation_id or str(uuid.uuid4())
        timeout = self.timeout if timeout is None else timeout
        self._ensure_subscription(topic)
        inbox: queue.Queue[Message] = queue.Queue()
        with self._lock:
            if correlation_id in self._waiting:
                raise MessagingError(f"a call with correlation id {correlation_id} is pending")
            self._waiting[correlation_id] = inbox
        try:
            self.bus.publish(topic, body, correlation_id=correlation_id, reply_to=topic,
                             headers_type="request", **publish_kwargs)
        except BaseException:
            self._forget(correlation_id)
            raise
        return ReplyStream(self, topic, correlation_id, inbox, timeout, until)

    def close(self, timeout: float = 5.0) -> None:
        """Cancel the reply subscriptions (their queues are deleted)."""
        with self._lock:
            subs = list(self._subs.values())
            self._subs.clear()
        for sub in subs:
            sub.cancel(timeout)

    def __enter__(self) -> RpcClient:  # noqa: PYI034 - no typing.Self on 3.10
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _ensure_subscription(self, topic: str) -> None:
        with self._lock:
            if topic in self._subs:
                return
            # Subscribing under the lock keeps two first calls from making two queues; it
            # blocks other first-time topics for one round trip, which is acceptable.
            self._subs[topic] = self.bus.subscribe(
                topic, self._on_reply, kind="replies", on_malformed="deliver",
                timeout=self._subscribe_timeout)

    def _on_reply(self, message: Message, _delivery: Any) -> None:
        with self._lock:
            inbox = self._waiting.get(message.correlation_id or "")
        if inbox is None:
            LOG.debug("reply on %r for unknown correlation id %s ignored", message.topic,
                      message.correlation_id)
            return
        inbox.put(message)

    def _forget(self, correlation_id: str) -> None:
        with self._lock:
            self._waiting.pop(correlation_id, None)


Handler = Callable[[Message], "Mapping[str, Any] | Iterable[Mapping[str, Any]] | None"]


def serve(bus: Bus, topic: str, handler: Handler, **subscribe_kwargs: Any) -> Subscription:
    """Callee side: answer requests on ``topic`` with ``handler(request)``'s result.

    The handler returns one reply body, an iterable of bodies (e.g. a generator yielding
    ``INSTANTIATING`` then ``READY``; each is published as soon as it is produced) or
    ``None`` for no reply. Replies go to the request's ``reply_to`` with its correlation
    id; requests without ``reply_to`` never reach the handler (``kind='requests'``), and
    ``reply_to == 'NO_RESPONSE'`` runs the handler without answering.
    """

    def on_request(request: Message, _delivery: Any) -> None:
        result = handler(request)
        if result is None:
            return
        bodies: Iterable[Mapping[str, Any]] = [result] if isinstance(result, Mapping) else result
        for body in bodies:  # a generator runs to its end even for NO_RESPONSE
            bus.reply(request, body)  # does nothing for NO_RESPONSE

    subscribe_kwargs.setdefault("kind", "requests")
    return bus.subscribe(topic, on_request, **subscribe_kwargs)
