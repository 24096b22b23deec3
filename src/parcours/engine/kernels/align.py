"""Optimal alignments of a sequence against a Petri net's reachability graph, compiled with Numba.

The net is given as its reachability graph (``parcours.analytics.conformance.align`` builds
it): states, and per state a CSR list of edges with their target and label (-1: silent).
An alignment is a path in the product of that graph with the trace positions, from
``(initial, 0)`` to ``(final, n)``: a synchronous move (edge label = the event) costs 0, a
silent move 0, a log move (skip the event) 1, a visible model move 1 (pm4py's standard costs).
The search is A* with an admissible heuristic: from marking ``m`` at position ``i`` at least
``U + max(0, dist[m] - (n - i - U))`` more moves cost, where ``dist[m]`` is the fewest visible
transitions from ``m`` to the final marking and ``U`` counts the remaining events whose label
can no longer fire from ``m`` (``reach[m]``, a bit per label). States are reopened when reached
cheaper, so the first time the goal leaves the queue its cost is optimal.

Moves out: kind 0 synchronous, 1 model (visible), 2 log, 3 silent; ``ref`` is the edge's
transition for kinds 0, 1, 3 and the event position for kind 2.
"""

from __future__ import annotations

import numpy as np
from numba import njit

SYNC, MODEL, LOG, SILENT = 0, 1, 2, 3


@njit(cache=True)
def _h(m, i, trace, dist, reach, all_labels):
    n = trace.shape[0]
    u = 0
    if not all_labels:
        r = reach[m]
        for j in range(i, n):
            if (r >> np.uint64(trace[j])) & np.uint64(1) == 0:
                u += 1
    rest = dist[m] - (n - i - u)
    return u + (rest if rest > 0 else 0)


@njit(cache=True)
def _push(keys, vals, size, key, val):
    j = size
    keys[j] = key
    vals[j] = val
    while j > 0:
        p = (j - 1) >> 1
        if keys[p] <= keys[j]:
            break
        keys[p], keys[j] = keys[j], keys[p]
        vals[p], vals[j] = vals[j], vals[p]
        j = p
    return size + 1


@njit(cache=True)
def _pop(keys, vals, size):
    key, val = keys[0], vals[0]
    size -= 1
    keys[0], vals[0] = keys[size], vals[size]
    j = 0
    while True:
        a, b, s = 2 * j + 1, 2 * j + 2, j
        if a < size and keys[a] < keys[s]:
            s = a
        if b < size and keys[b] < keys[s]:
            s = b
        if s == j:
            break
        keys[s], keys[j] = keys[j], keys[s]
        vals[s], vals[j] = vals[j], vals[s]
        j = s
    return key, val, size


@njit(cache=True)
def align_trace(trace, start, final, indptr, target, label, trans, dist, reach, all_labels):
    """Optimal cost of ``trace`` (label ids) and its moves ``(kinds, refs)``; cost -1 if none exists."""
    n = trace.shape[0]
    states = (indptr.shape[0] - 1) * (n + 1)
    big = np.int64(1) << 60
    g = np.full(states, big, np.int64)
    parent = np.full(states, -1, np.int64)
    pkind = np.zeros(states, np.int8)
    pref = np.zeros(states, np.int64)
    cap = 1024
    keys = np.empty(cap, np.int64)
    vals = np.empty(cap, np.int64)
    size = 0
    s0 = start * (n + 1)
    g[s0] = 0
    size = _push(keys, vals, size, _h(start, 0, trace, dist, reach, all_labels) * (n + 2) + n, s0)
    goal = final * (n + 1) + n
    found = False
    while size > 0:
        key, s, size = _pop(keys, vals, size)
        m, i = s // (n + 1), s % (n + 1)
        f = g[s] + _h(m, i, trace, dist, reach, all_labels)
        if key != f * (n + 2) + (n - i):
            continue  # stale: reached cheaper since this entry was pushed
        if s == goal:
            found = True
            break
        gs = g[s]
        for e in range(indptr[m], indptr[m + 1]):
            t, lab = target[e], label[e]
            for move in range(2):
                if move == 0:
                    if lab < 0:
                        ns, c, kind = t * (n + 1) + i, 0, SILENT
                    else:
                        ns, c, kind = t * (n + 1) + i, 1, MODEL
                else:
                    if lab < 0 or i >= n or trace[i] != lab:
                        continue
                    ns, c, kind = t * (n + 1) + i + 1, 0, SYNC
                if gs + c < g[ns]:
                    g[ns] = gs + c
                    parent[ns], pkind[ns], pref[ns] = s, kind, trans[e]
                    ni = ns % (n + 1)
                    if size == cap:
                        cap *= 2
                        keys2 = np.empty(cap, np.int64)
                        vals2 = np.empty(cap, np.int64)
                        keys2[:size] = keys[:size]
                        vals2[:size] = vals[:size]
                        keys, vals = keys2, vals2
                    nk = (g[ns] + _h(t, ni, trace, dist, reach, all_labels)) * (n + 2) + (n - ni)
                    size = _push(keys, vals, size, nk, ns)
        if i < n:  # log move
            ns = s + 1
            if gs + 1 < g[ns]:
                g[ns] = gs + 1
                parent[ns], pkind[ns], pref[ns] = s, LOG, i
                if size == cap:
                    cap *= 2
                    keys2 = np.empty(cap, np.int64)
                    vals2 = np.empty(cap, np.int64)
                    keys2[:size] = keys[:size]
                    vals2[:size] = vals[:size]
                    keys, vals = keys2, vals2
                size = _push(keys, vals, size, (g[ns] + _h(m, i + 1, trace, dist, reach, all_labels)) * (n + 2)
                             + (n - i - 1), ns)
    if not found:
        return -1, np.empty(0, np.int8), np.empty(0, np.int64)
    count = 0
    s = goal
    while s != s0:
        count += 1
        s = parent[s]
    kinds = np.empty(count, np.int8)
    refs = np.empty(count, np.int64)
    s = goal
    for k in range(count - 1, -1, -1):
        kinds[k], refs[k] = pkind[s], pref[s]
        s = parent[s]
    return g[goal], kinds, refs
