"""Scaling: the same analyses on DuckDB and on Spark at growing sizes, with growth rates.

    nice .venv/bin/python bench/scale_bench.py --sizes 1000000 10000000 --engines duckdb spark \\
        [--analyses stages funnel ...] [--repeat 1] [--dir bench/out] [--seed 3]

Per size N (set-up, timed but not part of the figures): N seeded events written straight
into a fresh store's ``events`` table (customers = N / 10; the demo business's event names
across the five stages; a third of the customers browse anonymously before an ``identify``
with an e-mail trait; purchases with revenue; NPS answers; 90 days), stitched once, a rule
segment saved. Then, per engine:

- ``snapshot`` (Spark) and ``journey``: what the engine does once per data version before
  any analysis, each on its own line. Spark: writing the Parquet snapshot of the store's
  tables it reads, then computing the journey relation into it. DuckDB: materializing the
  journey relation (``derived.journey``, what a writable store does on its first analysis);
- ``baseline``: a bare ``GROUP BY event`` count over ``events`` on that engine (what reading
  the data costs there), so that each analysis is also printed as a multiple of it;
- each analysis through the public API, exactly as ``parcours --engine ENGINE`` runs it;
  ``stitching`` last (it rewrites the identity map: a full recomputation on that engine).

Before the first size every analysis runs once on a small store (``--warmup`` events) on
each engine, untimed: Numba kernels compiled, the JVM and Spark's code generation warm, so
the figures measure data, not start-up. Each figure is the best of ``--repeat`` runs.

Printed: the load average at the start and end of each size, seconds per analysis and
engine with the multiple of the baseline and Spark / DuckDB; Parquet bytes per event;
between sizes, the growth rate (time ratio / size ratio, 1.0 = linear) and the fitted
exponent (log t2/t1 / log n2/n1); events per core-second on each engine at the largest size.
Spark runs in ``local[2]`` unless ``$PARCOURS_SPARK`` names a master; its driver memory is
``$PARCOURS_SPARK_MEMORY`` (the bench sets 6g when unset: the machine has 24 GiB, shared).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import parcours
from parcours.analytics.filters import events_sql
from parcours.analytics.segments.segments import create_segment, segment_members
from parcours.journey.materialized import materialize

#: (event, weight): a funnel-shaped mix over the five stages
EVENTS = [
    ("ad_click", 14), ("search_click", 8), ("social_click", 6), ("email_open", 6),
    ("site_visit", 16), ("product_view", 16), ("product_compare", 3), ("chat_message", 2),
    ("add_to_cart", 8), ("remove_from_cart", 1), ("checkout_start", 5), ("payment_error", 1),
    ("purchase", 4), ("delivery", 3), ("support_call", 2), ("newsletter_open", 2),
    ("review_posted", 1), ("survey_response", 2),
]

#: every analysis of issue 8, as the CLI runs it; stitching needs a writable store
ANALYSES: dict[str, Callable] = {
    "stages": parcours.stage_overview,
    "funnel": lambda s: parcours.funnel(s, ["site_visit", "add_to_cart", "checkout_start", "purchase"]),
    "paths": parcours.dfg,
    "progression": parcours.stage_progression,
    "retention": parcours.retention,
    "attribution": lambda s: parcours.attribution(s, models=["last_touch", "markov"]),
    "voc": parcours.voc_scores,
    "segments": lambda s: segment_members(s, "buyers"),
    "stitching": lambda s: parcours.stitch(s, full=True),
}
WRITES = {"stitching"}


def generate(store, events: int, seed: int) -> None:
    """Seeded events in one INSERT: weighted names, anonymous visits joined by identify events."""
    customers = max(events // 10, 1)
    names, cum, total = [], [], 0
    for name, weight in EVENTS:
        total += weight
        names.append(name)
        cum.append(total)
    pick = "CASE " + " ".join(f"WHEN r < {c} THEN '{n}'" for n, c in zip(names, cum, strict=True)) + " END"
    # customer c = i % customers; for c % 3 = 0 a quarter of the events are anonymous ('a' || c),
    # and the customer's first event (i < customers) is the identify that links both ids
    # and carries an e-mail trait (shared by pairs of customers: components of 2 users)
    with store.transaction() as con:
        con.execute(f"""
            INSERT INTO events (message_id, type, event, timestamp, received_at, user_id, anonymous_id,
                                channel, utm_campaign, properties, source, batch_id, arrival_seq)
            SELECT 'm' || i, CASE WHEN ident THEN 'identify' ELSE 'track' END,
                   CASE WHEN ident THEN 'identify' ELSE ev END,
                   TIMESTAMP '2024-01-01' + to_seconds((hash(i, {seed} + 1) % 7776000)::BIGINT),
                   TIMESTAMP '2024-01-01',
                   CASE WHEN anon AND NOT ident THEN NULL ELSE 'c' || c END,
                   CASE WHEN anon OR ident THEN 'a' || c END,
                   NULL,
                   CASE WHEN ev IN ('ad_click', 'email_open') THEN 'camp' || (hash(i, {seed} + 2) % 5) END,
                   CASE WHEN ident THEN '{{"email": "p' || (c // 6) || '@example.com"}}'
                        WHEN ev = 'purchase' THEN '{{"revenue": ' || (10 + hash(i, {seed} + 3) % 200) || '}}'
                        WHEN ev = 'survey_response' THEN '{{"metric": "nps", "score": '
                             || (hash(i, {seed} + 4) % 11) || ', "touchpoint": "checkout"}}'
                        ELSE '{{}}' END,
                   'bench', 1, 4294967296 + i
            FROM (SELECT i, c, {pick} AS ev, c % 3 = 0 AND i < {customers} AS ident,
                         c % 3 = 0 AND hash(i, {seed} + 5) % 4 = 0 AS anon
                  FROM (SELECT i, i % {customers} AS c, hash(i, {seed}) % {total} AS r FROM range({events}) t(i)))
        """)


def set_up(path: Path, n: int, seed: int) -> dict[str, float]:
    """A fresh store of ``n`` events, stitched, with the ``buyers`` segment; seconds per step."""
    out: dict[str, float] = {}
    with parcours.open(path) as store:
        out["generate"] = timed(lambda: generate(store, n, seed))
        out["stitch"] = timed(lambda: parcours.stitch(store))
        create_segment(store, "buyers", "purchases >= 1")
    return out


def timed(fn: Callable) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def best(fn: Callable, repeat: int) -> float:
    return min(timed(fn) for _ in range(repeat))


def prepare(store, engine: str) -> dict[str, float]:
    """The once-per-data-version steps of ``engine`` (see the module docstring), timed."""
    if engine == "spark":
        from parcours.engine.spark import snapshot_root

        shutil.rmtree(snapshot_root(store), ignore_errors=True)
        snapshot = timed(lambda: store.engine.sync())
        return {"snapshot": snapshot, "journey": timed(lambda: store.engine.reading_journey(events_sql(store)))}
    return {"journey": timed(lambda: materialize(store))}


def run_engine(path: Path, engine: str, analyses: list[str], repeat: int, quiet: bool = False) -> dict[str, float]:
    """Seconds per step on ``engine``: prepare, baseline, then each analysis (writes last)."""
    out: dict[str, float] = {}

    def say(name: str) -> None:
        if not quiet:
            print(f"    {engine:6s} {name:12s} {out[name]:9.2f} s   (load {load()})", flush=True)

    with parcours.open(path, engine=engine) as store:
        for step, seconds in prepare(store, engine).items():
            out[step] = seconds
            say(step)
    reads = [a for a in analyses if a not in WRITES]
    with parcours.open(path, read_only=True, engine=engine) as store:
        baseline = "SELECT event, count(*) AS n FROM events GROUP BY event"
        store.engine.df(baseline)
        out["baseline"] = best(lambda: store.engine.df(baseline), repeat)
        say("baseline")
        for name in reads:
            out[name] = best(lambda name=name: ANALYSES[name](store), repeat)
            say(name)
    for name in (a for a in analyses if a in WRITES):
        with parcours.open(path, engine=engine) as store:
            out[name] = best(lambda name=name: ANALYSES[name](store), repeat)
            say(name)
    return out


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def snapshot_bytes(path: Path) -> int:
    """Bytes of the events table's Parquet snapshot (what a cluster reads per event)."""
    root = path.with_name(path.name + ".spark")
    return sum(f.stat().st_size for f in root.glob("*/events.parquet"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["1000000", "10000000"],
                        help="event counts (space- or comma-separated)")
    parser.add_argument("--engines", nargs="+", default=["duckdb", "spark"])
    parser.add_argument("--analyses", nargs="+", default=list(ANALYSES))
    parser.add_argument("--repeat", type=int, default=1, help="best of this many runs per figure")
    parser.add_argument("--warmup", type=int, default=20_000, help="events of the untimed warm-up store (0: none)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where the stores go (default: a temporary folder)")
    args = parser.parse_args()
    sizes = [int(s) for part in args.sizes for s in part.split(",") if s]
    engines = [e for part in args.engines for e in part.split(",") if e]
    analyses = [a for part in args.analyses for a in part.split(",") if a]
    unknown = [a for a in analyses if a not in ANALYSES]
    if unknown:
        parser.error(f"unknown analyses {unknown}; choose from {', '.join(ANALYSES)}")
    os.environ.setdefault("PARCOURS_SPARK_MEMORY", "6g")
    print(f"cores: {os.cpu_count()}, spark: {os.environ.get('PARCOURS_SPARK', 'local[2]')}, "
          f"spark driver memory: {os.environ['PARCOURS_SPARK_MEMORY']}, repeat: {args.repeat}, "
          f"load: {load()}", flush=True)
    results: dict[int, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        if args.warmup:
            path = Path(tmp) / "warmup.duckdb"
            set_up(path, args.warmup, args.seed)
            t0 = time.perf_counter()
            for e in engines:
                run_engine(path, e, analyses, 1, quiet=True)
            print(f"warm-up: {args.warmup:,} events, every analysis once per engine, "
                  f"{time.perf_counter() - t0:.1f} s", flush=True)
        for n in sizes:
            path = Path(tmp) / f"scale_{n}.duckdb"
            print(f"\n== {n:,} events, {max(n // 10, 1):,} customers   (load at start {load()})", flush=True)
            setup = set_up(path, n, args.seed)
            print(f"  set-up (not in the figures): generate {setup['generate']:.1f} s, stitch "
                  f"{setup['stitch']:.1f} s, store {path.stat().st_size / 2**20:,.0f} MiB", flush=True)
            results[n] = {}
            for e in engines:
                results[n][e] = run_engine(path, e, analyses, args.repeat)
            parquet = snapshot_bytes(path)
            _print_size(results[n], engines)
            if parquet:
                print(f"  Parquet snapshot of events: {parquet / 2**20:,.1f} MiB, {parquet / n:.1f} bytes/event")
            print(f"  load at end {load()}", flush=True)
            shutil.rmtree(path.with_name(path.name + ".spark"), ignore_errors=True)
            path.unlink()
    _print_growth(results, sizes, engines)
    _print_throughput(results, sizes, engines)


def _print_size(res: dict[str, dict[str, float]], engines: list[str]) -> None:
    names = list(dict.fromkeys(n for e in sorted(engines, key=lambda e: e != "spark") for n in res[e]))
    head = "".join(f"{e + ' s':>12s}{'x base':>8s}" for e in engines)
    print(f"  {'step':12s}{head}" + (f"{engines[1] + '/' + engines[0]:>14s}" if len(engines) == 2 else ""))
    for name in names:
        cells = ""
        for e in engines:
            t = res[e].get(name)
            cells += f"{t:12.2f}{t / res[e]['baseline']:8.1f}" if t is not None else f"{'-':>12s}{'':8s}"
        ratio = ""
        if len(engines) == 2 and all(name in res[e] for e in engines):
            ratio = f"{res[engines[1]][name] / res[engines[0]][name]:14.1f}"
        print(f"  {name:12s}{cells}{ratio}")


def _print_growth(results, sizes: list[int], engines: list[str]) -> None:
    if len(sizes) < 2:
        return
    print("\n== growth: (t2/t1) / (n2/n1) (1.0 = linear), and exponent log(t2/t1) / log(n2/n1)")
    for a, b in zip(sizes, sizes[1:], strict=False):
        for e in engines:
            parts = []
            for name, t1 in results[a][e].items():
                t2 = results[b][e].get(name)
                if t2 is not None and t1 > 0:
                    parts.append(f"{name} {(t2 / t1) / (b / a):.2f} ({math.log(t2 / t1) / math.log(b / a):.2f})")
            print(f"  {a:,} -> {b:,} {e}: " + ", ".join(parts))


def _print_throughput(results, sizes: list[int], engines: list[str]) -> None:
    n = sizes[-1]
    cores = _cores()
    print(f"\n== throughput at {n:,} events: events per second, and per core-second ({cores} cores)")
    for e in engines:
        parts = [f"{name} {n / t:,.0f} ({n / t / cores:,.0f})" for name, t in results[n][e].items() if t > 0]
        print(f"  {e}: " + ", ".join(parts))


def _cores() -> int:
    """Cores the engines use: local[N] says N for Spark; DuckDB uses every core of the machine."""
    address = os.environ.get("PARCOURS_SPARK", "local[2]")
    if address.startswith("local[") and address[6:-1].isdigit():
        return min(int(address[6:-1]), os.cpu_count() or 1)
    return os.cpu_count() or 1


if __name__ == "__main__":
    main()
