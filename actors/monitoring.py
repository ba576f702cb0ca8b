"""The monitoring actor: a periodic health and rule check, and the alert entry point."""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

import ray

from actors import handles, naming
from actors.plugin import PluginActor
from actors.smr_port import RaySpecificManagers
from mano.lifecycle.monitoring import MonitoringCore
from mano.lifecycle.states import OperationType
from mano.settings import Settings
from mano.store.client import connect

log = logging.getLogger(__name__)


@ray.remote(num_cpus=0, max_concurrency=8, max_restarts=-1)
class Monitoring(PluginActor):
    plugin_name = naming.MONITORING
    plugin_description = "VNF health and monitoring rules; healing and auto-scaling requests"

    def __init__(self, settings: Settings):
        self._store = connect(settings, stop_embedded_on_exit=False)
        infrastructure = handles.InfrastructureAdaptor(timeout=settings.step_timeout_s)
        self._slm = handles.Slm(timeout=30)
        self.core = MonitoringCore(self._store, stats=infrastructure.stats, status=infrastructure.vnf_status,
                                   request=self._request, sms=RaySpecificManagers(settings))
        self._lock = threading.Lock()
        self._start_plugin(settings)
        if settings.monitoring_period_s > 0:
            threading.Thread(target=self._loop, args=(settings.monitoring_period_s,), daemon=True).start()

    def _request(self, service_id: str, op_type: OperationType, params: dict) -> Any:
        return self._slm.request(service_id, op_type.value, params)

    def _loop(self, period_s: float) -> None:
        while True:
            time.sleep(period_s)
            self.tick()

    def tick(self) -> list[dict]:
        with self._lock:
            try:
                return [a.to_sonata() for a in self.core.tick()]
            except Exception:  # noqa: BLE001 - a store outage must not end monitoring
                log.warning("monitoring tick failed", exc_info=True)
                return []

    def alert(self, service_id: str, alert: dict) -> str:
        """An alert from outside (son.monitoring through the gateway)."""
        with self._lock:
            return self.core.alert({**alert, "serviceID": service_id})

    def metrics(self) -> dict[str, dict[str, float]]:
        return dict(self.core.metrics)
