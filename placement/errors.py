"""Placement errors: *why* a request cannot be placed, as data.

SONATA's plugin answered an infeasible request with "Result of placement: infeasible, return
code 1", which leaves the operator guessing. Here every infeasibility carries one or more
:class:`InfeasibilityReason` records naming the resource (cores, memory, PoP type, blacklist,
pin, latency, bandwidth or packing), the VNF, the PoP and the virtual link concerned, and the
required and available amounts. Callers can branch on ``reason.resource`` and print
``str(error)`` for humans.

The classes extend :mod:`mano.errors` (imported as a module, it has no dependencies), so a
caller that only knows ``mano.errors.InfeasiblePlacementError`` / ``PlacementError`` catches
them too:

* :class:`InfeasibleRequestError` — proven infeasible (pre-checks or the exact solver).
* :class:`SearchExhaustedError` — the fast search found no feasible mapping within its budget
  and the exact fallback could not decide in time; infeasibility is *not* proven, so it is a
  plain ``PlacementError``.
* ``mano.errors.PlacementError`` itself — malformed input (unknown PoP in a pin, unknown VNF
  in a soft constraint, negative capacities, ...).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mano import errors as mano_errors

PlacementError = mano_errors.PlacementError
InfeasiblePlacementError = mano_errors.InfeasiblePlacementError


class Resource(str, enum.Enum):
    """The resource or rule that makes a request infeasible."""

    CORES = "cores"
    MEMORY = "memory"
    POP_TYPE = "pop type"
    BLACKLIST = "blacklist"
    PIN = "pin"
    LATENCY = "latency"
    BANDWIDTH = "bandwidth"
    PACKING = "packing"  # each VNF fits somewhere, but not all of them together
    NO_POPS = "no pops"


@dataclass(frozen=True)
class InfeasibilityReason:
    """One precise reason: which resource, where, for whom, how much was needed and available."""

    resource: Resource
    message: str
    vnf: str | None = None
    pop: str | None = None
    link: str | None = None
    required: float | None = None
    available: float | None = None

    def __str__(self) -> str:
        return self.message


class InfeasibleRequestError(InfeasiblePlacementError):
    """No mapping satisfies the constraints; ``reasons`` says which resource, PoP, VNF, link."""

    #: how many reasons the message lists before summarising the rest
    SHOWN = 8

    def __init__(
        self,
        reasons: list[InfeasibilityReason] | tuple[InfeasibilityReason, ...],
        headline: str | None = None,
    ):
        self.reasons = tuple(reasons)
        self.headline = headline
        lines = [str(reason) for reason in self.reasons[: self.SHOWN]]
        if len(self.reasons) > self.SHOWN:
            rest = self.reasons[self.SHOWN :]
            counts: dict[str, int] = {}
            for reason in rest:
                counts[reason.resource.value] = counts.get(reason.resource.value, 0) + 1
            summary = ", ".join(f"{name}: {count}" for name, count in sorted(counts.items()))
            lines.append(f"... and {len(rest)} more ({summary})")
        if headline:
            text = headline if not lines else headline + ":\n  - " + "\n  - ".join(lines)
        elif len(lines) == 1:
            text = "infeasible placement: " + lines[0]
        else:
            text = f"infeasible placement ({len(self.reasons)} reasons):\n  - " + "\n  - ".join(lines)
        super().__init__(text)

    def __reduce__(self):
        # Rebuilt from its reasons, not its message: raised in the Placement plugin actor, it
        # crosses Ray pickled, and without this the caller got "failed to deserialize" instead
        # of which resource is short, and where.
        return type(self), (self.reasons, self.headline)

    @property
    def resources(self) -> frozenset[Resource]:
        """The set of resources named by the reasons (handy in tests and retry logic)."""
        return frozenset(reason.resource for reason in self.reasons)


class SearchExhaustedError(PlacementError):
    """The fast search found no feasible mapping, and infeasibility could not be proven."""
