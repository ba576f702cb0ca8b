"""Reconnect policy as data, and the restart-rate limit (pure: a clock is injected).

Two different things slow the bus down when the broker misbehaves:

* **Backoff** governs *failed connection attempts*: 0.1 s, 0.2 s, 0.4 s, … capped at
  ``max_delay`` (a few seconds), with jitter so that a fleet of gateways does not hammer a
  broker that just came back in lock-step. It resets once a connection is up.
* **The restart-rate limit** governs *successful* reconnections. A connection that opens
  and dies right away (a broker in an alarm state, a channel error we provoke, a flapping
  load balancer) would otherwise reset the backoff each time and spin. At most
  ``max_restarts`` restarts are allowed in any ``restart_window`` seconds; the next one
  waits until the oldest leaves the window. The bus never gives up on its own, because a
  broker outage is temporary by nature (``BrokerUnavailableError.retryable``); whoever owns
  the bus learns about trouble through the ``on_disconnected`` hook and decides.
"""
from __future__ import annotations

import collections
import dataclasses
import random
import time
from collections.abc import Callable

__all__ = ["ReconnectPolicy", "RestartLimiter"]


@dataclasses.dataclass(frozen=True)
class ReconnectPolicy:
    """How fast the bus retries a lost broker, and how often it may restart."""

    initial_delay: float = 0.1
    max_delay: float = 5.0
    multiplier: float = 2.0
    jitter: float = 0.1
    """Fraction of the delay added at random (0 = deterministic)."""
    max_restarts: int = 10
    restart_window: float = 60.0

    def __post_init__(self) -> None:
        if self.initial_delay < 0 or self.max_delay < self.initial_delay:
            raise ValueError("need 0 <= initial_delay <= max_delay")
        if self.multiplier < 1:
            raise ValueError("multiplier must be >= 1")
        if self.max_restarts < 1 or self.restart_window <= 0:
            raise ValueError("max_restarts must be >= 1 and restart_window > 0")

    def backoff(self, failures: int, rand: Callable[[], float] = random.random) -> float:
        """Delay before the next attempt after ``failures`` consecutive failed attempts."""
        if failures <= 0:
            return 0.0
        delay = min(self.max_delay, self.initial_delay * self.multiplier ** (failures - 1))
        return delay * (1.0 + self.jitter * rand())


class RestartLimiter:
    """Sliding-window limit on restarts: no more than ``max_restarts`` per ``restart_window``."""

    def __init__(self, policy: ReconnectPolicy, clock: Callable[[], float] = time.monotonic):
        self._policy = policy
        self._clock = clock
        self._restarts: collections.deque[float] = collections.deque()

    def _prune(self, now: float) -> None:
        while self._restarts and now - self._restarts[0] >= self._policy.restart_window:
            self._restarts.popleft()

    def record(self) -> None:
        """Note that a restart happened now."""
        now = self._clock()
        self._prune(now)
        self._restarts.append(now)

    def wait_needed(self) -> float:
        """Seconds to wait before another restart keeps within the limit (0 if none)."""
        now = self._clock()
        self._prune(now)
        if len(self._restarts) < self._policy.max_restarts:
            return 0.0
        return max(0.0, self._restarts[0] + self._policy.restart_window - now)

    @property
    def recent(self) -> int:
        """Restarts inside the current window."""
        self._prune(self._clock())
        return len(self._restarts)
