"""The Ray fan-out: same answer as one process, results in input order, errors translated."""

from __future__ import annotations

import functools

import pytest

from placement import (
    ObjectiveWeights,
    PlacementError,
    PlacementPolicy,
    SearchSettings,
    generators,
    place,
    units,
)

ray = pytest.importorskip("ray")


@pytest.mark.integration
def test_parallel_place_on_a_local_ray_cluster_matches_one_process():
    from actors.placement_search import ray_map

    substrate = generators.zoo_like_substrate(40, seed=5)
    service = generators.chain_service(8, seed=5, endpoints=generators.endpoints_on(substrate, seed=5))
    policy = PlacementPolicy(weights=ObjectiveWeights(1.0, 0.5))
    settings = SearchSettings(starts=4, kicks=5)
    owned = not ray.is_initialized()            # reuse a cluster another test left running
    if owned:
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    try:
        assert ray_map(lambda x: x * x, range(7)) == [x * x for x in range(7)]
        assert ray_map(str, [], chunks=3) == []
        parallel = place(service, substrate, policy, solver="fast", seed=11, settings=settings, map_fn=ray_map)
        with pytest.raises(PlacementError, match="bad item: expected a number"):  # raised inside a task
            ray_map(functools.partial(units.number, where="bad item"), ["1", "x"])
    finally:
        if owned:
            ray.shutdown()
    sequential = place(service, substrate, policy, solver="fast", seed=11, settings=settings)
    assert parallel.units == sequential.units
    assert parallel.objective == sequential.objective


@pytest.mark.integration
def test_the_caller_and_the_task_meet_in_the_middle_and_the_task_is_stopped_there(tmp_path):
    """Uneven items: the caller takes them from the back while the task streams them from the
    front; every item is done (once, but for the one each was on when they met), the results
    are in input order, and the stopped task neither goes on through the caller's items nor
    costs its worker process."""
    from actors.placement_search import ray_map

    def _mark(folder, seconds, item):  # defined here: Ray's workers cannot import a test module
        """One item of work: sleeps ``seconds[item]``, leaves a file saying which process did it."""
        import os
        import time
        time.sleep(seconds[item])
        (folder / f"{item}-{os.getpid()}").touch()
        return item * 10, os.getpid()

    seconds = [0.4, 0.05, 0.05, 0.05, 0.3, 0.3, 0.05, 0.05]
    owned = not ray.is_initialized()
    if owned:
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    try:
        ray_map(lambda x: x, range(2), chunks=2)  # a worker up, so the timing below is the work's
        results = ray_map(functools.partial(_mark, tmp_path, seconds), range(len(seconds)), chunks=2)
        import os
        import time
        time.sleep(1.0)  # what the task would still do if it were not stopped
        done = sorted(p.name for p in tmp_path.iterdir())
        workers = {pid for _, pid in results} - {os.getpid()}
        again = ray_map(functools.partial(_mark, tmp_path, [0.3, 0.3, 0.3, 0.3]), range(4), chunks=2)
    finally:
        if owned:
            ray.shutdown()
    assert [value for value, _ in results] == [10 * k for k in range(len(seconds))]
    assert {pid for _, pid in results} == {os.getpid(), *workers} and len(workers) == 1  # both did a share
    items = [int(name.split("-")[0]) for name in done]
    assert sorted(set(items)) == list(range(len(seconds)))
    assert len(items) <= len(seconds) + 1, f"the task ran on past the meeting point: {done}"
    assert {pid for _, pid in again} - {os.getpid()} == workers  # the stopped task's worker serves the next
