"""Chaos: lifecycle operations under actor kills and a store restart (emulated VIM).

While OPS operations run (instantiate, scale out/in, terminate, mixed, from WORKERS client
threads), a chaos thread crashes random plugin and instance actors (``ray.kill`` with
restart, as a process crash) every ``--period`` seconds, and restarts the record store once.
Reported:
- operations COMPLETED / FAILED or ROLLED_BACK (a clean outcome) / stuck (not final at the
  end: must be 0);
- requests lost (a client call that got no operation at all: must be 0);
- records inconsistent with the VIM: cores the service records say are in use vs cores the
  VIM reports (must be equal);
- recovery time: from the last fault until every operation is final.

    python bench/chaos.py [--ops 100] [--workers 6] [--period 1.5]
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

# Run as a file, bench/ would be sys.path[0] and its placement.py would shadow the package.
sys.path[0] = str(Path(__file__).resolve().parents[1])
from bench._common import save  # noqa: E402

DEMO = Path(__file__).resolve().parents[1] / "examples" / "sonata-demo"
PLUGINS = ("slm", "flm", "infrastructure-adaptor", "placement", "placement-executive", "plugin-manager")


def client(mano, rng, plan, results, lock):
    from mano.errors import ManoError
    live: list[str] = []
    while True:
        with lock:
            if not plan:
                return
            kind = plan.pop()
        op_id = str(uuid.uuid4())
        try:
            if kind == "instantiate" or not live:
                svc = mano.instantiate(DEMO, wait=False, operation_id=op_id)
                live.append(svc.id)
            else:
                svc = mano.get(rng.choice(live))
                if kind == "scale":
                    svc.scale_out("vnf_iperf", wait=False, operation_id=op_id)
                else:
                    svc.terminate(wait=False, operation_id=op_id)
                    live.remove(svc.id)
            outcome = "admitted"
        except ManoError as exc:
            outcome = f"refused: {type(exc).__name__}: {str(exc)[:80]}"
        with lock:
            results.append((op_id, kind, outcome))
        try:
            if outcome == "admitted":
                mano.runtime().wait(op_id, timeout=120)
        except ManoError:
            pass


def chaos(rt, rng, stop, period, faults, store_restart_at):
    import ray

    from mano.store.embedded import EmbeddedMongo
    started = time.monotonic()
    restarted = False
    while not stop.is_set():
        time.sleep(period)
        names = [n for n in rt.call_names() if n.startswith(("service:", "vnf:"))] + list(PLUGINS)
        name = rng.choice(names)
        try:
            ray.kill(ray.get_actor(name, namespace="mano"), no_restart=False)
            faults.append((time.monotonic(), f"kill {name}"))
        except ValueError:
            pass
        if not restarted and time.monotonic() - started > store_restart_at:
            server = EmbeddedMongo(rt.settings)
            server.stop()
            faults.append((time.monotonic(), "store stopped"))
            time.sleep(1.0)
            EmbeddedMongo(rt.settings).start()
            faults.append((time.monotonic(), "store started"))
            restarted = True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=100)
    parser.add_argument("--workers", type=int, default=6)
    parser.add_argument("--period", type=float, default=1.5)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    import mano
    from actors.runtime import actor_names
    from mano.settings import Settings
    from mano.lifecycle.vim_port import Pop

    rng = random.Random(args.seed)
    home = Path(tempfile.mkdtemp(prefix="mano-chaos-"))
    settings = Settings(home=home, dashboard=False, idle_passivate_s=20, monitoring_period_s=0, vnf_actors="on-demand",
                        store_timeout_ms=3000)
    pops = [Pop(vim_uuid=f"pop-{i}", name=f"pop{i}", core_total=10_000, memory_total=40_000) for i in range(3)]
    rt = mano.init(settings, pops=pops)
    rt.call_names = actor_names
    plan = [rng.choice(["instantiate", "instantiate", "scale", "terminate"]) for _ in range(args.ops)]
    results, lock, faults, stop = [], threading.Lock(), [], threading.Event()
    t0 = time.monotonic()
    chaos_thread = threading.Thread(target=chaos, args=(rt, rng, stop, args.period, faults, 8.0), daemon=True)
    chaos_thread.start()
    workers = [threading.Thread(target=client, args=(mano, random.Random(i), plan, results, lock))
               for i in range(args.workers)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(600)
    stop.set()
    chaos_thread.join(30)
    last_fault = max((t for t, _ in faults), default=t0)
    admitted = [r for r in results if r[2] == "admitted"]
    deadline = time.monotonic() + 180
    states = {}
    while time.monotonic() < deadline:
        states = {op_id: rt.store.operations.find_one(op_id) for op_id, _, _ in admitted}
        if all(op is not None and op.state.is_final for op in states.values()):
            break
        time.sleep(0.5)
    recovered = time.monotonic()
    counts = {"COMPLETED": 0, "FAILED_CLEANLY": 0, "stuck": 0}
    for op in states.values():
        if op is None or not op.state.is_final:
            counts["stuck"] += 1
        elif op.state.value == "COMPLETED":
            counts["COMPLETED"] += 1
        else:
            counts["FAILED_CLEANLY"] += 1
    lost = sum(1 for op in states.values() if op is None)
    time.sleep(1.0)
    # every demo VNF needs one core, so live VNF instances in the records = cores in use
    recorded_cores = sum(sum(1 for v in s.vnf_instances if v.live)
                         for s in rt.store.services.find() if s.state.value not in ("TERMINATED", "FAILED"))
    vim_cores = sum(p.core_used for p in rt.call("infrastructure-adaptor", "list_pops", "emulated"))
    refused = [r for r in results if r[2] != "admitted"]
    mano.shutdown()
    save("chaos", {"args": vars(args), "faults": len(faults), "fault_log": [f for _, f in faults][:40],
                   "operations": {"requested": len(results), "admitted": len(admitted), "refused": len(refused),
                                  **counts},
                   "refusals_sample": [r[2] for r in refused[:10]],
                   "requests_lost": lost,
                   "records_vs_vim": {"cores_in_records": recorded_cores, "cores_on_vim": vim_cores,
                                      "consistent": recorded_cores == vim_cores},
                   "recovery_s_after_last_fault": round(max(0.0, recovered - last_fault), 1),
                   "wall_s": round(time.monotonic() - t0, 1)})


if __name__ == "__main__":
    main()
