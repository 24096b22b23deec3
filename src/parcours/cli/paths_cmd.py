"""``parcours paths``: top paths, Sankey flows, the directly-follows graph, transitions, loops."""

from __future__ import annotations

from datetime import timedelta

import typer

from parcours.analytics.paths.paths import dfg, flows, loops, top_paths, transition_matrix
from parcours.cli.filter_options import FILTER
from parcours.cli.output import Format, FormatOption, emit
from parcours.cli.state import state
from parcours.errors import ParcoursError
from parcours.query.filter import Filter


def paths(
    ctx: typer.Context,
    start: str = typer.Option(None, "--from-step", help="Paths from this step: EVENT, touchpoint:NAME or stage:NAME."),
    end: str = typer.Option(None, "--to-step", help="Paths to this step (with --from-step: between the two)."),
    max_length: int = typer.Option(5, "--max-length", help="Steps shown per path; longer ones show '...'."),
    top: int = typer.Option(10, "--top", help="Paths shown; the rest is one '(other)' row."),
    open_other: bool = typer.Option(False, "--open-other", help="List the paths inside '(other)'."),
    within_days: float = typer.Option(None, "--within-days", help="With --from-step and --to-step: reach --to-step within N days."),
    by: str = typer.Option("touchpoint", "--by", help="Step level: touchpoint, event or stage."),
    show_dfg: bool = typer.Option(False, "--dfg", help="The directly-follows graph: one row per edge."),
    matrix: bool = typer.Option(False, "--matrix", help="The transition probability matrix."),
    sankey: bool = typer.Option(False, "--flows", help="Step-by-step flows for a Sankey diagram (from --from-step)."),
    show_loops: bool = typer.Option(False, "--loops", help="Loops (A>A) and back-and-forth (A>B>A) per step."),
    collapse: bool = typer.Option(False, "--collapse-repeats", help="Show a run of one step once: 'a ×3' for a > a > a."),
    split_by: str = typer.Option(None, "--split-by", help="Show steps with an event field's value: 'cart (mobile)' "
                                 "(a column or props.NAME)."),
    split_step: str = typer.Option(None, "--split-step", help="With --split-by: split only this step (default: every step)."),
    filter: Filter = FILTER,
    fmt: Format = FormatOption,
) -> None:
    """Which ways customers take: top paths (default), or --dfg, --matrix, --flows, --loops."""
    views = [v for v in (show_dfg, matrix, sankey, show_loops) if v]
    if len(views) > 1:
        raise ParcoursError("paths: choose at most one of --dfg, --matrix, --flows, --loops")
    if (show_dfg or matrix or show_loops) and (collapse or split_by or split_step):
        raise ParcoursError("paths: --collapse-repeats, --split-by and --split-step apply to top paths and --flows only")
    if split_step and not split_by:
        raise ParcoursError("paths: --split-step needs --split-by (the field to split it by)")
    options = {"collapse_repeats": collapse, "split_by": split_by, "split_step": split_step}
    with state(ctx).store(read_only=True) as store:
        if show_dfg:
            emit(dfg(store, by, filter=filter), fmt, title="directly-follows graph")
        elif matrix:
            emit(transition_matrix(store, by, filter=filter), fmt, title="transition probabilities")
        elif sankey:
            emit(flows(store, start, max_length, by, filter=filter, **options), fmt, title="flows")
        elif show_loops:
            emit(loops(store, by, filter=filter), fmt, title="loops and back-and-forth")
        else:
            within = timedelta(days=within_days) if within_days is not None else None
            df = top_paths(store, start, end, max_length, top, by, within, open_other, filter=filter, **options)
            emit(df, fmt, title="top paths")


def register(app: typer.Typer) -> None:
    app.command("paths")(paths)
