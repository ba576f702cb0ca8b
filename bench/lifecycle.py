"""Lifecycle benchmark: sonata-demo on the emulated VIM.

Measures, in one run:
- instantiate / terminate latency p50/p95 on the real runtime, for both VNF actor modes,
  and the same workflows in-process without Ray (the baseline; the ratio is Ray's cost);
- latency both isolated (each request waits until the warm spare actors are up, as on a
  runtime that is not saturated) and back to back (the spares' start-up competes for CPU);
- sustained instantiations per second with 10 and 50 concurrent requests (each level starts
  on a quiet runtime: the previous level's services are terminated first, untimed), and, on the same
  Ray, how many bare actors per second it starts at that concurrency (the ceiling: every new
  instance actor is a new Ray worker process);
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
from bench._common import pss_mb, save, summary, wait_for_spares  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "sonata-demo"


def big_pops(n=4):
    from mano.lifecycle.vim_port import Pop
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
    # One host, one lease keeper for its services and VNFs, as each actor of the runtime has.
    leases = functions.leases
    inst, term = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        op = slm.instantiate(package)
        ServiceController(op.service_id, store, functions, vim, FirstFitPlacement(), leases=leases).run(op.id)
        inst.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        op = slm.request(op.service_id, OperationType.TERMINATE)
        ServiceController(op.service_id, store, functions, vim, FirstFitPlacement(), leases=leases).run(op.id)
        term.append(time.perf_counter() - t0)
    return {"instantiate": summary(inst), "terminate": summary(term)}


def latency(mano, runs, rt=None):
    """Back to back (``rt`` None), or isolated: each request waits until the spare actors are up."""
    inst, term, activation, deploy = [], [], [], []
    for _ in range(runs):
        if rt is not None:
            wait_for_spares(rt)
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


def throughput(mano, rt, concurrency, total):
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

    def terminate(sid):
        try:
            mano.get(sid).terminate(timeout=300)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors.append(f"terminate: {exc}")
    # Not timed, but waited for: terminating a passivated service re-activates its actor (a
    # worker process), and a next level started meanwhile would pay for this level's cleanup.
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(terminate, done))
    wait_for_spares(rt)
    return {"concurrency": concurrency, "instantiations": len(done), "errors": len(errors),
            "seconds": round(elapsed, 2), "per_second": round(len(done) / elapsed, 2),
            "first_error": errors[0] if errors else None}


def ray_actor_ceiling(concurrency, total):
    """The same Ray, no mano: trivial actors created and called once, ``concurrency`` at a time.

    Every new mano instance actor is at least this (a Ray worker process, whose start is
    mostly ``import ray``), so this is the most instance actors per second the machine can start.
    """
    import ray

    @ray.remote(num_cpus=0)
    class Trivial:
        def ping(self):
            return 1

    def one(_):
        t = time.perf_counter()
        actor = Trivial.remote()
        ray.get(actor.ping.remote())
        ray.kill(actor)
        return time.perf_counter() - t
    one(0)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        starts = list(pool.map(one, range(total)))
    elapsed = time.perf_counter() - t0
    return {"concurrency": concurrency, "actors": total, "per_second": round(total / elapsed, 2),
            "start_latency": summary(starts)}


def activation_name(owner: str, own_name: str, instance_id: str, rt) -> str:
    """The actor that is the instance's activation: the pre-started host its manager gave it
    (``activation_of``), or, in trees from before hosts existed, its own actor."""
    try:
        return rt.call(owner, "activation_of", instance_id) or own_name
    except Exception:  # noqa: BLE001 - an older tree: no such method, the instance's actor has its name
        return own_name


def memory(mano, rt):
    import ray
    wait_for_spares(rt)  # so that per-instance VNFs are deployed on their own actors
    svc = mano.instantiate(DEMO)
    actor = ray.get_actor(activation_name("slm", f"service:{svc.id}", svc.id, rt), namespace="mano")
    active_pss = pss_mb(ray.get(actor.pid.remote()))
    first_vnf = svc.record.vnf_instances[0].id
    vnf = (ray.get_actor(activation_name("flm", f"vnf:{first_vnf}", first_vnf, rt), namespace="mano")
           if rt.settings.vnf_actors == "per-instance" else None)
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
        result = {}
        if mode == args.modes.split(",")[0]:  # the ceiling, once, on the same Ray while it is quiet
            wait_for_spares(rt)
            result["ray_actor_ceiling"] = [ray_actor_ceiling(c, args.total) for c in args.concurrent]
        mano.instantiate(DEMO).terminate()  # warm-up: imports, first workers
        result |= {"latency_isolated": latency(mano, args.runs, rt), "latency": latency(mano, args.runs),
                   "memory": memory(mano, rt)}
        print(mode, result, flush=True)
        wait_for_spares(rt)
        result["throughput"] = [throughput(mano, rt, c, args.total) for c in args.concurrent]
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
    ceiling = next(r["ray_actor_ceiling"] for r in modes.values() if "ray_actor_ceiling" in r)
    for m, r in modes.items():
        ratios[m]["instantiate_p50_isolated_vs_in_process"] = round(
            r["latency_isolated"]["instantiate"]["p50"] / baseline["instantiate"]["p50"], 1)
        ratios[m]["per_second_vs_bare_ray_actors_per_second"] = [
            round(t["per_second"] / c["per_second"], 2) for t, c in zip(r["throughput"], ceiling)]
    targets = {m: {"instantiate_p50_le_1s": r["latency"]["instantiate"]["p50"] <= 1.0,
                   "instantiate_p50_isolated_le_1s": r["latency_isolated"]["instantiate"]["p50"] <= 1.0,
                   "ge_5_per_s": min(t["per_second"] for t in r["throughput"]) >= 5,  # at every level
                   "ge_2000_passivated_on_24gb": r["memory"]["passivated_per_24gb"] >= 2000}
               for m, r in modes.items()}
    save("lifecycle", {"args": vars(args), "baseline_in_process": baseline, "modes": modes, "ratios": ratios,
                       "targets": targets})


if __name__ == "__main__":
    main()
