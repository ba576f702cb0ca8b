"""Monitoring rules, the default auto-scaling policy and healing, on the in-process lifecycle."""
from __future__ import annotations

import copy

import pytest

from mano.descriptors import ServicePackage
from mano.descriptors.models import Nsd
from mano.lifecycle.monitoring import Condition, MonitoringCore
from mano.lifecycle.states import OperationType


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def monitor(harness, clock):
    def request(service_id, op_type, params):
        return harness.run(harness.slm.request(service_id, op_type, params))
    return MonitoringCore(harness.store, stats=lambda vim, vnf: harness.vim_driver.stats(vnf),
                          status=lambda vim, vnf: harness.vim_driver.vnf_status(vnf), request=request,
                          cooldown_s=30, clock=clock)


def with_policy(demo, policy):
    nsd = copy.deepcopy(demo.nsd.to_dict())
    nsd["auto_scale_policy"] = policy
    return ServicePackage(Nsd.model_validate(nsd), demo.vnfds)


def firewall(store, service_id):
    return [v for v in store.services.get(service_id).vnf_instances
            if v.vnf_id == "vnf_firewall" and v.live]


def test_a_rule_held_for_its_duration_scales_out_by_policy(harness, demo, store):
    op = harness.instantiate(with_policy(demo, {"vnf_firewall": {"max_instances": 2}}))
    clock = Clock()
    core = monitor(harness, clock)
    (fw,) = firewall(store, op.service_id)
    for v in store.services.get(op.service_id).vnf_instances:
        harness.vim_driver.set_load(v.id, {"vm_cpu_perc": 1, "vm_mem_perc": 1, "vm_net_rx_MB": 0, "vm_net_tx_MB": 0})
    harness.vim_driver.set_load(fw.id, {"vm_cpu_perc": 95, "vm_mem_perc": 1, "vm_net_rx_MB": 0, "vm_net_tx_MB": 0})
    assert core.tick() == []            # true, but not yet for the rule's 10 s
    clock.now = 11
    (alert,) = core.tick()
    assert (alert.vnf_id, alert.metric, alert.value) == ("vnf_firewall", "vm_cpu_perc", 95)
    assert len(firewall(store, op.service_id)) == 2
    scale = store.operations.find({"service_id": op.service_id, "type": OperationType.SCALE_OUT.value})
    assert scale[0].request["trigger"]["alertname"] == "mon:rule:vm_cpu_perc"
    clock.now = 60
    core.tick()
    clock.now = 80
    core.tick()  # still hot, but max_instances reached
    assert len(firewall(store, op.service_id)) == 2


def test_without_a_policy_alerts_are_recorded_not_acted_on(harness, demo, store):
    op = harness.instantiate(demo)
    clock = Clock()
    core = monitor(harness, clock)
    (fw,) = firewall(store, op.service_id)
    harness.vim_driver.set_load(fw.id, {"vm_mem_perc": 50})
    clock.now = 20
    core.tick()
    clock.now = 40
    alerts = core.tick()
    assert any(a.metric == "vm_mem_perc" for a in alerts)
    assert core.alert(alerts[0].to_sonata()) == "recorded: no auto_scale_policy for this VNF"
    assert len(firewall(store, op.service_id)) == 1


def test_a_failed_vnf_is_healed(harness, demo, store):
    op = harness.instantiate(demo)
    victim = store.services.get(op.service_id).vnf_instances[0]
    harness.vim_driver.crash_vnf(victim.id)
    monitor(harness, Clock()).tick()
    heal = store.operations.find({"service_id": op.service_id, "type": OperationType.HEAL.value})
    assert heal and heal[0].state.value == "COMPLETED"
    assert harness.vim_driver.vnf_status(victim.id) == "running"


@pytest.mark.parametrize("text, metrics, holds", [
    ("vdu01:vm_cpu_perc > 10", {"vm_cpu_perc": 11}, True),
    ("vm_cpu_perc >= 10", {"vm_cpu_perc": 10}, True),
    ("vdu01:vm_net_rx_MB < 1.5", {"vm_net_rx_MB": 2}, False),
    ("vdu01:missing > 1", {"vm_cpu_perc": 99}, False),
])
def test_conditions(text, metrics, holds):
    assert Condition.parse(text).holds(metrics) is holds


def test_bad_condition_is_named():
    with pytest.raises(ValueError, match="unsupported monitoring condition 'cpu is high'"):
        Condition.parse("cpu is high")
