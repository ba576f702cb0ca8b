"""Monitoring: VNF health and the VNFDs' monitoring rules, turned into lifecycle requests.

Each :meth:`MonitoringCore.tick` looks at every READY service:
- a VNF instance the VIM reports ``failed`` is healed (a HEAL operation is requested);
- each VNFD ``monitoring_rules`` condition (``vdu01:vm_cpu_perc > 10``) is evaluated on the
  instance's metrics; a condition true for its ``duration`` raises an alert.
Alerts go to the service's handling: the monitor SSM when the service has one (asked through
the SpecificManagers port ``sms``), otherwise the default policy: scale the alerting VNF out by one, only when
the NSD's ``auto_scale_policy`` names that VNF, within its ``max_instances``, and not again
before ``cooldown_s``. Without a policy an alert is recorded, never acted on blindly.

Scale-in (the policy's ``scale_in_when``, :class:`~mano.descriptors.models.AutoScalePolicy`):
when the mean of its metric over the VNF's live instances has satisfied it for
``scale_in_duration_s``, the newest instance is removed, never below ``min_instances`` and
within the same cooldown as scale-out (so the two cannot flap). A mean, not every instance:
a balanced chain whose load fell is over-provisioned even if one instance is still warm.

A rule whose condition mano cannot read is skipped (and logged once), so one odd VNFD never
stops the healing and the rules of every other service.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Callable, Mapping

from pydantic import ValidationError

from mano.descriptors.conditions import Condition
from mano.descriptors.models import AutoScalePolicy
from mano.errors import ManoError
from mano.lifecycle.sm_payloads import monitor_payload, sdk_alert
from mano.lifecycle.states import OperationType, ServiceState

log = logging.getLogger(__name__)

@dataclasses.dataclass(frozen=True)
class Alert:
    service_id: str
    vnf_instance_id: str
    vnf_id: str
    rule: str
    metric: str
    value: float
    at: float

    def to_sonata(self) -> dict[str, Any]:
        """The shape of a son.monitoring alert (``serviceID`` etc.)."""
        return {"serviceID": self.service_id, "functionID": self.vnf_instance_id, "vnf_id": self.vnf_id,
                "alertname": self.rule, "metric": self.metric, "value": self.value, "time": self.at}


class MonitoringCore:
    def __init__(self, store: Any, *, stats: Callable[[str, str], Mapping[str, float]],
                 status: Callable[[str, str], str], request: Callable[[str, OperationType, dict], Any],
                 sms: Any = None, cooldown_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        self.store = store
        self._stats, self._status, self._request = stats, status, request
        self._sms = sms  # the SpecificManagers port (mano.lifecycle.sm_port); None: no monitor SSMs
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._since: dict[tuple[str, str], float] = {}   # (instance, rule) -> first time true
        self._acted: dict[tuple[str, str], float] = {}   # (service, vnf_id) -> last scale action
        self._calm: dict[tuple[str, str], float] = {}    # (service, vnf_id) -> first time scale-in held
        self._unreadable: set[tuple[str, str]] = set()    # (instance, rule) already logged
        self.alerts: list[Alert] = []
        self.metrics: dict[str, dict[str, float]] = {}

    def tick(self) -> list[Alert]:
        raised: list[Alert] = []
        watched: set[str] = set()
        for service in self.store.services.find({"state": ServiceState.READY.value}):
            vnfds = {(v.get("vendor"), v.get("name"), str(v.get("version"))): v for v in service.vnfds}
            policies = _policies(service)
            for instance in service.vnf_instances:
                if instance.terminated:
                    continue
                watched.add(instance.id)
                try:
                    raised += self._watch(service, instance, vnfds, policies.get(instance.vnf_id))
                except ManoError as exc:
                    log.info("monitoring %s: %s", instance.id, exc)
            for vnf_id, policy in policies.items():
                if policy.scale_in_when:
                    self._consider_scale_in(service, vnf_id, policy)
        for gone in self.metrics.keys() - watched:  # removed instances, services no longer READY
            del self.metrics[gone]
        for alert in raised:
            try:
                log.info("alert %s: %s", alert.rule, self.alert(alert.to_sonata()))
            except ManoError as exc:  # e.g. the service is busy: the rule will fire again
                log.info("alert %s on %s not acted on: %s", alert.rule, alert.service_id, exc)
        return raised

    def _watch(self, service: Any, instance: Any, vnfds: dict, policy: AutoScalePolicy | None) -> list[Alert]:
        if self._status(service.vim, instance.id) == "failed":
            log.warning("VNF %s of service %s failed: healing", instance.id, service.id)
            self._request(service.id, OperationType.HEAL, {"vnf_instance_id": instance.id})
            return []
        vnfd = vnfds.get((instance.vnfd_vendor, instance.vnfd_name, instance.vnfd_version)) or {}
        rules = vnfd.get("monitoring_rules") or []
        if not rules and not (policy and policy.scale_in_when):
            return []
        metrics = dict(self._stats(service.vim, instance.id))
        self.metrics[instance.id] = metrics
        now, alerts = self._clock(), []
        for rule in rules:
            key = (instance.id, rule.get("name", ""))
            try:
                condition = Condition.parse(rule.get("condition", ""))
            except ValueError as exc:
                if key not in self._unreadable:
                    self._unreadable.add(key)
                    log.warning("monitoring rule %s of VNF %s skipped: %s", key[1], instance.id, exc)
                continue
            if not condition.holds(metrics):
                self._since.pop(key, None)
                continue
            first = self._since.setdefault(key, now)
            if now - first >= float(rule.get("duration") or 0):
                alerts.append(Alert(service.id, instance.id, instance.vnf_id, key[1], condition.metric,
                                    float(metrics[condition.metric]), time.time()))
                self._since.pop(key, None)  # the next alert needs the condition to last again
        return alerts

    def _ask_monitor_ssm(self, service_id: str, alert: Mapping[str, Any]) -> str | None:
        """What the service's monitor SSM did with the alert; None if it has none or it did not answer."""
        outcome = self._sms.ssm(service_id, "monitor", monitor_payload(sdk_alert(alert)))
        if not outcome.used:
            return None
        answer = outcome.result or {}
        if answer.get("workflow"):
            self._request(service_id, OperationType(answer["workflow"]), dict(answer.get("params") or {}))
            return f"{outcome.sm_id} asked for {answer['workflow']}"
        return f"{outcome.sm_id} took no action"

    def alert(self, alert: Mapping[str, Any]) -> str:
        """Handle one alert (from the rules above or from ``son.monitoring``); say what was done."""
        service_id = str(alert.get("serviceID") or "")
        self.alerts.append(alert if isinstance(alert, Alert) else _as_alert(alert))
        del self.alerts[:-1000]
        if self._sms is not None:
            handled = self._ask_monitor_ssm(service_id, dict(alert))
            if handled:
                return f"monitor SSM: {handled}"
        service = self.store.services.find_one(service_id)
        if service is None or service.state != ServiceState.READY:
            return "ignored: service not ready"
        policy = _policies(service).get(str(alert.get("vnf_id") or ""))
        if policy is None:
            return "recorded: no auto_scale_policy for this VNF"
        vnf_id = str(alert["vnf_id"])
        running = sum(v.vnf_id == vnf_id and v.live for v in service.vnf_instances)
        if policy.max_instances is not None and running >= policy.max_instances:
            return f"recorded: {vnf_id} is at max_instances ({running})"
        if self._cooling(service_id, vnf_id, policy):
            return "recorded: in cooldown"
        self._acted[(service_id, vnf_id)] = self._clock()
        self._calm.pop((service_id, vnf_id), None)
        self._request(service_id, OperationType.SCALE_OUT, {"vnf_id": vnf_id, "count": 1, "trigger": dict(alert)})
        return f"scale out {vnf_id}"

    def _cooling(self, service_id: str, vnf_id: str, policy: AutoScalePolicy) -> bool:
        last = self._acted.get((service_id, vnf_id))
        cooldown = self.cooldown_s if policy.cooldown_s is None else policy.cooldown_s
        return last is not None and self._clock() - last < cooldown

    def _consider_scale_in(self, service: Any, vnf_id: str, policy: AutoScalePolicy) -> None:
        """Scale ``vnf_id`` in by one if its policy's ``scale_in_when`` has held long enough."""
        key = (service.id, vnf_id)
        condition = Condition.parse(policy.scale_in_when or "")
        live = [v for v in service.vnf_instances if v.vnf_id == vnf_id and v.live]
        values = [self.metrics.get(v.id, {}).get(condition.metric) for v in live]
        if len(live) <= policy.min_instances or None in values:
            self._calm.pop(key, None)
            return
        mean = sum(float(v) for v in values) / len(values)  # type: ignore[arg-type]
        if not condition.compare(mean):
            self._calm.pop(key, None)
            return
        first = self._calm.setdefault(key, self._clock())
        if self._clock() - first < policy.scale_in_duration_s or self._cooling(service.id, vnf_id, policy):
            return
        victim = live[-1].id  # the newest, as SONATA's scale-in by vnfd picks from the end
        trigger = {"serviceID": service.id, "vnf_id": vnf_id, "alertname": f"mon:scale_in:{condition.metric}",
                   "metric": condition.metric, "value": round(mean, 3), "time": time.time()}
        try:
            self._request(service.id, OperationType.SCALE_IN, {"vnf_instance_id": victim, "trigger": trigger})
        except ManoError as exc:  # e.g. the service is busy: the condition still holds next tick
            log.info("scale-in of %s in %s not requested: %s", vnf_id, service.id, exc)
            return
        self._acted[key] = self._clock()
        self._calm.pop(key, None)
        log.info("scale in %s of service %s: mean %s %.3g %s %g", vnf_id, service.id, condition.metric, mean,
                 condition.op, condition.value)


def _policies(service: Any) -> dict[str, AutoScalePolicy]:
    """The service's ``auto_scale_policy`` (validated when its NSD was loaded), typed."""
    raw = service.nsd.get("auto_scale_policy") or {}
    policies = {}
    for vnf_id, entry in raw.items() if isinstance(raw, Mapping) else ():
        try:
            policies[str(vnf_id)] = AutoScalePolicy.model_validate(entry)
        except ValidationError as exc:  # a record written before the policy was checked at the edge
            log.warning("auto_scale_policy of %s in service %s ignored: %s", vnf_id, service.id, exc)
    return policies


def _as_alert(raw: Mapping[str, Any]) -> Alert:
    return Alert(str(raw.get("serviceID") or ""), str(raw.get("functionID") or ""), str(raw.get("vnf_id") or ""),
                 str(raw.get("alertname") or ""), str(raw.get("metric") or ""),
                 float(raw.get("value") or 0) if str(raw.get("value") or "0").replace(".", "", 1).isdigit() else 0.0,
                 float(raw.get("time") or time.time()) if isinstance(raw.get("time"), (int, float)) else time.time())
