"""Scale: N service instances created and kept on one machine (passivated when idle), then
10 % of them operated on concurrently.

Reported: creation throughput; live actor count and the memory of the whole runtime (PSS of
Ray's processes and the store) once idle instances passivated, per service; then latency
and throughput of a concurrent scale-out on 10 % of the services. Baseline in the same run:
the runtime's memory with no service at all.

    python bench/scale.py [--services 2000] [--concurrency 8]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# Run as a file, bench/ would be sys.path[0] and its placement.py would shadow the package.
sys.path[0] = str(Path(__file__).resolve().parents[1])
from bench._common import save, summary  # noqa: E402

DEMO = Path(__file__).resolve().parents[1] / "examples" / "sonata-demo"


def runtime_pss_mb() -> float:
    import psutil
    total = 0
    for p in psutil.process_iter(["name", "cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if any(k in cmd for k in ("ray::", "raylet", "gcs_server", "nx-27017", "nx_27017", "default_worker")):
            try:
                total += p.memory_full_info().pss
            except (psutil.Error, OSError):
                pass
    return round(total / 2**20, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--idle", type=float, default=3.0)
    args = parser.parse_args()
    import mano
    from actors.runtime import actor_names, call
    from mano.settings import Settings
    from mano.lifecycle.vim_port import Pop

    settings = Settings(home=Path(tempfile.mkdtemp(prefix="mano-scale-")), dashboard=False, vnf_actors="on-demand",
                        idle_passivate_s=args.idle, monitoring_period_s=0, store_timeout_ms=30_000)
    pops = [Pop(vim_uuid=f"pop-{i}", name=f"pop{i}", core_total=1e6, memory_total=4e6) for i in range(4)]
    mano.init(settings, pops=pops)
    try:
        time.sleep(args.idle + 2)
        baseline_mb = runtime_pss_mb()
        errors, ids = [], []

        def create(_):
            try:
                ids.append(mano.instantiate(DEMO, timeout=600).id)
            except Exception as exc:  # noqa: BLE001 - counted
                errors.append(str(exc)[:200])
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(create, range(args.services)))
        create_s = time.perf_counter() - t0
        time.sleep(args.idle + 3)
        waiting_hosts = set(call("slm", "spare_ids")) | set(call("flm", "spare_ids"))  # pre-started, no instance yet
        live_actors = sum(n.startswith(("service:", "vnf:", "service-host-", "vnf-host-")) and n not in waiting_hosts
                          for n in actor_names())
        idle_mb = runtime_pss_mb()
        sample = ids[:: max(1, len(ids) // max(1, len(ids) // 10))][: max(1, len(ids) // 10)]
        latencies = []

        def scale(sid):
            t = time.perf_counter()
            try:
                mano.get(sid).scale_out("vnf_iperf", timeout=600)
                latencies.append(time.perf_counter() - t)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"scale: {str(exc)[:200]}")
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(scale, sample))
        scale_s = time.perf_counter() - t0
        busy_mb = runtime_pss_mb()
    finally:
        mano.shutdown()
    save("scale", {
        "args": vars(args), "services_created": len(ids), "errors": len(errors), "first_errors": errors[:3],
        "create_per_s": round(len(ids) / create_s, 2), "create_s": round(create_s, 1),
        "live_instance_actors_after_idle": live_actors, "warm_spares": len(waiting_hosts),
        "memory_mb": {"runtime_without_services": baseline_mb, "with_services_passivated": idle_mb,
                      "per_passivated_service_kb": round((idle_mb - baseline_mb) * 1024 / max(1, len(ids)), 1),
                      "after_concurrent_scale": busy_mb},
        "concurrent_scale_out_10pct": {"n": len(sample), "latency_s": summary(latencies),
                                       "per_s": round(len(latencies) / scale_s, 2)},
        "target_2000_live": len(ids) >= 2000})


if __name__ == "__main__":
    main()
