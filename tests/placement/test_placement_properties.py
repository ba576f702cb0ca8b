"""Property tests: every returned mapping is valid; "infeasible" is only said when it is true.

Validity is checked by an independent networkx checker (``placement_checks.check_mapping``):
capacity, PoP type, customer blacklist, pins, single-PoP VNFs, latency and WAN bandwidth.
Infeasibility claims are confirmed by enumerating every mapping of the tiny instance.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from placement_checks import PROPERTY_SETTINGS, brute_force_feasible, check_mapping, tiny_instances

from placement import InfeasibleRequestError, SearchSettings, place
from placement.objective import dispersion

FAST = SearchSettings(starts=4, kicks=8)


@pytest.mark.parametrize("solver", ["exact", "fast", "exhaustive"])
@PROPERTY_SETTINGS
@given(instance=tiny_instances())
def test_mappings_respect_every_rule_and_infeasibility_is_real(solver, instance):
    service, substrate, policy = instance
    try:
        mapping = place(service, substrate, policy, solver=solver, settings=FAST)
    except InfeasibleRequestError as error:
        assert error.reasons and all(str(reason) for reason in error.reasons)
        assert brute_force_feasible(service, substrate, policy) == [], f"claimed infeasible: {error}"
        return
    assert set(mapping.units) == {unit.id for unit in service.units}
    assert check_mapping(service, substrate, policy, mapping.units) == []
    for vnf in service.vnfs:
        assert mapping.vnfs[vnf.vnf_id] == mapping.units[vnf.units[0].id]


@PROPERTY_SETTINGS
@given(
    loads=__import__("hypothesis").strategies.lists(
        __import__("hypothesis").strategies.floats(0, 2, allow_nan=False), max_size=30
    )
)
def test_dispersion_formula_equals_the_pairwise_sum(loads):
    pairwise = sum(abs(a - b) for i, a in enumerate(loads) for b in loads[i + 1 :])
    assert dispersion(np.array(loads)) == pytest.approx(pairwise, abs=1e-9)
