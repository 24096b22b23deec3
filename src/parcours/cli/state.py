"""What the global options (``--db``, ``--engine``) give every command."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

from parcours.errors import ParcoursError

if TYPE_CHECKING:
    from parcours.store import Store


def engine_choice(name: str | None) -> str:
    """The engine named by ``--engine`` or ``$PARCOURS_ENGINE`` (duckdb by default), checked."""
    from parcours.engine.choice import ENGINES  # here: `--help` need not load the engine layer

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
        from parcours.server.recovery import open_store  # applies a killed server's acknowledged events

        return open_store(self.db, read_only=read_only, engine=self.engine)


def state(ctx: typer.Context) -> State:
    return ctx.find_root().obj
