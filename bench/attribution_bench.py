"""Attribution speed: parcours beside ChannelAttribution on the same generated paths, same run.

    .venv/bin/python bench/attribution_bench.py [--rows 1000000] [--seed 7]

Generates a seeded aggregated path table (12 channels, 1-20 touches, conversions depending on
the channels touched), then times on it:

- heuristics: parcours' first/last/linear (one ``attribution`` call, path parsing included)
  against ChannelAttribution's ``heuristic_models`` (which also parses the path strings);
- Markov order 1: parcours' exact absorbing-chain solution (parsing included) against
  ChannelAttribution's ``markov_model`` (simulation, its defaults, one core);

and prints the times, the ratios (ChannelAttribution / parcours: above 1 means parcours is
faster) and how far the results are apart. ChannelAttribution is a test-extra dependency
(GPL, never imported by the package); without it the script says so and prints its documented
timings from the shared case README instead, labelled as such.
"""

from __future__ import annotations

import argparse
import contextlib
import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from timing import best_of

from parcours.analytics.attribution import attribute_paths

CHANNELS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mi"]
#: ChannelAttribution's timings on a generated 1M-row set, from ../shared/cases/attribution/README.md
PEER_DOCUMENTED = {"heuristic_models": 1.6, "markov_model order 1": 3.6}


def generate(rows: int, seed: int) -> pd.DataFrame:
    """A seeded path table: Zipf-like channel popularity, channel-dependent conversion rates."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, len(CHANNELS) + 1)
    popularity /= popularity.sum()
    lengths = np.minimum(1 + rng.geometric(0.35, rows) - 1, 20)
    touches = rng.choice(len(CHANNELS), size=int(lengths.sum()), p=popularity)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    names = pa.array(np.asarray(CHANNELS, dtype=object)[touches], type=pa.string())
    paths = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), names), " > ")
    lift = rng.uniform(0.02, 0.3, len(CHANNELS))
    rate = 1 - np.exp(-np.add.reduceat(lift[touches], offsets[:-1]))
    journeys = 1 + rng.poisson(4, rows)
    conversions = rng.binomial(journeys, np.clip(rate, 0, 0.95))
    value = np.round(conversions * rng.lognormal(3, 0.5, rows), 3)
    return pd.DataFrame({"path": paths.to_numpy(zero_copy_only=False), "total_conversions": conversions,
                         "total_conversion_value": value, "total_null": journeys - conversions})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    t_gen, data = best_of(lambda: generate(args.rows, args.seed))
    print(f"generated {len(data):,} path rows (seed {args.seed}) in {t_gen:.1f} s: "
          f"{int(data.total_conversions.sum()):,} conversions, {int(data.total_null.sum()):,} nulls")

    t_heur, ours_h = best_of(lambda: attribute_paths(data, ["first_touch", "last_touch", "linear"]), repeat=2)
    t_markov, ours_m = best_of(lambda: attribute_paths(data, "markov"), repeat=2)
    print(f"parcours heuristics (first, last, linear; parsing included): {t_heur:8.3f} s")
    print(f"parcours Markov order 1, exact (parsing included):           {t_markov:8.3f} s")
    for order in (2, 3):
        t, _ = best_of(lambda o=order: attribute_paths(data, "markov", order=o))
        print(f"parcours Markov order {order}, exact (for reference):            {t:8.3f} s")
    t_shap, _ = best_of(lambda: attribute_paths(data, "shapley"))
    print(f"parcours Shapley, exact (for reference):                     {t_shap:8.3f} s")

    try:
        import ChannelAttribution as ca
    except ImportError:
        print("\nChannelAttribution is not installed (pip install channelattribution): it could not be timed here.")
        print("Its DOCUMENTED timings on another generated 1M-row set (shared case README, 2 cores), NOT measured now:")
        for name, seconds in PEER_DOCUMENTED.items():
            print(f"  documented ChannelAttribution {name}: {seconds} s")
        return

    quiet = contextlib.redirect_stdout(io.StringIO())
    with quiet:
        t_ca_h, ca_h = best_of(lambda: ca.heuristic_models(data, "path", "total_conversions",
                                                         var_value="total_conversion_value", sep=">"), repeat=2)
        t_ca_m, ca_m = best_of(lambda: ca.markov_model(data, "path", "total_conversions",
                                                     var_value="total_conversion_value", var_null="total_null",
                                                     order=1, sep=">", verbose=False, seed=0))
    print(f"ChannelAttribution heuristic_models:                         {t_ca_h:8.3f} s")
    print(f"ChannelAttribution markov_model order 1 (simulated):         {t_ca_m:8.3f} s")
    print(f"speed-up heuristics: {t_ca_h / t_heur:5.1f}x   Markov order 1: {t_ca_m / t_markov:5.1f}x "
          "(ChannelAttribution time / parcours time; above 1 = parcours faster)")

    wide = ours_h.pivot(index="channel", columns="model", values="conversions")
    ref = ca_h.set_index("channel_name")
    worst = max(float(np.max(np.abs(wide[m].loc[ref.index] / ref[f"{p}_conversions"] - 1)))
                for m, p in (("first_touch", "first_touch"), ("last_touch", "last_touch"), ("linear", "linear_touch")))
    print(f"heuristics agree to {worst:.1e} relative")
    markov_ref = (ca_m["result"] if isinstance(ca_m, dict) else ca_m).set_index("channel_name")["total_conversions"]
    diff = (ours_m.set_index("channel")["conversions"].loc[markov_ref.index] - markov_ref).abs()
    total = data.total_conversions.sum()
    print(f"Markov: exact vs one simulated run differ by at most {diff.max() / total:.2%} of conversions per "
          f"channel, {diff.sum() / total:.2%} in all")


if __name__ == "__main__":
    main()
