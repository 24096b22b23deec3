"""CLI start time against ``python -c "import duckdb"`` (issue 15), with the import-time breakdown.

Target: ``parcours --help`` and a command on an empty store (``parcours quarantine``) within
3x the time of importing DuckDB, measured here in the same run (best of ``repeat`` fresh
interpreters, since the machine is shared). Then the ``python -X importtime`` breakdown of
both: the top-level packages (and parcours modules) that cost the most, cumulative, so the
next lazy import to make is the first line. ``python bench/cli_startup_bench.py [repeat]``.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import best_of

SRC = Path(__file__).resolve().parents[1] / "src"
TARGET = 3.0


def _python(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(SRC), **(env or {})})


def _timed(*args: str) -> tuple[float, float]:
    """Best wall-clock and best CPU (user + system) seconds of ``python ARGS`` over ``REPEAT`` runs.

    CPU time is the steadier figure on a loaded machine: waiting for a core adds wall time only.
    """
    cpu = []

    def once() -> None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = _python(*args)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(args)}: exit {r.returncode}: {r.stderr.strip()[-300:]}")
    return best_of(once, REPEAT)[0], min(cpu)


def breakdown(*args: str, top: int = 10) -> list[tuple[str, float]]:
    """Cumulative import time (s) of the modules ``parcours ARGS`` loads, largest first, parcours' own and top-level ones."""
    err = _python("-X", "importtime", "-m", "parcours.cli.main", *args).stderr
    rows = []
    for line in err.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if m and (len(m.group(2)) <= 3 or m.group(3).startswith("parcours")):
            rows.append((m.group(3), int(m.group(1)) / 1e6))
    return sorted(rows, key=lambda r: -r[1])[:top]


if __name__ == "__main__":
    REPEAT = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    start = time.perf_counter()
    base = _timed("-c", "import duckdb")
    with tempfile.TemporaryDirectory() as tmp:
        store = str(Path(tmp) / "empty.duckdb")
        # an empty store: created by a failed import of an empty file is not possible, so by opening it once
        _python("-c", f"import parcours; parcours.open({store!r}).close()")
        commands = {"parcours --help": ["--help"], "parcours quarantine (empty store)": ["--db", store, "quarantine"]}
        runs = {name: _timed("-m", "parcours.cli.main", *args) for name, args in commands.items()}
        print(f"python -c 'import duckdb': {base[0]:.2f} s wall, {base[1]:.2f} s CPU (baseline, best of {REPEAT}); "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        for name, (wall, cpu) in runs.items():
            verdict = "ok" if wall <= TARGET * base[0] else f"over the {TARGET:.0f}x target"
            print(f"{name}: {wall:.2f} s wall = {wall / base[0]:.1f}x the baseline ({verdict}); "
                  f"{cpu:.2f} s CPU = {cpu / base[1]:.1f}x")
        for name, args in commands.items():
            print(f"import-time breakdown of {name} (cumulative seconds):")
            for module, seconds in breakdown(*args):
                print(f"  {seconds:6.2f}  {module}")
    print(f"(bench took {time.perf_counter() - start:.0f} s)")
