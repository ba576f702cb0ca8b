"""Idle passivation of instance activations (DESIGN.md decision 2: virtual actors).

An instance actor costs a process (~45 MB); its state is in the record store. After ``idle_s``
with no call in flight, :class:`IdleTimer` calls ``on_idle`` (the actor shell kills its own
actor); the next call re-creates it from its records.

Plain Python with a background thread, tested without Ray (``tests/lifecycle/test_host_pool.py``).
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Callable, Iterator

log = logging.getLogger(__name__)


class IdleTimer:
    def __init__(self, idle_s: float, on_idle: Callable[[], None], *, name: str = "", held: bool = False):
        """``held``: do not count idle time until :meth:`release_hold` (a pre-started host not
        yet handed out)."""
        self.idle_s = idle_s
        self._on_idle = on_idle
        self._lock = threading.Lock()
        self._held = held
        self._busy = 1 if held else 0
        self._last = time.monotonic()
        self._name = name
        if idle_s > 0:
            threading.Thread(target=self._watch, name=f"idle-{name}", daemon=True).start()

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        with self._lock:
            self._busy += 1
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

    def release_hold(self) -> None:
        """Start counting idle time (idempotent)."""
        with self._lock:
            if self._held:
                self._held = False
                self._busy -= 1
                self._last = time.monotonic()

    def _watch(self) -> None:
        while True:
            time.sleep(min(1.0, self.idle_s / 4))
            with self._lock:
                idle = self._busy == 0 and time.monotonic() - self._last > self.idle_s
            if idle:
                log.info("%s idle for %.1f s: passivating", self._name, self.idle_s)
                self._on_idle()
                return
