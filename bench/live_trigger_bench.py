"""How soon a live webhook leaves after its event is acknowledged, under a steady load.

``parcours serve`` runs with a ``stage_entered`` webhook (stage ``decision``) pointing at a
local HTTP receiver. Senders post ``--rate`` events/s (default 1,000; batches of 50 every
50 ms) of customers browsing; once a second one new customer puts something in a cart,
which enters ``decision``. For each such customer the delay from the 200 of its batch to
the webhook's arrival at the receiver is recorded. Printed: p50/p95/max delay and the
share within 2 s (target: all), with the load actually achieved.

    python bench/live_trigger_bench.py [--seconds 30] [--rate 1000] [--preload 1000000]

``--preload N`` first writes N seeded events of other customers into the store (the generator
of ``scale_bench.py``, stitched), so that the delay is measured beside a store of that size:
the triggers look only at the customers whose events just arrived, so it should not grow with N.
The server's start (its first look builds the live state and the derived tables of all N
events) is timed separately: the server accepts events only after it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from server_process import Server, cli, create_key  # noqa: E402

from parcours.config import template_text  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--preload", type=int, default=0, help="events already in the store before the run")
    args = ap.parse_args()
    arrivals: dict[str, float] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            arrivals.setdefault(body["customer_id"], time.monotonic())
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "live.duckdb"
        key = create_key(db, "write", "web")
        if args.preload:
            preload(db, args.preload)
        journey = Path(tmp) / "journey.toml"
        journey.write_text(template_text("five-stages") + f'\n[[webhooks]]\nname = "carts"\nurl = "{url}"\n'
                           'secret = "s"\ntrigger = "stage_entered"\nstage = "decision"\n')
        assert cli(db, "journey", "set", str(journey)).returncode == 0
        acked: dict[str, float] = {}
        per_batch = 50
        interval = per_batch / args.rate
        starting = time.monotonic()
        with Server(db) as srv, httpx.Client(base_url=srv.url, auth=(key, ""), timeout=30) as http:
            print(f"start           ready in {time.monotonic() - starting:.2f} s (the first look at every customer: "
                  "before the clock)")
            t0 = time.monotonic()
            n = sent = 0
            while time.monotonic() - t0 < args.seconds:
                batch = [{"type": "track", "userId": f"browser-{(n * per_batch + i) % 20000}", "event": "product_view",
                          "messageId": f"v{n}-{i}"} for i in range(per_batch)]
                buyer = None
                if n % max(1, int(1 / interval)) == 0:
                    buyer = f"buyer-{n}"
                    batch[-1] = {"type": "track", "userId": buyer, "event": "add_to_cart", "messageId": f"c{n}"}
                r = http.post("/v1/batch", json={"batch": batch})
                if r.status_code == 200:
                    sent += per_batch
                    if buyer:
                        acked[buyer] = time.monotonic()
                n += 1
                time.sleep(max(0.0, t0 + n * interval - time.monotonic()))
            elapsed = time.monotonic() - t0
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not acked.keys() <= arrivals.keys():
                time.sleep(0.05)
    receiver.shutdown()
    delays = sorted(arrivals[c] - t for c, t in acked.items() if c in arrivals)
    missing = len(acked) - len(delays)
    print(f"load            {sent / elapsed:,.0f} events/s for {elapsed:.0f} s; load average {os.getloadavg()[0]:.1f}")
    print(f"webhooks        {len(delays)} received of {len(acked)} expected (missing {missing})")
    if delays:
        p95 = delays[min(len(delays) - 1, int(0.95 * len(delays)))]
        print(f"delay           p50 {statistics.median(delays):.2f} s, p95 {p95:.2f} s, max {delays[-1]:.2f} s; "
              f"within 2 s: {sum(d <= 2 for d in delays) / len(delays):.0%} (target 100%)")


def preload(db: Path, events: int) -> None:
    """``events`` seeded events of other customers, stitched (``scale_bench.generate``)."""
    from scale_bench import generate

    import parcours

    with parcours.open(db) as store:
        generate(store, events, seed=3)
        store.con.execute("SELECT nextval('batch_seq')")  # the generator wrote batch 1 itself
        parcours.stitch(store)
    print(f"preloaded       {events:,} events")


if __name__ == "__main__":
    main()
