"""``parcours voc ...``: survey scores, comparison, emotion curve, behaviour, webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import typer

from parcours.analytics.voc.answers import survey_answers
from parcours.analytics.voc.behaviour import detractor_touchpoints, satisfaction_behaviour
from parcours.analytics.voc.compare import MIN_ANSWERS, compare_touchpoints
from parcours.analytics.voc.emotion import emotion_curve
from parcours.analytics.voc.scores import voc_scores, voc_trend
from parcours.analytics.voc.webhooks import deliver_webhooks, enqueue_webhooks, webhook_log
from parcours.cli.filter_options import FILTER
from parcours.cli.output import Format, FormatOption, emit
from parcours.cli.state import state

if TYPE_CHECKING:
    from parcours.query.filter import Filter

voc_app = typer.Typer(help="Voice of the customer: NPS, CSAT and CES along the journey.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Outgoing webhooks for journey triggers (configured in the journey file).",
                           no_args_is_help=True)

ByOption = typer.Option("touchpoint", "--by", help="Group by touchpoint, stage or channel (or all).")


def _by(by: str) -> str | None:
    return None if by == "all" else by


def _for_people(df, fmt: Format):
    """Tables show each figure with its interval in one cell; csv and json keep every column."""
    if fmt != Format.table or df.empty:
        return df
    out = df.drop(columns=[c for c in df.columns if c.endswith(("_low", "_high"))])
    for metric, digits in (("nps", 0), ("csat", 0), ("ces", 1)):
        if f"{metric}_low" in df:

            def show(x: float, d: int = digits) -> str:
                return f"{round(x, d) + 0.0:.{d}f}"  # + 0.0: no "-0"

            out[metric] = [
                None if v is None else show(v) + ("" if lo is None else f" [{show(lo)}, {show(hi)}]")
                for v, lo, hi in zip(df[metric], df[f"{metric}_low"], df[f"{metric}_high"], strict=True)
            ]
    return out


@voc_app.command("scores")
def scores(ctx: typer.Context, by: str = ByOption, filter: Filter = FILTER,
           fmt: Format = FormatOption) -> None:
    """NPS, CSAT and CES per group, each with its answers and 95% interval."""
    with state(ctx).store(read_only=True) as store:
        emit(_for_people(voc_scores(store, by=_by(by), filter=filter), fmt), fmt,
             title=f"scores by {by} (95% intervals)")


@voc_app.command("trend")
def trend(ctx: typer.Context,
          period: str = typer.Option("week", "--period", help="day, week, month, quarter or year."),
          by: str = typer.Option("all", "--by", help="Also group by touchpoint, stage or channel (default all)."),
          filter: Filter = FILTER,
          fmt: Format = FormatOption) -> None:
    """Scores per period."""
    with state(ctx).store(read_only=True) as store:
        emit(_for_people(voc_trend(store, period=period, by=_by(by), filter=filter), fmt), fmt,
             title=f"scores per {period}")


@voc_app.command("compare")
def compare(ctx: typer.Context,
            metric: str = typer.Option("nps", "--metric", help="nps, csat or ces."),
            min_answers: int = typer.Option(MIN_ANSWERS, "--min-answers", help="Fewer answers: no verdict."),
            filter: Filter = FILTER,
            fmt: Format = FormatOption) -> None:
    """Which touchpoints score significantly higher or lower than the rest."""
    with state(ctx).store(read_only=True) as store:
        emit(compare_touchpoints(store, metric=metric, min_answers=min_answers,
                                 filter=filter), fmt, title=f"{metric} by touchpoint")


@voc_app.command("emotion")
def emotion(ctx: typer.Context,
            level: str = typer.Option("stage", "--level", help="stage or touchpoint."),
            filter: Filter = FILTER,
            fmt: Format = FormatOption) -> None:
    """The emotion curve (-1..+1) along the journey, from scores and comments."""
    with state(ctx).store(read_only=True) as store:
        emit(emotion_curve(store, level=level, filter=filter), fmt, title="emotion curve")


@voc_app.command("behaviour")
def behaviour(ctx: typer.Context, filter: Filter = FILTER, fmt: Format = FormatOption) -> None:
    """Conversion and retention of promoters, passives and detractors."""
    with state(ctx).store(read_only=True) as store:
        emit(satisfaction_behaviour(store, filter=filter), fmt, title="NPS groups")


@voc_app.command("detractor-touchpoints")
def detractors(ctx: typer.Context, filter: Filter = FILTER, fmt: Format = FormatOption) -> None:
    """The touchpoints most often seen in detractors' journeys."""
    with state(ctx).store(read_only=True) as store:
        emit(detractor_touchpoints(store, filter=filter), fmt,
             title="touchpoints before a detractor's answer")


@voc_app.command("answers")
def answers(ctx: typer.Context, filter: Filter = FILTER, fmt: Format = FormatOption) -> None:
    """Every survey answer with the touchpoint, stage and channel it is tied to."""
    with state(ctx).store(read_only=True) as store:
        emit(survey_answers(store, filter=filter), fmt, title="survey answers")


@webhooks_app.command("run")
def webhooks_run(
    ctx: typer.Context,
    since: datetime = typer.Option(None, "--since", help="Ignore trigger occurrences before this UTC time."),
    wait: bool = typer.Option(False, "--wait", help="Keep retrying (with backoff) until nothing is pending."),
    fmt: Format = FormatOption,
) -> None:
    """Queue new trigger occurrences, then send every due delivery."""
    with state(ctx).store() as store:
        enqueue_webhooks(store, since=since)
        emit(deliver_webhooks(store, wait=wait), fmt, title="deliveries")


@webhooks_app.command("log")
def webhooks_log(ctx: typer.Context, delivery: int = typer.Option(None, "--delivery", help="Only this delivery."),
                 fmt: Format = FormatOption) -> None:
    """Every delivery attempt with its outcome, newest first."""
    with state(ctx).store(read_only=True) as store:
        emit(webhook_log(store, delivery), fmt, title="webhook deliveries")


def register(app: typer.Typer) -> None:
    voc_app.add_typer(webhooks_app, name="webhooks")
    app.add_typer(voc_app, name="voc")
