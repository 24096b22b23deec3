"""The engine layer: the only place that knows which engine runs a query.

Analyses write their queries once, in DuckDB's SQL dialect, and hand them to an
``Engine``. Ibis is the portable layer underneath: ``Engine.sql`` returns an Ibis
table, which an analysis may refine further with Ibis expressions, and Ibis
transpiles the SQL (with sqlglot) for engines that speak another dialect.
Sequence logic that SQL cannot say well runs as a compiled kernel over
customer-sorted Arrow batches (``Engine.map_groups``).
"""

from parcours.engine.base import Engine, engine_for_store

__all__ = ["Engine", "engine_for_store"]
