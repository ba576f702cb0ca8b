"""The message bus: one AMQP connection, owned by one thread, shared by the whole process.

Why one connection thread
    pika connections are not thread-safe: a connection and its channels may only be
    touched by the thread that runs their I/O loop. Instead of locking around pika (which
    deadlocks as soon as a callback publishes) or opening a connection per thread (which
    multiplies heartbeats, reconnect logic and ordering problems), the bus owns exactly one
    ``SelectConnection`` driven by one dedicated thread. Every other thread talks to it
    only through ``IOLoop.add_callback_threadsafe``: ``publish`` queues a message and wakes
    the loop, ``Delivery.ack`` queues an ack. The I/O loop itself is created once and
    survives reconnections, so ``add_callback_threadsafe`` always has a valid target.
    (STYLE.md practice 14; pika's ``basic_consumer_threaded`` example; kombu's
    ``ConsumerMixin``.)

Why the loop never runs user code
    Heartbeats, publisher confirms and all subscriptions share that loop. Callbacks run on
    a worker pool (see :mod:`mano.messaging._dispatch`): a slow or crashing callback can
    delay only its own subscription. A callback exception is logged and the message
    rejected without requeue (a poison message must not loop forever); it never stops the
    consumer. Decoding also happens on the workers, since a 1 MB YAML body takes ~0.5 s.

Why publisher confirms
    ``basic_publish`` returning means the bytes reached a socket buffer, not the broker.
    With confirms, a message stays in the bounded :class:`~mano.messaging._outbound.OutboundBuffer`
    until RabbitMQ acknowledges it, and is re-sent after a reconnect if the ack never came.
    Messages published while the broker is away are buffered and sent, in order, once the
    connection, the exchange and every subscription are restored. ``publish`` returns a
    future that resolves on the confirm. Delivery is at-least-once.

Reconnecting
    Lost connection → exponential backoff (capped, jitter) → reconnect → declare the topic
    exchange → re-declare and re-bind every subscription queue and resume consuming →
    mark CONNECTED → send the buffer. Subscriptions come back *before* the buffer is sent,
    so a bus that publishes to itself loses nothing. The named hooks ``on_connected`` and
    ``on_disconnected`` run (in order, on a hook thread) at each transition; successful
    restarts are limited in rate by :class:`~mano.messaging.reconnect.RestartLimiter`.

SONATA compatibility (SONATA.md §2)
    Topic exchange (default ``son-kernel``, declared non-durable like SONATA does, or the
    declaration would clash), one queue per subscription named ``q.<topic>.<uuid4>``,
    prefetch 100, ack after the callback, SONATA properties on every message. Improvements
    over SONATA: anonymous queues expire when unused (``x-expires``) and are deleted on
    cancel/stop instead of leaking; a raising callback rejects instead of acking; our own
    messages are recognised by an ``x-mano-origin`` header (``ignore_own``).
"""
from __future__ import annotations

import concurrent.futures
import enum
import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import pika
import pika.exceptions
import pika.spec
from pika.adapters.select_connection import IOLoop

from mano.errors import BrokerUnavailableError, MessagingError
from mano.messaging._dispatch import Delivery, in_callback
from mano.messaging._outbound import OutboundBuffer, Outgoing
from mano.messaging.envelope import (
    NO_RESPONSE,
    ORIGIN_HEADER,
    Codec,
    HeaderType,
    Message,
    sonata_properties,
)
from mano.messaging.reconnect import ReconnectPolicy, RestartLimiter
from mano.messaging.subscription import Callback, Kind, OnMalformed, Subscription
from mano.settings import Settings

__all__ = ["Bus", "BusState", "Callback", "Delivery", "Subscription"]

LOG = logging.getLogger("mano.messaging.bus")

_DRAIN_BATCH = 500  # messages written per loop iteration before yielding to I/O


class BusState(str, enum.Enum):
    """Where the bus is in its life."""

    NEW = "new"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    STOPPING = "stopping"
    STOPPED = "stopped"


class _Logger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Prefixes every record with the bus name (``[bus gateway:1a2b3c4d] ...``)."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return f"[bus {self.extra['bus']}] {msg}", kwargs  # type: ignore[index]


class Bus:
    """Thread-safe publish/subscribe on a SONATA topic exchange, with reconnects.

    Args:
        settings: broker URL, exchange name and body-size limit (``Settings()`` if omitted).
        app_id: AMQP ``app_id`` of everything this bus publishes (SONATA plugin name).
        url, exchange: override the settings.
        exchange_durable: declare the exchange durable. SONATA declares ``son-kernel``
            non-durable; both sides must agree or the broker refuses the declaration.
        prefetch: default unacknowledged deliveries per subscription (SONATA: 100).
        workers: size of the callback thread pool shared by all subscriptions.
        buffer_size: most messages waiting for a confirm; ``publish`` blocks when full.
        publish_timeout: how long ``publish`` may block on a full buffer before raising
            :class:`BrokerUnavailableError`.
        persistent: publish with ``delivery_mode=2`` so durable queues keep messages over a
            broker restart (no cost for transient queues).
        reconnect: backoff and restart-rate limit.
        on_connected: ``hook()`` after every (re)connection, subscriptions restored.
        on_disconnected: ``hook(reason)`` when an established connection is lost.
        codec: decoding limits (default: from ``settings``).
        anonymous_queue_ttl: seconds an unused ``q.<topic>.<uuid>`` queue survives (so a
            short outage loses nothing but a dead process leaks nothing); None: forever.
        name: for logs and the connection name shown by RabbitMQ.
    """

    def __init__(self, settings: Settings | None = None, *, app_id: str = "mano",
                 url: str | None = None, exchange: str | None = None,
                 exchange_durable: bool = False, prefetch: int = 100, workers: int = 16,
                 buffer_size: int = 10_000, publish_timeout: float = 10.0,
                 persistent: bool = True, reconnect: ReconnectPolicy | None = None,
                 on_connected: Callable[[], None] | None = None,
                 on_disconnected: Callable[[BaseException | None], None] | None = None,
                 codec: Codec | None = None, anonymous_queue_ttl: float | None = 300.0,
                 name: str | None = None):
        settings = settings or Settings()
        self.app_id = app_id
        self.url = url or settings.broker_url
        self.exchange = exchange or settings.exchange
        self.exchange_durable = exchange_durable
        self.prefetch = prefetch
        self.persistent = persistent
        self.publish_timeout = publish_timeout
        self.instance_id = uuid.uuid4().hex
        self.name = name or f"{app_id}:{self.instance_id[:8]}"
        self.on_connected = on_connected
        self.on_disconnected = on_disconnected
        self.codec = codec or Codec.from_settings(settings)
        self._queue_ttl = anonymous_queue_ttl
        self._policy = reconnect or ReconnectPolicy()
        self._limiter = RestartLimiter(self._policy)
        self._log = _Logger(LOG, {"bus": self.name})

        self._lock = threading.RLock()
        self._state = BusState.NEW
        self._subs: dict[str, Subscription] = {}
        self._buffer = OutboundBuffer(buffer_size)
        self._drain_scheduled = False
        self._connected = threading.Event()
        self._stopped = threading.Event()
        self._stop_requested = False
        self._last_error: BaseException | None = None

        self._ioloop = IOLoop()
        self._loop_closed = False
        self._thread: threading.Thread | None = None
        self._loop_ident: int | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=f"bus-worker-{self.name}")
        self._hooks = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"bus-hooks-{self.name}")

        # connection-thread state
        self._conn: Any = None
        self._pub_channel: Any = None
        self._exchange_ready = False
        self._awaiting: set[str] | None = None
        self._failures = 0
        self._ever_connected = False
        self._reconnect_timer: Any = None
        self._consuming = True

    # ==== public API (any thread) ============================================================
    @property
    def state(self) -> BusState:
        """Current :class:`BusState`."""
        return self._state

    @property
    def is_connected(self) -> bool:
        """True when connected with every subscription consuming."""
        return self._state is BusState.CONNECTED

    @property
    def unconfirmed(self) -> int:
        """Messages published but not yet confirmed by the broker."""
        return len(self._buffer)

    @property
    def last_error(self) -> BaseException | None:
        """The most recent connection error, for diagnostics."""
        return self._last_error

    def start(self, *, wait: bool = True, timeout: float = 10.0) -> Bus:
        """Start the connection thread; with ``wait``, block until connected.

        Raises :class:`BrokerUnavailableError` (after stopping the bus) if the broker cannot
        be reached within ``timeout``. Without ``wait`` the bus keeps trying in the
        background, buffering publishes meanwhile.
        """
        with self._lock:
            if self._state is not BusState.NEW:
                raise MessagingError(f"bus {self.name} was already started")
            self._state = BusState.CONNECTING
            self._thread = threading.Thread(target=self._run, name=f"bus-conn-{self.name}",
                                            daemon=True)
            self._thread.start()
        if wait and not self._connected.wait(timeout):
            error = self._last_error
            self.stop(timeout=1.0)
            raise BrokerUnavailableError(
                f"cannot connect to the broker at {_safe_url(self.url)} within {timeout} s"
                + (f": {error}" if error else ""))
        return self

    def wait_connected(self, timeout: float | None = None) -> bool:
        """Block until connected (and subscriptions restored); False on timeout."""
        return self._connected.wait(timeout)

    def publish(self, topic: str, body: Mapping[str, Any] | bytes | None = None, *,
                correlation_id: str | None = None, reply_to: str | None = None,
                app_id: str | None = None, headers_type: HeaderType = "request",
                headers: Mapping[str, Any] | None = None, persistent: bool | None = None,
                timeout: float | None = None) -> concurrent.futures.Future[None]:
        """Publish ``body`` (a mapping, YAML-encoded; or raw ``bytes``) on ``topic``.

        Returns at once with a future that resolves when the broker confirms the message.
        While the broker is away the message waits in the buffer; if the buffer is full,
        this blocks up to ``timeout`` (default ``publish_timeout``) and then raises
        :class:`BrokerUnavailableError`. Raises :class:`MessagingError` after ``stop()``.
        """
        raw = bytes(body) if isinstance(body, (bytes, bytearray)) else self.codec.encode(body)
        props = sonata_properties(app_id=app_id or self.app_id, correlation_id=correlation_id,
                                  reply_to=reply_to, headers_type=headers_type,
                                  extra_headers={ORIGIN_HEADER: self.instance_id,
                                                 **(headers or {})},
                                  message_id=uuid.uuid4().hex)
        persistent = self.persistent if persistent is None else persistent
        properties = pika.BasicProperties(**props, delivery_mode=2 if persistent else None,
                                          timestamp=int(time.time()))
        try:
            properties.encode()  # fail here, in the caller, not later on the loop thread
        except Exception as exc:
            raise MessagingError(f"cannot publish on {topic!r}: bad properties: {exc}") from exc
        item = Outgoing(routing_key=topic, body=raw, properties=properties)
        on_loop = threading.get_ident() == self._loop_ident
        self._buffer.put(item, timeout=self.publish_timeout if timeout is None else timeout,
                         may_block=not on_loop)
        self._schedule_drain()
        return item.future

    def reply(self, request: Message, body: Mapping[str, Any] | bytes | None, **kwargs: Any
              ) -> concurrent.futures.Future[None]:
        """Answer ``request`` the SONATA way: on its ``reply_to`` topic (or its own topic),
        same correlation id, empty ``reply_to``, ``headers.type = 'reply'``.

        A request with ``reply_to == 'NO_RESPONSE'`` gets no answer (the returned future
        is already done)."""
        if request.reply_to == NO_RESPONSE:
            done: concurrent.futures.Future[None] = concurrent.futures.Future()
            done.set_result(None)
            return done
        return self.publish(request.reply_to or request.topic, body,
                            correlation_id=request.correlation_id, reply_to=None,
                            headers_type="reply", **kwargs)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every published message is confirmed; False on timeout."""
        return self._buffer.wait_empty(timeout)

    def subscribe(self, topic: str, callback: Callback, *, queue: str | None = None,
                  durable: bool = False, manual_ack: bool = False, prefetch: int | None = None,
                  ignore_own: bool = False, kind: Kind = "all", concurrency: int = 1,
                  on_malformed: OnMalformed = "reject", timeout: float = 10.0) -> Subscription:
        """Consume messages whose routing key matches ``topic`` (``*``/``#`` wildcards).

        ``callback(message, delivery)`` runs on a worker thread; with ``concurrency=1``
        (default) one at a time, in order. Without ``manual_ack`` the message is acked
        when the callback returns; with it, the callback (or any thread, later) must call
        ``delivery.ack()`` / ``delivery.reject()``. A raising callback gets its message
        rejected (not requeued) unless it settled it already.

        ``queue``: a named queue (e.g. the gateway's northbound topics, shared by replicas);
        default ``q.<topic>.<uuid4>``. ``durable`` needs a named queue. ``ignore_own``
        skips messages this bus published. ``kind='requests'`` keeps only messages with a
        ``reply_to``, ``'replies'`` only those without (SONATA's request/reply rule).
        Malformed bodies are rejected and logged, or with ``on_malformed='deliver'`` passed
        to the callback with ``message.error`` set.

        If the bus is running, waits until the queue is bound and consuming, so a publish
        right after ``subscribe`` returns is received. Raises :class:`BrokerUnavailableError`
        if that takes longer than ``timeout`` and :class:`MessagingError` if the broker
        refuses the queue (e.g. a durable/non-durable clash with an existing one).
        """
        if durable and not queue:
            raise ValueError("a durable subscription needs a queue name")
        if kind not in ("all", "requests", "replies"):
            raise ValueError(f"kind must be 'all', 'requests' or 'replies', not {kind!r}")
        if on_malformed not in ("reject", "deliver"):
            raise ValueError(f"on_malformed must be 'reject' or 'deliver', not {on_malformed!r}")
        sub = Subscription(self, topic=topic, queue=queue or f"q.{topic}.{uuid.uuid4()}",
                           named=queue is not None, durable=durable, manual_ack=manual_ack,
                           prefetch=self.prefetch if prefetch is None else prefetch,
                           ignore_own=ignore_own, kind=kind, on_malformed=on_malformed,
                           callback=callback, executor=self._executor, concurrency=concurrency)
        with self._lock:
            if self._stop_requested:
                raise MessagingError(f"bus {self.name} is stopped")
            self._subs[sub._id] = sub
            started = self._thread is not None
        self._call_soon(self._add_subscription, sub)
        if not started or threading.get_ident() == self._loop_ident:
            return sub
        if not sub._ready.wait(timeout):
            sub.cancel(timeout=1.0)
            raise BrokerUnavailableError(f"subscription to {topic!r} not ready within {timeout} s")
        if sub._error is not None:
            raise sub._error
        return sub

    def stop(self, timeout: float = 10.0) -> None:
        """Stop gracefully; idempotent.

        1. stop consuming (queued, unstarted deliveries are left unacked → the broker
           re-queues them); 2. wait for running callbacks; 3. wait for publishes to be
        confirmed (skipped if the bus never connected); 4. delete anonymous queues, close
        the connection, end the thread. The steps share ``timeout``, so stopping while the
        broker is away takes up to ``timeout`` if messages wait for a confirm. Messages
        still unconfirmed then fail their futures with :class:`MessagingError`.
        """
        deadline = time.monotonic() + timeout

        def remaining() -> float:
            return max(0.0, deadline - time.monotonic())

        with self._lock:
            first = not self._stop_requested
            self._stop_requested = True
            thread = self._thread
            if first and self._state is not BusState.STOPPED:
                self._state = BusState.STOPPING
        if not first:
            if thread is not None and thread is not threading.current_thread():
                self._stopped.wait(remaining())
            return
        if thread is not None:
            stopped_consuming = threading.Event()
            self._call_soon(self._stop_consuming, stopped_consuming)
            stopped_consuming.wait(min(remaining(), 2.0))
            inside = in_callback()
            for sub in list(self._subs.values()):
                sub._dispatcher.close()
                if not inside:
                    sub._dispatcher.wait_idle(remaining())
            # a bus that never reached the broker cannot confirm anything: do not wait
            if self._ever_connected and self._buffer.wait_empty(remaining()) is False:
                self._log.warning("stopping with %d unconfirmed messages", len(self._buffer))
            self._call_soon(self._shutdown)
            if thread is not threading.current_thread():
                thread.join(remaining() + 2.0)
                if thread.is_alive():
                    self._log.error("connection thread did not end")
        lost = self._buffer.close(MessagingError(
            f"bus {self.name} stopped before the broker confirmed the message"))
        if lost:
            self._log.warning("%d messages were not confirmed and are dropped", lost)
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._hooks.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            self._state = BusState.STOPPED
            self._subs.clear()
        self._connected.clear()
        self._stopped.set()
        if thread is None or not thread.is_alive():
            self._loop_closed = True
            self._ioloop.close()

    def __enter__(self) -> Bus:  # noqa: PYI034 - no typing.Self on 3.10
        if self._state is BusState.NEW:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Bus({self.name!r}, {self._state.value}, exchange={self.exchange!r})"

    # ==== marshalling ========================================================================
    def _call_soon(self, fn: Callable[..., None], *args: Any) -> bool:
        """Run ``fn(*args)`` on the connection thread (guarded). False if the loop is gone."""
        if self._loop_closed:
            return False
        try:
            self._ioloop.add_callback_threadsafe(functools.partial(self._guard, fn, *args))
        except Exception:  # noqa: BLE001 - the loop was closed under us
            return False
        return True

    def _guard(self, fn: Callable[..., None], *args: Any) -> None:
        """Every entry from pika into the bus goes through here: a bug in the bus must not
        unwind pika's loop. The connection is dropped and rebuilt instead."""
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001
            self._log.exception("internal error in %s; restarting the connection",
                                getattr(fn, "__name__", fn))
            self._recover(exc)

    def _g(self, fn: Callable[..., None], *bound: Any) -> Callable[..., None]:
        return functools.partial(self._guard, fn, *bound)

    def _settle_threadsafe(self, channel: Any, tag: int, ack: bool, requeue: bool) -> None:
        if not self._call_soon(self._settle, channel, tag, ack, requeue):
            self._log.debug("ack of delivery %s dropped: bus stopped", tag)

    def _schedule_drain(self) -> None:
        with self._lock:
            if self._drain_scheduled:
                return
            self._drain_scheduled = True
        self._call_soon(self._drain)

    def _run_hook(self, hook: Callable[..., None] | None, *args: Any) -> None:
        if hook is None:
            return

        def call() -> None:
            try:
                hook(*args)
            except Exception:  # noqa: BLE001
                self._log.exception("hook %r failed", hook)
        try:
            self._hooks.submit(call)
        except RuntimeError:  # stopped
            pass

    # ==== connection thread ==================================================================
    def _run(self) -> None:
        self._loop_ident = threading.get_ident()
        self._ioloop.add_callback_threadsafe(self._g(self._connect))
        while True:
            try:
                self._ioloop.start()
            except Exception as exc:  # noqa: BLE001 - pika itself failed; restart the loop
                self._log.exception("I/O loop failed; restarting it")
                if self._stop_requested:
                    break
                self._abandon_connection(exc)
                time.sleep(self._limiter.wait_needed())
                continue
            break
        self._stopped.set()

    def _connect(self) -> None:
        self._reconnect_timer = None
        if self._stop_requested:
            return
        with self._lock:
            if self._state is not BusState.STOPPING:
                self._state = BusState.CONNECTING
        params = pika.URLParameters(self.url)
        params.connection_attempts = 1
        params.retry_delay = 0
        params.client_properties = {"connection_name": self.name}
        if params.blocked_connection_timeout is None:
            params.blocked_connection_timeout = 60
        self._conn = pika.SelectConnection(
            params, on_open_callback=self._g(self._on_connection_open),
            on_open_error_callback=self._g(self._on_connection_open_error),
            on_close_callback=self._g(self._on_connection_closed), custom_ioloop=self._ioloop)

    def _conn_open(self) -> bool:
        return self._conn is not None and self._conn.is_open

    def _on_connection_open(self, conn: Any) -> None:
        if conn is not self._conn:
            return
        self._log.debug("connection open; opening the confirm channel")
        conn.channel(on_open_callback=self._g(self._on_publish_channel_open))

    def _on_publish_channel_open(self, channel: Any) -> None:
        self._pub_channel = channel
        channel.add_on_close_callback(self._g(self._on_publish_channel_closed))
        channel.confirm_delivery(ack_nack_callback=self._g(self._on_confirm),
                                 callback=self._g(lambda _frame: self._declare_exchange(channel)))

    def _declare_exchange(self, channel: Any) -> None:
        channel.exchange_declare(exchange=self.exchange, exchange_type="topic",
                                 durable=self.exchange_durable,
                                 callback=self._g(lambda _frame: self._on_exchange_ready(channel)))

    def _on_exchange_ready(self, channel: Any) -> None:
        if channel is not self._pub_channel:
            return
        self._exchange_ready = True
        with self._lock:
            subs = [s for s in self._subs.values() if s.active]
        self._awaiting = {s._id for s in subs}
        self._log.debug("exchange %r ready; restoring %d subscriptions", self.exchange, len(subs))
        for sub in subs:
            sub._open()
        self._check_ready()

    def _check_ready(self) -> None:
        if self._awaiting is None or self._awaiting:
            return
        self._awaiting = None
        if self._ever_connected:
            self._limiter.record()
        self._ever_connected = True
        self._failures = 0
        with self._lock:
            if self._state is not BusState.STOPPING:
                self._state = BusState.CONNECTED
        self._log.info("connected to %s, exchange %r", _safe_url(self.url), self.exchange)
        self._connected.set()
        self._run_hook(self.on_connected)
        self._drain()

    def _on_publish_channel_closed(self, channel: Any, reason: BaseException) -> None:
        if channel is not self._pub_channel:
            return
        self._pub_channel = None
        self._exchange_ready = False
        if isinstance(reason, pika.exceptions.ChannelClosedByBroker):
            # e.g. the exchange exists with other arguments, or was deleted under us. Confirm
            # tags belong to the channel, so rebuild everything: the connection-closed path
            # re-queues the unconfirmed messages and reconnects (rate-limited).
            self._last_error = reason
            self._log.error("broker closed the publish channel (%s); reconnecting", reason)
            if self._conn_open():
                self._conn.close(320, "mano bus: publish channel lost")

    def _on_connection_open_error(self, conn: Any, error: BaseException) -> None:
        if conn is not self._conn:
            return
        self._conn = None
        self._last_error = error
        if self._stop_requested:
            self._ioloop.stop()
            return
        self._schedule_reconnect(error)

    def _on_connection_closed(self, conn: Any, reason: BaseException) -> None:
        if conn is not self._conn:
            return
        self._reset_connection_state()
        requeued = self._buffer.requeue_unconfirmed()
        if self._stop_requested:
            self._log.debug("connection closed")
            self._ioloop.stop()
            return
        if not isinstance(reason, pika.exceptions.ConnectionClosedByClient):
            self._last_error = reason  # (a close we initiated keeps the error that caused it)
        was_connected = self._state is BusState.CONNECTED
        with self._lock:
            if self._state is not BusState.STOPPING:
                self._state = BusState.DISCONNECTED
        self._connected.clear()
        self._log.warning("connection lost (%s); %d unconfirmed messages will be re-sent",
                          _describe(reason), requeued)
        if was_connected:
            self._run_hook(self.on_disconnected, reason)
        self._schedule_reconnect(reason)

    def _reset_connection_state(self) -> None:
        self._conn = None
        self._pub_channel = None
        self._exchange_ready = False
        self._awaiting = None
        with self._lock:
            subs = list(self._subs.values())
        for sub in subs:
            sub._channel = None

    def _schedule_reconnect(self, reason: BaseException | None) -> None:
        self._failures += 1
        delay = self._policy.backoff(self._failures)
        wait = self._limiter.wait_needed() if self._ever_connected else 0.0
        if wait > delay:
            self._log.warning("restart rate limit (%d per %.0f s) reached; waiting %.1f s",
                              self._policy.max_restarts, self._policy.restart_window, wait)
            delay = wait
        self._log.info("reconnecting in %.2f s (attempt %d): %s", delay, self._failures,
                       _describe(reason))
        self._reconnect_timer = self._ioloop.call_later(delay, self._g(self._connect))

    def _recover(self, exc: BaseException) -> None:
        """After an internal error: drop the connection; the close path reconnects."""
        self._last_error = exc
        if self._stop_requested:
            self._ioloop.stop()
            return
        if self._conn is not None and not (self._conn.is_closing or self._conn.is_closed):
            try:
                self._conn.close(320, "mano bus: internal error")
                return
            except Exception:  # noqa: BLE001
                self._log.exception("could not close the connection")
        self._abandon_connection(exc)

    def _abandon_connection(self, exc: BaseException) -> None:
        """Forget the current connection without its close callback, then reconnect."""
        self._reset_connection_state()
        self._buffer.requeue_unconfirmed()
        with self._lock:
            if self._state is not BusState.STOPPING:
                self._state = BusState.DISCONNECTED
        self._connected.clear()
        if self._reconnect_timer is None:
            self._schedule_reconnect(exc)

    # --- publishing (connection thread) ------------------------------------------------------
    def _drain(self) -> None:
        with self._lock:
            self._drain_scheduled = False
        channel = self._pub_channel
        if self._state is not BusState.CONNECTED and not (
                self._state is BusState.STOPPING and self._exchange_ready):
            return
        if channel is None or not channel.is_open:
            return
        for _ in range(_DRAIN_BATCH):
            item = self._buffer.pop_pending()
            if item is None:
                return
            try:
                channel.basic_publish(self.exchange, item.routing_key, item.body,
                                      item.properties)
            except (pika.exceptions.ChannelWrongStateError,
                    pika.exceptions.ConnectionWrongStateError,
                    pika.exceptions.ChannelClosed, pika.exceptions.ConnectionClosed) as exc:
                self._buffer.unpop(item)  # the close callbacks reconnect and re-send
                self._log.debug("publish deferred: %s", exc)
                return
            except Exception as exc:  # noqa: BLE001 - this message can never be sent
                self._log.error("cannot publish on %r: %s", item.routing_key, exc)
                self._buffer.drop(item, MessagingError(f"cannot publish: {exc}"))
                continue
            self._buffer.sent(item)
        self._ioloop.call_later(0, self._g(self._drain))

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        if isinstance(method, pika.spec.Basic.Ack):
            self._buffer.ack(method.delivery_tag, method.multiple)
        elif isinstance(method, pika.spec.Basic.Nack):
            count = self._buffer.nack(method.delivery_tag, method.multiple)
            self._log.warning("broker refused %d messages (nack); sending them again", count)
            self._ioloop.call_later(0.1, self._g(self._drain))

    # --- subscriptions (connection thread; the channel work is in Subscription) -----------
    def _add_subscription(self, sub: Subscription) -> None:
        if not sub._cancelled and self._exchange_ready and self._conn_open():
            sub._open()

    def _sub_settled(self, sub: Subscription) -> None:
        """``sub`` is consuming, or failed for good: maybe the (re)connection is complete."""
        if sub._error is not None:
            with self._lock:
                self._subs.pop(sub._id, None)
        if self._awaiting is not None:
            self._awaiting.discard(sub._id)
            self._check_ready()

    def _settle(self, channel: Any, tag: int, ack: bool, requeue: bool) -> None:
        if not channel.is_open:
            self._log.debug("delivery %s not settled: its channel is closed (broker re-queued "
                            "it)", tag)
            return
        if ack:
            channel.basic_ack(tag)
        else:
            channel.basic_reject(tag, requeue=requeue)

    def _cancel_subscription(self, sub: Subscription, timeout: float) -> None:
        """Any thread: see :meth:`Subscription.cancel`."""
        if sub._cancelled:
            return
        deadline = time.monotonic() + timeout
        sub._cancelled = True
        with self._lock:
            self._subs.pop(sub._id, None)
        sub._dispatcher.close()
        if not in_callback():
            sub._dispatcher.wait_idle(max(0.0, deadline - time.monotonic()))
        if self._call_soon(sub._close):
            sub._cancel_done.wait(max(0.0, deadline - time.monotonic()))

    def _stop_consuming(self, done: threading.Event) -> None:
        self._consuming = False
        with self._lock:
            subs = list(self._subs.values())
        for sub in subs:
            sub._stop_consuming()
        done.set()

    def _shutdown(self) -> None:
        if self._reconnect_timer is not None:
            self._ioloop.remove_timeout(self._reconnect_timer)
            self._reconnect_timer = None
        with self._lock:
            subs = list(self._subs.values())
        for sub in subs:
            sub._delete_if_anonymous()
        conn = self._conn
        if conn is not None and not (conn.is_closing or conn.is_closed):
            self._ioloop.call_later(3.0, self._ioloop.stop)  # watchdog if the broker hangs
            conn.close()
        else:
            self._ioloop.stop()


def _describe(error: BaseException | None) -> str:
    """``Type: text`` (pika's connection errors often have an empty text)."""
    if error is None:
        return "no error"
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else repr(error)


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
