"""The CLI starts without loading the heavy libraries: scikit-learn, SciPy, Numba, PySpark, Plotly
and the server's FastAPI load only when a command that needs them runs.

The checks run in a fresh interpreter (this test process has imported them all already)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("sklearn", "scipy", "numba", "pyspark", "plotly", "fastapi")

#: runs the CLI once per argument list in one interpreter, then prints the heavy top-level
#: packages it holds (a package loaded by any of the runs stays in sys.modules)
PROBE = """
import json, sys
from parcours.cli.main import app
for args in json.loads(sys.argv[1]):
    try:
        app(args, standalone_mode=False)
    except (SystemExit, Exception):
        pass
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.argv[2])))))
"""


def loaded_after(*runs: list[str]) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(runs), json.dumps(HEAVY)],
                         capture_output=True, text=True, check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_cli_and_every_help_loads_no_heavy_library():
    helps = [["--help"], *([name, "--help"] for name in ("leads", "personas", "funnel", "abandonment",
                                                           "attribution", "voc", "report", "gdpr", "keys"))]
    assert loaded_after([], *helps) == []


def test_a_command_that_needs_scikit_learn_loads_it_when_it_runs(tmp_path):
    # so the check above can fail: the probe sees what a command's run imports
    assert "sklearn" in loaded_after(["--db", str(tmp_path / "none.duckdb"), "personas"])
