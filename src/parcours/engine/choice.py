"""Which engine runs a store's analyses: the one place that decides, by name.

Code outside the engine asks an engine class about its abilities (``reads_store_tables``)
instead of comparing engine names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from parcours.errors import ParcoursError

if TYPE_CHECKING:
    from parcours.engine.base import Engine
    from parcours.store import Store

#: the engines a store can run its analyses on
ENGINES = ("duckdb", "spark")


def engine_class(name: str) -> type[Engine]:
    """The engine class called ``name`` (without starting it): what code outside the engine asks
    about an engine's abilities, instead of comparing names."""
    if name == "duckdb":
        from parcours.engine.base import DuckDBEngine  # here: the CLI reads ENGINES without loading pandas

        return DuckDBEngine
    if name == "spark":
        from parcours.engine.spark import SparkEngine  # pyspark is imported when a session starts

        return SparkEngine
    raise ParcoursError(f"engine {name!r}: unknown; choose one of {', '.join(ENGINES)}")


def engine_for_store(store: Store) -> Engine:
    """The engine named by ``store.engine_name`` (duckdb unless told otherwise)."""
    return engine_class(getattr(store, "engine_name", "duckdb"))(store)
