"""Service lifecycle manager core: admits requests and records them as operations.

Admission is where SONATA's request errors come from: an unknown instance, a terminated one
("nsr already terminated"), a busy one ("Workflow for service still going on, rejected"), a
scale-in below one instance ("Not enough instances running"). An admitted request exists as
an operation record (PROCESSING) and the service carries it as ``current_operation`` before
anyone is told; the ServiceInstance actor then runs it. Requests are idempotent by operation
id: asking again with the same id returns the existing operation instead of starting another.
"""
from __future__ import annotations

import uuid
from typing import Any, Callable, Mapping

from mano.descriptors.service import ServicePackage
from mano.errors import (AlreadyTerminatedError, BadRequestError, DuplicateRecordError, InstanceBusyError,
                         LifecycleError, OperationNotHeldError, OperationNotRunningError, RecordNotFoundError,
                         UnknownInstanceError, UnknownOperationError)
from mano.lifecycle.placement_preferences import PlacementPreferences
from mano.lifecycle.states import SERVICE_TRANSITIONS, OperationState, OperationType, ServiceState, transition
from mano.lifecycle.reconfiguration import check_payload
from mano.lifecycle.workflows import victims_for_scale_in
from mano.records import CancelRequestRecord, OperationRecord, ServiceRecord

BUSY = "Workflow for service still going on, rejected"
TERMINATED = "nsr already terminated"

# The state a service enters while an operation of that type runs.
RUNNING_STATE = {
    OperationType.TERMINATE: ServiceState.TERMINATING,
    OperationType.SCALE_OUT: ServiceState.SCALING,
    OperationType.SCALE_IN: ServiceState.SCALING,
    OperationType.HEAL: ServiceState.HEALING,
    OperationType.MIGRATE: ServiceState.MIGRATING,
    OperationType.RECONFIGURE: ServiceState.RECONFIGURING,
}


# Operations that place VNFs, and so carry placement preferences.
PLACING = (OperationType.INSTANTIATE, OperationType.SCALE_OUT, OperationType.MIGRATE)


class ServiceLifecycleManager:
    def __init__(self, store: Any, *, default_policy: str = "load balanced"):
        """``default_policy``: the operator's placement policy where a request names none."""
        self.store = store
        self.default_policy = default_policy

    def _with_preferences(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """``params`` with its placement preferences checked and completed (mano.lifecycle.placement_preferences)."""
        return {**(params or {}), **PlacementPreferences.from_request(params, self.default_policy).to_params()}

    # --- instantiate -------------------------------------------------------------------------
    def instantiate(self, package: ServicePackage, *, vim: str = "emulated", operation_id: str | None = None,
                    service_id: str | None = None, user_data: Mapping[str, Any] | None = None,
                    params: Mapping[str, Any] | None = None) -> OperationRecord:
        """Record a new service (INSTANTIATING) and its instantiate operation."""
        existing = self.store.operations.find_one(operation_id) if operation_id is not None else None
        if existing is not None:
            self._same_request(existing, OperationType.INSTANTIATE, None)
            op = existing
        else:
            op = OperationRecord(id=operation_id or str(uuid.uuid4()), type=OperationType.INSTANTIATE,
                                 service_id=service_id or str(uuid.uuid4()), request=self._with_preferences(params))
            try:
                op = self.store.operations.insert(op)
            except DuplicateRecordError:  # the same id raced in: answer as for a repeat
                return self._same_request(self.store.operations.get(op.id), OperationType.INSTANTIATE, None)
        if not op.state.is_final and (existing is None or self.store.services.find_one(op.service_id) is None):
            # New, or a repeat of a request whose admission was cut short: record the service.
            try:
                self.store.services.insert(ServiceRecord(
                    id=op.service_id, name=package.nsd.name, nsd=package.nsd.to_dict(),
                    vnfds=tuple(v.to_dict() for v in package.unique_vnfds), state=ServiceState.INSTANTIATING,
                    vim=vim, current_operation=op.id, user_data=dict(user_data or {})))
            except DuplicateRecordError:
                pass  # a concurrent repeat recorded it
        return op

    # --- everything else ---------------------------------------------------------------------
    def request(self, service_id: str, op_type: OperationType, params: Mapping[str, Any] | None = None, *,
                operation_id: str | None = None) -> OperationRecord:
        """Admit a terminate/scale/heal/... request on an existing service, or refuse it."""
        if op_type == OperationType.INSTANTIATE:
            raise LifecycleError("use instantiate() to create a service")
        if operation_id is not None:
            existing = self.store.operations.find_one(operation_id)
            if existing is not None:
                return self._same_request(existing, op_type, service_id)
        record = self.service(service_id)
        if op_type in PLACING:
            params = self._with_preferences(params)
        self._check_admissible(record, op_type, dict(params or {}))
        op = self.store.operations.insert(OperationRecord(
            id=operation_id or str(uuid.uuid4()), type=op_type, service_id=service_id, request=dict(params or {})))
        try:
            self.store.services.mutate(service_id, lambda s: self._claim(s, op), current=record)
        except LifecycleError as exc:
            # Lost a race with another request: the refusal stays in the operation history.
            reason = str(exc)
            self.store.operations.mutate(op.id, lambda o: o.with_state(OperationState.FAILED, error=reason))
            raise
        return op

    def service(self, service_id: str) -> ServiceRecord:
        try:
            return self.store.services.get(service_id)
        except RecordNotFoundError:
            raise UnknownInstanceError(f"no service instance {service_id!r}") from None

    def _check_admissible(self, record: ServiceRecord, op_type: OperationType, params: dict[str, Any]) -> None:
        if record.state == ServiceState.TERMINATED:
            raise AlreadyTerminatedError(TERMINATED)
        if record.state == ServiceState.FAILED:
            raise LifecycleError(f"service {record.id} failed to instantiate; nothing is deployed")
        if record.state.is_busy:
            raise InstanceBusyError(self._busy(record))
        if op_type == OperationType.SCALE_IN:
            victims_for_scale_in(record, params)
        elif op_type == OperationType.SCALE_OUT:
            names = [nf.get("vnf_id") for nf in record.nsd.get("network_functions", [])]
            if params.get("vnf_id") not in names:
                raise BadRequestError(f"service {record.id} has no network function {params.get('vnf_id')!r}; "
                                     f"it has {', '.join(map(str, names))}")
            count = params.get("count", 1)
            if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 100:
                raise BadRequestError(f"count must be a whole number from 1 to 100, got {count!r}")
        elif op_type in (OperationType.HEAL, OperationType.MIGRATE):
            instance = record.vnf_instance(str(params.get("vnf_instance_id")))
            if instance is None or instance.terminated:
                raise UnknownInstanceError(f"service {record.id} has no VNF instance {params.get('vnf_instance_id')!r}")
            if op_type == OperationType.MIGRATE and not params.get("pop"):
                raise BadRequestError("a migration needs the target PoP (vim_uuid)")
        elif op_type == OperationType.RECONFIGURE:
            check_payload(params.get("payload"), {str(nf.get("vnf_id")) for nf in record.nsd.get("network_functions", [])},
                          {v.id for v in record.vnf_instances if v.live})

    def _busy(self, record: ServiceRecord) -> str:
        """SONATA's refusal, and why when the operation is one that waits for the operator."""
        current = self.store.operations.find_one(record.current_operation) if record.current_operation else None
        if current is not None and current.state == OperationState.FAILED_TEMP:
            return (f"{BUSY}: its {current.type.value} operation {current.id} is FAILED_TEMP and waits for the "
                    f"operator (mano op retry|rollback {current.id})")
        return BUSY

    def _claim(self, record: ServiceRecord, op: OperationRecord) -> ServiceRecord:
        if record.state.is_busy:
            raise InstanceBusyError(BUSY)
        if record.state == ServiceState.TERMINATED:
            raise AlreadyTerminatedError(TERMINATED)
        state = transition(SERVICE_TRANSITIONS, record.state, RUNNING_STATE[op.type], what=f"service {record.id}")
        return record.model_copy(update={"state": state, "current_operation": op.id})

    @staticmethod
    def _same_request(op: OperationRecord, op_type: OperationType, service_id: str | None) -> OperationRecord:
        if op.type != op_type or (service_id is not None and op.service_id != service_id):
            raise LifecycleError(f"operation id {op.id} is already used by a {op.type.value} operation "
                                 f"on service {op.service_id}")
        return op

    # --- the operator's decisions on a FAILED_TEMP operation -----------------------------------
    def retry(self, operation_id: str) -> OperationRecord:
        """Resume a FAILED_TEMP operation at the step that failed, with as many attempts again;
        its service stays claimed by it, as it was while it waited."""
        return self._decide(operation_id, "retried", lambda op: op.with_state(OperationState.PROCESSING).model_copy(
            update={"error": None, "retries": op.retries + 1}))

    def roll_back(self, operation_id: str) -> OperationRecord:
        """Undo what a FAILED_TEMP operation did, in reverse order (it ends ROLLED_BACK, and its
        service as after any failed operation of its type)."""
        return self._decide(operation_id, "rolled back", lambda op: op.with_state(OperationState.ROLLING_BACK))

    def _decide(self, operation_id: str, verb: str,
                change: "Callable[[OperationRecord], OperationRecord]") -> OperationRecord:
        def decided(op: OperationRecord) -> OperationRecord:
            if op.state != OperationState.FAILED_TEMP:
                raise OperationNotHeldError(
                    f"operation {op.id} is {op.state.value}: only a FAILED_TEMP operation can be {verb}")
            return change(op)
        try:
            decision = self.store.operations.mutate(operation_id, decided)
        except RecordNotFoundError:
            raise UnknownOperationError(f"no operation {operation_id!r}") from None
        # A cancel that held it is answered by this decision: the retried run must not stop again.
        self.store.cancellations.delete(operation_id, missing_ok=True)
        return decision

    def cancel(self, operation_id: str, reason: str | None = None) -> OperationRecord:
        """Ask a running operation to stop (SOL005's graceful cancel): the step under way
        finishes, then the operation goes FAILED_TEMP, for the operator to retry or roll back.
        Recorded apart from the operation (its runner is the operation record's only writer) and
        read by the runner at its next step boundary, on whichever host runs it. Asking again
        is asking once; an operation that ends before its next boundary is not stopped.

        Raises:
            UnknownOperationError: no operation has that id.
            OperationNotRunningError: it is not PROCESSING (ended, held FAILED_TEMP, rolling back).
        """
        op = self.store.operations.find_one(operation_id)
        if op is None:
            raise UnknownOperationError(f"no operation {operation_id!r}")
        if op.state != OperationState.PROCESSING:
            hint = " (retry it or roll it back)" if op.state == OperationState.FAILED_TEMP else ""
            raise OperationNotRunningError(
                f"operation {op.id} is {op.state.value}: only a PROCESSING operation can be cancelled{hint}")
        self.store.cancellations.upsert(CancelRequestRecord(id=op.id, service_id=op.service_id,
                                                            reason=reason or "cancelled by the operator"))
        return op

    def forget_cancel(self, operation_id: str, state: OperationState) -> None:
        """Drop the cancel request of an operation that ended (``state``) before it took effect
        (a held one keeps it until the operator's decision)."""
        if state.is_final:
            self.store.cancellations.delete(operation_id, missing_ok=True)

    # --- recovery ----------------------------------------------------------------------------
    def in_flight(self) -> list[OperationRecord]:
        """Operations that should be running (to re-activate their services after a restart): not
        final, and not FAILED_TEMP, which waits for the operator."""
        return self.store.operations.find({"state": {"$in": [OperationState.PROCESSING.value,
                                                              OperationState.ROLLING_BACK.value]}})
