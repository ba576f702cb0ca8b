"""In-process implementations of the lifecycle ports: the whole lifecycle without Ray.

The Ray actors implement the same ports with remote calls; these run the same controllers in
one process, synchronously. They serve the unit tests, ``mano.testing`` and anyone embedding
the lifecycle core. Batch calls run every item, then raise one StepFailedError naming every
failure, so a caller knows all that happened before it rolls back.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Mapping, Sequence

from mano.errors import ManoError
from mano.lifecycle.first_fit import first_fit_outcome
from mano.lifecycle.functions import FunctionLifecycle
from mano.lifecycle.lease import Holder, InstanceLeases
from mano.lifecycle.ports import PlacementOutcome, PlacementRequest
from mano.lifecycle.vim_port import DeployedVnf, Network, NetworkRequest, Pop, VimDriver, VnfDeployment


class LocalVim:
    """The infrastructure adaptor in-process: one driver per VIM kind."""

    REMEMBERED_REMOVALS = 10_000  # enough for the removals of one placement reservation's lifetime

    def __init__(self, drivers: Mapping[str, VimDriver]):
        self.drivers = dict(drivers)
        self._removed: OrderedDict[str, None] = OrderedDict()

    def driver(self, vim: str) -> VimDriver:
        try:
            return self.drivers[vim]
        except KeyError:
            raise ManoError(f"no VIM {vim!r} is configured; configured: {', '.join(self.drivers)}") from None

    def list_pops(self, vim: str) -> list[Pop]:
        return self.driver(vim).list_pops()

    def create_networks(self, vim: str, service_id: str, requests: Sequence[NetworkRequest]) -> list[Network]:
        return self.driver(vim).create_networks(service_id, requests)

    def delete_networks(self, vim: str, service_id: str) -> None:
        self.driver(vim).delete_networks(service_id)

    def deploy_vnf(self, vim: str, deployment: VnfDeployment) -> DeployedVnf:
        return self.driver(vim).deploy_vnf(deployment)

    def remove_vnf(self, vim: str, service_id: str, vnf_instance_id: str) -> None:
        self.driver(vim).remove_vnf(service_id, vnf_instance_id)
        self._removed[vnf_instance_id] = None
        while len(self._removed) > self.REMEMBERED_REMOVALS:
            self._removed.popitem(last=False)

    def configure_vnf(self, vim: str, service_id: str, vnf_instance_id: str, envs: Mapping[str, str]) -> None:
        self.driver(vim).configure_vnf(service_id, vnf_instance_id, envs)

    def vnf_status(self, vim: str, vnf_instance_id: str) -> str:
        return self.driver(vim).vnf_status(vnf_instance_id)

    def settled(self, vnf_instance_ids: Sequence[str]) -> set[str]:
        """Those of the given VNF instances that a driver runs or has removed: the VIMs' usage
        accounts for them, so placement can retire the reservations it holds for them. (Only
        "deployed" would keep a reservation for an instance deployed and terminated between
        two placements until it expires, and inflate its PoP's usage until then.)"""
        wanted = set(vnf_instance_ids)
        settled = {i for i in wanted if i in self._removed}
        for driver in self.drivers.values():
            settled |= wanted & driver.deployments().keys()
        return settled


class LocalFunctions(FunctionLifecycle):
    """The FLM in-process: the FLM's core with every VNF call made here, one at a time."""

    def __init__(self, store: Any, vim: LocalVim, leases: InstanceLeases | None = None):
        super().__init__(store, vim, leases or InstanceLeases(store.leases, Holder.this_process()))
        self.vim = vim


class FirstFitPlacement:
    def place(self, request: PlacementRequest) -> PlacementOutcome:
        return first_fit_outcome(request)


class EnginePlacement:
    """SONATA's placement policies (the ``placement`` engine), in-process."""

    def place(self, request: PlacementRequest) -> PlacementOutcome:
        from mano.lifecycle.sonata_placement import place_request
        return place_request(request)
