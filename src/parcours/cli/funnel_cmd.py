"""``parcours funnel``: steps in, one row per step (or per customer) out.

Interface relied on by scripts (keep it stable)::

    parcours --db PATH funnel STEP ... --window 7d [--semantics posthog|clickhouse] [--mode MODE] --format json
    parcours --db PATH funnel --spec FILE.json [--per-customer] --format json
    parcours --db PATH funnel STEP ... --split conformance --format json   # a ``split`` column first
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import typer

from parcours.cli.filter_options import FilterOptions
from parcours.cli.output import Format, FormatOption, emit
from parcours.cli.state import state
from parcours.errors import ParcoursError

if TYPE_CHECKING:
    from parcours.query.filter import Filter


def read_spec(path: Path) -> dict:
    """A funnel definition from a JSON file (the format of ../shared/cases/funnels)."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ParcoursError(f"--spec {path}: file not found") from None
    except json.JSONDecodeError as e:
        raise ParcoursError(f"--spec {path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    if not isinstance(data, dict):
        raise ParcoursError(f"--spec {path}: expected a JSON object with a 'steps' list")
    return data


def funnel_command(
    ctx: typer.Context,
    steps: list[str] = typer.Argument(None, help="Event names, touchpoint:NAME or stage:NAME, in order."),
    window: str = typer.Option(None, "--window", "-w", help="Conversion window: 3600s, 30m, 12h, 7d, 2w; a bare number is seconds (default 14d)."),
    semantics: str = typer.Option(None, "--semantics", help="posthog (default) or clickhouse."),
    mode: str = typer.Option(None, "--mode", help="posthog: ordered|strict|unordered; clickhouse: default or modes joined with +."),
    breakdown: str = typer.Option(None, "--breakdown", help="Split by a property (props.NAME, channel, utm_campaign, ...)."),
    attribution: str = typer.Option(None, "--attribution", help="Breakdown value: first_touch, last_touch, all_events."),
    aggregate_by: str = typer.Option(None, "--by", help="Count customers (default), session, a property, "
                                      "group.TYPE (accounts) or person_props.NAME."),
    exclude: list[str] = typer.Option(None, "--exclude", help="Drop customers who did this between step 1 and the last."),
    spec: Path = typer.Option(None, "--spec", help="The whole funnel as JSON (case-file format)."),
    per_customer: bool = typer.Option(False, "--per-customer", help="One row per customer: customer, level."),
    view: str = typer.Option("steps", "--view", help="steps, time-to-convert or trends."),
    interval: str = typer.Option("day", "--interval", help="Trends period: hour, day, week, month."),
    filter: Filter = FilterOptions(subject=False),  # (--by group.TYPE counts accounts)
    split_by: str = typer.Option(None, "--split", help="Side by side for two groups of customers: conformance "
                                 "(fitness = 1 vs < 1) or a customer-level condition and its complement, "
                                 "e.g. \"fitness < 0.8\" (a split column first)."),
    fmt: Format = FormatOption,
) -> None:
    """Where customers drop out: customers per step, conversion, drop-off and time between steps."""
    from parcours.analytics.funnels.funnel import conversion_trends, funnel, funnel_customers, time_to_convert
    from parcours.analytics.funnels.spec import build_spec
    from parcours.query.filter import split

    data = read_spec(spec) if spec else None
    if steps and data:
        raise ParcoursError("funnel: give steps or --spec, not both")
    options = {"semantics": semantics, "mode": mode, "aggregate_by": aggregate_by}
    if breakdown:
        options["breakdown"] = {"property": breakdown, "attribution": attribution or "first_touch"}
    if exclude:
        n = len(steps or (data or {}).get("steps") or [])
        options["exclusions"] = [{"event": x, "funnel_from_step": 0, "funnel_to_step": max(n - 1, 1)} for x in exclude]
    fs = build_spec(steps or None, window=window, spec=data, **options)
    if view not in ("steps", "time-to-convert", "trends"):
        raise ParcoursError(f"--view {view!r}: use steps, time-to-convert or trends")
    sides = split(filter, split_by, "--split") if split_by else [(None, filter)]

    def run(store, filter) -> pd.DataFrame:
        if per_customer:
            df = funnel_customers(store, spec=fs, filter=filter)
            return df[["customer", "level", *[c for c in df.columns if c not in ("customer", "level")]]]
        if view == "steps":
            return funnel(store, spec=fs, filter=filter)
        if view == "time-to-convert":
            return time_to_convert(store, spec=fs, filter=filter)
        return conversion_trends(store, spec=fs, filter=filter, interval=interval)

    with state(ctx).store(read_only=True) as store:
        frames = [run(store, f) for _, f in sides]
    if split_by:
        frames = [df.assign(split=label)[["split", *df.columns]] for (label, _), df in zip(sides, frames, strict=True)]
    emit(pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0], fmt, title="funnel")


def register(app: typer.Typer) -> None:
    app.command("funnel")(funnel_command)
