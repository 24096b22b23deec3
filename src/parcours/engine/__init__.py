"""The engine layer: the only place that knows which engine runs a query.

Analyses write their queries once, in DuckDB's SQL dialect, and hand them to an
``Engine``, which runs them with its own API: DuckDB's connection (``sql`` to Arrow
tables or record batches), Spark's session (``spark.sql`` after a sqlglot transpile,
``toArrow`` and ``mapInArrow``). Results come back as Arrow or pandas.
Sequence logic that SQL cannot say well runs as a compiled kernel over
customer-sorted Arrow batches (``Engine.map_groups``).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Engine", "engine_class", "engine_for_store"]

#: public name -> the module defining it, loaded on first use (PEP 562): the CLI asks
#: ``parcours.engine.choice`` for the engines' names without loading pandas and Arrow
_LAZY = {"Engine": "parcours.engine.base", "engine_class": "parcours.engine.choice",
         "engine_for_store": "parcours.engine.choice"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'parcours.engine' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
