"""The small demo store the dashboard and report tests share (built once per test session).

3000 demo customers, a saved rule segment (``ads_customers``) for the filter bar and the
follow-ups of low survey answers, so every page has something to show.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import parcours
from parcours.analytics.voc import create_followups

CUSTOMERS = 3000
SEED = 11
SEGMENT = "ads_customers"


def demo_store_path(base: Path) -> Path:
    """The path of the shared demo store under ``base`` (the session's temp root), built if absent."""
    path = base / "dashboard-demo.duckdb"
    if not path.exists():
        tmp = base / "dashboard-demo.building.duckdb"
        tmp.unlink(missing_ok=True)
        with parcours.open(tmp) as store:
            parcours.load_demo(store, CUSTOMERS, SEED)
            parcours.create_segment(store, SEGMENT, "channel = 'ads'", "acquired by ads")
            create_followups(store)
        shutil.move(tmp, path)
    return path


def copy_of_demo(base: Path, to: Path) -> Path:
    """A private copy (DuckDB lets one process at a time hold a store file)."""
    shutil.copy(demo_store_path(base), to)
    return to
