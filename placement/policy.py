"""Placement policy as data: operator objective, customer blacklist, weights, pins.

SONATA's request carries ``operator_policies {policy, policy_list, weights}``, ``customer_policies
{blacklist}``, ``vnf_single_pop`` and ``predefined_mapping``; developer soft constraints come
with the NSD (see :mod:`placement.service`). :func:`policy_from_sonata` translates the dicts
into one frozen :class:`PlacementPolicy`, the single input type of :func:`placement.place`.

Meaning (kept from SONATA, see :mod:`placement.objective` for the formulas):

* ``load balanced``: minimise Σ over PoP pairs of |Δ mean(cpu, memory) load|;
* ``fill first``: maximise that same dispersion (pack onto already loaded PoPs);
* ``priority``: maximise Σ over units of the PoP's rank in ``policy_list`` (first = best);
* ``blacklist``: PoPs (by uuid, name or city) that may host nothing;
* ``weights``: operator vs developer objective. With ``normalise`` (the default) each objective
  is first divided by the magnitude of its own single-objective optimum, as SONATA's tests
  calibrate mixed weights, so that 0.5/0.5 means "equally important". Normalising costs two
  extra solves and only happens when both weights are positive. Caveat inherited from SONATA:
  the load dispersion's optimum includes the spread between PoPs the service does not touch,
  so on large substrates the normalised operator term varies little and the developer wish
  tends to dominate a 0.5/0.5 mix.
* ``vnf_single_pop``: all units of a VNF on one PoP;
* ``predefined_mapping``: pins ``{vnf id or unit id: PoP uuid/name}``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field
from typing import Any

from placement import units
from placement.errors import PlacementError


class OperatorPolicy(str, enum.Enum):
    """The operator's objective (SONATA ``operator_policies.policy``)."""

    LOAD_BALANCED = "load balanced"
    FILL_FIRST = "fill first"
    PRIORITY = "priority"
    NONE = "none"

    @classmethod
    def parse(cls, value: Any) -> OperatorPolicy:
        """Accept SONATA spellings (``load balanced``, ``load_balanced``, ...); empty means none."""
        if value is None or str(value).strip() == "":
            return cls.NONE
        text = str(value).strip().lower().replace("_", " ").replace("-", " ")
        for policy in cls:
            if policy.value == text:
                return policy
        raise PlacementError(
            f"unknown operator policy {value!r} (expected one of: {', '.join(p.value for p in cls)})"
        )


@dataclass(frozen=True)
class ObjectiveWeights:
    """Weights of the operator and developer objectives (see module docstring)."""

    operator: float = 1.0
    developer: float = 0.0
    normalise: bool = True

    def __post_init__(self) -> None:
        units.number(self.operator, "operator weight")
        units.number(self.developer, "developer weight")


@dataclass(frozen=True)
class PlacementPolicy:
    """Everything besides the service and the substrate that decides a placement."""

    operator: OperatorPolicy = OperatorPolicy.LOAD_BALANCED
    priority_list: tuple[str, ...] = ()
    blacklist: tuple[str, ...] = ()
    weights: ObjectiveWeights = field(default_factory=ObjectiveWeights)
    vnf_single_pop: bool = True
    predefined_mapping: tuple[tuple[str, str], ...] = ()

    @property
    def pins(self) -> dict[str, str]:
        """``predefined_mapping`` as a dict ``{vnf id or unit id: PoP label}``."""
        return dict(self.predefined_mapping)


def _pins(predefined: Any) -> tuple[tuple[str, str], ...]:
    if not predefined:
        return ()
    if isinstance(predefined, AbcMapping):
        return tuple((str(k), str(v)) for k, v in predefined.items())
    pairs = []
    for index, entry in enumerate(predefined):
        if not isinstance(entry, AbcMapping):
            raise PlacementError(f"predefined_mapping[{index}]: expected a dict")
        key = entry.get("vnf_id") or entry.get("id")
        pop = entry.get("vim_uuid") or entry.get("vim_id") or entry.get("vim")
        if not key or not pop:
            raise PlacementError(f"predefined_mapping[{index}]: needs vnf_id and vim_uuid")
        pairs.append((str(key), str(pop)))
    return tuple(pairs)


def _weights(
    operator_policy: AbcMapping, operator_weight: Any, developer_weight: Any, normalise: bool
) -> ObjectiveWeights:
    given = operator_policy.get("weights") or {}
    if not isinstance(given, AbcMapping):
        raise PlacementError("operator_policies.weights is not a dictionary")
    operator = operator_weight if operator_weight is not None else given.get("operator", 1.0)
    developer = developer_weight if developer_weight is not None else given.get("developer", 0.0)
    return ObjectiveWeights(
        units.number(operator, "operator weight"), units.number(developer, "developer weight"), normalise
    )


def policy_from_sonata(
    operator_policy: dict | None,
    customer_policy: dict | None,
    *,
    vnf_single_pop: bool = True,
    predefined_mapping: Any = None,
    operator_weight: float | None = None,
    developer_weight: float | None = None,
    normalise_weights: bool = True,
) -> PlacementPolicy:
    """Translate SONATA's policy dicts; explicit weights override ``operator_policy.weights``."""
    operator_policy = {} if operator_policy is None else operator_policy
    customer_policy = {} if customer_policy is None else customer_policy
    if not isinstance(operator_policy, AbcMapping):
        raise PlacementError("Operator policies are not a dictionary")
    if not isinstance(customer_policy, AbcMapping):
        raise PlacementError("Customer policies are not a dictionary")
    return PlacementPolicy(
        operator=OperatorPolicy.parse(operator_policy.get("policy")),
        priority_list=tuple(str(x) for x in operator_policy.get("policy_list") or ()),
        blacklist=tuple(str(x) for x in customer_policy.get("blacklist") or ()),
        weights=_weights(operator_policy, operator_weight, developer_weight, normalise_weights),
        vnf_single_pop=bool(vnf_single_pop),
        predefined_mapping=_pins(predefined_mapping),
    )
