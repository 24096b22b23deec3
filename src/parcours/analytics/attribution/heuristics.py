"""Rule-based attribution: each model is a weight per touch that sums to 1 along a path.

A path's conversions and value are split between its touches by those weights and summed per
channel, so every model here credits exactly the conversions and value of the table. Weights
are per touch occurrence (in ``a > a > b`` the linear model gives ``a`` two thirds), as
ChannelAttribution's ``heuristic_models`` does.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import numpy as np
import pandas as pd

from parcours.analytics.attribution.paths import PathTable
from parcours.durations import parse_duration
from parcours.errors import ParcoursError

#: Channels the last-non-direct model looks past (GA's rule: direct visits take no credit
#: from an earlier campaign; a path of direct touches only still credits direct).
DEFAULT_DIRECT = ("direct", "(none)")


def credit(table: PathTable, weights: np.ndarray) -> pd.DataFrame:
    """Split each path's conversions and value by per-touch ``weights`` and sum per channel.

    Columns: ``channel``, ``conversions``, ``value`` (every channel of the table, in its order).
    """
    rows = table.path_index
    n = len(table.channels)
    conv = np.bincount(table.touches, weights * table.conversions[rows], minlength=n)
    val = np.bincount(table.touches, weights * table.value[rows], minlength=n)
    return pd.DataFrame({"channel": table.channels, "conversions": conv, "value": val})


def _positions(table: PathTable) -> tuple[np.ndarray, np.ndarray]:
    """Each touch's 0-based position in its path, and its path's length."""
    lengths = table.lengths
    starts = np.repeat(table.offsets[:-1], lengths)
    return np.arange(len(table.touches)) - starts, np.repeat(lengths, lengths)


def _normalise(table: PathTable, w: np.ndarray) -> np.ndarray:
    sums = np.add.reduceat(w, table.offsets[:-1]) if len(w) else w
    return w / np.repeat(sums, table.lengths)


def first_touch(table: PathTable) -> pd.DataFrame:
    """All credit to the first touch."""
    w = np.zeros(len(table.touches))
    w[table.offsets[:-1]] = 1.0
    return credit(table, w)


def last_touch(table: PathTable) -> pd.DataFrame:
    """All credit to the last touch."""
    w = np.zeros(len(table.touches))
    w[table.offsets[1:] - 1] = 1.0
    return credit(table, w)


def last_non_direct_touch(table: PathTable, direct: Iterable[str] = DEFAULT_DIRECT) -> pd.DataFrame:
    """All credit to the last touch that is not a direct channel; to the last touch when all are."""
    direct_ids = [i for i, c in enumerate(table.channels) if c in set(direct)]
    idx = np.arange(len(table.touches))
    candidate = np.where(np.isin(table.touches, direct_ids), -1, idx)
    last_non_direct = np.maximum.reduceat(candidate, table.offsets[:-1])
    chosen = np.where(last_non_direct >= 0, last_non_direct, table.offsets[1:] - 1)
    w = np.zeros(len(table.touches))
    w[chosen] = 1.0
    return credit(table, w)


def linear(table: PathTable) -> pd.DataFrame:
    """Equal credit to every touch occurrence."""
    return credit(table, 1.0 / np.repeat(table.lengths, table.lengths).astype(float))


def time_decay(table: PathTable, half_life: float | str | timedelta | None = None) -> pd.DataFrame:
    """Credit halves every ``half_life`` back from the conversion: weight ``2 ** (-age / half_life)``,
    normalised per conversion.

    Paths built from the store with a time half-life (``conversion_paths(..., half_life="7d")``)
    carry each touch's age in time, weighed per journey in SQL; their credits are used as they
    are (``half_life`` may be left out, or must be that same duration). A path file holds no
    times, so there the age is counted in touches: the last touch has age 0, the one before it
    age 1, and so on, and ``half_life`` is a number of touches (default 7).
    """
    if table.half_life is not None:
        if half_life is not None and parse_duration(half_life, "`half_life`") != table.half_life:
            raise ParcoursError(
                f"time decay half-life {half_life!r}: these store paths were weighed with a half-life of "
                f"{table.half_life}; build them again with the half-life wanted"
            )
        n = len(table.channels)
        return pd.DataFrame({
            "channel": table.channels,
            "conversions": np.bincount(table.touches, table.decay_conversions, minlength=n),
            "value": np.bincount(table.touches, table.decay_value, minlength=n),
        })
    touches = _touch_count(7.0 if half_life is None else half_life)
    pos, length = _positions(table)
    age = (length - 1 - pos).astype(float)
    return credit(table, _normalise(table, np.exp2(-age / touches)))


def _touch_count(half_life: float | str | timedelta) -> float:
    """A half-life in touches: a positive number; a duration is an error (no times in a path file)."""
    if isinstance(half_life, timedelta):
        number = float("nan")
    else:
        try:
            number = float(half_life)
        except ValueError:
            number = float("nan")
    if not np.isfinite(number):
        raise ParcoursError(
            f"time decay half-life {half_life!r}: a path file has no times, so its half-life is a number of "
            f"touches (e.g. 7); durations such as 7d apply to paths built from the store"
        )
    if number <= 0:
        raise ParcoursError(f"time decay half-life must be a positive number of touches, not {half_life}")
    return number


def position_based(table: PathTable, first: float = 0.4, last: float = 0.4) -> pd.DataFrame:
    """``first`` to the first touch, ``last`` to the last, the rest evenly to the touches between.

    A one-touch path gives it everything; a two-touch path splits in the ratio first:last.
    """
    if not (0 <= first <= 1 and 0 <= last <= 1 and first + last <= 1 + 1e-12):
        raise ParcoursError(
            f"position-based weights first={first}, last={last}: each must be in 0..1 and together at most 1"
        )
    pos, length = _positions(table)
    middle = (1.0 - first - last) / np.maximum(length - 2, 1)
    w = np.where(pos == 0, first, np.where(pos == length - 1, last, middle))
    w = np.where(length == 1, 1.0, w)
    two = length == 2
    if first + last > 0:
        w = np.where(two, np.where(pos == 0, first, last) / (first + last), w)
    else:
        w = np.where(two, 0.5, w)
    return credit(table, w)
