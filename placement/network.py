"""WAN routing over the substrate: minimum-latency routes, their latency, links and bottleneck.

Design choice: a virtual link between two PoPs follows the *minimum-latency route* of the WAN
(as a link-state IGP with latency metrics would route it), and reserves its bandwidth on every
WAN link of that route. Fixing the route keeps placement a pure assignment problem (no
multi-commodity flow), so the exact MILP stays small and the search can check a move in
microseconds; SONATA's model is the one-hop special case (a virtual link on one WIM pair).

Distances come from scipy's C Dijkstra (``scipy.sparse.csgraph``) on a CSR matrix built once
from the networkx graph; rows are computed lazily per source and cached, so a 1,000-PoP
substrate costs only the rows the solvers actually touch. Zero-latency links are kept as
explicit zeros (csgraph treats stored zeros as edges).
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra


class Network:
    """Routing oracle; node ids are the substrate's, PoPs are addressed by their problem index."""

    def __init__(self, graph: nx.Graph, pop_nodes: list[str]):
        self.nodes: list[str] = list(graph.nodes)
        self.index: dict[str, int] = {node: i for i, node in enumerate(self.nodes)}
        self.pop_node = np.array([self.index[node] for node in pop_nodes], dtype=np.int64)
        self.edge_ends: list[tuple[str, str]] = []
        self._edge_of: dict[tuple[int, int], int] = {}
        rows, cols, latency, capacity = [], [], [], []
        for a, b, data in graph.edges(data=True):
            i, j = self.index[a], self.index[b]
            self._edge_of[(i, j)] = self._edge_of[(j, i)] = len(self.edge_ends)
            self.edge_ends.append((a, b))
            rows += [i, j]
            cols += [j, i]
            latency += [float(data.get("latency", 0.0))] * 2
            capacity.append(float(data.get("bandwidth", 0.0)))
        n = len(self.nodes)
        self._matrix = sp.csr_matrix(
            (
                np.array(latency, dtype=float),
                (np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64)),
            ),
            shape=(n, n),
        )
        self.capacity = np.array(capacity, dtype=float)
        self._rows: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._paths: dict[tuple[int, int], tuple[int, ...]] = {}

    @property
    def has_links(self) -> bool:
        """False for SONATA's plain VIM lists (no WIM): PoPs are islands."""
        return bool(self.edge_ends)

    def _row(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        row = self._rows.get(node)
        if row is None:
            if self.edge_ends:
                dist, pred = dijkstra(self._matrix, directed=False, indices=node, return_predecessors=True)
            else:
                dist = np.full(len(self.nodes), np.inf)
                dist[node] = 0.0
                pred = np.full(len(self.nodes), -9999, dtype=np.int32)
            row = self._rows[node] = (dist, pred)
        return row

    def node_latencies(self, node: int) -> np.ndarray:
        """Route latency from network node ``node`` to every network node (inf: unreachable)."""
        return self._row(node)[0]

    def pop_latencies_from_node(self, node: int) -> np.ndarray:
        """Route latency from network node ``node`` to every PoP (by PoP index)."""
        return self._row(node)[0][self.pop_node]

    def pop_latencies(self, pop: int) -> np.ndarray:
        """Route latency from PoP ``pop`` to every PoP (by PoP index)."""
        return self.pop_latencies_from_node(int(self.pop_node[pop]))

    def path_edges(self, src: int, dst: int) -> tuple[int, ...]:
        """WAN link ids on the route between network nodes ``src`` and ``dst`` (() if equal)."""
        key = (src, dst) if src <= dst else (dst, src)
        path = self._paths.get(key)
        if path is None:
            a, b = key
            pred = self._row(a)[1]
            edges, node = [], b
            while node != a:
                parent = int(pred[node])
                if parent < 0:
                    raise ValueError(f"no route between {self.nodes[a]} and {self.nodes[b]}")
                edges.append(self._edge_of[(parent, node)])
                node = parent
            path = self._paths[key] = tuple(edges)
        return path

    def pop_path_edges(self, p: int, q: int) -> tuple[int, ...]:
        """WAN link ids on the route between PoPs ``p`` and ``q`` (by PoP index)."""
        return self.path_edges(int(self.pop_node[p]), int(self.pop_node[q]))

    def pop_bottlenecks_from_node(self, node: int) -> np.ndarray:
        """Smallest capacity on the route from ``node`` to every PoP (inf for the node itself).

        One pass over the shortest-path tree in order of distance, so O(n log n) for all PoPs.
        """
        dist, pred = self._row(node)
        width = np.full(len(self.nodes), np.inf)
        reachable = np.flatnonzero(np.isfinite(dist))
        for v in reachable[np.argsort(dist[reachable], kind="stable")]:
            parent = int(pred[v])
            if parent >= 0:
                width[v] = min(width[parent], self.capacity[self._edge_of[(parent, int(v))]])
        width[~np.isfinite(dist)] = 0.0
        return width[self.pop_node]

    def bottleneck(self, src: int, dst: int, residual: np.ndarray | None = None) -> float:
        """Smallest (residual) capacity on the route between two network nodes (inf if equal)."""
        capacity = self.capacity if residual is None else residual
        edges = self.path_edges(src, dst)
        return float(min(capacity[list(edges)])) if edges else float("inf")
