"""Core errors name parameters; the CLI says flags.

An analysis raises ``ParcoursError`` naming a parameter in backticks, as its Python
caller writes it (```min_customers` 0: must be at least 1``). Every command runs under
``ParamErrorCommand``, which rewrites each backticked name that is one of the command's
own parameters into its flag (``--min-customers 0: must be at least 1``) and drops the
backticks from the rest, so the CLI user reads the option they typed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import typer
from typer.core import TyperCommand

from parcours.errors import ParcoursError

if TYPE_CHECKING:
    import click

_NAME = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")


def with_flags(message: str, params: list[click.Parameter]) -> str:
    """``message`` with each backticked parameter name replaced by the command's flag for it."""
    flags = {}
    for p in params:
        if getattr(p, "param_type_name", "") == "option":
            flags[p.name] = next((o for o in p.opts if o.startswith("--")), p.opts[0])
        elif p.name:
            flags[p.name] = p.name.upper()
    return _NAME.sub(lambda m: flags.get(m.group(1), m.group(1)), message)


class ParamErrorCommand(TyperCommand):
    """A Typer command whose ``ParcoursError``s name its flags (see the module's docstring)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ParcoursError as e:
            if e.args and isinstance(e.args[0], str):
                e.args = (with_flags(e.args[0], self.params), *e.args[1:])
            raise


def use_flags_in_errors(app: typer.Typer) -> None:
    """Run every command of ``app`` (and of its sub-apps) as a ``ParamErrorCommand``."""
    for info in app.registered_commands:
        if info.cls in (None, TyperCommand):  # a command with a class of its own keeps it
            info.cls = ParamErrorCommand
    for group in app.registered_groups:
        use_flags_in_errors(group.typer_instance)
