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
from sqlglot import exp

from parcours.analytics.filters import events
from parcours.analytics.names import check_name
from parcours.analytics.paths.sequences import Ctes, goes_back, require_mapped, steps_query, with_ctes
from parcours.errors import ParcoursError
from parcours.query.filter import Filter
from parcours.query.template import column, ident, sql
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
#: Outcomes compared between customers who show a signal and those who do not (see ``_pairs_ctes``).
OUTCOMES = ("no_purchase_after", "poor_survey_after", "support_after")
#: The signals in report order; those computed from the steps, each with the column that says
#: whether a (touchpoint, customer) is in its base (None: every pair is).
SIGNALS = ("dropoff", "support_after", "poor_survey", "loops", "long_wait", "errors")
STEP_SIGNALS = {"dropoff": None, "support_after": "support_base", "loops": None, "long_wait": "wait_base",
                "errors": None}
#: Tukey's fence on log waits: a wait is unusual for its edge beyond Q3 + FENCE x IQR.
FENCE = 1.5


def friction(
    store: Store,
    *,
    min_z: float = 2.0,
    min_customers: int = 30,
    support_days: float = 3.0,
    wait_factor: float = 10.0,
    filter: Filter | None = None,
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
        raise ParcoursError(f"`min_customers` {min_customers}: must be at least 1")
    if support_days <= 0 or wait_factor <= 1:
        raise ParcoursError("`support_days` must be > 0 and `wait_factor` > 1")
    require_mapped(store, "touchpoint", "friction")
    # one pass over the step sequence gives every step-based signal and the outcomes; SQL counts
    # them per (signal, touchpoint), so only a few rows per touchpoint come back
    counts = store.engine.df(_counts(store, steps_query(store, "touchpoint", filter), filter, support_days, wait_factor))
    stage_of = {t.name: t.stage for t in store.config.touchpoints}
    frames = [f for f in (_score(name, counts[counts["signal"] == name], min_customers) for name in SIGNALS)
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


def _score(signal: str, counts: pd.DataFrame, min_customers: int) -> pd.DataFrame:
    """Rates, robust z-scores and harm weights for one signal from its counts per touchpoint (``_counts``)."""
    per = counts.sort_values("touchpoint").reset_index(drop=True)
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
        per = per.merge(_harm(counts, signal), on="touchpoint", how="left")
        per["weight"] = (per["harm"] - 1).clip(0, 1).fillna(0.0)
    per["score"] = per["z"].clip(lower=0) * per["weight"]
    examples = per[[f"example_{i + 1}" for i in range(EXAMPLES)]].to_numpy()
    # a touchpoint none of whose customers shows the signal has no examples (NaN, not an empty list)
    per["examples"] = [[e for e in row if isinstance(e, str)] or float("nan") for row in examples]
    per["signal"] = signal
    per["customers"] = per["customers"].astype(int)
    return per[list(_empty().columns)]


def _harm(counts: pd.DataFrame, signal: str) -> pd.DataFrame:
    """Per touchpoint: how much more often customers showing the signal have a bad outcome.

    For each outcome, the relative risk hitters vs the touchpoint's other customers, taken at the
    lower end of its 95% interval (log scale), so that a handful of customers is not evidence;
    the largest over the outcomes is kept. Counts are smoothed by half a customer (a group with
    no bad outcome gives a finite ratio), and the outcome the signal itself measures is left out
    (support contacts for ``support_after``).
    """
    names = [o for o in OUTCOMES if o != signal]
    out = []
    for r in counts.itertuples(index=False):
        best, which = float("nan"), None
        if r.customers > 0 and r.others > 0:
            for o in names:
                a, n1 = getattr(r, f"hit_{o}") + 0.5, r.customers + 1
                c, n2 = getattr(r, f"other_{o}") + 0.5, r.others + 1
                se = np.sqrt(max(1 / a - 1 / n1 + 1 / c - 1 / n2, 0.0))
                rr = float(np.exp(np.log((a / n1) / (c / n2)) - HARM_Z * se))
                if which is None or rr > best:
                    best, which = rr, o
        out.append({"touchpoint": r.touchpoint, "harm": best, "harm_outcome": which})
    return pd.DataFrame(out, columns=["touchpoint", "harm", "harm_outcome"])


def _counts(store: Store, steps: exp.Expression, filter: Filter | None, days: float, factor: float) -> exp.Query:
    """Per (signal, touchpoint): what a score needs, counted in SQL.

    Columns: ``signal``, ``touchpoint``, ``base`` (rows in the signal's base: customers, or
    survey answers for ``poor_survey``), ``customers`` (of them, those showing the signal),
    ``others`` (those not showing it; a NULL signal counts in neither), for each outcome O of
    ``OUTCOMES`` ``hit_O`` and ``other_O`` (how many of ``customers`` and of ``others`` had it),
    and ``example_1`` .. ``example_<EXAMPLES>`` (the first customer ids showing the signal, in
    id order; NULL when fewer).
    """
    sums = [sql("CAST(sum(CASE WHEN {side} AND {outcome} THEN 1 ELSE 0 END) AS BIGINT) AS {name}",
                side=side, outcome=column(o), name=ident(f"{name}_{o}"))
            for o in OUTCOMES for side, name in ((sql("hit"), "hit"), (sql("NOT hit"), "other"))]
    examples = [sql("max(CASE WHEN n = {i} THEN customer_id END) AS {name}", i=i + 1, name=ident(f"example_{i + 1}"))
                for i in range(EXAMPLES)]
    counts = sql("""
        SELECT signal, touchpoint, count(*) AS base,
               CAST(sum(CASE WHEN hit THEN 1 ELSE 0 END) AS BIGINT) AS customers,
               CAST(sum(CASE WHEN NOT hit THEN 1 ELSE 0 END) AS BIGINT) AS others,
               {sums}
        FROM signal_rows WHERE touchpoint IS NOT NULL GROUP BY signal, touchpoint
    """, sums=sums)
    first = sql("""
        SELECT signal, touchpoint, {examples} FROM (
            SELECT signal, touchpoint, customer_id,
                   row_number() OVER (PARTITION BY signal, touchpoint ORDER BY customer_id) AS n
            FROM signal_rows WHERE hit AND touchpoint IS NOT NULL
        ) r WHERE n <= {n} GROUP BY signal, touchpoint
    """, examples=examples, n=EXAMPLES)
    ctes = [*_signal_rows(store, steps, filter, days, factor), ("counts", counts), ("examples", first)]
    return with_ctes(ctes, sql("""
        SELECT c.*, {examples}
        FROM counts c LEFT JOIN examples e ON e.signal = c.signal AND e.touchpoint = c.touchpoint
    """, examples=[column(f"example_{i + 1}", "e") for i in range(EXAMPLES)]))


def _signal_rows(store: Store, steps: exp.Expression, filter: Filter | None, days: float, factor: float) -> Ctes:
    """Named queries ending with ``signal_rows``: one row per signal's base member (``signal``, ``touchpoint``,
    ``customer_id``, ``hit``, the ``OUTCOMES``); a survey answer for ``poor_survey``."""
    outcomes = [column(o) for o in OUTCOMES]
    # poor_survey's base: the answers about a touchpoint (``properties.touchpoint``), hit when poor
    parts = [sql("""
        SELECT 'poor_survey' AS signal, touchpoint, customer_id, {poor} AS hit, {no_outcomes}
        FROM surveys WHERE touchpoint IS NOT NULL AND score IS NOT NULL AND metric IN ('nps', 'csat', 'ces')
    """, poor=_poor(), no_outcomes=[sql("FALSE AS {o}", o=ident(o)) for o in OUTCOMES])]
    for signal, base in STEP_SIGNALS.items():
        parts.append(sql("SELECT {signal}, touchpoint, customer_id, {hit}, {outcomes} FROM pairs WHERE {base}",
                         signal=signal, hit=column(f"hit_{signal}"), outcomes=outcomes,
                         base=exp.true() if base is None else column(base)))
    return [*_pairs(store, steps, filter, days, factor), ("signal_rows", exp.union(*parts, distinct=False))]


def friction_customers(
    store: Store, touchpoint: str, signal: str, *, support_days: float = 3.0, wait_factor: float = 10.0,
    filter: Filter | None = None,
) -> pd.DataFrame:
    """The customers behind one friction flag of ``friction`` (same options): one ``customer_id`` column, sorted.

    As many as the flag's ``customers`` (for ``poor_survey``, a customer with several poor
    answers about the touchpoint is listed once, so there may be fewer than poor answers).
    """
    if signal not in SIGNALS:
        raise ParcoursError(f"`signal` {signal!r}: use one of {', '.join(SIGNALS)}")
    names = [t.name for t in store.config.touchpoints]
    if touchpoint not in names:
        check_name("`touchpoint`", "touchpoint", touchpoint, names)
    require_mapped(store, "touchpoint", "friction")
    rows = _signal_rows(store, steps_query(store, "touchpoint", filter), filter, support_days, wait_factor)
    return store.engine.df(with_ctes(rows, sql("""
        SELECT DISTINCT customer_id FROM signal_rows
        WHERE hit AND signal = {signal} AND touchpoint = {touchpoint}
        ORDER BY customer_id
    """, signal=signal, touchpoint=touchpoint)))


def _pairs(store: Store, steps: exp.Expression, filter: Filter | None, days: float, factor: float) -> Ctes:
    """Named queries ending with ``pairs``: one row per (touchpoint, customer) of the steps.

    ``surveys`` are the survey answers (``_survey_answers``), read once for the signal and the
    outcome. The columns of ``pairs``: ``touchpoint``, ``customer_id``; ``hit_<signal>`` for dropoff, support_after,
    loops, long_wait and errors; ``support_base`` and ``wait_base``, whether the pair is in
    those two signals' bases (the others' base is every pair); and the ``OUTCOMES``, what
    happened after the customer's first step at the touchpoint: ``no_purchase_after`` (no
    purchase event later), ``poor_survey_after`` (a poor survey answer, about any touchpoint, at
    or after it), ``support_after`` (a support contact later).

    The signals, per (touchpoint, customer):

    - ``dropoff``: the journey ends at the touchpoint (it is the customer's last step).
    - ``support_after``: a support contact (chat, call, web form) follows a step at the
      touchpoint within ``days``; the base is the touchpoints that are not support channels
      themselves. Only the customers with a support contact are joined with their contacts, on
      the customer id (a hash join; with the time conditions in the join itself DuckDB fell
      back to a nested loop over all steps: minutes on 100,000 demo customers).
    - ``loops``: the customer goes back and forth, A > B > A with B another touchpoint. Plain
      repeats (A > A) are left out: viewing several products in a row is browsing, not friction.
    - ``long_wait``: the wait to the next, different, step is unusual for that edge (source ->
      target): both over ``factor`` times the edge's median wait (and over 10 minutes) and
      beyond Tukey's fence on the log waits of the edge (Q3 + 1.5 IQR). The fence is the
      edge's own behaviour: where customers usually either go on at once or come back days
      later (site browsing), the spread is wide and a wait of days is normal; where they
      usually go on within minutes (cart to checkout), a wait of days stands out. Repeats
      (A > A) are left out; the base is the pairs with at least one wait to another step.
    - ``errors``: an error event (its name contains "error") at the touchpoint.
    """
    support = list(SUPPORT_CHANNELS)
    # a step row looks back (``sequences``): a move is the row it leads to, from another step; its
    # wait and its edge belong to the touchpoint it leaves (``prev_step``)
    moves = sql("s.prev_step IS NOT NULL AND s.prev_step <> s.step")
    wait = sql("epoch(timestamp) - epoch(prev_timestamp)")
    ev = events(store, filter)
    return [
        ("s", sql("""
            SELECT touchpoint, customer_id, timestamp, channel, event, seq, step, prev_step, prev2_step,
                   {wait} AS wait, ln(greatest({wait}, 1)) AS log_wait
            FROM {steps} x
        """, wait=wait, steps=steps)),
        ("contacts", sql("SELECT customer_id, timestamp AS help_ts FROM s WHERE channel IN ({support})",
                         support=support)),
        ("helped", sql("""
            SELECT s.touchpoint, s.customer_id
            FROM s JOIN contacts h ON h.customer_id = s.customer_id
            WHERE s.channel NOT IN ({support}) AND h.help_ts > s.timestamp
              AND epoch(h.help_ts) - epoch(s.timestamp) <= {seconds}
            GROUP BY s.touchpoint, s.customer_id
        """, support=support, seconds=float(days) * 86400)),
        ("usual", sql("""
            SELECT s.prev_step, s.step, quantile_cont(s.wait, 0.5) AS med,
                   quantile_cont(s.log_wait, 0.25) AS q1, quantile_cont(s.log_wait, 0.75) AS q3
            FROM s WHERE {moves} GROUP BY s.prev_step, s.step
        """, moves=moves)),
        ("long_waits", sql("""
            SELECT DISTINCT CAST(s.prev_step AS VARCHAR) AS touchpoint, s.customer_id
            FROM s JOIN usual u ON u.prev_step = s.prev_step AND u.step = s.step
            WHERE {moves} AND s.wait > {factor} * greatest(u.med, 60) AND s.log_wait > u.q3 + {fence} * (u.q3 - u.q1)
        """, moves=moves, factor=float(factor), fence=FENCE)),
        # the moves out of a touchpoint are its rows less those followed by the same step (the rows
        # after them repeat it: ``repeats``) and less the journey's last row
        ("per", sql("""
            SELECT s.touchpoint, s.customer_id, min(s.timestamp) AS t0, max(s.seq) AS top, count(*) AS visits,
                   count(*) FILTER (WHERE s.prev_step = s.step) AS repeats,
                   coalesce(bool_or(s.channel NOT IN ({support})), FALSE) AS support_base,
                   bool_or({back}) AS hit_loops,
                   bool_or(contains(lower(s.event), 'error')) AS hit_errors
            FROM s GROUP BY s.touchpoint, s.customer_id
        """, support=support, back=goes_back("s"))),
        ("last", sql("SELECT customer_id, max(top) AS last_seq FROM per GROUP BY customer_id")),
        ("ev", ev),
        ("buys", sql("SELECT customer_id, max(timestamp) AS last_ts FROM ev WHERE event = {purchase} GROUP BY customer_id",
                     purchase=store.config.purchase_event)),
        ("surveys", _survey_answers(ev)),
        ("poor", sql("SELECT customer_id, max(timestamp) AS last_ts FROM surveys WHERE {poor} GROUP BY customer_id",
                     poor=_poor())),
        ("help", sql("SELECT customer_id, max(timestamp) AS last_ts FROM ev WHERE channel IN ({support}) "
                     "GROUP BY customer_id", support=support)),
        ("pairs", sql("""
            SELECT p.touchpoint, p.customer_id, p.top = l.last_seq AS hit_dropoff, p.hit_loops, p.hit_errors,
                   p.support_base, p.support_base AND x.customer_id IS NOT NULL AS hit_support_after,
                   p.visits - p.repeats - CASE WHEN p.top = l.last_seq THEN 1 ELSE 0 END > 0 AS wait_base,
                   w.customer_id IS NOT NULL AS hit_long_wait,
                   NOT coalesce(b.last_ts > p.t0, FALSE) AS no_purchase_after,
                   coalesce(o.last_ts >= p.t0, FALSE) AS poor_survey_after,
                   coalesce(h.last_ts > p.t0, FALSE) AS support_after
            FROM per p
            JOIN last l ON l.customer_id = p.customer_id
            LEFT JOIN long_waits w ON w.touchpoint = p.touchpoint AND w.customer_id = p.customer_id
            LEFT JOIN helped x ON x.touchpoint = p.touchpoint AND x.customer_id = p.customer_id
            LEFT JOIN buys b ON b.customer_id = p.customer_id
            LEFT JOIN poor o ON o.customer_id = p.customer_id
            LEFT JOIN help h ON h.customer_id = p.customer_id
        """)),
    ]


def _survey_answers(events: exp.Expression) -> exp.Query:
    """Survey answers of ``events`` with their ``touchpoint`` (as answered about), ``metric`` and numeric ``score``."""
    return sql("""
        SELECT json_extract_string(properties, '$.touchpoint') AS touchpoint, customer_id, timestamp,
               lower(json_extract_string(properties, '$.metric')) AS metric,
               TRY_CAST(json_extract_string(properties, '$.score') AS DOUBLE) AS score
        FROM {events} WHERE event = 'survey_response'
    """, events=events)


def _poor() -> exp.Expression:
    """A poor survey answer (``POOR_SCORE``)."""
    return exp.or_(*(sql("metric = {m} AND score <= {v}", m=m, v=v) for m, v in POOR_SCORE.items()))
