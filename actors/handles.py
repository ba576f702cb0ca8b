"""Typed handles on the plugin actors, for the calls that are not a lifecycle port.

The lifecycle ports (infrastructure, functions, placement as the workflows see them) are in
:mod:`actors.ports`; everything else that calls a plugin actor by name calls it through one of
these, so each remote method has one signature, one timeout and one label in errors. Each
handle looks its actor up on every call (a restarted actor is found again) and goes through
:func:`actors.calls.call` (retries while the actor restarts, mano's exceptions).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from actors import calls, naming
from mano.lifecycle.ports import PlacementOutcome, PlacementRequest
from mano.lifecycle.vim_port import Pop, WanLink


class _Named:
    actor = ""

    def __init__(self, timeout: float | None = 60.0, retries: int = 4):
        self._get = calls.named(self.actor)
        self._timeout = timeout
        self._retries = retries

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return calls.call(self._get, method, *args, timeout=self._timeout, retries=self._retries,
                          what=f"{self.actor}.{method}", **kwargs)


class Slm(_Named):
    """The service lifecycle manager: admission of every service request."""

    actor = naming.SLM

    def instantiate(self, nsd: Any, vnfds: Sequence[Mapping[str, Any]] = (), **request: Any) -> dict:
        """``request``: vim, operation_id, user_data, params, service_id (see the SLM)."""
        return self._call("instantiate", nsd, vnfds, **request)

    def request(self, service_id: str, op_type: str, params: Mapping[str, Any] | None = None, *,
                operation_id: str | None = None) -> dict:
        return self._call("request", service_id, op_type, params, operation_id=operation_id)


class PluginManager(_Named):
    """The plugin registry: registration, heartbeats, lifecycle commands."""

    actor = naming.PLUGIN_MANAGER

    def register(self, name: str, version: str, description: str) -> dict:
        return self._call("register", name, version, description)

    def deregister(self, plugin_id: str) -> None:
        self._call("deregister", plugin_id)

    def heartbeat(self, plugin_id: str, state: str) -> dict:
        return self._call("heartbeat", plugin_id, state)

    def subscribe(self, listener: Any) -> None:
        self._call("subscribe", listener)

    def list(self) -> list[dict]:
        return self._call("list")


class InfrastructureAdaptor(_Named):
    """The infrastructure adaptor's calls outside the lifecycle ports (placement, monitoring)."""

    actor = naming.INFRASTRUCTURE

    def list_pops(self, vim: str) -> list[Pop]:
        return self._call("list_pops", vim)

    def wan_links(self) -> list[WanLink]:
        return self._call("wan_links")

    def settled(self, vnf_instance_ids: Sequence[str]) -> set[str]:
        return self._call("settled", list(vnf_instance_ids))

    def pops_and_settled(self, vim: str, vnf_instance_ids: Sequence[str]) -> tuple[list[Pop], set[str]]:
        return self._call("pops_and_settled", vim, list(vnf_instance_ids))

    def stats(self, vim: str, vnf_instance_id: str) -> dict[str, float]:
        return self._call("stats", vim, vnf_instance_id)

    def vnf_status(self, vim: str, vnf_instance_id: str) -> str:
        return self._call("vnf_status", vim, vnf_instance_id)


class PlacementPlugin(_Named):
    actor = naming.PLACEMENT

    def place(self, request: PlacementRequest) -> PlacementOutcome:
        return self._call("place", request)


class PlacementExecutive(_Named):
    """Placement for callers without a port of their own (SONATA's placement topic): the
    Placement plugin, or first fit when it does not answer in time."""

    actor = naming.PLACEMENT_EXECUTIVE

    def place(self, request: PlacementRequest) -> PlacementOutcome:
        return self._call("place", request)


class Gateway(_Named):
    actor = naming.GATEWAY

    def send_lifecycle(self, plugin_id: str, command: str) -> None:
        self._call("send_lifecycle", plugin_id, command)
