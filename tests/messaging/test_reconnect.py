"""Reconnection against a real broker: a full broker restart, and forced connection drops.

The restart test stops the *shared* local broker app for about a second (always restarting
it in a ``finally``); the other tests disturb only their own connections (``rabbitmqctl
close_connection`` or a fault-injecting TCP proxy).
"""
from __future__ import annotations

import threading
import time
import uuid

import pytest

from mano.messaging.bus import BusState
from mano.messaging.reconnect import ReconnectPolicy
from mano.messaging.testing import BrokerProxy, broker_outage, close_connections

pytestmark = pytest.mark.integration


class Hooks:
    def __init__(self) -> None:
        self.connected: list[float] = []
        self.disconnected: list[BaseException | None] = []
        self._cond = threading.Condition()

    def on_connected(self) -> None:
        with self._cond:
            self.connected.append(time.monotonic())
            self._cond.notify_all()

    def on_disconnected(self, reason: BaseException | None) -> None:
        with self._cond:
            self.disconnected.append(reason)

    def wait_connections(self, count: int, timeout: float = 15.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.connected) >= count, timeout)


@pytest.mark.slow
def test_broker_restart_while_publishing_loses_nothing(make_bus, collector, broker_url,
                                                       cleanup_queues, wait_until) -> None:
    queue = f"restart.{uuid.uuid4().hex}"
    cleanup_queues.append(queue)
    hooks = Hooks()
    # A durable exchange and queue and persistent messages survive the restart itself; the
    # bus has to re-send what was not confirmed and resume consuming.
    publisher = make_bus(exchange_durable=True, on_connected=hooks.on_connected,
                         on_disconnected=hooks.on_disconnected)
    subscriber = make_bus(exchange_durable=True)
    got = collector()
    subscriber.subscribe("restart.test", got, queue=queue, durable=True)
    published = 0
    enough = threading.Event()

    def publish_until_told() -> None:  # before, during and after the outage, in bursts
        nonlocal published
        while not enough.is_set():
            publisher.publish("restart.test", {"i": published})
            published += 1
            if published % 10 == 0:
                time.sleep(0.005)

    sender = threading.Thread(target=publish_until_told)
    sender.start()
    try:
        assert wait_until(lambda: len(got.messages) >= 100, 30)
        with broker_outage(broker_url):
            assert wait_until(lambda: publisher.state is not BusState.CONNECTED, 30)
            during = published
            time.sleep(1.0)
            assert published > during  # publish() kept accepting while the broker was away
        assert wait_until(publisher.wait_connected, 30)
        time.sleep(0.3)
    finally:
        enough.set()
        sender.join(10)
    total = published
    assert publisher.flush(30), f"{publisher.unconfirmed} messages never confirmed"
    assert wait_until(lambda: {m.body["i"] for m in got.messages} == set(range(total)), 30), \
        f"missing: {sorted(set(range(total)) - {m.body['i'] for m in got.messages})[:20]}"
    seen: list[int] = []
    firsts: set[int] = set()
    for m in got.messages:  # at-least-once: duplicates allowed, but first arrivals in order
        if m.body["i"] not in firsts:
            firsts.add(m.body["i"])
            seen.append(m.body["i"])
    assert seen == list(range(total))
    assert len(hooks.disconnected) == 1 and len(hooks.connected) >= 2


def test_dropped_connection_resubscribes_and_restarts_are_rate_limited(make_bus, collector,
                                                                       wait_until) -> None:
    hooks = Hooks()
    policy = ReconnectPolicy(initial_delay=0.05, max_delay=0.5, jitter=0.0, max_restarts=2,
                             restart_window=2.5)
    bus = make_bus(reconnect=policy, on_connected=hooks.on_connected,
                   on_disconnected=hooks.on_disconnected)
    got = collector()
    bus.subscribe("drop.test", got)
    for drop in range(1, 4):
        assert close_connections(bus.name) == 1
        bus.publish("drop.test", {"drop": drop})  # while reconnecting: buffered
        assert hooks.wait_connections(1 + drop), f"no reconnect after drop {drop}"
    assert len(hooks.disconnected) == 3
    first_restart, third_restart = hooks.connected[1], hooks.connected[3]
    assert third_restart - first_restart >= policy.restart_window - 0.1  # throttled
    bus.publish("drop.test", {"drop": "after"})
    got.wait_for(4)
    assert sorted(map(str, (b["drop"] for b in got.bodies))) == ["1", "2", "3", "after"]


@pytest.fixture
def proxy(broker_url):
    with BrokerProxy(broker_url) as p:
        yield p


def test_unconfirmed_messages_are_sent_again_after_a_drop(make_bus, collector, proxy,
                                                          wait_until) -> None:
    """Confirms that never arrive keep messages in the buffer: after the connection is cut
    they are published again (at-least-once: the subscriber sees them twice)."""
    publisher = make_bus(url=proxy.url)
    subscriber = make_bus()
    got = collector()
    subscriber.subscribe("confirm.test", got)
    for i in range(10):
        publisher.publish("confirm.test", {"i": i})
    assert publisher.flush(30)
    proxy.hold_replies()  # the broker still gets (and routes) messages; confirms are held
    futures = [publisher.publish("confirm.test", {"i": i}) for i in range(10, 60)]
    got.wait_for(60)
    time.sleep(0.2)
    assert publisher.unconfirmed == 50 and not any(f.done() for f in futures)
    proxy.drop()
    for future in futures:
        future.result(30)
    got.wait_for(110)
    time.sleep(0.2)
    values = [b["i"] for b in got.bodies]
    assert values[:60] == list(range(60))
    assert values[60:] == list(range(10, 60))  # the re-sent copies, in order
    assert publisher.unconfirmed == 0


def test_publishes_while_broker_unreachable_arrive_in_order(make_bus, collector, proxy,
                                                            wait_until) -> None:
    hooks = Hooks()
    publisher = make_bus(url=proxy.url, on_connected=hooks.on_connected,
                         on_disconnected=hooks.on_disconnected)
    subscriber = make_bus()
    got = collector()
    subscriber.subscribe("down.test", got)
    proxy.refuse(True)
    proxy.drop()
    assert wait_until(lambda: publisher.state is BusState.DISCONNECTED, 30)
    futures = [publisher.publish("down.test", {"i": i}) for i in range(200)]
    time.sleep(0.5)  # a few failed reconnect attempts
    assert not any(f.done() for f in futures) and publisher.unconfirmed == 200
    proxy.refuse(False)
    for future in futures:
        future.result(30)
    got.wait_for(200)
    assert [b["i"] for b in got.bodies] == list(range(200))
    assert len(hooks.disconnected) == 1 and len(hooks.connected) == 2
