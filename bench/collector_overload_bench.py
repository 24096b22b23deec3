"""Collector under sustained overload: the backlog stays bounded and nothing acknowledged is lost.

Senders post batches of 100 as fast as they can for ``--seconds`` (default 60) against
``parcours serve --max-backlog N``; a 503 is counted and retried after a short pause (as
Segment's and RudderStack's clients do, honouring Retry-After up to ``--max-pause``).
Printed: accepted events/s, the share of requests answered 503, the server's peak RSS
(from /proc, sampled every 0.2 s) and its peak backlog, and the drain time (from the end of
the load until every acknowledged event is in the store). Then every acknowledged
message id is checked in the store.

    python bench/collector_overload_bench.py [--seconds 60] [--concurrency 32] [--max-backlog 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from server_process import Server, create_key  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def overload(url: str, key: str, seconds: float, concurrency: int, max_pause: float) -> dict:
    acked: list[str] = []
    counts = {"ok": 0, "busy": 0, "other": 0}
    deadline = time.perf_counter() + seconds

    async def worker(client: httpx.AsyncClient, w: int) -> None:
        n = 0
        while time.perf_counter() < deadline:
            ids = [f"w{w}-{n}-{i}" for i in range(100)]
            batch = [{"type": "track", "messageId": m, "userId": f"user-{(n * 100 + i) % 5000}",
                      "event": "product_view", "properties": {"sku": f"sku-{i}"}} for i, m in enumerate(ids)]
            n += 1
            r = await client.post("/v1/batch", json={"batch": batch})
            if r.status_code == 200:
                counts["ok"] += 1
                acked.extend(ids)
            elif r.status_code == 503:
                counts["busy"] += 1
                await asyncio.sleep(min(float(r.headers.get("Retry-After", "1")), max_pause))
            else:
                counts["other"] += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, auth=(key, ""), limits=limits, timeout=60) as client:
        await asyncio.gather(*(worker(client, w) for w in range(concurrency)))
    return {"acked": acked, **counts}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--max-backlog", type=int, default=100_000)
    ap.add_argument("--max-pause", type=float, default=0.5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "overload.duckdb"
        key = create_key(db, "write", "web")
        with Server(db, "--max-backlog", str(args.max_backlog)) as srv:
            peak = {"rss": 0.0, "backlog": 0}
            stop = threading.Event()

            def sample() -> None:
                with httpx.Client(base_url=srv.url, timeout=10) as http:
                    while not stop.is_set():
                        peak["rss"] = max(peak["rss"], rss_mb(srv.proc.pid))
                        with contextlib.suppress(httpx.HTTPError):
                            peak["backlog"] = max(peak["backlog"], http.get("/metrics").json()["queue_depth"])
                        time.sleep(0.2)

            sampler = threading.Thread(target=sample)
            sampler.start()
            t0 = time.perf_counter()
            result = asyncio.run(overload(srv.url, key, args.seconds, args.concurrency, args.max_pause))
            load_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            with httpx.Client(base_url=srv.url, timeout=10) as http:
                while http.get("/metrics").json()["queue_depth"] > 0:
                    time.sleep(0.05)
            drain_s = time.perf_counter() - t1
            stop.set()
            sampler.join()
        import parcours

        with parcours.open(db) as store:
            stored = store.execute("SELECT count(DISTINCT message_id) FROM events").fetchone()[0]
    requests = result["ok"] + result["busy"] + result["other"]
    acked = len(result["acked"])
    print(f"load            {load_s:.1f} s, {args.concurrency} senders, batches of 100, "
          f"max backlog {args.max_backlog:,} events, load average {os.getloadavg()[0]:.1f}")
    print(f"accepted        {acked / load_s:,.0f} events/s ({acked:,} events)")
    print(f"503 share       {result['busy'] / max(requests, 1):.1%} of {requests:,} requests "
          f"(other errors: {result['other']})")
    print(f"peak RSS        {peak['rss']:,.0f} MB (server process); peak backlog {peak['backlog']:,} events")
    print(f"drain time      {drain_s:.1f} s after the load stopped")
    print(f"stored          {stored:,} distinct events; acknowledged and missing: {max(acked - stored, 0)}")
    if stored < acked:
        sys.exit("acknowledged events are missing")


if __name__ == "__main__":
    main()
