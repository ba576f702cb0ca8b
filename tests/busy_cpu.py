"""Run a command beside a CPU hog: field conditions with one core taken by another program.

``python tests/busy_cpu.py [--hogs N] -- COMMAND ...`` starts N processes (default 1) that
compute without pause at normal priority, runs COMMAND, stops the hogs and exits with COMMAND's
exit code. ``make test-busy`` runs the runtime tests this way. The hogs report how much CPU they
got, so the run shows that the machine really was busy.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import time


def _hog() -> None:
    """Compute until killed: a tight loop in pure Python, the way a busy neighbour would."""
    n = 0
    while True:
        n += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hogs", type=int, default=1, help="busy processes (default 1: one core)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given (put it after --)")
    hogs = [mp.Process(target=_hog, daemon=True) for _ in range(args.hogs)]
    for hog in hogs:
        hog.start()
    started, cpu0 = time.monotonic(), _cpu_seconds(hogs)
    print(f"busy_cpu: {args.hogs} hog process(es) on {os.cpu_count()} CPUs; running: {' '.join(command)}",
          flush=True)
    try:
        code = subprocess.call(command)
    finally:
        wall, cpu = time.monotonic() - started, _cpu_seconds(hogs) - cpu0
        for hog in hogs:
            hog.kill()
            hog.join()
    print(f"busy_cpu: the hogs used {cpu:.0f} CPU-s in {wall:.0f} s of wall time "
          f"({cpu / max(wall, 1e-9):.2f} cores on average); command exit code {code}", flush=True)
    return code


def _cpu_seconds(processes) -> float:
    total = 0.0
    for proc in processes:
        try:
            with open(f"/proc/{proc.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


if __name__ == "__main__":
    sys.exit(main())
