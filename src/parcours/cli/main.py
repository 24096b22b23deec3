"""The ``parcours`` application: global options, its commands (loaded lazily, ``lazy_group``), error handling."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import typer

from parcours.cli.lazy_group import LazyGroup
from parcours.cli.output import err_console
from parcours.cli.state import State, engine_choice
from parcours.errors import ParcoursError

#: the commands come from ``parcours.cli.commands``, each module imported when its command is used
app = typer.Typer(
    cls=LazyGroup,
    name="parcours",
    help="Customer-journey analytics: collect touchpoints, stitch identities, map the journey.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main_options(
    ctx: typer.Context,
    db: str = typer.Option(None, "--db", help="Store file (default: $PARCOURS_DB or parcours.duckdb)."),
    engine: str = typer.Option(
        None, "--engine", help="Engine that runs analyses: duckdb or spark (default: $PARCOURS_ENGINE or duckdb; "
        "Spark at $PARCOURS_SPARK, a master URL or sc:// address, else local[2])."
    ),
) -> None:
    from parcours.store import default_db_path  # here: `parcours --help` need not load the store

    ctx.obj = State(db=db or default_db_path(), engine=engine_choice(engine))


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _say(message: str) -> None:
    err_console.print(message, style="red", highlight=False, soft_wrap=True, markup=False)


def _usage_line(e: Exception) -> str:
    """A Click/Typer usage error (unknown option, bad or missing value) as one line, with where to look."""
    ctx = getattr(e, "ctx", None)
    where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    return f"error: {_one_line(e.format_message())}{where}"


def log_path() -> Path:
    """Where an internal error's traceback goes: ``$PARCOURS_LOG``, else parcours-error.log in the temp folder."""
    import tempfile  # (this and traceback: for a failure only, not on every start)

    return Path(os.environ.get("PARCOURS_LOG") or Path(tempfile.gettempdir()) / "parcours-error.log")


def _internal_error(e: BaseException) -> str:
    """Append the traceback to the log file; the one line that points to it."""
    import traceback

    path = log_path()
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"--- {datetime.now(UTC).isoformat()} parcours {' '.join(sys.argv[1:])}\n")
            f.write("".join(traceback.format_exception(e)))
        where = f"the traceback is in {path}"
    except OSError as log_error:
        where = f"the traceback could not be written to {path} ({log_error.strerror}); set $PARCOURS_LOG"
    return f"internal error: {type(e).__name__}: {_one_line(e)[:200]}; {where} (please report it)"


def main() -> None:
    """The console script: every failure is one line on stderr, never a traceback.

    A user's mistake (``ParcoursError``, a usage error) exits 2; an internal error exits 1
    and leaves its traceback in the log file it names.
    """
    try:
        app(standalone_mode=False, prog_name="parcours")
    except ParcoursError as e:
        # one line, whatever the underlying library put in its message
        _say("error: " + _one_line(e))
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        _say("aborted")
        sys.exit(130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except Exception as e:
        if hasattr(e, "format_message") and hasattr(e, "exit_code"):  # Click's usage errors
            if e.format_message().strip():  # (empty: `parcours` alone, the help is already shown)
                _say(_usage_line(e))
            sys.exit(e.exit_code)
        _say(_internal_error(e))
        sys.exit(1)


if __name__ == "__main__":
    main()
