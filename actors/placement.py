"""Placement actors: the Placement plugin computes a placement; the executive routes requests to it.

A service's place step asks the service's placement SSM when one is declared (the workflow),
otherwise the Placement plugin, directly (``actors.handles.PlacementPlugin``); when the plugin does
not answer in time it falls back to first fit and records why on the place step. The executive
does the same for callers without a port of their own (SONATA's placement topic). Infeasible
requests come back as InfeasiblePlacementError with the reason.

With ``MANO_PLACEMENT_PLUGIN`` naming an external plugin (SONATA's ``son-plugin.PlacementPlugin``,
say), the Placement plugin hands each request to it over the bus (``mano.service.place``,
:mod:`mano.lifecycle.external_placement`) while the plugin manager has it RUNNING, and places
with mano's engine when it is not or does not answer in time (recorded on the place step).

The Placement plugin places one request at a time (its lock: the pending reservations must see
each answer) and keeps each within the placement budget: the search stops at the deadline, and
a MILP that is not tiny runs as a Ray task (``actors.placement_exact``) racing the search, killed
at the deadline if it has not answered, so it holds neither the lock nor a CPU past the budget.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time

import ray

from actors import handles, naming
from actors import placement_exact, placement_search
from actors.placement_exact import ray_exact_runner
from actors.placement_search import ray_map
from actors.plugin import PluginActor
from mano.errors import InfeasiblePlacementError, MessagingError, PlacementError
from mano.lifecycle import external_placement
from mano.lifecycle.first_fit import first_fit_outcome
from mano.lifecycle.pending import PendingPlacements
from mano.lifecycle.ports import PlacementOutcome, PlacementRequest
from mano.lifecycle.vim_port import WanLink
from mano.lifecycle.sonata_placement import place_request, placement_budget_s, placement_solver
from mano.settings import Settings

log = logging.getLogger(__name__)

@ray.remote(num_cpus=0, max_concurrency=16, max_restarts=-1)
class PlacementPlugin(PluginActor):
    plugin_name = naming.PLACEMENT
    plugin_description = "Placement of VNFs on PoPs (SONATA policies)"

    def __init__(self, settings: Settings):
        self._settings = settings
        self._lock = threading.Lock()
        # Placements handed out but not yet deployed: the VIM's usage does not show them, so
        # concurrent requests would all pick the same emptiest PoP and overflow it.
        self._pending = PendingPlacements(ttl_s=2 * settings.step_timeout_s)
        self._wan: tuple[WanLink, ...] | None = None  # the IA's WAN links: static, asked for once
        self._bus_rpc = None  # a bus client, once an external placement plugin is asked
        try:
            self._solver = placement_solver(settings)
        except ValueError as bad:  # a typo must not leave the runtime without placement
            log.error("%s: placing with auto", bad)
            self._solver = "auto"
        self._start_plugin(settings)
        threading.Thread(target=self._warm_up_if_large, daemon=True).start()

    def _warm_up_if_large(self) -> None:
        """Start the search fan-out's task workers ahead of the first placement, but only on a
        substrate large enough to fan out: on a small one they would be processes for nothing.
        With the MILP forced, its worker too: every placement starts one."""
        if self._solver == "exact":
            placement_exact.warm_up()
        try:
            pops = handles.InfrastructureAdaptor(timeout=60).list_pops(self._settings.default_vim)
        except Exception:  # noqa: BLE001 - only a head start: the first large placement starts them anyway
            log.info("placement warm-up skipped: the infrastructure adaptor did not answer", exc_info=True)
            return
        if self._fans_out(len(pops)):
            placement_search.warm_up()
        self._wan_links()

    def _fans_out(self, pops: int) -> bool:
        threshold = self._settings.placement_fanout_from_pops
        return threshold > 0 and pops >= threshold

    def _wan_links(self) -> tuple[WanLink, ...]:
        if self._wan is None:
            self._wan = tuple(handles.InfrastructureAdaptor(timeout=60).wan_links())
        return self._wan

    def place(self, request: PlacementRequest) -> PlacementOutcome:
        """SONATA's policies on the engine, within the placement budget; large substrates fan
        the search out as Ray tasks, and a MILP that is not tiny runs as a Ray task cancelled at
        the budget's end, so the lock is released by then (``placement.anytime``).

        An engine failure other than a proven infeasibility (a solver error, a search that
        found nothing in time) falls back to first fit, recorded with the reason.

        A question (``request.question``, SONATA's placement topic) is placed on the asker's own
        WAN links and reserves nothing; it still sees the reservations pending on PoPs of the
        same uuid, capacity mano has promised that the asker's usage figures cannot show yet.
        """
        with self._lock:
            reserved = self._pending.ids()
            ia = handles.InfrastructureAdaptor(timeout=30)
            if request.reads_pops:  # the VIM's PoPs, read with the settled reservations
                pops, settled = ia.pops_and_settled(request.vim or self._settings.default_vim, reserved)
                request = dataclasses.replace(request, pops=tuple(pops))
            else:
                settled = ia.settled(reserved) if reserved else set()
            adjusted = self._pending.apply(request, settled)
            if not request.question:
                adjusted = dataclasses.replace(adjusted, links=self._wan_links())
            external, why_not = self._external_plugin(request)
            outcome = None
            if external:
                outcome, why_not = self._ask_external(adjusted, external)
            if outcome is None:
                outcome = self._engine(adjusted, why_not)
            if not request.question:
                self._pending.add(request, outcome.mapping)
            return outcome

    def _engine(self, adjusted: PlacementRequest, instead_of: str | None) -> PlacementOutcome:
        """mano's engine on the request (``instead_of``: why the external plugin did not answer)."""
        map_fn = ray_map if self._fans_out(len(adjusted.pops)) else map
        try:
            outcome = place_request(adjusted, solver=self._solver, map_fn=map_fn, exact_runner=ray_exact_runner,
                                    budget_s=placement_budget_s(self._settings))
        except InfeasiblePlacementError:
            raise
        except PlacementError as exc:
            log.warning("placement engine failed for %s (%s): first fit", adjusted.service_id, exc)
            return first_fit_outcome(adjusted, f"placement engine failed: {exc}")
        return dataclasses.replace(outcome, fallback=instead_of) if instead_of else outcome

    # --- an external placement plugin (MANO_PLACEMENT_PLUGIN) --------------------------------
    def _external_plugin(self, request: PlacementRequest) -> tuple[str | None, str | None]:
        """The external plugin to ask, or None with why not (None too when none is configured,
        or for a question: SONATA's placement topic is that plugin's, not mano's)."""
        name = self._settings.placement_plugin
        if not name or request.question:
            return None, None
        try:
            states = {p["name"]: p["state"] for p in handles.PluginManager(timeout=5, retries=0).list()}
        except Exception as exc:  # noqa: BLE001 - the plugin manager away: mano's engine places
            return None, (f"placement plugin {name}: the plugin manager did not say whether it runs ({exc}); "
                          "mano's engine answered")
        if states.get(name) != "RUNNING":
            state = states.get(name, "not registered")
            return None, f"placement plugin {name} is {str(state).lower()}: mano's engine answered"
        return name, None

    def _ask_external(self, request: PlacementRequest, plugin: str) -> tuple[PlacementOutcome | None, str | None]:
        """The plugin's answer; None, with why, if it gave none in time (mano's engine answers then).

        Raises:
            ExternalPlacementError: it refused the request or answered with an unusable mapping.
        """
        from mano.messaging.rpc import RpcTimeoutError
        # What the placement step's own wait leaves once the engine has had its budget.
        timeout = max(1.0, self._settings.placement_timeout_s - placement_budget_s(self._settings) - 1.0)
        started = time.perf_counter()
        try:
            rpc = self._rpc(connect_s=min(5.0, timeout / 2))
            reply = rpc.call(external_placement.TOPIC, external_placement.request_body(request),
                             timeout=max(0.5, timeout - (time.perf_counter() - started)))
        except (RpcTimeoutError, MessagingError) as exc:
            log.warning("placement plugin %s gave no answer for %s (%s): mano's engine", plugin,
                        request.service_id, exc)
            return None, f"placement plugin {plugin} did not answer within {timeout:g} s: mano's engine answered"
        return external_placement.outcome_of(reply.body if reply.error is None else reply.error, request, plugin,
                                             time.perf_counter() - started), None

    def _rpc(self, connect_s: float):
        if self._bus_rpc is None:
            from mano.messaging.bus import Bus  # pika only once an external plugin is used
            from mano.messaging.rpc import RpcClient
            bus = Bus(self._settings, app_id="son-plugin.mano-placement-client", name="placement-client",
                      exchange_durable=self._settings.exchange_durable).start(timeout=connect_s)
            self._bus_rpc = RpcClient(bus)
        return self._bus_rpc


@ray.remote(num_cpus=0, max_concurrency=16, max_restarts=-1)
class PlacementExecutive(PluginActor):
    plugin_name = naming.PLACEMENT_EXECUTIVE
    plugin_description = "Routes placement to the service's placement SSM or the Placement plugin"

    def __init__(self, settings: Settings):
        self._settings = settings
        self._start_plugin(settings)

    def place(self, request: PlacementRequest) -> PlacementOutcome:
        """The plugin's answer, or first fit when it does not answer in time (the handle's)."""
        return handles.PlacementPlugin(timeout=self._settings.placement_timeout_s,
                                       default_vim=self._settings.default_vim).place(request)
