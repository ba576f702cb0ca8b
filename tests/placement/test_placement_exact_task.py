"""The MILP as a Ray task (actors.placement_exact), as the Placement plugin runs it: a request
whose budget the MILP exceeds gets the search's incumbent by the deadline, and no solve is left
running afterwards; a MILP that answers in time answers."""

from __future__ import annotations

import threading
import time

import psutil
import pytest

from placement import OperatorPolicy, PlacementPolicy, generators, place

ray = pytest.importorskip("ray")

LOAD_BALANCED = PlacementPolicy(OperatorPolicy.LOAD_BALANCED)
TASK_TITLE = "ray::_solve_exact"  # the process title Ray gives a worker while it runs the task


def instance(n_pops, n_vnfs, seed=0):
    substrate = generators.zoo_like_substrate(n_pops, seed=seed)
    service = generators.chain_service(n_vnfs, seed=seed, endpoints=generators.endpoints_on(substrate, seed=seed))
    return service, substrate


def milp_workers() -> set[int]:
    """This session's processes (Ray's are this process's descendants) running the MILP task."""
    found = set()
    for process in psutil.Process().children(recursive=True):
        try:
            if process.name().startswith(TASK_TITLE):
                found.add(process.pid)
        except psutil.Error:
            pass
    return found


class Watch:
    """Every MILP worker seen while a placement runs."""

    def __init__(self):
        self.seen: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.seen |= milp_workers()
            time.sleep(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def still_running(pids: set[int], within_s: float) -> set[int]:
    """The pids among ``pids`` still running the MILP task after up to ``within_s`` (the kill is
    asynchronous: the worker goes within tens of milliseconds)."""
    deadline = time.monotonic() + within_s
    while True:
        left = {pid for pid in pids if pid in milp_workers()}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


@pytest.fixture(scope="module")
def local_ray():
    owned = not ray.is_initialized()  # reuse a cluster another test left running
    if owned:
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    # A worker that has imported the solver, so that the MILP's task starts within its budget on a
    # busy machine too (a cold worker took longer than the 1.5 s budget in CI, and the MILP never ran)
    from actors.placement_exact import _start_a_worker
    ray.get(_start_a_worker.remote(), timeout=120)
    yield
    if owned:
        ray.shutdown()


@pytest.mark.integration
def test_a_milp_over_its_budget_is_killed_and_the_search_answers_in_time(local_ray):
    """500 PoPs x 3 VNFs, load balanced: HiGHS alone takes 33 s for a 10 s limit (it does not
    stop while it presolves). Forced exact with a 3 s budget, the answer is the search's
    incumbent, well before HiGHS could have ended, and its worker is gone."""
    from actors.placement_exact import ray_exact_runner
    from actors.placement_search import ray_map

    service, substrate = instance(500, 3)
    started = time.perf_counter()
    with Watch() as watch:
        mapping = place(service, substrate, LOAD_BALANCED, solver="exact", budget_s=3.0, map_fn=ray_map,
                        exact_runner=ray_exact_runner)
    elapsed = time.perf_counter() - started
    assert mapping.solver == "fast" and mapping.stats["chosen"] == "exact"
    assert mapping.stats["exact"] == "cancelled at the deadline"
    assert elapsed < 12.0  # generous (busy machine): the MILP alone would hold on for 33 s
    assert watch.seen, "the MILP never ran as a Ray task"
    assert still_running(watch.seen, within_s=10.0) == set()  # killed, not left burning a CPU
    cpus = ray.cluster_resources().get("CPU")
    deadline = time.monotonic() + 10.0
    while ray.available_resources().get("CPU") != cpus and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ray.available_resources().get("CPU") == cpus  # its CPU is free for the next placement


@pytest.mark.integration
def test_a_milp_that_answers_within_its_budget_is_the_answer(local_ray):
    from actors.placement_exact import ray_exact_runner

    service, substrate = instance(40, 3)  # HiGHS proves the optimum in about 0.2 s
    runs = []

    def runner(problem, **limits):
        runs.append(ray_exact_runner(problem, **limits))
        return runs[-1]

    mapping = place(service, substrate, LOAD_BALANCED, solver="exact", budget_s=20.0, exact_runner=runner)
    assert mapping.solver == "exact" and mapping.optimal and mapping.stats["gap"] == 0.0
    assert len(runs) == 1  # it ran in a task, not here
    assert mapping.objective == pytest.approx(place(service, substrate, LOAD_BALANCED, solver="exact").objective)
