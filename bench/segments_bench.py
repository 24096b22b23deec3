"""Benchmark: segments, personas, RFM and lead scoring on the materialized journey table against
the live journey relation, both measured in this run.

These analyses read the journey through ``events_sql``: the table ``derived.journey`` when it is
fresh, the live relation (identity join, touchpoint CASE over JSON, stage lookups) otherwise. The
bench loads the seeded demo business once, copies the store, builds the table in one copy only,
and opens both read-only, so one reads the table and the other the live relation. Each query
runs ``--rounds`` times, the two sides interleaved, and the best time of each is printed with
the ratio live / table (above 1: the table is faster). The load average is printed too: on a
busy machine compare ratios, not seconds.

    .venv/bin/python bench/segments_bench.py [--customers 20000] [--seed 42] [--rounds 3] [--full]

``--full`` adds the whole of ``find_personas`` and ``train_lead_model`` + ``score_leads``, where
k-means and gradient boosting, not the journey read, take most of the time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

from timing import best_of

import parcours
from parcours.analytics.segments.features import features_query
from parcours.analytics.segments.leads import _span, score_leads, snapshot_frame, train_lead_model
from parcours.analytics.segments.personas import find_personas, rfm_scores
from parcours.analytics.segments.segments import create_segment, list_segments, segment_members
from parcours.demo import load_demo
from parcours.journey.materialized import TABLE, journey_source, materialize
from parcours.query.filter import Filter

SEGMENTS = {"decided": "stage >= 'decision'", "carts": "events('add_to_cart', 30) >= 1 AND purchases = 0"}


def snapshots(store) -> object:
    """The lead-scoring training rows: 16 past moments, 14-day horizon (as ``train_lead_model``)."""
    lo, hi = _span(store)
    last = hi - timedelta(days=14)
    first = lo + (last - lo) / 2
    return snapshot_frame(store, [first + (last - first) * i / 15 for i in range(16)], 14)


QUERIES = {
    "segment members": lambda s: segment_members(s, "decided"),
    "segment list (counts)": lambda s: list_segments(s),
    "stages --segment": lambda s: parcours.stage_overview(s, filter=Filter(segment="carts")),
    "features (personas)": lambda s: s.engine.df(features_query(s)),
    "rfm": rfm_scores,
    "lead snapshots": snapshots,
}
FULL = {
    "personas": lambda s: find_personas(s, seed=0),
    "leads (train + score)": lambda s: score_leads(s, train_lead_model(s, seed=0)),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--full", action="store_true")
    args = ap.parse_args()
    queries = {**QUERIES, **(FULL if args.full else {})}
    with tempfile.TemporaryDirectory() as tmp:
        live_path, table_path = Path(tmp, "live.duckdb"), Path(tmp, "table.duckdb")
        with parcours.open(live_path) as s:
            load_demo(s, customers=args.customers, seed=args.seed)
            for name, rule in SEGMENTS.items():
                create_segment(s, name, rule)
            s.execute(f"DROP TABLE IF EXISTS {TABLE}")
            events = s.engine.scalar("SELECT count(*) FROM events")
        shutil.copy(live_path, table_path)
        with parcours.open(table_path) as s:
            print(f"journey table built in {materialize(s):.2f}s")
        print(f"{events:,} events, {args.customers:,} customers; load average {os.getloadavg()[0]:.1f}")
        with parcours.open(live_path, read_only=True) as live, parcours.open(table_path, read_only=True) as table:
            assert journey_source(live) != TABLE and journey_source(table) == TABLE
            print(f"{'query':24} {'live s':>8} {'table s':>8} {'live/table':>10}")
            for name, fn in queries.items():
                best = {"live": float("inf"), "table": float("inf")}
                for _ in range(args.rounds):  # interleaved: a burst of other work hits both sides
                    for side, store in (("live", live), ("table", table)):
                        best[side] = min(best[side], best_of(lambda f=fn, s=store: f(s))[0])
                print(f"{name:24} {best['live']:8.3f} {best['table']:8.3f} {best['live'] / best['table']:10.2f}")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
