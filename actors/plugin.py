"""What every plugin actor shares: registration with the plugin manager and heartbeats.

A plugin registers under its actor name on start (retrying until the plugin manager is up),
then heartbeats its state every ``settings.heartbeat_s`` seconds from a daemon thread. The
plugin manager sends start/pause/stop through :meth:`PluginActor.lifecycle`.
"""
from __future__ import annotations

import logging
import threading
import time

from actors import handles
from mano.lifecycle.states import PluginState
from mano.settings import Settings

log = logging.getLogger(__name__)


def store_info(store: object, settings: Settings | None = None) -> dict:
    """The store an actor uses: its URL (password removed; None: it has none), whether the
    actor holds an embedded server of its own (never, with the one store of the cluster), and
    the node its settings tie a loopback store URL to (None: any node)."""
    return {"url": getattr(store, "url", None), "embedded": getattr(store, "embedded", None) is not None,
            "store_node": settings.store_node if settings is not None else None}


class PluginActor:
    plugin_name = "plugin"
    plugin_version = "0.1.0"
    plugin_description = ""

    def _start_plugin(self, settings: Settings) -> None:
        self._settings = settings
        self._plugin_state = PluginState.RUNNING
        self._plugin_id: str | None = None
        threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True).start()

    def _heartbeat_loop(self) -> None:
        while self._plugin_state != PluginState.STOPPED:
            try:
                pm = handles.PluginManager(timeout=10, retries=0)  # the loop itself tries again
                if self._plugin_id is None:
                    self._plugin_id = pm.register(self.plugin_name, self.plugin_version, self.plugin_description)["id"]
                pm.heartbeat(self._plugin_id, self._plugin_state.value)
            except Exception as exc:  # noqa: BLE001 - the PM may be restarting; keep trying
                log.debug("%s: heartbeat failed: %s", self.plugin_name, exc)
                if "no plugin" in str(exc):
                    self._plugin_id = None  # the PM lost us: register again
            time.sleep(self._settings.heartbeat_s)

    def lifecycle(self, target: str) -> str:
        """Apply a plugin-manager command: RUNNING, PAUSED or STOPPED."""
        self._plugin_state = PluginState(target)
        return self._plugin_state.value

    def store_info(self) -> dict:
        """Which store this actor uses (see :func:`actors.plugin.store_info`)."""
        return store_info(getattr(self, "_store", None), getattr(self, "_settings", None))

    def ping(self) -> str:
        return self.plugin_name
