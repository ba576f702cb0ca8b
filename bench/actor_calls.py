"""Actor calls per operation: how many Ray actor method calls one sonata-demo instantiation and
one termination make, by method, for both VNF actor modes.

Counted from Ray's task events (the state API, so the dashboard is on here) between two
snapshots taken around one operation on a warm, otherwise idle runtime. Background calls that
belong to no request are reported apart: plugin heartbeats, liveness pings, the monitoring
actor's periodic reads, and the refill of the pools of pre-started hosts (a host's start and
its first ``pid``). Whether the VNF calls reach VNF actors depends on how many pre-started VNF
hosts the pool had (each run's ``by_method`` shows it).

    python bench/actor_calls.py [--modes per-instance,on-demand] [--repeat 3]
"""
from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # bench/placement.py must not shadow the package
from bench._common import save  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "sonata-demo"
# Calls of no request: plugin heartbeats, liveness pings, the monitoring actor's periodic reads.
BACKGROUND = ("PluginManager.heartbeat", ".ping", "InfrastructureAdaptor.vnf_status", "InfrastructureAdaptor.stats")


def _tasks(ray) -> dict[str, str]:
    from ray.util.state import list_tasks
    address = ray.get_runtime_context().gcs_address
    return {t.task_id: t.name for t in list_tasks(address=address, limit=10_000, raise_on_missing_output=False,
                                                   detail=False)}


def _settled(ray, quiet_s: float = 2.0, timeout_s: float = 30.0) -> dict[str, str]:
    """The task list once no new task appeared for ``quiet_s`` (but heartbeats and pings)."""
    deadline = time.monotonic() + timeout_s
    seen = _tasks(ray)
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        now = _tasks(ray)
        if all(name.endswith(BACKGROUND) for k, name in now.items() if k not in seen):
            return now
        seen = now
    return seen


def count(before: dict[str, str], after: dict[str, str], instance_ids: set[str]) -> dict:
    """Split the calls made between two snapshots into the operation's and the background's."""
    path, background = collections.Counter(), collections.Counter()
    for task_id, name in after.items():
        if task_id in before:
            continue
        owner = name.split(":")[1] if name.startswith(("service:", "vnf:")) else None
        refill = name.startswith(("service-host-", "vnf-host-")) or name in ("ServiceInstance.pid", "VnfInstance.pid")
        if name.endswith(BACKGROUND) or refill or (owner is not None and owner not in instance_ids):
            background[name.rsplit(":", 1)[-1]] += 1  # a pool refill: a host's start and first pid
        else:
            path[name.rsplit(":", 1)[-1] if owner else name] += 1
    return {"calls": sum(path.values()), "by_method": dict(path.most_common()),
            "background": dict(background.most_common())}


def run_mode(mode: str, repeat: int) -> dict:
    import ray

    import mano
    from mano.settings import Settings
    home = Path(tempfile.mkdtemp(prefix="mano-bench-calls-"))
    mano.init(Settings(home=home, vnf_actors=mode, dashboard=True))
    try:
        mano.instantiate(DEMO).terminate()  # warm-up: imports, first workers, spare pools
        results = []
        for _ in range(repeat):
            before = _settled(ray)
            svc = mano.instantiate(DEMO)
            ids = {svc.id, *(v.id for v in svc.record.vnf_instances)}
            middle = _settled(ray)
            svc.terminate()
            after = _settled(ray)
            results.append({"instantiate": count(before, middle, ids),
                            "terminate": count(middle, after, ids)})
        return {"runs": results,
                "instantiate_calls": [r["instantiate"]["calls"] for r in results],
                "terminate_calls": [r["terminate"]["calls"] for r in results]}
    finally:
        mano.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default="per-instance,on-demand")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    modes = {mode: run_mode(mode, args.repeat) for mode in args.modes.split(",")}
    save("actor_calls", {"args": vars(args), "modes": modes})


if __name__ == "__main__":
    main()
