"""Repository of registered plugins (collection ``plugins``), the plugin manager's registry.

Names are indexed but not unique: as in SONATA, a restarted plugin registers again and gets a
new uuid; the plugin manager decides what to do with the old record.
"""
from __future__ import annotations

from mano.records import PluginRecord
from mano.states import PluginState
from mano.store.repository import Index, Repository


class PluginRepository(Repository[PluginRecord]):
    """Plugin registrations by plugin uuid."""

    collection_name = "plugins"
    record_type = PluginRecord
    indexes = (Index.on("name"), Index.on("state"))

    def by_name(self, name: str) -> list[PluginRecord]:
        """Registrations of plugin ``name``, newest first."""
        return self.find({"name": name}, sort="-registered_at")

    def in_state(self, *states: PluginState) -> list[PluginRecord]:
        """Plugins in any of ``states``."""
        return self.find({"state": {"$in": list(states)}}, sort="registered_at")
