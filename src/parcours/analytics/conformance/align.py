"""Alignments of touchpoint sequences against the designed journey's net.

The net's reachability graph is built once (its markings are 1-safe, so it is finite) and
handed to the compiled A* kernel (``parcours.engine.kernels.align``) once per distinct
sequence. Fitness follows pm4py: ``1 - cost / (best_worst + len(trace))``, where ``cost`` counts
log moves and visible model moves and ``best_worst`` is the cost of aligning the empty trace.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from parcours.analytics.conformance.net import Net
from parcours.engine.kernels.align import align_trace
from parcours.errors import ParcoursError

#: beyond this many markings the designed journey is too concurrent to align state by state
MAX_MARKINGS = 500_000


@dataclass
class Graph:
    """The reachability graph in CSR form, with the kernel's heuristic tables."""

    labels: list[str]
    start: int
    final: int
    indptr: np.ndarray
    target: np.ndarray
    label: np.ndarray
    trans: np.ndarray
    dist: np.ndarray
    reach: np.ndarray
    all_labels: bool
    best_worst: int

    @cached_property
    def label_ids(self) -> dict[str, int]:
        """Each label's index: looked up for every event of every variant, so built once."""
        return {name: i for i, name in enumerate(self.labels)}


def reachability(net: Net) -> Graph:
    """Every marking reachable from the initial one, its edges, and the heuristic tables."""
    pidx = {p: i for i, p in enumerate(net.places)}
    labels = sorted({t.label for t in net.transitions if t.label is not None})
    lid = {name: i for i, name in enumerate(labels)}
    pre = [[pidx[p] for p in t.consume] for t in net.transitions]
    post = [[pidx[p] for p in t.produce] for t in net.transitions]
    start = [0] * len(net.places)
    start[pidx[net.initial]] = 1
    final = [0] * len(net.places)
    final[pidx[net.final]] = 1
    index = {tuple(start): 0}
    order = [tuple(start)]
    edges: list[list[tuple[int, int, int]]] = []
    queue = deque([0])
    while queue:
        k = queue.popleft()
        m = order[k]
        out = []
        for ti, t in enumerate(net.transitions):
            if all(m[p] > 0 for p in pre[ti]):
                nm = list(m)
                for p in pre[ti]:
                    nm[p] -= 1
                for p in post[ti]:
                    nm[p] += 1
                key = tuple(nm)
                if key not in index:
                    if len(order) >= MAX_MARKINGS or max(nm) > 1:
                        raise ParcoursError(
                            f"journey {net.name!r}: its designed net has over {MAX_MARKINGS:,} states; "
                            "mark fewer touchpoints required, non-repeatable or ordered (after) in one stage")
                    index[key] = len(order)
                    order.append(key)
                    queue.append(index[key])
                out.append((index[key], -1 if t.label is None else lid[t.label], ti))
        while len(edges) <= k:
            edges.append([])
        edges[k] = out
    while len(edges) < len(order):
        edges.append([])
    fin = index.get(tuple(final))
    if fin is None:
        raise ParcoursError(f"journey {net.name!r}: the end of the designed journey cannot be reached")
    indptr = np.zeros(len(order) + 1, np.int64)
    for k, out in enumerate(edges):
        indptr[k + 1] = indptr[k] + len(out)
    flat = [e for out in edges for e in out]
    target = np.array([e[0] for e in flat], np.int64)
    label = np.array([e[1] for e in flat], np.int64)
    trans = np.array([e[2] for e in flat], np.int64)
    dist = _distances(len(order), edges, fin)
    all_labels = len(labels) > 64
    reach = np.zeros(len(order), np.uint64) if not all_labels else np.full(len(order), ~np.uint64(0))
    if not all_labels:
        _reach_masks(edges, reach)
    return Graph(labels, 0, fin, indptr, target, label, trans, dist, reach, all_labels, int(dist[0]))


def _distances(count: int, edges, final: int) -> np.ndarray:
    """Fewest visible transitions from each marking to the final one (0-1 BFS backwards)."""
    back: list[list[tuple[int, int]]] = [[] for _ in range(count)]
    for k, out in enumerate(edges):
        for t, lab, _ in out:
            back[t].append((k, 0 if lab < 0 else 1))
    big = np.iinfo(np.int64).max // 4
    dist = np.full(count, big, np.int64)
    dist[final] = 0
    dq = deque([final])
    while dq:
        v = dq.popleft()
        for u, c in back[v]:
            if dist[v] + c < dist[u]:
                dist[u] = dist[v] + c
                (dq.appendleft if c == 0 else dq.append)(u)
    return dist


def _reach_masks(edges, reach: np.ndarray) -> None:
    """reach[m]: a bit per label that can still fire from ``m`` (fixpoint over the graph)."""
    changed = True
    while changed:
        changed = False
        for k in range(len(edges) - 1, -1, -1):
            mask = int(reach[k])
            for t, lab, _ in edges[k]:
                mask |= int(reach[t]) | ((1 << lab) if lab >= 0 else 0)
            if mask != int(reach[k]):
                reach[k] = np.uint64(mask)
                changed = True


@dataclass
class Alignment:
    cost: int
    fitness: float
    kinds: np.ndarray  #: 0 sync, 1 model, 2 log, 3 silent
    refs: np.ndarray  #: transition index (sync, model, silent) or event position (log)


def align(graph: Graph, sequence: list[str]) -> Alignment:
    """The optimal alignment of one touchpoint sequence, with pm4py's fitness."""
    lid = graph.label_ids
    ids = [lid.get(x, -2) for x in sequence]
    if -2 in ids:  # a label the net never fires: only a log move can take it
        missing = {x for x in sequence if x not in lid}
        raise ParcoursError(f"touchpoints {sorted(missing)} are not in the designed journey")
    trace = np.array(ids, np.int64)
    cost, kinds, refs = align_trace(trace, graph.start, graph.final, graph.indptr, graph.target, graph.label,
                                    graph.trans, graph.dist, graph.reach, graph.all_labels)
    if cost < 0:
        raise ParcoursError("no alignment: the designed journey cannot reach its end")
    den = graph.best_worst + len(sequence)
    fitness = 1 - cost / den if den > 0 else 0.0
    return Alignment(int(cost), float(fitness), kinds, refs)
