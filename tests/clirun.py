"""Running the real ``parcours`` entry point in-process, exit code and output captured."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

from parcours.cli.main import main


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


def run(capsys, *args: str) -> Result:
    """``parcours ARGS...`` through ``main()`` (the console script), as a user runs it."""
    capsys.readouterr()
    argv = sys.argv
    sys.argv = ["parcours", *[str(a) for a in args]]
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv = argv
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)
