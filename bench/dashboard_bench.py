"""Dashboard page times on the demo data: cold (first computation) and warm (from the cache).

Builds (once, kept in bench/out/) a demo store of ``--customers`` customers with personas
saved as segments, starts ``parcours serve`` on loopback and, for every page, times:

* the unfiltered pages: the first request (which starts the server's background warm-up of
  every page, so later pages may only wait for it) and then warm (served from the cache);
* with a segment filter no request has asked for before: cold (computed), then warm;

against ``/health`` measured in the same run (the baseline: a request that does no work).
Target (issue 10): every page under a second on 100k customers, i.e. the warm figures.

    python bench/dashboard_bench.py [--customers 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

import parcours
from parcours.analytics.personas import find_personas, save_personas
from parcours.server.keys import create_key

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
PAGES = ["/", "/funnels", "/paths", "/retention", "/attribution", "/voc", "/segments", "/leads", "/data",
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


def timed(client: httpx.Client, url: str) -> float:
    t = time.perf_counter()
    r = client.get(url)
    elapsed = time.perf_counter() - t
    r.raise_for_status()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--port", type=int, default=8791)
    args = ap.parse_args()
    db = build(args.customers, args.seed)
    with parcours.open(db) as store:
        key = create_key(store, "read", "bench")
        segment = parcours.list_segments(store, with_counts=False)["name"].iloc[0]
    log = db.with_suffix(".log").open("w")
    proc = subprocess.Popen([sys.executable, "-c", "from parcours.cli.main import main; main()", "--db", str(db),
                             "serve", "--port", str(args.port)], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{args.port}"
    try:
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=600)
        while True:
            try:
                if client.get("/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        health = statistics.median(timed(client, "/health") for _ in range(20))
        print(f"{args.customers:,} customers; baseline GET /health: {health * 1000:.1f} ms")
        print(f"{'page':34} {'first s':>8} {'warm ms':>8} {'x health':>9}")
        print("unfiltered pages (the first request starts the background warm-up of all of them):")
        rows = []
        for page in PAGES:
            first = timed(client, page)
            warm = statistics.median(timed(client, page) for _ in range(args.repeat))
            rows.append((page, first, warm))
            print(f"{page[:34]:34} {first:8.2f} {warm * 1000:8.1f} {warm / health:9.1f}")
        print(f"a new filter (segment {segment}): computed on first request, then cached:")
        for page in PAGES:
            url = page + ("&" if "?" in page else "?") + f"segment={segment}"
            cold = timed(client, url)
            warm = statistics.median(timed(client, url) for _ in range(args.repeat))
            rows.append((url, cold, warm))
            print(f"{url[:34]:34} {cold:8.2f} {warm * 1000:8.1f} {warm / health:9.1f}")
        worst = max(w for _, _, w in rows)
        print(f"slowest warm page: {worst * 1000:.0f} ms (target < 1000 ms): {'OK' if worst < 1 else 'MISSED'}")
    finally:
        proc.terminate()
        proc.wait(timeout=60)


if __name__ == "__main__":
    main()
