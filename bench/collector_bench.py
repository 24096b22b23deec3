"""Collector load on loopback: accepted events/s and p50/p99 latency, durable acknowledgement.

Runs, in one go and on the same machine: a bare FastAPI "hello" endpoint on uvicorn (the
framework's own ceiling), then ``parcours serve`` with single events (POST /v1/track)
and batches of 100 (POST /v1/batch). Each phase is bounded in time and count. Every
200 from the collector means the events were fsync'd to its write-ahead log.

    python bench/collector_bench.py [--seconds 5] [--concurrency 32]

Target (issue 9): 20,000 events/s in batches on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from server_process import Server, create_key, free_port, settled  # noqa: E402

HELLO = """
import uvicorn
from fastapi import FastAPI
app = FastAPI()
@app.post("/hello")
async def hello():
    return {"hello": "world"}
uvicorn.run(app, host="127.0.0.1", port=int(__import__("sys").argv[1]), log_level="warning", access_log=False)
"""


async def load(url: str, make_body, events_per_request: int, seconds: float, concurrency: int,
               max_requests: int, auth=None) -> dict:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    counter = iter(range(max_requests))

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for n in counter:
            if time.perf_counter() > deadline:
                return
            t0 = time.perf_counter()
            r = await client.post(url, json=make_body(n), auth=auth)
            latencies.append(time.perf_counter() - t0)
            if r.status_code != 200:
                errors += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    ok = len(latencies) - errors
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {"requests": len(latencies), "errors": errors, "req_s": len(latencies) / elapsed,
            "events": ok * events_per_request,
            "events_s": ok * events_per_request / elapsed, "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(pid: int, run, url: str | None = None) -> dict:
    """``run()``'s figures plus the CPU seconds the server process spent meanwhile (and, for the
    collector at ``url``, until its log is applied): events per server CPU-second hardly depend
    on how loaded the machine is, unlike events per second."""
    before = cpu_seconds(pid)
    r = run()
    if url:
        with httpx.Client(base_url=url, timeout=30) as http:
            settled(http, timeout=300)
    r["cpu_s"] = cpu_seconds(pid) - before
    r["events_per_cpu_s"] = r["events"] / r["cpu_s"] if r["cpu_s"] else float("nan")
    return r


def load_average() -> str:
    """The machine's load (1, 5, 15 min), as ``uptime`` shows it: figures depend on it."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def show(name: str, r: dict) -> None:
    print(f"{name:<22} {r['requests']:>8,} req {r['errors']:>5} err {r['req_s']:>9,.0f} req/s "
          f"{r['events_s']:>10,.0f} events/s   p50 {r['p50_ms']:7.1f} ms   p99 {r['p99_ms']:7.1f} ms   "
          f"{r['events_per_cpu_s']:>9,.0f} per server CPU-s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="Length of each phase.")
    ap.add_argument("--concurrency", type=int, default=32, help="Requests in flight.")
    ap.add_argument("--max-requests", type=int, default=200_000, help="Cap per phase.")
    args = ap.parse_args()
    print(f"cpus: {os.cpu_count()}, concurrency {args.concurrency}, {args.seconds:g} s per phase")
    print(f"load at start: {load_average()}")

    port = free_port()
    hello = subprocess.Popen([sys.executable, "-c", HELLO, str(port)])
    try:
        for _ in range(300):
            try:
                httpx.post(f"http://127.0.0.1:{port}/hello", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        base = measured(hello.pid, lambda: asyncio.run(load(
            f"http://127.0.0.1:{port}/hello", lambda n: {}, 1, args.seconds, args.concurrency, args.max_requests)))
    finally:
        hello.terminate()
        hello.wait(timeout=10)
    show("hello (bare FastAPI)", base)

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        key = create_key(db, "write", "bench")
        with Server(db, "--max-batch", "1000") as srv:
            run = os.getpid()

            def single(n: int) -> dict:
                return {"messageId": f"{run}-s{n}", "userId": f"user-{n % 5000}", "event": "product_view",
                        "properties": {"sku": n % 300, "price": 19.9}, "context": {"ip": "203.0.113.9"}}

            def batch(n: int) -> dict:
                return {"batch": [{"type": "track", "messageId": f"{run}-b{n}-{i}", "userId": f"user-{(n + i) % 5000}",
                                   "event": "product_view", "properties": {"sku": i, "price": 19.9}}
                                  for i in range(100)]}

            one = measured(srv.proc.pid, lambda: asyncio.run(load(
                srv.url + "/v1/track", single, 1, args.seconds, args.concurrency, args.max_requests, auth=(key, ""))),
                           srv.url)
            show("collector single", one)
            hundred = measured(srv.proc.pid, lambda: asyncio.run(load(
                srv.url + "/v1/batch", batch, 100, args.seconds, args.concurrency, args.max_requests // 100,
                auth=(key, ""))), srv.url)
            show("collector batch x100", hundred)
            metrics = httpx.get(srv.url + "/metrics", timeout=10).json()
        print(f"accepted {metrics['accepted']:,} events in {metrics['wal_commits']:,} fsyncs "
              f"({metrics['accepted'] / max(metrics['wal_commits'], 1):.1f} events per fsync: group commit)")
    print(f"load at end: {load_average()}")
    print(f"single-event requests/s vs bare hello: {one['req_s'] / base['req_s']:.2f}x")
    print(f"batch-of-100 requests/s vs bare hello: {hundred['req_s'] / base['req_s']:.2f}x "
          f"({hundred['events_s'] / base['req_s']:.1f} events per hello request)")
    print(f"per server CPU-second: hello {base['events_per_cpu_s']:,.0f} requests, collector "
          f"{hundred['events_per_cpu_s']:,.0f} batched events ({hundred['events_per_cpu_s'] / base['events_per_cpu_s']:.1f} "
          f"events per hello request), log applied to DuckDB included")
    print(f"batched events/s: {hundred['events_s']:,.0f} (target 20,000 on 2 cores: "
          f"{'met' if hundred['events_s'] >= 20_000 else 'NOT met'})")


if __name__ == "__main__":
    main()
