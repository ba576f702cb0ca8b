"""One subscription: its queue, its channel, and the life of both across reconnects.

Each subscription has its own channel, so a broker-side error on one queue (a durable /
non-durable clash, a deleted queue) closes only that channel, not the others. On every
(re)connection the bus calls :meth:`Subscription._open`, which runs
``basic_qos → queue_declare → queue_bind → basic_consume`` and reports back with
``Bus._sub_settled``. Each open is a new *generation*: callbacks from an older channel are
recognised and ignored, which is what makes re-opening safe while the old channel's frames
are still arriving (RabbitMQ cancels consumers while a restarted node recovers its queues).

Threads: ``cancel()`` may be called from anywhere; underscored methods run on the bus's
connection thread, except :meth:`_handle`, which runs on a worker thread.
"""
from __future__ import annotations

import concurrent.futures
import functools
import logging
import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import pika.exceptions

from mano.errors import MessagingError
from mano.messaging._dispatch import Delivery, SerialDispatcher
from mano.messaging.envelope import ORIGIN_HEADER, MalformedMessageError, Message

if TYPE_CHECKING:
    from mano.messaging.bus import Bus

__all__ = ["Callback", "Kind", "OnMalformed", "Subscription"]

Callback = Callable[[Message, Delivery], None]
"""A subscription callback: ``callback(message, delivery)``, run on a worker thread."""

Kind = Literal["all", "requests", "replies"]
OnMalformed = Literal["reject", "deliver"]

_REOPEN_DELAY = 1.0  # seconds before re-opening a channel the broker closed
_MAX_FAILURES = 5    # consecutive broker-side channel failures before giving up


class Subscription:
    """Handle of one subscription: a queue bound to the bus's exchange by ``topic``.

    Created by :meth:`Bus.subscribe <mano.messaging.bus.Bus.subscribe>`, which documents
    the options. ``queue`` is the queue name (``q.<topic>.<uuid4>`` unless one was given).
    """

    def __init__(self, bus: Bus, *, topic: str, queue: str, named: bool, durable: bool,
                 manual_ack: bool, prefetch: int, ignore_own: bool, kind: Kind,
                 on_malformed: OnMalformed, callback: Callback,
                 executor: concurrent.futures.Executor, concurrency: int):
        self.topic = topic
        self.queue = queue
        self.named = named
        self.durable = durable
        self.manual_ack = manual_ack
        self.prefetch = prefetch
        self.ignore_own = ignore_own
        self.kind = kind
        self.on_malformed = on_malformed
        self.callback = callback
        self._bus = bus
        self._log = bus._log
        self._id = uuid.uuid4().hex
        self._dispatcher = SerialDispatcher(executor, self._handle, concurrency, name=queue)
        self._channel: Any = None
        self._generation = 0
        self._failures = 0
        self._ready = threading.Event()  # consuming at least once, or failed (see _error)
        self._error: MessagingError | None = None
        self._cancelled = False
        self._cancel_done = threading.Event()
        self._malformed = 0

    @property
    def active(self) -> bool:
        """True while neither cancelled nor failed."""
        return not self._cancelled and self._error is None

    @property
    def backlog(self) -> int:
        """Deliveries received but not yet given to the callback."""
        return self._dispatcher.backlog

    def cancel(self, timeout: float = 5.0) -> None:
        """Stop consuming: waits for running callbacks, deletes an anonymous queue.

        Deliveries received but not yet started are left unacknowledged, so the broker
        gives them to another consumer of a named queue.
        """
        self._bus._cancel_subscription(self, timeout)

    def __repr__(self) -> str:
        return f"Subscription(topic={self.topic!r}, queue={self.queue!r})"

    # --- connection thread -----------------------------------------------------------------
    def _open(self) -> None:
        bus = self._bus
        if self._cancelled or not bus._conn_open():
            return
        self._generation += 1
        bus._conn.channel(on_open_callback=bus._g(self._on_channel_open, self._generation))

    def _on_channel_open(self, generation: int, channel: Any) -> None:
        bus = self._bus
        if generation != self._generation or self._cancelled:
            channel.close()
            return
        self._channel = channel
        channel.add_on_close_callback(bus._g(self._on_channel_closed, generation))
        channel.add_on_cancel_callback(bus._g(self._on_cancelled_by_broker, generation))
        arguments = None
        if not self.named and bus._queue_ttl:
            arguments = {"x-expires": int(bus._queue_ttl * 1000)}

        def current() -> bool:  # a cancel or re-open may have replaced this channel meanwhile
            return generation == self._generation and channel.is_open and not self._cancelled

        def declare(_frame: Any) -> None:
            if current():
                channel.queue_declare(queue=self.queue, durable=self.durable, exclusive=False,
                                      auto_delete=False, arguments=arguments,
                                      callback=bus._g(bind))

        def bind(_frame: Any) -> None:
            if current():
                channel.queue_bind(queue=self.queue, exchange=bus.exchange,
                                   routing_key=self.topic, callback=bus._g(consume))

        def consume(_frame: Any) -> None:
            if current():
                channel.basic_consume(queue=self.queue, auto_ack=False,
                                      on_message_callback=bus._g(self._on_delivery),
                                      callback=bus._g(self._on_consuming, generation))

        channel.basic_qos(prefetch_count=self.prefetch, callback=bus._g(declare))

    def _on_consuming(self, generation: int, _frame: Any) -> None:
        if generation != self._generation:
            return
        self._failures = 0
        self._ready.set()
        self._log.debug("consuming %r from queue %s", self.topic, self.queue)
        self._bus._sub_settled(self)

    def _on_channel_closed(self, generation: int, _channel: Any, reason: BaseException) -> None:
        if generation != self._generation:
            return
        self._channel = None
        if self._cancelled:
            self._cancel_done.set()
            return
        if not isinstance(reason, pika.exceptions.ChannelClosedByBroker):
            return  # the connection is going: the bus re-opens us after reconnecting
        self._failures += 1
        if not self._ready.is_set() or self._failures > _MAX_FAILURES:
            # refused at the first attempt (or again and again): a configuration error
            self._error = MessagingError(f"cannot subscribe to {self.topic!r} on queue "
                                         f"{self.queue!r}: {reason}")
            self._log.error("%s", self._error)
            self._dispatcher.close()
            self._ready.set()
            self._bus._sub_settled(self)
            return
        self._log.warning("broker closed the channel of %s (%s); re-opening", self.queue, reason)
        self._bus._ioloop.call_later(_REOPEN_DELAY, self._bus._g(self._open))

    def _on_cancelled_by_broker(self, generation: int, _frame: Any) -> None:
        if generation != self._generation or self._cancelled:
            return
        # RabbitMQ cancels a consumer when its queue is deleted or, while a restarted node
        # recovers, when the queue process is replaced. Re-declare on a fresh channel.
        self._log.warning("broker cancelled the consumer of %s; re-declaring the queue",
                          self.queue)
        self._generation += 1  # the old channel's callbacks are ignored from now on
        old, self._channel = self._channel, None
        if old is not None and old.is_open:
            old.close()
        self._bus._ioloop.call_later(_REOPEN_DELAY / 2, self._bus._g(self._open))

    def _on_delivery(self, channel: Any, method: Any, props: Any, body: bytes) -> None:
        bus = self._bus
        if not bus._consuming or self._cancelled:
            return  # left unacked: re-queued by the broker when the channel closes
        headers = props.headers or {}
        skip = ((self.ignore_own and headers.get(ORIGIN_HEADER) == bus.instance_id)
                or (self.kind == "requests" and not props.reply_to)
                or (self.kind == "replies" and props.reply_to))
        if skip:  # not for us: settle here, no need to wake a worker
            channel.basic_ack(method.delivery_tag)
            return
        delivery = Delivery(functools.partial(bus._settle_threadsafe, channel,
                                              method.delivery_tag),
                            method.delivery_tag, bool(method.redelivered))
        self._dispatcher.submit((method.routing_key, props, body, delivery))

    def _stop_consuming(self) -> None:
        channel = self._channel
        if channel is not None and channel.is_open:
            for tag in list(channel.consumer_tags):
                channel.basic_cancel(tag)

    def _delete_if_anonymous(self) -> None:
        channel = self._channel
        if not self.named and channel is not None and channel.is_open:
            channel.queue_delete(queue=self.queue)

    def _close(self) -> None:
        channel = self._channel
        if channel is None or not channel.is_open:
            self._cancel_done.set()
            return
        self._delete_if_anonymous()
        channel.close()  # _on_channel_closed sets _cancel_done

    # --- worker thread ---------------------------------------------------------------------
    def _handle(self, item: tuple[str, Any, bytes, Delivery]) -> None:
        """Decode, run the callback, settle. Never raises."""
        routing_key, props, body, delivery = item
        bus = self._bus
        try:
            message = bus.codec.message(
                routing_key, body, correlation_id=props.correlation_id,
                reply_to=props.reply_to, app_id=props.app_id, headers=props.headers,
                content_type=props.content_type, message_id=props.message_id,
                exchange=bus.exchange, delivery_tag=delivery.delivery_tag,
                redelivered=delivery.redelivered, keep_malformed=self.on_malformed == "deliver")
        except MalformedMessageError as exc:
            self._malformed += 1
            noisy = self._malformed <= 10 or self._malformed % 1000 == 0
            self._log.log(logging.WARNING if noisy else logging.DEBUG,
                          "rejecting malformed message #%d on %s: %s", self._malformed,
                          self.queue, exc)
            delivery.reject(requeue=False)
            return
        try:
            self.callback(message, delivery)
        except Exception:  # noqa: BLE001 - a callback must never kill the consumer
            self._log.exception("callback of %r failed on message %s (correlation id %s); "
                                "rejecting it", self.topic, message.message_id,
                                message.correlation_id)
            delivery.reject(requeue=False)  # no-op if the callback settled it already
            return
        if not self.manual_ack:
            delivery.ack()
