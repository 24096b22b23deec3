"""What the global options (``--db``, ``--engine``) give every command."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from parcours.store import Store, open_store


@dataclass
class State:
    db: str
    engine: str = "duckdb"

    def store(self, read_only: bool = False) -> Store:
        return open_store(self.db, read_only=read_only)


def state(ctx: typer.Context) -> State:
    return ctx.find_root().obj
