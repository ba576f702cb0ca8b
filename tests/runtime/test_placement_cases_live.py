"""SONATA's ten placement cases through the live runtime, not only the library.

Each case's infrastructure becomes the runtime's PoPs, and its policies travel as a user's
request does: ``mano.instantiate(nsd, vnfds, policy=..., policy_list=..., blacklist=...,
weights=..., ingresses=..., egresses=...)`` → SLM → placement executive → Placement plugin →
engine. Every VNF must land where SONATA's own test suite expects it. One process runs the ten
runtimes one after the other (the PoPs are fixed when a runtime starts), on the session's store.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from paths import DATA, REPO
from placement.cases import positional_ids

pytestmark = pytest.mark.integration

CASES = DATA / "sonata" / "placement" / "cases.yml"

CHILD = r"""
import json, sys
import mano
from mano.vim.topology import load_topology
for case in json.loads(sys.argv[1]):
    mano.init(pops=load_topology(case["topology"]))
    try:
        svc = mano.instantiate(case["nsd"], case["vnfds"], **case["request"])
        print("CASE " + json.dumps({"name": case["name"], "status": svc.status,
                                     "mapping": {v.vnf_id: v.pop for v in svc.record.vnf_instances},
                                     "placement": svc.operations[0].step("place").result["placement"]}), flush=True)
        svc.terminate()
    except Exception as exc:
        print("CASE " + json.dumps({"name": case["name"], "error": f"{type(exc).__name__}: {exc}"}), flush=True)
    finally:
        mano.shutdown()
"""


def request_of(case: dict) -> dict:
    """The case's SONATA policies as the Python API's placement preferences."""
    operator = case.get("operator_policy") or {}
    weights = {k: float(v) for k, v in (operator.get("weights") or {}).items()}
    if case.get("operator_weight") is not None:
        weights["operator"] = float(case["operator_weight"])
    if case.get("developer_weight") is not None:
        weights["developer"] = float(case["developer_weight"])
    request = {"policy": operator.get("policy"), "policy_list": operator.get("policy_list") or None,
               "blacklist": (case.get("customer_policy") or {}).get("blacklist") or None,
               "weights": weights or None, "ingresses": case.get("ingress") or None,
               "egresses": case.get("egress") or None}
    return {k: v for k, v in request.items() if v is not None}


def test_the_ten_sonata_cases_place_as_sonata_expects_through_the_live_runtime(mongo_url, tmp_path):
    cases = yaml.safe_load(CASES.read_text())
    assert len(cases) == 10
    base = CASES.parent
    jobs, expected = [], {}
    for case in cases:
        assert case.get("vnf_single_pop", True) and not case.get("predefined_mapping")  # all ten are such
        nsd = yaml.safe_load((base / case["nsd"]).read_text())
        vnfds = [yaml.safe_load((base / v).read_text()) for v in case["vnfds"]]
        ids = positional_ids(nsd, vnfds)
        expected[case["name"]] = {ids[k]: pop for k, pop in case["expected"].items()}
        jobs.append({"name": case["name"], "nsd": str(base / case["nsd"]), "vnfds": [str(base / v) for v in case["vnfds"]],
                     "topology": str(base / case["topology"]), "request": request_of(case)})
    env = {**os.environ, "MANO_HOME": str(tmp_path / "home"), "MANO_DASHBOARD": "0", "MANO_MONGO_URL": mongo_url,
           "MANO_MONGO_DB": "sonatacases", "MANO_SPARE_SERVICE_ACTORS": "0", "MANO_SPARE_VNF_ACTORS": "0",
           "PYTHONPATH": str(REPO)}
    env.pop("MANO_RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(jobs)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    outcomes = {o["name"]: o for o in (json.loads(line[5:]) for line in done.stdout.splitlines()
                                       if line.startswith("CASE "))}
    assert set(outcomes) == set(expected), done.stderr[-3000:]
    wrong = {name: outcomes[name] for name in expected
             if outcomes[name].get("mapping") != expected[name] or outcomes[name].get("status") != "READY"}
    assert not wrong, json.dumps({n: {"got": o, "expected": expected[n]} for n, o in wrong.items()}, indent=1)
    assert all(o["placement"]["solver"] != "first fit" for o in outcomes.values())
