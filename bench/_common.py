"""Shared helpers for the benchmarks: percentiles, JSON output, PSS of a process."""
from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": round(percentile(values, 50), 4), "p95": round(percentile(values, 95), 4),
            "mean": round(statistics.fmean(values), 4) if values else float("nan")}


def pss_mb(pid: int) -> float:
    import psutil
    return round(psutil.Process(pid).memory_full_info().pss / 2**20, 1)


def save(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"benchmark": name, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()}, **data}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    print(json.dumps(data, indent=2, default=str))
    return path


def wait_for_spares(rt):
    """Block until every pre-started host is up (an isolated request finds the pools full) and
    the machine is quiet."""
    import ray
    from actors.runtime import call
    for kind, owner, size in (("service", "slm", rt.settings.spare_service_actors),
                              ("vnf", "flm", rt.settings.spare_vnf_actors if rt.settings.vnf_actors == "per-instance" else 0)):
        deadline = time.monotonic() + 60
        while len(ids := call(owner, "spare_ids")) < size and time.monotonic() < deadline:
            time.sleep(0.05)
        # pool entries are host names (service-host-<hex>); trees from before hosts listed instance ids
        names = [i if i.startswith(f"{kind}-host-") else f"{kind}:{i}" for i in ids]
        ray.get([ray.get_actor(name, namespace="mano").pid.remote() for name in names], timeout=60)
    # ...and until the CPUs are quiet: Ray replaces the idle workers a spare took, in the background.
    import psutil
    deadline = time.monotonic() + 15
    while psutil.cpu_percent(interval=0.5) > 25 and time.monotonic() < deadline:
        pass
