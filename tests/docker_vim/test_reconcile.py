"""On start the Docker VIM removes what no live record claims and re-adopts what one does."""
from __future__ import annotations

import dataclasses

import pytest

from mano.lifecycle.vim_port import NetworkRequest

pytestmark = [pytest.mark.docker, pytest.mark.integration]


@dataclasses.dataclass
class FakeVnfr:
    id: str
    service_id: str
    pop: str


class FakeVnfrRepository:
    """The one store call the driver makes, checking the filter it sends."""

    def __init__(self, records: list[FakeVnfr]):
        self.records = records
        self.filters: list[dict] = []

    def find(self, filter: dict) -> list[FakeVnfr]:
        self.filters.append(filter)
        return list(self.records)


class FakeStore:
    def __init__(self, records: list[FakeVnfr]):
        self.vnfr = FakeVnfrRepository(records)


def _names(client, label: str, value: str) -> tuple[set[str], set[str]]:
    containers = {c["Names"][0].lstrip("/") for c in client.api.containers(all=True, filters={"label": f"{label}={value}"})}
    networks = {n["Name"] for n in client.api.networks(filters={"label": f"{label}={value}"})}
    return containers, networks


def test_reconcile_removes_orphans_and_adopts_live_vnfs(make_vim, docker_client, pops, new_id, one_unit_vnf):
    crashed = make_vim()  # the driver of a mano that then crashed
    live_service, orphan_service = new_id("live"), new_id("orphan")
    (live_net,) = crashed.create_networks(live_service, [NetworkRequest("lan")])
    (orphan_net,) = crashed.create_networks(orphan_service, [NetworkRequest("lan")])
    live = crashed.deploy_vnf(one_unit_vnf(live_service, live_net, vcpus=2, memory_gb=1))
    orphan = crashed.deploy_vnf(one_unit_vnf(orphan_service, orphan_net))
    labels = crashed.labels
    bystander = docker_client.containers.create(  # labelled like ours but not owned by the driver (an SSM)
        "mano/vnf-busybox:latest", name=f"{new_id('ssm')}", labels={labels.service: orphan_service})
    try:
        store = FakeStore([FakeVnfr(live.vnf_instance_id, live_service, pops[0].vim_uuid),
                           FakeVnfr(new_id("gone"), live_service, pops[0].vim_uuid)])
        restarted = make_vim(store=store)
        report = restarted.last_reconcile

        assert store.vnfr.filters == [{"vim": "docker", "vnf_state": {"$ne": "TERMINATED"}}]
        assert report.removed_containers == (f"vdu01-{orphan.vnf_instance_id}",)
        assert report.removed_networks == (orphan_net.id,)
        assert report.adopted_vnfs == (live.vnf_instance_id,)
        assert report.missing_vnfs == (store.vnfr.records[1].id,)
        assert report.errors == ()
        assert _names(docker_client, labels.service, orphan_service) == ({bystander.name}, set())
        assert _names(docker_client, labels.service, live_service) == (
            {f"vdu01-{live.vnf_instance_id}"}, {live_net.id})

        assert restarted.deployments() == {live.vnf_instance_id: live}  # same ids and addresses
        assert restarted.vnf_status(live.vnf_instance_id) == "running"
        assert {p.vim_uuid: (p.core_used, p.memory_used) for p in restarted.list_pops()}[pops[0].vim_uuid] == (2, 1)

        again = restarted.reconcile()  # nothing left to do
        assert (again.removed_containers, again.removed_networks, again.adopted_vnfs) == ((), (), ())
    finally:
        bystander.remove(force=True)


def test_reconcile_keeps_what_this_driver_is_deploying(make_vim, new_id, one_unit_vnf):
    """Objects the running driver made itself are never orphans, even before their VNFR exists."""
    vim = make_vim(store=FakeStore([]))
    service_id = new_id("s")
    (lan,) = vim.create_networks(service_id, [NetworkRequest("lan")])
    deployed = vim.deploy_vnf(one_unit_vnf(service_id, lan))
    report = vim.reconcile()
    assert (report.removed_containers, report.removed_networks) == ((), ())
    assert vim.vnf_status(deployed.vnf_instance_id) == "running"


def test_reconcile_without_a_store_adopts_everything_and_removes_nothing(make_vim, new_id, one_unit_vnf):
    first = make_vim()
    deployed = first.deploy_vnf(one_unit_vnf(new_id("s")))
    second = make_vim(reconcile=True)  # no store: no reconcile at start
    assert second.last_reconcile is None and second.deployments() == {}
    report = second.reconcile()
    assert report.adopted_vnfs == (deployed.vnf_instance_id,)
    assert (report.removed_containers, report.removed_networks) == ((), ())
    assert report.to_dict()["adopted_vnfs"] == [deployed.vnf_instance_id]


def test_reconcile_against_the_real_record_store(make_vim, docker_client, pops, new_id, one_unit_vnf, store):
    """The same with mano's Store: a VNFR (vim docker, not TERMINATED) keeps a VNF and its service's networks."""
    from mano.records import VnfrRecord

    crashed = make_vim()
    live_service, orphan_service = new_id("live"), new_id("orphan")
    (live_net,) = crashed.create_networks(live_service, [NetworkRequest("lan")])
    (orphan_net,) = crashed.create_networks(orphan_service, [NetworkRequest("lan")])
    live = crashed.deploy_vnf(one_unit_vnf(live_service, live_net))
    orphan = crashed.deploy_vnf(one_unit_vnf(orphan_service, orphan_net))
    store.vnfr.insert(VnfrRecord(id=live.vnf_instance_id, service_id=live_service, pop=pops[0].vim_uuid,
                                 vim="docker", status="normal operation", descriptor_reference="probe"))
    store.vnfr.insert(VnfrRecord(id=orphan.vnf_instance_id, service_id=orphan_service, pop=pops[0].vim_uuid,
                                 vim="docker", vnf_state="TERMINATED", status="terminated",
                                 descriptor_reference="probe"))

    report = make_vim(store=store).last_reconcile

    assert report.adopted_vnfs == (live.vnf_instance_id,)
    assert report.removed_containers == (f"vdu01-{orphan.vnf_instance_id}",)
    assert report.removed_networks == (orphan_net.id,)
