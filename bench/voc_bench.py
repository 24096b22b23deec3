"""VoC speed on the demo business: scores, trend, comparison and emotion curve, same run.

    .venv/bin/python bench/voc_bench.py [--customers 20000] [--seed 7]

Loads the seeded demo into a temporary store, then times each VoC analysis against a
baseline measured in the same run: one pass over the journey relation that counts survey
answers per touchpoint property (no inference, no intervals). The ratio says what tying
answers to the journey (the window over every touchpoint event) and the rest cost on
top of reading the events once. The emotion curve also includes comment sentiment
(lexicons load once per process; the first call pays for it, shown separately).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from timing import best_of

import parcours
from parcours.analytics.filters import events_sql
from parcours.analytics.voc import compare_touchpoints, create_followups, emotion_curve, voc_scores, voc_trend
from parcours.demo import load_demo


def timed(fn) -> float:
    return best_of(fn, repeat=3)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = parcours.open(Path(tmp) / "voc.duckdb")
        start = time.perf_counter()
        load_demo(store, args.customers, args.seed)
        events = store.engine.scalar("SELECT count(*) FROM events")
        answers = store.engine.scalar("SELECT count(*) FROM events WHERE event = 'survey_response'")
        print(f"demo: {args.customers} customers, {events} events, {answers} survey answers "
              f"(loaded in {time.perf_counter() - start:.1f} s)")
        baseline_sql = (
            f"SELECT json_extract_string(properties, '$.touchpoint') AS tp, count(*) FROM ({events_sql(store)}) e "
            "WHERE event = 'survey_response' GROUP BY tp"
        )
        baseline = timed(lambda: store.engine.df(baseline_sql))
        print(f"{'baseline: count answers per given touchpoint':48s} {baseline:8.3f} s")
        start = time.perf_counter()
        emotion_curve(store)
        print(f"{'emotion curve, first call (lexicons load)':48s} {time.perf_counter() - start:8.3f} s")
        runs = {
            "voc_scores by touchpoint": lambda: voc_scores(store, by="touchpoint"),
            "voc_scores by stage": lambda: voc_scores(store, by="stage"),
            "voc_trend by week": lambda: voc_trend(store, period="week"),
            "compare_touchpoints ces": lambda: compare_touchpoints(store, metric="ces"),
            "emotion_curve by touchpoint": lambda: emotion_curve(store, level="touchpoint"),
        }
        for name, fn in runs.items():
            seconds = timed(fn)
            print(f"{name:48s} {seconds:8.3f} s  {seconds / baseline:6.1f} x baseline")
        start = time.perf_counter()
        created = create_followups(store)
        print(f"{'create_followups (first run)':48s} {time.perf_counter() - start:8.3f} s  ({created} items)")
        print(f"{'create_followups (again, idempotent)':48s} {timed(lambda: create_followups(store)):8.3f} s")
        store.close()


if __name__ == "__main__":
    main()
