"""Lifecycle benchmark: sonata-demo on the emulated VIM.

Measures, in one run:
- instantiate / terminate latency p50/p95 on the real runtime, for both VNF actor modes,
  and the same workflows in-process without Ray (the baseline; the ratio is Ray's cost);
- sustained instantiations per second with 10 and 50 concurrent requests;
- PSS of an active service instance actor, and the store bytes of a passivated instance;
- actor start-up vs the rest of an instantiation (from the operation's step timings).

    python bench/lifecycle.py [--runs 20] [--concurrent 10,50] [--total 60]
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# Run as a file, bench/ would be sys.path[0] and its placement.py would shadow the package.
sys.path[0] = str(Path(__file__).resolve().parents[1])
from bench._common import pss_mb, save, summary  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "sonata-demo"


def big_pops(n=4):
    from mano.vim.base import Pop
    return [Pop(vim_uuid=f"pop-{i}", name=f"pop{i}", core_total=100_000, memory_total=400_000) for i in range(n)]


def in_process_baseline(store, package, runs):
    """The same workflows with the in-process ports: what the work costs without actors."""
    from mano.lifecycle.local import FirstFitPlacement, LocalFunctions, LocalVim
    from mano.lifecycle.service import ServiceController
    from mano.lifecycle.slm import ServiceLifecycleManager
    from mano.lifecycle.states import OperationType
    from mano.vim.emulated import EmulatedVim
    vim = LocalVim({"emulated": EmulatedVim(big_pops())})
    functions, slm = LocalFunctions(store, vim), ServiceLifecycleManager(store)
    inst, term = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        op = slm.instantiate(package)
        ServiceController(op.service_id, store, functions, vim, FirstFitPlacement()).run(op.id)
        inst.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        op = slm.request(op.service_id, OperationType.TERMINATE)
        ServiceController(op.service_id, store, functions, vim, FirstFitPlacement()).run(op.id)
        term.append(time.perf_counter() - t0)
    return {"instantiate": summary(inst), "terminate": summary(term)}


def latency(mano, runs):
    inst, term, activation, deploy = [], [], [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        svc = mano.instantiate(DEMO)
        inst.append(time.perf_counter() - t0)
        op = svc.operations[-1]
        activation.append((op.steps[0].started_at - op.created_at).total_seconds())
        deploy.append((op.step("deploy_vnfs").finished_at - op.step("deploy_vnfs").started_at).total_seconds())
        t0 = time.perf_counter()
        svc.terminate()
        term.append(time.perf_counter() - t0)
    return {"instantiate": summary(inst), "terminate": summary(term),
            "service_actor_activation": summary(activation), "deploy_vnfs_step": summary(deploy)}


def throughput(mano, concurrency, total):
    done, errors = [], []
    lock = threading.Lock()

    def one(_):
        try:
            svc = mano.instantiate(DEMO, timeout=300)
            with lock:
                done.append(svc.id)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors.append(str(exc))
    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(total)))
    elapsed = time.perf_counter() - t0
    for sid in done:
        try:
            mano.get(sid).terminate(wait=False)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors.append(f"terminate: {exc}")
    return {"concurrency": concurrency, "instantiations": len(done), "errors": len(errors),
            "seconds": round(elapsed, 2), "per_second": round(len(done) / elapsed, 2),
            "first_error": errors[0] if errors else None}


def memory(mano, rt):
    import ray
    svc = mano.instantiate(DEMO)
    actor = ray.get_actor(f"service:{svc.id}", namespace="mano")
    active_pss = pss_mb(ray.get(actor.pid.remote()))
    vnf = ray.get_actor(f"vnf:{svc.record.vnf_instances[0].id}", namespace="mano") if rt.settings.vnf_actors == "per-instance" else None
    vnf_pss = pss_mb(ray.get(vnf.pid.remote())) if vnf else None
    import bson
    docs = [rt.store.services.get(svc.id), rt.store.nsr.get(svc.id),
            *[rt.store.vnfr.get(v.id) for v in svc.record.vnf_instances], *svc.operations]
    record_bytes = sum(len(bson.encode(d.model_dump(mode="json"))) for d in docs)
    svc.terminate()
    return {"active_service_actor_pss_mb": active_pss, "active_vnf_actor_pss_mb": vnf_pss,
            "passivated_service_record_bytes": record_bytes,
            "passivated_per_24gb": int(24 * 2**30 / record_bytes)}


def run_mode(mode, args, mongo_url, home):
    import mano
    from mano.settings import Settings
    settings = Settings(home=home, mongo_url=mongo_url, mongo_db=f"bench{uuid.uuid4().hex[:6]}", dashboard=False,
                        vnf_actors=mode, idle_passivate_s=args.idle, store_timeout_ms=30_000)
    rt = mano.init(settings, pops=big_pops())
    try:
        mano.instantiate(DEMO).terminate()  # warm-up: imports, first workers
        result = {"latency": latency(mano, args.runs), "memory": memory(mano, rt)}
        print(mode, result, flush=True)
        result["throughput"] = [throughput(mano, c, args.total) for c in args.concurrent]
    finally:
        mano.shutdown()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--concurrent", type=lambda s: [int(x) for x in s.split(",")], default=[10, 50])
    parser.add_argument("--total", type=int, default=60)
    parser.add_argument("--modes", default="per-instance,on-demand")
    parser.add_argument("--idle", type=float, default=5.0, help="idle seconds before instance actors passivate")
    args = parser.parse_args()

    from mano.descriptors import load_service
    from mano.settings import Settings
    from mano.store.client import Store
    from mano.store.embedded import EmbeddedMongo
    home = Path(tempfile.mkdtemp(prefix="mano-bench-"))
    server = EmbeddedMongo(Settings(home=home)).start()
    try:
        store = Store(server.url, database="baseline")
        baseline = in_process_baseline(store, load_service(DEMO), args.runs)
        modes = {m: run_mode(m, args, server.url, home) for m in args.modes.split(",")}
    finally:
        server.stop()
    ratios = {m: {"instantiate_p50_vs_in_process": round(r["latency"]["instantiate"]["p50"]
                                                         / baseline["instantiate"]["p50"], 1)}
              for m, r in modes.items()}
    targets = {m: {"instantiate_p50_le_1s": r["latency"]["instantiate"]["p50"] <= 1.0,
                   "ge_5_per_s": max(t["per_second"] for t in r["throughput"]) >= 5,
                   "ge_2000_passivated_on_24gb": r["memory"]["passivated_per_24gb"] >= 2000}
               for m, r in modes.items()}
    save("lifecycle", {"args": vars(args), "baseline_in_process": baseline, "modes": modes, "ratios": ratios,
                       "targets": targets})


if __name__ == "__main__":
    main()
