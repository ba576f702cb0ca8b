"""One service instance's controller: runs its operations and owns its state machine.

The ServiceInstance actor is a thin shell over this class. ``run`` is safe to call again on
the same operation after a crash: the workflow resumes from the persisted step progress.

Wherever it is hosted, ``run`` first takes the service's lease (:mod:`mano.lifecycle.lease`) and
writes the service's records only through the store fenced with the lease's token: two hosts
asked to run the same service at once (an actor and the SLM, a restarted actor and its zombie)
never both make progress. The one that finds the lease held gets :class:`LeaseHeldError`.
"""
from __future__ import annotations

import logging
from typing import Any

from mano.errors import LeaseHeldError
from mano.lifecycle.lease import InstanceLeases, service_key
from mano.lifecycle.ports import Functions, Infrastructure, Placement
from mano.lifecycle.states import (SERVICE_TRANSITIONS, OperationState, OperationType, ServiceState,
                                   transition)
from mano.lifecycle.workflow import RetryPolicy, WorkflowRunner
from mano.lifecycle.workflows import ServiceWorkflows
from mano.records import OperationRecord, ServiceRecord

log = logging.getLogger(__name__)

# Where a service goes when an operation of that type completes.
SUCCESS_STATE = {OperationType.TERMINATE: ServiceState.TERMINATED}


class ServiceController:
    def __init__(self, service_id: str, store: Any, functions: Functions, infrastructure: Infrastructure,
                 placement: Placement, *, retry: RetryPolicy = RetryPolicy(), sms: Any = None,
                 leases: InstanceLeases | None = None, lease_wait_s: float = 1.0, cancel_check_s: float = 1.0):
        """``leases``: the host's lease keeper (default: one of its own, which does not linger);
        ``lease_wait_s``: how long ``run`` waits for a lease another host holds (the time for a
        host that just finished to hand a lingering lease over), before it leaves the operation
        to that host; ``cancel_check_s``: how often a run reads the operator's cancel requests
        (``WorkflowRunner``: an operation quicker than that reads none)."""
        self.service_id = service_id
        self.store = store
        self.leases = leases or InstanceLeases.private(store.leases)
        self.workflows = ServiceWorkflows(service_id, store, functions, infrastructure, placement, sms)
        self._retry = retry
        self._lease_wait_s = lease_wait_s
        self._cancel_check_s = cancel_check_s

    def record(self) -> ServiceRecord:
        return self.store.services.get(self.service_id)

    def pending_operation(self) -> str | None:
        """The operation to resume, if one was in flight when the previous actor stopped."""
        record = self.store.services.find_one(self.service_id)
        if record is None or record.current_operation is None:
            return None
        op = self.store.operations.find_one(record.current_operation)
        return None if op is None or op.state.is_settled else op.id

    def run(self, operation_id: str) -> OperationRecord:
        """Run (or resume) the operation under the service's lease; return it final.

        Raises:
            LeaseHeldError: another activation runs this service now.
            FencedOutError: the lease was taken over while this one ran (this host stalled).
        """
        key = service_key(self.service_id)
        try:
            grant = self.leases.acquire(key)
        except LeaseHeldError:
            # Another host runs the service: if it has finished this operation, that is the answer
            # (a repeated request); else wait a moment for it to hand the lease over.
            op = self.store.operations.get(operation_id)
            if op.state.is_settled:
                return op
            grant = self.leases.acquire_within(key, self._lease_wait_s)
        # The operation is read once, under the lease: read before it, it could be moved on by
        # the host that held the lease until then.
        with self.leases.holding(grant, fence=self._fence) as token:
            store = self.store.fenced(token)
            self.workflows.store = store
            try:
                return self._run(store, operation_id)
            finally:
                self.workflows.store = self.store

    def _fence(self, token: int) -> None:
        """Shut a former holder out of the service's records (it may still be running)."""
        self.store.services.raise_fence({"id": self.service_id}, token)
        self.store.nsr.raise_fence({"id": self.service_id}, token)
        self.store.operations.raise_fence({"service_id": self.service_id}, token)
        self.workflows.use(None)  # its copy of the service record predates the fence

    def _run(self, store: Any, operation_id: str) -> OperationRecord:
        op = store.operations.get(operation_id)
        if op.state.is_settled:
            return op
        record = store.services.find_one(self.service_id)
        if record is None or (record.current_operation != op.id and not op.steps):
            # Admission was interrupted (the SLM died between recording the operation and
            # claiming the service): the request was never applied, so it must not run now.
            reason = "admission was interrupted before the service took the request; it was not applied"
            return store.operations.mutate(op.id, lambda o: o.with_state(OperationState.FAILED, error=reason)
                                           if not o.state.is_final else o)
        self.workflows.use(record)
        log.info("service %s: running %s operation %s", self.service_id, op.type.value, op.id)
        runner = WorkflowRunner(store.operations.update, retry=self._retry, cancelled=self.store.cancellations.reason,
                                cancel_check_s=self._cancel_check_s)
        return runner.run(op, self.workflows.plan, finalize=self._finalize)

    def _finalize(self, op: OperationRecord) -> None:
        """Record the service's new state before the operation is announced final."""
        if op.state == OperationState.COMPLETED:
            target = SUCCESS_STATE.get(op.type, ServiceState.READY)
        elif op.type == OperationType.INSTANTIATE:
            target = ServiceState.FAILED
        elif op.type == OperationType.TERMINATE:
            target = ServiceState.TERMINATED  # termination is best effort; errors stay on the operation
        else:
            target = ServiceState.READY  # the failed change was rolled back

        def change(record: ServiceRecord) -> ServiceRecord:
            if record.current_operation not in (None, op.id):
                return record
            state = transition(SERVICE_TRANSITIONS, record.state, target, what=f"service {record.id}")
            return record.model_copy(update={"state": state, "current_operation": None})
        self.workflows.mutate_service(change)
