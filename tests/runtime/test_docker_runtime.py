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

    container.kill()  # from outside mano
    rt.call("monitoring", "tick")  # the health check sees it failed and asks for a heal
    wait_until(lambda: any(o.type.value == "heal" and o.state.value == "COMPLETED" for o in svc.operations), timeout=90)
    assert all(c.status == "running" for c in mano_containers(docker_client, svc.id))

    svc.terminate(timeout=120)
    assert mano_containers(docker_client, svc.id) == []
    assert docker_client.networks.list(filters={"label": f"mano.service={svc.id}"}) == []


def test_failed_docker_instantiation_leaves_nothing(rt, docker_client):
    bad = mano.descriptors.load_service(EXAMPLES / "sonata-demo")
    nsd = bad.nsd.to_dict()
    vnfds = [v.to_dict() for v in bad.unique_vnfds]
    vnfds[0]["virtual_deployment_units"][0]["resource_requirements"]["cpu"]["vcpus"] = 1000  # no PoP has room
    with pytest.raises(mano.OperationFailedError) as info:
        mano.instantiate(nsd, vnfds, vim="docker", timeout=120)
    assert mano_containers(docker_client, info.value.operation.service_id) == []
