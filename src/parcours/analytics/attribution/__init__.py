"""Multi-touch attribution: which channels, campaigns or touchpoints bring the conversions.

``attribution(source, models)`` runs any of the models on conversion paths taken from the store
(``conversion_paths``), from a path file (``read_paths``) or from a ``PathTable`` and returns
one row per channel and model, side by side. The modules: ``paths`` (building and validating
the paths), ``heuristics`` (rule-based models), ``markov`` (exact removal effect) and
``shapley`` (exact Shapley values).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from parcours.analytics.attribution.heuristics import (
    DEFAULT_DIRECT,
    first_touch,
    last_non_direct_touch,
    last_touch,
    linear,
    position_based,
    time_decay,
)
from parcours.analytics.attribution.markov import STATE_RULES, MarkovResult, markov
from parcours.analytics.attribution.paths import PathTable, check_channels, conversion_paths, read_paths
from parcours.analytics.attribution.shapley import shapley
from parcours.errors import ParcoursError
from parcours.matcher import EventMatcher
from parcours.query.filter import Filter
from parcours.store import Store

#: Every model, in the order the output lists them.
MODELS = (
    "first_touch", "last_touch", "last_non_direct", "linear", "time_decay", "position_based", "markov", "shapley",
)

#: Time-decay half-life of paths built from the store (a path file's is 7 touches).
STORE_HALF_LIFE = "7d"

#: The columns of ``attribution``'s result.
COLUMNS = ["channel", "model", "conversions", "value", "share", "value_share", "removal_effect"]


def paths_of(
    source: Store | PathTable | pd.DataFrame | str | Path,
    *,
    sep: str = ">",
    level: str = "channel",
    conversion: str | dict | EventMatcher | None = None,
    lookback: str | timedelta = "30d",
    filter: Filter | None = None,
    touches: str | dict | EventMatcher | None = None,
    half_life: str | float | timedelta | None = None,
    channels: str | Iterable[str] | None = None,
) -> PathTable:
    """The path table behind ``source``: the store's journeys, a path file, a DataFrame or a table.

    ``half_life`` (a duration) weighs store paths for time decay (see ``conversion_paths``).
    ``channels``: when given, every channel of the paths must be one of them, else an error names
    the first row with another; a comma-separated string, a list, or ``"journey"`` for the
    channels of the store's journey map (with ``level="channel"``; its touchpoint names with
    ``level="touchpoint"``).
    """
    known = None if channels is None else known_channels(source, channels, level)
    if isinstance(source, PathTable):
        table = source
    elif isinstance(source, Store):
        table = conversion_paths(source, level=level, conversion=conversion, lookback=lookback, filter=filter,
                                 touches=touches, half_life=half_life)
    elif isinstance(source, pd.DataFrame):
        table = PathTable.from_frame(source, sep, origin="path table")
    elif isinstance(source, str | Path):
        table = read_paths(source, sep=sep)
    else:
        raise ParcoursError(
            f"attribution source must be a store, a path table, a DataFrame or a file, not {type(source).__name__}"
        )
    return table if known is None else check_channels(table, known)


def known_channels(source: object, channels: str | Iterable[str], level: str = "channel") -> list[str]:
    """The channel list ``channels`` stands for: ``"journey"`` (the store's journey map), a
    comma-separated string or a list of names."""
    if isinstance(channels, str) and channels.strip() == "journey":
        if not isinstance(source, Store):
            raise ParcoursError("`channels` journey: only paths built from the store have a journey map; "
                                "list the known channels instead (e.g. `channels` 'ads,email,search')")
        if level == "channel":
            return sorted({t.channel for t in source.config.touchpoints})
        if level == "touchpoint":
            return [t.name for t in source.config.touchpoints]
        raise ParcoursError(f"`channels` journey: the journey map lists no {level}s; list the known ones instead")
    names = [c.strip() for c in (channels.split(",") if isinstance(channels, str) else channels)]
    if not any(names):
        raise ParcoursError("`channels`: the list of known channels is empty")
    return [n for n in names if n]


def attribution(
    store: Store,
    models: str | Sequence[str] = MODELS,
    *,
    order: int = 1,
    states: str = "channelattribution",
    half_life: float | str | timedelta | None = None,
    first: float = 0.4,
    last: float = 0.4,
    direct: Iterable[str] = DEFAULT_DIRECT,
    level: str = "channel",
    conversion: str | dict | EventMatcher | None = None,
    lookback: str | timedelta = "30d",
    touches: str | dict | EventMatcher | None = None,
    channels: str | Iterable[str] | None = None,
    filter: Filter | None = None,
) -> pd.DataFrame:
    """Attributed conversions and value per channel of the store's conversion paths (see
    ``attribute_paths`` for the columns and the models' options). ``level``, ``conversion``,
    ``lookback``, ``touches`` and ``filter``: how paths are built (see ``conversion_paths``);
    ``half_life`` is a duration (``7d``, ``12h``, a bare number is seconds; default ``7d``), the
    age of a touch being the time from it to its conversion."""
    if not isinstance(store, Store):
        raise ParcoursError(
            f"attribution: takes a store, not {type(store).__name__}; for a path file, DataFrame or "
            "path table use attribute_paths"
        )
    return _attribute(store, models, order=order, states=states, half_life=half_life, first=first, last=last, direct=direct,
                      level=level, conversion=conversion, lookback=lookback, filter=filter, touches=touches,
                      channels=channels)


def attribute_paths(
    paths: PathTable | pd.DataFrame | str | Path,
    models: str | Sequence[str] = MODELS,
    *,
    order: int = 1,
    states: str = "channelattribution",
    half_life: float | None = None,
    first: float = 0.4,
    last: float = 0.4,
    direct: Iterable[str] = DEFAULT_DIRECT,
    sep: str = ">",
    channels: str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """``attribution`` of given conversion paths: a path file (the ChannelAttribution layout),
    a DataFrame of it or a ``PathTable``, which hold no times, so ``half_life`` is a number of
    touches (default 7). ``sep`` is the path separator of a file or DataFrame."""
    if isinstance(paths, Store):
        raise ParcoursError("attribute_paths: takes conversion paths; for a store use attribution")
    return _attribute(paths, models, order=order, states=states, half_life=half_life, first=first, last=last, direct=direct,
                      sep=sep, channels=channels)


def _attribute(
    source: Store | PathTable | pd.DataFrame | str | Path,
    models: str | Sequence[str] = MODELS,
    *,
    order: int = 1,
    states: str = "channelattribution",
    half_life: float | str | timedelta | None = None,
    first: float = 0.4,
    last: float = 0.4,
    direct: Iterable[str] = DEFAULT_DIRECT,
    sep: str = ">",
    level: str = "channel",
    conversion: str | dict | EventMatcher | None = None,
    lookback: str | timedelta = "30d",
    filter: Filter | None = None,
    touches: str | dict | EventMatcher | None = None,
    channels: str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """Attributed conversions and value per channel for each of ``models``.

    Columns: ``channel`` (or campaign / touchpoint, after ``level``), ``model``, ``conversions``,
    ``value`` (attributed), ``share`` and ``value_share`` (of the total, 0..1) and
    ``removal_effect`` (Markov only, else NaN). Rows: model by model in ``MODELS`` order,
    channels by attributed conversions, largest first. Every model credits exactly the total
    conversions and value of the paths (Markov: unless no channel has a removal effect).

    ``order`` is the Markov order (1-3) and ``states`` how its states of order 2-3 are built
    (``channelattribution``, the default, or ``prefix``; see ``markov``). ``half_life`` is the time-decay half-life: on a store, a
    duration (``7d``, ``12h``, a bare number is seconds; default ``7d``), the age of a touch being the
    time from it to its conversion; on a path file, DataFrame or path table, which hold no times, a
    number of touches (default 7). ``first``/``last`` are the position-based weights; ``direct``
    the channels last-non-direct skips. ``channels``: the known channels, checked (see
    ``paths_of``). ``sep``: the path separator of a file or DataFrame; ``level``, ``conversion``,
    ``lookback``, ``filter``, ``touches``: how paths are built from a store (see ``conversion_paths``).
    """
    chosen = [models] if isinstance(models, str) else list(models)
    if states not in STATE_RULES:
        raise ParcoursError(f"Markov states {states!r}: use {' or '.join(STATE_RULES)}")
    unknown = [m for m in chosen if m not in MODELS]
    if unknown or not chosen:
        raise ParcoursError(f"unknown attribution model(s) {', '.join(unknown) or '(none given)'}: use {', '.join(MODELS)}")
    decay_in_time = isinstance(source, Store) and "time_decay" in chosen
    store_half_life = (STORE_HALF_LIFE if half_life is None else half_life) if decay_in_time else None
    table = paths_of(source, sep=sep, level=level, conversion=conversion, lookback=lookback, filter=filter, touches=touches,
                     half_life=store_half_life, channels=channels)
    runners: dict[str, Callable[[PathTable], pd.DataFrame]] = {
        "first_touch": first_touch,
        "last_touch": last_touch,
        "last_non_direct": lambda t: last_non_direct_touch(t, direct),
        "linear": linear,
        "time_decay": lambda t: time_decay(t, None if decay_in_time else half_life),
        "position_based": lambda t: position_based(t, first, last),
        "markov": lambda t: markov(t, order, states).attribution,
        "shapley": shapley,
    }
    total_conv, total_value = table.conversions.sum(), table.value.sum()
    frames = []
    for name in (m for m in MODELS if m in chosen):
        df = runners[name](table)
        df.insert(1, "model", name)
        df["share"] = df["conversions"] / total_conv if total_conv > 0 else 0.0
        df["value_share"] = df["value"] / total_value if total_value > 0 else 0.0
        if "removal_effect" not in df:
            df["removal_effect"] = np.nan
        frames.append(df[COLUMNS].sort_values(["conversions", "channel"], ascending=[False, True]))
    return pd.concat(frames, ignore_index=True)


def side_by_side(result: pd.DataFrame, measure: str = "conversions") -> pd.DataFrame:
    """``attribution``'s rows as one row per channel and one column per model (of ``measure``)."""
    wide = result.pivot(index="channel", columns="model", values=measure)
    wide = wide[[m for m in MODELS if m in wide.columns]]
    return wide.sort_values(list(wide.columns), ascending=False).reset_index().rename_axis(columns=None)


__all__ = [
    "COLUMNS", "MODELS", "STATE_RULES", "STORE_HALF_LIFE", "MarkovResult", "PathTable", "attribute_paths", "attribution",
    "check_channels",
    "conversion_paths", "first_touch", "known_channels", "last_non_direct_touch", "last_touch", "linear", "markov",
    "paths_of", "position_based", "read_paths", "shapley", "side_by_side", "time_decay",
]
