"""``parcours retention``: cohort table, retention curve, repeat purchases, churn risk."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from parcours.analytics.retention.retention import (
    churn_risk,
    repeat_purchase_rate,
    retention,
    retention_curve,
)
from parcours.cli.filter_options import FILTER
from parcours.cli.output import Format, FormatOption, emit
from parcours.cli.state import state

if TYPE_CHECKING:
    from parcours.query.filter import Filter


def retention_cmd(
    ctx: typer.Context,
    cohort_event: str = typer.Option(
        None, "--cohort-event", help="Cohort by the first such event (EVENT, touchpoint:X, stage:X); default any."
    ),
    return_event: str = typer.Option(None, "--return-event", help="Counts as coming back; default any event."),
    period: str = typer.Option("week", "--period", help="Calendar period: day, week (Monday) or month."),
    breakdown: str = typer.Option(None, "--breakdown", help="Split cohorts by a field: channel, utm_source, props.X."),
    curve: bool = typer.Option(False, "--curve", help="The retention curve (cohorts pooled per period)."),
    repeat: bool = typer.Option(False, "--repeat", help="The repeat-purchase rate instead."),
    churn_days: int = typer.Option(None, "--churn-days", help="Customers silent for N days after being active."),
    min_events: int = typer.Option(2, "--min-events", help="With --churn-days: events that count as active."),
    filter: Filter = FILTER,
    fmt: Format = FormatOption,
) -> None:
    """Who comes back: one row per (cohort, period) with size, retained and rate."""
    with state(ctx).store(read_only=True) as store:
        if repeat:
            emit(repeat_purchase_rate(store, breakdown, filter=filter), fmt, title="repeat purchases")
        elif churn_days is not None:
            emit(churn_risk(store, churn_days, min_events, filter=filter), fmt, title="churn risk")
        elif curve:
            emit(retention_curve(store, cohort_event, return_event, period, breakdown, filter=filter), fmt, title="retention")
        else:
            emit(retention(store, cohort_event, return_event, period, breakdown, filter=filter), fmt, title="retention")


def register(app: typer.Typer) -> None:
    app.command("retention")(retention_cmd)
