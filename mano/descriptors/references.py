"""Cross-reference checks that a field-by-field schema cannot express.

Each check returns a list of ``(field path, message)`` problems rather than raising on the
first one, so a developer fixing a descriptor sees everything that is wrong at once.

SONATA writes connection-point references in two styles, both accepted here:
``vdu01:eth0`` where the VDU's point is ``eth0``, and ``vdu01:cp01`` where the VDU's point
id is already ``vdu01:cp01``. NSD references are ``<vnf_id>:<cp>`` or the id of one of the
NSD's own connection points (``ns:mgmt`` or ``mgmt``). A descriptor that lists no
external connection points at all declares them implicitly through its links.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Mapping

from mano.descriptors.models import Nsd, Vnfd

Problem = tuple[str, str]


def _duplicates(ids: Iterable[str]) -> list[str]:
    return sorted(i for i, n in Counter(ids).items() if n > 1)


def _unique(path: str, ids: Iterable[str], what: str) -> list[Problem]:
    return [(path, f"duplicate {what} id {d!r}") for d in _duplicates(ids)]


def check_vnfd(vnfd: Vnfd) -> list[Problem]:
    """Unique ids and resolvable connection-point references inside one VNFD."""
    problems = _unique("virtual_deployment_units", [u.id for u in vnfd.deployment_units], "deployment unit")
    problems += _unique("connection_points", [c.id for c in vnfd.connection_points], "connection point")
    problems += _unique("virtual_links", [v.id for v in vnfd.virtual_links], "virtual link")
    external = {c.id for c in vnfd.connection_points}
    unit_points = {u.id: {c.id for c in u.connection_points} for u in vnfd.deployment_units}
    for i, link in enumerate(vnfd.virtual_links):
        for j, ref in enumerate(link.connection_points_reference):
            if not _vnfd_ref_ok(ref, external, unit_points):
                problems.append((f"virtual_links[{i}].connection_points_reference[{j}]",
                                 f"{ref!r} names no connection point of this VNFD; expected one of "
                                 f"{_choices(external, unit_points)}"))
    return problems


def _vnfd_ref_ok(ref: str, external: set[str], unit_points: Mapping[str, set[str]]) -> bool:
    if ref in external:
        return True
    unit, sep, point = ref.partition(":")
    if not sep:
        # A VNFD that lists no external points declares them implicitly through its links
        # (real SONATA packages do this); once it lists any, the list is authoritative.
        return not external
    if unit not in unit_points:
        return False
    return point in unit_points[unit] or ref in unit_points[unit]


def _choices(external: set[str], unit_points: Mapping[str, set[str]]) -> str:
    names = sorted(external) + sorted(
        p if ":" in p else f"{u}:{p}" for u, points in unit_points.items() for p in points)
    shown = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
    return shown or "(none declared)"


def check_nsd(nsd: Nsd) -> list[Problem]:
    """Unique ids and references that can be checked without the VNFDs."""
    vnf_ids = [nf.vnf_id for nf in nsd.network_functions]
    problems = _unique("network_functions", vnf_ids, "vnf")
    problems += _unique("connection_points", [c.id for c in nsd.connection_points], "connection point")
    problems += _unique("virtual_links", [v.id for v in nsd.virtual_links], "virtual link")
    known_vnfs, own_points = set(vnf_ids), {c.id for c in nsd.connection_points}
    link_ids = {v.id for v in nsd.virtual_links}
    for path, ref in _nsd_refs(nsd):
        if ref in own_points:
            continue
        vnf_id, sep, _ = ref.partition(":")
        if not sep and not own_points:
            continue  # implicit NS connection point, as for VNFDs
        if not sep or vnf_id not in known_vnfs:
            problems.append((path, f"{ref!r} is neither a connection point of the NSD nor "
                                   f"'<vnf_id>:<point>' with a vnf_id from network_functions "
                                   f"({', '.join(sorted(known_vnfs))})"))
    for g, graph in enumerate(nsd.forwarding_graphs):
        for k, vnf_id in enumerate(graph.constituent_vnfs):
            if vnf_id not in known_vnfs:
                problems.append((f"forwarding_graphs[{g}].constituent_vnfs[{k}]",
                                 f"{vnf_id!r} is not a vnf_id of network_functions"))
        for k, link in enumerate(graph.constituent_virtual_links):
            if link not in link_ids:
                problems.append((f"forwarding_graphs[{g}].constituent_virtual_links[{k}]",
                                 f"{link!r} is not the id of a virtual link"))
    return problems


def _nsd_refs(nsd: Nsd) -> Iterable[tuple[str, str]]:
    for i, link in enumerate(nsd.virtual_links):
        for j, ref in enumerate(link.connection_points_reference):
            yield f"virtual_links[{i}].connection_points_reference[{j}]", ref
    for g, graph in enumerate(nsd.forwarding_graphs):
        for p, path in enumerate(graph.network_forwarding_paths):
            for c, point in enumerate(path.connection_points):
                yield (f"forwarding_graphs[{g}].network_forwarding_paths[{p}].connection_points[{c}]"
                       f".connection_point_ref", point.connection_point_ref)


def check_service(nsd: Nsd, vnfds: Mapping[str, Vnfd]) -> list[Problem]:
    """References from the NSD into its resolved VNFDs (``vnf_id -> Vnfd``)."""
    own_points = {c.id for c in nsd.connection_points}
    problems: list[Problem] = []
    for path, ref in _nsd_refs(nsd):
        vnf_id, sep, point = ref.partition(":")
        if ref in own_points or not sep or vnf_id not in vnfds:
            continue
        points = {c.id for c in vnfds[vnf_id].connection_points}
        if point not in points:
            problems.append((path, f"{ref!r}: VNF {vnfds[vnf_id].name!r} has no connection point "
                                   f"{point!r}; it has {', '.join(sorted(points)) or 'none'}"))
    return problems
