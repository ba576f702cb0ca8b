"""Placement preferences per request: checked at admission, stored on the operation, obeyed by
the engine in the place step (in-process, on the real placement engine)."""
from __future__ import annotations

import pytest

from lifecycle_harness import Harness
from mano.errors import LifecycleError
from mano.lifecycle.local import EnginePlacement
from mano.lifecycle.placement_preferences import PlacementPreferences
from mano.lifecycle.slm import ServiceLifecycleManager
from mano.lifecycle.vim_port import Pop


def pops():
    return [Pop(vim_uuid=f"pop-{i}", name=f"pop{i}", city=f"city{i}", core_total=16, memory_total=64)
            for i in range(3)]


@pytest.fixture
def engine(store):
    harness = Harness(store, pops())
    harness.placement = EnginePlacement()
    return harness


def placed_pops(op):
    return [i["pop"] for i in op.step("place").result["instances"]]


def test_preferences_take_sonata_spellings_and_the_operator_default():
    prefs = PlacementPreferences.from_request({"policy": "Fill_First", "blacklist": "Athens"}, "load balanced")
    assert (prefs.policy, prefs.blacklist) == ("fill first", ("Athens",))
    assert PlacementPreferences.from_request({}, "priority").policy == "priority"
    assert PlacementPreferences.from_request(None).policy == "load balanced"


@pytest.mark.parametrize("params, where", [
    ({"policy": "cheapest"}, "policy"),
    ({"weights": {"operator": -1}}, "weights.operator"),
    ({"ingresses": [{"nap": "x"}]}, "ingresses.0.location"),
])
def test_bad_preferences_are_refused_at_admission_with_the_reason(engine, demo, params, where):
    with pytest.raises(LifecycleError, match=f"bad placement preference {where}"):
        engine.slm.instantiate(demo, params=params)
    assert engine.store.operations.find({}) == []  # nothing recorded


def test_load_balanced_spreads_and_fill_first_stacks(engine, demo):
    spread = engine.instantiate(demo)  # the default: load balanced
    assert spread.request["policy"] == "load balanced" and len(set(placed_pops(spread))) == 3
    stacked = engine.instantiate(demo, params={"policy": "fill first"})
    assert stacked.request["policy"] == "fill first" and len(set(placed_pops(stacked))) == 1


def test_priority_follows_its_list_and_the_blacklist_is_avoided(engine, demo):
    op = engine.instantiate(demo, params={"policy": "priority", "policy_list": ["pop2", "pop1", "pop0"]})
    assert set(placed_pops(op)) == {"pop-2"}
    op = engine.instantiate(demo, params={"policy": "priority", "policy_list": ["pop2", "pop1", "pop0"],
                                          "blacklist": ["city2"]})
    assert set(placed_pops(op)) == {"pop-1"}


def test_the_operator_default_applies_to_requests_that_name_no_policy(engine, demo):
    engine.slm = ServiceLifecycleManager(engine.store, default_policy="fill first")
    op = engine.instantiate(demo)
    assert op.request["policy"] == "fill first" and len(set(placed_pops(op))) == 1
