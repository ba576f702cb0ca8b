"""Gateway benchmark: SONATA request → first reply over RabbitMQ, against a bare pika echo.

In one run, on one broker:
- baseline: ``bus_echo.run_pika`` (bare pika request/reply echo, same body size);
- gateway, error path: ``service.instance.terminate`` of an unknown instance (parse, SLM
  admission lookup, ERROR reply): the gateway's own overhead;
- gateway, admission path: ``service.instances.create`` of sonata-demo up to the
  INSTANTIATING reply (validation, two record inserts, service actor activation request);
- requests/s until saturation on the error path with 1..32 requests in flight.

    python bench/gateway.py [-n 200]
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Run as a file, bench/ would be sys.path[0] and its placement.py would shadow the package.
sys.path[0] = str(HERE.parent)
sys.path.insert(1, str(HERE.parent / "tests" / "runtime"))
import yaml  # noqa: E402
from bench._common import save, summary  # noqa: E402

DEMO = HERE.parent / "examples" / "sonata-demo"


def round_trips(gk, topic, body_fn, n, wanted_status):
    latencies = []
    for _ in range(n):
        t0 = time.perf_counter()
        corr = gk.send(topic, body_fn())
        replies = gk.wait(corr, 1, timeout=60)
        latencies.append(time.perf_counter() - t0)
        assert replies[0]["status"] in wanted_status, replies[0]
    return latencies


def saturation(gk, in_flight, total):
    sem = threading.Semaphore(in_flight)
    corrs = []
    t0 = time.perf_counter()
    for _ in range(total):
        sem.acquire()
        corr = gk.send("service.instance.terminate", {"service_instance_uuid": "bench-unknown"})
        corrs.append(corr)
        threading.Thread(target=lambda c=corr: (gk.wait(c, 1, timeout=120), sem.release()), daemon=True).start()
    for c in corrs:
        gk.wait(c, 1, timeout=120)
    return round(total / (time.perf_counter() - t0), 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--creates", type=int, default=30)
    args = parser.parse_args()

    from bench import bus_echo
    import mano
    from mano.gateway.actor import start_gateway
    from gatekeeper import Gatekeeper
    from mano.settings import Settings

    exchange = f"bench-gw-{uuid.uuid4().hex[:6]}"
    settings = Settings(home=Path(tempfile.mkdtemp(prefix="mano-bench-gw-")), dashboard=False, exchange=exchange,
                        vnf_actors="on-demand", idle_passivate_s=600)
    echo = bus_echo.run_pika(settings.broker_url, f"{exchange}-echo", args.n, {"service_instance_uuid": "x" * 36}, 50)
    rt = mano.init(settings)
    gateway = start_gateway(settings)
    gk = Gatekeeper(settings.broker_url, exchange)
    try:
        unknown = lambda: {"service_instance_uuid": "bench-unknown"}  # noqa: E731
        round_trips(gk, "service.instance.terminate", unknown, 20, {"ERROR"})  # warm-up
        error_path = round_trips(gk, "service.instance.terminate", unknown, args.n, {"ERROR"})
        request = {"NSD": yaml.safe_load((DEMO / "sonata-demo-nsd.yml").read_text()),
                   **{f"VNFD{i}": yaml.safe_load((DEMO / f).read_text())
                      for i, f in enumerate(("firewall-vnfd.yml", "iperf-vnfd.yml", "tcpdump-vnfd.yml"))},
                   "user_data": {"customer": {}}}
        admission = round_trips(gk, "service.instances.create", lambda: request, args.creates, {"INSTANTIATING"})
        rates = {k: saturation(gk, k, max(100, args.n)) for k in (1, 8, 32)}
    finally:
        gk.close()
        import ray
        ray.kill(gateway, no_restart=True)
        mano.shutdown()
    echo_p50 = echo["p50_ms"] / 1000
    err, adm = summary(error_path), summary(admission)
    save("gateway", {
        "baseline_pika_echo": echo,
        "gateway_error_path_s": err, "gateway_admission_to_intermediate_s": adm,
        "overhead_over_echo_ms": {"error_path_p50": round((err["p50"] - echo_p50) * 1000, 2),
                                  "admission_p50": round((adm["p50"] - echo_p50) * 1000, 2)},
        "ratio_error_path_p50_vs_echo": round(err["p50"] / echo_p50, 1),
        "requests_per_s_error_path": rates,
        "target_overhead_le_5ms_p50": {"error_path": (err["p50"] - echo_p50) * 1000 <= 5},
    })
    rt  # noqa: B018


if __name__ == "__main__":
    main()
