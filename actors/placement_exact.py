"""The placement MILP as a Ray task the Placement plugin can kill: its ``exact_runner``.

HiGHS runs inside one C call that its time limit does not interrupt while it builds and
presolves the model (33 s for a 10 s limit on 500 PoPs x 3 VNFs, 2 cores). Run in the
Placement plugin's process, it held the plugin's lock and a CPU past the placement's budget.
Run as a Ray task, it is in a worker process that :func:`actors.calls.cancel` kills: the
engine (``placement.anytime``) races it against the fast search and cancels it at the
deadline, and Ray starts a fresh worker for the next task.

While a solve runs it holds one CPU, which the search racing it does not fan out over
(:func:`running_solves`, read by ``actors.placement_search.ray_map``): on 2 CPUs the search runs
in the plugin beside the MILP instead of a third process on two cores, and it never waits for
Ray to start a worker (the killed MILP's worker must be replaced: a second or more on a busy
machine, which a search chunk task waiting for it would add to the placement).

Ray's failures (a crashed worker, a lost result) are translated here into
:class:`ExactTaskError`, a retryable ``PlacementError``: the race records it and answers with
the search's mapping. No actor lives here: the Placement plugin passes
:func:`ray_exact_runner` to the engine.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import ray
import ray.exceptions

from actors import calls
from mano import errors as mano_errors
from placement import exact
from placement.problem import PlacementProblem

RESULT_TIMEOUT_S = 30.0  # fetching a finished solve's result (tens of KB): never near this

_running: set[Any] = set()  # the refs of this process's solves not yet ended or cancelled
_running_lock = threading.Lock()


def running_solves() -> int:
    """How many MILP tasks this process has running (each holds one CPU)."""
    with _running_lock:
        return len(_running)


def _ended(ref: Any) -> None:
    with _running_lock:
        _running.discard(ref)


class ExactTaskError(mano_errors.PlacementError):
    """The MILP's Ray task failed (its worker died, its result was lost)."""

    retryable = True


# Not retried: a solve killed at its deadline, or whose worker crashed, has no time left.
@ray.remote(max_retries=0)
def _solve_exact(problem: PlacementProblem, time_limit: float | None, deadline: float) -> exact.ExactResult:
    return exact.solve_exact(problem, time_limit=time_limit, deadline=deadline)


@ray.remote
def _start_a_worker() -> None:
    """Nothing: running it makes Ray start a worker (with this module, so the solver, imported)."""


def warm_up() -> None:
    """Start a worker with the solver imported ahead of the first MILP: a cold one takes longer
    to start than a 1 s budget on a busy machine, and the first forced MILP would never run."""
    calls.submit(_start_a_worker)


@dataclass(frozen=True)
class RayExactRun:
    """A MILP solving in a Ray task (``placement.anytime.ExactRun``)."""

    ref: Any  # the task's ObjectRef

    def result(self, timeout: float) -> exact.ExactResult | None:
        done, _ = calls.wait([self.ref], timeout=timeout)
        if not done:
            return None
        _ended(self.ref)
        try:
            return calls.get(self.ref, timeout=RESULT_TIMEOUT_S, what="placement MILP")
        except mano_errors.PlacementError:
            raise
        except (mano_errors.ManoError, ray.exceptions.RayError) as error:  # calls' translation, or Ray's own
            raise ExactTaskError(f"the MILP's Ray task failed: {error}") from error

    def cancel(self) -> None:
        ended, _ = calls.wait([self.ref], timeout=0)
        calls.cancel(self.ref)
        _ended(self.ref)
        if not ended:
            # The kill takes a worker with it. Ray would start the next one when the next
            # placement's task needs it, a second or more on a busy machine (measured: the
            # next forced MILP then never started before its 1 s deadline); start it now,
            # while the next request is on its way.
            calls.submit(_start_a_worker)


def ray_exact_runner(problem: PlacementProblem, *, time_limit: float | None, deadline: float) -> RayExactRun:
    """Start the MILP of ``problem`` in a Ray task (one CPU) and return at once."""
    ref = calls.submit(_solve_exact, problem, time_limit, deadline)
    with _running_lock:
        _running.add(ref)
    return RayExactRun(ref)
