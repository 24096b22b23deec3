"""What every bench script measures the same way: best-of timing and peak memory.

Imported as ``from timing import best_of`` (a bench runs as a script, so ``bench/`` is on
its path). Best of several runs, because these machines are shared: a burst of other work
only ever makes a run slower.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def best_of(fn: Callable[[], T], repeat: int = 1) -> tuple[float, T]:
    """The fastest of ``repeat`` runs of ``fn`` in seconds, and the last run's result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def peak_gib() -> float:
    """This process's maximum resident set size so far, in GiB."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss / 2**20 if sys.platform != "darwin" else rss / 2**30
