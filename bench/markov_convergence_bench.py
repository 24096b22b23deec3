"""Markov orders 2-3: ChannelAttribution's simulated estimates converge to parcours' exact answer.

    .venv/bin/python bench/markov_convergence_bench.py [--sims 2000000] [--seeds 5] [--orders 2 3]

On ChannelAttribution's own ``Data.csv`` (../shared/cases/attribution/), for each order: runs
ChannelAttribution's ``markov_model`` ``--seeds`` times (seeds 1..N, ``nsim_start=--sims``,
``nfold=1`` so that each run is one plain estimate from that many simulated journeys) and prints,
per channel, parcours' exact conversions (``states="channelattribution"``), the runs' mean, their
standard error (standard deviation / sqrt(runs)) and how many standard errors the mean is from
the exact answer; then the largest |mean - exact| as a share of all conversions, and the times
(parcours exact vs one ChannelAttribution run). The in-suite test does the same at 100,000
journeys x 8 seeds (tests/test_attribution_markov_orders.py); this script shows the spread
shrinking with more journeys. ChannelAttribution is a test-extra dependency (GPL), never
imported by the package.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from timing import best_of

from parcours.analytics.attribution import markov, read_paths

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "cases" / "attribution" / "Data.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=2_000_000, help="simulated journeys per ChannelAttribution run")
    parser.add_argument("--seeds", type=int, default=5, help="independent runs (seeds 1..N)")
    parser.add_argument("--orders", type=int, nargs="+", default=[2, 3])
    args = parser.parse_args()
    try:
        from ChannelAttribution import markov_model
    except ImportError:
        sys.exit("ChannelAttribution is not installed (pip install -e '.[test]'): nothing to compare")
    if not DATA.exists():
        sys.exit(f"{DATA} is absent: this bench needs the shared data sets beside the clone")
    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    data = pd.read_csv(DATA, sep=";")
    paths = read_paths(DATA, sep=">")
    total = data["total_conversions"].sum()
    for order in args.orders:
        t_exact, result = best_of(lambda order=order: markov(paths, order), repeat=2)
        exact = result.attribution.set_index("channel")["conversions"]
        runs, t_peer = [], []
        for seed in range(1, args.seeds + 1):
            with contextlib.redirect_stdout(io.StringIO()):  # its banner
                t, res = best_of(lambda seed=seed, order=order: markov_model(
                    data, "path", "total_conversions", var_value="total_conversion_value", var_null="total_null",
                    order=order, nsim_start=args.sims, nfold=1, seed=seed, verbose=False, flg_pro=False))
            t_peer.append(t)
            runs.append(res.set_index("channel_name")["total_conversions"])
        runs = pd.concat(runs, axis=1)
        mean, se = runs.mean(axis=1), runs.std(axis=1, ddof=1) / np.sqrt(runs.shape[1])
        table = pd.DataFrame({"exact": exact.loc[mean.index], "peer mean": mean, "peer se": se})
        table["z"] = (table["peer mean"] - table["exact"]) / table["peer se"]
        print(f"\norder {order}: {args.seeds} ChannelAttribution runs of {args.sims:,} journeys each")
        print(table.round(3).to_string())
        print(f"largest |mean - exact|: {(table['peer mean'] - table['exact']).abs().max() / total:.2e} of all "
              f"conversions; largest |z| {table['z'].abs().max():.2f}")
        print(f"time: parcours exact {t_exact:.3f} s, ChannelAttribution one run {np.median(t_peer):.2f} s (median)")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
