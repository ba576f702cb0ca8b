"""Waiting for an operation to end without polling its record.

The protocol between a caller and the actor that runs an operation: its service actor, or the
SLM when it runs the operation itself in a burst or sent it to a pre-started host. Either answers ``wait_for(operation_id,
timeout_s)`` with the operation's state once it is settled (final, or FAILED_TEMP: waiting for
the operator), or one of:

- :data:`TIMEOUT`: not final within ``timeout_s`` (ask again);
- :data:`UNKNOWN`: there is no such operation record;
- :data:`ELSEWHERE`: not final, and the actor asked does not run it (ask another, or poll).

Polling is what this replaces: fifty callers polling every 50 ms are a thousand store reads a
second, taken from the store that the operations themselves write to.

:class:`RunEnded` is the actor side, :func:`wait_for_operation` the caller side (``ask`` is
injected): plain Python, tested without Ray (``tests/lifecycle/test_waiting.py``).
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterable

from mano.errors import ManoError
from mano.records import OperationRecord

TIMEOUT = "TIMEOUT"
UNKNOWN = "UNKNOWN"
ELSEWHERE = "ELSEWHERE"

RECHECK_S = 1.0  # waiters read the record at least this often, whatever they were told


class RunEnded:
    """A signal raised whenever a run ends, that waiters block on between reads of the record.

    The record decides (an operation is final once its last transition is persisted); the
    signal only says when to read it again.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._generation = 0

    def notify(self) -> None:
        with self._condition:
            self._generation += 1
            self._condition.notify_all()

    def wait(self, read: Callable[[], OperationRecord | None], timeout_s: float, *,
             runs_it: Callable[[], bool] = lambda: True) -> str:
        """Wait until ``read()`` is settled; see the module docstring for the other answers.

        ``runs_it()`` says whether the caller's actor runs the operation; when it does not and
        the record is not final, the answer is :data:`ELSEWHERE`.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            with self._condition:
                generation = self._generation  # taken first: a run ending after this wakes us
            running = runs_it()
            op = read()
            if op is None:
                return UNKNOWN
            if op.state.is_settled:
                return op.state.value
            if not running:
                return ELSEWHERE
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return TIMEOUT
            with self._condition:
                if self._generation == generation:
                    self._condition.wait(min(remaining, RECHECK_S))


def wait_for_operation(waiters: Iterable[Any], operation_id: str, timeout_s: float | None, *,
                       ask: Callable[..., Any]) -> bool:
    """Block on the actors that may run the operation until it is final.

    ``waiters`` are the actor handles to ask, in order (the service actor if it is active,
    then the SLM; an iterator, so that each is looked up only if needed); ``ask`` is :func:`actors.calls.ask`. True once an actor said the operation is
    final; False when none could tell (none runs it, or the timeout passed): the caller then
    reads or polls the record.
    """
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    for actor in waiters:
        while deadline is None or time.monotonic() < deadline:
            step = 30.0 if deadline is None else max(0.0, min(30.0, deadline - time.monotonic()))
            try:
                answer = ask(actor, "wait_for", operation_id, step, timeout=step + 10, what="wait")
            except ManoError:
                break  # that actor is gone: ask the next one
            if answer in (ELSEWHERE, UNKNOWN):
                break
            if answer != TIMEOUT:
                return True
    return False
