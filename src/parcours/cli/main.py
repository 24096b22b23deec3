"""The ``parcours`` application: global options, command registration, error handling."""

from __future__ import annotations

import sys

import typer

from parcours.cli import (
    abandonment_cmd,
    attribution_cmd,
    conformance_cmd,
    data_cmds,
    demo_cmd,
    followups_cmd,
    friction_cmd,
    funnel_cmd,
    gdpr_cmd,
    identity_cmds,
    journey_cmds,
    keys_cmd,
    leads_cmd,
    paths_cmd,
    personas_cmd,
    report_cmd,
    retention_cmd,
    segment_cmd,
    serve_cmd,
    stages_cmd,
    voc_cmd,
)
from parcours.cli.output import err_console
from parcours.cli.state import State, engine_choice
from parcours.errors import ParcoursError
from parcours.store import default_db_path

app = typer.Typer(
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
    ctx.obj = State(db=db or default_db_path(), engine=engine_choice(engine))


#: every command group registers itself here; a new command is one module and one line
for module in (journey_cmds, data_cmds, identity_cmds, demo_cmd, segment_cmd, paths_cmd, attribution_cmd, retention_cmd, serve_cmd, keys_cmd, gdpr_cmd, voc_cmd, followups_cmd, friction_cmd, stages_cmd, funnel_cmd, abandonment_cmd, leads_cmd, personas_cmd, report_cmd, conformance_cmd):
    module.register(app)


def main() -> None:
    try:
        app(standalone_mode=False)
    except ParcoursError as e:
        # one line, whatever the underlying library put in its message
        err_console.print("error: " + " ".join(str(e).split()), style="red", highlight=False, soft_wrap=True)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        sys.exit(130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except Exception as e:
        # usage errors (unknown option, bad value) come as Click exceptions that can show themselves
        if hasattr(e, "show") and hasattr(e, "exit_code"):
            e.show()
            sys.exit(e.exit_code)
        raise


if __name__ == "__main__":
    main()
