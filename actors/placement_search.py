"""Ray fan-out of the placement search: the independent starts run as parallel Ray tasks.

``placement`` is pure and never imports Ray; its fast search takes an injectable ``map_fn``
over independent starts. This module supplies that map:

* :func:`ray_map` runs ``fn`` over ``items`` in parallel. The items are cut into one contiguous
  segment per CPU but one (and those held by a placement MILP racing the search,
  ``actors.placement_exact``). Each segment goes to a ``@ray.remote`` streaming task, which
  yields its results front to back; ``fn`` (a partial holding the compiled problem) is put in
  the object store once and shared by them. The caller balances: it runs items from the back
  of the segment with the most left, until every segment's two ends meet, then stops the tasks
  with what they have not reached (their workers live on). A start's time varies with its
  search (25-65 ms at 200 PoPs x 10 VNFs, measured 2026-12-04), so round-robin chunks of fixed
  size had the caller and the task finish up to a start apart; meeting in the middle finishes
  them within one start's remainder of each other. Results come back in input order, so the
  search stays deterministic whatever the scheduling: ``placement.place(..., map_fn=ray_map)``.

Ray failures (a crashed worker, a lost object) are translated at this boundary into
:class:`ParallelSearchError`, a retryable ``PlacementError``; placement's own errors
(infeasible requests, bad input) pass through unchanged. No actor lives here: the Placement
plugin actor calls these functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import ray
import ray.exceptions

from actors import calls, placement_exact
from mano import errors as mano_errors
from mano.lifecycle import nodes


class ParallelSearchError(mano_errors.PlacementError):
    """The Ray fan-out failed (worker crash, lost object); trying again may help."""

    retryable = True


@ray.remote(num_returns="streaming")
def _run_segment(fn: Callable[[Any], Any], segment: list):
    for item in segment:
        yield fn(item)


@ray.remote
def _import_search() -> None:
    import placement.search  # noqa: F401  (what a search task needs, imported ahead of it)


def warm_up() -> None:
    """Start the fan-out's task workers now, with the search imported, without waiting for them:
    the first large placement would otherwise wait for Ray to start them (2.5 s of a 1 s budget,
    measured on the SONATA demo over 1,000 PoPs)."""
    for _ in range(cluster_cpus() - 1):  # the caller runs one share itself
        calls.submit(_import_search, where=nodes.search_tasks())


def cluster_cpus() -> int:
    """CPUs Ray may schedule tasks on (at least 1)."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


class _Segment:
    """Items ``[head, tail)`` of one segment are still to do: its task yields ``head`` next
    and the caller takes ``tail - 1``."""

    def __init__(self, fn: Callable[[Any], Any], items: list, head: int, tail: int):
        self.head, self.tail, self.yielded = head, tail, 0
        self.stream = calls.submit(_run_segment, fn, items[head:tail], where=nodes.search_tasks())

    @property
    def left(self) -> int:
        return self.tail - self.head

    def take_yield(self, results: list) -> None:
        """Its task's next result (ready or on the way) into ``results``."""
        results[self.head] = calls.get(next(self.stream), timeout=None, what="placement search")
        self.head += 1
        self.yielded += 1


def _take_ready(segments: list[_Segment], results: list) -> None:
    """Every result the segments' tasks have yielded by now, without waiting: what a task did
    while the caller ran an item must not look like work still to do."""
    while waiting := [s for s in segments if s.left > 0]:
        ready, _ = calls.wait([s.stream for s in waiting], timeout=0, num_returns=len(waiting))
        if not ready:
            return
        for segment in waiting:
            if any(segment.stream is r for r in ready):
                segment.take_yield(results)


def ray_map(fn: Callable[[Any], Any], items: Iterable, *, chunks: int | None = None) -> list:
    """``list(map(fn, items))`` spread over ``chunks`` workers (default: one per CPU not held by
    a MILP task of this process): ``chunks - 1`` streaming Ray tasks, each given a contiguous
    segment, and the caller, which runs items from the segments' far ends until they meet."""
    items = list(items)
    chunks = max(1, min(chunks or cluster_cpus() - placement_exact.running_solves(), len(items)))
    if chunks == 1:
        return [fn(item) for item in items]
    results: list = [None] * len(items)
    segments: list[_Segment] = []
    try:
        shared = ray.put(fn)
        bounds = [len(items) * k // (chunks - 1) for k in range(chunks)]
        segments = [_Segment(shared, items, head, tail) for head, tail in zip(bounds, bounds[1:]) if tail > head]
        while True:
            open_ = [s for s in segments if s.left > 0]
            if not open_:
                break
            _take_ready(open_, results)
            widest = max(open_, key=lambda s: (s.left, s.yielded == 0))
            if widest.left >= 2 or (widest.left == 1 and widest.yielded == 0):
                # two or more left: the task works on the head, the tail is free. The last
                # one of a task that has yielded nothing yet (not started: no CPU free) too.
                widest.tail -= 1
                results[widest.tail] = fn(items[widest.tail])
            elif widest.left == 1:  # every task is on its last item: wait for the first to yield
                calls.wait([s.stream for s in open_ if s.left], timeout=None, num_returns=1)
    except mano_errors.PlacementError:
        raise  # placement's own, raised inside a task: infeasible, bad input
    except (mano_errors.ManoError, ray.exceptions.RayError) as error:  # calls' translation of Ray's failures
        raise ParallelSearchError(f"parallel placement search failed: {error}") from error
    finally:
        for segment in segments:  # at most the item each was on when they met; none once ended
            calls.interrupt(segment.stream)
    return results
