"""Pre-started hosts without Ray: the pool, which host runs which instance, the idle timer's hold."""
from __future__ import annotations

import itertools
import threading
import time

from mano.lifecycle.host_pool import HostedInstances, HostPool, PrestartedHost, host_name, is_host_name
from mano.lifecycle.idle import IdleTimer


class FakeActors:
    """Stands in for actor creation: records what was created and given back."""

    def __init__(self):
        self.created: list[str] = []
        self.released: list[str] = []
        self._names = (f"service-host-{i}" for i in itertools.count())

    def new_name(self) -> str:
        return next(self._names)

    def create(self, name: str) -> str:
        self.created.append(name)
        return f"handle-{name}"

    def release(self, handle: str) -> None:
        self.released.append(handle)

    def pool(self, size: int, **kwargs) -> HostPool:
        return HostPool(size, self.create, self.release, self.new_name, **kwargs)


def test_host_names_say_what_they_are_and_are_never_instance_names():
    name = host_name("service")
    assert is_host_name("service", name) and not is_host_name("vnf", name)
    assert not name.startswith("service:")  # an instance's actor is service:<id>; a host is not one
    assert host_name("vnf") != host_name("vnf")


def test_fill_starts_size_hosts_once():
    actors = FakeActors()
    pool = actors.pool(2)
    assert pool.fill() == 2 and pool.fill() == 0
    assert actors.created == ["service-host-0", "service-host-1"] and pool.names() == actors.created


def test_take_hands_out_the_oldest_host_and_starts_its_replacement():
    actors = FakeActors()
    pool = actors.pool(2)
    pool.fill()
    host = pool.take()
    assert host == PrestartedHost("service-host-0", "handle-service-host-0")
    assert actors.released == []  # its first work ends its wait; nothing to tell it now
    assert pool.names() == ["service-host-1", "service-host-2"]


def test_a_host_whose_work_never_comes_is_given_back_and_no_other():
    actors = FakeActors()
    pool = actors.pool(2)
    pool.fill()
    sent_work, refused = pool.take(), pool.take()
    pool.release(refused)  # the request was refused: it gets no work, and must passivate
    assert actors.released == [refused.handle] and sent_work.handle not in actors.released


def test_a_host_that_answered_is_known_up_once_and_a_silent_one_is_not():
    actors = FakeActors()
    pool = actors.pool(3)
    pool.fill()
    first, second, third = pool.take_up_to(3)
    pool.mark_up(first.name)
    pool.mark_up(third.name)
    assert pool.was_up(first) and not pool.was_up(first)  # told once: the taker knows from then on
    assert not pool.was_up(second)  # never answered: the taker must ask
    pool.release(third)  # given back: its answer is forgotten with it
    assert not pool.was_up(third)


def test_take_up_to_takes_what_there_is():
    actors = FakeActors()
    pool = actors.pool(2)
    pool.fill()
    taken = pool.take_up_to(3)
    assert [h.name for h in taken] == ["service-host-0", "service-host-1"]
    assert pool.names() == ["service-host-2", "service-host-3"]  # refilled (no delay)


def test_a_disabled_pool_creates_and_hands_out_nothing():
    actors = FakeActors()
    pool = actors.pool(0)
    assert pool.fill() == 0 and pool.take() is None and pool.take_up_to(2) == []
    assert actors.created == []


def test_concurrent_takes_never_hand_out_one_host_twice():
    actors = FakeActors()
    pool = actors.pool(4)
    pool.fill()
    taken: list[str] = []
    lock = threading.Lock()

    def worker():
        for _ in range(25):
            host = pool.take()
            with lock:
                taken.append(host.name)
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == 100 and len(set(taken)) == 100
    assert len(pool) == 4 and set(pool.names()).isdisjoint(taken)


def test_a_delayed_refill_waits_then_fills_every_gap_once():
    actors = FakeActors()
    pool = actors.pool(3, refill_delay_s=0.3)
    pool.fill()
    pool.take()
    pool.take()
    assert len(pool) == 1  # nothing started yet: the request that took them has the cores
    time.sleep(0.1)
    assert len(actors.created) == 3
    deadline = time.monotonic() + 5
    while len(pool) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(pool) == 3 and len(actors.created) == 5  # one refill replaced both


def test_refills_wait_while_the_machine_is_busy():
    actors = FakeActors()
    busy = threading.Event()
    busy.set()
    pool = actors.pool(2, refill_delay_s=0.05, idle=lambda: not busy.is_set())
    pool.fill()
    pool.take()
    pool.take()
    time.sleep(0.5)  # ten refill attempts, all while busy
    assert len(pool) == 0 and len(actors.created) == 2
    busy.clear()
    deadline = time.monotonic() + 5
    while len(pool) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(pool) == 2 and len(actors.created) == 4


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_hosted_instance_is_sent_to_its_host_until_the_host_may_be_passivating():
    clock = Clock()
    hosted = HostedInstances(idle_s=6.0, clock=clock)
    host = PrestartedHost("service-host-0", "h0")
    hosted.assign("s-1", host)
    assert hosted.get("s-1") == host and hosted.get("s-2") is None
    clock.now += 2.9
    assert hosted.get("s-1") == host  # looking does not count as use...
    clock.now += 0.1
    assert hosted.get("s-1") is None  # ...half the idle time without a call: its own actor next
    assert hosted.get("s-1") is None  # and it is forgotten


def test_a_call_in_flight_keeps_the_host_and_its_end_restarts_the_count():
    clock = Clock()
    hosted = HostedInstances(idle_s=6.0, clock=clock)
    hosted.assign("s-1", PrestartedHost("service-host-0", "h0"))
    hosted.begin("s-1")
    clock.now += 60  # a long operation: the host does not passivate during a call
    assert hosted.get("s-1") is not None
    hosted.end("s-1")
    clock.now += 2.9
    assert hosted.get("s-1") is not None
    clock.now += 0.2
    assert hosted.get("s-1") is None


def test_a_host_found_dead_is_forgotten():
    hosted = HostedInstances(idle_s=6.0)
    hosted.assign("v-1", PrestartedHost("vnf-host-0", "h0"))
    hosted.forget("v-1")
    assert hosted.get("v-1") is None
    hosted.begin("v-1")  # calls on what is not hosted change nothing
    hosted.end("v-1")
    assert hosted.get("v-1") is None


def test_a_held_timer_does_not_passivate_until_released():
    fired = threading.Event()
    timer = IdleTimer(0.2, fired.set, name="host", held=True)
    assert timer.held
    assert not fired.wait(0.8)  # four idle periods: still waiting to be handed out
    timer.release_hold()
    timer.release_hold()  # idempotent: the busy count must not go negative
    assert not timer.held
    started = time.monotonic()
    assert fired.wait(3)
    assert time.monotonic() - started >= 0.2  # idle time counts from the release, not from creation


def test_work_keeps_a_timer_from_firing_until_it_ends():
    fired = threading.Event()
    timer = IdleTimer(0.1, fired.set, name="busy")
    with timer.active():
        assert not fired.wait(0.5)
    assert fired.wait(3)


def test_an_unheld_timer_passivates_after_idle_time():
    fired = threading.Event()
    IdleTimer(0.2, fired.set, name="plain")
    assert fired.wait(3)
