"""Idle passivation for instance actors (DESIGN.md decision 2: virtual actors).

An instance actor costs a process (~45 MB); its state is in the record store. After
``idle_s`` with no call in flight it kills itself; the next call re-creates it from its
records (callers use ``get_if_exists`` and retry on a dead actor, see ``actors.calls``).
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Callable, Iterator

import ray

log = logging.getLogger(__name__)


class IdleTimer:
    def __init__(self, idle_s: float, on_idle: Callable[[], None] | None = None, *, name: str = "",
                 held: bool = False):
        """``held``: do not count idle time until :meth:`release_hold` (a spare not yet handed out)."""
        self.idle_s = idle_s
        self._on_idle = on_idle or passivate_self
        self._lock = threading.Lock()
        self._held = held
        self._busy = 1 if held else 0
        self._last = time.monotonic()
        self._grace_until = 0.0  # monotonic time before which it is never idle (see release_hold)
        self._name = name
        if idle_s > 0:
            threading.Thread(target=self._watch, name=f"idle-{name}", daemon=True).start()

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        with self._lock:
            self._busy += 1
            self._grace_until = 0.0  # the work a claim's grace waited for has come
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1
                self._last = time.monotonic()

    @property
    def held(self) -> bool:
        with self._lock:
            return self._held

    def release_hold(self, grace_s: float = 0.0) -> None:
        """Start counting idle time (idempotent), but never idle within ``grace_s`` from now
        unless work came meanwhile (from then on, plain idle time counts).

        A claimed spare's first work may come a whole workflow step later: the place step
        takes VNF ids before it places, and a placement slower than ``idle_s`` (one busy core
        made a cold one take 7 s) passivated the claimed spares before their deploy.
        """
        with self._lock:
            if self._held:
                self._held = False
                self._busy -= 1
                self._last = time.monotonic()
                self._grace_until = self._last + grace_s

    def _watch(self) -> None:
        while True:
            time.sleep(min(1.0, self.idle_s / 4))
            with self._lock:
                now = time.monotonic()
                idle = self._busy == 0 and now - self._last > self.idle_s and now >= self._grace_until
            if idle:
                log.info("%s idle for %.1f s: passivating", self._name, self.idle_s)
                self._on_idle()
                return


def passivate_self() -> None:
    """Kill the calling actor without restart; its name is free for the next activation."""
    ray.kill(ray.get_runtime_context().current_actor, no_restart=True)
