"""Markov-chain attribution by removal effect, computed exactly.

The journeys become an absorbing Markov chain: states are the last ``order`` channels of a path
(consecutive repeats collapsed first, so ``a > a > b`` is ``a > b``), plus ``(start)``,
``(conversion)`` and ``(null)``. Transitions are counted with the journeys that take them
(conversions + nulls), into ``(conversion)`` with the conversions and into ``(null)`` with the
nulls. Removing a channel sends every state that ends in it to ``(null)``; its removal effect is
``1 - P(conversion | removed) / P(conversion)``, and a channel's attributed conversions are its
removal effect's share of the sum of all removal effects, times the total.

ChannelAttribution estimates these probabilities by simulating journeys; here each one is an
absorption probability, the solution of the sparse linear system ``(I - Q) h = r`` (``Q`` the
transient block, ``r`` the one-step conversion probability), so the result is the expectation
the simulation converges to, without sampling noise or a seed.

Value is attributed the same way with the expected conversion value per journey: the one-step
reward of a state is the value of the conversions that leave it, per journey passing through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from parcours.analytics.attribution.paths import PathTable
from parcours.errors import ParcoursError

if TYPE_CHECKING:
    import scipy.sparse as sp

START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"
MAX_ORDER = 3
#: Up to this many possible states / edges, ids come from a dense lookup table (O(n), no sort).
DENSE_STATES = 1 << 22
DENSE_EDGES = 1 << 22


@dataclass(frozen=True)
class MarkovResult:
    """``attribution``: ``channel``, ``conversions``, ``value``, ``removal_effect``,
    ``removal_effect_value``; ``transitions``: ``from``, ``to``, ``probability`` (non-zero only);
    ``conversion_probability``: P(conversion) of a journey; ``value_per_journey``: its expected value."""

    attribution: pd.DataFrame
    transitions: pd.DataFrame
    conversion_probability: float
    value_per_journey: float


def collapse_repeats(table: PathTable) -> tuple[np.ndarray, np.ndarray]:
    """Touches and offsets with consecutive repeats of a channel within a path merged."""
    t = table.touches
    keep = np.ones(len(t), dtype=bool)
    keep[1:] = t[1:] != t[:-1]
    keep[table.offsets[:-1]] = True
    kept_before = np.concatenate([[0], np.cumsum(keep)])
    return t[keep], kept_before[table.offsets]


def _state_codes(touches: np.ndarray, offsets: np.ndarray, order: int, base: int) -> np.ndarray:
    """An int64 per touch naming the last ``order`` channels up to it (fewer at the path's start)."""
    lengths = np.diff(offsets)
    pos = np.arange(len(touches)) - np.repeat(offsets[:-1], lengths)
    codes = touches.astype(np.int64) + 1
    for i in range(1, order):
        prev = np.zeros(len(touches), dtype=np.int64)
        prev[i:] = touches[:-i].astype(np.int64) + 1
        codes = codes + np.where(pos >= i, prev, 0) * base**i
    return codes


def _dense_ids(codes: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct codes and each code's index among them (``np.unique``'s result)."""
    if limit > DENSE_STATES:
        return np.unique(codes, return_inverse=True)
    present = np.bincount(codes, minlength=limit) > 0
    ids = np.cumsum(present) - 1
    return np.flatnonzero(present), ids[codes]


def _absorption(q: sp.csr_matrix, rhs: np.ndarray, start: int) -> np.ndarray:
    """Row ``start`` of ``(I - Q)^-1 rhs``: the expected reward collected before absorption."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    n = q.shape[0]
    system = (sp.identity(n, format="csc") - q.tocsc()).tocsc()
    sol = spla.spsolve(system, rhs)
    sol = sol.reshape(n, -1)
    return sol[start]


def markov(table: PathTable, order: int = 1) -> MarkovResult:
    """Exact removal-effect attribution of a path table with a Markov chain of ``order`` 1 to 3."""
    import scipy.sparse as sp  # here, not at import: the CLI's start-up should not pay for SciPy

    if order not in range(1, MAX_ORDER + 1):
        raise ParcoursError(f"Markov order {order}: use 1, 2 or 3")
    touches, offsets = collapse_repeats(table)
    n_channels = len(table.channels)
    base = n_channels + 1
    if base**order >= 2**62:
        raise ParcoursError(f"{n_channels} channels are too many for a Markov chain of order {order}")
    codes = _state_codes(touches, offsets, order, base)
    state_codes, state_of_touch = _dense_ids(codes, base**order)
    n_states = len(state_codes)
    start, conv, null = n_states, n_states + 1, n_states + 2
    journeys = table.conversions + table.nulls
    lengths = np.diff(offsets)
    firsts, lasts = offsets[:-1], offsets[1:] - 1
    inner = np.ones(len(touches), dtype=bool)
    inner[lasts] = False
    path_of_touch = np.repeat(np.arange(table.n_paths), lengths)
    inner_idx = np.flatnonzero(inner)
    src = np.concatenate([np.full(table.n_paths, start), state_of_touch[inner_idx],
                          state_of_touch[lasts], state_of_touch[lasts]])
    dst = np.concatenate([state_of_touch[firsts], state_of_touch[inner_idx + 1],
                          np.full(table.n_paths, conv), np.full(table.n_paths, null)])
    weight = np.concatenate([journeys, journeys[path_of_touch[inner_idx]], table.conversions, table.nulls])
    size = n_states + 3
    if size * size <= DENSE_EDGES:
        # small graphs (order 1): one bincount instead of a sparse sort of every touch
        dense = np.bincount(src * size + dst, weight, minlength=size * size).reshape(size, size)
        counts = sp.csr_matrix(dense)
    else:
        counts = sp.csr_matrix((weight, (src, dst)), shape=(size, size))
        counts.sum_duplicates()
    counts.eliminate_zeros()
    out = np.asarray(counts.sum(axis=1)).ravel()
    inv = np.divide(1.0, out, out=np.zeros_like(out), where=out > 0)
    probs = sp.diags(inv) @ counts

    transient = n_states + 1  # the states, then (start)
    q = probs[:transient, :transient].tocsr()
    r_conv = probs[:transient, conv].toarray().ravel()
    value_in = np.bincount(state_of_touch[lasts], table.value, minlength=n_states)
    r_value = np.concatenate([value_in * inv[:n_states], [0.0]])
    rhs = np.column_stack([r_conv, r_value])

    base_p, base_v = _absorption(q, rhs, start) if r_conv.any() or r_value.any() else (0.0, 0.0)
    last_channel = (state_codes % base) - 1
    effects = np.zeros((n_channels, 2))
    for c in range(n_channels):
        removed = np.concatenate([last_channel == c, [False]])
        if not removed.any():
            continue
        keep = sp.diags((~removed).astype(float))
        p_c, v_c = _absorption(keep @ q, rhs * (~removed)[:, None], start)
        effects[c] = [1 - p_c / base_p if base_p > 0 else 0.0, 1 - v_c / base_v if base_v > 0 else 0.0]
    effects = np.clip(effects, 0.0, None)  # round-off can leave -1e-16
    totals = np.array([table.conversions.sum(), table.value.sum()])
    sums = effects.sum(axis=0)
    shares = np.divide(effects, sums, out=np.zeros_like(effects), where=sums > 0)
    attribution = pd.DataFrame({
        "channel": table.channels,
        "conversions": shares[:, 0] * totals[0],
        "value": shares[:, 1] * totals[1],
        "removal_effect": effects[:, 0],
        "removal_effect_value": effects[:, 1],
    })
    names = _state_names(state_codes, table.channels, order, base) + [START, CONVERSION, NULL]
    coo = probs.tocoo()
    transitions = pd.DataFrame({
        "from": np.asarray(names, dtype=object)[coo.row],
        "to": np.asarray(names, dtype=object)[coo.col],
        "probability": coo.data,
    })
    transitions = transitions[transitions["probability"] > 0].sort_values(["from", "to"], ignore_index=True)
    return MarkovResult(attribution, transitions, float(base_p), float(base_v))


def _state_names(codes: np.ndarray, channels: list[str], order: int, base: int) -> list[str]:
    """``a`` for order 1; ``a > b`` (older first) for the higher orders."""
    names = []
    for code in codes.tolist():
        parts = []
        for _ in range(order):
            digit = code % base
            code //= base
            if digit:
                parts.append(channels[digit - 1])
        names.append(" > ".join(reversed(parts)))
    return names
