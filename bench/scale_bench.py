"""Scaling: the same analyses on DuckDB and on Spark at growing sizes, with growth rates.

    .venv/bin/python bench/scale_bench.py [--sizes 1000000,10000000] [--engines duckdb,spark]
                                          [--analyses stages,funnel,...] [--seed 3]

For each size N, writes N seeded events (customers = N / 10, the demo business's event
names across the five stages, purchases with revenue, NPS survey answers; times spread
over 90 days) straight into a fresh store's ``events`` table (set-up, not timed). Then, per
engine, times:

- ``baseline``: a bare ``GROUP BY event`` count over the events table, in the same engine
  (what reading the data costs there);
- ``snapshot`` (Spark only): writing the store's tables to the Parquet snapshot Spark reads;
- each analysis through the public API, exactly as ``parcours --engine ENGINE`` runs it.

Each analysis runs once untimed first (kernel compilation, Spark's code generation), then
timed. Printed per size: seconds per analysis and engine, the ratio to that engine's
baseline, and Spark / DuckDB; between sizes: the growth exponent
``log(t2 / t1) / log(n2 / n1)`` (1.0 = linear). Spark runs in local mode on this machine's
cores unless ``$PARCOURS_SPARK`` names a cluster.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import parcours

#: (event, weight): a funnel-shaped mix over the five stages
EVENTS = [
    ("ad_click", 14), ("search_click", 8), ("social_click", 6), ("email_open", 6),
    ("site_visit", 16), ("product_view", 16), ("product_compare", 3), ("chat_message", 2),
    ("add_to_cart", 8), ("remove_from_cart", 1), ("checkout_start", 5), ("payment_error", 1),
    ("purchase", 4), ("delivery", 3), ("support_call", 2), ("newsletter_open", 2),
    ("review_posted", 1), ("survey_response", 2),
]

ANALYSES: dict[str, Callable] = {
    "stages": parcours.stage_overview,
    "funnel": lambda s: parcours.funnel(s, ["site_visit", "add_to_cart", "checkout_start", "purchase"]),
    "paths": parcours.dfg,
    "progression": parcours.stage_progression,
    "retention": parcours.retention,
    "attribution": lambda s: parcours.attribution(s, models=["last_touch", "markov"]),
    "voc": parcours.voc_scores,
}


def generate(store, events: int, seed: int) -> None:
    """Seeded events written in one INSERT: weighted names, purchases with revenue, NPS answers."""
    customers = max(events // 10, 1)
    names, cum, total = [], [], 0
    for name, weight in EVENTS:
        total += weight
        names.append(name)
        cum.append(total)
    pick = "CASE " + " ".join(f"WHEN r < {c} THEN '{n}'" for n, c in zip(names, cum, strict=True)) + " END"
    store.con.execute(f"""
        INSERT INTO events (message_id, type, event, timestamp, received_at, user_id, channel,
                            utm_campaign, properties, source, batch_id)
        SELECT 'm' || i, 'track', ev,
               TIMESTAMP '2024-01-01' + to_seconds((hash(i, {seed} + 1) % 7776000)::BIGINT),
               TIMESTAMP '2024-01-01', 'c' || (i % {customers}), NULL,
               CASE WHEN ev IN ('ad_click', 'email_open') THEN 'camp' || (hash(i, {seed} + 2) % 5) END,
               CASE ev WHEN 'purchase' THEN '{{"revenue": ' || (10 + hash(i, {seed} + 3) % 200) || '}}'
                       WHEN 'survey_response' THEN '{{"metric": "nps", "score": ' || (hash(i, {seed} + 4) % 11)
                                                   || ', "touchpoint": "checkout"}}'
                       ELSE '{{}}' END,
               'bench', 1
        FROM (SELECT i, {pick} AS ev FROM (SELECT i, hash(i, {seed}) % {total} AS r FROM range({events}) t(i)))
    """)


def timed(fn: Callable) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_engine(path: Path, engine: str, analyses: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    with parcours.open(path, read_only=True, engine=engine) as store:
        if engine == "spark":
            import shutil

            from parcours.engine.spark import export_snapshot, snapshot_root

            shutil.rmtree(snapshot_root(store), ignore_errors=True)
            out["snapshot"] = timed(lambda: export_snapshot(store))
        baseline = "SELECT event, count(*) AS n FROM events GROUP BY event"
        store.engine.df(baseline)
        out["baseline"] = timed(lambda: store.engine.df(baseline))
        for name in analyses:
            ANALYSES[name](store)  # warm: kernels compiled, Spark code generated
            out[name] = timed(lambda name=name: ANALYSES[name](store))
            print(f"    {engine:6s} {name:12s} {out[name]:8.2f} s", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="event counts, comma-separated")
    parser.add_argument("--engines", default="duckdb,spark")
    parser.add_argument("--analyses", default=",".join(ANALYSES))
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where the stores go (default: a temporary folder)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    engines = args.engines.split(",")
    analyses = args.analyses.split(",")
    print(f"cores: {os.cpu_count()}, spark: {os.environ.get('PARCOURS_SPARK', 'local[2]')}")
    results: dict[int, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for n in sizes:
            path = Path(tmp) / f"scale_{n}.duckdb"
            with parcours.open(path) as store:
                t = timed(lambda store=store, n=n: generate(store, n, args.seed))
                events = store.con.execute("SELECT count(*) FROM events").fetchone()[0]
            print(f"\n== {events:,} events, {max(n // 10, 1):,} customers (generated in {t:.1f} s)", flush=True)
            results[n] = {e: run_engine(path, e, analyses) for e in engines}
            _print_size(results[n], engines)
    _print_growth(results, sizes, engines)


def _print_size(res: dict[str, dict[str, float]], engines: list[str]) -> None:
    names = list(next(iter(res.values())))
    head = "".join(f"{e + ' s':>11s}{'x base':>8s}" for e in engines)
    print(f"  {'analysis':12s}{head}{'spark/duckdb':>14s}" if len(engines) == 2 else f"  {'analysis':12s}{head}")
    for name in ["baseline", "snapshot", *[n for n in names if n not in ("baseline", "snapshot")]]:
        cells = ""
        for e in engines:
            t = res[e].get(name)
            cells += f"{t:11.2f}{t / res[e]['baseline']:8.1f}" if t is not None else f"{'-':>11s}{'':8s}"
        ratio = ""
        if len(engines) == 2 and all(name in res[e] for e in engines):
            ratio = f"{res[engines[1]][name] / res[engines[0]][name]:14.1f}"
        print(f"  {name:12s}{cells}{ratio}")


def _print_growth(results, sizes: list[int], engines: list[str]) -> None:
    if len(sizes) < 2:
        return
    print("\n== growth exponent log(t2/t1) / log(n2/n1) (1.0 = linear)")
    for a, b in zip(sizes, sizes[1:], strict=False):
        for e in engines:
            parts = []
            for name, t1 in results[a][e].items():
                t2 = results[b][e][name]
                parts.append(f"{name} {math.log(t2 / t1) / math.log(b / a):.2f}")
            print(f"  {a:,} -> {b:,} {e}: " + ", ".join(parts))


if __name__ == "__main__":
    main()
