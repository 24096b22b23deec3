"""What the global options (``--db``, ``--engine``) give every command."""

from __future__ import annotations

import os
from dataclasses import dataclass

import typer

from parcours.engine.base import ENGINES
from parcours.errors import ParcoursError
from parcours.store import Store, open_store


def engine_choice(name: str | None) -> str:
    """The engine named by ``--engine`` or ``$PARCOURS_ENGINE`` (duckdb by default), checked."""
    chosen = (name or os.environ.get("PARCOURS_ENGINE") or "duckdb").lower()
    if chosen not in ENGINES:
        origin = "--engine" if name else "$PARCOURS_ENGINE"
        raise ParcoursError(f"{origin} {chosen!r}: unknown engine; choose one of {', '.join(ENGINES)}")
    return chosen


@dataclass
class State:
    db: str
    engine: str = "duckdb"

    def store(self, read_only: bool = False) -> Store:
        return open_store(self.db, read_only=read_only, engine=self.engine)


def state(ctx: typer.Context) -> State:
    return ctx.find_root().obj
