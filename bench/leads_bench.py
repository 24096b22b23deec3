"""Lead scoring on the demo business: how many prospects, how spread their scores, whether each has reasons.

Issue 15's check at full size (too slow for the suite): on the demo at 12,000 customers at
least 50 prospects with spread 0-100 scores, every one with reasons. Prints the figures and
exits non-zero when the check fails. ``python bench/leads_bench.py [customers] [seed]``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import parcours
from parcours.analytics.segments.leads import score_leads, train_lead_model


def main(customers: int = 12_000, seed: int = 42) -> int:
    with tempfile.TemporaryDirectory() as tmp, parcours.open(Path(tmp) / "demo.duckdb") as store:
        parcours.load_demo(store, customers, seed)
        t = time.perf_counter()
        model = train_lead_model(store)
        scores = score_leads(store, model)
        took = time.perf_counter() - t
    n, distinct = len(scores), scores["score"].nunique()
    with_reasons = sum(bool(r) for r in scores["reasons"])
    print(f"demo {customers:,} customers (seed {seed}): {n} prospects, {distinct} distinct scores "
          f"{scores['score'].min():.1f}..{scores['score'].max():.1f}, {with_reasons} with reasons, "
          f"probability {scores['probability'].min():.2f}..{scores['probability'].max():.2f} %, "
          f"hold-out roc_auc {model.evaluation['roc_auc']:.3f}; train+score {took:.1f} s")
    ok = n >= 50 and distinct >= 0.9 * n and with_reasons == n and scores["score"].max() - scores["score"].min() >= 90
    print("check (>= 50 prospects, spread scores, all with reasons):", "ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(*map(int, sys.argv[1:3])))
