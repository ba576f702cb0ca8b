"""The Docker VIM deploys, connects, accounts for and removes VNFs as real containers."""
from __future__ import annotations

import threading

import pytest

from mano.errors import CapacityError, VimError
from mano.vim import make_driver
from mano.lifecycle.vim_port import NetworkRequest, UnitRequest, VnfDeployment
from mano.vim.images import BUSYBOX_TAG

pytestmark = [pytest.mark.docker, pytest.mark.integration]

MB = 1024 ** 2


def containers_with(client, label: str, value: str) -> list[dict]:
    return [client.api.inspect_container(c["Id"])
            for c in client.api.containers(all=True, filters={"label": f"{label}={value}"})]


def networks_with(client, label: str, value: str) -> list[dict]:
    return client.api.networks(filters={"label": f"{label}={value}"})


def two_unit_vnf(service_id: str, vnf_id: str, pop: str, mgmt: str, data: str) -> VnfDeployment:
    """A firewall-like VNF: vdu01 on mgmt and data, vdu02 on data plus one point on no service network."""
    return VnfDeployment(
        service_id=service_id, vnf_instance_id=vnf_id, vnf_name="firewall-vnf", pop=pop,
        units=(UnitRequest(id="vdu01", image="http://registry.sonata-nfv.eu/fw.qcow", vcpus=1, memory_gb=2,
                           connection_points=("vdu01:eth0", "vdu01:eth1"), env={"ROLE": "fw"}),
               UnitRequest(id="vdu02", image="other.qcow", vcpus=16, memory_gb=0.5,
                           connection_points=("vdu02:eth0", "vdu02:mgmt"))),
        networks={"vdu01:eth0": mgmt, "vdu01:eth1": data, "vdu02:eth0": data})


def test_two_unit_vnf_runs_as_labelled_limited_connected_containers(make_vim, docker_client, pops, new_id):
    vim = make_driver("docker", pops, client=docker_client, label_prefix="mano", reconcile=False)
    service_id, vnf_id, pop = new_id("s"), new_id("v"), pops[0].vim_uuid
    try:
        mgmt, data = vim.create_networks(service_id, [NetworkRequest("mgmt"), NetworkRequest("data", "E-Line")])
        assert (mgmt.id, data.id) == (f"{service_id}_ns_mgmt", f"{service_id}_ns_data")
        deployed = vim.deploy_vnf(two_unit_vnf(service_id, vnf_id, pop, mgmt.id, data.id))

        containers = {c["Name"].lstrip("/"): c for c in containers_with(docker_client, "mano.vnf", vnf_id)}
        assert set(containers) == {f"vdu01-{vnf_id}", f"vdu02-{vnf_id}"}
        for unit in deployed.units:
            container = containers[f"{unit.unit_id}-{vnf_id}"]
            labels = container["Config"]["Labels"]
            assert (labels["mano.service"], labels["mano.vnf"], labels["mano.vdu"], labels["mano.pop"]) == (
                service_id, vnf_id, unit.unit_id, pop)
            assert container["Id"] == unit.vc_id and unit.vim_id == pop
            assert container["State"]["Status"] == "running"
            assert container["HostConfig"]["Privileged"] is False
            assert container["HostConfig"]["Memory"] == 256 * MB  # 2 GB and 0.5 GB asked, capped for tests
            assert not any("docker.sock" in m.get("Source", "") for m in container["Mounts"])
            settings = container["NetworkSettings"]["Networks"]
            for address in unit.addresses.values():
                assert address and address in {n["IPAddress"] for n in settings.values()}
        vdu01, vdu02 = (containers[f"vdu0{i}-{vnf_id}"] for i in (1, 2))
        assert vdu01["HostConfig"]["NanoCpus"] == 10 ** 9
        host_cpus = docker_client.info()["NCPU"]
        assert vdu02["HostConfig"]["NanoCpus"] == min(16, host_cpus) * 10 ** 9  # capped to the host
        assert "ROLE=fw" in vdu01["Config"]["Env"]

        units = {u.unit_id: u for u in deployed.units}
        pop_network = f"mano_pop_{pop}"
        # vdu01's points are all on service networks: it does not join the PoP network; vdu02 does.
        assert set(vdu01["NetworkSettings"]["Networks"]) == {mgmt.id, data.id}
        assert set(vdu02["NetworkSettings"]["Networks"]) == {pop_network, data.id}
        assert units["vdu01"].addresses == {
            "vdu01:eth0": vdu01["NetworkSettings"]["Networks"][mgmt.id]["IPAddress"],
            "vdu01:eth1": vdu01["NetworkSettings"]["Networks"][data.id]["IPAddress"]}
        assert units["vdu02"].addresses == {  # a point on no service network gets the PoP's address
            "vdu02:eth0": vdu02["NetworkSettings"]["Networks"][data.id]["IPAddress"],
            "vdu02:mgmt": vdu02["NetworkSettings"]["Networks"][pop_network]["IPAddress"]}

        nets = {n["Name"]: n for n in networks_with(docker_client, "mano.service", service_id)}
        assert set(nets) == {mgmt.id, data.id}
        assert nets[mgmt.id]["Labels"]["mano.vl"] == "mgmt" and nets[mgmt.id]["Internal"] is True
        used = {p.vim_uuid: p for p in vim.list_pops()}[pop]
        assert (used.core_used, used.memory_used) == (17, 2.5)  # the requested amounts, not the limits
        assert vim.vnf_status(vnf_id) == "running"
        assert vim.deployments()[vnf_id] == deployed
    finally:
        vim.remove_vnf(service_id, vnf_id)
        vim.delete_networks(service_id)
    assert containers_with(docker_client, "mano.vnf", vnf_id) == []
    assert networks_with(docker_client, "mano.service", service_id) == []
    assert networks_with(docker_client, "mano.pop", pop) == []


def test_enforce_memory_uses_the_requested_size(make_vim, docker_client, new_id, one_unit_vnf):
    vim = make_vim(enforce_memory=True)
    deployment = one_unit_vnf(new_id("s"), memory_gb=0.0625)
    vim.deploy_vnf(deployment)
    (container,) = containers_with(docker_client, vim.labels.vnf, deployment.vnf_instance_id)
    assert container["HostConfig"]["Memory"] == 64 * MB


def test_vnfs_on_one_elan_reach_each_other_and_pops_are_isolated(make_vim, docker_client, pops, new_id,
                                                                  one_unit_vnf):
    vim = make_vim()
    service_id = new_id("s")
    (lan,) = vim.create_networks(service_id, [NetworkRequest("lan", "E-LAN")])
    first = vim.deploy_vnf(one_unit_vnf(service_id, lan))
    second = vim.deploy_vnf(one_unit_vnf(service_id, lan))
    stranger = vim.deploy_vnf(one_unit_vnf(service_id, pop=pops[1].vim_uuid))  # other PoP, no service network

    def ping(deployed, address: str) -> int:
        container = docker_client.containers.get(deployed.units[0].vc_id)
        return container.exec_run(["ping", "-c", "1", "-W", "2", address]).exit_code

    assert ping(first, second.units[0].addresses["vdu01:eth0"]) == 0
    assert ping(second, first.units[0].addresses["vdu01:eth0"]) == 0
    assert ping(stranger, first.units[0].addresses["vdu01:eth0"]) != 0


def test_capacity_is_checked_and_names_the_pop(make_vim, docker_client, pops, new_id, one_unit_vnf):
    vim = make_vim()
    small = pops[1].vim_uuid
    too_many_cores = one_unit_vnf(new_id("s"), pop=small, vcpus=3)
    with pytest.raises(CapacityError, match=r"PoP B .* 2 free cores; probe needs 3"):
        vim.deploy_vnf(too_many_cores)
    with pytest.raises(CapacityError, match=r"PoP B .* 4 GB free memory; probe needs 5 GB"):
        vim.deploy_vnf(one_unit_vnf(new_id("s"), pop=small, memory_gb=5))
    assert containers_with(docker_client, vim.labels.pop, small) == []

    results: list[object] = []
    deployments = [one_unit_vnf(new_id("s"), pop=small, vcpus=1) for _ in range(3)]
    threads = [threading.Thread(target=lambda d=d: results.append(_outcome(vim.deploy_vnf, d))) for d in deployments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(type(r).__name__ for r in results) == ["CapacityError", "DeployedVnf", "DeployedVnf"]
    assert len(containers_with(docker_client, vim.labels.pop, small)) == 2
    assert {p.vim_uuid: p.core_used for p in vim.list_pops()}[small] == 2


def _outcome(call, *args):
    try:
        return call(*args)
    except Exception as exc:  # noqa: BLE001 - the test compares outcomes
        return exc


def test_deploy_and_remove_are_idempotent_across_driver_restarts(make_vim, docker_client, pops, new_id,
                                                                 one_unit_vnf):
    vim = make_vim()
    service_id = new_id("s")
    deployment = one_unit_vnf(service_id, vcpus=2, memory_gb=3)
    deployed = vim.deploy_vnf(deployment)
    assert vim.deploy_vnf(deployment) == deployed
    assert len(containers_with(docker_client, vim.labels.vnf, deployment.vnf_instance_id)) == 1

    restarted = make_vim(reconcile=False)  # a new process that knows nothing yet
    assert restarted.deploy_vnf(deployment).units[0].vc_id == deployed.units[0].vc_id
    assert {p.vim_uuid: (p.core_used, p.memory_used) for p in restarted.list_pops()}[pops[0].vim_uuid] == (2, 3)

    restarted.remove_vnf(service_id, deployment.vnf_instance_id)
    restarted.remove_vnf(service_id, deployment.vnf_instance_id)
    assert containers_with(docker_client, vim.labels.vnf, deployment.vnf_instance_id) == []
    assert all(p.core_used == 0 and p.memory_used == 0 for p in restarted.list_pops())
    assert restarted.vnf_status(deployment.vnf_instance_id) == "absent"
    assert vim.vnf_status(deployment.vnf_instance_id) == "failed"  # the first driver lost a VNF it ran


def test_a_pop_network_made_by_an_earlier_driver_goes_with_the_last_vnf_on_its_pop(make_vim, docker_client, pops,
                                                                                  new_id, one_unit_vnf):
    """The driver skips removing PoP networks it does not know: it must learn those that exist."""
    pop = pops[0].vim_uuid
    deployment = one_unit_vnf(new_id("s"))  # its one point is on no service network: it joins the PoP's
    first = make_vim()
    first.deploy_vnf(deployment)
    assert [n["Name"] for n in networks_with(docker_client, first.labels.pop, pop)] == [
        f"{first.labels.prefix}_pop_{pop}"]
    restarted = make_vim(reconcile=False)
    restarted.deploy_vnf(deployment)  # adopts the running VNF
    restarted.remove_vnf(deployment.service_id, deployment.vnf_instance_id)
    assert networks_with(docker_client, first.labels.pop, pop) == []


def test_remove_and_delete_networks_leave_nothing(make_vim, docker_client, new_id, one_unit_vnf):
    vim = make_vim()
    service_id = new_id("s")
    requests = [NetworkRequest("mgmt"), NetworkRequest("input", "E-Line")]
    networks = vim.create_networks(service_id, requests)
    assert vim.create_networks(service_id, requests) == networks  # idempotent
    deployment = one_unit_vnf(service_id, networks[0])
    vim.deploy_vnf(deployment)
    vim.remove_vnf(service_id, deployment.vnf_instance_id)
    vim.delete_networks(service_id)
    vim.delete_networks(service_id)
    assert containers_with(docker_client, vim.labels.driver, "docker-vim") == []
    assert networks_with(docker_client, vim.labels.driver, "docker-vim") == []


def test_delete_networks_disconnects_attached_containers(make_vim, docker_client, new_id, one_unit_vnf):
    vim = make_vim()
    service_id = new_id("s")
    (lan,) = vim.create_networks(service_id, [NetworkRequest("lan")])
    deployed = vim.deploy_vnf(one_unit_vnf(service_id, lan))
    vim.delete_networks(service_id)
    assert networks_with(docker_client, vim.labels.service, service_id) == []
    container = docker_client.api.inspect_container(deployed.units[0].vc_id)
    assert lan.id not in container["NetworkSettings"]["Networks"]
    assert container["State"]["Status"] == "running"


def test_container_killed_from_outside_makes_the_vnf_failed_and_deploy_heals_it(make_vim, docker_client,
                                                                                new_id, one_unit_vnf):
    vim = make_vim()
    service_id = new_id("s")
    deployment = one_unit_vnf(service_id)
    deployed = vim.deploy_vnf(deployment)
    docker_client.containers.get(deployed.units[0].vc_id).kill()
    assert vim.vnf_status(deployment.vnf_instance_id) == "failed"

    healed = vim.deploy_vnf(deployment)
    assert healed.units[0].vc_id != deployed.units[0].vc_id
    assert vim.vnf_status(deployment.vnf_instance_id) == "running"
    assert len(containers_with(docker_client, vim.labels.vnf, deployment.vnf_instance_id)) == 1
    vim.remove_vnf(service_id, deployment.vnf_instance_id)
    assert vim.vnf_status(deployment.vnf_instance_id) == "absent"


@pytest.mark.parametrize("failure", ["missing image", "missing network"])
def test_a_failed_multi_unit_deploy_leaves_nothing(make_vim, docker_client, pops, new_id, failure):
    vim = make_vim(image_map={"second.qcow": "mano/no-such-image:0"} if failure == "missing image" else {})
    service_id, vnf_id, pop = new_id("s"), new_id("v"), pops[0].vim_uuid
    deployment = VnfDeployment(
        service_id=service_id, vnf_instance_id=vnf_id, vnf_name="broken", pop=pop,
        units=(UnitRequest("vdu01", "first.qcow", 1, 1, ("vdu01:eth0",)),
               UnitRequest("vdu02", "second.qcow", 1, 1, ("vdu02:eth0",))),
        networks={"vdu02:eth0": f"{service_id}_ns_missing"} if failure == "missing network" else {})
    with pytest.raises(VimError, match="no-such-image|_ns_missing") as error:
        vim.deploy_vnf(deployment)
    assert not isinstance(error.value, CapacityError)
    assert containers_with(docker_client, vim.labels.vnf, vnf_id) == []
    assert networks_with(docker_client, vim.labels.driver, "docker-vim") == []  # nor the PoP network
    assert all(p.core_used == 0 for p in vim.list_pops())
    assert vim.vnf_status(vnf_id) == "absent"


def test_stats_report_sonatas_four_metrics(make_vim, new_id, one_unit_vnf):
    vim = make_vim()
    deployment = one_unit_vnf(new_id("s"))
    vim.deploy_vnf(deployment)
    stats = vim.stats(deployment.vnf_instance_id)
    assert set(stats) == {"vm_cpu_perc", "vm_mem_perc", "vm_net_rx_MB", "vm_net_tx_MB"}
    assert all(isinstance(v, float) and v >= 0 for v in stats.values())
    assert stats["vm_mem_perc"] < 100
    with pytest.raises(VimError, match="no running container"):
        vim.stats(new_id("v"))


def test_an_unreachable_dockerd_is_a_temporary_error(pops, monkeypatch):
    from mano.errors import TemporaryVimError

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(TemporaryVimError, match="cannot reach dockerd"):
        make_driver("docker", pops)


def test_the_default_image_is_the_busybox_stand_in(make_vim, docker_client, new_id, one_unit_vnf):
    vim = make_vim(image_map={"mapped.qcow": BUSYBOX_TAG})
    deployed = vim.deploy_vnf(one_unit_vnf(new_id("s"), image="mapped.qcow"))
    container = docker_client.containers.get(deployed.units[0].vc_id)
    assert container.attrs["Config"]["Image"] == BUSYBOX_TAG
    assert container.exec_run(["ip", "addr"]).exit_code == 0
