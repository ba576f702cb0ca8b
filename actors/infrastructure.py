"""The infrastructure adaptor actor: holds the VIM drivers (emulated in-process, docker, and
SONATA's infrastructure adaptor over AMQP, ``sonata-ia``); the last two are built on first use.

On start it reconciles the emulated VIM with the records: VNFs that the VNFRs say are live
are re-adopted, so a restarted adaptor does not forget capacity that is in use.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Sequence

import ray
import yaml

from actors import naming
from actors.plugin import PluginActor
from mano.lifecycle.local import LocalVim
from mano.lifecycle.states import ServiceState, VnfState
from mano.settings import Settings
from mano.store.client import connect
from mano.vim import load_infrastructure, make_driver
from mano.lifecycle.vim_port import DeployedVnf, Network, NetworkRequest, Pop, VnfDeployment, WanLink
from mano.vim.emulated import FaultPlan

log = logging.getLogger(__name__)


@ray.remote(num_cpus=0, max_concurrency=64, max_restarts=-1)
class InfrastructureAdaptor(PluginActor):
    plugin_name = naming.INFRASTRUCTURE
    plugin_description = "VIM drivers: emulated PoPs, Docker, SONATA's infrastructure adaptor"

    def __init__(self, settings: Settings, pops: Sequence[Pop] | None = None):
        self._store = connect(settings, stop_embedded_on_exit=False)
        pops, self._links = (list(pops), []) if pops else load_infrastructure(settings.topology)
        self.vim = LocalVim({"emulated": make_driver("emulated", pops)})
        self._pops = pops
        self._settings = settings
        self._building = threading.Lock()  # calls run in parallel: one first call builds a driver
        self._reconcile()
        self._start_plugin(settings)

    def _driver(self, vim: str):
        if vim in self.vim.drivers or vim not in ("docker", "sonata-ia"):
            return self.vim.driver(vim)
        with self._building:
            if vim not in self.vim.drivers:
                self._build_driver(vim)
        return self.vim.driver(vim)

    def _build_driver(self, vim: str) -> None:
        if vim == "docker":
            images = self._settings.docker_images
            image_map = yaml.safe_load(images.read_text()) if images else None
            self.vim.drivers["docker"] = make_driver("docker", self._pops, store=self._store, image_map=image_map)
            log.info("docker VIM reconciled: %s", self.vim.drivers["docker"].last_reconcile)
        else:
            driver = make_driver("sonata-ia", [], settings=self._settings)
            live = self._store.vnfr.find({"vim": "sonata-ia", "vnf_state": {"$ne": VnfState.TERMINATED.value}})
            services = self._store.services.find({"vim": "sonata-ia", "state": {"$ne": ServiceState.TERMINATED.value}})
            log.info("SONATA infrastructure adaptor: %d live VNFs taken back from the records",
                     driver.adopt_records(live, {s.id: dict(s.networks) for s in services}))
            self.vim.drivers["sonata-ia"] = driver

    def _reconcile(self) -> None:
        live = self._store.vnfr.find({"vim": "emulated", "vnf_state": {"$ne": VnfState.TERMINATED.value}})
        adopted = self.vim.driver("emulated").adopt_records(live)
        if adopted:
            log.info("re-adopted %d live VNFs from the records", adopted)

    # --- the Infrastructure / Vim ports ------------------------------------------------
    def list_pops(self, vim: str) -> list[Pop]:
        return self._driver(vim).list_pops()

    def wan_links(self) -> list[WanLink]:
        """The WAN of the topology file (every VIM's PoPs sit on it); empty without one."""
        return list(self._links)

    def create_networks(self, vim: str, service_id: str, requests: Sequence[NetworkRequest]) -> list[Network]:
        return self._driver(vim).create_networks(service_id, requests)

    def delete_networks(self, vim: str, service_id: str) -> None:
        self._driver(vim).delete_networks(service_id)

    def deploy_vnf(self, vim: str, deployment: VnfDeployment) -> DeployedVnf:
        return self._driver(vim).deploy_vnf(deployment)

    def remove_vnf(self, vim: str, service_id: str, vnf_instance_id: str) -> None:
        self._driver(vim)  # starts the docker driver on first use
        self.vim.remove_vnf(vim, service_id, vnf_instance_id)

    def configure_vnf(self, vim: str, service_id: str, vnf_instance_id: str, envs: dict[str, str]) -> None:
        self._driver(vim).configure_vnf(service_id, vnf_instance_id, envs)

    def vnf_status(self, vim: str, vnf_instance_id: str) -> str:
        return self._driver(vim).vnf_status(vnf_instance_id)

    def settled(self, vnf_instance_ids: Sequence[str]) -> set[str]:
        """Of these VNF instances, those deployed or removed (placement retires their reservations)."""
        return self.vim.settled(vnf_instance_ids)

    def pops_and_settled(self, vim: str, vnf_instance_ids: Sequence[str]) -> tuple[list[Pop], set[str]]:
        """What the Placement plugin needs of a placement on ``vim``, in one call."""
        return self.list_pops(vim), (self.settled(vnf_instance_ids) if vnf_instance_ids else set())

    def stats(self, vim: str, vnf_instance_id: str) -> dict[str, float]:
        return self._driver(vim).stats(vnf_instance_id)

    def deployed_ids(self, vim: str) -> list[str]:
        """The VNF instances the VIM holds, by id: what an audit compares with the records."""
        return sorted(self._driver(vim).deployments())

    # --- emulator controls (chaos and healing drills) ---------------------------------
    def inject_fault(self, plan: dict[str, Any]) -> None:
        self.vim.driver("emulated").inject_fault(FaultPlan(**plan))

    def clear_faults(self) -> None:
        self.vim.driver("emulated").clear_faults()

    def set_load(self, vnf_instance_id: str, metrics: dict[str, float] | None) -> None:
        self.vim.driver("emulated").set_load(vnf_instance_id, metrics)

    def crash_vnf(self, vnf_instance_id: str) -> None:
        self.vim.driver("emulated").crash_vnf(vnf_instance_id)
