"""Funnel state machines, one per peer semantics, compiled with Numba.

Input per batch (whole groups only, sorted by group key, then time; the kernels order the
events of one timestamp by step index themselves):

- ``starts``: int64 offsets of the groups, ``len = groups + 1``;
- ``ts``: int64 event times in microseconds;
- ``mask``: int64 bitmask of the steps an event matches (bit ``k-1`` for step ``k``);
- ``xmask``: int64 bitmask of the exclusions an event matches (PostHog only).

Output per group: ``level`` (deepest step reached, 0 if none), ``excluded`` (PostHog:
the best path was tainted by an exclusion, so the subject leaves the funnel),
``conversions`` (completed funnels when repeat conversions are counted, else 0/1),
``step_ts[g, i]`` (time of step ``i+1`` on the best path, -1 if not on it) and
``step_row[g, i]`` (the row that filled it). The rules are spelled out in
``docs/funnels.md`` and ``../shared/cases/funnels/README.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

#: the longest window a kernel accepts, so that ``start + window`` never overflows int64
MAX_WINDOW_US = 1 << 62


@dataclass
class FunnelKernelResult:
    """Per-group outputs of a funnel kernel (numpy arrays, one row per group)."""

    level: np.ndarray
    excluded: np.ndarray
    conversions: np.ndarray
    step_ts: np.ndarray
    step_row: np.ndarray


def group_starts(keys: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Offsets where a new group begins in a key column sorted by group, plus the end."""
    n = len(keys)
    if n == 0:
        return np.zeros(1, dtype=np.int64)
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    change = pc.not_equal(keys.slice(1), keys.slice(0, n - 1)).to_numpy(zero_copy_only=False)
    return np.concatenate(([0], np.flatnonzero(change) + 1, [n])).astype(np.int64)


# ---------------------------------------------------------------- shared base

@njit(cache=True, inline="always")
def _results(groups, n):
    """Every kernel's per-group output: level, excluded, conversions, step times and rows (-1: none)."""
    return (np.zeros(groups, np.int32), np.zeros(groups, np.bool_), np.zeros(groups, np.int32),
            np.full((groups, n), -1, np.int64), np.full((groups, n), -1, np.int64))


@njit(cache=True, inline="always")
def _has(bits, k):
    """Whether bit ``k`` (0-based) is set."""
    return (bits >> k) & 1 == 1


@njit(cache=True, inline="always")
def _copy_path(src, dst, tim, rows, last, start):
    """Level ``dst`` takes over the path of level ``src`` (times, rows, start, last time)."""
    tim[dst, :] = tim[src, :]
    rows[dst, :] = rows[src, :]
    start[dst] = start[src]
    last[dst] = last[src]


@njit(cache=True, inline="always")
def _start_path(t, e, start, last, tim, rows):
    """Level 1 starts a new path at event ``e`` (time ``t``)."""
    start[1] = t
    last[1] = t
    tim[1, :] = -1
    rows[1, :] = -1
    tim[1, 0] = t
    rows[1, 0] = e


@njit(cache=True, inline="always")
def _row_used(rows, level, e):
    """Whether row ``e`` is already on the path of ``level`` (a loop: Numba has no generators here)."""
    used = False
    for i in range(rows.shape[1]):
        used |= rows[level, i] == e
    return used


@njit(cache=True, inline="always")
def _keep_best(level, excluded, start, tim, rows, best, best_tim, best_rows):
    """Record a path as the subject's best: deeper wins; a clean one replaces a tainted equal."""
    if level > best[0] or (level == best[0] and best[1] == 1 and not excluded):
        best[0] = level
        best[1] = 1 if excluded else 0
        best[2] = start[level]
        best_tim[:] = tim[level, :]
        best_rows[:] = rows[level, :]


# ---------------------------------------------------------------- PostHog ordered / strict

@njit(cache=True, inline="always")
def _ph_advance(k, e, multi, ts, n, window, start, excl, last, tim, rows,
                min_gap, max_gap, optional, best, best_tim, best_rows):
    """Try to move a path to step ``k`` (1-based) with event ``e``; one event, one step."""
    t = ts[e]
    if k == 1:
        if start[1] == t:  # a path already started at this very time
            return
        excl[1] = False
        _start_path(t, e, start, last, tim, rows)
        _keep_best(1, False, start, tim, rows, best, best_tim, best_rows)
        return
    p = k - 1
    while p > 1 and start[p] < 0 and optional[p - 1]:
        p -= 1  # an optional step with no path: continue from the level before it
    if start[p] < 0:
        return
    if t - start[p] > window:
        return
    if start[k] >= 0 and start[k] == start[p]:  # this path already reached step k
        return
    gap = t - last[p]
    if min_gap[k - 1] >= 0 and gap < min_gap[k - 1]:
        return
    if max_gap[k - 1] >= 0 and gap > max_gap[k - 1]:
        return
    if multi and _row_used(rows, p, e):
        return
    if excl[p]:
        # PostHog's funnel-udf: a tainted path does not take the step, but it still counts as
        # the subject's deepest path, so a deeper tainted path drops the subject even when a
        # shallower clean path exists
        if k > best[0] or (best[1] == 1 and k == best[0]):
            best[0] = k
            best[1] = 1
            best[2] = start[p]
            best_tim[:] = tim[p, :]
            best_rows[:] = rows[p, :]
            best_tim[k - 1] = t
            best_rows[k - 1] = e
        return
    _copy_path(p, k, tim, rows, last, start)
    excl[k] = False
    tim[k, k - 1] = t
    rows[k, k - 1] = e
    last[k] = t
    _keep_best(k, False, start, tim, rows, best, best_tim, best_rows)


@njit(cache=True, inline="always")
def _ph_exclude(e, ts, n, window, xmask, x_from, x_to, start, excl, best):
    """Taint the paths an exclusion event falls into (completed ``from``, not yet ``to``)."""
    t = ts[e]
    for x in range(x_from.shape[0]):
        if not _has(xmask[e], x):
            continue
        for lv in range(x_from[x] + 1, x_to[x] + 1):
            if start[lv] < 0 or excl[lv]:
                continue
            if lv < n and start[lv + 1] == start[lv]:  # that path has moved on
                continue
            if t - start[lv] > window:
                continue
            excl[lv] = True
            if best[0] == lv and t - best[2] <= window:
                best[1] = 1


@njit(cache=True, nogil=True)
def posthog_ordered(starts, ts, mask, xmask, n, window, strict, x_from, x_to,
                    min_gap, max_gap, optional, repeat):
    """PostHog's ordered (``strict=False``) and strict funnels, plus optional steps, gaps, repeats."""
    groups = starts.shape[0] - 1
    level, excluded, conversions, step_ts, step_row = _results(groups, n)
    start = np.empty(n + 1, np.int64)
    last = np.empty(n + 1, np.int64)
    excl = np.zeros(n + 1, np.bool_)
    tim = np.empty((n + 1, n), np.int64)
    rows = np.empty((n + 1, n), np.int64)
    best = np.empty(3, np.int64)  # level, excluded, start
    best_tim = np.empty(n, np.int64)
    best_rows = np.empty(n, np.int64)
    for g in range(groups):
        lo, hi = starts[g], starts[g + 1]
        start[:] = -1
        last[:] = -1
        excl[:] = False
        best[0] = 0
        best[1] = 0
        best[2] = -1
        best_tim[:] = -1
        best_rows[:] = -1
        conv = 0
        i = lo
        done = False
        while i < hi and not done:
            j = i + 1
            while j < hi and ts[j] == ts[i]:
                j += 1
            multi = False
            for e in range(i + 1, j):
                if mask[e] != mask[i] or xmask[e] != xmask[i]:
                    multi = True
                    break
            if not multi:
                for e in range(i, j):
                    if xmask[e] != 0:
                        _ph_exclude(e, ts, n, window, xmask, x_from, x_to, start, excl, best)
                    for k in range(n, 0, -1):
                        if _has(mask[e], k - 1):
                            _ph_advance(k, e, False, ts, n, window, start, excl, last, tim, rows,
                                        min_gap, max_gap, optional, best, best_tim, best_rows)
                    if strict:
                        for k in range(1, n + 1):
                            if not _has(mask[e], k - 1):
                                start[k] = -1
                    if start[n] >= 0:
                        if not excl[n]:
                            conv += 1
                        if not repeat:
                            done = True
                            break
                        start[:] = -1
            else:
                # different events at one time: (event, step) pairs in step order,
                # same-time exclusions ignored, an event used once per path
                run_bits = 0
                for k in range(1, n + 1):
                    for e in range(i, j):
                        if _has(mask[e], k - 1):
                            run_bits |= 1 << (k - 1)
                            _ph_advance(k, e, True, ts, n, window, start, excl, last, tim, rows,
                                        min_gap, max_gap, optional, best, best_tim, best_rows)
                if strict:
                    for k in range(1, n + 1):
                        if not _has(run_bits, k - 1):
                            start[k] = -1
                if start[n] >= 0:
                    if not excl[n]:
                        conv += 1
                    if not repeat:
                        done = True
                    start[:] = -1
            i = j
        level[g] = best[0]
        excluded[g] = best[1] == 1
        conversions[g] = conv
        step_ts[g, :] = best_tim
        step_row[g, :] = best_rows
    return level, excluded, conversions, step_ts, step_row


# ---------------------------------------------------------------- PostHog unordered

@njit(cache=True, nogil=True)
def posthog_unordered(starts, ts, mask, xmask, n, window):
    """Most distinct steps done, in any order, within one window, after the last exclusion."""
    groups = starts.shape[0] - 1
    level, excluded, conversions, step_ts, step_row = _results(groups, n)
    head = np.zeros(n, np.int64)
    tail = np.zeros(n, np.int64)
    fronts = np.empty(n, np.int64)
    for g in range(groups):
        lo, hi = starts[g], starts[g + 1]
        size = hi - lo
        q = np.empty((n, size), np.int64)  # per step, the times it was done (a queue)
        qr = np.empty((n, size), np.int64)
        head[:] = 0
        tail[:] = 0
        best = 0
        for e in range(lo, hi):
            t = ts[e]
            if xmask[e] != 0:
                # the peer discards every step done before an exclusion, the best so far too
                head[:] = tail[:]
                best = 0
                step_ts[g, :] = -1
            if mask[e] == 0:
                continue
            for k in range(n):
                if _has(mask[e], k):
                    q[k, tail[k]] = t
                    qr[k, tail[k]] = e
                    tail[k] += 1
            cnt = 0
            for k in range(n):
                while head[k] < tail[k] and t - q[k, head[k]] > window:
                    head[k] += 1
                if head[k] < tail[k]:
                    fronts[cnt] = q[k, head[k]]
                    cnt += 1
            if cnt > best:
                best = cnt
                step_ts[g, :cnt] = np.sort(fronts[:cnt])
            if best == n:
                break
        level[g] = best
        conversions[g] = 1 if best == n else 0
    return level, excluded, conversions, step_ts, step_row


# ---------------------------------------------------------------- ClickHouse windowFunnel

@njit(cache=True, inline="always")
def _best_chain(level, e, t, window, strict_increase, c_level, c_start, c_last, c_rows, n_chains):
    """The chain at ``level`` that ``e`` may extend (not using ``e`` yet), latest start first."""
    best = -1
    for c in range(n_chains[0]):
        if c_level[c] != level or t - c_start[c] > window:
            continue
        if strict_increase and not c_last[c] < t:
            continue
        if _row_used(c_rows, c, e):
            continue
        if best < 0 or c_start[c] > c_start[best]:
            best = c
    return best


@njit(cache=True, inline="always")
def _add_chain(level, parent, e, t, c_level, c_start, c_last, c_rows, c_tim, n_chains):
    m = n_chains[0]
    if parent < 0:
        c_start[m] = t
        c_rows[m, :] = -1
        c_tim[m, :] = -1
    else:
        c_start[m] = c_start[parent]
        c_rows[m, :] = c_rows[parent, :]
        c_tim[m, :] = c_tim[parent, :]
    c_level[m] = level
    c_last[m] = t
    c_rows[m, level - 1] = e
    c_tim[m, level - 1] = t
    n_chains[0] = m + 1


@njit(cache=True, nogil=True)
def clickhouse_window_funnel(starts, ts, mask, n, window, strict_dedup, strict_order,
                             strict_increase, strict_once, allow_reentry):
    """ClickHouse ``windowFunnel(window, modes...)``: entries (ts, k) sorted by (ts, k)."""
    groups = starts.shape[0] - 1
    level, excluded, conversions, step_ts, step_row = _results(groups, n)
    start = np.empty(n + 1, np.int64)
    last = np.empty(n + 1, np.int64)
    tim = np.empty((n + 1, n), np.int64)
    rows = np.empty((n + 1, n), np.int64)
    for g in range(groups):
        lo, hi = starts[g], starts[g + 1]
        start[:] = -1
        last[:] = -1
        started = False
        size = (hi - lo) * n if strict_once else 0
        c_level = np.empty(size, np.int64)
        c_start = np.empty(size, np.int64)
        c_last = np.empty(size, np.int64)
        c_rows = np.empty((size, n), np.int64)
        c_tim = np.empty((size, n), np.int64)
        n_chains = np.zeros(1, np.int64)
        stop = False
        i = lo
        while i < hi and not stop:
            j = i + 1
            while j < hi and ts[j] == ts[i]:
                j += 1
            t = ts[i]
            if strict_order:
                for e in range(i, j):
                    if mask[e] == 0 and started:
                        stop = True
                        break
            for k in range(1, n + 1):
                if stop:
                    break
                for e in range(i, j):
                    if not _has(mask[e], k - 1):
                        continue
                    if k == 1:
                        _start_path(t, e, start, last, tim, rows)
                        started = True
                        if strict_once:
                            _add_chain(1, -1, e, t, c_level, c_start, c_last, c_rows, c_tim, n_chains)
                        if n == 1:
                            stop = True
                            break
                    elif strict_dedup and start[k] >= 0:
                        stop = True
                        break
                    elif strict_order and started and start[k - 1] < 0:
                        if allow_reentry:
                            continue
                        stop = True
                        break
                    elif strict_once:
                        # a row is used once per chain: every candidate chain is kept
                        c = _best_chain(k - 1, e, t, window, strict_increase, c_level, c_start,
                                        c_last, c_rows, n_chains)
                        if c < 0:
                            continue
                        _add_chain(k, c, e, t, c_level, c_start, c_last, c_rows, c_tim, n_chains)
                        start[k] = c_start[c]
                        last[k] = t
                        tim[k, :] = c_tim[n_chains[0] - 1, :]
                        rows[k, :] = c_rows[n_chains[0] - 1, :]
                        if k == n:
                            stop = True
                            break
                    elif start[k - 1] >= 0:
                        if t - start[k - 1] > window:
                            continue
                        if strict_increase and not last[k - 1] < t:
                            continue
                        if strict_once and _row_used(rows, k - 1, e):
                            continue
                        _copy_path(k - 1, k, tim, rows, last, start)
                        last[k] = t
                        tim[k, k - 1] = t
                        rows[k, k - 1] = e
                        if k == n:
                            stop = True
                            break
            i = j
        lv = 0
        for k in range(n, 0, -1):
            if start[k] >= 0:
                lv = k
                break
        level[g] = lv
        conversions[g] = 1 if lv == n else 0
        if lv > 0:
            step_ts[g, :] = tim[lv, :]
            step_row[g, :] = rows[lv, :]
    return level, excluded, conversions, step_ts, step_row


# ---------------------------------------------------------------- entries, for trends

@njit(cache=True, nogil=True)
def trends_entries(starts, ts, mask, xmask, n, window, x_from, x_to):
    """Every funnel entry (a step-1 event) and the level its own path reaches in the window.

    Returns ``(group, entry_ts, level, excluded, full)`` per entry; a subject can enter in
    several periods. An entry is excluded when an exclusion event comes, within its window and
    later than the path's latest step, after the path did step ``x_from`` and before step
    ``x_to`` (0-based), as a PostHog trends row with ``exclusion = 1``. It is ``full``y excluded
    when its tainted path then meets its next step within the window (PostHog funnel-udf's
    ``Exclusion::Full``): the subject's entries that did not convert then count nowhere.
    """
    total = 0
    for e in range(ts.shape[0]):
        if _has(mask[e], 0):
            total += 1
    out_g = np.empty(total, np.int64)
    out_t = np.empty(total, np.int64)
    out_l = np.empty(total, np.int32)
    out_x = np.zeros(total, np.bool_)
    out_f = np.zeros(total, np.bool_)
    m = 0
    for g in range(starts.shape[0] - 1):
        lo, hi = starts[g], starts[g + 1]
        for s in range(lo, hi):
            if not _has(mask[s], 0):
                continue
            lv = 1
            at = ts[s]
            for e in range(s + 1, hi):
                if lv == n or ts[e] - ts[s] > window:
                    break
                if xmask[e] != 0 and ts[e] > at and not out_x[m]:
                    for x in range(x_from.shape[0]):
                        if _has(xmask[e], x) and x_from[x] < lv <= x_to[x]:
                            out_x[m] = True
                if _has(mask[e], lv):
                    if out_x[m]:
                        out_f[m] = True  # the tainted path goes on to its next step
                        break
                    lv += 1
                    at = ts[e]
            out_g[m] = g
            out_t[m] = ts[s]
            out_l[m] = lv
            m += 1
    return out_g, out_t, out_l, out_x, out_f
