"""An operation whose step still fails temporarily after its retries waits FAILED_TEMP for the
operator, who retries it (it resumes at that step) or rolls it back: in-process, emulated VIM."""
from __future__ import annotations

import pytest

from mano.errors import InstanceBusyError, OperationNotHeldError, UnknownOperationError
from mano.lifecycle.states import OperationState, OperationType, ServiceState, StepState, VnfState
from mano.vim.emulated import FaultPlan

# The controller tries a step 3 times (RetryPolicy's default): 3 faults use up one round.
ROUND = 3


def held_instantiation(harness, demo, times=ROUND):
    harness.vim_driver.inject_fault(FaultPlan(vnf_name="iperf-vnf", temporary=True, times=times,
                                              message="VIM API unreachable"))
    op = harness.instantiate(demo)
    assert op.state == OperationState.FAILED_TEMP, op.error
    return op


def test_a_temporary_fault_past_the_retries_holds_the_instantiation(harness, demo, store):
    op = held_instantiation(harness, demo)
    assert "deploy_vnfs failed temporarily" in op.error and "VIM API unreachable" in op.error
    assert op.step("deploy_vnfs").state == StepState.FAILED and op.step("deploy_vnfs").attempts == ROUND
    assert op.step("place").state == StepState.DONE and op.finished_at is None
    # Nothing was undone and the service stays claimed by the operation: what did deploy is there.
    service = store.services.get(op.service_id)
    assert service.state == ServiceState.INSTANTIATING and service.current_operation == op.id
    assert sum(cores for cores, _ in harness.used().values()) == 2.0  # firewall and tcpdump
    # Run again (a host resuming it after a restart): it stays held, nothing is retried.
    again = harness.run(op)
    assert again.state == OperationState.FAILED_TEMP and again.step("deploy_vnfs").attempts == ROUND


def test_retry_resumes_at_the_failed_step_and_completes(harness, demo, store):
    op = held_instantiation(harness, demo)
    retried = harness.slm.retry(op.id)
    assert retried.state == OperationState.PROCESSING and retried.retries == 1 and retried.error is None
    done = harness.run(retried)
    assert done.state == OperationState.COMPLETED, done.error
    assert done.step("deploy_vnfs").attempts == ROUND + 1 and done.step("place").attempts == 1
    service = store.services.get(op.service_id)
    assert service.state == ServiceState.READY and service.current_operation is None
    assert {store.vnfr.get(v.id).vnf_state for v in service.vnf_instances} == {VnfState.RUNNING}
    assert sum(cores for cores, _ in harness.used().values()) == 3.0


def test_a_retry_that_fails_temporarily_again_is_held_again_with_a_fresh_round(harness, demo):
    op = held_instantiation(harness, demo, times=2 * ROUND)
    again = harness.run(harness.slm.retry(op.id))
    assert again.state == OperationState.FAILED_TEMP and again.step("deploy_vnfs").attempts == 2 * ROUND
    done = harness.run(harness.slm.retry(op.id))
    assert done.state == OperationState.COMPLETED and done.retries == 2


def test_rollback_undoes_a_held_instantiation(harness, demo, store):
    op = held_instantiation(harness, demo)
    rolling = harness.slm.roll_back(op.id)
    assert rolling.state == OperationState.ROLLING_BACK
    done = harness.run(rolling)
    assert done.state == OperationState.ROLLED_BACK and "VIM API unreachable" in done.error
    assert done.step("create_networks").state == StepState.ROLLED_BACK
    assert store.services.get(op.service_id).state == ServiceState.FAILED
    assert harness.used() == {"pop-0": (0.0, 0.0), "pop-1": (0.0, 0.0)}
    assert all(r.to_sonata()["status"] == "terminated" for r in store.vnfr.find({"service_id": op.service_id}))


def test_rollback_of_a_held_scale_out_leaves_the_service_ready_as_before(harness, demo, store):
    op = harness.instantiate(demo)
    harness.vim_driver.inject_fault(FaultPlan(vnf_name="iperf-vnf", temporary=True, times=ROUND))
    out = harness.run(harness.slm.request(op.service_id, OperationType.SCALE_OUT, {"vnf_id": "vnf_iperf"}))
    assert out.state == OperationState.FAILED_TEMP
    assert store.services.get(op.service_id).state == ServiceState.SCALING
    done = harness.run(harness.slm.roll_back(out.id))
    assert done.state == OperationState.ROLLED_BACK
    service = store.services.get(op.service_id)
    assert service.state == ServiceState.READY and len([v for v in service.vnf_instances if v.live]) == 3
    assert sum(cores for cores, _ in harness.used().values()) == 3.0


def test_a_held_operation_keeps_other_requests_out_and_says_why(harness, demo):
    op = held_instantiation(harness, demo)
    with pytest.raises(InstanceBusyError, match=f"still going on, rejected: .* {op.id} is FAILED_TEMP"):
        harness.slm.request(op.service_id, OperationType.TERMINATE)


def test_only_a_held_operation_can_be_retried_or_rolled_back(harness, demo):
    op = harness.instantiate(demo)
    assert op.state == OperationState.COMPLETED
    with pytest.raises(OperationNotHeldError, match=f"operation {op.id} is COMPLETED: only a FAILED_TEMP"):
        harness.slm.retry(op.id)
    with pytest.raises(OperationNotHeldError, match="can be rolled back"):
        harness.slm.roll_back(op.id)
    with pytest.raises(UnknownOperationError, match="no operation 'nope'"):
        harness.slm.retry("nope")
    held = held_instantiation(harness, demo)
    harness.slm.retry(held.id)
    with pytest.raises(OperationNotHeldError, match="is PROCESSING"):  # a second retry meanwhile
        harness.slm.retry(held.id)


def test_recovery_leaves_a_held_operation_to_the_operator(harness, demo):
    op = held_instantiation(harness, demo)
    assert op.id not in {o.id for o in harness.slm.in_flight()}
    assert harness.controller(op.service_id).pending_operation() is None
