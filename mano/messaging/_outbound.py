"""The publish buffer: bounded, ordered, and emptied only by publisher confirms.

A message leaves this buffer when the broker *confirms* it (RabbitMQ publisher confirms),
not when pika has written it to a socket: a socket write says nothing about whether the
broker took the message, and a connection that dies a millisecond later takes every
unconfirmed message with it. So each message is in one of two places:

* ``pending`` – not yet handed to the broker (publish called while disconnected, or the
  connection thread has not got to it yet);
* ``unconfirmed`` – written on the confirm channel under delivery tag *n*, waiting for
  ``Basic.Ack``.

When the channel or connection is lost, everything unconfirmed moves back to the *front* of
``pending`` in its original order and is sent again after reconnecting. Delivery is
therefore at-least-once: a message whose ack was lost in the crash arrives twice (the
gateway de-duplicates by correlation id, DESIGN.md decision 5). A ``Basic.Nack`` (internal
broker error, rare) also re-queues the message, at the front.

Thread model: ``put``/``wait_empty`` are called from any thread; every other method only
from the connection thread. One condition variable guards the counts.
"""
from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import threading
import time
from typing import Any

from mano.errors import BrokerUnavailableError, MessagingError

__all__ = ["OutboundBuffer", "Outgoing"]


@dataclasses.dataclass(eq=False)
class Outgoing:
    """One message waiting to be published and confirmed."""

    routing_key: str
    body: bytes
    properties: Any
    """pika ``BasicProperties`` (kept opaque so this module stays pika-free)."""
    future: concurrent.futures.Future[None] = dataclasses.field(
        default_factory=concurrent.futures.Future)
    attempts: int = 0


class OutboundBuffer:
    """Bounded FIFO of :class:`Outgoing` with confirm bookkeeping."""

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self._cond = threading.Condition()
        self._pending: collections.deque[Outgoing] = collections.deque()
        self._unconfirmed: collections.OrderedDict[int, Outgoing] = collections.OrderedDict()
        self._next_tag = 1
        self._outstanding = 0  # len(pending) + len(unconfirmed), kept under the lock
        self._closed: BaseException | None = None

    # --- any thread ------------------------------------------------------------------------
    def put(self, item: Outgoing, *, timeout: float | None, may_block: bool = True) -> None:
        """Append ``item``; while the buffer is full wait up to ``timeout`` seconds.

        Raises :class:`BrokerUnavailableError` if it stays full (the broker has been away
        too long or is slower than the publishers), :class:`MessagingError` once closed.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self._closed is not None:
                    raise MessagingError(f"the bus is stopped: {self._closed}")
                if self._outstanding < self.capacity:
                    break
                remaining = None if deadline is None else deadline - time.monotonic()
                if not may_block or (remaining is not None and remaining <= 0):
                    raise BrokerUnavailableError(
                        f"publish buffer full ({self.capacity} messages not confirmed by the "
                        f"broker)")
                self._cond.wait(remaining)
            self._pending.append(item)
            self._outstanding += 1

    def wait_empty(self, timeout: float | None) -> bool:
        """Block until every message is confirmed (or ``timeout``); True if empty."""
        with self._cond:
            return self._cond.wait_for(lambda: self._outstanding == 0, timeout)

    def __len__(self) -> int:
        with self._cond:
            return self._outstanding

    # --- connection thread -----------------------------------------------------------------
    def has_pending(self) -> bool:
        with self._cond:
            return bool(self._pending)

    def pop_pending(self) -> Outgoing | None:
        """Next message to write, or None."""
        with self._cond:
            return self._pending.popleft() if self._pending else None

    def unpop(self, item: Outgoing) -> None:
        """Put back a message that could not be written (channel closed under us)."""
        with self._cond:
            self._pending.appendleft(item)

    def drop(self, item: Outgoing, reason: BaseException) -> None:
        """Give up on a popped message that can never be sent; fail its future."""
        with self._cond:
            self._outstanding -= 1
            self._cond.notify_all()
        if not item.future.done():
            item.future.set_exception(reason)

    def sent(self, item: Outgoing) -> int:
        """Record that ``item`` was written; returns its delivery tag on the confirm channel."""
        with self._cond:
            tag = self._next_tag
            self._next_tag += 1
            item.attempts += 1
            self._unconfirmed[tag] = item
            return tag

    def _take_confirmed(self, tag: int, multiple: bool) -> list[Outgoing]:
        taken: list[Outgoing] = []
        if multiple:
            while self._unconfirmed:
                first = next(iter(self._unconfirmed))
                if first > tag:
                    break
                taken.append(self._unconfirmed.pop(first))
        else:
            item = self._unconfirmed.pop(tag, None)
            if item is not None:
                taken.append(item)
        return taken

    def ack(self, tag: int, multiple: bool) -> int:
        """The broker confirmed ``tag`` (and all below if ``multiple``); resolve their futures."""
        with self._cond:
            done = self._take_confirmed(tag, multiple)
            self._outstanding -= len(done)
            self._cond.notify_all()
        for item in done:
            if not item.future.done():
                item.future.set_result(None)
        return len(done)

    def nack(self, tag: int, multiple: bool) -> int:
        """The broker refused ``tag``: send those messages again, first."""
        with self._cond:
            refused = self._take_confirmed(tag, multiple)
            self._pending.extendleft(reversed(refused))
        return len(refused)

    def requeue_unconfirmed(self) -> int:
        """The confirm channel is gone: move unconfirmed messages back to the front, in order.

        Also restarts delivery-tag numbering for the next confirm channel.
        """
        with self._cond:
            items = list(self._unconfirmed.values())
            self._unconfirmed.clear()
            self._pending.extendleft(reversed(items))
            self._next_tag = 1
            return len(items)

    def close(self, reason: BaseException) -> int:
        """Fail every message still here with ``reason``; later puts raise. Returns the count."""
        with self._cond:
            self._closed = reason
            items = list(self._unconfirmed.values()) + list(self._pending)
            self._unconfirmed.clear()
            self._pending.clear()
            self._outstanding = 0
            self._cond.notify_all()
        for item in items:
            if not item.future.done():
                item.future.set_exception(reason)
        return len(items)
