"""Benchmark: conformance (alignments) against pm4py's alignments per variant and a bare scan.

Target (issue 17), on 1M customers of generated journeys over a 5-stage, 20-touchpoint map:
parcours' alignment of a variant at least 10x faster than pm4py's on the same variants and the
net parcours exports (pm4py runs on a sample of variants; its time is extrapolated per variant).
Also printed: the whole ``conformance_customers`` (sequences through the engine, one alignment per
variant, fitness and deviations per customer) beside a bare scan that reads the same columns of
the journey relation in the same order.

Customers walk the stages in order with a few seeded mistakes (a skipped stage, a repeated or
out-of-order touchpoint, a step back) and stop after any stage, so there are many variants.

    .venv/bin/python bench/conformance_bench.py [--customers 1000000] [--seed 1] [--pm4py-sample 200]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

STAGES = ("aware", "consider", "decide", "buy", "retain")
JOURNEY = "\n".join(
    [f'[[stages]]\nname = "{s}"\n' for s in STAGES]
    + [f'[[touchpoints]]\nname = "{s}_{k}"\nstage = "{s}"\nchannel = "web"\nmatch = "{s}_{k}"\n'
       + ("moment_of_truth = true\nrepeatable = false\n" if k == 0 and s in ("decide", "buy") else "")
       + ('after = ["buy_0"]\n' if (s, k) == ("buy", 1) else "")
       for s in STAGES for k in range(4)]
)


def generate(customers: int, seed: int, path: Path) -> int:
    rng = random.Random(seed)
    users, events, times = [], [], []
    base = 1_700_000_000
    for c in range(customers):
        seq: list[str] = []
        last = rng.choices(range(5), weights=(30, 25, 20, 15, 10))[0]
        for k in range(last + 1):
            s = STAGES[k]
            if k and rng.random() < 0.05:
                continue  # skipped stage
            picks = [f"{s}_0"] if s in ("decide", "buy") and rng.random() > 0.1 else []
            picks += [f"{s}_{rng.randrange(4)}" for _ in range(rng.randint(0, 2))]
            if not picks:
                picks = [f"{s}_{rng.randrange(4)}"]
            rng.shuffle(picks) if rng.random() < 0.1 else None
            seq += picks
            if k and rng.random() < 0.03:
                seq.append(f"{STAGES[k - 1]}_{rng.randrange(4)}")  # back to an earlier stage
        t = base + c
        for i, e in enumerate(seq):
            users.append(f"c{c:07d}")
            events.append(e)
            times.append((t + i * 60) * 1_000_000)
    table = pa.table({"user_id": users, "event": events,
                      "timestamp": pa.array(times, pa.timestamp("us", tz="UTC"))})
    pq.write_table(table, path)
    return len(users)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pm4py-sample", type=int, default=200)
    args = parser.parse_args()
    import parcours
    from parcours.analytics.conformance.align import align, reachability
    from parcours.analytics.conformance.conformance import SEP, conformance_customers, customer_sequences
    from parcours.analytics.conformance.export import export_journey
    from parcours.analytics.conformance.net import journey_net
    from parcours.analytics.filters import events_sql

    with tempfile.TemporaryDirectory(prefix="parcours-conformance-bench-") as tmp:
        parquet, db = Path(tmp) / "log.parquet", Path(tmp) / "bench.duckdb"
        t = time.perf_counter()
        n = generate(args.customers, args.seed, parquet)
        gen = time.perf_counter() - t
        store = parcours.open(db)
        store.set_journey(JOURNEY, "bench")
        t = time.perf_counter()
        parcours.import_file(store, parquet, fmt="parquet")
        load = time.perf_counter() - t
        print(f"events {n:,}  customers {args.customers:,}  (generate {gen:.1f}s, import {load:.1f}s)  "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)

        customer_sequences(store)  # warm-up: builds the journey table once, as every analysis shares it
        t = time.perf_counter()
        rows = store.engine.arrow(f"SELECT customer_id, touchpoint, event FROM ({events_sql(store)}) j "
                                  "ORDER BY customer_id, timestamp").num_rows
        bare = time.perf_counter() - t
        t = time.perf_counter()
        seqs = customer_sequences(store)
        seq_time = time.perf_counter() - t
        variants = [v.split(SEP) for v in seqs["sequence"].unique() if v]
        graph = reachability(journey_net(store.config))
        align(graph, variants[0])  # compile the kernel first: not part of any pass after the first
        t = time.perf_counter()
        per = conformance_customers(store)
        whole = time.perf_counter() - t
        print(f"bare scan (ORDER BY customer, time; {rows:,} rows) {bare:.2f}s   sequences via map_groups "
              f"{seq_time:.2f}s   conformance_customers {whole:.2f}s ({len(per):,} customers, {len(variants):,} variants, "
              f"mean fitness {per['fitness'].mean():.4f})   {whole / bare:.1f}x bare", flush=True)

        t = time.perf_counter()
        mine = [align(graph, v).fitness for v in variants]
        ours = (time.perf_counter() - t) / len(variants)
        print(f"where conformance_customers' {whole:.2f}s go: sequences {seq_time:.2f}s, alignments "
              f"{ours * len(variants):.2f}s ({len(variants):,} variants), deviations and the per-customer table "
              f"{max(whole - seq_time - ours * len(variants), 0):.2f}s (the rest)", flush=True)

        import pm4py
        from pm4py.objects.log.obj import Event, EventLog, Trace

        net, im, fm = pm4py.read_pnml(str(export_journey(store.config, Path(tmp) / "bench.pnml")))
        sample = random.Random(args.seed).sample(range(len(variants)), min(args.pm4py_sample, len(variants)))
        log = EventLog([Trace([Event({"concept:name": a}) for a in variants[i]]) for i in sample])
        t = time.perf_counter()
        res = pm4py.conformance_diagnostics_alignments(log, net, im, fm, multi_processing=False)
        theirs = (time.perf_counter() - t) / len(sample)
        equal = sum(abs(r["fitness"] - mine[i]) < 1e-12 for r, i in zip(res, sample, strict=True))
        print(f"per variant: parcours {ours * 1e6:.1f} us, pm4py {theirs * 1e6:.1f} us (sample of {len(sample)}, "
              f"fitness equal on {equal}/{len(sample)})   {theirs / ours:.0f}x faster (target >= 10x)   "
              f"pm4py extrapolated to all variants {theirs * len(variants):.1f}s vs parcours {ours * len(variants):.2f}s   "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
        store.close()


if __name__ == "__main__":
    main()
