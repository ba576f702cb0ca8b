"""Docker VIM benchmark: sonata-demo on Docker through mano vs the same Docker calls made directly.

Baseline (same run, same dockerd, runs alternating with mano's): the Docker objects mano makes
for the demo, made and removed directly: its networks (the 5 virtual links, and the PoP network
its tcpdump VNF's unbound connection point joins), its 3 containers with the same image,
command, limits and network attachments, read from a warm-up instantiation. mano: instantiate and
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


def docker_layout(client, service_id):
    """The networks each of the service's containers is attached to, as mano made them."""
    containers = client.api.containers(filters={"label": f"mano.service={service_id}"})
    return [sorted(client.api.inspect_container(c["Id"])["NetworkSettings"]["Networks"]) for c in containers]


def direct(client, image, layout):
    """The Docker objects mano makes for the demo, made and removed directly: one network per
    name in ``layout`` and one container per entry, attached to the same networks."""
    tag = uuid.uuid4().hex[:8]
    names = sorted({n for attached in layout for n in attached})
    t0 = time.perf_counter()
    nets = {n: client.networks.create(f"bench-{tag}-{i}", driver="bridge", internal=True) for i, n in enumerate(names)}
    containers = []
    for i, attached in enumerate(layout):
        c = client.containers.create(image, ["/bin/sleep", "infinity"], name=f"bench-{tag}-{i}", nano_cpus=10**9,
                                     mem_limit="256m", network=nets[attached[0]].name, detach=True)
        for name in attached[1:]:
            nets[name].connect(c)
        c.start()
        c.reload()
        containers.append(c)
    up = time.perf_counter() - t0
    t1 = time.perf_counter()
    for c in containers:
        c.remove(force=True)
    for n in nets.values():
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
    rt = mano.init(Settings(home=Path(tempfile.mkdtemp(prefix="mano-bench-docker-")), dashboard=False,
                            vnf_actors=args.vnf_actors, idle_passivate_s=600, monitoring_period_s=0))
    try:
        warm = mano.instantiate(DEMO, vim="docker")  # warm-up, and the layout the baseline copies
        layout = docker_layout(client, warm.id)
        warm.terminate()
        direct(client, image, layout)  # warm-up
        # Direct and mano runs alternate, each on a quiet machine with the spares up, so a drift
        # of dockerd or of the machine during the run weighs on both sides alike.
        base, inst, term = [], [], []
        for _ in range(args.runs):
            wait_for_spares(rt)
            base.append(direct(client, image, layout))
            wait_for_spares(rt)
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
    save("docker_vim", {"runs": args.runs, "vnf_actors": args.vnf_actors, "layout": [[n.replace(f"{warm.id}_", "") for n in a] for a in layout],
                        "direct_docker": {"up": b_up, "down": b_down},
                        "mano": {"instantiate": m_up, "terminate": m_down},
                        "ratio_instantiate_p50": round(m_up["p50"] / b_up["p50"], 2),
                        "ratio_terminate_p50": round(m_down["p50"] / b_down["p50"], 2),
                        "target_ratio_le_1_15": max(m_up["p50"] / b_up["p50"], m_down["p50"] / b_down["p50"]) <= 1.15})


if __name__ == "__main__":
    main()
