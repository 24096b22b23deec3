"""Dashboard page times on the demo data: cold (first computation of a filter) and warm (cached).

Builds (once, kept in bench/out/) a demo store of ``--customers`` customers with personas
saved as segments, builds its derived tables (the materialized journey and step sequences,
rebuilt after each data change; timed on their own line), starts ``parcours serve`` on
loopback and times, for every page:

* ``cold, all``: the unfiltered page on a fresh server. The first request starts the
  server's background warm-up of every unfiltered page; the pages are requested in the
  warm-up's order, so each request waits for that page's own computation (the time the
  first reader after a start or after new data would wait);
* ``cold, dates``: the same page with a date range (the second half of the data) no request
  has asked for before: computed from scratch;
* ``cold, segment``: the same with a segment filter (a saved persona);
* ``warm``: the median of ``--repeat`` requests of the three views once cached;

against ``GET /health`` measured in the same run (the baseline: a request that does no work).
Target (issue 10): every page under a second on 100k customers.

    nice python bench/dashboard_bench.py [--customers 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

import parcours
from parcours.analytics.filters import events_sql
from parcours.analytics.paths.sequences import steps_query
from parcours.analytics.segments.personas import find_personas, save_personas
from parcours.server.keys import create_key

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
#: in the order of the server's warm-up (``parcours.web.routes.warm``), then the evidence page
PAGES = ["/", "/funnels", "/paths", "/retention", "/attribution", "/voc", "/data", "/segments", "/leads",
         "/evidence?touchpoint=checkout"]


def build(customers: int, seed: int) -> Path:
    path = OUT / f"dashboard-{customers}-{seed}.duckdb"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".building")
        tmp.unlink(missing_ok=True)
        t = time.perf_counter()
        with parcours.open(tmp) as store:
            parcours.load_demo(store, customers, seed)
            save_personas(store, find_personas(store, seed=seed))
        tmp.rename(path)
        print(f"built {path.name} in {time.perf_counter() - t:.0f} s")
    return path


def prepare(db: Path) -> tuple[str, str, str]:
    """A read key, a saved segment and a date range (the second half of the data) for the run."""
    with parcours.open(db) as store:
        t = time.perf_counter()
        events_sql(store)  # the materialized journey, rebuilt when stale
        for by in ("touchpoint", "event", "stage"):
            steps_query(store, by)  # the stored step sequences where the engine keeps them
        print(f"derived tables ready in {time.perf_counter() - t:.1f} s (rebuilt only after a data change)")
        key = create_key(store, "read", "bench")
        segment = parcours.list_segments(store, with_counts=False)["name"].iloc[0]
        lo, hi = store.execute("SELECT min(timestamp), max(timestamp) FROM events").fetchone()
    mid = lo + (hi - lo) / 2
    return key, segment, f"from={mid.date()}&to={hi.date()}"


def timed(client: httpx.Client, url: str) -> tuple[float, int]:
    t = time.perf_counter()
    r = client.get(url)
    return time.perf_counter() - t, r.status_code


def with_query(page: str, query: str) -> str:
    return page + ("&" if "?" in page else "?") + query if query else page


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--port", type=int, default=8791)
    args = ap.parse_args()
    db = build(args.customers, args.seed)
    key, segment, dates = prepare(db)
    log = db.with_suffix(".log").open("w")
    proc = subprocess.Popen([sys.executable, "-c", "from parcours.cli.main import main; main()", "--db", str(db),
                             "serve", "--port", str(args.port)], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{args.port}"
    try:
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=900)
        while True:
            try:
                if client.get("/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        health = statistics.median(timed(client, "/health")[0] for _ in range(20))
        views = {"all": "", "dates": dates, f"segment={segment}": f"segment={segment}"}
        cold: dict[tuple[str, str], tuple[float, int]] = {}
        for view, query in views.items():  # one view at a time: its first request of each page is cold
            for page in PAGES:
                cold[page, view] = timed(client, with_query(page, query))
        warm = {page: max(statistics.median(timed(client, with_query(page, q))[0] for _ in range(args.repeat))
                          for q in views.values()) for page in PAGES}
        load = os.getloadavg()
        print(f"{args.customers:,} customers; {dates}; segment {segment}; load average {load[0]:.1f} {load[1]:.1f}")
        print(f"baseline GET /health: {health * 1000:.1f} ms; cold in s, warm (slowest of the three views) in ms")
        print(f"{'page':32} {'cold all':>9} {'dates':>7} {'segment':>8} {'warm ms':>8} {'x health':>9}")
        for page in PAGES:
            cells = [f"{s:.2f}" + ("" if code == 200 else f"({code})")
                     for s, code in (cold[page, v] for v in views)]
            print(f"{page[:32]:32} {cells[0]:>9} {cells[1]:>7} {cells[2]:>8} {warm[page] * 1000:8.1f}"
                  f" {warm[page] / health:9.1f}")
        slowest_cold = max(s for s, _ in cold.values())
        print(f"slowest cold page: {slowest_cold:.2f} s, slowest warm: {max(warm.values()) * 1000:.0f} ms "
              f"(target < 1 s): {'OK' if slowest_cold < 1 else 'MISSED (cold)'}")
    finally:
        proc.terminate()
        proc.wait(timeout=60)


if __name__ == "__main__":
    main()
