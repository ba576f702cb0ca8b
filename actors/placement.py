"""Placement actors: the executive routes a request, the Placement plugin computes it.

The executive asks the service's placement SSM when one is declared (see ``actors.smr``),
otherwise the Placement plugin; when neither answers in time it falls back to first fit and
logs why. Infeasible requests come back as InfeasiblePlacementError with the reason.
"""
from __future__ import annotations

import logging
from typing import Mapping

import ray

from actors import calls, naming
from actors.plugin import PluginActor
from mano.lifecycle.first_fit import first_fit
from actors.placement_search import ray_map
from mano.lifecycle.ports import PlacementRequest
from mano.lifecycle.sonata_placement import place_request
from mano.settings import Settings

log = logging.getLogger(__name__)

PARALLEL_FROM_POPS = 50  # below this the exact MILP answers in milliseconds; no fan-out needed


@ray.remote(num_cpus=0, max_concurrency=16, max_restarts=-1)
class PlacementPlugin(PluginActor):
    plugin_name = naming.PLACEMENT
    plugin_description = "Placement of VNFs on PoPs (SONATA policies)"

    def __init__(self, settings: Settings):
        self._start_plugin(settings)

    def place(self, request: PlacementRequest) -> Mapping[str, str]:
        """SONATA's policies on the engine; large substrates fan the search out as Ray tasks."""
        map_fn = ray_map if len(request.pops) >= PARALLEL_FROM_POPS else map
        return place_request(request, map_fn=map_fn)


@ray.remote(num_cpus=0, max_concurrency=16, max_restarts=-1)
class PlacementExecutive(PluginActor):
    plugin_name = naming.PLACEMENT_EXECUTIVE
    plugin_description = "Routes placement to the service's placement SSM or the Placement plugin"

    def __init__(self, settings: Settings):
        self._settings = settings
        self._start_plugin(settings)

    def place(self, request: PlacementRequest) -> Mapping[str, str]:
        plugin = lambda: ray.get_actor(naming.PLACEMENT, namespace=naming.NAMESPACE)  # noqa: E731
        try:
            return calls.call(plugin, "place", request, timeout=self._settings.placement_timeout_s, retries=1,
                              what="placement.place")
        except (calls.ActorUnavailable, calls.ActorTimeout, ValueError) as exc:
            log.warning("placement plugin did not answer (%s): first fit for %s", exc, request.service_id)
            return first_fit(request)
