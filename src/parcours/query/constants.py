"""Python values as constant nodes of a query tree (what a bound value becomes).

Strings, numbers, booleans, None, timestamps and dates; a timestamp with a time zone is
converted to UTC and written as the store keeps times (UTC wall time, no zone).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlglot import exp


def _timestamp(value: datetime) -> exp.Expression:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), exp.DataType.build("TIMESTAMP"))


def literal(value: object) -> exp.Expression:
    """The constant node for ``value``; ``TypeError`` for a value SQL has no constant for."""
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, int | Decimal):
        return exp.Literal.number(str(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"no SQL constant for the float {value!r}")
        return exp.Literal.number(repr(value))
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, datetime):
        return _timestamp(value)
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("DATE"))
    raise TypeError(f"no SQL constant for {type(value).__name__} {value!r}")
