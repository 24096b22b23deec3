"""Cart, checkout and form abandonment: who reached a step and not the next one in time.

A named report is a two-step PostHog-ordered funnel run by the funnel engine: the
abandoners are the customers whose best path stops at step 1. Their value is the
value property of their last step-1 event (the cart they left, when add-to-cart
events carry an amount), and "where they went instead" is the first event (its
touchpoint when mapped) after that last step-1 event that is not a step-1 event.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from sqlglot import exp

from parcours.analytics.filters import events
from parcours.analytics.funnels.spec import build_spec
from parcours.analytics.names import check_matcher
from parcours.errors import ParcoursError
from parcours.matcher import EventMatcher
from parcours.query.filter import Filter
from parcours.query.journey import event_order
from parcours.query.match import matcher
from parcours.query.template import sql

#: report name -> (step reached, step not reached, value property of the step-1 event)
REPORTS: dict[str, tuple[str, str, str | None]] = {
    "cart": ("add_to_cart", "purchase", "cart_value"),
    "checkout": ("checkout_start", "purchase", "cart_value"),
    "form": ("form_start", "form_submit", None),
}

#: what ``went_to`` says when an abandoner did nothing afterwards
LEFT = "(nothing)"


def _definition(report: str | None, from_step: str | dict | None, to_step: str | dict | None,
                value_property: str | None) -> tuple[list, str | None, str]:
    if report is not None and report not in REPORTS:
        raise ParcoursError(f"abandonment report {report!r}: unknown; use one of {', '.join(REPORTS)} "
                            "or give from_step and to_step")
    base = REPORTS.get(report or "", (None, None, None))
    steps = [from_step or base[0], to_step or base[1]]
    if steps[0] is None or steps[1] is None:
        raise ParcoursError("abandonment: name a report (cart, checkout, form) or give both from_step and to_step")
    return steps, value_property if value_property is not None else base[2], report or "custom"


def abandoned_customers(store, report: str | None = "cart", *, window: str | float | timedelta = "1d",
                        from_step: str | dict | None = None, to_step: str | dict | None = None,
                        value_property: str | None = None, filter: Filter | None = None) -> pd.DataFrame:
    """The list to export for follow-up: one row per abandoner.

    Columns: ``customer``, ``reached_at`` (UTC time of the step-1 event their funnel path
    began with), ``value`` (value property of their last step-1 event, NaN when absent), ``went_to`` (the touchpoint,
    or event name, of the first later event that is not a step-1 event; ``(nothing)`` if none).
    """
    # here, not at import: the funnel kernels load Numba, which the CLI's start-up should not pay for
    from parcours.analytics.funnels.funnel import dropped_customers

    steps, value_property, _ = _definition(report, from_step, to_step, value_property)
    options = {}
    if value_property:
        # the latest funnel event carrying the value: for an abandoner, the cart they left
        options["breakdown"] = {"property": value_property, "attribution": "last_touch"}
    # the entry step must exist; a completion step nobody did yet is an answer (all abandoned)
    check_matcher(store, "from_step", steps[0])
    spec = build_spec(steps, window=window, unknown_events="zero", **options)
    dropped = dropped_customers(store, spec=spec, step=2, filter=filter)
    out = dropped.rename(columns={"last_step_at": "reached_at"})[["customer", "reached_at"]]
    out["value"] = pd.to_numeric(dropped["breakdown"], errors="coerce") if value_property else float("nan")
    went = _went_to(store, spec.steps[0], filter)
    out = out.merge(went, on="customer", how="left")
    out["went_to"] = out["went_to"].fillna(LEFT)
    return out


def _went_to(store, first: EventMatcher, filter: Filter | None) -> pd.DataFrame:
    """Per customer who did step 1: the first event after their last step-1 event.

    The event order is one row value (a tuple) for ``arg_min``: a list bound in brackets would
    be spliced as a bracketed list, which the template does not take.
    """
    return store.engine.df(sql("""
        WITH ev AS (SELECT customer_id, {order}, coalesce(touchpoint, event) AS place, {first} AS is_first
                    FROM {events}),
        last_first AS (SELECT customer_id, max(timestamp) AS at FROM ev WHERE is_first GROUP BY customer_id)
        SELECT l.customer_id AS customer, arg_min(e.place, {e_order}) AS went_to
        FROM last_first l JOIN ev e ON e.customer_id = l.customer_id AND e.timestamp >= l.at AND NOT e.is_first
        GROUP BY l.customer_id
    """, order=event_order(), first=matcher(first), events=events(store, filter), e_order=exp.Tuple(expressions=event_order("e"))))


def abandonment(store, report: str | None = "cart", *, window: str | float | timedelta = "1d",
                from_step: str | dict | None = None, to_step: str | dict | None = None,
                value_property: str | None = None, filter: Filter | None = None) -> pd.DataFrame:
    """The report in one row.

    Columns: ``report``, ``from_step``, ``to_step``, ``window_seconds``, ``reached`` (customers
    with a step-1 event), ``abandoned`` (reached step 1 and not step 2 within the window),
    ``abandonment_rate`` (0..1), ``abandoned_value`` (sum of their step-1 values),
    ``avg_abandoned_value``, ``top_went_to`` (the commonest place they went instead).
    """
    from parcours.analytics.funnels.funnel import funnel_customers

    steps, value_property, name = _definition(report, from_step, to_step, value_property)
    check_matcher(store, "from_step", steps[0])
    spec = build_spec(steps, window=window, unknown_events="zero")
    reached = int((funnel_customers(store, spec=spec, filter=filter)["level"] >= 1).sum())
    lost = abandoned_customers(store, report, window=window, from_step=from_step, to_step=to_step,
                               value_property=value_property, filter=filter)
    names = spec.step_names()
    return pd.DataFrame([{
        "report": name, "from_step": names[0], "to_step": names[1], "window_seconds": spec.window_seconds,
        "reached": reached, "abandoned": len(lost),
        "abandonment_rate": len(lost) / reached if reached else None,
        "abandoned_value": float(lost["value"].sum()) if value_property else None,
        "avg_abandoned_value": float(lost["value"].mean()) if value_property and lost["value"].notna().any() else None,
        "top_went_to": lost["went_to"].mode().iloc[0] if len(lost) else None,
    }])


def abandonment_destinations(store, report: str | None = "cart", *, window: str | float | timedelta = "1d",
                             from_step: str | dict | None = None, to_step: str | dict | None = None,
                             filter: Filter | None = None) -> pd.DataFrame:
    """Where abandoners went instead. Columns: ``went_to``, ``customers``, ``share`` (0..1)."""
    lost = abandoned_customers(store, report, window=window, from_step=from_step, to_step=to_step,
                               value_property="", filter=filter)
    out = lost.groupby("went_to").size().rename("customers").reset_index()
    out["share"] = out["customers"] / len(lost) if len(lost) else 0.0
    return out.sort_values(["customers", "went_to"], ascending=[False, True], ignore_index=True)
