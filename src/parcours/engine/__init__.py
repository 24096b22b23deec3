"""The engine layer: the only place that knows which engine runs a query.

Analyses write their queries once, in DuckDB's SQL dialect, and hand them to an
``Engine``, which runs them with its own API: DuckDB's connection (``sql`` to Arrow
tables or record batches), Spark's session (``spark.sql`` after a sqlglot transpile,
``toArrow`` and ``mapInArrow``). Results come back as Arrow or pandas.
Sequence logic that SQL cannot say well runs as a compiled kernel over
customer-sorted Arrow batches (``Engine.map_groups``).
"""

from parcours.engine.base import Engine
from parcours.engine.choice import engine_class, engine_for_store

__all__ = ["Engine", "engine_class", "engine_for_store"]
