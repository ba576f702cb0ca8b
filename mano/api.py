"""The Python API: ``mano.init()``, ``mano.instantiate(...)``, ``Service`` handles.

Descriptors are validated here, in the caller's process, so a malformed NSD fails with a
DescriptorError before anything is sent. Requests go to the SLM actor; progress is read
from the operation records in the store, which is also what survives actor restarts.
"""
from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Mapping, Sequence

from mano.descriptors.service import ServicePackage, load_service
from mano.errors import LifecycleError, RecordNotFoundError, UnknownInstanceError, UnknownOperationError
from mano.lifecycle.states import OperationState, OperationType, ServiceState
from mano.records import OperationRecord, ServiceRecord
from mano.settings import Settings
from mano.lifecycle.vim_port import Pop

__all__ = ["OperationFailedError", "Runtime", "Service", "get", "init", "instantiate", "operation", "retry",
           "rollback", "runtime", "services", "shutdown"]


class OperationFailedError(LifecycleError):
    """A waited-for operation ended FAILED or ROLLED_BACK; ``operation`` has the details."""

    def __init__(self, operation: OperationRecord):
        self.operation = operation
        if operation.state == OperationState.FAILED_TEMP:
            message = (f"{operation.type.value} of service {operation.service_id} is FAILED_TEMP: "
                       f"{operation.error}; it waits for mano.retry({operation.id!r}) or "
                       f"mano.rollback({operation.id!r}) (mano op retry|rollback {operation.id})")
        else:
            message = (f"{operation.type.value} of service {operation.service_id} ended "
                       f"{operation.state.value}: {operation.error}")
        super().__init__(message)


@dataclasses.dataclass
class Runtime:
    settings: Settings
    store: Any

    def call(self, actor: str, method: str, *args: Any, **kwargs: Any) -> Any:
        from actors import runtime as actor_runtime
        return actor_runtime.call(actor, method, *args, **kwargs)

    def wait(self, operation_id: str, timeout: float | None = None) -> OperationRecord:
        """The operation once it is final: waited for on the actor that runs it (no polling), or
        by polling its record (fast at first, then every 50 ms) when no actor runs it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        op = self.store.operations.get(operation_id)
        if not op.state.is_settled:
            from actors import runtime as actor_runtime
            actor_runtime.wait_on_operation(op.service_id, operation_id, timeout)
        delay = 0.005
        while True:
            op = self.store.operations.get(operation_id)
            if op.state.is_settled:
                return op
            if deadline is not None and time.monotonic() > deadline:
                raise LifecycleError(f"operation {operation_id} is still {op.state.value} after {timeout:g} s")
            time.sleep(delay)
            delay = min(0.05, delay * 1.5)


_lock = threading.Lock()
_runtime: Runtime | None = None


def init(settings: Settings | None = None, *, pops: Sequence[Pop] | None = None, **overrides: Any) -> Runtime:
    """Start (or attach to) the runtime: the record store, Ray and the plugin actors.

    With ``ray_address`` (``MANO_RAY_ADDRESS``) on that Ray cluster, or a ``ClusterError``
    naming the address and what went wrong; without one on an embedded Ray of this process's
    own, never on a cluster found through ``RAY_ADDRESS`` or Ray's current-cluster file."""
    global _runtime
    with _lock:
        if _runtime is not None:
            return _runtime
        from actors import runtime as actor_runtime
        from mano.store.client import connect, published

        settings = settings or Settings.from_env(**overrides)
        store = connect(settings)
        try:
            # One store for the cluster: every actor gets this process's store URL, on any node.
            actor_runtime.init_ray(settings)
            settings = published(settings, store.full_url)
            actor_runtime.start(settings, pops=pops)
        except BaseException:
            store.close()
            raise
        _runtime = Runtime(settings, store)
        return _runtime


def runtime() -> Runtime:
    return _runtime if _runtime is not None else init()


def shutdown() -> None:
    """Leave the runtime and close the store (records are kept).

    A control plane this process started stops with it: the embedded runtime (no
    ``ray_address``), or the plugin actors it brought up on a cluster it joined. One it found
    running (a ``mano up`` daemon's, another process's) keeps running, the gateway included:
    this process only disconnects. ``mano down`` stops a ``mano up`` runtime."""
    global _runtime
    with _lock:
        if _runtime is None:
            return
        from actors import runtime as actor_runtime
        actor_runtime.stop()
        _runtime.store.close()
        _runtime = None


class Service:
    """A handle on one service instance; every property reads the current records."""

    def __init__(self, service_id: str, rt: Runtime | None = None, last_operation: str | None = None):
        self.id = service_id
        self._rt = rt or runtime()
        self.last_operation = last_operation

    def __repr__(self) -> str:
        return f"<Service {self.id} {self.status}>"

    @property
    def record(self) -> ServiceRecord:
        try:
            return self._rt.store.services.get(self.id)
        except RecordNotFoundError:
            raise UnknownInstanceError(f"no service instance {self.id!r}") from None

    @property
    def status(self) -> str:
        return self.record.state.value

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def nsr(self) -> dict[str, Any] | None:
        record = self._rt.store.nsr.find_one(self.id)
        return None if record is None else record.to_sonata()

    @property
    def vnfrs(self) -> list[dict[str, Any]]:
        ids = [v.id for v in self.record.vnf_instances]
        found = {r.id: r.to_sonata() for r in self._rt.store.vnfr.find({"id": {"$in": ids}})} if ids else {}
        return [found[i] for i in ids if i in found]

    @property
    def vnf_states(self) -> dict[str, str]:
        """Each VNF instance's lifecycle state (``RUNNING``, ``TERMINATED``...), from its VNFR:
        the one place a VNF's state is kept."""
        return {r.id: r.vnf_state.value for r in self._rt.store.vnfr.for_service(self.id)}

    @property
    def operations(self) -> list[OperationRecord]:
        return self._rt.store.operations.find({"service_id": self.id}, sort="created_at")

    def wait(self, operation_id: str | None = None, timeout: float | None = 120.0) -> OperationRecord:
        op = self._rt.wait(operation_id or self.last_operation or "", timeout)
        if op.state != OperationState.COMPLETED:
            raise OperationFailedError(op)
        return op

    def _request(self, op_type: OperationType, params: Mapping[str, Any], wait: bool,
                 operation_id: str | None, timeout: float | None) -> "Service":
        # The id is chosen here, so a call retried after an SLM restart is the same operation.
        op = self._rt.call("slm", "request", self.id, op_type.value, dict(params),
                           operation_id=operation_id or str(uuid.uuid4()), wait_s=_wait_s(wait, timeout))
        self.last_operation = op["id"]
        if wait:
            self.wait(op["id"], timeout)
        return self

    def scale_out(self, vnf_id: str, n: int = 1, *, pop: str | None = None, wait: bool = True,
                  operation_id: str | None = None, timeout: float | None = 120.0) -> "Service":
        params = {"vnf_id": vnf_id, "count": n, **({"pop": pop} if pop else {})}
        return self._request(OperationType.SCALE_OUT, params, wait, operation_id, timeout)

    def scale_in(self, vnf_id: str | None = None, n: int = 1, *, vnf_instance_id: str | None = None,
                 wait: bool = True, operation_id: str | None = None, timeout: float | None = 120.0) -> "Service":
        params = {"vnf_instance_id": vnf_instance_id} if vnf_instance_id else {"vnf_id": vnf_id, "count": n}
        return self._request(OperationType.SCALE_IN, params, wait, operation_id, timeout)

    def heal(self, vnf_instance_id: str, *, wait: bool = True, operation_id: str | None = None,
             timeout: float | None = 120.0) -> "Service":
        return self._request(OperationType.HEAL, {"vnf_instance_id": vnf_instance_id}, wait, operation_id, timeout)

    def migrate(self, vnf_instance_id: str, pop: str, *, wait: bool = True, operation_id: str | None = None,
                timeout: float | None = 120.0) -> "Service":
        """Move a VNF instance to another PoP (the new instance starts before the old one goes)."""
        return self._request(OperationType.MIGRATE, {"vnf_instance_id": vnf_instance_id, "pop": pop}, wait,
                             operation_id, timeout)

    def reconfigure(self, payload: Mapping[str, Any], *, wait: bool = True, operation_id: str | None = None,
                    timeout: float | None = 120.0) -> "Service":
        """Reconfigure the service (SONATA's ``reconfiguration_payload``): given to its configure
        SSM if it has one; ``{"envs": {K: v}}`` gives every VNF environment values and
        ``{"functions": {vnf_id or instance id: {"envs": {...}, ...}}}`` some of them (the other
        keys of an entry go to its configure FSM). A malformed payload raises at once."""
        return self._request(OperationType.RECONFIGURE, {"payload": dict(payload)}, wait, operation_id, timeout)

    def terminate(self, *, wait: bool = True, operation_id: str | None = None,
                  timeout: float | None = 120.0) -> "Service":
        return self._request(OperationType.TERMINATE, {}, wait, operation_id, timeout)


def _package(nsd: str | Path | Mapping[str, Any] | ServicePackage, vnfds: Sequence[Any] | None,
             settings: Settings) -> ServicePackage:
    if isinstance(nsd, ServicePackage):
        return nsd
    source = dict(nsd) if isinstance(nsd, Mapping) else nsd
    return load_service(source, vnfds, max_bytes=settings.max_descriptor_bytes)


def instantiate(nsd: str | Path | Mapping[str, Any] | ServicePackage, vnfds: Sequence[Any] | None = None, *,
                vim: str | None = None, wait: bool = True, timeout: float | None = 120.0,
                operation_id: str | None = None, user_data: Mapping[str, Any] | None = None,
                pinned: Mapping[str, str] | None = None, policy: str | None = None,
                policy_list: Sequence[str] | None = None, blacklist: Sequence[str] | None = None,
                weights: Mapping[str, float] | None = None, ingresses: Sequence[Mapping[str, str]] | None = None,
                egresses: Sequence[Mapping[str, str]] | None = None, service_id: str | None = None) -> Service:
    """Instantiate a service from an NSD (path, directory with its VNFDs, dict or package).
    ``service_id``: the new service's id (default: a new uuid; the SOL005 API's NS instance id).

    With ``wait`` (the default) returns once the service is READY, or raises
    :class:`OperationFailedError` with the reason; ``pinned`` maps vnf_id -> PoP uuid.

    Placement preferences (SONATA's; see :mod:`mano.lifecycle.placement_preferences`):
    ``policy`` (``load balanced``, ``fill first``, ``priority``, ``none``; default: the
    operator's, ``MANO_PLACEMENT_POLICY``), ``policy_list`` (PoPs in priority order),
    ``blacklist`` (PoP names or cities to avoid), ``weights`` (``{operator, developer}``),
    ``ingresses``/``egresses`` (``[{location, nap}]``, for the NSD's proximity wishes).
    """
    rt = runtime()
    package = _package(nsd, vnfds, rt.settings)
    params: dict[str, Any] = {"pinned": dict(pinned)} if pinned else {}
    given = {"policy": policy, "policy_list": policy_list, "blacklist": blacklist, "weights": weights,
             "ingresses": ingresses, "egresses": egresses}
    params.update({k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in given.items() if v is not None})
    # The package travels as loaded: its descriptors were validated once, by _package.
    op = rt.call("slm", "instantiate", package, vim=vim, operation_id=operation_id or str(uuid.uuid4()),
                 user_data=user_data, params=params, service_id=service_id, wait_s=_wait_s(wait, timeout))
    service = Service(op["service_id"], rt, last_operation=op["id"])
    if wait:
        service.wait(op["id"], timeout)
    return service


def operation(operation_id: str) -> OperationRecord:
    """One operation's record (its state, steps and error)."""
    try:
        return runtime().store.operations.get(operation_id)
    except RecordNotFoundError:
        raise UnknownOperationError(f"no operation {operation_id!r}") from None


def retry(operation_id: str, *, wait: bool = True, timeout: float | None = 120.0) -> Service:
    """Resume a FAILED_TEMP operation at the step that failed (the operator's call, once what
    failed temporarily, a VIM say, is back). With ``wait``, returns once it completed, or raises
    :class:`OperationFailedError` (FAILED_TEMP again, or rolled back by a permanent failure)."""
    return _decide("retry", operation_id, wait, timeout, OperationState.COMPLETED)


def rollback(operation_id: str, *, wait: bool = True, timeout: float | None = 120.0) -> Service:
    """Undo what a FAILED_TEMP operation did. With ``wait``, returns once it is ROLLED_BACK (the
    service as after any failed operation of that type: FAILED after an instantiation, READY
    after a scale), or raises :class:`OperationFailedError` if a step's rollback failed."""
    return _decide("roll_back", operation_id, wait, timeout, OperationState.ROLLED_BACK)


def cancel(operation_id: str, *, reason: str | None = None, wait: bool = True,
           timeout: float | None = 120.0) -> OperationRecord:
    """Stop a running operation at its next step boundary (SOL005's graceful cancel: the step
    under way finishes). It goes FAILED_TEMP, from where :func:`retry` resumes it and
    :func:`rollback` undoes it. With ``wait``, returns the operation once it is FAILED_TEMP,
    or as it ended if it ended first (its state says which); else at once.

    Raises:
        OperationNotRunningError: the operation is not PROCESSING.
        UnknownOperationError: no operation has that id.
    """
    rt = runtime()
    op = OperationRecord.model_validate(rt.call("slm", "cancel", operation_id, reason=reason,
                                                wait_s=_wait_s(wait, timeout)))
    return rt.wait(op.id, timeout) if wait and not op.state.is_settled else op


def _decide(method: str, operation_id: str, wait: bool, timeout: float | None, success: OperationState) -> Service:
    """Send the operator's decision on a FAILED_TEMP operation to the SLM (which refuses it for
    any other state, or an unknown id); with ``wait``, until it reached ``success``."""
    rt = runtime()
    op = rt.call("slm", method, operation_id, wait_s=_wait_s(wait, timeout))
    service = Service(op["service_id"], rt, last_operation=op["id"])
    if wait:
        final = rt.wait(op["id"], timeout)
        if final.state != success:
            raise OperationFailedError(final)
    return service


def _wait_s(wait: bool, timeout: float | None) -> float:
    """How long the SLM may hold a request to answer with its final record (then the caller's
    wait reads the store instead of asking an actor); the rest of the wait, if any, is the
    caller's. Bounded so that a request never holds an SLM thread for long."""
    return 0.0 if not wait else min(30.0, timeout if timeout is not None else 30.0)


def get(service_id: str) -> Service:
    service = Service(service_id, runtime())
    service.record  # noqa: B018 - raises UnknownInstanceError for an unknown id
    return service


def services(state: ServiceState | str | None = None) -> list[Service]:
    rt = runtime()
    query = {"state": ServiceState(state).value} if state else None
    return [Service(r.id, rt) for r in rt.store.services.find(query, sort="created_at")]

