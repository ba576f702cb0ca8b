"""mano's ``sonata-ia`` VIM driver against an infrastructure adaptor written to SONATA's contract
alone (tests/sonata_adaptor.py, plain pika), over the real broker: the service lifecycle runs
in-process on it, as it runs on the emulated VIM."""
from __future__ import annotations

import pytest

from mano.descriptors import load_service
from mano.errors import TemporaryVimError
from mano.lifecycle.local import FirstFitPlacement, LocalFunctions, LocalVim
from mano.lifecycle.service import ServiceController
from mano.lifecycle.slm import ServiceLifecycleManager
from mano.lifecycle.states import VnfState
from mano.records import OperationType
from mano.settings import Settings
from mano.states import OperationState
from mano.vim.sonata_ia import SonataIaVim, network_id
from paths import EXAMPLES
from sonata_adaptor import ContractAdaptor

DEPLOY, CREATE = "infrastructure.function.deploy", "infrastructure.service.network.create"
REMOVE, SERVICE_REMOVE = "infrastructure.function.remove", "infrastructure.service.remove"


def vims(cores=(16, 8)):
    return [{"vim_uuid": f"vim-{i}", "vim_name": f"pop{i}", "vim_city": f"city{i}", "vim_endpoint": f"10.100.0.{i}",
             "type": "vm", "core_total": c, "core_used": 0, "memory_total": 32768, "memory_used": 0}
            for i, c in enumerate(cores)]


@pytest.fixture
def adaptor(broker_url, exchange):
    a = ContractAdaptor(broker_url, exchange, vims())
    yield a
    a.close()


@pytest.fixture
def driver(settings, adaptor):
    d = SonataIaVim(settings, timeout_s=5.0)
    yield d
    d.close()


@pytest.fixture
def store():
    from mano.store.client import Store

    with Store.in_memory() as s:
        yield s


class Lifecycle:
    """The lifecycle core in-process, deploying through the adaptor."""

    def __init__(self, store, driver):
        self.store, self.vim = store, LocalVim({"sonata-ia": driver})
        self.functions = LocalFunctions(store, self.vim)
        self.slm = ServiceLifecycleManager(store)

    def run(self, op):
        return ServiceController(op.service_id, self.store, self.functions, self.vim, FirstFitPlacement()).run(op.id)

    def instantiate(self, package):
        return self.run(self.slm.instantiate(package, vim="sonata-ia"))

    def terminate(self, service_id):
        return self.run(self.slm.request(service_id, OperationType.TERMINATE))


@pytest.fixture
def demo():
    return load_service(EXAMPLES / "sonata-demo")


def test_the_pops_are_the_adaptors_vims_with_memory_in_gb(driver):
    pops = {p.vim_uuid: p for p in driver.list_pops()}
    assert set(pops) == {"vim-0", "vim-1"}
    assert (pops["vim-0"].core_total, pops["vim-0"].memory_total, pops["vim-0"].city) == (16, 32.0, "city0")


def test_a_service_instantiated_and_terminated_through_the_adaptor(store, driver, adaptor, demo):
    lifecycle = Lifecycle(store, driver)
    op = lifecycle.instantiate(demo)
    assert op.state == OperationState.COMPLETED, op.error
    service = store.services.get(op.service_id)
    # every VNF runs on the adaptor, which accounted for its cores and memory (MB)
    assert set(adaptor.functions) == {v.id for v in service.vnf_instances}
    assert sum(v["core_used"] for v in adaptor.vims.values()) == 3
    assert sum(v["memory_used"] for v in adaptor.vims.values()) == 3 * 2048
    # the deploy requests are SONATA's: instance uuid, unit ids suffixed with it, each point
    # on a network created on that VIM before (the adaptor refuses one that is not)
    deploys = adaptor.raw_requests(DEPLOY)
    assert len(deploys) == 3
    for request in deploys:
        vnfd = request["vnfd"]
        assert request["service_instance_id"] == op.service_id and request["vim_uuid"] in adaptor.vims
        assert all(du["id"].endswith("-" + vnfd["instance_uuid"]) for du in vnfd["virtual_deployment_units"])
    creates = adaptor.raw_requests(CREATE)
    created = {link["id"] for c in creates for v in c["vim_list"] for link in v["virtual_links"]}
    assert created == {network_id(op.service_id, vl.id) for vl in demo.nsd.virtual_links}
    # the records hold the addresses the adaptor handed out
    for ref in service.vnf_instances:
        vnfr = store.vnfr.get(ref.id)
        assert vnfr.vnf_state == VnfState.RUNNING and vnfr.vim == "sonata-ia"
        points = vnfr.virtual_deployment_units[0]["vnfc_instance"][0]["connection_points"]
        assert points and all(cp["interface"]["address"].startswith("10.") for cp in points)

    # reconfigure: SONATA's env injection, one entry per deployment unit, on the VNF's VIM
    firewall = next(v.id for v in service.vnf_instances if v.vnf_id == "vnf_firewall")
    done = lifecycle.run(lifecycle.slm.request(op.service_id, OperationType.RECONFIGURE,
                                               {"payload": {"functions": {"vnf_firewall": {"envs": {"FW": "drop"}}}}}))
    assert done.state == OperationState.COMPLETED, done.error
    (configure,) = adaptor.raw_requests("infrastructure.function.configure")
    assert configure["func_id"] == firewall and configure["vim_uuid"] == adaptor.functions[firewall]["vim"]
    assert adaptor.functions[firewall]["envs"] == {f"vdu01-{firewall}": {"FW": "drop"}}

    term = lifecycle.terminate(op.service_id)
    assert term.state == OperationState.COMPLETED, term.error
    assert adaptor.functions == {}
    assert all(v["core_used"] == 0 and v["memory_used"] == 0 for v in adaptor.vims.values())
    assert {r["vnf_uuid"] for r in adaptor.raw_requests(REMOVE)} == {v.id for v in service.vnf_instances}
    # the service is removed from each VIM it used, once, in SONATA's JSON
    removes = adaptor.raw_requests(SERVICE_REMOVE)
    assert sorted(r["vim_uuid"] for r in removes) == sorted({d["vim_uuid"] for d in deploys})
    assert all(r["instance_uuid"] == op.service_id for r in removes)
    assert not any(adaptor.networks[op.service_id].values())


def test_the_adaptors_refusal_fails_the_operation_with_its_message(store, driver, adaptor, demo):
    adaptor.fail_next[DEPLOY] = "no flavor fits vdu01"
    op = Lifecycle(store, driver).instantiate(demo)
    assert op.state == OperationState.ROLLED_BACK
    assert "no flavor fits vdu01" in op.error and "refused" in op.error
    assert op.step("deploy_vnfs").attempts == 1  # the adaptor's refusal is not retried
    # what did deploy was removed again, and the service left the VIMs it used
    assert adaptor.functions == {}
    assert adaptor.raw_requests(SERVICE_REMOVE)


def test_a_deploy_whose_reply_was_lost_is_retried_without_duplicates(store, settings, adaptor, demo):
    """The adaptor deploys a VNF but its reply is lost: the step's retry removes that deployment
    first (SONATA's adaptor has no topic to ask what runs; it refuses a duplicate), asks for no
    network twice (a link's id is derived from the service and the link), and the service
    ends with exactly its three VNFs."""
    driver = SonataIaVim(settings, timeout_s=1.0)
    try:
        adaptor.drop_next.add(DEPLOY)
        op = Lifecycle(store, driver).instantiate(demo)
        assert op.state == OperationState.COMPLETED, op.error
        assert op.step("deploy_vnfs").attempts == 2
        service = store.services.get(op.service_id)
        assert set(adaptor.functions) == {v.id for v in service.vnf_instances}
        first = adaptor.raw_requests(DEPLOY)[0]["vnfd"]["instance_uuid"]
        assert [r["vnf_uuid"] for r in adaptor.raw_requests(REMOVE)] == [first]
        ids = [link["id"] for c in adaptor.raw_requests(CREATE) for v in c["vim_list"] for link in v["virtual_links"]]
        assert len(ids) == len(set(ids)) == len(demo.nsd.virtual_links)
        assert sum(v["core_used"] for v in adaptor.vims.values()) == 3
    finally:
        driver.close()


def test_an_adaptor_that_does_not_answer_is_a_temporary_error(settings, broker_url, exchange):
    silent = ContractAdaptor(broker_url, exchange, vims(), answer=False)
    driver = SonataIaVim(settings, timeout_s=0.5)
    try:
        with pytest.raises(TemporaryVimError, match="did not answer the VIM list") as info:
            driver.list_pops()
        assert info.value.retryable
        assert silent.raw_requests("infrastructure.management.compute.list")  # it was asked
    finally:
        driver.close()
        silent.close()


def test_no_broker_is_a_temporary_error_that_names_it():
    with pytest.raises(TemporaryVimError, match="broker is unreachable"):
        SonataIaVim(Settings(broker_url="amqp://guest:guest@127.0.0.1:1/%2F"), timeout_s=1.0)


def test_a_restarted_driver_takes_its_vnfs_back_from_the_records(store, settings, driver, adaptor, demo):
    op = Lifecycle(store, driver).instantiate(demo)
    assert op.state == OperationState.COMPLETED, op.error
    restarted = SonataIaVim(settings, timeout_s=5.0)  # an adaptor actor that restarted: memory lost
    try:
        live = store.vnfr.find({"vim": "sonata-ia", "vnf_state": {"$ne": VnfState.TERMINATED.value}})
        networks = {op.service_id: dict(store.services.get(op.service_id).networks)}
        assert restarted.adopt_records(live, networks) == 3
        assert set(restarted.deployments()) == set(adaptor.functions)
        lifecycle = Lifecycle(store, restarted)
        used = {f["vim"] for f in adaptor.functions.values()}
        # new VNFs after the restart: on a VIM the service did not use (its networks are created
        # there), and on one it did (whose networks the restarted driver cannot know are there)
        for vim in sorted({"vim-0", "vim-1"} - used) + sorted(used):
            out = lifecycle.run(lifecycle.slm.request(op.service_id, OperationType.SCALE_OUT,
                                                      {"vnf_id": "vnf_firewall", "count": 1, "pop": vim}))
            assert out.state == OperationState.COMPLETED, out.error
        assert len(adaptor.functions) == 5
        # an adopted VNF is configured by its units' SONATA ids, as before the restart
        adopted = next(iter(live))
        done = lifecycle.run(lifecycle.slm.request(op.service_id, OperationType.RECONFIGURE,
                                                   {"payload": {"functions": {adopted.id: {"envs": {"A": "1"}}}}}))
        assert done.state == OperationState.COMPLETED, done.error
        unit = adopted.virtual_deployment_units[0]["vdu_reference"].rsplit(":", 1)[1]
        assert adaptor.functions[adopted.id]["envs"] == {f"{unit}-{adopted.id}": {"A": "1"}}
        term = lifecycle.terminate(op.service_id)
        assert term.state == OperationState.COMPLETED, term.error
        assert adaptor.functions == {}
        used = {d["vim_uuid"] for d in adaptor.raw_requests(DEPLOY)}
        assert {r["vim_uuid"] for r in adaptor.raw_requests(SERVICE_REMOVE)} == used
    finally:
        restarted.close()
