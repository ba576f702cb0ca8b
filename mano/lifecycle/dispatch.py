"""Where the SLM sends each operation it admitted, and which ones it must send again.

The SLM admits a request (:class:`mano.lifecycle.slm.ServiceLifecycleManager`), then the
operation runs on one of the hosts of :mod:`mano.lifecycle.hosting`: the service's own actor
(activated if it is not up), or a thread of the SLM itself under a burst. This class keeps the
SLM's side of that: which operations it runs itself (so that waiters and the recovery loop know),
which service actors it started that are not up yet (the load the decision needs), and the
recovery pass that re-activates operations no activation runs.

Plain Python: the Ray-specific parts are injected (``activate`` starts or finds the service's
actor and tells it to run; ``run_here`` runs the operation in this process; ``has_actor`` and
``lease_active`` observe), so the bookkeeping is tested without Ray (``tests/lifecycle/test_dispatch.py``).
The SLM actor (:mod:`actors.slm`) is its shell.
"""
from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import Executor
from typing import Any, Callable, Iterable

from mano.errors import LeaseHeldError
from mano.lifecycle.hosting import Host, ServiceLoad, host_service_operation
from mano.records import OperationRecord

log = logging.getLogger(__name__)

# (operation, on_up): start or find the service's actor and tell it to run the operation; if
# on_up is given, call it once the actor answers (at once if it was up already). It is None when
# that actor's start is watched already.
Activate = Callable[[OperationRecord, "Callable[[], None] | None"], None]


class ServiceDispatch:
    """The SLM's operations: run here or on the service's actor; re-activated when orphaned."""

    def __init__(self, *, activate: Activate, run_here: Callable[[OperationRecord], None], pool: Executor,
                 cpus: int, manager_may_host: bool = True, on_ended: Callable[[], None] = lambda: None):
        """``run_here(op)``: run the operation in this process (under the service's lease);
        ``pool``: the threads that do it; ``cpus``: the CPUs that start actor processes;
        ``manager_may_host``: ``Settings.burst_in_slm``; ``on_ended()``: called whenever an
        operation run here ends (waiters read its record again)."""
        self._activate_actor = activate
        self._run_here = run_here
        self._pool = pool
        self._cpus = max(1, cpus)
        self._manager_may_host = manager_may_host
        self._on_ended = on_ended
        self._lock = threading.Lock()
        self._here: set[str] = set()      # operations run in this process
        self._on_hosts: set[str] = set()  # operations sent to a pre-started host, not ended yet
        self._starting: set[str] = set()  # services whose actor was started here and is not up yet

    # --- the decision ---------------------------------------------------------------------------
    def host(self, *, has_actor: Callable[[], bool], new_operation: Callable[[], bool], spares_ready: int) -> Host:
        """Where a request's operation runs (:func:`mano.lifecycle.hosting.host_service_operation`)."""
        with self._lock:
            starting = len(self._starting)
        load = ServiceLoad(spares_ready=spares_ready, actors_starting=starting, cpus=self._cpus)
        return host_service_operation(has_actor=has_actor, new_operation=new_operation, load=load,
                                      manager_may_host=self._manager_may_host)

    # --- admission and dispatch ------------------------------------------------------------------
    def admit(self, admit: Callable[[str | None], OperationRecord], operation_id: str | None,
              host: Host) -> OperationRecord:
        """Admit a request (``admit(operation_id)``), then run its operation on ``host``.

        An operation to run here is marked so before admission records it: the recovery loop
        never sees it without a host. A twin request (same operation id) already run here is
        not run twice.
        """
        here = host is Host.MANAGER
        if here:
            operation_id = operation_id or str(uuid.uuid4())
            with self._lock:
                here = operation_id not in self._here
                self._here.add(operation_id)
        try:
            op = admit(operation_id)
        except BaseException:
            if here:
                self._done(operation_id)
            raise
        if here:
            self._submit_here(op)
        else:
            self.activate(op)
        return op

    def activate(self, op: OperationRecord) -> None:
        """Send the operation to its service's actor (unless it is final or run here)."""
        if op.state.is_settled or self.runs_here(op.id):
            return
        with self._lock:
            first = op.service_id not in self._starting
            self._starting.add(op.service_id)
        self._activate_actor(op, (lambda sid=op.service_id: self._up(sid)) if first else None)

    def _up(self, service_id: str) -> None:
        with self._lock:
            self._starting.discard(service_id)

    def _submit_here(self, op: OperationRecord) -> None:
        if op.state.is_settled:
            self._done(op.id)
            return

        def run() -> None:
            try:
                self._run_here(op)
            except LeaseHeldError:
                pass  # its actor runs it already
            except Exception:  # noqa: BLE001 - the record keeps the progress; recovery resumes it
                log.warning("operation %s of service %s stopped in the SLM; its actor will resume it",
                            op.id, op.service_id, exc_info=True)
            finally:
                self._done(op.id)
        self._pool.submit(run)

    def _done(self, operation_id: str | None) -> None:
        with self._lock:
            self._here.discard(operation_id)  # type: ignore[arg-type]
        self._on_ended()

    # --- operations sent to a pre-started host ---------------------------------------------------
    def sent_to_host(self, operation_id: str) -> None:
        """The operation was sent to a pre-started host: only this manager can see it end (no
        caller can find the host by the service's name), so it answers its waiters."""
        with self._lock:
            self._on_hosts.add(operation_id)

    def host_run_ended(self, operation_id: str) -> None:
        with self._lock:
            self._on_hosts.discard(operation_id)
        self._on_ended()

    def answers_for(self, operation_id: str) -> bool:
        """True while this manager sees the operation run: here, or on a host it sent it to."""
        with self._lock:
            return operation_id in self._here or operation_id in self._on_hosts

    # --- what it knows ----------------------------------------------------------------------------
    def runs_here(self, operation_id: str) -> bool:
        """True while the SLM runs the operation itself (its service has no actor meanwhile)."""
        with self._lock:
            return operation_id in self._here

    def starting(self) -> list[str]:
        """Services whose actor was started here and is not up yet."""
        with self._lock:
            return sorted(self._starting)

    # --- recovery ---------------------------------------------------------------------------------
    def recover(self, in_flight: Iterable[OperationRecord], *, has_actor: Callable[[str], bool],
                lease_active: Callable[[str], bool], read: Callable[[str], Any]) -> int:
        """Re-activate the service actors of in-flight operations that no activation runs: not
        run here, no actor, and no live lease on the service. Returns how many."""
        revived = 0
        for op in in_flight:
            if self.runs_here(op.id) or has_actor(op.service_id):
                continue  # (an operation sent to a host counts by has_actor: is that host alive)
            # Read again: an operation run here may have ended since the listing (its final state
            # is written before it stops counting as run here); reviving it would start an actor
            # for nothing (seen with one core busy).
            current = read(op.id)
            if current is None or current.state.is_settled:
                continue
            if lease_active(op.service_id):
                continue  # some activation runs it (another host, or one not yet passivated)
            log.warning("operation %s on service %s has no actor: re-activating", op.id, op.service_id)
            self.activate(current)
            revived += 1
        return revived
