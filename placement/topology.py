"""Substrates from real networks and from the generators, written as mano topology files.

Sources (``source`` strings, also the CLI's first argument):

* ``zoo:<Name>`` — the Internet Topology Zoo (``zoo:Abilene``, ``zoo:TataNld``),
* ``sndlib:<name>`` — SNDlib (``sndlib:germany50``),
* ``caida:<asn>`` — CAIDA's router-level AS graphs (``caida:7018``; ``caida:<snapshot>/<asn>`` picks a snapshot),
* ``backbone:<region>`` — topohub's synthetic continental backbones (``backbone:world``, 3,815 nodes),
* ``gabriel:<n>/<i>`` — topohub's Gabriel graphs,
* ``generated:<n>`` and ``waxman:<n>`` — :mod:`placement.generators` (any size; 10,000 PoPs in a second).

The real graphs come from the PyPI package ``topohub``, which ships them as data: nothing is
downloaded at run time. Every node becomes a PoP named after its city; a link's latency is its
length (topohub's ``dist``, else the great-circle distance between its ends) at the speed of
light in fibre; its bandwidth and the PoPs' capacities are the caller's choice, the PoPs'
current usage drawn from a seeded distribution so the operator policies have something to
balance. VIM endpoints are ``10.<region>.<site>.1`` with regions cut from the geography, so
SONATA's proximity objective (common IPv4 prefixes) prefers nearby PoPs.

A topology file is SONATA's shape: ``{vim_list: [...], wims: [{uuid, qos: [{node_1, node_2,
bandwidth, latency}]}]}``, which ``MANO_TOPOLOGY`` and :func:`placement.substrate_from_sonata`
read. ``python -m placement.topology zoo:TataNld --cores 64 -o tata.yml`` writes one.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections import Counter
from typing import Any

import networkx as nx
import numpy as np

from placement import generators
from placement.errors import PlacementError
from placement.substrate import Pop, PopType, Substrate

EARTH_RADIUS_KM = 6371.0
_TOPOHUB_GROUPS = {"zoo": "topozoo", "topozoo": "topozoo", "sndlib": "sndlib", "caida": "caida",
                   "backbone": "backbone", "gabriel": "gabriel"}
_CAIDA_SNAPSHOT = "2024-08"


@dataclasses.dataclass(frozen=True)
class Capacity:
    """What every PoP offers and how much of it is in use already.

    ``cores`` None keeps a generated substrate's own (varied) capacities; a real graph has none,
    so it gets :data:`DEFAULT_CORES`. ``usage``: each PoP's used share is drawn uniformly from
    [0, usage], seeded. ``bandwidth_mbps`` None keeps a generated substrate's own (varied) link
    bandwidth; a real graph gets :data:`DEFAULT_BANDWIDTH_MBPS`. The two are independent: a
    bandwidth given alone applies to a generated substrate's links all the same.
    """

    cores: float | None = None
    memory_per_core_gb: float = 4.0
    usage: float = 0.5
    bandwidth_mbps: float | None = None
    seed: int = 0


DEFAULT_CORES = 64.0
DEFAULT_BANDWIDTH_MBPS = 10_000.0


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (longitude, latitude) points, in km."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def fibre_latency_ms(km: float) -> float:
    """One-way latency over ``km`` of fibre, plus a tenth of a millisecond for the equipment."""
    return round(km / generators.FIBRE_KM_PER_MS + 0.1, 3)


def topohub_key(source: str) -> str:
    """``zoo:Abilene`` → topohub's ``topozoo/Abilene``; ``caida:7018`` → ``caida/2024-08/7018``."""
    group, sep, name = source.partition(":")
    if not sep or group not in _TOPOHUB_GROUPS or not name:
        raise PlacementError(f"unknown topology source {source!r}: expected one of "
                             f"{', '.join(sorted(_TOPOHUB_GROUPS))}, generated or waxman, as '<kind>:<name>'")
    if group == "caida" and "/" not in name:
        name = f"{_CAIDA_SNAPSHOT}/{name}"
    return f"{_TOPOHUB_GROUPS[group]}/{name}"


def _load_topohub(source: str) -> nx.Graph:
    try:
        import topohub
    except ImportError as exc:  # a dependency of mano; only a broken install lacks it
        raise PlacementError("real topologies need the 'topohub' package (pip install topohub)") from exc
    key = topohub_key(source)
    try:
        data = topohub.get(key)
    except KeyError:
        raise PlacementError(f"topohub has no topology {key!r} (source {source!r})") from None
    return nx.node_link_graph(data, edges="edges")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-") or "net"


def _usage(rng: np.random.Generator, capacity: Capacity, n: int) -> np.ndarray:
    return rng.uniform(0.0, max(0.0, min(1.0, capacity.usage)), size=n)


def real_substrate(source: str, capacity: Capacity = Capacity()) -> Substrate:
    """A substrate from one of the graphs topohub ships (see the module docstring for sources)."""
    graph = _load_topohub(source)
    nodes = sorted(graph.nodes)
    if not nodes:
        raise PlacementError(f"topology {source!r} has no nodes")
    rng = np.random.default_rng(capacity.seed)
    positions = np.array([graph.nodes[n].get("pos", (0.0, 0.0)) for n in nodes], dtype=float)
    span = np.ptp(positions, axis=0)
    unit = (positions - positions.min(axis=0)) / np.where(span > 0, span, 1.0)
    regions = generators._regions(unit, max(4, len(nodes) // 8))
    names = [str(graph.nodes[n].get("name") or f"node{n}") for n in nodes]
    repeated = {name for name, count in Counter(names).items() if count > 1}
    prefix = _slug(source.partition(":")[2].rsplit("/", 1)[-1] if source.startswith("caida") else
                   source.partition(":")[2].replace("/", "-"))
    cores = capacity.cores if capacity.cores is not None else DEFAULT_CORES
    memory = cores * capacity.memory_per_core_gb
    bandwidth = DEFAULT_BANDWIDTH_MBPS if capacity.bandwidth_mbps is None else capacity.bandwidth_mbps
    usage = _usage(rng, capacity, len(nodes))
    uuid_of, pops = {}, []
    for i, (node, name, region) in enumerate(zip(nodes, names, regions)):
        uuid_of[node] = f"{prefix}-{i:04d}"
        pops.append(Pop(uuid=uuid_of[node], name=f"{name}-{i}" if name in repeated else name, city=name,
                        pop_type=PopType.VM, cores_total=cores, cores_used=float(round(cores * usage[i])),
                        memory_total=memory, memory_used=round(memory * usage[i], 1),
                        endpoint=f"10.{int(region) % 250}.{(i // 250) % 250}.{i % 250 + 1}"))
    links = []
    for a, b, data in graph.edges(data=True):
        if a == b:
            continue
        km = data.get("dist")
        if km is None:
            km = haversine_km(tuple(graph.nodes[a].get("pos", (0, 0))), tuple(graph.nodes[b].get("pos", (0, 0))))
        links.append((uuid_of[a], uuid_of[b], bandwidth, fibre_latency_ms(float(km))))
    return Substrate.from_pops(pops, links)


def _with_capacity(substrate: Substrate, capacity: Capacity) -> Substrate:
    """A generated substrate with the caller's capacities and link bandwidth, each when given."""
    if capacity.cores is None and capacity.bandwidth_mbps is None:
        return substrate
    pops = substrate.pops
    if capacity.cores is not None:
        rng = np.random.default_rng(capacity.seed)
        usage = _usage(rng, capacity, len(pops))
        memory = capacity.cores * capacity.memory_per_core_gb
        pops = [dataclasses.replace(p, cores_total=capacity.cores, cores_used=float(round(capacity.cores * u)),
                                    memory_total=memory, memory_used=round(memory * u, 1))
                for p, u in zip(pops, usage)]
    links = [(a, b, d["bandwidth"] if capacity.bandwidth_mbps is None else capacity.bandwidth_mbps, d["latency"])
             for a, b, d in substrate.graph.edges(data=True)]
    return Substrate.from_pops(pops, links)


def load_substrate(source: str, capacity: Capacity = Capacity()) -> Substrate:
    """A substrate from a source string (module docstring)."""
    kind, _, arg = source.partition(":")
    if kind in ("generated", "waxman"):
        try:
            n = int(arg)
        except ValueError:
            raise PlacementError(f"{source!r}: the size after '{kind}:' must be a number of PoPs") from None
        if n < 1:
            raise PlacementError(f"{source!r}: a substrate needs at least one PoP")
        made = (generators.zoo_like_substrate(n, seed=capacity.seed) if kind == "generated"
                else generators.random_substrate(n, seed=capacity.seed, model="waxman"))
        return _with_capacity(made, capacity)
    return real_substrate(source, capacity)


def to_sonata(substrate: Substrate) -> dict[str, Any]:
    """The topology file: SONATA's VIM list, and the WAN links as one WIM's ``qos`` pairs."""
    vims = [{"vim_uuid": p.uuid, "vim_name": p.name or p.uuid, "vim_city": p.city, "vim_domain": "default",
             "vim_endpoint": p.endpoint, "type": p.pop_type.value, "core_total": float(p.cores_total),
             "core_used": float(p.cores_used), "memory_total": float(p.memory_total),
             "memory_used": float(p.memory_used)}
            for p in substrate.pops]
    qos = [{"node_1": a, "node_2": b, "bandwidth": float(d.get("bandwidth", 0.0)),
            "latency": float(d.get("latency", 0.0))} for a, b, d in substrate.graph.edges(data=True)]
    return {"vim_list": vims, "wims": [{"uuid": "wan", "qos": qos}] if qos else []}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m placement.topology",
        description="Write a mano topology file (SONATA's VIM list and WAN links) from a real or generated network.")
    parser.add_argument("source", help="zoo:<Name> | sndlib:<name> | caida:<asn> | backbone:<region> | "
                                       "gabriel:<n>/<i> | generated:<pops> | waxman:<pops>")
    parser.add_argument("--cores", type=float, default=None,
                        help=f"cores per PoP (default: {DEFAULT_CORES:g} on real graphs, varied on generated ones)")
    parser.add_argument("--memory-per-core", type=float, default=4.0, help="GB of memory per core (default 4)")
    parser.add_argument("--usage", type=float, default=0.5, help="each PoP's used share is drawn from [0, usage]")
    parser.add_argument("--bandwidth", type=float, default=None,
                        help=f"WAN link bandwidth, Mbps (default {DEFAULT_BANDWIDTH_MBPS:,.0f} on real graphs, "
                             "varied on generated ones)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", help="file to write (default: standard output)")
    args = parser.parse_args(argv)
    import yaml

    capacity = Capacity(cores=args.cores, memory_per_core_gb=args.memory_per_core, usage=args.usage,
                        bandwidth_mbps=args.bandwidth, seed=args.seed)
    try:
        substrate = load_substrate(args.source, capacity)
    except PlacementError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml: 10,000 PoPs in a second, not five
    text = yaml.dump(to_sonata(substrate), Dumper=dumper, sort_keys=False)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
        print(f"{args.output}: {len(substrate.pops)} PoPs, {substrate.graph.number_of_edges()} WAN links",
              file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
