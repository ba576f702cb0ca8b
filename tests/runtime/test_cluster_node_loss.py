"""A worker node lost in the middle of operations (issue 16): instantiations in flight, their
VNFs being deployed by a slow VIM, when the node with some of their actors dies.

Real Ray and real processes, as in ``test_cluster_nodes``: a head of the test's own and a worker
node on 127.0.0.2, a ``mano up --address`` daemon with its embedded store bound for both nodes,
clients in fresh interpreters. The emulated VIM is made slow (every deployment takes
``DEPLOY_S``: ``FaultPlan(delay_s=..., fail=False)``), so the worker is killed while the
services' deploy steps wait on it, with their service actors (no pre-started hosts: one actor
each) spread over both nodes.

Whatever each operation's outcome (completed on the surviving node, or failed and rolled
back), it must end, be told to its caller, run once, and leave records that match the VIM;
then every service terminates and nothing is left deployed.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

import mano_daemon
from mano_daemon import gone_wait, mano, mano_env
from paths import EXAMPLES, REPO
from ray_cluster import run_python, two_nodes

pytestmark = pytest.mark.integration

WORKER_IP = "127.0.0.2"
SERVICES = 4
DEPLOY_S = 8.0

IN_FLIGHT = r"""
import json, sys, threading, time
import mano
from mano.cli import local_runtime
from mano.settings import Settings
nsd, count, deploy_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rt = local_runtime.attach_or_start(Settings.from_env())
rt.call("infrastructure-adaptor", "inject_fault", {"delay_s": deploy_s, "fail": False, "times": 10_000})
services = [mano.instantiate(nsd, wait=False) for _ in range(count)]
store = rt.store

def deploying(service):
    step = store.operations.get(service.last_operation).step("deploy_vnfs")
    return step is not None and step.started_at is not None

deadline = time.monotonic() + 120
while not all(deploying(s) for s in services) and time.monotonic() < deadline:
    time.sleep(0.2)
print("DEPLOYING " + json.dumps({
    "services": [{"id": s.id} for s in services],
    "all_deploying": all(deploying(s) for s in services)}), flush=True)
told, started = {}, time.time()

def wait(service):
    try:
        told[service.id] = ("READY", service.wait(timeout=600).state.value, time.time() - started)
    except Exception as exc:
        told[service.id] = (type(exc).__name__, str(exc)[:300], time.time() - started)

threads = [threading.Thread(target=wait, args=(s,)) for s in services]
for t in threads: t.start()
for t in threads: t.join()
print("RESULT " + json.dumps({"told": told}), flush=True)
local_runtime.release(rt)
"""

AFTER = r"""
import json, sys
import mano
from mano.cli import local_runtime
from mano.settings import Settings
ids = sys.argv[1].split(",")
rt = local_runtime.attach_or_start(Settings.from_env())
store = rt.store

def look():
    return {"services": {i: store.services.get(i).state.value for i in ids},
            "operations": {i: sorted((o.type.value, o.state.value) for o in store.operations.find({"service_id": i}))
                           for i in ids},
            "vnfrs": {i: sorted((v.id, v.vnf_state.value) for v in store.vnfr.find({"service_id": i})) for i in ids},
            "vim": {i: {v.id: rt.call("infrastructure-adaptor", "vnf_status", "emulated", v.id)
                        for v in store.vnfr.find({"service_id": i})} for i in ids},
            "deployed": sorted(rt.call("infrastructure-adaptor", "deployed_ids", "emulated")),
            "cores_used": sum(p.core_used for p in rt.call("infrastructure-adaptor", "list_pops", "emulated"))}

rt.call("infrastructure-adaptor", "clear_faults")
out = {"before": look(), "terminated": {}}
for i in ids:
    if out["before"]["services"][i] != "TERMINATED":
        try:
            out["terminated"][i] = mano.get(i).terminate(timeout=300).status
        except Exception as exc:
            out["terminated"][i] = f"{type(exc).__name__}: {exc}"
out["after"] = look()
local_runtime.release(rt)
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with two_nodes(WORKER_IP, tmp_path_factory.mktemp("worker-home")) as nodes:
        yield nodes


@pytest.fixture(scope="module")
def daemon(cluster, tmp_path_factory):
    head, _ = cluster
    home = tmp_path_factory.mktemp("daemon-home")
    env = mano_env(head.client_env(), home, MANO_STORE_BIND="127.0.0.1", MANO_BURST_IN_SLM="0",
                   MANO_IDLE_PASSIVATE_S="3600", MANO_STEP_TIMEOUT_S="120", MANO_SPARE_SERVICE_ACTORS="0",
                   MANO_SPARE_VNF_ACTORS="0")
    with mano_daemon.daemon("--address", head.address, env=env, timeout=240) as running:
        yield running


def test_a_worker_node_lost_while_deployments_are_in_flight_ends_every_operation_cleanly(cluster, daemon):
    head, worker = cluster
    client = subprocess.Popen([sys.executable, "-c", IN_FLIGHT, str(EXAMPLES / "sonata-demo"), str(SERVICES),
                               str(DEPLOY_S)], cwd=REPO, env=daemon["env"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        while not line.startswith("DEPLOYING "):
            line = client.stdout.readline()
            assert line or client.poll() is None, client.stderr.read()[-3000:]
        told_at = time.time()  # the clocks of the client's "told after" figures start about here
        deploying = json.loads(line[len("DEPLOYING "):])
        assert deploying["all_deploying"], deploying
        where = head.placement()
        worker_node = next(node for node in where["nodes"] if node != where["head"])
        # The deploy step is the service actor's (its VNF actors start once their VNFs are up), so
        # the actors in the middle of the operations are the services' own (service:<id>).
        on_worker = sorted(name for name, node in where["actors"].items()
                           if node == worker_node and name.startswith("service:"))
        assert on_worker, f"no service actor in flight on the worker node: {where['actors']}"
        killed_at = head.kill_worker(worker, WORKER_IP)
        out_text, err_text = client.communicate(timeout=900)
    finally:
        if client.poll() is None:
            client.kill()
    results = [line for line in out_text.splitlines() if line.startswith("RESULT ")]
    assert client.returncode == 0 and results, out_text[-2000:] + err_text[-3000:]
    told = json.loads(results[-1][len("RESULT "):])["told"]
    ids = [s["id"] for s in deploying["services"]]
    print(f"worker killed with {len(on_worker)} of the services' actors on it ({', '.join(on_worker)}), "
          f"{killed_at - told_at:.1f} s after the deploys began; told, from then: "
          + "; ".join(f"{i[:8]} {t[0]} after {t[2]:.1f} s" for i, t in told.items()))
    assert set(told) == set(ids)  # every caller was told, none waited forever

    out = run_python(AFTER, ",".join(ids), env=daemon["env"], timeout=900)
    before = out["before"]
    for i in ids:
        ops = before["operations"][i]
        assert ops in ([["instantiate", state]] for state in ("COMPLETED", "FAILED", "ROLLED_BACK")), ops  # ended, once
        outcome, detail, _ = told[i]
        if ops == [["instantiate", "COMPLETED"]]:
            assert (outcome, detail) == ("READY", "COMPLETED") and before["services"][i] == "READY"
            assert [state for _, state in before["vnfrs"][i]] == ["RUNNING"] * 3, before["vnfrs"][i]
            assert set(before["vim"][i].values()) == {"running"}, before["vim"][i]
        else:  # failed cleanly: the caller was told why, and what it deployed was taken back
            assert outcome == "OperationFailedError", told[i]
            assert set(before["vim"][i].values()) <= {"absent"}, before["vim"][i]
    live = {vnf for i in ids for vnf, state in before["vnfrs"][i] if state == "RUNNING"}
    assert set(before["deployed"]) == live  # the VIM has what the records say, no orphan, no double

    assert all(state == "TERMINATED" for state in out["terminated"].values()), out["terminated"]
    after = out["after"]
    assert after["services"] == {i: "TERMINATED" for i in ids}
    assert after["deployed"] == [] and after["cores_used"] == 0
    for i in ids:
        assert after["operations"][i][-1] == ["terminate", "COMPLETED"] or before["services"][i] == "TERMINATED"

    down = mano("down", env=daemon["env"], timeout=240)
    assert down.returncode == 0, down.stderr[-2000:]
    assert gone_wait(daemon["info"]["pid"], timeout=30), "mano down left the daemon running"
    assert head.look()["mano"] == []
