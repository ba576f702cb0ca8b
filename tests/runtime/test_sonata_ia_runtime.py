"""The live runtime deploying on VIMs that a SONATA infrastructure adaptor manages (``vim="sonata-ia"``):
the actors' infrastructure adaptor talks to one written to SONATA's contract alone, over the real broker."""
from __future__ import annotations

import pytest

import mano
from mano.messaging.testing import ensure_broker
from paths import EXAMPLES
from sonata_adaptor import ContractAdaptor

pytestmark = pytest.mark.integration


def test_the_demo_runs_on_the_adaptors_vims_and_leaves_nothing(rt):
    ensure_broker(rt.settings.broker_url)
    vims = [{"vim_uuid": "ia-vim-athens", "vim_name": "athens", "vim_city": "Athens", "type": "vm",
             "core_total": 8, "core_used": 0, "memory_total": 16384, "memory_used": 0}]
    adaptor = ContractAdaptor(rt.settings.broker_url, rt.settings.exchange, vims)
    try:
        svc = mano.instantiate(EXAMPLES / "sonata-demo", vim="sonata-ia", timeout=60)
        assert svc.status == "READY"
        ids = {v.id for v in svc.record.vnf_instances}
        assert set(adaptor.functions) == ids  # deployed by the adaptor, on its one VIM
        assert all(f["vim"] == "ia-vim-athens" for f in adaptor.functions.values())
        assert {rt.store.vnfr.get(i).pop for i in ids} == {"ia-vim-athens"}
        svc.terminate()
        assert svc.status == "TERMINATED"
        assert adaptor.functions == {} and adaptor.vims["ia-vim-athens"]["core_used"] == 0
        assert [r["vim_uuid"] for r in adaptor.raw_requests("infrastructure.service.remove")] == ["ia-vim-athens"]
    finally:
        adaptor.close()
