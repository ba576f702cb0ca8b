"""The exact MILP is optimal (checked by enumeration), the fast search reaches the same optimum,
and ``auto`` checks every assignment of tiny problems, with the same optimum as the MILP."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from placement_checks import PROPERTY_SETTINGS, brute_force_feasible, tiny_instances

from placement import (
    InfeasibleRequestError,
    ObjectiveWeights,
    PlacementError,
    OperatorPolicy,
    PlacementPolicy,
    SearchSettings,
    generators,
    place,
)
from placement.objective import evaluate
from placement.problem import compile_problem
from placement.search import _State, run_start

FAST = SearchSettings(starts=4, kicks=8)


def _objective_of(problem, unit_pop: dict[str, str]) -> float:
    index = {uuid: k for k, uuid in enumerate(problem.pop_ids)}
    return evaluate(problem, np.array([index[unit_pop[item.unit_ids[0]]] for item in problem.items])).total


@PROPERTY_SETTINGS
@given(instance=tiny_instances())
def test_exact_is_optimal_and_fast_agrees_on_tiny_instances(instance):
    service, substrate, policy = instance
    try:
        exact = place(service, substrate, policy, solver="exact")
    except InfeasibleRequestError:
        with pytest.raises(InfeasibleRequestError):
            place(service, substrate, policy, solver="fast", settings=FAST)
        return
    fast = place(service, substrate, policy, solver="fast", settings=FAST)
    scales = exact.stats["normalisation"]
    problem = compile_problem(service, substrate, policy).with_weights(
        policy.weights.operator / scales[0], policy.weights.developer / scales[1]
    )
    optimum = min(_objective_of(problem, m) for m in brute_force_feasible(service, substrate, policy))
    assert exact.objective == pytest.approx(optimum, rel=1e-6, abs=1e-9)
    assert fast.stats["normalisation"] == pytest.approx(scales, rel=1e-6, abs=1e-9)
    assert fast.objective == pytest.approx(exact.objective, rel=1e-6, abs=1e-9)
    exhaustive = place(service, substrate, policy, solver="exhaustive")
    assert exhaustive.optimal and exhaustive.stats["normalisation"] == pytest.approx(scales, rel=1e-6, abs=1e-9)
    assert exhaustive.objective == pytest.approx(exact.objective, rel=1e-6, abs=1e-9)


def test_auto_checks_every_assignment_of_tiny_problems_and_leaves_bigger_ones_to_the_milp():
    substrate = generators.zoo_like_substrate(4, seed=1)
    policy = PlacementPolicy(weights=ObjectiveWeights(1.0, 0.0))
    tiny = place(generators.chain_service(3, seed=1), substrate, policy)  # 4^3 = 64 assignments
    assert tiny.solver == "exhaustive" and tiny.optimal and tiny.stats["checked"] == 64
    exact = place(generators.chain_service(3, seed=1), substrate, policy, solver="exact")
    assert tiny.objective == pytest.approx(exact.objective, rel=1e-6, abs=1e-9)
    bigger = place(generators.chain_service(5, seed=1), substrate, policy)  # 4^5 = 1024
    assert bigger.solver == "exact"


def test_exhaustive_refuses_what_would_take_seconds():
    substrate = generators.zoo_like_substrate(20, seed=0)
    with pytest.raises(PlacementError, match="too many to check one by one"):
        place(generators.chain_service(5, seed=0), substrate, solver="exhaustive")  # 20^5


@pytest.mark.parametrize(
    "operator", [OperatorPolicy.LOAD_BALANCED, OperatorPolicy.FILL_FIRST, OperatorPolicy.PRIORITY]
)
@pytest.mark.parametrize("seed", range(3))
def test_fast_matches_exact_on_generated_20_pop_instances(operator, seed):
    substrate = generators.zoo_like_substrate(20, seed=seed)
    service = generators.chain_service(5, seed=seed, endpoints=generators.endpoints_on(substrate, seed=seed))
    policy = PlacementPolicy(
        operator=operator,
        priority_list=tuple(p.uuid for p in substrate.pops[::-1]),
        weights=ObjectiveWeights(1.0, 0.5),
    )
    exact = place(service, substrate, policy, solver="exact")
    fast = place(service, substrate, policy, solver="fast", seed=seed)
    assert exact.optimal
    assert fast.objective == pytest.approx(exact.objective, rel=1e-6, abs=1e-9)


def test_search_is_deterministic_whatever_the_map_order():
    substrate = generators.random_substrate(40, seed=3)
    service = generators.dag_service(8, seed=3, endpoints=generators.endpoints_on(substrate, seed=3))
    policy = PlacementPolicy(weights=ObjectiveWeights(1.0, 1.0))
    settings = SearchSettings(starts=5, kicks=5)

    def reversed_map(fn, items):
        return list(reversed([fn(item) for item in reversed(list(items))]))

    first = place(service, substrate, policy, solver="fast", seed=7, settings=settings)
    again = place(service, substrate, policy, solver="fast", seed=7, settings=settings, map_fn=reversed_map)
    assert first.units == again.units and first.objective == again.objective


def test_incremental_objective_matches_a_full_evaluation():
    substrate = generators.zoo_like_substrate(30, seed=1)
    service = generators.dag_service(8, seed=1, endpoints=generators.endpoints_on(substrate, seed=1))
    for operator in (OperatorPolicy.LOAD_BALANCED, OperatorPolicy.FILL_FIRST, OperatorPolicy.PRIORITY):
        problem = compile_problem(
            service,
            substrate,
            PlacementPolicy(
                operator=operator,
                priority_list=tuple(p.uuid for p in substrate.pops[:10]),
                weights=ObjectiveWeights(1.0, 0.3),
            ),
        )
        outcome = run_start(problem, SearchSettings(kicks=10), 1)
        assert outcome.objective == pytest.approx(evaluate(problem, np.array(outcome.assignment)).total)
        state = _State(problem)
        rng = np.random.default_rng(0)
        for item in range(problem.n_items):  # random valid insertions, then swaps
            state.insert(item, int(rng.choice(state.candidates(item))))
        base = evaluate(problem, state.assign).total
        state.value = base
        for i, j in [(0, 1), (2, 5), (3, 7)]:
            delta = state.swap_delta(i, j)
            if delta is None:
                continue
            p, q = int(state.assign[i]), int(state.assign[j])
            state.remove(i), state.remove(j), state.insert(i, q), state.insert(j, p)
            assert state.value == pytest.approx(evaluate(problem, state.assign).total, abs=1e-9)
            assert state.value - base == pytest.approx(delta, abs=1e-9)
            base = state.value
