"""WAN routing over the substrate: minimum-latency routes, their latency, links and bottleneck.

Design choice: a virtual link between two PoPs follows the *minimum-latency route* of the WAN
(as a link-state IGP with latency metrics would route it), and reserves its bandwidth on every
WAN link of that route. Fixing the route keeps placement a pure assignment problem (no
multi-commodity flow), so the exact MILP stays small and the search can check a move in
microseconds; SONATA's model is the one-hop special case (a virtual link on one WIM pair).

Distances come from scipy's C Dijkstra (``scipy.sparse.csgraph``) on a CSR matrix built from
the networkx graph; rows are computed lazily per source, so a 1,000-PoP substrate costs only
the rows the solvers actually touch. Zero-latency links are kept as explicit zeros (csgraph
treats stored zeros as edges).

Routing is a function of the WAN graph alone (its nodes, links and their latencies, and which
nodes are PoPs), not of its usage, and in the live runtime that graph is the same placement
after placement. So the routing state (the CSR matrix, Dijkstra rows, PoP latency rows,
paths, bottleneck rows) lives in a per-process :class:`RoutingCache`, keyed by a fingerprint
of that graph (:attr:`Network.key`); every :class:`Network` over the same graph in a process
shares it, including copies unpickled in a search task's worker that stays alive between
placements. A link whose latency changes is another graph (another key): nothing computed for
the old one is reused. Bottleneck rows also depend on capacities and are keyed by them too.
The cache is bounded in bytes (:data:`CACHE_BYTES`; the oldest entries go first) and in
substrates (:data:`CACHE_SUBSTRATES`; the least recently used goes first), so a 10,000-PoP
substrate keeps at most that much, however many rows its searches touch. Entries are
recomputed when needed again, with the same values: the cache changes speed, never results.
Cached arrays are read-only (they are shared).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict, deque
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

CACHE_BYTES = 128 * 2**20  # per process; a 10,000-PoP row pair (distances, predecessors) is 120 KB
CACHE_SUBSTRATES = 4
_ENTRY_OVERHEAD = 100  # bytes of dict slot, key and tuple, roughly


def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=16)
    for array in arrays:
        array = np.ascontiguousarray(array)
        h.update(str((array.dtype.str, array.shape)).encode())
        h.update(array.tobytes())
    return h.hexdigest()


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


class _Routes:
    """The routing of one WAN graph: built lazily, shared by every Network over it."""

    def __init__(self, cache: RoutingCache, key: str, n: int, ends: np.ndarray, latency: np.ndarray,
                 pop_node: np.ndarray):
        self.cache, self.key, self.n, self.pop_node = cache, key, n, pop_node
        self.has_links = len(ends) > 0
        self.edge_of: dict[tuple[int, int], int] = {}
        for e, (i, j) in enumerate(ends.tolist()):
            self.edge_of[(i, j)] = self.edge_of[(j, i)] = e
        self.matrix = sp.csr_matrix(
            (np.repeat(latency, 2), (ends.ravel(), ends[:, ::-1].ravel())), shape=(n, n)
        )  # links in graph order, both directions: the same CSR (and Dijkstra ties) as ever
        self.rows: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.pop_rows: dict[int, np.ndarray] = {}
        self.paths: dict[tuple[int, int], tuple[int, ...]] = {}
        self.bottlenecks: dict[tuple[str, int], np.ndarray] = {}
        self.order: deque = deque()  # (table, key, bytes) in insertion order, for eviction
        self.nbytes = (
            self.matrix.data.nbytes + self.matrix.indices.nbytes + self.matrix.indptr.nbytes
            + 2 * len(ends) * _ENTRY_OVERHEAD
        )

    def row(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        row = self.rows.get(node)
        if row is None:
            if self.has_links:
                dist, pred = dijkstra(self.matrix, directed=False, indices=node, return_predecessors=True)
            else:
                dist = np.full(self.n, np.inf)
                dist[node] = 0.0
                pred = np.full(self.n, -9999, dtype=np.int32)
            row = (_frozen(dist), _frozen(pred))
            row = self.cache.store(self, self.rows, node, row, dist.nbytes + pred.nbytes)
        return row

    def pop_row(self, node: int) -> np.ndarray:
        row = self.pop_rows.get(node)
        if row is None:
            row = _frozen(self.row(node)[0][self.pop_node])
            row = self.cache.store(self, self.pop_rows, node, row, row.nbytes)
        return row

    def path(self, src: int, dst: int) -> tuple[int, ...]:
        key = (src, dst) if src <= dst else (dst, src)
        path = self.paths.get(key)
        if path is None:
            a, b = key
            pred = self.row(a)[1]
            edges, node = [], b
            while node != a:
                parent = int(pred[node])
                if parent < 0:
                    return None  # type: ignore[return-value]  # the caller names the nodes
                edges.append(self.edge_of[(parent, node)])
                node = parent
            path = self.cache.store(self, self.paths, key, tuple(edges), 36 * len(edges))
        return path


class RoutingCache:
    """Routing state per WAN graph in this process, bounded in bytes and in graphs.

    Reads take no lock (one dict lookup); additions and evictions do, so threads of one
    process (an actor's concurrent calls) may share it.
    """

    def __init__(self, max_bytes: int = CACHE_BYTES, max_substrates: int = CACHE_SUBSTRATES):
        self.max_bytes, self.max_substrates = int(max_bytes), max(1, int(max_substrates))
        self.nbytes = 0
        self.hits = self.misses = 0
        self._substrates: OrderedDict[str, _Routes] = OrderedDict()
        self._lock = threading.Lock()

    def routes(self, key: str, n: int, ends: np.ndarray, latency: np.ndarray, pop_node: np.ndarray) -> _Routes:
        """The routing of graph ``key``, built (empty) if this process has none for it."""
        with self._lock:
            routes = self._substrates.get(key)
            if routes is not None:
                self.hits += 1
                self._substrates.move_to_end(key)
                return routes
            self.misses += 1
        built = _Routes(self, key, n, ends, latency, pop_node)  # outside the lock: O(links)
        with self._lock:
            routes = self._substrates.setdefault(key, built)
            if routes is built:
                self.nbytes += built.nbytes
                while len(self._substrates) > self.max_substrates:
                    self._drop_oldest_substrate()
            self._substrates.move_to_end(key)
            return routes

    def store(self, routes: _Routes, table: dict, key: Any, value: Any, nbytes: int) -> Any:
        """Keep ``value`` under ``key`` in one of ``routes``' tables; evict to stay in budget."""
        nbytes += _ENTRY_OVERHEAD
        with self._lock:
            if key in table:
                return table[key]
            table[key] = value
            routes.order.append((table, key, nbytes))
            routes.nbytes += nbytes
            if self._substrates.get(routes.key) is routes:
                self.nbytes += nbytes
                self._trim(routes, table, key)
            else:  # evicted meanwhile: it lives as long as its Networks, within the same budget
                self._trim_own(routes, table, key)
        return value

    def _drop_oldest_substrate(self) -> None:
        _, routes = self._substrates.popitem(last=False)
        self.nbytes -= routes.nbytes

    def _trim(self, routes: _Routes, table: dict, key: Any) -> None:
        """Over budget: drop other graphs, least recently used first, then this one's oldest entries."""
        while self.nbytes > self.max_bytes:
            victim = next((k for k, r in self._substrates.items() if r is not routes), None)
            if victim is None:
                break
            self.nbytes -= self._substrates.pop(victim).nbytes
        while self.nbytes > self.max_bytes and len(routes.order) > 1:
            self.nbytes -= self._evict_one(routes, table, key)

    def _trim_own(self, routes: _Routes, table: dict, key: Any) -> None:
        while routes.nbytes > self.max_bytes and len(routes.order) > 1:
            self._evict_one(routes, table, key)

    @staticmethod
    def _evict_one(routes: _Routes, keep_table: dict, keep_key: Any) -> int:
        old_table, old_key, nbytes = routes.order.popleft()
        if old_table is keep_table and old_key == keep_key:  # the entry just stored stays
            routes.order.append((old_table, old_key, nbytes))
            old_table, old_key, nbytes = routes.order.popleft()
        old_table.pop(old_key, None)
        routes.nbytes -= nbytes
        return nbytes

    def clear(self) -> None:
        """Forget every graph (Networks holding one keep using it)."""
        with self._lock:
            self._substrates.clear()
            self.nbytes = 0
            self.hits = self.misses = 0

    def stats(self) -> dict[str, int]:
        """Graphs and bytes held, and how often a Network found its graph here (hits) or not."""
        with self._lock:
            return {"substrates": len(self._substrates), "bytes": self.nbytes, "hits": self.hits,
                    "misses": self.misses,
                    "rows": sum(len(r.rows) for r in self._substrates.values()),
                    "pop_rows": sum(len(r.pop_rows) for r in self._substrates.values()),
                    "paths": sum(len(r.paths) for r in self._substrates.values())}


CACHE = RoutingCache()


class Network:
    """Routing oracle; node ids are the substrate's, PoPs are addressed by their problem index."""

    def __init__(self, graph: nx.Graph, pop_nodes: list[str]):
        self.nodes: list[str] = list(graph.nodes)
        self.index: dict[str, int] = {node: i for i, node in enumerate(self.nodes)}
        self.pop_node = np.array([self.index[node] for node in pop_nodes], dtype=np.int64)
        self.edge_ends: list[tuple[str, str]] = []
        ends, latency, capacity = [], [], []
        index = self.index
        for a, b, data in graph.edges(data=True):
            ends.append((index[a], index[b]))
            self.edge_ends.append((a, b))
            latency.append(float(data.get("latency", 0.0)))
            capacity.append(float(data.get("bandwidth", 0.0)))
        self._ends = np.array(ends, dtype=np.int64).reshape(-1, 2)
        self._latency = np.array(latency, dtype=float)
        self.capacity = np.array(capacity, dtype=float)
        # The routing's identity: what shortest paths depend on (not bandwidth, not usage).
        self.key = _digest(np.array([len(self.nodes)]), self._ends, self._latency, self.pop_node)
        self._capacity_key = _digest(self.capacity)
        self._attach()

    def _attach(self) -> None:
        self._routes = CACHE.routes(self.key, len(self.nodes), self._ends, self._latency, self.pop_node)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        del state["_routes"], state["index"]  # rebuilt by the receiver, its routing from its own cache
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.index = {node: i for i, node in enumerate(self.nodes)}
        self._attach()

    @property
    def has_links(self) -> bool:
        """False for SONATA's plain VIM lists (no WIM): PoPs are islands."""
        return bool(self.edge_ends)

    def _row(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        """(distances, predecessors) from network node ``node`` (read-only, shared)."""
        return self._routes.row(node)

    def node_latencies(self, node: int) -> np.ndarray:
        """Route latency from network node ``node`` to every network node (inf: unreachable)."""
        return self._routes.row(node)[0]

    def pop_latencies_from_node(self, node: int) -> np.ndarray:
        """Route latency from network node ``node`` to every PoP (by PoP index; read-only)."""
        return self._routes.pop_row(node)

    def pop_latencies(self, pop: int) -> np.ndarray:
        """Route latency from PoP ``pop`` to every PoP (by PoP index; read-only)."""
        return self._routes.pop_row(int(self.pop_node[pop]))

    def path_edges(self, src: int, dst: int) -> tuple[int, ...]:
        """WAN link ids on the route between network nodes ``src`` and ``dst`` (() if equal)."""
        path = self._routes.path(src, dst)
        if path is None:
            a, b = (src, dst) if src <= dst else (dst, src)
            raise ValueError(f"no route between {self.nodes[a]} and {self.nodes[b]}")
        return path

    def pop_path_edges(self, p: int, q: int) -> tuple[int, ...]:
        """WAN link ids on the route between PoPs ``p`` and ``q`` (by PoP index)."""
        return self.path_edges(int(self.pop_node[p]), int(self.pop_node[q]))

    def pop_bottlenecks_from_node(self, node: int) -> np.ndarray:
        """Smallest capacity on the route from ``node`` to every PoP (inf for the node itself).

        One pass over the shortest-path tree in order of distance, so O(n log n) for all PoPs.
        Cached with the routing, keyed by the capacities too (read-only).
        """
        key = (self._capacity_key, node)
        cached = self._routes.bottlenecks.get(key)
        if cached is not None:
            return cached
        dist, pred = self._routes.row(node)
        edge_of = self._routes.edge_of
        width = np.full(len(self.nodes), np.inf)
        reachable = np.flatnonzero(np.isfinite(dist))
        for v in reachable[np.argsort(dist[reachable], kind="stable")]:
            parent = int(pred[v])
            if parent >= 0:
                width[v] = min(width[parent], self.capacity[edge_of[(parent, int(v))]])
        width[~np.isfinite(dist)] = 0.0
        row = _frozen(width[self.pop_node])
        return self._routes.cache.store(self._routes, self._routes.bottlenecks, key, row, row.nbytes)

    def bottleneck(self, src: int, dst: int, residual: np.ndarray | None = None) -> float:
        """Smallest (residual) capacity on the route between two network nodes (inf if equal)."""
        capacity = self.capacity if residual is None else residual
        edges = self.path_edges(src, dst)
        return float(min(capacity[list(edges)])) if edges else float("inf")
