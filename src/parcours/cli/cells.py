"""Table cells as people read them: ``21.6 min`` not ``1296.0``, ``50.8%`` not ``0.5083``, ``20,103`` not ``20103``.

Only the table format uses this; CSV and JSON keep the raw values that scripts rely on.
A column's kind comes from its dtype and from how the analyses name their columns
(``*_seconds``, ``*_days``, ``share``, ``*_rate``, ``conversion_*``...).
"""

from __future__ import annotations

import json
import numbers
import re
from collections.abc import Callable
from typing import Any

import pandas as pd

from parcours.jsonable import plain

#: seconds per unit, for the duration columns named after their unit
_UNITS = {"seconds": 1.0, "secs": 1.0, "minutes": 60.0, "hours": 3600.0, "days": 86400.0}
_DURATION = re.compile(r"(?:^|_)(seconds|secs|minutes|hours|days)(?:_|$)")
#: fractions of 1 (shown as percentages when every value is between 0 and 1)
_SHARE = re.compile(r"(?:^|_)(share|rate|probability|conversion|fitness|baseline)(?:_|$)")
#: integers that are labels, not amounts: no thousands separator (2024, not 2,024)
_LABEL_INT = re.compile(r"(?:^|_)(year|id)(?:_|$)")


def duration(seconds: float) -> str:
    """A duration in the largest unit that keeps it above 1: ``42 s``, ``21.6 min``, ``5.2 h``, ``2.7 d``."""
    sign, s = ("-" if seconds < 0 else ""), abs(seconds)
    if s < 60:
        return f"{sign}{s:.1f} s" if s < 10 else f"{sign}{s:.0f} s"
    unit, size = next((u, z) for u, z in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)) if s >= z)
    return f"{sign}{s / size:,.1f} {unit}"


def number(v: float) -> str:
    """A float with as many decimals as its size needs, never in scientific notation above 0.01."""
    a = abs(v)
    if a >= 1000 or (v == int(v) and a < 1e15):
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.1f}"
    if a >= 1 or a == 0:
        return f"{v:.2f}"
    return f"{v:.3f}" if a >= 0.01 else f"{v:.2g}"


def _text(v: Any) -> str:
    v = plain(v)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return number(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, list) and all(isinstance(x, str | int | float) for x in v):
        return ", ".join(str(x) for x in v)
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def _missing(v: Any) -> bool:
    """None, NaN, NaT or pd.NA (the formatters below see one scalar of a typed column at a time)."""
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def formatter(name: str, column: pd.Series) -> Callable[[Any], str]:
    """How to show the values of one column, chosen from its name and dtype."""
    if pd.api.types.is_timedelta64_dtype(column):
        return lambda v: "" if _missing(v) else duration(pd.Timedelta(v).total_seconds())
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    unit = _DURATION.search(name.lower())
    if numeric and unit:
        size = _UNITS[unit.group(1)]
        return lambda v: "" if _missing(v) else duration(float(v) * size)
    values = column.dropna()
    if (numeric and _SHARE.search(name.lower()) and not pd.api.types.is_integer_dtype(column)
            and len(values) and values.between(0, 1).all()):
        return lambda v: "" if _missing(v) else f"{float(v):.1%}"
    if pd.api.types.is_integer_dtype(column) and _LABEL_INT.search(name.lower()):
        return lambda v: "" if _missing(v) else str(v)
    if pd.api.types.is_float_dtype(column):
        return _decimals(values)
    if pd.api.types.is_datetime64_any_dtype(column):
        return lambda v: "" if _missing(v) else pd.Timestamp(v).isoformat(sep=" ")
    return _text


def _decimals(values: pd.Series) -> Callable[[Any], str]:
    """One number of decimals for a whole float column, from its largest value, so the column reads evenly."""
    finite = values[values.abs() < float("inf")].abs()
    if finite.empty or (finite == finite.round()).all():
        places = 0
    else:
        top = finite.max()
        if top < 1:
            return lambda v: "" if _missing(v) else number(float(v))
        places = 0 if top >= 1000 else 1 if top >= 100 else 2
    return lambda v: "" if _missing(v) else f"{float(v):,.{places}f}"


def is_numeric(column: pd.Series) -> bool:
    """Numbers and durations are right-aligned (numbers in an object column too: a rank next to an "(other)" row)."""
    if pd.api.types.is_object_dtype(column):
        values = column.dropna()
        return len(values) > 0 and all(isinstance(v, numbers.Number) and not isinstance(v, bool) for v in values)
    return ((pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column))
            or pd.api.types.is_timedelta64_dtype(column))
