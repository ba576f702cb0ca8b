"""A VIM driver that speaks SONATA's infrastructure adaptor topics, as a client (``vim="sonata-ia"``).

SONATA's IA (son-sp-infrabstract) fronts the VIMs an operator runs (OpenStack, Kubernetes);
its SLM and FLM drive it over the ``son-kernel`` exchange. This driver makes the same calls,
so mano can deploy on any VIM such an adaptor manages. The topics and payloads are those of
son-mano-framework's SLM (``network_create``, ``remove_network``, ``terminate_service``) and
FLM (``deploy_vnf``, ``remove_vnf``); every call is SONATA request/reply (reply on the same
topic, same correlation id) and every reply is ``{request_status: COMPLETED|ERROR|..., message}``:

==============================================  =========================================================
``infrastructure.management.compute.list``       ``list_pops``: ``{vim_list: [{vim_uuid, ..., memory_total (MB)}]}``
``infrastructure.service.network.create``        before a VNF is deployed on a VIM that lacks its networks:
                                                 ``{instance_id, vim_list: [{uuid, virtual_links: [{id, access, vl_id, cidr?}]}]}``
``infrastructure.function.deploy``               ``deploy_vnf``: ``{vnfd (+instance_uuid), vim_uuid, service_instance_id}``
                                                 -> ``{request_status, vnfr, message}``
``infrastructure.function.remove``               ``remove_vnf``: ``{service_instance_id, vim_uuid, vnf_uuid}``
``infrastructure.function.configure``            ``configure_vnf``: ``{vim_uuid, envs: [{cdu_id, envs}], service_instance_id,
                                                 func_id}`` (SONATA's env injection, as its FLM's ``func_ia_configure``)
``infrastructure.service.network.delete``        ``delete_networks``: the networks created, per VIM
``infrastructure.service.remove``                ``delete_networks``: JSON ``{instance_uuid, vim_uuid}``, once per VIM
==============================================  =========================================================

After a restart (the infrastructure adaptor actor's), the driver takes its VNFs back from the
VNFRs and each live service's links from its record; it cannot know which links exist on the
VIMs the service used, so there a refused network creation is taken as "created before" and
the deploy that follows says whether that was so.

What SONATA's adaptor does not offer, this driver answers from what it knows: there is no
status or metrics topic, so a VNF it deployed and did not remove is ``running`` and its stats
are empty (SONATA monitored through its own monitoring manager). A network is created on a VIM
the first time a VNF that uses it is deployed there (SONATA's SLM creates each link on the VIMs
its VNFs were placed on); its id is derived from the service and link, so a retried workflow
asks for the same network again. The VNFD sent is SONATA's as its SLM rewrote it: deployment
unit ids suffixed with ``-<VNF instance id>``, each connection point given its ``network_id``.

Errors: a reply that is not ``COMPLETED`` raises :class:`~mano.errors.VimError` with the
adaptor's message (bad input is not retried); no reply within the timeout, or no broker,
raises :class:`~mano.errors.TemporaryVimError` (the step is retried, then held FAILED_TEMP).
"""
from __future__ import annotations

import copy
import json
import logging
import threading
import uuid
from typing import Any, Iterable, Mapping, Sequence

from mano.errors import MessagingError, TemporaryVimError, VimError
from mano.lifecycle.vim_port import (DeployedUnit, DeployedVnf, Network, NetworkRequest, Pop, VimDriver,
                                     VnfDeployment)
from mano.settings import Settings

log = logging.getLogger(__name__)

COMPUTE_LIST = "infrastructure.management.compute.list"
NETWORK_CREATE = "infrastructure.service.network.create"
NETWORK_DELETE = "infrastructure.service.network.delete"
FUNCTION_DEPLOY = "infrastructure.function.deploy"
FUNCTION_REMOVE = "infrastructure.function.remove"
FUNCTION_CONFIGURE = "infrastructure.function.configure"
SERVICE_REMOVE = "infrastructure.service.remove"

MB_PER_GB = 1024.0  # the IA reports memory in MB; mano's PoPs hold GB
_NETWORK_NAMESPACE = uuid.UUID("5d1f4c2e-0d55-4d0c-9d0e-6a1f3f2b7c11")


def network_id(service_id: str, vl_id: str) -> str:
    """The id of a service link's network: the same for every retry of the same request."""
    return str(uuid.uuid5(_NETWORK_NAMESPACE, f"{service_id}/{vl_id}"))


def pop_from_sonata(entry: Mapping[str, Any]) -> Pop:
    """A ``vim_list`` entry of ``compute.list`` (memory in MB) as a PoP (memory in GB)."""
    try:
        return Pop(vim_uuid=str(entry["vim_uuid"]), name=str(entry.get("vim_name") or entry["vim_uuid"]),
                   city=str(entry.get("vim_city") or ""), endpoint=str(entry.get("vim_endpoint") or ""),
                   type=str(entry.get("type") or "vm"), domain=str(entry.get("vim_domain") or "default"),
                   core_total=float(entry.get("core_total") or 0), core_used=float(entry.get("core_used") or 0),
                   memory_total=float(entry.get("memory_total") or 0) / MB_PER_GB,
                   memory_used=float(entry.get("memory_used") or 0) / MB_PER_GB)
    except (KeyError, TypeError, ValueError) as exc:
        raise VimError(f"the infrastructure adaptor listed a VIM mano cannot read ({exc!r}): {dict(entry)}") from None


def deployed_from_sonata(vnfr: Mapping[str, Any], deployment: VnfDeployment) -> DeployedVnf:
    """The IA's VNFR as the units mano records, with their addresses; every unit of the
    deployment must be there."""
    wanted = {u.id for u in deployment.units}
    units = _units(vnfr, deployment.vnf_instance_id, deployment.pop, wanted)
    missing = wanted - {u.unit_id for u in units}
    if missing:
        raise VimError(f"the infrastructure adaptor deployed {deployment.vnf_name} ({deployment.vnf_instance_id}) "
                       f"on {deployment.pop} without its units {', '.join(sorted(missing))}")
    return DeployedVnf(deployment.vnf_instance_id, deployment.pop, tuple(units))


def _units(vnfr: Mapping[str, Any], instance_id: str, pop: str, wanted: set[str] | None = None) -> list[DeployedUnit]:
    """The units of a SONATA VNFR (``virtual_deployment_units[].vnfc_instance[]`` or
    ``cloudnative_deployment_units[]``): the IA's answer, or the VNFR mano stored from it.
    A unit's id is its descriptor's (SONATA suffixes it with ``-<instance id>``)."""
    suffix = f"-{instance_id}"

    def unit_id(du: Mapping[str, Any]) -> str:
        reference = str(du.get("vdu_reference") or du.get("cdu_reference") or "")
        if ":" in reference and (wanted is None or reference.rsplit(":", 1)[1] in wanted):
            return reference.rsplit(":", 1)[1]
        du_id = str(du.get("id") or "")
        return du_id[:-len(suffix)] if du_id.endswith(suffix) else du_id

    def addresses(points: Iterable[Mapping[str, Any]]) -> dict[str, str]:
        found: dict[str, str] = {}
        for cp in points or ():
            interface = cp.get("interface") or {}
            address = interface.get("address") if isinstance(interface, Mapping) else None
            if cp.get("id") is not None and address:
                found[str(cp["id"])] = str(address)
        return found

    units: list[DeployedUnit] = []
    for du in vnfr.get("virtual_deployment_units") or ():
        for vnfc in du.get("vnfc_instance") or ():
            units.append(DeployedUnit(unit_id=unit_id(du), vc_id=str(vnfc.get("vc_id") or ""),
                                      vim_id=str(vnfc.get("vim_id") or pop),
                                      addresses=addresses(vnfc.get("connection_points") or ())))
    for cdu in vnfr.get("cloudnative_deployment_units") or ():
        balancer = cdu.get("load_balancer_ip") or {}
        address = balancer.get("floating_ip") or balancer.get("internal_ip") if isinstance(balancer, Mapping) else None
        points = {str(cp["id"]): str(address) for cp in cdu.get("connection_points") or () if address and "id" in cp}
        units.append(DeployedUnit(unit_id=unit_id(cdu), vc_id=str(cdu.get("id") or ""),
                                  vim_id=str(cdu.get("vim_id") or pop), addresses=points))
    return units


class SonataIaVim(VimDriver):
    """VIMs managed by a SONATA infrastructure adaptor on the broker; thread-safe.

    ``rpc``: an :class:`~mano.messaging.rpc.RpcClient` on a started bus (tests); by default
    the driver opens its own bus on ``settings.ia_broker_url`` (or ``broker_url``) and
    ``settings.exchange``. ``timeout_s``: how long a call waits for the adaptor's reply.
    """

    kind = "sonata-ia"

    def __init__(self, settings: Settings | None = None, *, rpc: Any = None, timeout_s: float | None = None):
        settings = settings or Settings()
        self._timeout_s = timeout_s if timeout_s is not None else settings.ia_timeout_s
        self._own_bus = None
        if rpc is None:
            from mano.messaging.bus import Bus  # imports pika only when this driver is used
            from mano.messaging.rpc import RpcClient
            try:
                self._own_bus = Bus(settings, url=settings.ia_broker_url or settings.broker_url,
                                    app_id="son-plugin.mano-ia-client", name="sonata-ia",
                                    exchange_durable=settings.exchange_durable,
                                    ).start(timeout=max(1.0, min(10.0, self._timeout_s)))
            except MessagingError as exc:
                raise TemporaryVimError(f"the SONATA infrastructure adaptor's broker is unreachable: {exc}") from exc
            rpc = RpcClient(self._own_bus, timeout=self._timeout_s)
        self._rpc = rpc
        self._lock = threading.Lock()
        self._deployed: dict[str, DeployedVnf] = {}
        # VNF -> VIM of every deploy sent: one whose reply never came may still have been
        # deployed, so its removal is sent all the same
        self._sent: dict[str, str] = {}
        self._links: dict[str, dict[str, NetworkRequest]] = {}  # service -> vl id -> request
        self._created: dict[str, dict[str, set[str]]] = {}  # service -> VIM -> vl ids created there
        self._vims_of: dict[str, set[str]] = {}  # service -> every VIM it deployed on
        # service -> VIMs whose networks a restart forgot: a link may or may not be there
        self._uncertain: dict[str, set[str]] = {}
        self._service_locks: dict[str, threading.Lock] = {}

    # --- request/reply -----------------------------------------------------------------
    def _call(self, topic: str, body: Mapping[str, Any] | bytes, what: str) -> dict[str, Any]:
        from mano.messaging.rpc import RpcTimeoutError
        try:
            reply = self._rpc.call(topic, body, timeout=self._timeout_s)
        except RpcTimeoutError as exc:
            raise TemporaryVimError(f"the SONATA infrastructure adaptor did not answer {what} on {topic!r} "
                                    f"within {self._timeout_s:g} s") from exc
        except MessagingError as exc:
            raise TemporaryVimError(f"{what}: the broker of the SONATA infrastructure adaptor failed: {exc}") from exc
        if reply.error is not None or not isinstance(reply.body, Mapping):
            raise VimError(f"the SONATA infrastructure adaptor answered {what} on {topic!r} with a body mano "
                           f"cannot read: {reply.error or reply.body!r}")
        status = str(reply.body.get("request_status") or "").upper()
        if status != "COMPLETED":
            message = reply.body.get("message") or "no message"
            raise VimError(f"the SONATA infrastructure adaptor refused {what} "
                           f"({reply.body.get('request_status')!r}): {message}")
        return dict(reply.body)

    def _refusal(self, topic: str, body: Mapping[str, Any] | bytes, what: str) -> VimError | None:
        """Call where the adaptor may rightly refuse: its refusal is returned, not raised; no
        answer still raises :class:`TemporaryVimError`."""
        try:
            self._call(topic, body, what)
        except TemporaryVimError:
            raise
        except VimError as exc:
            return exc
        return None

    def _service_lock(self, service_id: str) -> threading.Lock:
        with self._lock:
            return self._service_locks.setdefault(service_id, threading.Lock())

    # --- PoPs ----------------------------------------------------------------------------
    def list_pops(self) -> list[Pop]:
        body = self._call(COMPUTE_LIST, {}, "the VIM list")
        vims = body.get("vim_list")
        if not isinstance(vims, list):
            raise VimError(f"the SONATA infrastructure adaptor's VIM list has no 'vim_list' list: {body!r}")
        return [pop_from_sonata(v) for v in vims]

    # --- networks ----------------------------------------------------------------------
    def create_networks(self, service_id: str, requests: Sequence[NetworkRequest]) -> list[Network]:
        """Remember the service's links; each is created on a VIM with the first VNF there."""
        with self._lock:
            links = self._links.setdefault(service_id, {})
            for req in requests:
                links.setdefault(req.vl_id, req)
        return [Network(id=network_id(service_id, r.vl_id), vl_id=r.vl_id, cidr=r.cidr or "") for r in requests]

    def _ensure_networks(self, deployment: VnfDeployment) -> None:
        service, pop = deployment.service_id, deployment.pop
        with self._lock:
            by_id = {network_id(service, vl): req for vl, req in self._links.get(service, {}).items()}
        needed = {by_id[n].vl_id: by_id[n] for n in set(deployment.networks.values()) if n in by_id}
        with self._service_lock(service):  # two VNFs on one VIM must not create its links twice
            with self._lock:
                created = self._created.setdefault(service, {}).setdefault(pop, set())
                missing = [req for vl, req in sorted(needed.items()) if vl not in created]
            if not missing:
                return
            uncertain = pop in self._uncertain.get(service, set())
            links = [{"id": network_id(service, r.vl_id), "access": True, "vl_id": r.vl_id,
                      **({"cidr": r.cidr} if r.cidr else {})} for r in missing]
            refusal = self._refusal(
                NETWORK_CREATE, {"instance_id": service, "vim_list": [{"uuid": pop, "virtual_links": links}]},
                f"the networks {', '.join(r.vl_id for r in missing)} of service {service} on VIM {pop}")
            if refusal is not None and not uncertain:
                raise refusal
            if refusal is not None:
                # Before the restart this VIM had VNFs of the service, so its links may exist; if
                # one is really missing, the deploy that follows is refused with the adaptor's words.
                log.info("networks of %s on %s taken as created before the restart: %s", service, pop, refusal)
            with self._lock:
                created.update(r.vl_id for r in missing)

    def delete_networks(self, service_id: str) -> None:
        """Delete the networks created for the service, then remove the service from every VIM
        it used (SONATA's ``terminate_service``), which also clears what a restart forgot."""
        with self._service_lock(service_id):
            with self._lock:
                created = {vim: set(vls) for vim, vls in self._created.get(service_id, {}).items() if vls}
                vims = sorted(self._vims_of.get(service_id, set()) | created.keys())
            if created:
                vim_list = [{"uuid": vim, "virtual_links": [{"id": network_id(service_id, vl)} for vl in sorted(vls)]}
                            for vim, vls in sorted(created.items())]
                self._call(NETWORK_DELETE, {"instance_id": service_id, "vim_list": vim_list},
                           f"the networks of service {service_id}")
            for vim in vims:
                payload = json.dumps({"instance_uuid": service_id, "vim_uuid": vim}).encode()
                self._call(SERVICE_REMOVE, payload, f"the removal of service {service_id} from VIM {vim}")
            with self._lock:
                self._created.pop(service_id, None)
                self._links.pop(service_id, None)
                self._vims_of.pop(service_id, None)
                self._uncertain.pop(service_id, None)

    # --- VNFs --------------------------------------------------------------------------
    def _sonata_vnfd(self, deployment: VnfDeployment) -> dict[str, Any]:
        """The VNFD as SONATA's SLM hands it to the IA: instance uuid, unit ids suffixed with
        it, every unit connection point given the id of its network."""
        suffix = f"-{deployment.vnf_instance_id}"
        if not deployment.descriptor:  # every deploy the lifecycle sends carries it (vnf_deployment)
            raise VimError(f"the deployment of {deployment.vnf_instance_id} carries no VNFD for the SONATA "
                           f"infrastructure adaptor")
        vnfd = copy.deepcopy(dict(deployment.descriptor))
        vnfd["instance_uuid"] = deployment.vnf_instance_id
        for key in ("virtual_deployment_units", "cloudnative_deployment_units"):
            for du in vnfd.get(key) or ():
                du_id = str(du.get("id"))
                for cp in du.get("connection_points") or ():
                    net = deployment.networks.get(f"{du_id}:{cp.get('id')}") or deployment.networks.get(str(cp.get("id")))
                    if net is not None:
                        cp["network_id"] = net
                du["id"] = du_id + suffix
        return vnfd

    def deploy_vnf(self, deployment: VnfDeployment) -> DeployedVnf:
        with self._lock:
            existing = self._deployed.get(deployment.vnf_instance_id)
        if existing is not None:
            return existing
        self._ensure_networks(deployment)
        with self._lock:
            unanswered = self._sent.get(deployment.vnf_instance_id)
        if unanswered is not None:
            # An earlier deploy got no reply: the adaptor may run it, and SONATA's adaptor has
            # no topic to ask. Remove it first so this deploy is not refused as a duplicate.
            refusal = self._refusal(FUNCTION_REMOVE, {"service_instance_id": deployment.service_id,
                                                      "vim_uuid": unanswered, "vnf_uuid": deployment.vnf_instance_id},
                                    f"the removal of the unanswered deploy of {deployment.vnf_instance_id}")
            if refusal is not None:  # it was not deployed after all
                log.info("no earlier deploy of %s to remove: %s", deployment.vnf_instance_id, refusal)
        with self._lock:
            self._sent[deployment.vnf_instance_id] = deployment.pop
            self._vims_of.setdefault(deployment.service_id, set()).add(deployment.pop)
        try:
            body = self._call(FUNCTION_DEPLOY, {"vnfd": self._sonata_vnfd(deployment), "vim_uuid": deployment.pop,
                                                "service_instance_id": deployment.service_id},
                              f"the deployment of {deployment.vnf_name} ({deployment.vnf_instance_id}) on "
                              f"{deployment.pop}")
        except TemporaryVimError:
            raise  # no answer: it may run (kept in _sent)
        except VimError:
            with self._lock:  # refused: it does not run
                self._sent.pop(deployment.vnf_instance_id, None)
            raise
        vnfr = body.get("vnfr")
        if not isinstance(vnfr, Mapping):
            raise VimError(f"the SONATA infrastructure adaptor deployed {deployment.vnf_name} "
                           f"({deployment.vnf_instance_id}) but sent no VNFR: {body!r}")
        deployed = deployed_from_sonata(vnfr, deployment)
        with self._lock:
            self._deployed[deployment.vnf_instance_id] = deployed
        return deployed

    def remove_vnf(self, service_id: str, vnf_instance_id: str) -> None:
        with self._lock:
            deployed = self._deployed.get(vnf_instance_id)
            pop = deployed.pop if deployed is not None else self._sent.get(vnf_instance_id)
        if pop is None:
            return  # never sent to the adaptor (or removed already)
        refusal = self._refusal(FUNCTION_REMOVE, {"service_instance_id": service_id, "vim_uuid": pop,
                                                  "vnf_uuid": vnf_instance_id},
                                f"the removal of VNF {vnf_instance_id} from {pop}")
        if refusal is not None and deployed is not None:
            raise refusal
        if refusal is not None:
            log.info("the unanswered deploy of %s did not run: %s", vnf_instance_id, refusal)
        with self._lock:
            self._deployed.pop(vnf_instance_id, None)
            self._sent.pop(vnf_instance_id, None)

    def configure_vnf(self, service_id: str, vnf_instance_id: str, envs: Mapping[str, str]) -> None:
        with self._lock:
            deployed = self._deployed.get(vnf_instance_id)
        if deployed is None:
            raise VimError(f"VNF instance {vnf_instance_id} is not deployed through the SONATA infrastructure adaptor")
        units = [{"cdu_id": f"{u.unit_id}-{vnf_instance_id}", "envs": {str(k): str(v) for k, v in envs.items()}}
                 for u in deployed.units]
        self._call(FUNCTION_CONFIGURE, {"vim_uuid": deployed.pop, "envs": units, "service_instance_id": service_id,
                                        "func_id": vnf_instance_id},
                   f"the configuration of VNF {vnf_instance_id} on {deployed.pop}")

    def adopt_records(self, vnfrs: Iterable[Any], networks: Mapping[str, Mapping[str, str]] | None = None) -> int:
        """Take back the VNFs these records (the live VNFRs of this VIM) say run on the adaptor,
        after the infrastructure adaptor restarted; how many. Their removal, and the removal of
        their services from the VIMs they used, then go to the adaptor as before the restart.
        ``networks``: each live service's links (``ServiceRecord.networks``, vl id -> network
        id), so a VNF added later (scale-out, migrate) is given its networks on a new VIM."""
        adopted = 0
        with self._lock:
            for service_id, links in (networks or {}).items():
                known = self._links.setdefault(service_id, {})
                for vl_id, net in links.items():
                    if net == network_id(service_id, vl_id):  # a network this driver named
                        known.setdefault(vl_id, NetworkRequest(vl_id=vl_id))
            for vnfr in vnfrs:
                if vnfr.pop is None or vnfr.id in self._deployed:
                    continue
                units = _units({"virtual_deployment_units": vnfr.virtual_deployment_units,
                                "cloudnative_deployment_units": vnfr.cloudnative_deployment_units}, vnfr.id, vnfr.pop)
                self._deployed[vnfr.id] = DeployedVnf(vnfr.id, vnfr.pop, tuple(units))
                self._sent[vnfr.id] = vnfr.pop
                self._vims_of.setdefault(vnfr.service_id or "", set()).add(vnfr.pop)
                self._uncertain.setdefault(vnfr.service_id or "", set()).add(vnfr.pop)
                adopted += 1
        return adopted

    def vnf_status(self, vnf_instance_id: str) -> str:
        with self._lock:
            return "running" if vnf_instance_id in self._deployed else "absent"

    def stats(self, vnf_instance_id: str) -> dict[str, float]:
        return {}  # SONATA's adaptor has no metrics topic

    def deployments(self) -> dict[str, DeployedVnf]:
        with self._lock:
            return dict(self._deployed)

    def close(self) -> None:
        if self._own_bus is not None:
            try:
                self._rpc.close()
            finally:
                self._own_bus.stop()
