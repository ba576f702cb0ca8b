"""The fallback placement: first PoP (in load order) with room, honouring pins and blacklist.

Used when no placement engine answers (the Placement plugin is down or times out), so a
service can always be instantiated if there is capacity. The Placement plugin replaces it
with SONATA's policies.
"""
from __future__ import annotations

import time

from mano.errors import InfeasiblePlacementError
from mano.lifecycle.ports import PlacementOutcome, PlacementRequest


def first_fit_outcome(request: PlacementRequest, fallback: str | None = None) -> PlacementOutcome:
    """:func:`first_fit` as a placement answer; ``fallback``: why it answers instead of the engine."""
    started = time.perf_counter()
    mapping = first_fit(request)
    return PlacementOutcome(mapping, "first fit", seconds=time.perf_counter() - started, fallback=fallback)


def first_fit(request: PlacementRequest) -> dict[str, str]:
    # Blacklisted by uuid (SONATA's placement plugin), name or city (its tests), as the engine reads it.
    free = {p.vim_uuid: [p.cores_free, p.memory_free] for p in request.pops
            if not {p.vim_uuid, p.name, p.city} & set(request.blacklist)}
    if not free:
        raise InfeasiblePlacementError("no PoP is available (all blacklisted or none attached)")
    mapping: dict[str, str] = {}
    for unit in request.units:
        vnfd = unit.vnfd
        need = (vnfd.vcpus, vnfd.memory_gb)
        candidates = [request.pinned[unit.instance_id]] if unit.instance_id in request.pinned else list(free)
        chosen = next((p for p in candidates if p in free and free[p][0] >= need[0] - 1e-9
                       and free[p][1] >= need[1] - 1e-9), None)
        if chosen is None:
            where = f"pinned PoP {candidates[0]}" if unit.instance_id in request.pinned else "any PoP"
            best = max(free.values(), key=lambda f: (f[0], f[1]))
            raise InfeasiblePlacementError(
                f"{unit.vnf_id} needs {need[0]:g} cores and {need[1]:g} GB; {where} has not enough "
                f"(largest free: {best[0]:g} cores, {best[1]:g} GB)")
        free[chosen][0] -= need[0]
        free[chosen][1] -= need[1]
        mapping[unit.instance_id] = chosen
    return mapping
