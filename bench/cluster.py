"""mano on a Ray cluster: one node vs two nodes of the same total CPUs, and the cost of a node loss.

Clusters of the benchmark's own on this machine (``tests/runtime/ray_cluster.RayHead``: token
auth, ports 6400-6499, its own ``RAY_TMPDIR``, stopped through its own processes, never
``ray stop``): *one node* is a head with 2 CPUs; *two nodes* a head with 1 CPU and a worker
node with 1 CPU on 127.0.0.2. The control plane runs on the head (the default), the embedded
store is bound (``MANO_STORE_BIND=127.0.0.1``) so both nodes use it. In each:

- instantiate latency: ``--sequential`` SONATA demo instantiations one after the other (p50, p95);
- sustained rate: ``--burst`` instantiations from ``--threads`` client threads (services/s);
- (two nodes only) a node loss: ``--services`` services READY with an actor each
  (``MANO_BURST_IN_SLM=0``, no passivation), the worker node killed (SIGKILL to its process
  group), then every service terminated at once: the time from the loss until the GCS declared
  the node dead, and until each service's terminate completed (the ones with an actor on the
  lost node are *affected*).

Both nodes share this machine's cores, so two nodes show the cost of the cluster's machinery,
not the gain of a second machine.

    python bench/cluster.py [--sequential 10] [--burst 20] [--threads 4] [--services 4]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)  # run as a file, bench/ would shadow the placement package
sys.path[1:1] = [str(REPO / "tests"), str(REPO / "tests" / "runtime")]
from bench._common import save  # noqa: E402
from ray_cluster import RayHead, run_python  # noqa: E402

DEMO = REPO / "examples" / "sonata-demo"

RATES = r"""
import json, sys, threading, time
import mano
from bench._common import summary
sequential, burst, threads = (int(a) for a in sys.argv[2:5])
rt = mano.init()
for owner in ("slm", "flm"):
    rt.call(owner, "fill_spares")
time.sleep(3)  # the spares' processes start
latencies, made = [], []
for _ in range(sequential):
    t = time.perf_counter()
    made.append(mano.instantiate(sys.argv[1]))
    latencies.append(time.perf_counter() - t)
lock, plan = threading.Lock(), list(range(burst))
def client():
    while True:
        with lock:
            if not plan:
                return
            plan.pop()
        svc = mano.instantiate(sys.argv[1])
        with lock:
            made.append(svc)
started = time.perf_counter()
workers = [threading.Thread(target=client) for _ in range(threads)]
for w in workers: w.start()
for w in workers: w.join()
took = time.perf_counter() - started
states = sorted({s.status for s in made})
for svc in made:
    svc.terminate()
mano.shutdown()
print("RESULT " + json.dumps({"instantiate_s": summary(latencies), "burst": burst, "threads": threads,
                              "burst_s": round(took, 3), "rate_per_s": round(burst / took, 2), "states": states}))
"""

NODE_LOSS = r"""
import json, sys, threading, time
import ray
from ray._private import state
import mano
count = int(sys.argv[2])
rt = mano.init()
services = [mano.instantiate(sys.argv[1]) for _ in range(count)]
nodes = {n["NodeID"]: n for n in ray.nodes() if n["Alive"]}
head = next(i for i, n in nodes.items() if "node:__internal_head__" in n["Resources"])
where = {a["Name"]: a["Address"]["NodeID"] for a in state.actors(actor_state_name="ALIVE").values()}
def activations(s):  # the actors that are the service's and its VNFs' activations (hosts or their own)
    names = [rt.call("slm", "activation_of", s.id)] + [rt.call("flm", "activation_of", v.id) for v in s.record.vnf_instances]
    return [n for n in names if n]
names_of = {s.id: activations(s) for s in services}
affected = {s.id for s in services if any(where.get(name, head) != head for name in names_of[s.id])}
print("READY", flush=True)  # the bench kills the worker node now and sends the time it did
killed = float(sys.stdin.readline())
answered, errors = {}, {}
def terminate(svc):
    try:
        svc.terminate(timeout=300)
        answered[svc.id] = round(time.time() - killed, 2)
    except Exception as exc:
        errors[svc.id] = f"{type(exc).__name__}: {exc}"
threads = [threading.Thread(target=terminate, args=(s,)) for s in services]
for t in threads: t.start()
declared_dead = None
while declared_dead is None:
    if sum(1 for n in ray.nodes() if n["Alive"]) == 1:
        declared_dead = round(time.time() - killed, 2)
    time.sleep(0.1)
for t in threads: t.join()
# What the affected terminates met on their way (a step's attempts and message: a retry, a VNF
# handled by the FLM because its actor was gone).
met = {}
for svc in services:
    if svc.id in affected:
        op = rt.store.operations.find({"service_id": svc.id, "type": "terminate"})[0]
        met[svc.id[:8]] = {"lost": [n for n in names_of[svc.id] if where.get(n, head) != head],
                           "steps": [(s.name, s.attempts, (s.message or "")[:160]) for s in op.steps
                                     if s.attempts > 1 or s.message]}
cores = sum(p.core_used for p in rt.call("infrastructure-adaptor", "list_pops", "emulated"))
mano.shutdown()
print("RESULT " + json.dumps({
    "services": count, "affected": len(affected), "node_declared_dead_s": declared_dead,
    "terminated_s": {"affected": sorted(answered[i] for i in affected if i in answered),
                     "unaffected": sorted(v for i, v in answered.items() if i not in affected)},
    "all_answered_s": max(answered.values(), default=None), "errors": errors, "cores_left": cores,
    "affected_met": met}))
"""


def env_for(head: RayHead, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in head.client_env().items() if not k.startswith("MANO_")}
    env.update({"MANO_HOME": str(home), "MANO_DASHBOARD": "0", "MANO_MONITORING_PERIOD_S": "0",
                "MANO_RAY_ADDRESS": head.address, "MANO_STORE_BIND": "127.0.0.1", "PYTHONPATH": str(REPO)}, **extra)
    return env


def node_loss(head: RayHead, worker: subprocess.Popen, services: int, env: dict[str, str]) -> dict:
    """Run NODE_LOSS; kill the worker node (its process group and its Ray workers) when it is READY."""
    driver = subprocess.Popen([sys.executable, "-c", NODE_LOSS, str(DEMO), str(services)], cwd=REPO, env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines = []
    for line in driver.stdout:  # type: ignore[union-attr]
        lines.append(line)
        if line.strip() == "READY":
            killed_at = head.kill_worker(worker, "127.0.0.2")
            driver.stdin.write(f"{killed_at!r}\n")  # type: ignore[union-attr]
            driver.stdin.flush()  # type: ignore[union-attr]
    driver.wait(timeout=1800)
    results = [line for line in lines if line.startswith("RESULT ")]
    if driver.returncode != 0 or not results:
        raise RuntimeError("the node-loss run failed: " + "".join(lines)[-3000:])
    return json.loads(results[-1][len("RESULT "):])


def run(nodes: int, args: argparse.Namespace) -> dict:
    head = RayHead(num_cpus=2 // nodes).start()
    workers = []
    try:
        if nodes == 2:
            workers.append(head.add_worker("127.0.0.2", num_cpus=1))
        with tempfile.TemporaryDirectory(prefix="mano-bench-cluster-") as home:
            out = run_python(RATES, str(DEMO), str(args.sequential), str(args.burst), str(args.threads),
                             env=env_for(head, Path(home)), timeout=1800)
        if nodes == 2:
            with tempfile.TemporaryDirectory(prefix="mano-bench-cluster-") as home:
                out["node_loss"] = node_loss(head, workers[0], args.services, env_for(
                    head, Path(home), MANO_BURST_IN_SLM="0", MANO_IDLE_PASSIVATE_S="3600"))
        print(json.dumps({f"{nodes} node(s)": out}))
        return out
    finally:
        head.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequential", type=int, default=10)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--services", type=int, default=4)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    save("cluster", {"args": vars(args), "load_before": round(load, 2),
                     "one_node_2_cpus": run(1, args), "two_nodes_1_cpu_each": run(2, args)})


if __name__ == "__main__":
    main()
