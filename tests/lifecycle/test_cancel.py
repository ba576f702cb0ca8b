"""An operator's cancel of a running operation (SOL005's graceful cancel): the step under way
finishes, the operation goes FAILED_TEMP at the next step boundary, and the operator then
retries it (it resumes there) or rolls it back. In-process, emulated VIM."""
from __future__ import annotations

import pytest

from mano.errors import OperationNotRunningError, UnknownOperationError
from mano.lifecycle.local import FirstFitPlacement
from mano.lifecycle.states import OperationState, OperationType, ServiceState, StepState
from mano.vim.emulated import FaultPlan


class CancellingPlacement(FirstFitPlacement):
    """Places like first fit, and meanwhile the operator cancels the operation placing it."""

    def __init__(self, harness, reason=None):
        self.harness, self.reason, self.cancelled = harness, reason, []

    def place(self, request):
        op_id = self.harness.store.services.get(request.service_id).current_operation
        self.cancelled.append(self.harness.slm.cancel(op_id, self.reason).id)
        return super().place(request)


def test_a_cancel_during_a_step_lets_it_finish_and_holds_the_operation_before_the_next(harness, demo, store):
    harness.placement = CancellingPlacement(harness, "maintenance window")
    op = harness.instantiate(demo)
    assert harness.placement.cancelled == [op.id]
    assert op.state == OperationState.FAILED_TEMP
    assert op.error == "cancelled before step create_networks: maintenance window"
    assert op.step("place").state == StepState.DONE  # the step under way was let finish
    assert op.step("create_networks").state == StepState.PENDING and op.finished_at is None
    service = store.services.get(op.service_id)
    assert service.state == ServiceState.INSTANTIATING and service.current_operation == op.id
    assert harness.used() == {"pop-0": (0.0, 0.0), "pop-1": (0.0, 0.0)}  # nothing deployed yet
    again = harness.run(op)  # a host resuming it (after a restart): it stays held
    assert again.state == OperationState.FAILED_TEMP


def test_a_cancelled_operation_is_retried_from_where_it_stopped(harness, demo, store):
    harness.placement = CancellingPlacement(harness)
    op = harness.instantiate(demo)
    assert op.error == "cancelled before step create_networks: cancelled by the operator"
    harness.placement = FirstFitPlacement()
    done = harness.run(harness.slm.retry(op.id))
    assert done.state == OperationState.COMPLETED, done.error
    assert done.step("place").attempts == 1  # resumed after it, not run again
    assert store.cancellations.find_one(op.id) is None  # the retry answered the cancel
    assert store.services.get(op.service_id).state == ServiceState.READY


def test_a_cancelled_operation_is_rolled_back(harness, demo, store):
    op = harness.instantiate(demo)
    harness.placement = CancellingPlacement(harness)
    out = harness.run(harness.slm.request(op.service_id, OperationType.SCALE_OUT, {"vnf_id": "vnf_iperf"}))
    assert out.state == OperationState.FAILED_TEMP and out.error.startswith("cancelled before step")
    done = harness.run(harness.slm.roll_back(out.id))
    assert done.state == OperationState.ROLLED_BACK
    service = store.services.get(op.service_id)
    assert service.state == ServiceState.READY and len([v for v in service.vnf_instances if v.live]) == 3
    assert sum(cores for cores, _ in harness.used().values()) == 3.0
    assert store.cancellations.find_one(out.id) is None


def test_a_cancel_stops_the_retries_of_a_failing_step(harness, demo, store, monkeypatch):
    """The cancel arrives while a step fails temporarily: it is not retried again, and the
    operation is held with both reasons."""
    harness.vim_driver.inject_fault(FaultPlan(vnf_name="iperf-vnf", temporary=True, times=100,
                                              message="VIM API unreachable"))
    deploy = harness.vim_driver.deploy_vnf

    def deploy_and_cancel(deployment):
        service = store.services.find_one(deployment.service_id)
        if service is not None and service.current_operation and not store.cancellations.find_one(
                service.current_operation):
            harness.slm.cancel(service.current_operation, "operator gave up on the VIM")
        return deploy(deployment)

    monkeypatch.setattr(harness.vim_driver, "deploy_vnf", deploy_and_cancel)
    op = harness.instantiate(demo)
    assert op.state == OperationState.FAILED_TEMP
    assert op.step("deploy_vnfs").attempts == 1  # the retry policy would have tried 3 times
    assert "VIM API unreachable" in op.error and "not retried: cancelled: operator gave up on the VIM" in op.error


def test_only_a_running_operation_can_be_cancelled(harness, demo, store):
    op = harness.instantiate(demo)
    with pytest.raises(OperationNotRunningError, match=f"operation {op.id} is COMPLETED: only a PROCESSING"):
        harness.slm.cancel(op.id)
    with pytest.raises(UnknownOperationError, match="no operation 'nope'"):
        harness.slm.cancel("nope")
    harness.vim_driver.inject_fault(FaultPlan(vnf_name="iperf-vnf", temporary=True, times=3))
    held = harness.run(harness.slm.request(op.service_id, OperationType.SCALE_OUT, {"vnf_id": "vnf_iperf"}))
    assert held.state == OperationState.FAILED_TEMP
    with pytest.raises(OperationNotRunningError, match="is FAILED_TEMP: .*retry it or roll it back"):
        harness.slm.cancel(held.id)
    assert store.cancellations.count() == 0  # a refused cancel records nothing
