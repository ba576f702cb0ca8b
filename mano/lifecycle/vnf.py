"""One VNF instance's lifecycle: deploy, start, stop, configure, heal, remove.

The VNFR is the VNF's record and carries its state (``vnf_state``), so a VnfInstance actor
that passivated or crashed is rebuilt from it. Every call is idempotent: deploying a VNF that
is deployed returns its record, removing a removed one does nothing.

Every lifecycle call holds the VNF's lease (:mod:`mano.lifecycle.lease`) and writes the VNFR
fenced with its token, whichever process runs it (the VNF's actor, the FLM, a test): calls on
one VNF from two hosts run one after the other, and a host that stalled past its lease cannot
write over its successor. While a host keeps the lease (a VNF's start right after its deploy,
its remove after its stop), it keeps the VNFR it last wrote and acts on that copy instead of
reading it again: no one else can have written it meanwhile.
"""
from __future__ import annotations

import contextlib
import logging
from typing import Any, Iterator

from mano.errors import (DuplicateRecordError, LifecycleError, RecordNotFoundError, StaleRecordError,
                         UnknownInstanceError)
from mano.lifecycle.lease import DEFAULT_TTL_S, InstanceLeases, vnf_key
from mano.lifecycle.ports import FunctionAction, FunctionDeployment, Vim
from mano.lifecycle.sonata_records import build_vnfr
from mano.lifecycle.states import VNF_TRANSITIONS, VnfState, transition
from mano.records import SonataStatus, VnfrRecord
from mano.lifecycle.vim_port import UnitRequest, VnfDeployment

log = logging.getLogger(__name__)


def vnf_deployment(req: FunctionDeployment) -> VnfDeployment:
    """Translate an FLM deploy request into what a VIM driver needs."""
    vnfd = req.vnfd
    units = [UnitRequest(id=u.id, image=u.vm_image, vcpus=u.resource_requirements.cpu.vcpus,
                         memory_gb=u.resource_requirements.memory.gb,
                         connection_points=tuple(c.id for c in u.connection_points), kind="vm")
             for u in vnfd.virtual_deployment_units]
    units += [UnitRequest(id=u.id, image=u.image, vcpus=0.0, memory_gb=0.0,
                          connection_points=tuple(c.id for c in u.connection_points), kind="container",
                          env={str(k): str(v) for k, v in ((u.parameters or {}).get("env") or {}).items()})
              for u in vnfd.cloudnative_deployment_units]
    # A unit's point reaches a service network through the VNF's internal link to an external point.
    unit_networks: dict[str, str] = {}
    for link in vnfd.virtual_links:
        external = [r for r in link.connection_points_reference if r in req.networks]
        for ref in link.connection_points_reference:
            if external and ref not in req.networks:
                unit_networks[ref] = req.networks[external[0]]
    return VnfDeployment(service_id=req.service_id, vnf_instance_id=req.vnf_instance_id, vnf_name=vnfd.name,
                         pop=req.pop, units=tuple(units), networks=unit_networks, descriptor=vnfd.to_dict())


class VnfController:
    """Lifecycle of one VNF instance; its persistent state is its VNFR."""

    def __init__(self, vnf_instance_id: str, store: Any, vim: Vim, *, leases: InstanceLeases | None = None,
                 wait_s: float = 3 * DEFAULT_TTL_S):
        """``store``: the record store (``vnfr`` and ``leases``); ``leases``: the host's lease
        keeper (default: one for this process); ``wait_s``: how long a call waits for the lease
        while another host works on this VNF (long enough for a dead holder's lease to expire)."""
        self.id = vnf_instance_id
        self._key = vnf_key(vnf_instance_id)
        self._vnfrs = store.vnfr
        self._vim = vim
        self.leases = leases or InstanceLeases.private(store.leases)
        self._wait_s = wait_s

    @contextlib.contextmanager
    def _leased(self) -> Iterator[Any]:
        """Hold the VNF's lease; yields the VNFR repository fenced with its token."""
        fence = lambda token: self._vnfrs.raise_fence({"id": self.id}, token)  # noqa: E731
        with self.leases.hold(self._key, wait_s=self._wait_s, fence=fence) as token:
            yield self._vnfrs.fenced(token)

    def _current(self, vnfrs: Any) -> VnfrRecord | None:
        """The VNFR: the copy kept under the lease this host still holds, else the store's."""
        known = self.leases.known(self._key)
        return known if known is not None else vnfrs.find_one(self.id)  # type: ignore[return-value]

    def _kept(self, record: VnfrRecord) -> VnfrRecord:
        self.leases.remember(self._key, record)
        return record

    def record(self) -> VnfrRecord:
        try:
            return self._vnfrs.get(self.id)
        except RecordNotFoundError:
            raise UnknownInstanceError(f"no VNF instance {self.id}") from None

    def deploy(self, req: FunctionDeployment) -> dict[str, Any]:
        """Deploy (and with ``req.start``, then start) the VNF; its VNFR as SONATA's."""
        with self._leased() as vnfrs:
            existing = self._current(vnfrs)
            if existing is not None and existing.vnf_state not in (VnfState.FAILED, VnfState.DEPLOYING):
                stored = existing  # already deployed: idempotent (a retry may have stopped before its start)
            else:
                stored = self._deploy(vnfrs, req, existing)
            if req.start and stored.vnf_state == VnfState.DEPLOYED:  # persisted as deployed first
                stored = self._move(vnfrs, VnfState.RUNNING, current=stored)
            return stored.to_sonata()

    def _deploy(self, vnfrs: Any, req: FunctionDeployment, existing: VnfrRecord | None) -> VnfrRecord:
        """Deploy on the VIM and write the VNFR as deployed (over a failed or half-done one)."""
        deployed = self._vim.deploy_vnf(req.vim, vnf_deployment(req))
        vnfr = build_vnfr(req.service_id, self.id, req.vnfd, deployed, req.networks)
        vnfr = vnfr.model_copy(update={"vnf_state": VnfState.DEPLOYED, "pop": req.pop, "vim": req.vim})
        if existing is not None:
            vnfr = vnfr.model_copy(update={"rev": existing.rev, "fence": existing.fence})
        try:
            stored = vnfrs.upsert(vnfr, exists=existing is not None)
        except (DuplicateRecordError, StaleRecordError):
            # A twin call (a resumed workflow racing the original) wrote first; the VIM
            # deployment is idempotent by instance id, so its record describes the same VNF.
            stored = vnfrs.get(self.id)
        return self._kept(stored)

    def _move(self, vnfrs: Any, target: VnfState, *, current: VnfrRecord | None = None,
              **changes: Any) -> VnfrRecord:
        """Move the VNFR to ``target``; ``current``: a copy just read or kept, to save reading it
        again (a stale one costs a re-read: the write is revision-checked)."""
        def change(record: VnfrRecord) -> VnfrRecord:
            transition(VNF_TRANSITIONS, VnfState(record.vnf_state), target, what=f"VNF {self.id}")
            return record.model_copy(update={"vnf_state": target, **changes})
        try:
            return self._kept(vnfrs.mutate(self.id, change, current=current or self.leases.known(self._key)))
        except RecordNotFoundError:
            raise UnknownInstanceError(f"no VNF instance {self.id}") from None

    def start(self, action: FunctionAction) -> None:
        with self._leased() as vnfrs:
            self._move(vnfrs, VnfState.RUNNING)

    def stop(self, action: FunctionAction) -> None:
        with self._leased() as vnfrs:
            record = self._current(vnfrs)
            if record is not None and VnfState(record.vnf_state) in (VnfState.TERMINATED, VnfState.STOPPED):
                return
            self._move(vnfrs, VnfState.STOPPED, current=record)

    def configure(self, action: FunctionAction) -> None:
        """Apply ``action.data["envs"]`` (SONATA's env injection) on the VIM and record it on the
        VNFR; without envs, only check that the VNF can be configured. Idempotent: values the
        VNFR already holds are not sent again."""
        envs = {str(k): str(v) for k, v in (action.data.get("envs") or {}).items()}
        record = self.leases.known(self._key) or self.record()
        if VnfState(record.vnf_state) == VnfState.TERMINATED:
            raise LifecycleError(f"VNF instance {self.id} is terminated")
        if not envs or all(record.envs.get(k) == v for k, v in envs.items()):
            return
        with self._leased() as vnfrs:
            record = self._current(vnfrs) or self.record()
            merged = {**record.envs, **envs}  # the VIM is given the VNF's whole environment
            self._vim.configure_vnf(record.vim, action.service_id, self.id, merged)
            self._kept(vnfrs.mutate(self.id, lambda r: r.model_copy(update={
                "envs": merged, "version": str(int(r.version) + 1)}), current=record))

    def remove(self, action: FunctionAction) -> None:
        with self._leased() as vnfrs:
            record = self._current(vnfrs)
            if record is not None and VnfState(record.vnf_state) == VnfState.TERMINATED:
                return
            vim = record.vim if record is not None else action.data.get("vim", "emulated")
            self._vim.remove_vnf(vim, action.service_id, self.id)
            if record is not None:
                self._move(vnfrs, VnfState.TERMINATED, current=record, status=SonataStatus.TERMINATED.value,
                           version=str(int(record.version) + 1))

    def heal(self, action: FunctionAction) -> dict[str, Any]:
        """Re-deploy on the same PoP after the VIM lost the instance; the VNFR keeps its id.

        ``action.data["deployment"]`` is the FunctionDeployment to redo.
        """
        req: FunctionDeployment = action.data["deployment"]
        with self._leased() as vnfrs:
            record = self.record()
            self._vim.remove_vnf(record.vim, req.service_id, self.id)
            failed = self._move(vnfrs, VnfState.FAILED)
            deployed = self._vim.deploy_vnf(record.vim, vnf_deployment(req))
            fresh = build_vnfr(req.service_id, self.id, req.vnfd, deployed, req.networks,
                               version=str(int(record.version) + 1))
            if failed.envs:  # the new instance gets the configuration the old one had
                self._vim.configure_vnf(record.vim, req.service_id, self.id, failed.envs)
            healed = vnfrs.mutate(self.id, lambda r: fresh.model_copy(update={
                "rev": r.rev, "vnf_state": VnfState.RUNNING, "pop": r.pop, "vim": r.vim, "envs": r.envs}),
                current=failed)
            return self._kept(healed).to_sonata()

    def vim_status(self) -> str:
        record = self._vnfrs.find_one(self.id)
        if record is None:
            return "absent"
        return self._vim.vnf_status(record.vim, self.id)
