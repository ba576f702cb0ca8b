"""Migrate end to end on the live runtime: a VNF moves to another PoP with its state, which its
state FSM (a python:// FSM in its own Ray actor) extracts from the old instance and injects
into the new one; reconfigure gave it that state."""
from __future__ import annotations

import pytest

import mano
from paths import EXAMPLES

pytestmark = pytest.mark.integration


def test_a_vnf_migrates_with_its_state(rt):
    svc = mano.instantiate(EXAMPLES / "ssm" / "fsm-start-stop", timeout=120)
    try:
        old = next(v for v in svc.record.vnf_instances if v.vnf_id == "vnf_firewall")
        assert rt.store.vnfr.get(old.id).envs["FW_POLICY"] == "drop-invalid"  # from its start FSM
        svc.reconfigure({"functions": {"vnf_firewall": {"next_hop": "vnf_tcpdump"}}})
        assert rt.store.vnfr.get(old.id).envs["CFG_NEXT_HOP"] == "vnf_tcpdump"  # from its configure FSM
        target = next(p for p in ("pop-0", "pop-1", "pop-2") if p != old.pop)
        svc.migrate(old.id, target)
        (new,) = [v for v in svc.record.vnf_instances if v.vnf_id == "vnf_firewall" and v.live]
        assert new.id != old.id and new.pop == target
        migration = next(o for o in svc.operations if o.type.value == "migrate")
        moved = migration.step("transfer_state").result
        assert (moved["extracted_from"], moved["injected_into"]) == (old.id, new.id)
        assert rt.store.vnfr.get(new.id).envs["CFG_NEXT_HOP"] == "vnf_tcpdump"  # the state arrived
        assert rt.store.vnfr.get(old.id).to_sonata()["status"] == "terminated"
    finally:
        svc.terminate()
