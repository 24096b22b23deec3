"""Where the journey hurts: friction points ranked by how unusual and how harmful each signal is.

Each *signal* gives every touchpoint a rate: the share of its customers (or of its surveys)
that show the problem. How unusual a rate is: a robust z-score against the rates of the other
touchpoints (distance from their median in units of their median absolute deviation, so that
one bad touchpoint cannot hide itself by inflating the spread). Behaviour that can be normal
(back-and-forth, waits, support contacts) is weighted by how much worse the customers who
show it fare than the other customers of the same touchpoint: browsing back and forth
between pages is common but harmless, a form that sends people back and forth is not.
Signals are summed per touchpoint, worst touchpoint first. docs/friction.md explains the
signals and the score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from parcours.analytics.filters import Filter, events_sql
from parcours.analytics.sequences import steps_sql
from parcours.errors import ParcoursError
from parcours.matcher import quote
from parcours.store.store import Store

#: Channels where a customer asks for help.
SUPPORT_CHANNELS = ("chat", "call_centre", "web_form")
#: A poor survey answer, per metric (NPS 0-10 detractor; CSAT 1-5; CES 1-7, 7 = easiest).
POOR_SCORE = {"nps": 6, "csat": 2, "ces": 3}
#: The smallest spread a rate is measured against, so that "always 0 elsewhere" stays finite.
MIN_SCALE = 0.02
EXAMPLES = 3
#: Signals that are a problem in themselves (weight 1); loops and support contacts can be normal
#: behaviour, so they are weighted by harm. ``long_wait`` is judged against its edge's own waits.
DIRECT = ("dropoff", "errors", "poor_survey", "long_wait")
#: Harm is the lower end of the 95% interval of the relative risk, so small groups need clear evidence.
HARM_Z = 1.96
#: Outcomes compared between customers who show a signal and those who do not (see ``_outcomes``).
OUTCOMES = ("no_purchase_after", "poor_survey_after", "support_after")
#: Tukey's fence on log waits: a wait is unusual for its edge beyond Q3 + FENCE x IQR.
FENCE = 1.5


def friction(
    store: Store,
    min_z: float = 2.0,
    min_customers: int = 30,
    support_days: float = 3.0,
    wait_factor: float = 10.0,
    flt: Filter | None = None,
) -> pd.DataFrame:
    """Ranked friction points with their evidence: worst touchpoint first, then its worst signal.

    Columns: ``rank``, ``touchpoint``, ``stage``, ``signal`` (dropoff, support_after,
    poor_survey, loops, long_wait, errors), ``rate`` (share of ``base`` showing it, 0..1),
    ``baseline`` (median rate of the other touchpoints), ``ratio`` (rate / baseline),
    ``z`` (robust z-score), ``harm`` (for loops and support_after: the largest relative risk, at
    the lower end of its 95% interval, of a bad outcome for customers showing the signal vs the touchpoint's other customers; NaN for
    direct signals), ``harm_outcome`` (which outcome), ``weight`` (0..1), ``score`` (z x weight),
    ``touchpoint_score`` (sum of the touchpoint's listed scores), ``customers`` (customers touched),
    ``base`` (customers, or surveys, the rate is out of), ``examples`` (a few customer ids).
    Only rows with ``score >= min_z`` and at least ``min_customers`` in the base are kept.
    """
    if min_customers < 1:
        raise ParcoursError(f"--min-customers {min_customers}: must be at least 1")
    if support_days <= 0 or wait_factor <= 1:
        raise ParcoursError("--support-days must be > 0 and --wait-factor > 1")
    steps = steps_sql(store, "touchpoint", flt)
    signals = {
        "dropoff": _dropoff(steps),
        "support_after": _support_after(steps, support_days),
        "poor_survey": _poor_survey(store, flt),
        "loops": _loops(steps),
        "long_wait": _long_wait(steps, wait_factor),
        "errors": _errors(steps),
    }
    outcomes = store.engine.df(_outcomes(store, steps, flt))
    stage_of = {t.name: t.stage for t in store.config.touchpoints}
    frames = [f for f in (_score(store, name, sql, min_customers, outcomes) for name, sql in signals.items())
              if not f.empty]
    df = pd.concat(frames, ignore_index=True) if frames else _empty()
    df = df[df["score"] >= min_z].copy()
    df["touchpoint_score"] = df.groupby("touchpoint")["score"].transform("sum")
    df = df.sort_values(["touchpoint_score", "touchpoint", "score", "customers"],
                        ascending=[False, True, False, False]).reset_index(drop=True)
    df.insert(0, "rank", range(1, len(df) + 1))
    df.insert(2, "stage", df["touchpoint"].map(stage_of))
    return df


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=["touchpoint", "signal", "rate", "baseline", "ratio", "z", "harm", "harm_outcome",
                                 "weight", "score", "customers", "base", "examples"])


def _score(store: Store, signal: str, sql: str, min_customers: int, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Rates, robust z-scores and harm weights for one signal; ``sql`` gives (touchpoint, customer_id, hit)."""
    rows = store.engine.df(sql)
    if rows.empty:
        return _empty()
    per = rows.groupby("touchpoint").agg(base=("customer_id", "size"), customers=("hit", "sum")).reset_index()
    per = per[per["base"] >= min_customers]
    if len(per) < 2:
        return _empty()
    per["rate"] = per["customers"] / per["base"]
    z, baseline = [], []
    for i in range(len(per)):
        others = per["rate"].drop(per.index[i])
        med = others.median()
        mad = (others - med).abs().median() * 1.4826
        baseline.append(med)
        z.append((per["rate"].iloc[i] - med) / max(mad, MIN_SCALE))
    per["baseline"], per["z"] = baseline, z
    per["ratio"] = per["rate"] / per["baseline"].where(per["baseline"] > 0)
    if signal in DIRECT:
        per["harm"], per["harm_outcome"], per["weight"] = float("nan"), None, 1.0
    else:
        per = per.merge(_harm(rows, outcomes, signal), on="touchpoint", how="left")
        per["weight"] = (per["harm"] - 1).clip(0, 1).fillna(0.0)
    per["score"] = per["z"].clip(lower=0) * per["weight"]
    hits = rows[rows["hit"]].sort_values("customer_id").groupby("touchpoint")["customer_id"]
    per["examples"] = per["touchpoint"].map(hits.apply(lambda s: list(s.head(EXAMPLES))))
    per["signal"] = signal
    per["customers"] = per["customers"].astype(int)
    return per[list(_empty().columns)]


def _harm(rows: pd.DataFrame, outcomes: pd.DataFrame, signal: str) -> pd.DataFrame:
    """Per touchpoint: how much more often customers showing the signal have a bad outcome.

    For each outcome, the relative risk hitters vs the touchpoint's other customers, taken at the
    lower end of its 95% interval (log scale), so that a handful of customers is not evidence;
    the largest over the outcomes is kept. Counts are smoothed by half a customer (a group with
    no bad outcome gives a finite ratio), and the outcome the signal itself measures is left out
    (support contacts for ``support_after``).
    """
    names = [o for o in OUTCOMES if o != signal]
    df = rows.merge(outcomes, on=["touchpoint", "customer_id"], how="left").fillna({o: False for o in names})
    g = df.groupby(["touchpoint", "hit"])[names].agg(["sum", "size"])
    out = []
    for tp in df["touchpoint"].unique():
        best, which = float("nan"), None
        if (tp, True) in g.index and (tp, False) in g.index:
            for o in names:
                a, n1 = g.loc[(tp, True), (o, "sum")] + 0.5, g.loc[(tp, True), (o, "size")] + 1
                c, n2 = g.loc[(tp, False), (o, "sum")] + 0.5, g.loc[(tp, False), (o, "size")] + 1
                se = np.sqrt(max(1 / a - 1 / n1 + 1 / c - 1 / n2, 0.0))
                rr = float(np.exp(np.log((a / n1) / (c / n2)) - HARM_Z * se))
                if which is None or rr > best:
                    best, which = rr, o
        out.append({"touchpoint": tp, "harm": best, "harm_outcome": which})
    return pd.DataFrame(out, columns=["touchpoint", "harm", "harm_outcome"])


def _outcomes(store: Store, steps: str, flt: Filter | None) -> str:
    """Per (touchpoint, customer): what happened after their first step at the touchpoint.

    ``no_purchase_after`` (no purchase event later), ``poor_survey_after`` (a poor survey
    answer, about any touchpoint, at or after it), ``support_after`` (a support contact later).
    """
    support = ", ".join(f"'{c}'" for c in SUPPORT_CHANNELS)
    purchase = quote(store.config.purchase_event)
    return f"""
        WITH ev AS ({events_sql(store, flt)}),
        first AS (SELECT touchpoint, customer_id, min(timestamp) AS t0 FROM ({steps}) GROUP BY touchpoint, customer_id),
        buys AS (SELECT customer_id, max(timestamp) AS last_ts FROM ev WHERE event = {purchase} GROUP BY customer_id),
        poor AS (SELECT customer_id, max(timestamp) AS last_ts FROM ({_survey_answers(store, flt)})
                 WHERE {_poor_sql()} GROUP BY customer_id),
        help AS (SELECT customer_id, max(timestamp) AS last_ts FROM ev WHERE channel IN ({support}) GROUP BY customer_id)
        SELECT f.touchpoint, f.customer_id,
               NOT coalesce(b.last_ts > f.t0, FALSE) AS no_purchase_after,
               coalesce(p.last_ts >= f.t0, FALSE) AS poor_survey_after,
               coalesce(h.last_ts > f.t0, FALSE) AS support_after
        FROM first f
        LEFT JOIN buys b ON b.customer_id = f.customer_id
        LEFT JOIN poor p ON p.customer_id = f.customer_id
        LEFT JOIN help h ON h.customer_id = f.customer_id
    """


# Each signal: one row per (touchpoint, customer) in its base, with ``hit`` true when the
# customer shows the problem there.

def _dropoff(steps: str) -> str:
    """The journey ends at the touchpoint: the customer's last step, without a purchase after."""
    return f"""
        SELECT touchpoint, customer_id, bool_or(next_step IS NULL) AS hit
        FROM ({steps}) GROUP BY touchpoint, customer_id
    """


def _support_after(steps: str, days: float) -> str:
    """A support contact (chat, call, web form) follows within ``days`` at a non-support touchpoint."""
    support = ", ".join(f"'{c}'" for c in SUPPORT_CHANNELS)
    return f"""
        WITH s AS ({steps}),
        help AS (SELECT customer_id, timestamp FROM s WHERE channel IN ({support}))
        SELECT s.touchpoint, s.customer_id,
               bool_or(h.timestamp IS NOT NULL) AS hit
        FROM s LEFT JOIN help h ON h.customer_id = s.customer_id AND h.timestamp > s.timestamp
             AND epoch(h.timestamp) - epoch(s.timestamp) <= {days * 86400!r}
        WHERE s.channel NOT IN ({support})
        GROUP BY s.touchpoint, s.customer_id
    """


def _survey_answers(store: Store, flt: Filter | None) -> str:
    """Survey answers with their ``touchpoint`` (as answered about), ``metric`` and numeric ``score``."""
    return f"""
        SELECT json_extract_string(properties, '$.touchpoint') AS touchpoint, customer_id, timestamp,
               lower(json_extract_string(properties, '$.metric')) AS metric,
               TRY_CAST(json_extract_string(properties, '$.score') AS DOUBLE) AS score
        FROM ({events_sql(store, flt)}) WHERE event = 'survey_response'
    """


def _poor_sql() -> str:
    return "(" + " OR ".join(f"(metric = '{m}' AND score <= {v})" for m, v in POOR_SCORE.items()) + ")"


def _poor_survey(store: Store, flt: Filter | None) -> str:
    """Survey answers about the touchpoint (``properties.touchpoint``) that are poor for their metric."""
    return f"""
        SELECT touchpoint, customer_id, {_poor_sql()} AS hit FROM ({_survey_answers(store, flt)})
        WHERE touchpoint IS NOT NULL AND score IS NOT NULL AND metric IN ('nps', 'csat', 'ces')
    """


def _loops(steps: str) -> str:
    """The customer goes back and forth: A > B > A with B another touchpoint.

    Plain repeats (A > A) are left out: viewing several products in a row is browsing, not friction.
    """
    return f"""
        WITH s AS ({steps})
        SELECT touchpoint, customer_id, bool_or(next2_step = step AND next_step <> step) AS hit
        FROM s GROUP BY touchpoint, customer_id
    """


def _long_wait(steps: str, factor: float) -> str:
    """The wait to the next, different, step is unusual for that edge (source -> target).

    Unusual means both over ``factor`` times the edge's median wait (and over 10 minutes) and
    beyond Tukey's fence on the log waits of the edge (Q3 + 1.5 IQR). The fence is the edge's
    own behaviour: where customers usually either go on at once or come back days later (site
    browsing), the spread is wide and a wait of days is normal; where they usually go on
    within minutes (cart to checkout), a wait of days stands out. Repeats (A > A) are left out.
    """
    return f"""
        WITH all_steps AS ({steps}),
        s AS (SELECT touchpoint, customer_id, step, next_step,
                     epoch(next_timestamp) - epoch(timestamp) AS wait,
                     ln(greatest(epoch(next_timestamp) - epoch(timestamp), 1)) AS log_wait
              FROM all_steps WHERE next_step IS NOT NULL AND next_step <> step),
        usual AS (SELECT step, next_step, quantile_cont(wait, 0.5) AS med,
                         quantile_cont(log_wait, 0.25) AS q1, quantile_cont(log_wait, 0.75) AS q3
                  FROM s GROUP BY step, next_step)
        SELECT s.touchpoint, s.customer_id,
               bool_or(s.wait > {factor!r} * greatest(u.med, 60)
                       AND s.log_wait > u.q3 + {FENCE!r} * (u.q3 - u.q1)) AS hit
        FROM s JOIN usual u ON u.step = s.step AND u.next_step = s.next_step
        GROUP BY s.touchpoint, s.customer_id
    """


def _errors(steps: str) -> str:
    """An error event (its name contains "error") at the touchpoint."""
    return f"""
        SELECT touchpoint, customer_id, bool_or(contains(lower(event), 'error')) AS hit
        FROM ({steps}) GROUP BY touchpoint, customer_id
    """
