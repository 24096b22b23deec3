"""The store: one DuckDB file holding events, identities, quarantine and settings."""

from parcours.store.store import Store, default_db_path, open_store

__all__ = ["Store", "default_db_path", "open_store"]
