"""mano's placement engine: where each VNF of a service runs. Pure: no Ray, no I/O.

Public surface (everything else is internal and may change):

* :func:`place` — ``place(service, substrate, policy, *, solver="auto"|"exact"|"fast"|"exhaustive", seed=0,
  map_fn=map, budget_s=None, exact_runner=None) -> Mapping`` over networkx-based
  :class:`ServiceGraph` and :class:`Substrate`.
* :func:`place_sonata` — SONATA dicts in, ``{vnf_id: vim_uuid}`` out (what the lifecycle code
  calls); :func:`place_sonata_mapping` returns the full :class:`Mapping`.
* Builders :func:`service_from_sonata`, :func:`substrate_from_sonata`, :func:`policy_from_sonata`.
* Models :class:`PlacementPolicy`, :class:`OperatorPolicy`, :class:`ObjectiveWeights`,
  :class:`Mapping`, :class:`SearchSettings`, :class:`Solver`.
* Errors :class:`InfeasibleRequestError` (a ``mano.errors.InfeasiblePlacementError`` with
  ``reasons``), :class:`SearchExhaustedError`, ``mano.errors.PlacementError`` for bad input.

Generators of synthetic substrates and services live in :mod:`placement.generators`; the
SONATA case runner in :mod:`placement.cases`; the Ray fan-out in ``actors.placement_search``
and the MILP as a Ray task that can be killed (an :class:`~placement.anytime.ExactRunner`) in
``actors.placement_exact``.
"""

from __future__ import annotations

from placement.anytime import ExactRunner
from placement.engine import Solver, place
from placement.errors import (
    InfeasibilityReason,
    InfeasiblePlacementError,
    InfeasibleRequestError,
    PlacementError,
    Resource,
    SearchExhaustedError,
)
from placement.mapping import Mapping
from placement.policy import ObjectiveWeights, OperatorPolicy, PlacementPolicy, policy_from_sonata
from placement.search import SearchSettings
from placement.service import ServiceGraph
from placement.service_builder import service_from_sonata
from placement.substrate import Pop, PopType, Substrate, substrate_from_sonata

__all__ = [
    "ExactRunner",
    "InfeasibilityReason",
    "InfeasiblePlacementError",
    "InfeasibleRequestError",
    "Mapping",
    "ObjectiveWeights",
    "OperatorPolicy",
    "PlacementError",
    "PlacementPolicy",
    "Pop",
    "PopType",
    "Resource",
    "SearchExhaustedError",
    "SearchSettings",
    "ServiceGraph",
    "Solver",
    "Substrate",
    "place",
    "place_sonata",
    "place_sonata_mapping",
    "policy_from_sonata",
    "service_from_sonata",
    "substrate_from_sonata",
]


def place_sonata_mapping(
    nsd: dict,
    vnfds: list[dict],
    topology: list[dict] | dict,
    operator_policy: dict | None,
    customer_policy: dict | None,
    ingress: list[dict] | None = None,
    egress: list[dict] | None = None,
    *,
    vnf_single_pop: bool = True,
    predefined_mapping: dict | None = None,
    operator_weight: float | None = None,
    developer_weight: float | None = None,
    solver: Solver | str = Solver.AUTO,
    seed: int = 0,
    map_fn=map,
    wims: list[dict] | None = None,
    budget_s: float | None = None,
    exact_runner: ExactRunner | None = None,
) -> Mapping:
    """Like :func:`place_sonata` but returns the full :class:`Mapping` (units, routes, objective)."""
    service = service_from_sonata(nsd, vnfds, ingress, egress)
    substrate = substrate_from_sonata(topology, wims)
    policy = policy_from_sonata(
        operator_policy,
        customer_policy,
        vnf_single_pop=vnf_single_pop,
        predefined_mapping=predefined_mapping,
        operator_weight=operator_weight,
        developer_weight=developer_weight,
    )
    return place(service, substrate, policy, solver=solver, seed=seed, map_fn=map_fn, budget_s=budget_s,
                 exact_runner=exact_runner)


def place_sonata(
    nsd: dict,
    vnfds: list[dict],
    topology: list[dict] | dict,
    operator_policy: dict | None,
    customer_policy: dict | None,
    ingress: list[dict] | None = None,
    egress: list[dict] | None = None,
    *,
    vnf_single_pop: bool = True,
    predefined_mapping: dict | None = None,
    operator_weight: float | None = None,
    developer_weight: float | None = None,
    solver: Solver | str = Solver.AUTO,
    seed: int = 0,
    map_fn=map,
    wims: list[dict] | None = None,
    budget_s: float | None = None,
    exact_runner: ExactRunner | None = None,
) -> dict[str, str]:
    """Place a SONATA service; returns ``{NSD vnf_id: vim_uuid}``.

    Arguments are SONATA's: the NSD dict, the VNFD dicts (or ``{id, vnfd}`` entries), the VIM
    list (or ``{vims, wims}``), ``operator_policies``, ``customer_policies``, the ingress and
    egress lists ``[{location, nap}]``; ``operator_weight``/``developer_weight`` override
    ``operator_policies.weights`` (SONATA's 2018 API). When ``vnf_single_pop`` is False and a
    VNF's units are split, the VNF maps to its first unit's PoP (as SONATA's reply did); use
    :func:`place_sonata_mapping` for the per-unit answer.
    """
    return dict(
        place_sonata_mapping(
            nsd,
            vnfds,
            topology,
            operator_policy,
            customer_policy,
            ingress,
            egress,
            vnf_single_pop=vnf_single_pop,
            predefined_mapping=predefined_mapping,
            operator_weight=operator_weight,
            developer_weight=developer_weight,
            solver=solver,
            seed=seed,
            map_fn=map_fn,
            wims=wims,
            budget_s=budget_s,
            exact_runner=exact_runner,
        ).vnfs
    )
