"""SSM/FSM overrides change the workflow as declared, in-process (the examples in examples/ssm)."""
from __future__ import annotations

import pytest

from lifecycle_harness import Harness
from mano.descriptors import load_service
from mano.lifecycle.states import OperationState, OperationType
from mano.sm.local import LocalSpecificManagers
from mano.lifecycle.vim_port import Pop
from paths import EXAMPLES

CITIES = ("Athens", "Aveiro", "Ghent")


@pytest.fixture
def sm_harness(store):
    pops = [Pop(vim_uuid=f"pop-{c.lower()}", name=c, city=c, core_total=16, memory_total=64) for c in CITIES]
    harness = Harness(store, pops)
    harness.sms = LocalSpecificManagers(store)
    yield harness
    for record in store.services.find():
        harness.sms.terminate(record.id)


def pops_of(store, service_id):
    return {v.vnf_id: v.pop for v in store.services.get(service_id).vnf_instances}


def test_placement_ssm_pins_by_its_rule(sm_harness, store):
    op = sm_harness.instantiate(load_service(EXAMPLES / "ssm" / "placement-pinning"))
    assert op.state == OperationState.COMPLETED, op.error
    assert op.step("place").result["override"] == "pin-by-rule"
    assert pops_of(store, op.service_id) == {"vnf_firewall": "pop-athens", "vnf_iperf": "pop-ghent",
                                            "vnf_tcpdump": "pop-ghent"}
    assert store.specific_managers.count({"owner_id": op.service_id}) >= 1


def test_task_ssm_reorders_the_schedule(sm_harness):
    # The order the VNF steps really ran in, from the calls they make (step timestamps are
    # milliseconds: on the in-memory store two steps often start within the same one).
    ran: list[str] = []
    for method, step in (("deploy", "deploy_vnfs"), ("start", "start_vnfs"), ("configure", "configure_vnfs")):
        original = getattr(sm_harness.functions, method)

        def recording(*args, _original=original, _step=step, **kwargs):
            ran.append(_step)
            return _original(*args, **kwargs)
        setattr(sm_harness.functions, method, recording)
    op = sm_harness.instantiate(load_service(EXAMPLES / "ssm" / "task-reorder"))
    assert op.state == OperationState.COMPLETED, op.error
    task = op.step("task_ssm")
    default = ["place", "create_networks", "deploy_vnfs", "start_vnfs", "configure_vnfs", "store_records"]
    assert task.result.get("override") and task.result["schedule"] != default
    vnf_steps = [s for s in task.result["schedule"] if s in ("deploy_vnfs", "start_vnfs", "configure_vnfs")]
    assert [s for i, s in enumerate(ran) if i == 0 or ran[i - 1] != s] == vnf_steps
    assert vnf_steps != [s for s in default if s in vnf_steps]  # the reordering is among them


def test_configure_ssm_and_fsms_are_recorded(sm_harness):
    op = sm_harness.instantiate(load_service(EXAMPLES / "ssm" / "configure-chain"))
    assert op.state == OperationState.COMPLETED, op.error
    configure = op.step("configure_vnfs").result
    assert configure.get("override") and configure.get("config")
    fsm_op = sm_harness.instantiate(load_service(EXAMPLES / "ssm" / "fsm-start-stop"))
    assert fsm_op.state == OperationState.COMPLETED, fsm_op.error
    started = fsm_op.step("start_vnfs").result["fsm"]
    assert any(o.get("override") for o in started.values())
    term = sm_harness.run(sm_harness.slm.request(fsm_op.service_id, OperationType.TERMINATE))
    assert term.state == OperationState.COMPLETED
    assert any(o.get("override") for o in term.step("stop_vnfs").result["fsm"].values())
    assert term.step("terminate_sms").state.value == "DONE"
