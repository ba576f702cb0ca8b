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


LOW = {"vm_cpu_perc": 5, "vm_mem_perc": 1, "vm_net_rx_MB": 0, "vm_net_tx_MB": 0}
HOT = {"vm_cpu_perc": 95, "vm_mem_perc": 1, "vm_net_rx_MB": 0, "vm_net_tx_MB": 0}
SCALE_IN_POLICY = {"vnf_firewall": {"max_instances": 3, "min_instances": 1, "scale_in_when": "vm_cpu_perc < 20",
                                    "scale_in_duration_s": 30, "cooldown_s": 10}}


def two_firewalls(harness, store, demo, policy=SCALE_IN_POLICY):
    op = harness.instantiate(with_policy(demo, policy))
    (fw,) = firewall(store, op.service_id)
    for v in store.services.get(op.service_id).vnf_instances:
        harness.vim_driver.set_load(v.id, LOW)
    harness.run(harness.slm.request(op.service_id, OperationType.SCALE_OUT, {"vnf_id": "vnf_firewall", "count": 1}))
    return op.service_id


def test_a_vnf_whose_load_stays_low_is_scaled_in_to_its_minimum(harness, demo, store):
    clock = Clock()
    core = monitor(harness, clock)
    service_id = two_firewalls(harness, store, demo)
    first, second = firewall(store, service_id)
    for fw in (first, second):
        harness.vim_driver.set_load(fw.id, LOW)
    core.tick()
    clock.now = 29
    core.tick()  # low, but not yet for scale_in_duration_s
    assert len(firewall(store, service_id)) == 2
    clock.now = 31
    core.tick()
    assert [v.id for v in firewall(store, service_id)] == [first.id]  # the newest one went
    (scale_in,) = store.operations.find({"service_id": service_id, "type": OperationType.SCALE_IN.value})
    assert scale_in.state.value == "COMPLETED"
    assert scale_in.request["vnf_instance_id"] == second.id
    assert scale_in.request["trigger"]["metric"] == "vm_cpu_perc" and scale_in.request["trigger"]["value"] == 5
    clock.now = 100
    core.tick()
    clock.now = 200
    core.tick()  # still low, but at min_instances
    assert len(firewall(store, service_id)) == 1


def test_one_hot_instance_keeps_the_mean_up(harness, demo, store):
    policy = {"vnf_firewall": {**SCALE_IN_POLICY["vnf_firewall"], "max_instances": 2}}  # the 40 % alerts too
    clock = Clock()
    core = monitor(harness, clock)
    service_id = two_firewalls(harness, store, demo, policy)
    first, second = firewall(store, service_id)
    harness.vim_driver.set_load(first.id, LOW)
    harness.vim_driver.set_load(second.id, {**LOW, "vm_cpu_perc": 40})  # mean 22.5: not below 20
    for now in (0, 40, 80):
        clock.now = now
        core.tick()
    assert len(firewall(store, service_id)) == 2


def test_no_scale_in_undoes_a_scale_out_within_the_cooldown(harness, demo, store):
    policy = {"vnf_firewall": {**SCALE_IN_POLICY["vnf_firewall"], "scale_in_duration_s": 0}}
    clock = Clock()
    core = monitor(harness, clock)
    service_id = two_firewalls(harness, store, demo, policy)
    clock.now = 80
    assert core.alert({"serviceID": service_id, "vnf_id": "vnf_firewall", "alertname": "hot"}) == "scale out vnf_firewall"
    for fw in firewall(store, service_id):
        harness.vim_driver.set_load(fw.id, LOW)
    clock.now = 81
    core.tick()
    clock.now = 89  # low at once, but the cooldown (10 s) runs
    core.tick()
    assert len(firewall(store, service_id)) == 3
    clock.now = 91
    core.tick()
    assert len(firewall(store, service_id)) == 2
    core.tick()  # and the scale-in starts a cooldown of its own
    assert len(firewall(store, service_id)) == 2


@pytest.mark.parametrize("policy, message", [
    ({"vnf_firewall": {"scale_in_when": "cpu is low"}}, "auto_scale_policy.vnf_firewall.scale_in_when"),
    ({"vnf_firewall": {"min_instances": 3, "max_instances": 2}}, "min_instances (3) is above max_instances (2)"),
    ({"vnf_nothing": {"max_instances": 2}}, "auto_scale_policy names vnf_nothing"),
    ({"vnf_firewall": {"min_instances": 0}}, "auto_scale_policy.vnf_firewall.min_instances"),
])
def test_a_bad_scaling_policy_is_refused_when_the_nsd_is_loaded(demo, policy, message):
    from mano.descriptors import load_service
    from mano.errors import DescriptorError

    nsd = copy.deepcopy(demo.nsd.to_dict())
    nsd["auto_scale_policy"] = policy
    with pytest.raises(DescriptorError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_service(nsd, [v.to_dict() for v in demo.vnfds.values()])


def test_a_rule_mano_cannot_read_does_not_stop_healing_elsewhere(harness, demo, store):
    odd = copy.deepcopy({k: v.to_dict() for k, v in demo.vnfds.items()})
    for vnfd in odd.values():
        for rule in vnfd.get("monitoring_rules") or []:
            rule["condition"] = "vdu01:vm_cpu_perc > 10 && vdu01:vm_mem_perc > 10"  # SONATA allows; mano cannot
    from mano.descriptors.models import Vnfd
    first = harness.instantiate(ServicePackage(demo.nsd, {k: Vnfd.model_validate(v) for k, v in odd.items()}))
    second = harness.instantiate(demo)
    # the odd service's last VNF and the plain one's first crash: both are healed
    for op, index in ((first, -1), (second, 0)):
        harness.vim_driver.crash_vnf(store.services.get(op.service_id).vnf_instances[index].id)
    monitor(harness, Clock()).tick()
    for op in (first, second):
        heal = store.operations.find({"service_id": op.service_id, "type": OperationType.HEAL.value})
        assert heal and heal[0].state.value == "COMPLETED"
