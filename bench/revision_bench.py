"""Before/after: the same analyses, through the CLI, on two revisions of parcours, interleaved.

Refactors that must not change behaviour or speed (issue 18's query layer) are checked here:
for each command, both revisions run it on copies of one demo store, alternately, ``--repeat``
times; the bench prints each revision's median wall time, the ratio after/before, and whether
both printed the same answer (JSON compared as parsed values, float noise aside).

    python bench/revision_bench.py --before e5e844e            # against the working tree
    python bench/revision_bench.py --before e5e844e --after HEAD --customers 50000 --repeat 5

Each revision is checked out into a temporary folder (``git worktree``) and imported from its
``src`` with the current virtual environment. Wall times include the CLI's start-up, which is
the same code in both unless the revisions changed it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: the analyses compared: one CLI command line each (after ``--db PATH``), all with ``--format json``
COMMANDS = {
    "stats": ["stats"],
    "funnel": ["funnel", "stage:awareness", "stage:consideration", "stage:decision"],
    "funnel clickhouse": ["funnel", "stage:awareness", "stage:decision", "--semantics", "clickhouse"],
    "stages": ["stages"],
    "paths": ["paths", "--top", "20"],
    "dfg": ["paths", "--dfg"],
    "friction": ["friction"],
    "retention": ["retention"],
    "attribution": ["attribution"],
    "voc scores": ["voc", "scores"],
    "voc emotion": ["voc", "emotion"],
    "conformance": ["conformance"],
    "filtered funnel": ["funnel", "stage:awareness", "stage:decision", "--where", "channel = 'web'",
                        "--from", "2024-01-01"],
    "personas": ["personas"],
}


def checkout(revision: str, into: Path) -> Path:
    """``revision``'s source tree in ``into`` (the working tree itself for ``WORKTREE``)."""
    if revision == "WORKTREE":
        return ROOT
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(into), revision], check=True)
    return into


def run(src: Path, db: Path, args: list[str]) -> tuple[float, object]:
    env = {**os.environ, "PYTHONPATH": str(src / "src")}
    cmd = [sys.executable, "-m", "parcours.cli.main", "--db", str(db), *args, "--format", "json"]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if out.returncode != 0:
        return elapsed, f"exit {out.returncode}: {out.stderr.strip().splitlines()[-1:]}"
    return elapsed, json.loads(out.stdout)


def same(a: object, b: object) -> bool:
    """Equal as values, floats within 1e-9 relative (sums in another order)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, help="git revision of the baseline")
    parser.add_argument("--after", default="WORKTREE", help="git revision to compare (default: the working tree)")
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="parcours-revisions-") as tmp:
        tmp = Path(tmp)
        trees = {"before": checkout(args.before, tmp / "before"), "after": checkout(args.after, tmp / "after")}
        try:
            seed = tmp / "seed.duckdb"
            demo = subprocess.run(
                [sys.executable, "-m", "parcours.cli.main", "--db", str(seed), "demo", "--customers",
                 str(args.customers), "--seed", "7"],
                env={**os.environ, "PYTHONPATH": str(trees["before"] / "src")}, capture_output=True, text=True)
            if demo.returncode != 0:
                sys.exit(f"demo store: {demo.stderr.strip()}")
            dbs = {}
            for name in trees:
                dbs[name] = tmp / f"{name}.duckdb"
                shutil.copy(seed, dbs[name])
                run(trees[name], dbs[name], ["stats"])  # warm: migrations, derived tables
            print(f"{args.customers:,} demo customers; before = {args.before}, after = {args.after}; "
                  f"median of {args.repeat} interleaved runs; load {os.getloadavg()[0]:.1f}")
            print(f"{'command':<18}{'before s':>10}{'after s':>10}{'after/before':>14}  same answer")
            for label, command in COMMANDS.items():
                times: dict[str, list[float]] = {"before": [], "after": []}
                answers: dict[str, object] = {}
                for _ in range(args.repeat):
                    for name in trees:
                        elapsed, answers[name] = run(trees[name], dbs[name], command)
                        times[name].append(elapsed)
                b, a = statistics.median(times["before"]), statistics.median(times["after"])
                failed = [f"{n}: {a}" for n, a in answers.items() if isinstance(a, str)]
                verdict = "failed: " + "; ".join(failed) if failed else (
                    "yes" if same(answers["before"], answers["after"]) else "NO")
                print(f"{label:<18}{b:>10.2f}{a:>10.2f}{a / b:>14.2f}  {verdict}")
        finally:
            for tree in trees.values():
                if tree != ROOT:
                    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)


if __name__ == "__main__":
    main()
