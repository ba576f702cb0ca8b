"""Unit tests of the broker-free parts: reconnect policy, publish buffer, dispatch, acks."""
from __future__ import annotations

import concurrent.futures
import threading
import time

import pytest

from mano.errors import BrokerUnavailableError, MessagingError
from mano.messaging._dispatch import Delivery, Outcome, SerialDispatcher
from mano.messaging._outbound import OutboundBuffer, Outgoing
from mano.messaging.reconnect import ReconnectPolicy, RestartLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backoff_grows_and_is_capped() -> None:
    policy = ReconnectPolicy(initial_delay=0.1, max_delay=2.0, multiplier=2.0, jitter=0.0)
    assert [policy.backoff(n) for n in range(7)] == [0.0, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0]
    jittery = ReconnectPolicy(initial_delay=1.0, max_delay=1.0, jitter=0.5)
    assert jittery.backoff(3, rand=lambda: 1.0) == 1.5


def test_restart_limiter_throttles_within_window() -> None:
    clock = FakeClock()
    limiter = RestartLimiter(ReconnectPolicy(max_restarts=3, restart_window=10.0), clock)
    for _ in range(3):
        assert limiter.wait_needed() == 0.0
        limiter.record()
        clock.now += 1.0
    assert limiter.wait_needed() == pytest.approx(7.0)  # oldest restart leaves at +10 s
    clock.now += 7.0
    assert limiter.wait_needed() == 0.0 and limiter.recent == 2


def test_invalid_policy() -> None:
    with pytest.raises(ValueError):
        ReconnectPolicy(initial_delay=3, max_delay=1)


def _item(n: int) -> Outgoing:
    return Outgoing(routing_key="t", body=str(n).encode(), properties=None)


def _drain_all(buf: OutboundBuffer) -> list[int]:
    out = []
    while (item := buf.pop_pending()) is not None:
        buf.sent(item)
        out.append(int(item.body))
    return out


def test_buffer_confirms_resolve_futures_in_order() -> None:
    buf = OutboundBuffer(10)
    items = [_item(i) for i in range(5)]
    for it in items:
        buf.put(it, timeout=0)
    assert _drain_all(buf) == [0, 1, 2, 3, 4] and len(buf) == 5
    assert buf.ack(3, multiple=True) == 3
    assert [it.future.done() for it in items] == [True, True, True, False, False]
    assert buf.ack(5, multiple=False) == 1 and len(buf) == 1
    assert not buf.wait_empty(0)
    buf.ack(4, multiple=False)
    assert buf.wait_empty(0)


def test_buffer_requeues_unconfirmed_in_front_and_restarts_tags() -> None:
    buf = OutboundBuffer(10)
    for i in range(4):
        buf.put(_item(i), timeout=0)
    assert _drain_all(buf)[:4] == [0, 1, 2, 3]
    buf.ack(1, multiple=False)
    buf.put(_item(4), timeout=0)
    assert buf.requeue_unconfirmed() == 3
    assert _drain_all(buf) == [1, 2, 3, 4]           # new channel: tags 1..4 again
    buf.nack(2, multiple=True)                          # broker refused 1 and 2
    assert _drain_all(buf) == [1, 2]
    assert len(buf) == 4


def test_buffer_full_raises_after_timeout_and_close_fails_futures() -> None:
    buf = OutboundBuffer(2)
    first, second = _item(0), _item(1)
    buf.put(first, timeout=0)
    buf.put(second, timeout=0)
    started = time.monotonic()
    with pytest.raises(BrokerUnavailableError, match="buffer full"):
        buf.put(_item(2), timeout=0.1)
    assert time.monotonic() - started >= 0.09
    assert buf.close(MessagingError("stopped")) == 2
    with pytest.raises(MessagingError):
        first.future.result(0)
    with pytest.raises(MessagingError, match="stopped"):
        buf.put(_item(3), timeout=0)


def test_buffer_put_unblocks_when_confirmed() -> None:
    buf = OutboundBuffer(1)
    buf.put(_item(0), timeout=0)
    _drain_all(buf)
    threading.Timer(0.05, buf.ack, args=(1, False)).start()
    buf.put(_item(1), timeout=2.0)
    assert len(buf) == 1


def test_delivery_settles_once() -> None:
    calls: list[tuple[bool, bool]] = []
    delivery = Delivery(lambda ack, requeue: calls.append((ack, requeue)), 7, False)
    assert delivery.ack() is True
    assert delivery.reject() is False and delivery.ack() is False
    assert calls == [(True, False)] and delivery.outcome is Outcome.ACKED
    other = Delivery(lambda ack, requeue: calls.append((ack, requeue)), 8, True)
    assert other.reject(requeue=True) and other.outcome is Outcome.REQUEUED


def test_serial_dispatcher_keeps_order_and_limits_concurrency() -> None:
    seen: list[int] = []
    active = 0
    peak = 0
    lock = threading.Lock()

    def handler(n: int) -> None:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.001)
        with lock:
            seen.append(n)
            active -= 1

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        serial = SerialDispatcher(pool, handler, concurrency=1)
        for i in range(200):
            serial.submit(i)
        assert serial.wait_idle(5)
        assert seen == list(range(200)) and peak == 1
        seen.clear()
        wide = SerialDispatcher(pool, handler, concurrency=4)
        for i in range(200):
            wide.submit(i)
        assert wide.wait_idle(5)
        assert sorted(seen) == list(range(200)) and 1 < peak <= 4
        assert wide.close() == [] and wide.submit(1) is False
