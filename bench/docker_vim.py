"""Docker VIM benchmark: sonata-demo on Docker through mano vs the same Docker calls made directly.

Baseline (same run, same dockerd): create the demo's 5 networks, start its 3 containers with
the same image, limits and network attachments, then remove them all. mano: instantiate and
terminate the demo with ``vim="docker"``, each measured operation once the warm spare actors
are up: mano replaces the spares an instantiation took in the background, and the direct loop
has no such work running beside it (what spares cost in throughput, bench/lifecycle.py shows).
Reported: both latencies and their ratio.

    python bench/docker_vim.py [--runs 5]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Run as a file, bench/ would be sys.path[0] and its placement.py would shadow the package.
sys.path[0] = str(Path(__file__).resolve().parents[1])
from bench._common import save, summary, wait_for_spares  # noqa: E402

DEMO = HERE.parent / "examples" / "sonata-demo"
LINKS = ("mgmt", "input-2-iperf", "iperf-2-firewall", "firewall-2-tcpdump", "tcpdump-2-output")


def direct(client, image):
    tag = uuid.uuid4().hex[:8]
    t0 = time.perf_counter()
    nets = [client.networks.create(f"bench-{tag}-{vl}", driver="bridge", internal=True) for vl in LINKS]
    containers = []
    for i in range(3):
        c = client.containers.create(image, name=f"bench-{tag}-{i}", nano_cpus=10**9, mem_limit="256m",
                                     network=nets[0].name, detach=True)
        for net in nets[1:3]:
            net.connect(c)
        c.start()
        c.reload()
        containers.append(c)
    up = time.perf_counter() - t0
    t1 = time.perf_counter()
    for c in containers:
        c.remove(force=True)
    for n in nets:
        n.remove()
    return up, time.perf_counter() - t1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--vnf-actors", default="per-instance", choices=["per-instance", "on-demand"])
    args = parser.parse_args()
    import docker

    import mano
    from mano.settings import Settings
    from mano.vim.images import ensure_busybox_image
    client = docker.from_env()
    image = "mano/vnf-busybox:latest"
    ensure_busybox_image(client, image)
    direct(client, image)  # warm-up
    base = [direct(client, image) for _ in range(args.runs)]
    rt = mano.init(Settings(home=Path(tempfile.mkdtemp(prefix="mano-bench-docker-")), dashboard=False,
                            vnf_actors=args.vnf_actors, idle_passivate_s=600, monitoring_period_s=0))
    try:
        mano.instantiate(DEMO, vim="docker").terminate()  # warm-up
        inst, term = [], []
        for _ in range(args.runs):
            wait_for_spares(rt)  # as the direct loop, each run starts on an idle machine
            t0 = time.perf_counter()
            svc = mano.instantiate(DEMO, vim="docker", timeout=300)
            inst.append(time.perf_counter() - t0)
            wait_for_spares(rt)  # the spares taken above are replaced in the background meanwhile
            t0 = time.perf_counter()
            svc.terminate(timeout=300)
            term.append(time.perf_counter() - t0)
    finally:
        mano.shutdown()
    b_up, b_down = summary([b[0] for b in base]), summary([b[1] for b in base])
    m_up, m_down = summary(inst), summary(term)
    save("docker_vim", {"runs": args.runs, "vnf_actors": args.vnf_actors, "direct_docker": {"up": b_up, "down": b_down},
                        "mano": {"instantiate": m_up, "terminate": m_down},
                        "ratio_instantiate_p50": round(m_up["p50"] / b_up["p50"], 2),
                        "ratio_terminate_p50": round(m_down["p50"] / b_down["p50"], 2),
                        "target_ratio_le_1_15": m_up["p50"] / b_up["p50"] <= 1.15})


if __name__ == "__main__":
    main()
