"""Integration tests: optimistic concurrency under real concurrent writers."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from mano.errors import StaleRecordError
from mano.lifecycle.states import OperationType, ServiceState, StepState
from mano.records import OperationRecord, ServiceRecord
from mano.settings import Settings
from mano.store import Store, connect

pytestmark = pytest.mark.integration


@pytest.fixture
def second_store(embedded_store: Store, store_settings: Settings) -> Iterator[Store]:
    """Another Store on the same server, like a second actor process would have."""
    store = connect(store_settings)
    assert store.embedded is not None and not store.embedded.owner
    try:
        yield store
    finally:
        store.close()


def make_service(record_id: str) -> ServiceRecord:
    return ServiceRecord(id=record_id, name="demo", nsd={}, vim="emulated")


def run_in_threads(*jobs: Callable[[], Any]) -> list[Any]:
    """Run jobs at once; return each one's result or the exception it raised."""
    barrier = threading.Barrier(len(jobs))

    def run(job: Callable[[], Any]) -> Any:
        barrier.wait()
        try:
            return job()
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test inspects
            return exc

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(run, jobs))


def test_conflicting_updates_exactly_one_wins(embedded_store: Store, second_store: Store,
                                              new_id: Callable[..., str]) -> None:
    record_id = new_id("svc")
    embedded_store.services.insert(make_service(record_id))
    seen_by_a = embedded_store.services.get(record_id)
    seen_by_b = second_store.services.get(record_id)

    outcomes = run_in_threads(
        lambda: embedded_store.services.update(seen_by_a.model_copy(update={"state": ServiceState.READY})),
        lambda: second_store.services.update(seen_by_b.model_copy(update={"state": ServiceState.FAILED})),
    )

    winners = [o for o in outcomes if isinstance(o, ServiceRecord)]
    losers = [o for o in outcomes if isinstance(o, StaleRecordError)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert record_id in str(losers[0]) and "expected rev 0" in str(losers[0])
    assert embedded_store.services.get(record_id) == winners[0]
    assert winners[0].rev == 1


def test_mutate_makes_every_concurrent_change_land(embedded_store: Store, second_store: Store,
                                                   new_id: Callable[..., str]) -> None:
    record_id = new_id("svc")
    embedded_store.services.insert(make_service(record_id))
    increments = 15

    def bump_many(store: Store) -> ServiceRecord:
        result = None
        for _ in range(increments):
            result = store.services.mutate(
                record_id, lambda s: s.model_copy(update={"nsr_version": s.nsr_version + 1}), retries=100)
        assert result is not None
        return result

    outcomes = run_in_threads(lambda: bump_many(embedded_store), lambda: bump_many(second_store))

    assert all(isinstance(o, ServiceRecord) for o in outcomes), outcomes
    final = embedded_store.services.get(record_id)
    assert final.nsr_version == 2 * increments
    assert final.rev == 2 * increments


def test_mutate_merges_step_progress_from_two_writers(embedded_store: Store, second_store: Store,
                                                      new_id: Callable[..., str]) -> None:
    operation_id = new_id("op")
    embedded_store.operations.insert(
        OperationRecord(id=operation_id, type=OperationType.INSTANTIATE, service_id="svc"))

    def finish(store: Store, step: str) -> Callable[[], OperationRecord]:
        return lambda: store.operations.mutate(
            operation_id, lambda op: op.with_step(step, state=StepState.DONE, result={"by": step}))

    outcomes = run_in_threads(finish(embedded_store, "deploy_vnf_1"), finish(second_store, "deploy_vnf_2"))

    assert all(isinstance(o, OperationRecord) for o in outcomes), outcomes
    final = embedded_store.operations.get(operation_id)
    assert {s.name: s.state for s in final.steps} == {"deploy_vnf_1": StepState.DONE,
                                                      "deploy_vnf_2": StepState.DONE}


def test_mutate_without_a_change_writes_nothing(embedded_store: Store, new_id: Callable[..., str]) -> None:
    stored = embedded_store.services.insert(make_service(new_id("svc")))
    assert embedded_store.services.mutate(stored.id, lambda s: s) == stored
    assert embedded_store.services.get(stored.id).rev == 0


def test_mutate_gives_up_after_its_retries(embedded_store: Store, second_store: Store,
                                           new_id: Callable[..., str]) -> None:
    record_id = new_id("svc")
    embedded_store.services.insert(make_service(record_id))

    def meddle(service: ServiceRecord) -> ServiceRecord:
        # Someone else writes between our read and our write, every time.
        second_store.services.mutate(record_id, lambda s: s.model_copy(update={"name": s.name + "!"}))
        return service.model_copy(update={"state": ServiceState.READY})

    with pytest.raises(StaleRecordError):
        embedded_store.services.mutate(record_id, meddle, retries=2)
    assert embedded_store.services.get(record_id).state is ServiceState.INSTANTIATING


def test_mutate_from_a_current_copy_writes_without_reading_it_again(
        embedded_store: Store, new_id: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    stored = embedded_store.services.insert(make_service(new_id("svc")))
    reads = []
    real_get = embedded_store.services.get
    monkeypatch.setattr(embedded_store.services, "get", lambda i: reads.append(i) or real_get(i))
    written = embedded_store.services.mutate(stored.id, lambda s: s.model_copy(update={"nsr_version": 7}),
                                             current=stored)
    assert reads == [] and written.rev == 1 and embedded_store.services.find_one(stored.id).nsr_version == 7


def test_mutate_from_a_stale_copy_lands_on_the_latest_record(embedded_store: Store, second_store: Store,
                                                            new_id: Callable[..., str]) -> None:
    stale = embedded_store.services.insert(make_service(new_id("svc")))
    second_store.services.mutate(stale.id, lambda s: s.model_copy(update={"name": "renamed"}))
    written = embedded_store.services.mutate(stale.id, lambda s: s.model_copy(update={"nsr_version": s.nsr_version + 1}),
                                             current=stale, retries=0)  # the copy's try is not a retry
    assert (written.name, written.nsr_version, written.rev) == ("renamed", 1, 2)


def test_a_stale_copy_never_decides_a_mutation(embedded_store: Store, second_store: Store,
                                               new_id: Callable[..., str]) -> None:
    stale = embedded_store.services.insert(make_service(new_id("svc")))
    second_store.services.mutate(stale.id, lambda s: s.model_copy(update={"state": ServiceState.READY}))

    def to_terminating(service: ServiceRecord) -> ServiceRecord:  # refuses what is not READY
        if service.state is not ServiceState.READY:
            raise ValueError(f"cannot terminate a service that is {service.state.value}")
        return service.model_copy(update={"state": ServiceState.TERMINATING})
    # Raising on the stale copy (INSTANTIATING) is not the answer: the fresh record is READY.
    assert embedded_store.services.mutate(stale.id, to_terminating, current=stale).state is ServiceState.TERMINATING
    # Nothing to change on the stale copy is not the answer either.
    other = embedded_store.services.insert(make_service(new_id("svc")))
    second_store.services.mutate(other.id, lambda s: s.model_copy(update={"nsr_version": 3}))
    reset = embedded_store.services.mutate(other.id, lambda s: s.model_copy(update={"nsr_version": 0}), current=other)
    assert reset.nsr_version == 0 and embedded_store.services.get(other.id).nsr_version == 0
