"""The lifecycle workflows as named step lists (SONATA.md §3), one builder per operation type.

Each step is a small method of :class:`ServiceWorkflows`; the step list of an operation is
data (:data:`STEP_NAMES`), so a reader sees the whole instantiate workflow in one place and a
task SSM can reorder it. Steps act through the ports only and keep what later steps (and
rollback) need in their result on the operation record, one typed result per step
(:mod:`mano.lifecycle.step_results`).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from mano.descriptors.models import Nsd, Vnfd
from mano.descriptors.service import ServicePackage, resolve
from mano.errors import BadRequestError, LifecycleError, ManoError, StepFailedError
from mano.lifecycle.placement_preferences import PlacementPreferences
from mano.lifecycle.reconfiguration import envs_of, function_config, function_envs
from mano.lifecycle.ports import (FunctionAction, FunctionDeployment, Functions, Infrastructure, Placement,
                                  PlacementRequest, PlacementUnit)
from mano.lifecycle.sm_payloads import configure_payload, fsm_payload, placement_payload, task_payload
from mano.lifecycle.sonata_records import build_nsr
from mano.lifecycle.states import OperationType
from mano.lifecycle.step_results import (BestEffort, NetworksCreated, Placed, PlacedInstance, RecordsStored,
                                         SmsOnboarded, StateTransferred, TaskScheduled, Validated, VictimsSelected,
                                         VnfHealed, VnfsConfigured, VnfsDeployed, VnfsRemoved, VnfsStarted,
                                         VnfsStopped)
from mano.lifecycle.workflow import Step, StepContext
from mano.records import ServiceRecord, SonataStatus, VnfInstanceRef
from mano.lifecycle.sm_port import SmOutcome
from mano.lifecycle.vim_port import Network, NetworkRequest

# What a task SSM may not drop from an instantiation.
REQUIRED_STEPS = ("place", "deploy_vnfs", "store_records")

STEP_NAMES: dict[OperationType, tuple[str, ...]] = {
    OperationType.INSTANTIATE: ("validate", "place", "create_networks", "deploy_vnfs", "start_vnfs",
                                "configure_vnfs", "store_records"),
    OperationType.TERMINATE: ("stop_vnfs", "remove_vnfs", "delete_networks", "store_records"),
    OperationType.SCALE_OUT: ("place", "deploy_vnfs", "start_vnfs", "configure_vnfs", "store_records"),
    OperationType.SCALE_IN: ("select_victims", "stop_vnfs", "remove_vnfs", "store_records"),
    OperationType.HEAL: ("redeploy_vnf", "store_records"),
    # make before break: the new instance runs before the old one goes
    OperationType.MIGRATE: ("place", "deploy_vnfs", "start_vnfs", "configure_vnfs", "select_victims", "stop_vnfs",
                            "remove_vnfs", "store_records"),
    OperationType.RECONFIGURE: ("configure_vnfs", "store_records"),
}


class ServiceWorkflows:
    """Step implementations for one service.

    ``service()`` is the latest service record: while one of its operations runs, the service
    is the record's only writer (admission refuses other requests), so the copy it last read or
    wrote is the latest, and steps read it from memory instead of the store. The controller
    hands it a fresh read when an operation starts (:meth:`use`); writes go through
    :meth:`mutate_service`, which stays safe if the copy were stale (a revision-checked write).
    """

    def __init__(self, service_id: str, store: Any, functions: Functions, infrastructure: Infrastructure,
                 placement: Placement, sms: Any = None):
        self.service_id = service_id
        self.store = store
        self.functions = functions
        self.infrastructure = infrastructure
        self.placement = placement
        self.sms = sms  # the SpecificManagers port (mano.lifecycle.sm_port); None: no SSM/FSM support
        self._record: ServiceRecord | None = None
        self._package: ServicePackage | None = None

    # --- plumbing ----------------------------------------------------------------------
    def service(self) -> ServiceRecord:
        if self._record is None:
            self._record = self.store.services.get(self.service_id)
        return self._record

    def use(self, record: ServiceRecord | None) -> None:
        """Work from this copy of the service record (None: read it when next needed)."""
        self._record = record

    def mutate_service(self, change: Callable[[ServiceRecord], ServiceRecord]) -> ServiceRecord:
        self._record = self.store.services.mutate(self.service_id, change, current=self._record)
        return self._record

    def package(self) -> ServicePackage:
        """The service's descriptors, parsed once: they never change after instantiation."""
        if self._package is None:
            record = self.service()
            self._package = resolve(Nsd.model_validate(record.nsd), [Vnfd.model_validate(v) for v in record.vnfds])
        return self._package

    def steps(self, op_type: OperationType) -> list[Step]:
        if op_type not in STEP_NAMES:
            raise LifecycleError(f"operation type {op_type.value} is not supported yet")
        return [self._step(op_type, name) for name in STEP_NAMES[op_type]]

    def plan(self, op: Any) -> list[Step]:
        """The steps of ``op``: the fixed list, with the specific-manager steps when the
        service declares SMs, reordered by the task SSM once it has answered."""
        names = list(STEP_NAMES.get(op.type, ()))
        if not names:
            raise LifecycleError(f"operation type {op.type.value} is not supported yet")
        if self.sms is not None and self._declares_sms():
            if op.type == OperationType.INSTANTIATE:
                names[1:1] = ["onboard_sms", "task_ssm"]
                task = op.step("task_ssm")
                if task is not None and task.result.get("schedule"):
                    names = names[:3] + list(task.result["schedule"])
            elif op.type == OperationType.TERMINATE:
                names.insert(len(names) - 1, "terminate_sms")
            elif op.type == OperationType.MIGRATE:  # SONATA: state FSM extract -> state SSM -> inject
                names.insert(names.index("select_victims"), "transfer_state")
        return [self._step(op.type, name) for name in names]

    def _declares_sms(self) -> bool:
        package = self.package()
        return bool(package.nsd.service_specific_managers) or any(
            v.function_specific_managers for v in package.vnfds.values())

    def _step(self, op_type: OperationType, name: str) -> Step:
        run: Callable[[StepContext], Any] = getattr(self, f"{name}_{op_type.value}", None) or getattr(self, name)
        rollback = getattr(self, f"undo_{name}", None)
        if op_type == OperationType.TERMINATE:
            rollback = None  # termination goes forward only; its steps are best effort
        return Step(name=name, run=run, rollback=rollback)

    def _actions(self, ids: list[str], **data: Any) -> list[FunctionAction]:
        return [FunctionAction(service_id=self.service_id, vnf_instance_id=i, data=data) for i in ids]

    def _planned(self, ctx: StepContext) -> tuple[PlacedInstance, ...]:
        return ctx.result("place", Placed).instances

    def _networks(self) -> dict[str, str]:
        return dict(self.service().networks)

    # --- instantiate / scale out -------------------------------------------------------------
    def validate(self, ctx: StepContext) -> Validated:
        package = self.package()
        return Validated(vnfs=tuple(sorted(package.vnfds)))

    def place(self, ctx: StepContext) -> Placed:
        package, record = self.package(), self.service()
        if ctx.operation.type == OperationType.SCALE_OUT:
            vnf_id, count = ctx.request["vnf_id"], int(ctx.request.get("count", 1))
            wanted = [vnf_id] * count
            pins = {vnf_id: ctx.request["pop"]} if ctx.request.get("pop") else {}
        elif ctx.operation.type == OperationType.MIGRATE:
            moving = record.vnf_instance(ctx.request["vnf_instance_id"])
            if moving is None:
                raise LifecycleError(f"service {self.service_id} has no VNF instance {ctx.request['vnf_instance_id']}")
            wanted, pins = [moving.vnf_id], {moving.vnf_id: ctx.request["pop"]}
        else:
            wanted = [nf.vnf_id for nf in package.nsd.network_functions]
            pins = dict(ctx.request.get("pinned") or {})
        ids = self.functions.new_instance_ids(len(wanted))
        units = tuple(PlacementUnit(i, vnf_id, package.vnfd(vnf_id)) for i, vnf_id in zip(ids, wanted))
        # A placement SSM is sent the PoPs; without one, a port that reads them saves us the call.
        port_reads = getattr(self.placement, "reads_pops", False) and not self._has_sms()
        request = PlacementRequest(
            service_id=self.service_id, nsd=record.nsd, units=units, vim=record.vim,
            pops=() if port_reads else tuple(self.infrastructure.list_pops(record.vim)),
            pinned={u.instance_id: pins[u.vnf_id] for u in units if u.vnf_id in pins},
            **_placement_fields(PlacementPreferences.from_request(ctx.request)))
        override = self._ssm("placement", placement_payload(request))
        if override.used:
            mapping, how = override.result, {"solver": "ssm"}
        else:
            outcome = self.placement.place(request)
            mapping, how = outcome.mapping, outcome.summary()
        instances = tuple(PlacedInstance(id=u.instance_id, vnf_id=u.vnf_id, pop=mapping[u.instance_id]) for u in units)
        return Placed(instances=instances, placement=how, **_recorded(override))

    # --- specific managers -------------------------------------------------------------------
    def _has_sms(self) -> bool:
        """The service declares specific managers and this runtime runs them."""
        return self.sms is not None and self._declares_sms()

    def _ssm(self, kind: str, payload: dict[str, Any]) -> Any:
        """Ask the service's SSM of that kind; an outcome with ``used=False`` means: default."""
        if not self._has_sms():
            return SmOutcome(used=False, reason="absent")
        return self.sms.ssm(self.service_id, kind, payload)

    def onboard_sms(self, ctx: StepContext) -> SmsOnboarded:
        package = self.package()
        try:
            records = self.sms.onboard(self.service_id, package.nsd.to_dict(),
                                       {k: v.to_dict() for k, v in package.vnfds.items()})
        except ManoError as exc:  # SMs are optional behaviour: without them the defaults run
            return SmsOnboarded(fallback=f"specific managers unavailable: {exc}")
        return SmsOnboarded(specific_managers=tuple(f"{r.get('sm_type')}:{r.get('sm_id')} {r.get('status')}"
                                                    for r in records))

    def undo_onboard_sms(self, ctx: StepContext) -> None:
        self.sms.terminate(self.service_id)

    def task_ssm(self, ctx: StepContext) -> TaskScheduled:
        rest = list(STEP_NAMES[OperationType.INSTANTIATE][1:])
        override = self._ssm("task", task_payload(rest, REQUIRED_STEPS))
        return TaskScheduled(schedule=tuple(override.result["schedule"]) if override.used else tuple(rest),
                             **_recorded(override))

    def terminate_sms(self, ctx: StepContext) -> BestEffort:
        return BestEffort(errors=tuple(_best_effort(lambda: self.sms.terminate(self.service_id))))

    def _fsm_each(self, kind: str, ids: Sequence[str], data: dict[str, dict[str, Any]] | None = None
                  ) -> tuple[dict[str, Any] | None, dict[str, dict[str, str]]]:
        """Run the VNFs' FSMs of that kind (start/stop/configure), with ``data[instance id]``:
        each outcome (None without FSMs), and the ``envs`` they answered, by instance."""
        if not self._has_sms():
            return None, {}
        record = self.service()
        outcomes, envs = {}, {}
        for instance_id in ids:
            instance = record.vnf_instance(instance_id)
            if instance is None:
                continue
            outcome = self._ask_fsm(instance.vnf_id, instance_id, kind, (data or {}).get(instance_id))
            outcomes[instance_id] = _recorded(outcome)
            answered = envs_of(outcome.result.get("envs")) if outcome.used and isinstance(outcome.result, dict) else {}
            if answered:
                envs[instance_id] = answered
        return outcomes or None, envs

    def _ask_fsm(self, vnf_id: str, instance_id: str, kind: str, data: dict[str, Any] | None) -> SmOutcome:
        """Call the FSM of ``kind`` for one VNF instance, with its VNFD, VNFR and ``data``."""
        vnfr = self.store.vnfr.find_one(instance_id)
        return self.sms.fsm(self.service_id, vnf_id, kind, fsm_payload(
            vnf_id, instance_id, vnfd=self.package().vnfd(vnf_id).to_dict(),
            vnfr=vnfr.to_sonata() if vnfr else None, data=data))

    def _push_envs(self, envs: dict[str, dict[str, str]]) -> None:
        """Give these VNF instances the environment their FSMs answered (SONATA's FLM:
        ``func_ia_configure``)."""
        if envs:
            self.functions.configure([FunctionAction(self.service_id, i, {"envs": e}) for i, e in envs.items()])

    def create_networks(self, ctx: StepContext) -> NetworksCreated:
        record, nsd = self.service(), self.package().nsd
        requests = [NetworkRequest(vl_id=vl.id, connectivity_type=vl.connectivity_type) for vl in nsd.virtual_links]
        networks = self.infrastructure.create_networks(record.vim, self.service_id, requests)
        by_link = {n.vl_id: n.id for n in networks}
        self.mutate_service(lambda s: s.model_copy(update={"networks": by_link}))
        return NetworksCreated(networks={n.vl_id: {"id": n.id, "cidr": n.cidr} for n in networks})

    def undo_create_networks(self, ctx: StepContext) -> None:
        self.infrastructure.delete_networks(self.service().vim, self.service_id)

    def deploy_vnfs(self, ctx: StepContext) -> VnfsDeployed:
        package, record = self.package(), self.service()
        planned = self._planned(ctx)
        self.mutate_service(lambda s: _with_instances(s, planned, package))
        networks = self._networks()
        start = self._start_with_deploy(ctx.operation.type)
        requests = [FunctionDeployment(service_id=self.service_id, vnf_instance_id=p.id, vnf_id=p.vnf_id,
                                       vnfd=package.vnfd(p.vnf_id), pop=p.pop, vim=record.vim,
                                       networks=_vnf_networks(package.nsd, p.vnf_id, networks), start=start)
                   for p in planned]
        vnfrs = self.functions.deploy(requests)
        return VnfsDeployed(vnfrs=tuple(v["id"] for v in vnfrs), started=tuple(p.id for p in planned) if start else ())

    def _start_with_deploy(self, op_type: OperationType) -> bool:
        """Each VNF is started by its deploy call when the start step comes right after the
        deploy step and does nothing but start: no FSMs (a start FSM runs in between) and the
        fixed step list (a task SSM may reorder it)."""
        names = STEP_NAMES.get(op_type, ())
        follows = "deploy_vnfs" in names and names[names.index("deploy_vnfs") + 1:][:1] == ("start_vnfs",)
        return follows and not self._has_sms()

    def undo_deploy_vnfs(self, ctx: StepContext) -> None:
        ids = [p.id for p in self._planned(ctx)]
        self.functions.remove(self._actions(ids, vim=self.service().vim))
        self.mutate_service(lambda s: _drop_instances(s, ids))

    def start_vnfs(self, ctx: StepContext) -> VnfsStarted:
        ids = [p.id for p in self._planned(ctx)]
        fsm, envs = self._fsm_each("start", ids)
        started_by_deploy = set(ctx.result("deploy_vnfs", VnfsDeployed).started)
        not_started = [i for i in ids if i not in started_by_deploy]
        if not_started:
            self.functions.start(self._actions(not_started))
        self._push_envs(envs)
        return VnfsStarted(started=tuple(ids), fsm=fsm)

    def configure_vnfs(self, ctx: StepContext) -> VnfsConfigured:
        record = self.service()
        if ctx.operation.type == OperationType.RECONFIGURE:
            ids = [v.id for v in record.vnf_instances if v.live]
            payload = dict(ctx.request.get("payload") or {})
        else:
            ids, payload = [p.id for p in self._planned(ctx)], {}
        functions = [{"vnf_id": v.vnf_id, "instance_id": v.id, "pop": v.pop}
                     for v in record.vnf_instances if v.id in ids]
        override = self._ssm("configure", configure_payload(ctx.operation.type.value, functions,
                                                             networks=self._networks(), params=payload))
        per_vnf = override.result if override.used else {}
        # Each VNF's configuration: the operator's entry for it (by vnf_id, then instance id), then
        # the configure SSM's answer; its configure FSM gets it as ``data.config``.
        answers = {f["instance_id"]: {**function_config(payload, f["vnf_id"], f["instance_id"]),
                                      **(per_vnf.get(f["instance_id"]) or per_vnf.get(f["vnf_id"]) or {})}
                   for f in functions}
        fsm, fsm_envs = self._fsm_each("configure", ids, {i: {"config": a} for i, a in answers.items()})
        actions, applied = [], {}
        for f in functions:
            answer = answers[f["instance_id"]]
            # SONATA's order: the operator's payload, the configure SSM's answer, the VNF's FSM
            envs = {**function_envs(payload, f["vnf_id"], f["instance_id"]), **envs_of(answer.get("envs")),
                    **fsm_envs.get(f["instance_id"], {})}
            data = {"networks": self._networks(), **payload, **answer}
            data.pop("envs", None)
            if envs:
                data["envs"] = applied[f["instance_id"]] = envs
            actions.append(FunctionAction(self.service_id, f["instance_id"], data))
        # A service without specific managers has nothing to send its new VNFs (no configure SSM,
        # no operator payload): this operation deployed and started them, so the call is skipped.
        if self._has_sms() or ctx.operation.type == OperationType.RECONFIGURE:
            self.functions.configure(actions)
        return VnfsConfigured(configured=tuple(ids), config=per_vnf or None, envs=applied or None, fsm=fsm,
                              **_recorded(override))

    def store_records(self, ctx: StepContext) -> RecordsStored:
        record, nsd = self.service(), self.package().nsd
        live = [v.id for v in record.vnf_instances if v.live]
        version = record.nsr_version + 1
        terminated = ctx.operation.type == OperationType.TERMINATE
        networks = {vl: Network(id=nid, vl_id=vl, cidr="") for vl, nid in record.networks.items()}
        nsr = build_nsr(self.service_id, nsd, [] if terminated else live, networks, version=version,
                        user_data=record.user_data,
                        status=SonataStatus.TERMINATED if terminated else SonataStatus.NORMAL_OPERATION)
        current = self.store.nsr.find_one(self.service_id)
        if terminated and current is not None:  # keep the NSR's last shape, mark it terminated
            nsr = current.model_copy(update={"status": SonataStatus.TERMINATED.value, "version": str(version)})
        self.store.nsr.upsert(nsr.model_copy(update={"rev": current.rev}) if current else nsr,
                              exists=current is not None)
        self.mutate_service(lambda s: s.model_copy(update={"nsr_version": version}))
        return RecordsStored(nsr_version=version)

    # --- terminate / scale in ----------------------------------------------------------------
    def select_victims(self, ctx: StepContext) -> VictimsSelected:
        if ctx.operation.type == OperationType.MIGRATE:
            return VictimsSelected(victims=(ctx.request["vnf_instance_id"],))
        return VictimsSelected(victims=tuple(victims_for_scale_in(self.service(), ctx.request)))

    def _victims(self, ctx: StepContext) -> list[str]:
        if ctx.operation.type == OperationType.TERMINATE:
            return [v.id for v in self.service().vnf_instances if v.live]
        return list(ctx.result("select_victims", VictimsSelected).victims)

    def transfer_state(self, ctx: StepContext) -> StateTransferred:
        """Migration: the moving VNF's state FSM extracts its state, the service's state SSM may
        rework it, the FSM injects it into the new instance (whose ``envs`` in the answer go to
        the VIM). Without a state FSM the migration is stateless, as before. A state that was
        extracted but cannot be injected fails the step: the new instance is rolled back and
        the old one keeps running, rather than moving a VNF and losing what it held."""
        old = str(ctx.request["vnf_instance_id"])
        (new,) = [p.id for p in self._planned(ctx)]
        instance = self.service().vnf_instance(old)
        if instance is None:
            raise LifecycleError(f"service {self.service_id} has no VNF instance {old}")
        vnf_id = instance.vnf_id
        extracted = self._ask_fsm(vnf_id, old, "state", {"action": "extract"})
        if not extracted.used:
            return StateTransferred(**_recorded(extracted))
        answer = extracted.result or {}
        state = answer.get("content") if answer.get("content") is not None else answer.get("persist")
        reworked = self._ssm("state", {"action": "inject", "vnf_id": vnf_id, "instance_id": new, "state": state})
        if reworked.used and (reworked.result or {}).get("content") is not None:
            state = reworked.result["content"]
        injected = self._ask_fsm(vnf_id, new, "state", {"action": "inject", "state": state})
        if not injected.used:
            raise StepFailedError(f"the state of {vnf_id} ({old}) was extracted but not injected into {new}: "
                                  f"{injected.reason}", retryable=str(injected.reason).startswith("timeout"))
        envs = envs_of((injected.result or {}).get("envs"))
        self._push_envs({new: envs} if envs else {})
        return StateTransferred(extracted_from=old, injected_into=new, override=extracted.sm_id,
                                state_ssm=reworked.sm_id if reworked.used else None, envs=envs or None)

    def stop_vnfs(self, ctx: StepContext) -> VnfsStopped:
        ids = self._victims(ctx)
        fsm, _ = self._fsm_each("stop", ids)
        errors = _best_effort(lambda: self.functions.stop(self._actions(ids)))
        return VnfsStopped(stopped=tuple(ids), errors=tuple(errors), fsm=fsm)

    def remove_vnfs(self, ctx: StepContext) -> VnfsRemoved:
        ids = self._victims(ctx)
        record = self.service()
        if ctx.operation.type == OperationType.TERMINATE:
            errors = _best_effort(lambda: self.functions.remove(self._actions(ids, vim=record.vim)))
        else:
            self.functions.remove(self._actions(ids, vim=record.vim))
            errors = []
        self.mutate_service(lambda s: _mark_terminated(s, ids))
        return VnfsRemoved(removed=tuple(ids), errors=tuple(errors))

    def delete_networks(self, ctx: StepContext) -> BestEffort:
        return BestEffort(errors=tuple(_best_effort(
            lambda: self.infrastructure.delete_networks(self.service().vim, self.service_id))))

    # --- heal ----------------------------------------------------------------------------------
    def redeploy_vnf(self, ctx: StepContext) -> VnfHealed:
        record, package = self.service(), self.package()
        instance = record.vnf_instance(ctx.request["vnf_instance_id"])
        if instance is None or instance.terminated:
            raise LifecycleError(f"service {self.service_id} has no live VNF instance "
                                 f"{ctx.request['vnf_instance_id']}")
        request = FunctionDeployment(service_id=self.service_id, vnf_instance_id=instance.id,
                                     vnf_id=instance.vnf_id, vnfd=package.vnfd(instance.vnf_id),
                                     pop=instance.pop, vim=record.vim,
                                     networks=_vnf_networks(package.nsd, instance.vnf_id, self._networks()))
        vnfr = self.functions.heal(FunctionAction(self.service_id, instance.id, {"deployment": request}))
        version = vnfr.get("version")
        return VnfHealed(healed=instance.id, vnfr_version=None if version is None else str(version))


def _recorded(outcome: Any) -> dict[str, Any]:
    """How an override went, for the step's record: who answered, or why the default ran."""
    if outcome.used:
        return {"override": outcome.sm_id}
    if outcome.reason and outcome.reason != "absent":
        return {"fallback": outcome.reason}
    return {}


def victims_for_scale_in(record: ServiceRecord, request: dict[str, Any]) -> list[str]:
    """Which instances a scale-in removes: the named one, or the newest ``count`` of a vnf_id.

    At least one instance of each network function stays (SONATA: "Not enough instances running").
    """
    live = [v for v in record.vnf_instances if v.live]
    if request.get("vnf_instance_id"):
        target = next((v for v in live if v.id == request["vnf_instance_id"]), None)
        if target is None:
            raise LifecycleError(f"service {record.id} has no live VNF instance {request['vnf_instance_id']}")
        if sum(v.vnf_id == target.vnf_id for v in live) < 2:
            raise LifecycleError("Not enough instances running")
        return [target.id]
    vnf_id, count = request.get("vnf_id"), int(request.get("count", 1))
    same = [v for v in live if v.vnf_id == vnf_id]
    if not same:
        raise BadRequestError(f"service {record.id} has no network function {vnf_id!r}")
    if count < 1 or count >= len(same):
        raise LifecycleError("Not enough instances running")
    return [v.id for v in same[-count:]]


def _vnf_networks(nsd: Nsd, vnf_id: str, networks: dict[str, str]) -> dict[str, str]:
    """The VNF's external connection points -> the service network each one joins."""
    joined: dict[str, str] = {}
    for link in nsd.virtual_links:
        for ref in link.connection_points_reference:
            owner, sep, point = ref.partition(":")
            if sep and owner == vnf_id and link.id in networks:
                joined[point] = networks[link.id]
    return joined


def _with_instances(record: ServiceRecord, planned: Sequence[PlacedInstance], package: ServicePackage) -> ServiceRecord:
    for p in planned:
        if record.vnf_instance(p.id) is None:
            vnfd = package.vnfd(p.vnf_id)
            record = record.with_vnf_instance(VnfInstanceRef(
                id=p.id, vnf_id=p.vnf_id, vnfd_name=vnfd.name, vnfd_vendor=vnfd.vendor,
                vnfd_version=vnfd.version, pop=p.pop))
    return record


def _drop_instances(record: ServiceRecord, ids: list[str]) -> ServiceRecord:
    for i in ids:
        record = record.without_vnf_instance(i)
    return record


def _mark_terminated(record: ServiceRecord, ids: list[str]) -> ServiceRecord:
    """The service without those members (kept as its history); their VNFRs say TERMINATED."""
    for i in ids:
        instance = record.vnf_instance(i)
        if instance is not None and instance.live:
            record = record.with_vnf_instance(instance.model_copy(update={"terminated": True}))
    return record


def _best_effort(call: Callable[[], Any]) -> list[str]:
    try:
        call()
    except StepFailedError as exc:
        return exc.failures
    except Exception as exc:  # noqa: BLE001 - termination must go on; the error is recorded
        return [f"{type(exc).__name__}: {exc}"]
    return []


def _placement_fields(prefs: PlacementPreferences) -> dict[str, Any]:
    """The PlacementRequest fields that carry a request's placement preferences."""
    return {"policy": prefs.policy, "policy_list": prefs.policy_list, "blacklist": prefs.blacklist,
            "weights": prefs.weights.model_dump(), "ingresses": tuple(e.model_dump() for e in prefs.ingresses),
            "egresses": tuple(e.model_dump() for e in prefs.egresses)}
