"""The one duration parser: ``30s``, ``90m``, ``12h``, ``7d``, ``2w``, or a bare number of seconds.

Every option that takes a duration (a funnel's conversion window, attribution's lookback
and half-life) reads it here, so that a bare number means the same thing everywhere:
seconds, as a Python ``int``/``float`` does and as PostHog's conversion window does.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

from parcours.errors import ParcoursError

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
#: the longest duration taken (100 years): anything longer is a typo, and timedelta overflows soon after
MAX_SECONDS = 100 * 365 * 86400
_DURATION_RE = re.compile(r"^\s*(-?(?:\d+(?:\.\d+)?|\.\d+))\s*([smhdw]?)\s*$", re.IGNORECASE)


def parse_duration(value: str | int | float | timedelta, what: str = "duration") -> timedelta:
    """``value`` as a positive timedelta; ``what`` names the parameter in errors."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION_RE.match(value)):
        seconds = float(m.group(1)) * UNITS[(m.group(2) or "s").lower()]
    else:
        raise ParcoursError(
            f"{what} {value!r}: not a duration; write a number and a unit, like 3600s, 30m, 12h, 7d or 2w "
            "(a bare number is seconds)"
        )
    if not math.isfinite(seconds) or seconds <= 0:
        raise ParcoursError(f"{what} {value!r}: must be positive (longer than zero)")
    if seconds > MAX_SECONDS:
        raise ParcoursError(f"{what} {value!r}: too long; at most {MAX_SECONDS // (365 * 86400)} years")
    return timedelta(seconds=seconds)


def duration_seconds(value: str | int | float | timedelta, what: str = "duration") -> float:
    """``parse_duration`` in seconds."""
    return parse_duration(value, what).total_seconds()
