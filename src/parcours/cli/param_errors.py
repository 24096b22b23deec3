"""Core errors name parameters; the CLI says flags.

An analysis raises ``ParcoursError`` naming a parameter in backticks, as its Python
caller writes it (```min_customers` 0: must be at least 1``). Every command runs under
``ParamErrorCommand``, which rewrites each backticked name that is one of the command's
own parameters into its flag (``--min-customers 0: must be at least 1``) and drops the
backticks from the rest, so the CLI user reads the option they typed.

The ``Filter``'s parameters (``start``, ``end``, ``segment``, ``where``, ``subject``) are
options a command does not declare itself (``filter_options`` adds them): ``FILTER_FLAGS``
says their flags. ``filter_options`` maps a ``Filter``'s own errors with it where it builds
the filter, since a command's own ``start`` may be another option (``paths --from-step``);
here it names them in any later message of a command that has the option.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

import typer
from typer.core import TyperCommand

from parcours.errors import ParcoursError

if TYPE_CHECKING:
    import click

#: a ``Filter`` parameter -> the flag of the shared option that gives it (``filter_options``)
FILTER_FLAGS = {"segment": "--segment", "start": "--from", "end": "--to", "where": "--where", "subject": "--subject"}
_NAME = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")


def name_flags(message: str, flags: Mapping[str, str]) -> str:
    """``message`` with each backticked parameter name in ``flags`` replaced by its flag, the rest unquoted."""
    return _NAME.sub(lambda m: flags.get(m.group(1), m.group(1)), message)


def with_flags(message: str, params: list[click.Parameter]) -> str:
    """``message`` with each backticked parameter name replaced by the command's flag for it
    (its own parameters first, then the ``Filter``'s for the shared options it has)."""
    flags = {}
    for p in params:
        if getattr(p, "param_type_name", "") == "option":
            flags[p.name] = next((o for o in p.opts if o.startswith("--")), p.opts[0])
        elif p.name:
            flags[p.name] = p.name.upper()
    shared = {name: flag for name, flag in FILTER_FLAGS.items() if flag in flags.values()}
    return name_flags(message, {**shared, **flags})


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
