"""The lifecycle's placement request, answered by the SONATA-policy placement engine.

The engine (``placement.place_sonata``) maps an NSD's ``vnf_id``s; a lifecycle request maps
VNF *instances* (a scale-out places several instances of one ``vnf_id``). So the request is
rewritten as an NSD whose network functions are the instances: on instantiation (one
instance per ``vnf_id``) the NSD keeps its links, forwarding graphs and soft constraints with
ids renamed; on scale-out the new instances are placed on the PoPs' current usage, without
the links of the original graph (the running instances are already placed).
"""
from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from typing import Any

import placement
from placement.errors import InfeasibleRequestError
from mano.lifecycle.ports import PlacementOutcome, PlacementRequest
from mano.settings import Settings

log = logging.getLogger(__name__)


def _renamed_ref(ref: str, rename: dict[str, str], ns_points: set[str]) -> str:
    if ref in ns_points:  # an NS point written "ns:input": the engine reads "owner:point" as a VNF
        return ref.rpartition(":")[2]
    owner, sep, point = ref.partition(":")
    return f"{rename[owner]}:{point}" if sep and owner in rename else ref


def service_nsd(request: PlacementRequest) -> dict[str, Any]:
    """An NSD whose network functions are the request's instances."""
    nsd = dict(request.nsd)
    by_vnf_id = {nf["vnf_id"]: nf for nf in nsd.get("network_functions", [])}
    functions = []
    for unit in request.units:
        vnfd = unit.vnfd
        functions.append({**by_vnf_id.get(unit.vnf_id, {}), "vnf_id": unit.instance_id,
                          "vnf_vendor": vnfd.vendor, "vnf_name": vnfd.name, "vnf_version": str(vnfd.version)})
    nsd["network_functions"] = functions
    if max(Counter(u.vnf_id for u in request.units).values(), default=0) > 1 or \
            {u.vnf_id for u in request.units} != set(by_vnf_id):
        for key in ("virtual_links", "forwarding_graphs", "soft_constraints"):
            nsd.pop(key, None)  # a partial graph: place by resources and policy alone
        return nsd
    rename = {u.vnf_id: u.instance_id for u in request.units}
    ns_points = {cp["id"] for cp in nsd.get("connection_points", [])}
    nsd["connection_points"] = [{**cp, "id": cp["id"].rpartition(":")[2]} for cp in nsd.get("connection_points", [])]
    nsd["virtual_links"] = [{**vl, "connection_points_reference": [_renamed_ref(r, rename, ns_points) for r in
                                                                   vl.get("connection_points_reference", [])]}
                            for vl in nsd.get("virtual_links", [])]
    nsd.pop("forwarding_graphs", None)  # not used by placement; its refs would need renaming too
    nsd["soft_constraints"] = [{**sc, "involved_actors": [rename.get(a, a) for a in sc.get("involved_actors", [])]}
                               for sc in nsd.get("soft_constraints", [])]
    return nsd


def placement_budget_s(settings: Settings) -> float:
    """The engine's time budget: ``MANO_PLACEMENT_BUDGET_S``, and never more than half of the
    time the executive waits for an answer (``MANO_PLACEMENT_TIMEOUT_S``), so the best mapping
    found in time is what the workflow gets, never the executive's first-fit fallback."""
    return min(settings.placement_budget_s, 0.5 * settings.placement_timeout_s)


def placement_solver(settings: Settings) -> str:
    """The engine's solver, ``MANO_PLACEMENT_SOLVER``: ``auto`` (by predicted time) unless the
    operator forces one (``exact``: the MILP, raced against the search and cancelled at the
    budget's end in the live runtime; ``fast``; ``exhaustive``)."""
    choice = settings.placement_solver.strip().lower()
    valid = [s.value for s in placement.Solver]
    if choice not in valid:
        raise ValueError(f"MANO_PLACEMENT_SOLVER={settings.placement_solver!r}: expected one of {', '.join(valid)}")
    return choice


def place_request(request: PlacementRequest, *, solver: str = "auto", seed: int = 0, map_fn=map,
                  budget_s: float | None = None, exact_runner=None) -> PlacementOutcome:
    """Place under the request's policies (operator, customer blacklist, developer weights and
    ingress/egress proximity) and pins: ``{instance id: PoP uuid}``
    and how the engine found it. ``budget_s``: the engine's time budget (None: unbounded);
    ``exact_runner``: where a budgeted MILP runs so that it can be cancelled at the deadline
    (``placement.place``; None: in this process)."""
    vnfds = list({(u.vnfd.vendor, u.vnfd.name, str(u.vnfd.version)): u.vnfd.to_dict()
                  for u in request.units}.values())
    topology = {"vims": [p.to_sonata() for p in request.pops],
                "wims": [{"uuid": "wan", "qos": [link.to_sonata() for link in request.links]}]}
    try:
        found = _place(request, vnfds, topology, solver, seed, map_fn, budget_s, exact_runner)
    except InfeasibleRequestError as exc:
        raise _in_nsd_terms(exc, request) from None
    if "exact" in found.stats:
        log.info("placement of %s: the %s solver answered (the MILP: %s)", request.service_id, found.solver,
                 found.stats["exact"])
    return PlacementOutcome(dict(found.vnfs), found.solver, seconds=found.solve_seconds, objective=found.objective,
                            optimal=found.optimal, gap=found.stats.get("gap"), exact=found.stats.get("exact"))


def _in_nsd_terms(exc: InfeasibleRequestError, request: PlacementRequest) -> InfeasibleRequestError:
    """The engine names the VNFs it was given, the instances' uuids; the user wrote the NSD's
    ``vnf_id``s (``vnf_firewall``), so the reasons say those (with the uuid only where a
    scale-out places several instances of one ``vnf_id``)."""
    counts = Counter(u.vnf_id for u in request.units)
    names = {u.instance_id: u.vnf_id if counts[u.vnf_id] == 1 else f"{u.vnf_id} ({u.instance_id})"
             for u in request.units}

    def renamed(text: str | None) -> str | None:
        for instance_id, name in names.items():
            text = text.replace(instance_id, name) if text else text
        return text

    reasons = [dataclasses.replace(r, message=renamed(r.message), vnf=names.get(r.vnf, r.vnf)) for r in exc.reasons]
    return InfeasibleRequestError(reasons, renamed(exc.headline))


def _place(request: PlacementRequest, vnfds, topology, solver, seed, map_fn, budget_s, exact_runner):
    return placement.place_sonata_mapping(
        service_nsd(request), vnfds, topology,
        {"policy": request.policy, "policy_list": list(request.policy_list), "weights": dict(request.weights)},
        {"blacklist": list(request.blacklist)}, [dict(e) for e in request.ingresses] or None,
        [dict(e) for e in request.egresses] or None, predefined_mapping=dict(request.pinned) or None,
        solver=solver, seed=seed, map_fn=map_fn, budget_s=budget_s, exact_runner=exact_runner)
