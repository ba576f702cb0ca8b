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
