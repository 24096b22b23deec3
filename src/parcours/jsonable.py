"""Results as JSON-friendly values: what the CLI's ``--format json`` and the server's JSON routes print.

Below both (a foundation module), so that the server does not import the CLI.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def plain(value: Any) -> Any:
    """A JSON-friendly version of a value (timestamps as ISO text, NaN as null).

    pandas' own values (NaT, NA, DataFrames) are looked for only when pandas is loaded: a
    value cannot be one before, and importing pandas for a command that prints plain rows
    would cost it half a second (``parcours.cli.output.Rows``).
    """
    pd = sys.modules.get("pandas")
    if value is None or (pd is not None and value is pd.NaT):
        return None
    if pd is not None and isinstance(value, pd.DataFrame):
        return records(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat"):  # datetime, date, pandas' Timestamp
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
    if pd is not None:
        try:
            if pd.isna(value):
                return None
        except (TypeError, ValueError):
            pass
    return value


def records(df: pd.DataFrame) -> list[dict]:
    return [{str(k): plain(v) for k, v in row.items()} for row in df.to_dict(orient="records")]
