"""Placements handed out but not yet deployed, counted against their PoPs.

A placement is computed on the PoPs' usage as the VIM reports it; the VNFs it places only
show up in that usage once deployed, seconds later. Concurrent requests would otherwise all
see the same free capacity and pick the same PoP. Each placed instance is kept here until the
VIM reports it settled (deployed, so the VIM's usage counts it, or already removed again) or
until ``ttl_s`` passes (its deployment failed or was rolled back).
"""
from __future__ import annotations

import dataclasses
import time
from typing import Callable, Iterable, Mapping

from mano.lifecycle.ports import PlacementRequest


@dataclasses.dataclass(frozen=True)
class _Reservation:
    pop: str
    cores: float
    memory_gb: float
    expires: float


class PendingPlacements:
    def __init__(self, ttl_s: float = 120.0, clock: Callable[[], float] = time.monotonic):
        self.ttl_s = ttl_s
        self._clock = clock
        self._reserved: dict[str, _Reservation] = {}

    def __len__(self) -> int:
        return len(self._reserved)

    def ids(self) -> list[str]:
        """The VNF instances reserved for: ask the VIMs which of them have settled."""
        return list(self._reserved)

    def apply(self, request: PlacementRequest, settled: Iterable[str]) -> PlacementRequest:
        """The request with its PoPs' usage raised by the reservations still pending."""
        settled, now = set(settled), self._clock()
        self._reserved = {i: r for i, r in self._reserved.items() if i not in settled and r.expires > now}
        extra: dict[str, list[float]] = {}
        for r in self._reserved.values():
            used = extra.setdefault(r.pop, [0.0, 0.0])
            used[0] += r.cores
            used[1] += r.memory_gb
        pops = tuple(dataclasses.replace(p, core_used=p.core_used + extra.get(p.vim_uuid, [0, 0])[0],
                                         memory_used=p.memory_used + extra.get(p.vim_uuid, [0, 0])[1])
                     for p in request.pops)
        return dataclasses.replace(request, pops=pops)

    def add(self, request: PlacementRequest, mapping: Mapping[str, str]) -> None:
        expires = self._clock() + self.ttl_s
        for unit in request.units:
            if unit.instance_id in mapping:
                vnfd = unit.vnfd
                self._reserved[unit.instance_id] = _Reservation(mapping[unit.instance_id], vnfd.vcpus,
                                                                vnfd.memory_gb, expires)
