"""Run a file of SONATA placement cases: ``python -m placement.cases CASES.yml [--json]``.

The file format is that of SONATA's own cases (``tests/data/sonata/placement/cases.yml`` in this
repository): a list of cases, each naming an NSD, its VNFDs in order (``vnf_1``, ``vnf_2``, ...),
a topology file, the operator and customer policies, optional
``operator_weight``/``developer_weight`` (SONATA's 2018 API arguments that override
``operator_policy.weights``), ingress/egress, ``vnf_single_pop``, an optional
``predefined_mapping`` and the ``expected`` PoP uuid per ``vnf_<k>``. Artefact paths are relative
to the cases file.

``vnf_<k>`` is the k-th VNFD of the case; it is matched to its NSD ``vnf_id`` by (name, vendor,
version), as the lifecycle code would. The exit code is 0 when every case maps every VNF as
expected, 1 when any case mismatches or fails, 2 for unusable input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from placement import Solver, place_sonata
from placement.errors import PlacementError


@dataclass(frozen=True)
class CaseResult:
    """Outcome of one case."""

    name: str
    mapping: dict[str, str]  # vnf_<k> → PoP uuid
    expected: dict[str, str]
    matches: bool
    seconds: float
    error: str | None = None


def _load(path: Path):
    with path.open("rb") as stream:
        return yaml.safe_load(stream)


def positional_ids(nsd: dict, vnfds: list[dict]) -> dict[str, str]:
    """``vnf_<k>`` → NSD vnf_id of the k-th VNFD (matched by name, vendor, version)."""
    result = {}
    for k, vnfd in enumerate(vnfds, start=1):
        triple = (vnfd.get("name"), vnfd.get("vendor"), str(vnfd.get("version")))
        for function in nsd.get("network_functions") or []:
            if (
                function.get("vnf_name"),
                function.get("vnf_vendor"),
                str(function.get("vnf_version")),
            ) == triple:
                result[f"vnf_{k}"] = function["vnf_id"]
                break
        else:
            raise PlacementError(f"VNFD #{k} {triple} matches no network function of the NSD")
    return result


def run_case(case: dict, base: Path, solver: Solver | str = Solver.AUTO, seed: int = 0) -> CaseResult:
    """Place one case and compare with ``expected``."""
    name = str(case.get("name", case.get("case", "?")))
    expected = {str(k): str(v) for k, v in (case.get("expected") or {}).items()}
    started = time.perf_counter()
    try:
        nsd = _load(base / case["nsd"])
        vnfds = [_load(base / path) for path in case["vnfds"]]
        by_vnf_id = place_sonata(
            nsd,
            vnfds,
            _load(base / case["topology"]),
            case.get("operator_policy") or {},
            case.get("customer_policy") or {},
            case.get("ingress") or [],
            case.get("egress") or [],
            vnf_single_pop=case.get("vnf_single_pop", True),
            predefined_mapping=case.get("predefined_mapping"),
            operator_weight=case.get("operator_weight"),
            developer_weight=case.get("developer_weight"),
            solver=solver,
            seed=seed,
        )
        mapping = {key: by_vnf_id[vnf_id] for key, vnf_id in positional_ids(nsd, vnfds).items()}
    except (PlacementError, OSError, KeyError, yaml.YAMLError) as error:
        return CaseResult(
            name, {}, expected, False, time.perf_counter() - started, f"{type(error).__name__}: {error}"
        )
    return CaseResult(name, mapping, expected, mapping == expected, time.perf_counter() - started)


def run_file(path: str | Path, solver: Solver | str = Solver.AUTO, seed: int = 0) -> list[CaseResult]:
    """Run every case of a cases file."""
    path = Path(path)
    cases = _load(path)
    if not isinstance(cases, list):
        raise PlacementError(f"{path}: expected a list of cases")
    return [run_case(case, path.parent, solver, seed) for case in cases]


def _print_text(results: list[CaseResult]) -> None:
    for result in results:
        verdict = "ok  " if result.matches else "FAIL"
        shown = ", ".join(f"{k}→{v}" for k, v in sorted(result.mapping.items())) or "-"
        print(f"{verdict} {result.name}: {shown} ({result.seconds * 1000:.0f} ms)")
        if not result.matches:
            print(f"     expected: {', '.join(f'{k}→{v}' for k, v in sorted(result.expected.items()))}")
        if result.error:
            print(f"     error: {result.error}")
    passed = sum(r.matches for r in results)
    print(f"{passed}/{len(results)} cases match")


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m placement.cases", description=__doc__.splitlines()[0])
    parser.add_argument("cases", help="cases YAML file (artefact paths relative to it)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument("--solver", choices=[s.value for s in Solver], default=Solver.AUTO.value)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        results = run_file(args.cases, args.solver, args.seed)
    except (PlacementError, OSError, yaml.YAMLError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps(
                {
                    "cases": [asdict(r) for r in results],
                    "passed": sum(r.matches for r in results),
                    "total": len(results),
                },
                indent=2,
            )
        )
    else:
        _print_text(results)
    return 0 if all(r.matches for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
