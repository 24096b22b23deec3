"""Where the journey hurts: friction points ranked by how far each touchpoint is from the others.

Each *signal* gives every touchpoint a rate: the share of its customers (or of its surveys)
that show the problem. A touchpoint is a friction point when its rate stands out from the
rates of the other touchpoints, measured as a robust z-score (distance from the median in
units of the median absolute deviation, so that one bad touchpoint cannot hide itself by
inflating the spread). docs/friction.md explains the signals and the score.
"""

from __future__ import annotations

import pandas as pd

from parcours.analytics.filters import Filter, events_sql
from parcours.analytics.sequences import steps_sql
from parcours.errors import ParcoursError
from parcours.store.store import Store

#: Channels where a customer asks for help.
SUPPORT_CHANNELS = ("chat", "call_centre", "web_form")
#: A poor survey answer, per metric (NPS 0-10 detractor; CSAT 1-5; CES 1-7, 7 = easiest).
POOR_SCORE = {"nps": 6, "csat": 2, "ces": 3}
#: The smallest spread a rate is measured against, so that "always 0 elsewhere" stays finite.
MIN_SCALE = 0.02
EXAMPLES = 3


def friction(
    store: Store,
    min_z: float = 2.0,
    min_customers: int = 30,
    support_days: float = 3.0,
    wait_factor: float = 10.0,
    flt: Filter | None = None,
) -> pd.DataFrame:
    """Ranked friction points with their evidence, worst first.

    Columns: ``rank``, ``touchpoint``, ``stage``, ``signal`` (dropoff, support_after,
    poor_survey, loops, long_wait, errors), ``rate`` (share of ``base`` showing it, 0..1),
    ``baseline`` (median rate of the other touchpoints), ``ratio`` (rate / baseline),
    ``z`` (robust z-score), ``customers`` (customers touched), ``base`` (customers, or surveys,
    the rate is out of), ``examples`` (a few customer ids to look at). Only rows with
    ``z >= min_z`` and at least ``min_customers`` in the base are kept.
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
    stage_of = {t.name: t.stage for t in store.config.touchpoints}
    frames = [_score(store, name, sql, min_customers) for name, sql in signals.items()]
    df = pd.concat([f for f in frames if not f.empty], ignore_index=True) if any(
        not f.empty for f in frames) else _empty()
    df = df[df["z"] >= min_z].sort_values(["z", "customers"], ascending=[False, False]).reset_index(drop=True)
    df.insert(0, "rank", range(1, len(df) + 1))
    df.insert(2, "stage", df["touchpoint"].map(stage_of))
    return df


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=["touchpoint", "signal", "rate", "baseline", "ratio", "z", "customers",
                                 "base", "examples"])


def _score(store: Store, signal: str, sql: str, min_customers: int) -> pd.DataFrame:
    """Rates and robust z-scores for one signal; ``sql`` gives (touchpoint, customer_id, hit)."""
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
    hits = rows[rows["hit"]].sort_values("customer_id").groupby("touchpoint")["customer_id"]
    per["examples"] = per["touchpoint"].map(hits.apply(lambda s: list(s.head(EXAMPLES))))
    per["signal"] = signal
    per["customers"] = per["customers"].astype(int)
    return per[list(_empty().columns)]


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


def _poor_survey(store: Store, flt: Filter | None) -> str:
    """Survey answers about the touchpoint (``properties.touchpoint``) that are poor for their metric."""
    poor = " OR ".join(
        f"(metric = '{m}' AND score <= {v})" for m, v in POOR_SCORE.items()
    )
    return f"""
        SELECT touchpoint, customer_id, ({poor}) AS hit FROM (
            SELECT json_extract_string(properties, '$.touchpoint') AS touchpoint, customer_id,
                   lower(json_extract_string(properties, '$.metric')) AS metric,
                   TRY_CAST(json_extract_string(properties, '$.score') AS DOUBLE) AS score
            FROM ({events_sql(store, flt)}) WHERE event = 'survey_response'
        ) WHERE touchpoint IS NOT NULL AND score IS NOT NULL AND metric IN ('nps', 'csat', 'ces')
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
    """The wait to the next, different, step is over ``factor`` times the usual (median) wait on that edge.

    Repeats (A > A) are left out: coming back to the site a week later is a new visit, not a wait.
    """
    return f"""
        WITH all_steps AS ({steps}),
        s AS (SELECT touchpoint, customer_id, step, next_step,
                          epoch(next_timestamp) - epoch(timestamp) AS wait
                   FROM all_steps WHERE next_step IS NOT NULL AND next_step <> step),
        usual AS (SELECT step, next_step, quantile_cont(wait, 0.5) AS med FROM s GROUP BY step, next_step)
        SELECT s.touchpoint, s.customer_id, bool_or(s.wait > {factor!r} * greatest(u.med, 60)) AS hit
        FROM s JOIN usual u ON u.step = s.step AND u.next_step = s.next_step
        GROUP BY s.touchpoint, s.customer_id
    """


def _errors(steps: str) -> str:
    """An error event (its name contains "error") at the touchpoint."""
    return f"""
        SELECT touchpoint, customer_id, bool_or(contains(lower(event), 'error')) AS hit
        FROM ({steps}) GROUP BY touchpoint, customer_id
    """
