"""Field conditions: the lifecycle with one core taken by another program, against a quiet machine.

One runtime, two phases of the same paced requests (a user who instantiates and terminates
sonata-demo every ``--gap`` seconds): first on a quiet machine, then beside a process that
computes without pause (one core of two busy). Per phase: instantiate and terminate p50/p95,
and how often a request found a warm spare service actor ready (the pools refill only while
the CPUs are idle enough: beside the neighbour, requests run warm in the SLM and FLM instead).
The result is the busy/quiet ratio of each figure, measured in the same run.

    python bench/busy_core.py [--rounds 15] [--gap 2.0]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

# Run as a file, bench/ would be sys.path[0] and its placement.py would shadow the package.
sys.path[0] = str(Path(__file__).resolve().parents[1])
from bench._common import save, summary  # noqa: E402

DEMO = Path(__file__).resolve().parents[1] / "examples" / "sonata-demo"


def _hog() -> None:
    n = 0
    while True:
        n += 1


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def phase(mano, rt, rounds: int, gap: float) -> dict:
    inst, term, spare_ready = [], [], 0
    for _ in range(rounds):
        time.sleep(gap)
        spare_ready += bool(rt.call("slm", "spare_ids"))
        t0 = time.perf_counter()
        svc = mano.instantiate(DEMO)
        inst.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        svc.terminate()
        term.append(time.perf_counter() - t0)
    return {"instantiate": summary(inst), "terminate": summary(term),
            "requests_that_found_a_spare": f"{spare_ready}/{rounds}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--gap", type=float, default=2.0, help="seconds between a terminate and the next request")
    args = parser.parse_args()

    import mano
    from mano.settings import Settings
    from mano.lifecycle.vim_port import Pop
    home = Path(tempfile.mkdtemp(prefix="mano-bench-busy-"))
    settings = Settings.from_env(home=home, mongo_db=f"busy{uuid.uuid4().hex[:6]}", dashboard=False,
                                 monitoring_period_s=0)
    pops = [Pop(vim_uuid=f"pop-{i}", name=f"pop{i}", core_total=100_000, memory_total=400_000) for i in range(4)]
    rt = mano.init(settings, pops=pops)
    try:
        mano.instantiate(DEMO).terminate()  # warm-up: first imports and connections, untimed
        quiet = phase(mano, rt, args.rounds, args.gap)
        hog = mp.Process(target=_hog, daemon=True)
        hog.start()
        started, cpu0 = time.monotonic(), cpu_seconds(hog.pid)
        try:
            busy = phase(mano, rt, args.rounds, args.gap)
            hog_cores = (cpu_seconds(hog.pid) - cpu0) / (time.monotonic() - started)
        finally:
            hog.kill()
            hog.join()
    finally:
        mano.shutdown()
    ratio = {what: round(busy[what]["p50"] / quiet[what]["p50"], 2) for what in ("instantiate", "terminate")}
    save("busy_core", {"rounds": args.rounds, "gap_s": args.gap, "quiet": quiet, "one_core_busy": busy,
                       "hog_cores_used": round(hog_cores, 2), "busy_over_quiet_p50": ratio})


if __name__ == "__main__":
    main()
