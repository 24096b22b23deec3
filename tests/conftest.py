"""Shared fixtures: stores in temporary folders, and the ../shared data sets.

Tests that need ``../shared`` skip with a visible reason where it is absent (a
user's clone); CI sets PARCOURS_REQUIRE_SHARED=1, which turns that skip into a failure.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import parcours

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PARCOURS_SHARED", ROOT.parent / "shared"))


def shared_path(relative: str) -> Path:
    """A path under ../shared, or skip (fail in CI) when it is not there."""
    path = SHARED / relative
    if not path.exists():
        message = f"{path} is absent: this test needs the shared data sets beside the clone"
        if os.environ.get("PARCOURS_REQUIRE_SHARED"):
            pytest.fail(message + " (PARCOURS_REQUIRE_SHARED is set)")
        pytest.skip(message)
    return path


@pytest.fixture
def store(tmp_path):
    """An empty store in a temporary folder."""
    s = parcours.open(tmp_path / "test.duckdb")
    yield s
    s.close()


def load_events(store, events: list[dict], tmp_path: Path, name: str = "events.jsonl", **kwargs):
    """Import a list of event dicts (Segment-like keys: user_id, anonymous_id, event, timestamp,
    properties, ...) through the real JSON Lines importer. Returns the import summary."""
    path = tmp_path / name
    with open(path, "w", encoding="utf-8") as f:
        for e in events:
            f.write(json.dumps(e) + "\n")
    return parcours.import_file(store, path, **kwargs)
