"""Running subscription callbacks off the connection thread, and acknowledging from anywhere.

The connection thread must never run user code: a callback that parses a 1 MB descriptor
or waits for the SLM would stop heartbeats, confirms and every other subscription. So each
delivery is handed to a shared worker pool. Per subscription, a :class:`SerialDispatcher`
keeps at most ``concurrency`` callbacks running; with the default of 1 the callbacks of a
subscription run one after the other, in delivery order (SONATA's "100 messages in order"
test), while different subscriptions still run in parallel.

A :class:`Delivery` is the handle a callback gets for acknowledging. It may be settled from
any thread, exactly once (a second ack on the same delivery tag would make RabbitMQ close
the channel); the actual ``basic_ack``/``basic_reject`` is marshalled to the connection
thread by the bus with ``add_callback_threadsafe``.
"""
from __future__ import annotations

import collections
import concurrent.futures
import enum
import logging
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Delivery", "Outcome", "SerialDispatcher", "in_callback"]

LOG = logging.getLogger("mano.messaging.bus")
_local = threading.local()


def in_callback() -> bool:
    """True on a worker thread while it runs a dispatcher handler (a subscription callback).

    ``stop()``/``cancel()`` use it not to wait for the very callback that calls them.
    """
    return getattr(_local, "active", False)


class Outcome(str, enum.Enum):
    """How a delivery was settled."""

    ACKED = "acked"
    REJECTED = "rejected"
    REQUEUED = "requeued"


class Delivery:
    """Acknowledgement handle for one received message; thread-safe, settles once.

    ``ack()`` and ``reject()`` return True if this call settled the delivery and False if
    it was settled before (the later call is ignored). If the connection was lost since
    the message arrived, the broker has already re-queued it and the call does nothing.
    """

    __slots__ = ("_lock", "_outcome", "_settle", "delivery_tag", "redelivered")

    def __init__(self, settle: Callable[[bool, bool], None], delivery_tag: int,
                 redelivered: bool):
        self._settle = settle
        self._lock = threading.Lock()
        self._outcome: Outcome | None = None
        self.delivery_tag = delivery_tag
        self.redelivered = redelivered

    @property
    def settled(self) -> bool:
        """True once acked or rejected."""
        return self._outcome is not None

    @property
    def outcome(self) -> Outcome | None:
        """How it was settled, or None."""
        return self._outcome

    def _mark(self, outcome: Outcome) -> bool:
        with self._lock:
            if self._outcome is not None:
                return False
            self._outcome = outcome
            return True

    def ack(self) -> bool:
        """Tell the broker the message is handled; it will not be delivered again."""
        if not self._mark(Outcome.ACKED):
            return False
        self._settle(True, False)
        return True

    def reject(self, requeue: bool = False) -> bool:
        """Refuse the message: drop it (default) or put it back in the queue."""
        if not self._mark(Outcome.REQUEUED if requeue else Outcome.REJECTED):
            return False
        self._settle(False, requeue)
        return True

    def __repr__(self) -> str:
        return f"Delivery(tag={self.delivery_tag}, outcome={self._outcome})"


class SerialDispatcher:
    """Feeds items to ``handler`` on ``executor`` with at most ``concurrency`` at a time.

    With ``concurrency == 1`` items are handled strictly in submission order.
    """

    def __init__(self, executor: concurrent.futures.Executor, handler: Callable[[Any], None],
                 concurrency: int = 1, name: str = ""):
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self._executor = executor
        self._handler = handler
        self._concurrency = concurrency
        self._name = name
        self._cond = threading.Condition()
        self._queue: collections.deque[Any] = collections.deque()
        self._active = 0
        self._closed = False

    def submit(self, item: Any) -> bool:
        """Queue ``item``; False if the dispatcher is closed (the item is not handled)."""
        with self._cond:
            if self._closed:
                return False
            self._queue.append(item)
            if self._active >= self._concurrency:
                return True
            self._active += 1
        try:
            self._executor.submit(self._run)
        except RuntimeError:  # executor shut down
            with self._cond:
                self._active -= 1
                self._cond.notify_all()
            return False
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._queue or self._closed:
                    self._active -= 1
                    self._cond.notify_all()
                    return
                item = self._queue.popleft()
            _local.active = True
            try:
                self._handler(item)
            except BaseException:  # the handler guards itself; this is a last resort
                LOG.exception("subscription %s: dispatcher handler failed", self._name)
            finally:
                _local.active = False

    def close(self) -> list[Any]:
        """Stop taking items; return the queued ones nobody started (running ones finish)."""
        with self._cond:
            self._closed = True
            dropped = list(self._queue)
            self._queue.clear()
            self._cond.notify_all()
            return dropped

    def wait_idle(self, timeout: float | None) -> bool:
        """Wait until no handler runs; True if idle."""
        with self._cond:
            return self._cond.wait_for(lambda: self._active == 0, timeout)

    @property
    def backlog(self) -> int:
        """Items queued, not yet started."""
        with self._cond:
            return len(self._queue)
