"""The ``parcours`` group: a command's module is imported only when that command is used.

Importing every command module to build the app cost most of a second on every run (pandas,
the analytics, the ingest layer), for ``parcours --help`` as much as for ``parcours stats``.
Here the group knows its commands by name from ``parcours.cli.commands``; running a command
or asking its help imports its module, calls the module's ``register`` on an app of its own
and keeps the commands it adds for the rest of the process. ``parcours --help`` lists the
commands from the registry's help lines, so it imports none of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

import typer
from typer.core import TyperCommand, TyperGroup

from parcours.cli.commands import COMMANDS
from parcours.cli.filter_options import offer_filter
from parcours.cli.output import offer_columns
from parcours.cli.param_errors import use_flags_in_errors
from parcours.cli.progress import show_progress

#: module name -> the commands its ``register`` adds, built once per process: a module's
#: sub-apps are module-level objects, which a second ``register`` would extend twice
_loaded: dict[str, dict[str, TyperCommand | TyperGroup]] = {}


def module_commands(module: str) -> dict[str, TyperCommand | TyperGroup]:
    """The commands ``parcours.cli.<module>``'s ``register`` adds, each running as a ``ParamErrorCommand``."""
    if module not in _loaded:
        app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        importlib.import_module(f"parcours.cli.{module}").register(app)
        use_flags_in_errors(app)
        offer_filter(app)  # --segment, --from, --to, --where, --subject on every command that filters
        offer_columns(app)  # --columns on every command that has --format
        show_progress(app)  # a spinner on the slow ones
        _loaded[module] = dict(typer.main.get_group(app).commands)
    return _loaded[module]


def is_loaded(name: str) -> bool:
    """Whether the module of command ``name`` has been imported and registered in this process."""
    return COMMANDS[name][0] in _loaded


class LazyCommands(Mapping):
    """The group's ``commands``: every name in the registry, in its order, its module loaded on first access."""

    def __getitem__(self, name: str) -> TyperCommand | TyperGroup:
        if name not in COMMANDS:
            raise KeyError(name)
        commands = module_commands(COMMANDS[name][0])
        if name not in commands:
            raise LookupError(f"parcours.cli.{COMMANDS[name][0]}.register adds no command {name!r}: "
                              "fix parcours.cli.commands")
        return commands[name]

    def __iter__(self) -> Iterator[str]:
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)


class LazyGroup(TyperGroup):
    """A ``TyperGroup`` over ``LazyCommands``; its help lists commands without importing them."""

    def __init__(self, *args, commands: dict | None = None, **kwargs) -> None:
        if commands:
            raise TypeError(f"commands {', '.join(commands)} are registered on the root app: add them to "
                            "parcours.cli.commands with a module whose register() adds them")
        super().__init__(*args, **kwargs)
        self.commands = LazyCommands()
        self._listing = False

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return list(COMMANDS)  # (Typer's reads ``commands.items()``, which would load every command)

    def get_command(self, ctx: typer.Context, cmd_name: str) -> TyperCommand | TyperGroup | None:
        if self._listing and cmd_name in COMMANDS and not is_loaded(cmd_name):
            # the listing reads a command's name and help only: the registry has both
            return TyperCommand(cmd_name, help=COMMANDS[cmd_name][1])
        return self.commands.get(cmd_name)

    def format_help(self, ctx: typer.Context, formatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False
