"""Build a :class:`~placement.service.ServiceGraph` from plain SONATA descriptor dicts.

Inputs are an NSD dict, a list of VNFD dicts (or SONATA ``functions`` entries ``{id, vnfd}``),
and the ingress/egress lists ``[{location, nap}]`` of the instantiation request. Plain dicts
keep placement decoupled from the typed descriptor models.

Translation rules (SONATA §4/§5, with its gaps filled):

* NSD ``network_functions`` are matched to VNFDs by (name, vendor, version).
* ``virtual_deployment_units`` are ``vm`` units: ``cpu.vcpus`` cores and ``memory.size`` in
  ``size_unit`` (MB ÷ 1024 → GB). ``cloudnative_deployment_units`` are ``container`` units
  needing 0 cores and 0 GB (SONATA does not account container resources).
* An NSD link end ``vnf_id:cp`` is attached to the unit whose VNFD-internal link reaches the
  VNF's external connection point ``cp`` (SONATA's ``map_ref_on_id``); the first unit if none.
* An NSD connection point is ingress or egress from the forwarding graph (first position =
  ingress, last = egress), else from its id (``in…``/``out…``), else by its index among the
  external points (SONATA's rule). Management connection points are no endpoint.
* Multipoint links are split into pairs ``<vl>_<i>_<j>``; VNFD-internal links between two units
  become ``<vnf_id>/<vl>`` links (pairs likewise).
* ``qos_requirements``: ``minimum_bandwidth`` (a number or ``{bandwidth, bandwidth_unit}``) and
  ``latency`` (a number or ``{latency, latency_unit}``).
* NSD ``soft_constraints`` become :class:`~placement.service.SoftConstraint` records.
"""

from __future__ import annotations

import itertools
from typing import Any

from placement import units
from placement.errors import PlacementError
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
from placement.substrate import PopType


def service_from_sonata(
    nsd: dict, vnfds: list[dict], ingress: list[dict] | None = None, egress: list[dict] | None = None
) -> ServiceGraph:
    """Build the service graph of ``nsd`` (see module docstring for the rules)."""
    if not isinstance(nsd, dict):
        raise PlacementError("NSD is not a dict")
    descriptors = _vnfds_by_triple(vnfds)
    vnfs, vnfd_of = [], {}
    for index, function in enumerate(nsd.get("network_functions") or []):
        vnf_id = str(function.get("vnf_id") or "")
        if not vnf_id:
            raise PlacementError(f"nsd.network_functions[{index}]: missing vnf_id")
        triple = (function.get("vnf_name"), function.get("vnf_vendor"), str(function.get("vnf_version")))
        if triple not in descriptors:
            raise PlacementError(
                f"no VNFD for network function {vnf_id!r} (name, vendor, version = {triple})"
            )
        vnfd_of[vnf_id] = descriptors[triple]
        vnfs.append(_vnf(vnf_id, descriptors[triple]))
    if not vnfs:
        raise PlacementError("NSD lists no network_functions")
    endpoints = _endpoints(ingress, EndpointRole.INGRESS) + _endpoints(egress, EndpointRole.EGRESS)
    roles = _connection_point_roles(nsd)
    links = _nsd_links(nsd, vnfd_of, {v.vnf_id: v for v in vnfs}, roles, endpoints)
    for vnf in vnfs:
        links += _vnfd_internal_links(vnf, vnfd_of[vnf.vnf_id])
    return ServiceGraph.build(vnfs, endpoints, links, _soft_constraints(nsd), name=str(nsd.get("name", "")))


def _vnfds_by_triple(vnfds: list[dict]) -> dict[tuple, dict]:
    if not isinstance(vnfds, (list, tuple)):
        raise PlacementError("VNFDs must be a list of dicts")
    table = {}
    for index, entry in enumerate(vnfds):
        vnfd = entry.get("vnfd", entry) if isinstance(entry, dict) else None
        if not isinstance(vnfd, dict) or not vnfd:
            raise PlacementError(f"vnfds[{index}]: empty VNFD or not a dict")
        table[(vnfd.get("name"), vnfd.get("vendor"), str(vnfd.get("version")))] = vnfd
    return table


def _vnf(vnf_id: str, vnfd: dict) -> Vnf:
    found = []
    for vdu in vnfd.get("virtual_deployment_units") or []:
        req = vdu.get("resource_requirements") or {}
        where = f"VNFD {vnfd.get('name')}: unit {vdu.get('id')}"
        memory = req.get("memory") or {}
        found.append(
            DeploymentUnit(
                id=f"{vnf_id}/{vdu['id']}",
                vnf_id=vnf_id,
                du_id=str(vdu["id"]),
                platform=PopType.VM,
                cores=units.number((req.get("cpu") or {}).get("vcpus", 0), f"{where}: cpu.vcpus"),
                memory=units.memory_gb(
                    memory.get("size", 0), memory.get("size_unit"), where=f"{where}: memory"
                ),
            )
        )
    for cdu in vnfd.get("cloudnative_deployment_units") or []:
        found.append(
            DeploymentUnit(
                id=f"{vnf_id}/{cdu['id']}", vnf_id=vnf_id, du_id=str(cdu["id"]), platform=PopType.CONTAINER
            )
        )
    if not found:
        raise PlacementError(f"VNFD {vnfd.get('name')!r} (VNF {vnf_id!r}) has no deployment unit")
    return Vnf(vnf_id, tuple(found), name=str(vnfd.get("name", "")))


def _endpoints(points: list[dict] | None, role: EndpointRole) -> list[Endpoint]:
    result = []
    for index, point in enumerate(points or []):
        if not isinstance(point, dict):
            raise PlacementError(f"{role.value}[{index}]: expected {{location, nap}}")
        result.append(
            Endpoint(
                f"{role.value}:{index}", role, str(point.get("location") or ""), str(point.get("nap") or "")
            )
        )
    return result


def _connection_point_roles(nsd: dict) -> dict[str, EndpointRole | None]:
    """Role of every NSD connection point (None: management, or undecidable)."""
    points = [cp for cp in nsd.get("connection_points") or [] if isinstance(cp, dict)]
    roles: dict[str, EndpointRole | None] = {cp["id"]: None for cp in points}
    for graph in nsd.get("forwarding_graphs") or []:
        for path in graph.get("network_forwarding_paths") or []:
            ordered = [
                cp["connection_point_ref"]
                for cp in sorted(path.get("connection_points") or [], key=lambda cp: cp.get("position", 0))
            ]
            if ordered and ":" not in ordered[0]:
                roles[ordered[0]] = EndpointRole.INGRESS
            if ordered and ":" not in ordered[-1] and roles.get(ordered[-1]) is None:
                roles[ordered[-1]] = EndpointRole.EGRESS
    external = [cp["id"] for cp in points if cp.get("type") != "management"]
    for position, cp_id in enumerate(external):
        if roles.get(cp_id) is not None:
            continue
        lowered = cp_id.lower()
        if lowered.startswith(("in", "ingress", "src", "source")):
            roles[cp_id] = EndpointRole.INGRESS
        elif lowered.startswith(("out", "egress", "dst", "dest")):
            roles[cp_id] = EndpointRole.EGRESS
        else:
            roles[cp_id] = EndpointRole.INGRESS if position == 0 else EndpointRole.EGRESS
    return roles


def _unit_behind(vnf: Vnf, vnfd: dict, cp: str) -> str:
    """The unit of ``vnf`` whose internal link reaches the VNF's external connection point."""
    for link in vnfd.get("virtual_links") or []:
        refs = link.get("connection_points_reference") or []
        if cp in refs:
            for ref in refs:
                if ":" in ref:
                    du_id = ref.split(":", 1)[0]
                    for unit in vnf.units:
                        if unit.du_id == du_id:
                            return unit.id
    return vnf.units[0].id


def _qos(link: dict, where: str) -> tuple[float, float | None]:
    qos = link.get("qos_requirements") or {}
    bandwidth = (
        units.bandwidth_mbps(qos["minimum_bandwidth"], where=f"{where}: minimum_bandwidth")
        if qos.get("minimum_bandwidth") is not None
        else 0.0
    )
    latency = (
        units.latency_ms(qos["latency"], where=f"{where}: latency")
        if qos.get("latency") is not None
        else None
    )
    return bandwidth, latency


def _pairs(
    link_id: str, ends: list[list[LinkEnd]], bandwidth: float, latency: float | None
) -> list[VirtualLink]:
    """Point-to-point links between members; an endpoint member may stand for several points."""
    result = []
    multipoint = len(ends) > 2
    for i, j in itertools.combinations(range(len(ends)), 2):
        for a, b in itertools.product(ends[i], ends[j]):
            if a.node == b.node and a.unit == b.unit:
                continue
            name = f"{link_id}_{i}_{j}" if multipoint else link_id
            if len(ends[i]) > 1 or len(ends[j]) > 1:
                name = f"{name}@{a.node}-{b.node}"
            result.append(VirtualLink(name, a, b, bandwidth, latency))
    return result


def _nsd_links(
    nsd: dict, vnfd_of: dict, vnfs: dict[str, Vnf], roles: dict, endpoints: list[Endpoint]
) -> list[VirtualLink]:
    links = []
    for index, link in enumerate(nsd.get("virtual_links") or []):
        link_id = str(link.get("id") or f"vl{index}")
        bandwidth, latency = _qos(link, f"nsd.virtual_links[{link_id}]")
        ends = []
        for ref in link.get("connection_points_reference") or []:
            if ":" in ref:
                vnf_id, cp = ref.split(":", 1)
                if vnf_id not in vnfs:
                    raise PlacementError(f"virtual link {link_id!r}: unknown VNF {vnf_id!r} in {ref!r}")
                ends.append([LinkEnd(vnf_id, _unit_behind(vnfs[vnf_id], vnfd_of[vnf_id], cp))])
            else:
                role = roles.get(ref)
                members = [LinkEnd(e.id) for e in endpoints if role is not None and e.role is role]
                if members:
                    ends.append(members)
        links += _pairs(link_id, ends, bandwidth, latency)
    return links


def _vnfd_internal_links(vnf: Vnf, vnfd: dict) -> list[VirtualLink]:
    by_du = {unit.du_id: unit.id for unit in vnf.units}
    links = []
    for index, link in enumerate(vnfd.get("virtual_links") or []):
        link_id = f"{vnf.vnf_id}/{link.get('id') or index}"
        bandwidth, latency = _qos(link, f"VNFD {vnfd.get('name')}: virtual link {link_id}")
        ends = [
            [LinkEnd(vnf.vnf_id, by_du[ref.split(":", 1)[0]])]
            for ref in link.get("connection_points_reference") or []
            if ":" in ref and ref.split(":", 1)[0] in by_du
        ]
        links += _pairs(link_id, ends, bandwidth, latency)
    return links


def _soft_constraints(nsd: dict) -> list[SoftConstraint]:
    result = []
    for index, item in enumerate(nsd.get("soft_constraints") or []):
        where = f"nsd.soft_constraints[{index}]"
        try:
            kind = SoftConstraintKind(str(item.get("objective", "")).strip().lower())
        except ValueError:
            raise PlacementError(
                f"{where}: unknown objective {item.get('objective')!r} (expected 'proximity' or 'affinity')"
            ) from None
        actors = [str(actor) for actor in item.get("involved_actors") or []]
        if len(actors) != 2:
            raise PlacementError(f"{where}: involved_actors must name exactly two actors, got {actors}")
        weight = units.number(item.get("weight", 1.0), f"{where}.weight")
        result.append(SoftConstraint(kind, (actors[0], actors[1]), weight))
    return result


def parse_placement_request(payload: dict[str, Any]) -> dict[str, Any]:
    """Split SONATA's ``mano.service.place`` payload into :func:`placement.place_sonata` arguments."""
    nap = payload.get("nap") or {}
    return {
        "nsd": payload["nsd"],
        "vnfds": [function["vnfd"] for function in payload.get("functions") or []],
        "topology": payload.get("topology") or {},
        "operator_policy": payload.get("operator_policies") or {},
        "customer_policy": payload.get("customer_policies") or {},
        "ingress": nap.get("ingresses") or [],
        "egress": nap.get("egresses") or [],
        "vnf_single_pop": bool(payload.get("vnf_single_pop", True)),
        "predefined_mapping": payload.get("predefined_mapping") or None,
    }
