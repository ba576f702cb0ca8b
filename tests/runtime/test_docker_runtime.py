"""The lifecycle on the Docker VIM through the real runtime: containers and networks verified
through the Docker API, healing of a container killed from outside, nothing left behind."""
from __future__ import annotations

import pytest

import mano
import mano.descriptors
from conftest_runtime import wait_until
from paths import EXAMPLES

docker = pytest.importorskip("docker")
pytestmark = [pytest.mark.integration, pytest.mark.docker]


def mano_containers(client, service_id):
    return client.containers.list(all=True, filters={"label": f"mano.service={service_id}"})


def test_demo_on_docker_end_to_end_with_healing(rt, docker_client):
    svc = mano.instantiate(EXAMPLES / "sonata-demo", vim="docker", timeout=180)
    containers = mano_containers(docker_client, svc.id)
    assert len(containers) == 3 and all(c.status == "running" for c in containers)
    assert {c.labels["mano.vnf"] for c in containers} == {v.id for v in svc.record.vnf_instances}
    networks = docker_client.networks.list(filters={"label": f"mano.service={svc.id}"})
    assert {n.name for n in networks} >= {f"{svc.id}_ns_{vl}" for vl in ("mgmt", "input-2-iperf")}
    # the VNFR carries the address Docker gave the container on the service network
    vnfr = next(v for v in svc.vnfrs if v["name"] == "iperf-vnf")
    vc_id = vnfr["virtual_deployment_units"][0]["vnfc_instance"][0]["vc_id"]
    container = docker_client.containers.get(vc_id)
    docker_ips = {n["IPAddress"] for n in container.attrs["NetworkSettings"]["Networks"].values()}
    vnfr_ips = {cp["interface"]["address"] for cp in vnfr["virtual_deployment_units"][0]["vnfc_instance"][0]["connection_points"]}
    assert vnfr_ips <= docker_ips

    # reconfigure: the environment is written into every container, where its processes read it
    svc.reconfigure({"envs": {"LOG_LEVEL": "debug"}, "functions": {"vnf_iperf": {"envs": {"TARGET": "10.0.0.9"}}}})
    env = container.exec_run(["cat", "/run/mano/env"]).output.decode()
    assert "export LOG_LEVEL=debug\n" in env and "export TARGET=10.0.0.9\n" in env

    container.kill()  # from outside mano
    rt.call("monitoring", "tick")  # the health check sees it failed and asks for a heal
    wait_until(lambda: any(o.type.value == "heal" and o.state.value == "COMPLETED" for o in svc.operations), timeout=90)
    assert all(c.status == "running" for c in mano_containers(docker_client, svc.id))
    # the healed iperf is a new container, configured as the old one was
    healed = next(c for c in mano_containers(docker_client, svc.id) if c.labels["mano.vnf"] == container.labels["mano.vnf"])
    assert healed.id != container.id
    assert "export TARGET=10.0.0.9\n" in healed.exec_run(["cat", "/run/mano/env"]).output.decode()

    svc.terminate(timeout=120)
    assert mano_containers(docker_client, svc.id) == []
    assert docker_client.networks.list(filters={"label": f"mano.service={svc.id}"}) == []


def test_real_cpu_load_crossing_a_rule_scales_out_with_a_new_container(rt, docker_client):
    """Load made inside the firewall's container, read back through Docker's stats, crosses the
    VNFD's ``vm_cpu_perc > 10`` rule: the default policy scales the firewall out."""
    import yaml
    demo = EXAMPLES / "sonata-demo"
    nsd = yaml.safe_load((demo / "sonata-demo-nsd.yml").read_text())
    nsd["auto_scale_policy"] = {"vnf_firewall": {"max_instances": 2}}
    vnfds = [yaml.safe_load((demo / f).read_text()) for f in ("firewall-vnfd.yml", "iperf-vnfd.yml", "tcpdump-vnfd.yml")]
    for rule in vnfds[0]["monitoring_rules"]:
        rule["duration"] = 0  # fire on the first tick that sees the load
    svc = mano.instantiate(nsd, vnfds, vim="docker", timeout=180)
    try:
        assert rt.call("monitoring", "tick") == []  # idle containers cross no rule
        (firewall,) = [c for c in mano_containers(docker_client, svc.id) if c.labels["mano.vnf-name"] == "firewall-vnf"]
        firewall.exec_run(["sh", "-c", "while :; do :; done"], detach=True)  # one core busy
        alerts: list[dict] = []
        wait_until(lambda: alerts.extend(rt.call("monitoring", "tick")) or alerts, timeout=30)
        assert {(a["vnf_id"], a["metric"]) for a in alerts} == {("vnf_firewall", "vm_cpu_perc")}
        assert all(a["value"] > 10 for a in alerts)
        wait_until(lambda: svc.status == "READY" and len(svc.record.vnf_instances) == 4, timeout=90)
        (scale,) = [o for o in svc.operations if o.type.value == "scale_out"]
        assert scale.state.value == "COMPLETED" and scale.request["trigger"]["metric"] == "vm_cpu_perc"
        firewalls = [c for c in mano_containers(docker_client, svc.id) if c.labels["mano.vnf-name"] == "firewall-vnf"]
        assert len(firewalls) == 2 and all(c.status == "running" for c in firewalls)
        assert {c.labels["mano.vnf"] for c in firewalls} == {
            v.id for v in svc.record.vnf_instances if v.vnf_id == "vnf_firewall"}
    finally:
        svc.terminate(timeout=120)
    assert mano_containers(docker_client, svc.id) == []


def test_failed_docker_instantiation_leaves_nothing(rt, docker_client):
    bad = mano.descriptors.load_service(EXAMPLES / "sonata-demo")
    nsd = bad.nsd.to_dict()
    vnfds = [v.to_dict() for v in bad.unique_vnfds]
    vnfds[0]["virtual_deployment_units"][0]["resource_requirements"]["cpu"]["vcpus"] = 1000  # no PoP has room
    with pytest.raises(mano.OperationFailedError) as info:
        mano.instantiate(nsd, vnfds, vim="docker", timeout=120)
    assert mano_containers(docker_client, info.value.operation.service_id) == []
