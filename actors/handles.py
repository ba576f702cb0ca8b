"""Typed handles on the plugin actors: every call to a plugin actor by name goes through one.

Each remote method has one signature, one timeout and one label in errors. Each handle looks
its actor up on every call (a restarted actor is found again) and goes through
:func:`actors.calls.call` (retries while the actor restarts, mano's exceptions). Some are the
lifecycle ports the workflows act through (:func:`service_ports`): the infrastructure adaptor
is the Infrastructure and Vim ports, the FLM the Functions port, the Placement plugin the
Placement port; the SMR's is :mod:`actors.smr_port`.
"""
from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import Any, Mapping, NamedTuple, Sequence

from actors import calls, naming
from actors.smr_port import RaySpecificManagers
from mano.lifecycle.first_fit import first_fit_outcome
from mano.lifecycle.ports import FunctionAction, FunctionDeployment, PlacementOutcome, PlacementRequest
from mano.lifecycle.vim_port import DeployedVnf, Network, NetworkRequest, Pop, VnfDeployment, WanLink
from mano.settings import Settings

log = logging.getLogger(__name__)


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
    """The infrastructure adaptor: the Infrastructure and Vim ports, and the calls of placement
    and monitoring."""

    actor = naming.INFRASTRUCTURE

    def list_pops(self, vim: str) -> list[Pop]:
        return self._call("list_pops", vim)

    def create_networks(self, vim: str, service_id: str, requests: Sequence[NetworkRequest]) -> list[Network]:
        return self._call("create_networks", vim, service_id, list(requests))

    def delete_networks(self, vim: str, service_id: str) -> None:
        self._call("delete_networks", vim, service_id)

    def deploy_vnf(self, vim: str, deployment: VnfDeployment) -> DeployedVnf:
        return self._call("deploy_vnf", vim, deployment)

    def remove_vnf(self, vim: str, service_id: str, vnf_instance_id: str) -> None:
        self._call("remove_vnf", vim, service_id, vnf_instance_id)

    def configure_vnf(self, vim: str, service_id: str, vnf_instance_id: str, envs: Mapping[str, str]) -> None:
        self._call("configure_vnf", vim, service_id, vnf_instance_id, dict(envs))

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


class Flm(_Named):
    """The Functions port over the FLM actor (which fans out to the VNF instance actors)."""

    actor = naming.FLM

    def deploy(self, requests: Sequence[FunctionDeployment]) -> list[dict[str, Any]]:
        return self._call("deploy", list(requests))

    def start(self, actions: Sequence[FunctionAction]) -> None:
        self._call("start", list(actions))

    def stop(self, actions: Sequence[FunctionAction]) -> None:
        self._call("stop", list(actions))

    def configure(self, actions: Sequence[FunctionAction]) -> None:
        self._call("configure", list(actions))

    def remove(self, actions: Sequence[FunctionAction]) -> None:
        self._call("remove", list(actions))

    def heal(self, action: FunctionAction) -> dict[str, Any]:
        return self._call("heal", action)

    def status(self, vnf_instance_id: str) -> str:
        return self._call("status", vnf_instance_id)

    def new_instance_ids(self, count: int) -> list[str]:
        # Ids belong to instances, not to processes: the FLM gives pre-started hosts to the
        # VNFs it deploys, so ids are made here, without a call.
        return [str(uuid.uuid4()) for _ in range(count)]


class PlacementPlugin(_Named):
    """The Placement port over the Placement plugin; first fit if it does not answer in time.

    A service's place step has asked its placement SSM already (the workflow does), so the
    executive would only forward the request: the port calls the plugin itself, one actor call
    fewer per placement, with the executive's fallback (the executive uses this handle too)."""

    actor = naming.PLACEMENT
    reads_pops = True  # the plugin reads the PoPs with the reservations it retires: one call

    def __init__(self, timeout: float | None = 60.0, retries: int = 1, *, default_vim: str = "emulated"):
        super().__init__(timeout, retries)
        self._default_vim = default_vim

    def place(self, request: PlacementRequest) -> PlacementOutcome:
        try:
            return self._call("place", request)
        except (calls.ActorUnavailable, calls.ActorTimeout, ValueError) as exc:  # ValueError: no such actor
            log.warning("placement plugin did not answer (%s): first fit for %s", exc, request.service_id)
            if request.reads_pops:
                pops = InfrastructureAdaptor(timeout=self._timeout).list_pops(request.vim or self._default_vim)
                request = dataclasses.replace(request, pops=tuple(pops))
            return first_fit_outcome(request, f"placement plugin did not answer: {exc}")


class ServicePorts(NamedTuple):
    """What a service's workflows act through (``ServiceController``'s ports)."""

    functions: Flm
    infrastructure: InfrastructureAdaptor
    placement: PlacementPlugin
    sms: RaySpecificManagers


def service_ports(settings: Settings) -> ServicePorts:
    return ServicePorts(Flm(timeout=settings.step_timeout_s), InfrastructureAdaptor(timeout=settings.step_timeout_s),
                        PlacementPlugin(timeout=settings.placement_timeout_s, default_vim=settings.default_vim),
                        RaySpecificManagers(settings))


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
