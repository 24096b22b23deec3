"""CLI start time against ``python -c "import duckdb"`` (issue 15), with the import-time breakdown.

Target: ``parcours --help`` and a command on an empty store (``parcours quarantine``) within
3x the time of importing DuckDB, measured here in the same run (best of ``repeat`` fresh
interpreters, since the machine is shared). Then the ``python -X importtime`` breakdown of
``--help``: the top-level packages that cost the most, cumulative, so the next lazy import
to make is the first line. ``python bench/cli_startup_bench.py [repeat]``.
"""

from __future__ import annotations

import os
import re
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


def _timed(*args: str) -> float:
    def once() -> None:
        r = _python(*args)
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(args)}: exit {r.returncode}: {r.stderr.strip()[-300:]}")
    return best_of(once, REPEAT)[0]


def breakdown(top: int = 12) -> list[tuple[str, float]]:
    """Cumulative import time (s) of the modules ``--help`` loads, largest first, parcours' own and top-level ones."""
    err = _python("-X", "importtime", "-m", "parcours.cli.main", "--help").stderr
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
        runs = {"parcours --help": _timed("-m", "parcours.cli.main", "--help"),
                "parcours quarantine (empty store)": _timed("-m", "parcours.cli.main", "--db", store, "quarantine")}
    print(f"python -c 'import duckdb': {base:.2f} s (baseline, best of {REPEAT}); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name, t in runs.items():
        verdict = "ok" if t <= TARGET * base else f"over the {TARGET:.0f}x target"
        print(f"{name}: {t:.2f} s = {t / base:.1f}x the baseline ({verdict})")
    print("import-time breakdown of --help (cumulative seconds):")
    for module, seconds in breakdown():
        print(f"  {seconds:6.2f}  {module}")
    print(f"(bench took {time.perf_counter() - start:.0f} s)")
