"""Placement within a time budget: does ``auto`` pick well, and does the answer keep its budget?

Run ``python bench/placement_budget.py [--quick] [--budget 1.0]``; prints a table and writes
``bench/results/placement_budget.json``. On Zoo-like substrates of 10 to 10,000 PoPs with a
3-VNF chain (the SONATA demo's size) and a 10-VNF chain, load balanced:

* the MILP's predicted time (``placement.engine.predicted_exact_seconds``, from its estimated
  size) against its measured time (HiGHS, ``--exact-limit`` seconds at most; skipped where the
  prediction is over 20 times that), which is how the predictor's constants were fitted;
* ``place(..., budget_s=B)`` end to end: the solver that answered, its time against the
  budget, and its gap to the MILP's optimum where the MILP proved one.

Targets (issue "Placement at field scale"): the budget kept at any size; gap <= 1 % where it is
provable; never a fallback to first fit.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from placement import OperatorPolicy, PlacementPolicy, generators, place  # noqa: E402
from placement import exact  # noqa: E402
from placement.engine import estimated_columns, predicted_exact_seconds  # noqa: E402
from placement.problem import compile_problem  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "placement_budget.json"


def one(n_pops: int, n_vnfs: int, budget: float, exact_limit: float, seed: int = 0) -> dict:
    substrate = generators.zoo_like_substrate(n_pops, seed=seed)
    service = generators.chain_service(n_vnfs, seed=seed, endpoints=generators.endpoints_on(substrate, seed=seed))
    policy = PlacementPolicy(OperatorPolicy.LOAD_BALANCED)
    started = time.perf_counter()
    problem = compile_problem(service, substrate, policy)
    row = {"pops": n_pops, "vnfs": n_vnfs, "compile_s": round(time.perf_counter() - started, 4),
           "columns": estimated_columns(problem), "predicted_exact_s": round(predicted_exact_seconds(problem), 4)}
    if row["predicted_exact_s"] <= 20 * exact_limit:
        solved = exact.solve_exact(problem, time_limit=exact_limit)
        row.update(exact_s=round(solved.seconds, 4), exact_optimal=solved.optimal, exact_gap=solved.gap,
                   exact_variables=solved.variables)
        if solved.assignment is not None:
            from placement.objective import evaluate
            row["exact_objective"] = evaluate(problem, solved.assignment).total
    started = time.perf_counter()
    mapping = place(service, substrate, policy, budget_s=budget)
    row.update(budgeted_s=round(time.perf_counter() - started, 4), budgeted_solver=mapping.solver,
               budgeted_objective=mapping.objective, budgeted_gap=mapping.stats.get("gap"),
               over_budget=round(max(0.0, time.perf_counter() - started - budget), 4))
    if row.get("exact_optimal"):
        best = row["exact_objective"]
        row["gap_to_optimum"] = round((mapping.objective - best) / abs(best), 6) if abs(best) > 1e-9 else 0.0
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="up to 1,000 PoPs only")
    parser.add_argument("--budget", type=float, default=1.0)
    parser.add_argument("--exact-limit", type=float, default=20.0)
    args = parser.parse_args()
    sizes = [10, 20, 50, 100, 200, 500, 1000] + ([] if args.quick else [3000, 10000])
    rows = []
    for n_vnfs in (3, 10):
        for n_pops in sizes:
            row = one(n_pops, n_vnfs, args.budget, args.exact_limit)
            rows.append(row)
            print(json.dumps(row), flush=True)
    data = {"benchmark": "placement_budget", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {"cpus": os.cpu_count(), "load": os.getloadavg()}, "budget_s": args.budget,
            "exact_limit_s": args.exact_limit, "rows": rows,
            "kept_budget": all(r["over_budget"] <= 0.25 * args.budget for r in rows),
            "worst_gap_to_optimum": max((r["gap_to_optimum"] for r in rows if "gap_to_optimum" in r), default=None)}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=2, default=str))
    print(json.dumps({k: v for k, v in data.items() if k != "rows"}, indent=2, default=str))


if __name__ == "__main__":
    main()
