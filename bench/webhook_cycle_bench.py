"""One live webhook cycle beside a large store: the detractor and segment triggers, narrowed vs whole.

A store of ``--events`` seeded events (``scale_bench.generate``, stitched; half of its survey
answers name no touchpoint, so theirs is inferred from the customer's earlier events) gets
four webhooks: ``detractor``, ``segment_entered`` of ``buyers`` (``purchases >= 1``),
``segment_left`` of ``recent`` (``recency_days <= 30``, a rule that depends on time) and
``segment_entered`` of ``valuable`` (``value >= 100 AND satisfaction >= 5``: properties read
from every purchase and answer). After the
first look, ``--changed`` existing customers send a few events each (a purchase, a detractor
answer naming no touchpoint); then one cycle of ``enqueue_webhooks`` is timed per webhook
(best of ``--repeat``; the cycle is idempotent, so each repeat does the same work):

- ``live``: ``customers=`` the customers whose state changed (what ``parcours serve`` passes);
- ``whole``: no customers (what the manual ``parcours voc webhooks run`` does, and what every
  live cycle cost for these triggers before they were narrowed).

    python bench/webhook_cycle_bench.py [--events 1000000] [--changed 5] [--repeat 3]

Runs against whatever ``parcours`` is on the path: with an older one (which ignores
``customers`` for these triggers) the two columns are the same.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale_bench import generate  # noqa: E402
from timing import best_of  # noqa: E402

import parcours  # noqa: E402
from parcours.analytics.segments.segments import create_segment  # noqa: E402
from parcours.analytics.voc.webhooks import enqueue_webhooks  # noqa: E402
from parcours.config import template_text  # noqa: E402
from parcours.journey.live_state import STATE, changed_since  # noqa: E402
from parcours.journey.materialized import refresh  # noqa: E402

HOOKS = {
    "detractors": 'trigger = "detractor"',
    "buyers": 'trigger = "segment_entered"\nsegment = "buyers"',
    "lapsed": 'trigger = "segment_left"\nsegment = "recent"',
    "valuable": 'trigger = "segment_entered"\nsegment = "valuable"',
}
NOW = datetime(2024, 4, 1, 12, 0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--changed", type=int, default=5, help="existing customers whose events arrive")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base.duckdb"
        t0 = time.perf_counter()
        with parcours.open(base) as store:
            generate(store, args.events, seed=3)
            # half the answers name no touchpoint: theirs is inferred from the customer's earlier events
            store.execute("UPDATE events SET properties = json_object('metric', 'nps', 'score', "
                          "json_extract(properties, '$.score')) "
                          "WHERE event = 'survey_response' AND hash(message_id) % 2 = 0")
            store.execute("SELECT nextval('batch_seq')")  # the generator wrote batch 1 itself
            parcours.stitch(store)
            create_segment(store, "buyers", "purchases >= 1")
            create_segment(store, "recent", "recency_days <= 30")
            create_segment(store, "valuable", "value >= 100 AND satisfaction >= 5")
        print(f"store           {args.events:,} events, built in {time.perf_counter() - t0:.1f} s")
        arrived = Path(tmp) / "arrived.jsonl"
        with open(arrived, "w") as f:
            for n in range(args.changed):
                who, at = f"c{n * 7 + 1}", NOW - timedelta(minutes=5)
                for event, props in (("product_view", {}), ("purchase", {"revenue": 30}),
                                     ("survey_response", {"metric": "nps", "score": 2})):
                    at += timedelta(seconds=10)
                    f.write(json.dumps({"user_id": who, "event": event, "timestamp": at.isoformat() + "Z",
                                        "properties": props}) + "\n")
        print(f"arrived         {args.changed * 3} events of {args.changed} customers")
        print(f"{'webhook':<32}{'live':>10}{'whole':>10}{'ratio':>8}")
        # one store per set of webhooks (the webhooks are part of the journey map its derived tables are built for)
        for names in [[name] for name in HOOKS] + [list(HOOKS)]:
            db = Path(tmp) / "cycle.duckdb"
            shutil.copyfile(base, db)
            with parcours.open(db) as store:
                store.set_journey(template_text("five-stages") + "".join(
                    f'\n[[webhooks]]\nname = "{name}"\nurl = "http://127.0.0.1:9/hook"\nsecret = "s"\n{HOOKS[name]}\n'
                    for name in names), "journey.toml")
                enqueue_webhooks(store, now=NOW)  # the first look at the segments; the detractors of the history
                refresh(store, STATE)
                looked = store.data_version()
                parcours.import_file(store, arrived)
                customers = changed_since(store, looked)  # catches the live state up, as the server's cycle does
                assert len(store.engine.df(customers)) == args.changed
                later = NOW + timedelta(seconds=1)
                live, _ = best_of(lambda: enqueue_webhooks(store, now=later, customers=customers), args.repeat)  # noqa: B023
                whole, _ = best_of(lambda: enqueue_webhooks(store, now=later), args.repeat)  # noqa: B023
            hooks = store.config.webhooks
            label = f"{names[0]} ({hooks[0].trigger})" if len(names) == 1 else "all four"
            print(f"{label:<32}{live * 1000:>8.0f}ms{whole * 1000:>8.0f}ms{whole / live:>7.1f}x")
            db.unlink()
    print("(lapsed's rule depends on time: once every SEGMENT_RECHECK_SECONDS a live cycle costs its whole column)")


if __name__ == "__main__":
    main()
