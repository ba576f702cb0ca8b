"""Infeasible requests raise InfeasibleRequestError naming the resource, the PoP and the VNF."""

from __future__ import annotations

import pytest

from mano import errors as mano_errors
from placement import (
    InfeasibleRequestError,
    OperatorPolicy,
    PlacementError,
    PlacementPolicy,
    Pop,
    PopType,
    Resource,
    Substrate,
    place,
)
from placement.service import (
    DeploymentUnit,
    Endpoint,
    EndpointRole,
    LinkEnd,
    ServiceGraph,
    SoftConstraint,
    SoftConstraintKind,
    VirtualLink,
    Vnf,
)


def vnf(
    vnf_id: str, cores: float = 2, memory: float = 2, platform: PopType = PopType.VM, units: int = 1
) -> Vnf:
    return Vnf(
        vnf_id,
        tuple(
            DeploymentUnit(f"{vnf_id}/u{k}", vnf_id, f"u{k}", platform, cores, memory) for k in range(units)
        ),
    )


def pop(uuid: str, free_cores: float = 10, free_memory: float = 10, **kw) -> Pop:
    return Pop(
        uuid,
        name=kw.pop("name", uuid.upper()),
        cores_total=20,
        cores_used=20 - free_cores,
        memory_total=20,
        memory_used=20 - free_memory,
        **kw,
    )


def service(*vnfs: Vnf, links=(), endpoints=(), wishes=()) -> ServiceGraph:
    return ServiceGraph.build(vnfs, endpoints, links, wishes)


@pytest.mark.parametrize("solver", ["exact", "fast", "exhaustive"])
def test_not_enough_cores_anywhere_names_each_pop(solver):
    substrate = Substrate.from_pops([pop("a", free_cores=3), pop("b", free_cores=1)])
    with pytest.raises(InfeasibleRequestError) as caught:
        place(service(vnf("big", cores=4)), substrate, solver=solver)
    error = caught.value
    assert isinstance(error, mano_errors.InfeasiblePlacementError)
    assert error.resources == {Resource.CORES}
    assert {(r.pop, r.vnf, r.required, r.available) for r in error.reasons} == {
        ("a", "big", 4, 3),
        ("b", "big", 4, 1),
    }
    assert "VNF 'big'" in str(error) and "A (a) has 3 cores free" in str(error)


def test_memory_type_and_blacklist_reasons_per_pop():
    substrate = Substrate.from_pops([pop("a", free_memory=1), pop("b", pop_type=PopType.CONTAINER), pop("c")])
    policy = PlacementPolicy(blacklist=("C",))
    with pytest.raises(InfeasibleRequestError) as caught:
        place(service(vnf("v", memory=4)), substrate, policy)
    by_pop = {r.pop: r.resource for r in caught.value.reasons}
    assert by_pop == {"a": Resource.MEMORY, "b": Resource.POP_TYPE, "c": Resource.BLACKLIST}


def test_pinned_pop_without_room_is_the_reason():
    substrate = Substrate.from_pops([pop("a", free_cores=1), pop("b")])
    policy = PlacementPolicy(predefined_mapping=(("v", "a"),))
    with pytest.raises(InfeasibleRequestError) as caught:
        place(service(vnf("v")), substrate, policy)
    [reason] = caught.value.reasons
    assert (reason.resource, reason.pop, reason.vnf) == (Resource.CORES, "a", "v")
    assert "pinned PoP a" in str(caught.value)


def test_pins_to_unknown_pops_or_vnfs_are_bad_input():
    substrate = Substrate.from_pops([pop("a")])
    with pytest.raises(PlacementError, match="no such PoP"):
        place(service(vnf("v")), substrate, PlacementPolicy(predefined_mapping=(("v", "nowhere"),)))
    with pytest.raises(PlacementError, match="unknown VNF or unit 'w'"):
        place(service(vnf("v")), substrate, PlacementPolicy(predefined_mapping=(("w", "a"),)))


def test_total_demand_above_total_free_capacity():
    substrate = Substrate.from_pops([pop("a", free_cores=3), pop("b", free_cores=3)])
    with pytest.raises(InfeasibleRequestError) as caught:
        place(service(vnf("x", cores=2), vnf("y", cores=2), vnf("z", cores=3)), substrate)
    [reason] = caught.value.reasons
    assert reason.resource is Resource.CORES and (reason.required, reason.available) == (7, 6)


@pytest.mark.parametrize("solver", ["exact", "fast", "exhaustive"])
def test_bin_packing_failure_is_reported_as_cores(solver):
    # 3 + 3 + 2 cores into two PoPs of 4 free each: the totals fit (8 ≤ 8) but no packing does
    substrate = Substrate.from_pops([pop("a", free_cores=4), pop("b", free_cores=4)])
    with pytest.raises(InfeasibleRequestError) as caught:
        place(service(vnf("x", cores=3), vnf("y", cores=3), vnf("z", cores=2)), substrate, solver=solver)
    assert caught.value.resources == {Resource.CORES}
    assert "not all together" in str(caught.value)


def test_mixed_vm_and_container_units_cannot_share_one_pop():
    mixed = Vnf(
        "m",
        (
            DeploymentUnit("m/a", "m", "a", PopType.VM, 1, 1),
            DeploymentUnit("m/b", "m", "b", PopType.CONTAINER),
        ),
    )
    substrate = Substrate.from_pops([pop("a"), pop("b", pop_type=PopType.CONTAINER)])
    with pytest.raises(InfeasibleRequestError) as caught:
        place(service(mixed), substrate)
    assert caught.value.resources == {Resource.POP_TYPE}
    split = place(service(mixed), substrate, PlacementPolicy(vnf_single_pop=False))
    assert split.units == {"m/a": "a", "m/b": "b"}


def _line(latency_ab: float, bandwidth: float = 1000.0) -> Substrate:
    return Substrate.from_pops(
        [pop("a", free_cores=2), pop("b", free_cores=2), Pop("edge", pop_type=PopType.VM)],
        [("a", "b", bandwidth, latency_ab), ("edge", "a", 1000, 1.0)],
    )


@pytest.mark.parametrize("solver", ["exact", "fast", "exhaustive"])
def test_latency_between_vnfs_that_cannot_share_a_pop(solver):
    link = VirtualLink("l1", LinkEnd("x", "x/u0"), LinkEnd("y", "y/u0"), max_latency=5)
    with pytest.raises(InfeasibleRequestError) as caught:
        place(service(vnf("x"), vnf("y"), links=[link]), _line(latency_ab=9), solver=solver)
    [reason] = caught.value.reasons
    assert reason.resource is Resource.LATENCY and reason.link == "l1"
    assert (reason.required, reason.available) == (5, 9)
    ok = place(service(vnf("x"), vnf("y"), links=[link]), _line(latency_ab=4), solver=solver)
    assert set(ok.vnfs.values()) == {"a", "b"} and ok.link_routes["l1"] in (("a", "b"), ("b", "a"))


def test_latency_to_an_ingress_location_names_the_pops():
    ingress = Endpoint("ingress:0", EndpointRole.INGRESS, location="edge", nap="10.0.0.1")
    link = VirtualLink("in", LinkEnd("ingress:0"), LinkEnd("x", "x/u0"), max_latency=0.5)
    with pytest.raises(InfeasibleRequestError) as caught:
        place(service(vnf("x"), endpoints=[ingress], links=[link]), _line(latency_ab=3))
    by_pop = {r.pop: r.resource for r in caught.value.reasons}
    assert by_pop == {"a": Resource.LATENCY, "b": Resource.LATENCY, "edge": Resource.CORES}
    assert "route latency from A (a) is 1 ms" in str(caught.value)


@pytest.mark.parametrize("solver", ["exact", "fast", "exhaustive"])
def test_wan_bandwidth_shared_by_two_links(solver):
    # x and y must be apart (2 free cores each), z too; two 600 Mbps links share a 1000 Mbps WAN link
    links = [
        VirtualLink("l1", LinkEnd("x", "x/u0"), LinkEnd("y", "y/u0"), bandwidth=600),
        VirtualLink("l2", LinkEnd("x", "x/u0"), LinkEnd("y", "y/u0"), bandwidth=600),
    ]
    with pytest.raises(InfeasibleRequestError) as caught:
        place(service(vnf("x"), vnf("y"), links=links), _line(latency_ab=1), solver=solver)
    assert caught.value.resources == {Resource.BANDWIDTH}
    assert caught.value.reasons[0].link == "l1, l2"


def test_qos_towards_an_unknown_endpoint_location_is_bad_input():
    ingress = Endpoint("ingress:0", EndpointRole.INGRESS, location="atlantis")
    link = VirtualLink("in", LinkEnd("ingress:0"), LinkEnd("x", "x/u0"), max_latency=5)
    with pytest.raises(PlacementError, match="location 'atlantis'"):
        place(service(vnf("x"), endpoints=[ingress], links=[link]), _line(latency_ab=1))


def test_soft_constraint_with_an_unknown_actor_is_bad_input():
    wish = SoftConstraint(SoftConstraintKind.AFFINITY, ("x", "ghost"))
    with pytest.raises(PlacementError, match="unknown actor 'ghost'"):
        service(vnf("x"), wishes=[wish])


def test_empty_substrate_and_bad_policy_are_bad_input():
    from placement import policy_from_sonata, substrate_from_sonata

    with pytest.raises(PlacementError, match="No attached VIMs"):
        substrate_from_sonata([])
    with pytest.raises(PlacementError, match="not a dictionary"):
        policy_from_sonata(["load balanced"], {})
    with pytest.raises(PlacementError, match="unknown operator policy 'fastest'"):
        policy_from_sonata({"policy": "fastest"}, {})
    assert OperatorPolicy.parse("load_balanced") is OperatorPolicy.LOAD_BALANCED


def test_the_reasons_survive_pickling_as_they_cross_from_the_placement_actor():
    import pickle
    substrate = Substrate.from_pops([pop("a", free_cores=3), pop("b", free_cores=1)])
    with pytest.raises(InfeasibleRequestError) as caught:
        place(service(vnf("big", cores=4)), substrate)
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is InfeasibleRequestError and str(copy) == str(caught.value)
    assert copy.reasons == caught.value.reasons and copy.resources == {Resource.CORES}
