"""Reconfigure without a configure SSM: the payload's environment reaches each VNF on the VIM,
is recorded on its VNFR, survives a heal; a malformed payload is refused when requested; FSM
envs (start, configure) are pushed to the VIM as SONATA's FLM did."""
from __future__ import annotations

import pytest

from lifecycle_harness import Harness
from mano.descriptors import load_service
from mano.errors import LifecycleError
from mano.lifecycle.states import OperationState, OperationType
from mano.lifecycle.vim_port import Pop
from mano.sm.local import LocalSpecificManagers
from paths import EXAMPLES

PAYLOAD = {"envs": {"LOG_LEVEL": "debug"},
           "functions": {"vnf_firewall": {"envs": {"FW_POLICY": "drop", "LOG_LEVEL": "info"}}}}


def reconfigure(harness, service_id, payload):
    return harness.run(harness.slm.request(service_id, OperationType.RECONFIGURE, {"payload": payload}))


def by_vnf(store, service_id):
    return {v.vnf_id: v.id for v in store.services.get(service_id).vnf_instances if v.live}


def test_the_payloads_environment_reaches_every_vnf_and_its_record(harness, demo, store):
    op = harness.instantiate(demo)
    ids = by_vnf(store, op.service_id)
    versions = {i: store.vnfr.get(i).version for i in ids.values()}
    done = reconfigure(harness, op.service_id, PAYLOAD)
    assert done.state == OperationState.COMPLETED, done.error
    # later sources win: the firewall's own entry over the payload's envs
    assert harness.vim_driver.configuration(ids["vnf_firewall"]) == {"LOG_LEVEL": "info", "FW_POLICY": "drop"}
    assert harness.vim_driver.configuration(ids["vnf_iperf"]) == {"LOG_LEVEL": "debug"}
    firewall = store.vnfr.get(ids["vnf_firewall"])
    assert firewall.envs == {"LOG_LEVEL": "info", "FW_POLICY": "drop"}
    assert int(firewall.version) == int(versions[ids["vnf_firewall"]]) + 1
    assert "envs" not in firewall.to_sonata()  # mano's field, not SONATA's record
    assert done.step("configure_vnfs").result["envs"][ids["vnf_iperf"]] == {"LOG_LEVEL": "debug"}


def test_one_instance_by_id_and_a_repeat_changes_nothing(harness, demo, store):
    op = harness.instantiate(demo)
    ids = by_vnf(store, op.service_id)
    payload = {"functions": {ids["vnf_tcpdump"]: {"envs": {"CAPTURE": "eth0", "SNAPLEN": 96}}}}
    assert reconfigure(harness, op.service_id, payload).state == OperationState.COMPLETED
    calls = []
    original = harness.vim_driver.configure_vnf
    harness.vim_driver.configure_vnf = lambda *a, **k: (calls.append(a), original(*a, **k))
    version = store.vnfr.get(ids["vnf_tcpdump"]).version
    assert reconfigure(harness, op.service_id, payload).state == OperationState.COMPLETED
    assert calls == [] and store.vnfr.get(ids["vnf_tcpdump"]).version == version  # already so
    assert harness.vim_driver.configuration(ids["vnf_tcpdump"]) == {"CAPTURE": "eth0", "SNAPLEN": "96"}
    assert harness.vim_driver.configuration(ids["vnf_iperf"]) == {}


def test_a_healed_vnf_gets_its_configuration_back(harness, demo, store):
    op = harness.instantiate(demo)
    ids = by_vnf(store, op.service_id)
    assert reconfigure(harness, op.service_id, PAYLOAD).state == OperationState.COMPLETED
    harness.vim_driver.crash_vnf(ids["vnf_firewall"])
    heal = harness.run(harness.slm.request(op.service_id, OperationType.HEAL, {"vnf_instance_id": ids["vnf_firewall"]}))
    assert heal.state == OperationState.COMPLETED, heal.error
    assert harness.vim_driver.configuration(ids["vnf_firewall"]) == {"LOG_LEVEL": "info", "FW_POLICY": "drop"}
    assert store.vnfr.get(ids["vnf_firewall"]).envs == {"LOG_LEVEL": "info", "FW_POLICY": "drop"}


@pytest.mark.parametrize("payload, message", [
    ({"envs": {"BAD NAME": "x"}}, "reconfiguration_payload.envs: 'BAD NAME' is not an environment variable name"),
    ({"envs": {"RULES": {"a": 1}}}, "reconfiguration_payload.envs.RULES: a value must be a string or number"),
    ({"envs": {"RULES": "a\nb"}}, "may not hold a newline"),
    ({"envs": ["A=1"]}, "reconfiguration_payload.envs is not a mapping"),
    ({"functions": {"vnf_nothing": {"envs": {"A": 1}}}}, "has no network function or live VNF instance 'vnf_nothing'"),
    ({"functions": {"vnf_firewall": "A=1"}}, "reconfiguration_payload.functions.vnf_firewall is not a mapping"),
])
def test_a_malformed_payload_is_refused_when_requested(harness, demo, store, payload, message):
    op = harness.instantiate(demo)
    with pytest.raises(LifecycleError, match=message.replace(".", r"\.")):
        harness.slm.request(op.service_id, OperationType.RECONFIGURE, {"payload": payload})
    assert store.operations.count({"service_id": op.service_id, "type": OperationType.RECONFIGURE.value}) == 0
    assert store.services.get(op.service_id).state.value == "READY"


def test_a_vim_that_cannot_configure_fails_the_operation_with_why(harness, demo, store):
    op = harness.instantiate(demo)

    def refuse(*_args, **_kwargs):
        from mano.vim.emulated import EmulatedVim
        return super(EmulatedVim, harness.vim_driver).configure_vnf(*_args, **_kwargs)  # the driver port's default
    harness.vim_driver.configure_vnf = refuse
    done = reconfigure(harness, op.service_id, {"envs": {"A": "1"}})
    assert done.state != OperationState.COMPLETED
    assert "the emulated VIM cannot configure a running VNF" in done.error


def test_fsm_envs_of_start_and_configure_reach_the_vim(store):
    pops = [Pop(vim_uuid="pop-0", name="pop0", city="c0", core_total=16, memory_total=64)]
    harness = Harness(store, pops)
    harness.sms = LocalSpecificManagers(store)
    try:
        op = harness.instantiate(load_service(EXAMPLES / "ssm" / "fsm-start-stop"))
        assert op.state == OperationState.COMPLETED, op.error
        firewall = by_vnf(store, op.service_id)["vnf_firewall"]
        started = harness.vim_driver.configuration(firewall)
        assert started["FW_POLICY"] == "drop-invalid" and started["MANO_INSTANCE"] == firewall
        assert store.vnfr.get(firewall).envs == started
        # the configure FSM turns the payload's per-VNF configuration into CFG_ variables
        done = reconfigure(harness, op.service_id, {"functions": {"vnf_firewall": {"next_hop": "vnf_tcpdump"}}})
        assert done.state == OperationState.COMPLETED, done.error
        assert harness.vim_driver.configuration(firewall)["CFG_NEXT_HOP"] == "vnf_tcpdump"
        assert harness.vim_driver.configuration(firewall)["FW_POLICY"] == "drop-invalid"  # merged over
    finally:
        for record in store.services.find():
            harness.sms.terminate(record.id)


def sm_harness_two_pops(store):
    pops = [Pop(vim_uuid=f"pop-{i}", name=f"pop{i}", city=f"c{i}", core_total=16, memory_total=64) for i in range(2)]
    harness = Harness(store, pops)
    harness.sms = LocalSpecificManagers(store)
    return harness


def test_a_migration_moves_the_vnfs_state_through_its_state_fsm(store):
    harness = sm_harness_two_pops(store)
    try:
        op = harness.instantiate(load_service(EXAMPLES / "ssm" / "fsm-start-stop"))
        assert op.state == OperationState.COMPLETED, op.error
        old = by_vnf(store, op.service_id)["vnf_firewall"]
        pop = store.services.get(op.service_id).vnf_instance(old).pop
        target = "pop-1" if pop == "pop-0" else "pop-0"
        # the FSM remembers the firewall's configuration (its configure hook)
        reconfigure(harness, op.service_id, {"functions": {"vnf_firewall": {"next_hop": "vnf_tcpdump"}}})
        mig = harness.run(harness.slm.request(op.service_id, OperationType.MIGRATE,
                                              {"vnf_instance_id": old, "pop": target}))
        assert mig.state == OperationState.COMPLETED, mig.error
        new = by_vnf(store, op.service_id)["vnf_firewall"]
        assert new != old and store.services.get(op.service_id).vnf_instance(new).pop == target
        moved = mig.step("transfer_state").result
        assert (moved["extracted_from"], moved["injected_into"]) == (old, new)
        assert moved["override"] == "vnf_firewall/firewall-env"
        # the state arrived: the new instance is configured from it, the old one is gone
        assert harness.vim_driver.configuration(new)["CFG_NEXT_HOP"] == "vnf_tcpdump"
        assert store.vnfr.get(new).envs["CFG_NEXT_HOP"] == "vnf_tcpdump"
        assert store.vnfr.get(old).to_sonata()["status"] == "terminated"
        names = [s.name for s in mig.steps]
        assert names.index("transfer_state") < names.index("stop_vnfs")  # before the old one stops
    finally:
        for record in store.services.find():
            harness.sms.terminate(record.id)


def test_a_state_that_cannot_be_injected_keeps_the_old_instance(store):
    from mano.lifecycle.sm_port import SmOutcome

    harness = sm_harness_two_pops(store)
    try:
        op = harness.instantiate(load_service(EXAMPLES / "ssm" / "fsm-start-stop"))
        old = by_vnf(store, op.service_id)["vnf_firewall"]
        pop = store.services.get(op.service_id).vnf_instance(old).pop
        real = harness.sms.fsm

        def failing_inject(service_id, vnf_id, kind, payload, **kwargs):
            if kind == "state" and payload["data"].get("action") == "inject":
                return SmOutcome(used=False, reason="raised RuntimeError: disk full")
            return real(service_id, vnf_id, kind, payload, **kwargs)
        harness.sms.fsm = failing_inject
        mig = harness.run(harness.slm.request(op.service_id, OperationType.MIGRATE,
                                              {"vnf_instance_id": old, "pop": "pop-1" if pop == "pop-0" else "pop-0"}))
        assert mig.state == OperationState.ROLLED_BACK
        assert "was extracted but not injected" in mig.error and "disk full" in mig.error
        assert by_vnf(store, op.service_id)["vnf_firewall"] == old  # it still runs where it was
        assert harness.vim_driver.vnf_status(old) == "running"
        assert len([v for v in store.services.get(op.service_id).vnf_instances if v.live]) == 3
    finally:
        for record in store.services.find():
            harness.sms.terminate(record.id)
