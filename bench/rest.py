"""The SOL005 HTTP API's cost over the Python API, on one live runtime, in the same run.

On a fresh embedded runtime (its own MANO_HOME, emulated VIM, no broker) with the API served
from the same process on a free loopback port (what ``mano up --api`` runs), measured in
alternation so that both sides see the same machine:

* **GET**: ``mano.operation(id)`` against ``GET /nslcm/v1/ns_lcm_op_occs/{id}``, and the
  service (``mano.get(id).record``) against ``GET /nslcm/v1/ns_instances/{id}``: p50 of each and
  the overhead (HTTP p50 - Python p50);
* **instantiate**: ``mano.instantiate(demo, wait=False)`` against ``POST
  /ns_instances/{id}/instantiate`` (the 202 with its Location), both up to the moment the
  operation is admitted; each service then completes and is terminated, untimed;
* **GETs per second**: ``GET /ns_lcm_op_occs/{id}`` by 1 and by 4 client threads (httpx,
  keep-alive) for ``--seconds`` each.

Target (issue "A standard northbound"): the HTTP path's overhead <= 10 ms at p50, for
instantiate and for a GET.

    python bench/rest.py [--reps 30] [--seconds 5] [--busy]

``--busy`` keeps one core busy with another program throughout. Writes
``bench/results/rest.json`` (``rest_busy.json`` with ``--busy``).
"""
from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

ROOT_DIR = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT_DIR)  # run as a file, bench/ would shadow the placement package
from bench._common import save, summary  # noqa: E402

DEMO = ROOT_DIR / "examples" / "sonata-demo"
ROOT = "/nslcm/v1"


def _hog(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _settle(client, op_id: str) -> None:
    while client.get(f"{ROOT}/ns_lcm_op_occs/{op_id}").json()["operationState"] == "PROCESSING":
        time.sleep(0.02)


def _onboarded(client) -> str:
    info = client.post("/nsd/v1/ns_descriptors", json={}).headers["Location"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        for path in sorted(DEMO.iterdir()):
            archive.write(path, path.name)
    assert client.put(f"{info}/nsd_content", content=package.getvalue(),
                      headers={"content-type": "application/zip"}).status_code == 204
    return client.get(info).json()["id"]


def measure(reps: int, seconds: float) -> dict:
    import httpx

    import mano
    from mano.rest.app import serve

    home = tempfile.mkdtemp(prefix="mano-bench-rest-")
    os.environ["MANO_HOME"] = home
    rt = mano.init(dashboard=False)
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = serve(rt, f"127.0.0.1:{port}")
    out: dict = {}
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            svc = mano.instantiate(DEMO)
            op_id = svc.last_operation
            for _ in range(5):  # warm both paths
                mano.operation(op_id)
                client.get(f"{ROOT}/ns_lcm_op_occs/{op_id}")
            py_op, http_op, py_ns, http_ns = [], [], [], []
            for _ in range(reps):
                py_op.append(_timed(lambda: mano.operation(op_id)))
                http_op.append(_timed(lambda: client.get(f"{ROOT}/ns_lcm_op_occs/{op_id}").raise_for_status()))
                py_ns.append(_timed(lambda: mano.get(svc.id).record))
                http_ns.append(_timed(lambda: client.get(f"{ROOT}/ns_instances/{svc.id}").raise_for_status()))
            out["get_operation"] = {"python_s": summary(py_op), "http_s": summary(http_op)}
            out["get_ns_instance"] = {"python_s": summary(py_ns), "http_s": summary(http_ns)}
            svc.terminate()

            nsd_info = _onboarded(client)
            py_inst, http_inst = [], []
            for _ in range(max(3, reps // 3)):
                started = time.perf_counter()
                accepted = mano.instantiate(DEMO, wait=False)
                py_inst.append(time.perf_counter() - started)
                accepted.wait()
                accepted.terminate()

                ns = client.post(f"{ROOT}/ns_instances", json={"nsdId": nsd_info, "nsName": "bench"}).json()
                started = time.perf_counter()
                response = client.post(f"{ROOT}/ns_instances/{ns['id']}/instantiate", json={})
                http_inst.append(time.perf_counter() - started)
                assert response.status_code == 202, response.text
                _settle(client, response.json()["id"])
                _settle(client, client.post(f"{ROOT}/ns_instances/{ns['id']}/terminate", json={}).json()["id"])
            out["instantiate_accepted"] = {"python_s": summary(py_inst), "http_s": summary(http_inst)}

            target = mano.instantiate(DEMO)
            path = f"{ROOT}/ns_lcm_op_occs/{target.last_operation}"
            rates = {}
            for threads in (1, 4):
                counts = [0] * threads
                stop_at = time.monotonic() + seconds

                def worker(i: int) -> None:
                    with httpx.Client(base_url=server.url, timeout=60) as own:
                        while time.monotonic() < stop_at:
                            own.get(path).raise_for_status()
                            counts[i] += 1
                pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
                for t in pool:
                    t.start()
                for t in pool:
                    t.join()
                rates[f"{threads}_client(s)"] = round(sum(counts) / seconds, 1)
            out["gets_per_second"] = rates
            target.terminate()
    finally:
        server.stop()
        mano.shutdown()
    for name in ("get_operation", "get_ns_instance", "instantiate_accepted"):
        entry = out[name]
        entry["overhead_ms_p50"] = round(1000 * (entry["http_s"]["p50"] - entry["python_s"]["p50"]), 2)
        entry["target_ms"] = 10
        entry["met"] = entry["overhead_ms_p50"] <= 10
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--busy", action="store_true", help="keep one core busy throughout")
    args = parser.parse_args()
    stop = mp.Event()
    hog = mp.Process(target=_hog, args=(stop,), daemon=True) if args.busy else None
    if hog:
        hog.start()
    try:
        results = measure(args.reps, args.seconds)
    finally:
        if hog:
            stop.set()
            hog.join(5)
    save("rest_busy" if args.busy else "rest", {"reps": args.reps, "busy_core": args.busy, **results})


if __name__ == "__main__":
    main()
