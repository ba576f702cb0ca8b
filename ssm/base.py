"""The classes a service developer subclasses: :class:`ServiceSpecificManager` and
:class:`FunctionSpecificManager`.

Override only the hooks your SM declares in its descriptor (``options: [{key: type, value:
placement}]``); the orchestrator calls a hook only for the kinds the SM is registered under.
Each hook takes one typed request (:mod:`ssm.models`) and returns the typed answer, or a plain
value of the same shape (a list of step names, a ``{vnf_id: pop}`` dict, ``None``).

Semantics (the same in both runners, see :mod:`ssm.runtime`):

* one instance per SM per service (FSMs: per service and NSD ``vnf_id``), built with its
  :class:`~ssm.models.SmContext`; ``on_start`` runs once before the first hook, ``on_stop``
  when the SM is terminated or replaced by an update (best effort: a crash skips it);
* hooks of one SM never run concurrently, so an SM may keep state in ``self`` without locks;
* an exception in a hook is reported to the orchestrator (``raised KeyError: ...``), which then
  runs its default behaviour for that step; the SM stays up;
* a hook that takes longer than the orchestrator's limit (5 s by default) gets its SM killed;
* an answer the orchestrator cannot use (a PoP that does not exist, a schedule that drops a
  required step) is ignored and recorded as ``invalid answer: ...``.

Example (runnable: ``examples/ssm/placement.py``)::

    from ssm import PlacementRequest, ServiceSpecificManager

    class FirstPop(ServiceSpecificManager):
        def placement(self, request: PlacementRequest) -> dict[str, str]:
            pop = request.allowed_pops()[0].id
            return {f.instance_id: pop for f in request.functions}
"""
from __future__ import annotations

from typing import Any, ClassVar

from ssm.models import (
    ConfigureRequest,
    ConfigureResponse,
    FsmRequest,
    FsmResponse,
    ManagerType,
    MonitorAlert,
    PlacementRequest,
    PlacementResponse,
    SmContext,
    StateRequest,
    StateResponse,
    TaskRequest,
    TaskResponse,
    WorkflowRequest,
)

__all__ = ["FunctionSpecificManager", "HookNotImplementedError", "ServiceSpecificManager", "SpecificManager"]


class HookNotImplementedError(NotImplementedError):
    """The SM is registered for a kind whose hook it does not override."""


class SpecificManager:
    """What both kinds of SM share: the context and the start/stop hooks."""

    manager_type: ClassVar[ManagerType]

    def __init__(self, context: SmContext):
        self.context = context

    def on_start(self) -> None:
        """Called once, before the first hook. Override to open connections, load models, ..."""

    def on_stop(self) -> None:
        """Called when the SM is terminated or replaced by an update (not after a crash)."""

    def _missing(self, hook: str) -> Any:
        raise HookNotImplementedError(f"{type(self).__name__} does not implement {hook}()")


class ServiceSpecificManager(SpecificManager):
    """Base class of SSMs. Hooks: task, placement, configure, monitor, state."""

    manager_type = ManagerType.SSM

    def task(self, request: TaskRequest) -> TaskResponse | list[str]:
        """Return the step list to run instead of ``request.schedule``.

        It may reorder the steps and drop any step not in ``request.required``.
        """
        return self._missing("task")

    def placement(self, request: PlacementRequest) -> PlacementResponse | dict[str, str]:
        """Map every function of the request to one of its PoPs.

        Keys are instance ids or VNF ids (all instances of that VNF); values PoP ids from
        ``request.pops``. Pins must be honoured and blacklisted PoPs avoided.
        """
        return self._missing("placement")

    def configure(self, request: ConfigureRequest) -> ConfigureResponse | dict[str, dict[str, Any]]:
        """Return per-VNF configuration ``{vnf_id or instance id: {key: value}}``.

        The orchestrator passes each VNF's entry to its configure step (FSM or VNF).
        """
        return self._missing("configure")

    def monitor(self, alert: MonitorAlert) -> WorkflowRequest | dict[str, Any] | None:
        """React to an alert: return a workflow to run (scale_out, scale_in, migrate,
        reconfigure, terminate) with its parameters, or ``None`` to do nothing."""
        return self._missing("monitor")

    def state(self, request: StateRequest) -> StateResponse | dict[str, Any]:
        """Extract (``request.action == 'extract'``) or inject a VNF's state around a migration."""
        return self._missing("state")


class FunctionSpecificManager(SpecificManager):
    """Base class of FSMs (one per service and NSD ``vnf_id``). Hooks: start, stop, configure,
    scale, state; each gets an :class:`~ssm.models.FsmRequest` for one VNF instance and answers
    an :class:`~ssm.models.FsmResponse` (``None`` means COMPLETED with nothing to set)."""

    manager_type = ManagerType.FSM

    def start(self, request: FsmRequest) -> FsmResponse | dict[str, Any] | None:
        """Start the VNF instance; ``envs`` in the answer are set on its deployment units."""
        return self._missing("start")

    def stop(self, request: FsmRequest) -> FsmResponse | dict[str, Any] | None:
        """Stop the VNF instance (before it is removed or migrated)."""
        return self._missing("stop")

    def configure(self, request: FsmRequest) -> FsmResponse | dict[str, Any] | None:
        """Configure the VNF instance (``request.data`` holds the service view and SSM input)."""
        return self._missing("configure")

    def scale(self, request: FsmRequest) -> FsmResponse | dict[str, Any] | None:
        """Adapt the VNF to a scaling of the service."""
        return self._missing("scale")

    def state(self, request: FsmRequest) -> FsmResponse | dict[str, Any] | None:
        """Extract or inject the VNF's state (``request.data['action']``)."""
        return self._missing("state")
