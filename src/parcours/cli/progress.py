"""A spinner on every command that can run for more than a couple of seconds.

One list names them; ``show_progress`` wraps each at registration, so a command module does
nothing for it. The spinner goes to stderr and only when stderr is a terminal and the output is
not JSON: pipes, scripts and ``--format json`` never see it. ``import`` has a real progress bar
of its own (bytes read), so it is not listed here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer

from parcours.cli.output import Format, err_console, spinner

#: commands (as typed after ``parcours``) that can take more than 2 s on a large store
SLOW = frozenset({
    "demo", "funnel", "paths", "attribution", "friction", "conformance", "opportunities", "personas", "rfm", "leads",
    "report", "journey refresh", "identity rebuild",
})


def _with_spinner(callback: Callable, name: str) -> Callable:
    @functools.wraps(callback)
    def command(**kwargs: Any) -> Any:
        json_out = any(isinstance(v, Format) and v == Format.json for v in kwargs.values())
        with spinner(f"parcours {name}", enabled=err_console.is_terminal and not json_out):
            return callback(**kwargs)

    return command


def show_progress(app: typer.Typer, prefix: str = "") -> None:
    """Wrap every command of ``app`` listed in ``SLOW`` in a spinner (see the module's docstring)."""
    for info in app.registered_commands:
        name = f"{prefix}{info.name or info.callback.__name__}"
        if name in SLOW and info.callback is not None:
            info.callback = _with_spinner(info.callback, name)
    for group in app.registered_groups:
        show_progress(group.typer_instance, f"{prefix}{group.name} ")
