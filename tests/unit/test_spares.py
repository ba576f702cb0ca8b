"""Warm spare actors without Ray: the pool's bookkeeping and the idle timer's hold."""
from __future__ import annotations

import itertools
import threading
import time

from actors.passivation import IdleTimer
from actors.spares import SparePool


class FakeActors:
    """Stands in for actor creation: records what was created and claimed."""

    def __init__(self):
        self.created: list[str] = []
        self.claimed: list[str] = []
        self._ids = (f"id-{i}" for i in itertools.count())

    def new_id(self) -> str:
        return next(self._ids)

    def create(self, instance_id: str) -> str:
        self.created.append(instance_id)
        return f"handle-{instance_id}"

    def claim(self, handle: str) -> None:
        self.claimed.append(handle)

    def pool(self, size: int) -> SparePool:
        return SparePool(size, self.create, self.claim, new_id=self.new_id)


def test_fill_starts_size_spares_once():
    actors = FakeActors()
    pool = actors.pool(2)
    assert pool.fill() == 2 and pool.fill() == 0
    assert actors.created == ["id-0", "id-1"] and pool.ids() == ["id-0", "id-1"]


def test_take_claims_the_oldest_spare_and_starts_its_replacement():
    actors = FakeActors()
    pool = actors.pool(2)
    pool.fill()
    spare = pool.take()
    assert spare.id == "id-0" and spare.handle == "handle-id-0"
    assert actors.claimed == ["handle-id-0"]
    assert pool.ids() == ["id-1", "id-2"] and actors.created == ["id-0", "id-1", "id-2"]


def test_a_spare_taken_unclaimed_is_claimed_by_its_first_work_or_by_the_taker():
    actors = FakeActors()
    pool = actors.pool(2)
    pool.fill()
    sent_work = pool.take(claim=False)  # its first call (the run sent to it) releases its hold
    refused = pool.take(claim=False)
    assert actors.claimed == [] and {sent_work.id, refused.id} == {"id-0", "id-1"}
    pool.claim(refused)  # the request was refused: it gets no work, and must passivate
    assert actors.claimed == ["handle-id-1"] and pool.ids() == ["id-2", "id-3"]


def test_spares_handed_out_unclaimed_are_claimed_later_only_if_their_work_never_came():
    actors = FakeActors()
    pool = actors.pool(3)
    pool.fill()
    ids = pool.take_ids(3, claim_after_s=0.2)
    assert ids == ["id-0", "id-1", "id-2"] and actors.claimed == []
    pool.used(["id-0", "id-2"])  # their deploys came: each deploy claimed its spare
    time.sleep(0.6)
    assert actors.claimed == ["handle-id-1"]  # the one whose deploy never came


def test_take_ids_uses_spares_first_then_fresh_ids():
    actors = FakeActors()
    pool = actors.pool(1)
    pool.fill()
    ids = pool.take_ids(3)
    # id-0 was the spare; each take refills (id-1, then id-3 after id-1 is taken too)...
    assert ids[0] == "id-0" and len(set(ids)) == 3
    assert all(f"handle-{i}" in actors.claimed for i in ids)  # every id handed out is a claimed spare
    assert len(pool) == 1 and pool.ids()[0] not in ids


def test_a_disabled_pool_creates_nothing_and_hands_out_fresh_ids():
    actors = FakeActors()
    pool = actors.pool(0)
    assert pool.fill() == 0 and pool.take() is None
    ids = pool.take_ids(2)
    assert len(set(ids)) == 2 and actors.created == [] and actors.claimed == []


def test_concurrent_takes_never_hand_out_one_spare_twice():
    actors = FakeActors()
    pool = actors.pool(4)
    pool.fill()
    taken: list[str] = []
    lock = threading.Lock()

    def worker():
        for _ in range(25):
            spare = pool.take()
            with lock:
                taken.append(spare.id)
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == 100 and len(set(taken)) == 100
    assert len(pool) == 4 and set(pool.ids()).isdisjoint(taken)


def test_a_held_timer_does_not_passivate_until_released():
    fired = threading.Event()
    timer = IdleTimer(0.2, fired.set, name="spare", held=True)
    assert timer.held
    assert not fired.wait(0.8)  # four idle periods: still waiting as a spare
    timer.release_hold()
    timer.release_hold()  # idempotent: the busy count must not go negative
    assert not timer.held
    started = time.monotonic()
    assert fired.wait(3)
    assert time.monotonic() - started >= 0.2  # idle time counts from the release, not from creation


def test_a_claimed_spare_is_not_idle_within_its_grace_even_without_work():
    """The place step claims VNF spares before placing: a slow placement must not passivate them."""
    fired = threading.Event()
    timer = IdleTimer(0.1, fired.set, name="spare", held=True)
    started = time.monotonic()
    timer.release_hold(grace_s=0.8)
    assert not fired.wait(0.6)  # six idle periods, but within the grace
    assert fired.wait(3)
    assert time.monotonic() - started >= 0.8


def test_work_ends_a_claims_grace():
    fired = threading.Event()
    timer = IdleTimer(0.1, fired.set, name="spare", held=True)
    timer.release_hold(grace_s=30)
    with timer.active():
        pass
    assert fired.wait(3)  # idle after its work, long before the grace would have ended


def test_an_unheld_timer_passivates_after_idle_time():
    fired = threading.Event()
    IdleTimer(0.2, fired.set, name="plain")
    assert fired.wait(3)


def test_a_delayed_refill_waits_then_fills_every_gap_once():
    actors = FakeActors()
    pool = SparePool(3, actors.create, actors.claim, new_id=actors.new_id, refill_delay_s=0.3)
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
    pool = SparePool(2, actors.create, actors.claim, new_id=actors.new_id, refill_delay_s=0.05,
                     idle=lambda: not busy.is_set())
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
