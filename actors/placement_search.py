"""Ray fan-out of the placement search: the independent starts run as parallel Ray tasks.

``placement`` is pure and never imports Ray; its fast search takes an injectable ``map_fn``
over independent starts. This module supplies that map:

* :func:`ray_map` runs ``fn`` over ``items`` in parallel: the items are dealt round-robin into
  one chunk per CPU (but those held by a placement MILP racing the search,
  ``actors.placement_exact``); the caller runs the first chunk itself and the others run as
  ``@ray.remote`` tasks, with ``fn`` (a partial holding the compiled problem) put in the
  object store once and shared by them. A task amortises its scheduling and deserialisation
  over several starts, and the caller, which would only wait, does a share of the work with
  the problem it already holds (measured on 2 CPUs, 2026-12-02: the same speed-up or a little
  more than two tasks, with one worker process fewer). Results come back in input order, so
  the search stays deterministic whatever the scheduling: ``placement.place(..., map_fn=ray_map)``.

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


@ray.remote
def _run_chunk(fn: Callable[[Any], Any], chunk: list) -> list:
    return [fn(item) for item in chunk]


def _import_search(_: Any) -> None:
    import placement.search  # noqa: F401  (what a search task needs, imported ahead of it)


def warm_up() -> None:
    """Start the fan-out's task workers now, with the search imported, without waiting for them:
    the first large placement would otherwise wait for Ray to start them (2.5 s of a 1 s budget,
    measured on the SONATA demo over 1,000 PoPs)."""
    for _ in range(cluster_cpus() - 1):  # the caller runs one share itself
        calls.submit(_run_chunk, _import_search, [0], where=nodes.search_tasks())


def cluster_cpus() -> int:
    """CPUs Ray may schedule tasks on (at least 1)."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def ray_map(fn: Callable[[Any], Any], items: Iterable, *, chunks: int | None = None) -> list:
    """``list(map(fn, items))`` spread over ``chunks`` parts (default: one per CPU not held by a
    MILP task of this process): the caller's and ``chunks - 1`` Ray tasks."""
    items = list(items)
    if not items:
        return []
    chunks = max(1, min(chunks or cluster_cpus() - placement_exact.running_solves(), len(items)))
    try:
        refs = []
        if chunks > 1:
            shared = ray.put(fn)
            refs = [calls.submit(_run_chunk, shared, items[k::chunks], where=nodes.search_tasks())
                    for k in range(1, chunks)]
        chunk_results = [[fn(item) for item in items[0::chunks]]]  # the caller's share, meanwhile
        chunk_results += calls.get(refs, timeout=None, what="placement search")
    except mano_errors.PlacementError:
        raise  # placement's own, raised inside a task: infeasible, bad input
    except (mano_errors.ManoError, ray.exceptions.RayError) as error:  # calls' translation of Ray's failures
        raise ParallelSearchError(f"parallel placement search failed: {error}") from error
    results: list = [None] * len(items)
    for k, chunk in enumerate(chunk_results):
        results[k::chunks] = chunk
    return results
