"""Markov-chain attribution by removal effect, computed exactly.

The journeys become an absorbing Markov chain of states plus ``(start)``, ``(conversion)`` and
``(null)``. Every transition of a path row is counted with the row's journeys (conversions +
nulls); its last state goes to ``(conversion)`` with the conversions and to ``(null)`` with the
nulls. A channel's removal effect is ``1 - P(conversion | removed) / P(conversion)``, and its
attributed conversions are its removal effect's share of the sum of all removal effects, times
the total. Order 1's states are the channels, consecutive repeats collapsed (``a > a > b`` is
``a > b``). Orders 2 and 3 build states by one of two rules (``STATE_RULES``):

- ``channelattribution`` (default), ChannelAttribution 2.2.5's rule: the states of a path are its
  windows of ``order`` consecutive touches, stride 1 (``a > a > b > c`` at order 2 is
  ``a > a``, ``a > b``, ``b > c``); a path shorter than ``order`` is one state of all its touches;
  consecutive identical states are collapsed. Removing a channel sends every state that
  *contains* it to ``(null)``.
- ``prefix``, parcours' earlier rule: repeats collapse first, then a touch's state is the last
  ``order`` channels up to it (fewer near the path's start). Removing a channel sends the states
  that *end* in it to ``(null)``.

ChannelAttribution estimates these probabilities by simulating journeys; here each one is an
absorption probability, the solution of the sparse linear system ``(I - Q) h = r`` (``Q`` the
transient block, ``r`` the one-step conversion probability), so the result is the expectation
the simulation converges to, without sampling noise or a seed. (ChannelAttribution also cuts a
simulated journey after as many steps as the longest path has states, plus one; the chain here
runs to absorption. On its ``Data.csv`` that moves no channel by more than 3e-9 of its credit.)

Value is attributed the same way with the expected conversion value per journey: the one-step
reward of a state is the value of the conversions that leave it, per journey passing through it
(ChannelAttribution draws a converting journey's value from the per-conversion values of the
paths that end in its last state: the same expectation).
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
#: How states of order 2 and 3 are built (the first is the default).
STATE_RULES = ("channelattribution", "prefix")
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


def _prefix_codes(touches: np.ndarray, offsets: np.ndarray, order: int, base: int) -> np.ndarray:
    """An int64 per touch naming the last ``order`` channels up to it (fewer at the path's start)."""
    lengths = np.diff(offsets)
    pos = np.arange(len(touches)) - np.repeat(offsets[:-1], lengths)
    codes = touches.astype(np.int64) + 1
    for i in range(1, order):
        prev = np.zeros(len(touches), dtype=np.int64)
        prev[i:] = touches[:-i].astype(np.int64) + 1
        codes = codes + np.where(pos >= i, prev, 0) * base**i
    return codes


def _window_codes(touches: np.ndarray, offsets: np.ndarray, order: int, base: int) -> tuple[np.ndarray, np.ndarray]:
    """ChannelAttribution's states: an int64 per window of ``order`` consecutive touches (stride 1;
    a path shorter than ``order`` is one window of all its touches), newest touch in the lowest
    digit, with consecutive identical windows of a path merged; and the windows' path offsets."""
    lengths = np.diff(offsets)
    n_windows = np.maximum(lengths - order + 1, np.minimum(lengths, 1))
    win_offsets = np.concatenate([[0], np.cumsum(n_windows)])
    first = np.repeat(offsets[:-1], n_windows) + (
        np.arange(win_offsets[-1]) - np.repeat(win_offsets[:-1], n_windows))
    size = np.repeat(np.minimum(lengths, order), n_windows)
    codes = np.zeros(len(first), dtype=np.int64)
    for i in range(order):
        inside = i < size
        codes[inside] = codes[inside] * base + touches[first[inside] + i].astype(np.int64) + 1
    keep = np.ones(len(codes), dtype=bool)
    keep[1:] = codes[1:] != codes[:-1]
    keep[win_offsets[:-1]] = True
    kept_before = np.concatenate([[0], np.cumsum(keep)])
    return codes[keep], kept_before[win_offsets]


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


def markov(table: PathTable, order: int = 1, states: str = "channelattribution") -> MarkovResult:
    """Exact removal-effect attribution of a path table with a Markov chain of ``order`` 1 to 3.

    ``states`` picks how the higher orders build their states (order 1 is the same under both):
    ``channelattribution`` (default) as ChannelAttribution does, ``prefix`` parcours' earlier
    rule; see the module's docstring.
    """
    import scipy.sparse as sp  # here, not at import: the CLI's start-up should not pay for SciPy

    if order not in range(1, MAX_ORDER + 1):
        raise ParcoursError(f"Markov order {order}: use 1, 2 or 3")
    if states not in STATE_RULES:
        raise ParcoursError(f"Markov states {states!r}: use {' or '.join(STATE_RULES)}")
    n_channels = len(table.channels)
    base = n_channels + 1
    if base**order >= 2**62:
        raise ParcoursError(f"{n_channels} channels are too many for a Markov chain of order {order}")
    if states == "prefix":
        touches, offsets = collapse_repeats(table)
        codes = _prefix_codes(touches, offsets, order, base)
    else:
        codes, offsets = _window_codes(table.touches, table.offsets, order, base)
    state_codes, state_of_touch = _dense_ids(codes, base**order)
    n_states = len(state_codes)
    start, conv, null = n_states, n_states + 1, n_states + 2
    journeys = table.conversions + table.nulls
    lengths = np.diff(offsets)
    firsts, lasts = offsets[:-1], offsets[1:] - 1
    inner = np.ones(len(codes), dtype=bool)
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
    members = _members(state_codes, n_channels, order if states == "channelattribution" else 1, base)
    effects = np.zeros((n_channels, 2))
    for c in range(n_channels):
        removed = np.concatenate([members[:, c], [False]])
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


def _members(codes: np.ndarray, n_channels: int, digits: int, base: int) -> np.ndarray:
    """A state x channel table: which channels a state stands for, from its lowest ``digits``
    digits (the whole window for ChannelAttribution's states, the last channel for ``prefix``)."""
    members = np.zeros((len(codes), n_channels + 1), dtype=bool)
    rows = np.arange(len(codes))
    for i in range(digits):
        members[rows, (codes // base**i) % base] = True
    return members[:, 1:]


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
