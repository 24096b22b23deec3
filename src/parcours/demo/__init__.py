"""The seeded demo business: realistic multi-channel journeys to explore parcours with.

``load_demo(store, customers, seed)`` simulates the customers of "Foulée", a running-gear
retailer (see ``business``), writes their events to a Parquet file and loads it through
the real importer, so validation and identity stitching apply as to any data.
``PLANTED_FRICTION`` says which touchpoints were made worse on purpose.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from parcours.demo.business import END, PLANTED_FRICTION
from parcours.demo.table import demo_table, write_demo
from parcours.errors import ParcoursError
from parcours.ingest import ImportSummary, import_file
from parcours.store import Store

__all__ = ["END", "PLANTED_FRICTION", "demo_table", "load_demo", "write_demo"]


def load_demo(store: Store, customers: int, seed: int) -> ImportSummary:
    """Generate ``customers`` demo customers with ``seed`` and import their events into ``store``.

    The same seed gives the same events (and message ids), so loading twice adds nothing.
    """
    if customers < 1:
        raise ParcoursError(f"`customers` {customers}: the demo needs at least one customer")
    with tempfile.TemporaryDirectory(prefix="parcours-demo-") as tmp:
        path = Path(tmp) / f"demo-seed{seed}.parquet"
        write_demo(customers, seed, path)
        return import_file(store, path, fmt="parquet")
