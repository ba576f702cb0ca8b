"""The objective with SONATA's meaning, evaluated for a complete assignment (minimised).

``total = operator_weight · operator + developer_weight · developer`` where

* ``operator`` depends on the operator policy. With the load of PoP p
  ``L_p = mean(cores_used/cores_total, memory_used/memory_total)`` *after* placement (VM PoPs
  with capacity figures; container PoPs carry no load, as in SONATA):

  - load balanced: ``D = Σ_{p<q} |L_p − L_q|`` (the load dispersion; minimised);
  - fill first: ``−D`` (dispersion maximised: new units go where load already is);
  - priority: ``−Σ_units rank(PoP)`` with rank n − i for the i-th of n listed PoPs;
  - none: 0.

* ``developer = −(Σ proximity + Σ affinity)``: closeness (common leading IPv4 octets of the
  VIM endpoints and naps, 0–4; see :mod:`placement.proximity`) of each VNF to the ingress or
  egress naps it wants to be near, and of VNF pairs that want to be near each other, weighted
  by the wish's weight and, for VNFs split over PoPs, by each part's share of units.

``D`` is computed in O(n log n) from the sorted loads: for ascending ``S``,
``Σ_{p<q} |S_p − S_q| = Σ_k (2k − n + 1) S_k`` (k from 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from placement.policy import OperatorPolicy
from placement.problem import PlacementProblem


@dataclass(frozen=True)
class ObjectiveValue:
    """A decomposed objective value (operator and developer parts before weighting)."""

    total: float
    operator: float
    developer: float


def dispersion(loads: np.ndarray) -> float:
    """``Σ_{p<q} |L_p − L_q|`` in O(n log n)."""
    ordered = np.sort(np.asarray(loads, dtype=float))
    n = len(ordered)
    return float(np.dot(2 * np.arange(n) - n + 1, ordered))


def pop_loads(problem: PlacementProblem, assignment: np.ndarray) -> np.ndarray:
    """Load of every PoP after placing items per ``assignment`` (item → PoP index)."""
    cores = np.bincount(assignment, weights=problem.item_cores, minlength=problem.n_pops)
    memory = np.bincount(assignment, weights=problem.item_memory, minlength=problem.n_pops)
    return problem.load_base + cores * problem.load_per_core + memory * problem.load_per_gb


def operator_value(problem: PlacementProblem, assignment: np.ndarray) -> float:
    """The unweighted operator objective of a complete assignment."""
    policy = problem.operator
    if policy in (OperatorPolicy.LOAD_BALANCED, OperatorPolicy.FILL_FIRST):
        spread = dispersion(pop_loads(problem, assignment)[problem.in_load])
        return spread if policy is OperatorPolicy.LOAD_BALANCED else -spread
    if policy is OperatorPolicy.PRIORITY:
        return -float(np.dot(problem.item_units, problem.priority[assignment]))
    return 0.0


def closeness(problem: PlacementProblem, p: int, q: int) -> float:
    """SONATA closeness of two PoPs: levels (0–4) at which their location keys agree."""
    keys = problem.location_keys
    return float((keys[:, p] == keys[:, q]).sum())


def developer_value(problem: PlacementProblem, assignment: np.ndarray) -> float:
    """The unweighted developer objective of a complete assignment (≤ 0)."""
    score = float(problem.endpoint_score[np.arange(problem.n_items), assignment].sum())
    for wish in problem.affinities:
        score += wish.weight * closeness(problem, int(assignment[wish.a]), int(assignment[wish.b]))
    return -score


def evaluate(problem: PlacementProblem, assignment) -> ObjectiveValue:
    """Weighted total and its parts for a complete assignment."""
    assignment = np.asarray(assignment, dtype=np.int64)
    operator = operator_value(problem, assignment) if problem.operator_weight else 0.0
    developer = developer_value(problem, assignment) if problem.developer_weight else 0.0
    total = problem.operator_weight * operator + problem.developer_weight * developer
    return ObjectiveValue(float(total), float(operator), float(developer))
