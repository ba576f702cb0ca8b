"""The lifecycle ports implemented with remote calls to the plugin actors.

Each class is the only place its actor is called from a controller; handles are looked up
by name on each call, so a restarted actor is found again.
"""
from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import Any, Sequence


from actors import calls, naming
from mano.lifecycle.first_fit import first_fit_outcome
from mano.lifecycle.ports import FunctionAction, FunctionDeployment, PlacementOutcome, PlacementRequest
from mano.settings import Settings
from mano.lifecycle.vim_port import DeployedVnf, Network, NetworkRequest, Pop, VnfDeployment

log = logging.getLogger(__name__)


class RayInfrastructure:
    """Infrastructure and Vim ports over the infrastructure adaptor actor."""

    def __init__(self, settings: Settings):
        self._ia = calls.named(naming.INFRASTRUCTURE)
        self._timeout = settings.step_timeout_s

    def _call(self, method: str, *args: Any) -> Any:
        return calls.call(self._ia, method, *args, timeout=self._timeout, what=f"infrastructure.{method}")

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

    def vnf_status(self, vim: str, vnf_instance_id: str) -> str:
        return self._call("vnf_status", vim, vnf_instance_id)


class RayFunctions:
    """The Functions port over the FLM actor (which fans out to the VNF instance actors)."""

    def __init__(self, settings: Settings):
        self._flm = calls.named(naming.FLM)
        self._timeout = settings.step_timeout_s

    def _call(self, method: str, *args: Any) -> Any:
        return calls.call(self._flm, method, *args, timeout=self._timeout, what=f"flm.{method}")

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


class RayPlacement:
    """The Placement port over the Placement plugin; first fit if it does not answer in time.

    A service's place step has asked its placement SSM already (the workflow does), so the
    executive would only forward the request: the port calls the plugin itself, one actor call
    fewer per placement, with the executive's fallback. The executive stays the entry for other
    callers (``actors.placement``)."""

    reads_pops = True  # the plugin reads the PoPs with the reservations it retires: one call

    def __init__(self, settings: Settings):
        self._plugin = calls.named(naming.PLACEMENT)
        self._settings = settings
        self._timeout = settings.placement_timeout_s

    def place(self, request: PlacementRequest) -> PlacementOutcome:
        try:
            return calls.call(self._plugin, "place", request, timeout=self._timeout, retries=1,
                              what="placement.place")
        except (calls.ActorUnavailable, calls.ActorTimeout, ValueError) as exc:  # ValueError: no such actor
            log.warning("placement plugin did not answer (%s): first fit for %s", exc, request.service_id)
            if not request.pops:
                pops = RayInfrastructure(self._settings).list_pops(request.vim or self._settings.default_vim)
                request = dataclasses.replace(request, pops=tuple(pops))
            return first_fit_outcome(request, f"placement plugin did not answer: {exc}")
