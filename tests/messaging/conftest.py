"""Fixtures for the message-bus tests: a real RabbitMQ, one private exchange per test.

Every test gets its own exchange name, so tests never see each other's messages even when
they use the same topics, and the exchange (plus any named queue registered in
``cleanup_queues``) is deleted afterwards. Buses made with ``make_bus`` are stopped at
teardown, and the teardown fails if a bus thread outlives its bus.
"""
from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mano.errors import BrokerUnavailableError
from mano.messaging.bus import Bus
from mano.messaging.reconnect import ReconnectPolicy
from mano.messaging.testing import delete_exchanges, delete_queues, ensure_broker
from mano.settings import DEFAULT_BROKER_URL, Settings

BROKER_URL = os.environ.get("MANO_BROKER_URL") or DEFAULT_BROKER_URL
FAST_RECONNECT = ReconnectPolicy(initial_delay=0.05, max_delay=0.5, jitter=0.0)


@pytest.fixture(scope="session")
def broker_url() -> str:
    try:
        ensure_broker(BROKER_URL, timeout=60.0)
    except BrokerUnavailableError as exc:
        pytest.fail(f"RabbitMQ is needed for these tests: {exc}")
    return BROKER_URL


@pytest.fixture
def exchange(broker_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"mano-test.{request.node.name[:40]}.{uuid.uuid4().hex[:8]}"
    yield name
    delete_exchanges(broker_url, name)


@pytest.fixture
def settings(broker_url: str, exchange: str) -> Settings:
    return Settings(broker_url=broker_url, exchange=exchange)


@pytest.fixture
def cleanup_queues(broker_url: str) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    delete_queues(broker_url, *names)


@pytest.fixture
def make_bus(settings: Settings, cleanup_queues: list[str]) -> Iterator[Callable[..., Bus]]:
    """``make_bus(start=True, **Bus kwargs)``: a bus on this test's exchange, stopped after.

    Depends on ``cleanup_queues`` so that queues are deleted only after the buses stopped
    (a bus consuming from a deleted queue would re-declare it).
    """
    made: list[Bus] = []

    def factory(*, start: bool = True, **kwargs: Any) -> Bus:
        kwargs.setdefault("reconnect", FAST_RECONNECT)
        kwargs.setdefault("name", f"test-{uuid.uuid4().hex[:8]}")
        bus = Bus(settings, **kwargs)
        made.append(bus)
        if start:
            bus.start(timeout=30.0)
        return bus

    yield factory
    for bus in made:
        bus.stop(timeout=15.0)
    deadline = time.monotonic() + 15.0
    names = {f"bus-conn-{bus.name}" for bus in made}
    while any(t.name in names for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    leaked = [t.name for t in threading.enumerate() if t.name in names]
    assert not leaked, f"bus threads still running: {leaked}"


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0, interval: float = 0.01
               ) -> bool:
    """Poll ``predicate`` until true or ``timeout``; returns its last value."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return predicate()
        time.sleep(interval)
    return True


class Collector:
    """A subscription callback that records messages (thread-safe) and can wait for N."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.threads: set[str] = set()
        self._cond = threading.Condition()

    def __call__(self, message: Any, delivery: Any) -> None:
        with self._cond:
            self.messages.append(message)
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Any]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.messages) >= count, timeout)
            return list(self.messages)

    @property
    def bodies(self) -> list[Any]:
        with self._cond:
            return [m.body for m in self.messages]


@pytest.fixture
def collector() -> Callable[[], Collector]:
    return Collector


@pytest.fixture(name="wait_until")
def wait_until_fixture() -> Callable[..., bool]:
    return wait_until
