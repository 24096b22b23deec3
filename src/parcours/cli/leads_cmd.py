"""``parcours leads``: score current prospects 0-100 with their reasons, after printing the evaluation."""

from __future__ import annotations

from enum import StrEnum

import typer

from parcours.cli.output import Format, FormatOption, emit, err_console
from parcours.cli.state import state


class SortBy(StrEnum):
    score = "score"
    recency_days = "recency_days"
    events = "events"


def leads(
    ctx: typer.Context,
    horizon_days: int = typer.Option(14, "--horizon", min=1, help="Label: bought within this many days."),
    active_days: int = typer.Option(30, "--active-days", min=1, help="Prospects: seen in these last days, no purchase."),
    sort: SortBy = typer.Option(SortBy.score, "--sort", help="Order: score (highest first), recency_days, events."),
    limit: int = typer.Option(0, "--limit", min=0, help="At most this many prospects (0: all)."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the model."),
    save: bool = typer.Option(True, "--save/--no-save", help="Keep the scores in the store (for lead_score in segments)."),
    fmt: Format = FormatOption,
) -> None:
    """Train the purchase-intent model, print its hold-out evaluation (stderr), score current prospects."""
    from parcours.analytics.segments.leads import save_lead_scores, score_leads, train_lead_model

    with state(ctx).store(read_only=not save) as store:
        model = train_lead_model(store, horizon_days=horizon_days, active_days=active_days, seed=seed)
        ev = model.evaluation
        err_console.print(
            f"lead model (time-based hold-out from {ev['test_from']}, {ev['rows']:,} prospects, "
            f"{ev['base_rate']:.2%} bought within {horizon_days} days): roc_auc {ev['roc_auc']:.3f}, "
            f"precision at top 10% {ev['precision_at_top_10pct']:.2%} (lift {ev['lift_at_top_10pct']:.1f}), "
            f"brier {ev['brier']:.4f}; calibration predicted->observed "
            + ", ".join(f"{c['predicted']:.3f}->{c['observed']:.3f}" for c in ev["calibration"]),
            highlight=False, soft_wrap=True,
        )
        scores = score_leads(store, model, active_days=active_days)
        if save:
            save_lead_scores(store, scores, model)
    if sort != SortBy.score:
        scores = scores.sort_values([sort.value, "score"], ascending=[sort == SortBy.recency_days, False],
                                    ignore_index=True)
    emit(scores.head(limit) if limit else scores, fmt, title="prospects by purchase intent")


def register(app: typer.Typer) -> None:
    app.command("leads")(leads)
