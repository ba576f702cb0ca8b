"""In-process implementations of the lifecycle ports: the whole lifecycle without Ray.

The Ray actors implement the same ports with remote calls; these run the same controllers in
one process, synchronously. They serve the unit tests, ``mano.testing`` and anyone embedding
the lifecycle core. Batch calls run every item, then raise one StepFailedError naming every
failure, so a caller knows all that happened before it rolls back.
"""
from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import Any, Callable, Mapping, Sequence, TypeVar

from mano.errors import ManoError, StepFailedError
from mano.lifecycle.first_fit import first_fit_outcome
from mano.lifecycle.lease import Holder, InstanceLeases
from mano.lifecycle.ports import FunctionAction, FunctionDeployment, PlacementOutcome, PlacementRequest
from mano.lifecycle.vnf import VnfController
from mano.lifecycle.vim_port import DeployedVnf, Network, NetworkRequest, Pop, VimDriver, VnfDeployment

T = TypeVar("T")
R = TypeVar("R")


def run_all(items: Sequence[T], call: Callable[[T], R], what: str, key: Callable[[T], str]) -> list[R]:
    """Call ``call`` on every item; raise one StepFailedError listing all failures."""
    results: list[R] = []
    errors: list[tuple[str, ManoError]] = []
    for item in items:
        try:
            results.append(call(item))
        except ManoError as exc:
            errors.append((key(item), exc))
    raise_failures(what, len(items), errors)
    return results


def raise_failures(what: str, total: int, errors: Sequence[tuple[str, BaseException]]) -> None:
    """One StepFailedError for a batch, retryable only if every failure is."""
    if not errors:
        return
    failures = [f"{name}: {exc}" for name, exc in errors]
    retryable = all(isinstance(e, ManoError) and e.retryable for _, e in errors)
    raise StepFailedError(f"{what} failed for {len(failures)} of {total}: " + "; ".join(failures),
                          failures, retryable=retryable)


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


class LocalFunctions:
    """The FLM in-process: one VnfController per VNF instance, called in turn."""

    def __init__(self, store: Any, vim: LocalVim, leases: InstanceLeases | None = None):
        self.store = store
        self.vim = vim
        self.leases = leases or InstanceLeases(store.leases, Holder.this_process())

    def vnf(self, vnf_instance_id: str) -> VnfController:
        return VnfController(vnf_instance_id, self.store, self.vim, leases=self.leases)

    def deploy(self, requests: Sequence[FunctionDeployment]) -> list[dict[str, Any]]:
        return run_all(requests, lambda r: self.vnf(r.vnf_instance_id).deploy(r), "deploy",
                       lambda r: f"{r.vnf_id} ({r.vnf_instance_id})")

    def _each(self, name: str, actions: Sequence[FunctionAction]) -> None:
        run_all(actions, lambda a: getattr(self.vnf(a.vnf_instance_id), name)(a), name, lambda a: a.vnf_instance_id)

    def start(self, actions: Sequence[FunctionAction]) -> None:
        self._each("start", actions)

    def stop(self, actions: Sequence[FunctionAction]) -> None:
        self._each("stop", actions)

    def configure(self, actions: Sequence[FunctionAction]) -> None:
        self._each("configure", actions)

    def remove(self, actions: Sequence[FunctionAction]) -> None:
        self._each("remove", actions)

    def heal(self, action: FunctionAction) -> dict[str, Any]:
        return self.vnf(action.vnf_instance_id).heal(action)

    def status(self, vnf_instance_id: str) -> str:
        return self.vnf(vnf_instance_id).vim_status()

    def new_instance_ids(self, count: int) -> list[str]:
        return [str(uuid.uuid4()) for _ in range(count)]


class FirstFitPlacement:
    def place(self, request: PlacementRequest) -> PlacementOutcome:
        return first_fit_outcome(request)


class EnginePlacement:
    """SONATA's placement policies (the ``placement`` engine), in-process."""

    def place(self, request: PlacementRequest) -> PlacementOutcome:
        from mano.lifecycle.sonata_placement import place_request
        return place_request(request)
