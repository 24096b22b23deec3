"""Results as JSON-friendly values: what the CLI's ``--format json`` and the server's JSON routes print.

Below both (a foundation module), so that the server does not import the CLI.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd


def plain(value: Any) -> Any:
    """A JSON-friendly version of a value (timestamps as ISO text, NaN as null)."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.DataFrame):
        return records(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, list | dict | str):
        try:
            return plain(value.item())
        except (ValueError, AttributeError):
            pass
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "tolist"):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def records(df: pd.DataFrame) -> list[dict]:
    return [{str(k): plain(v) for k, v in row.items()} for row in df.to_dict(orient="records")]
