"""NPS, CSAT and CES per touchpoint, stage or channel, and their trend over time.

Conventions (the usual ones, stated so readers can check the figures):

- NPS: answers 0-10; promoters 9-10, detractors 0-6; NPS = % promoters - % detractors (-100..100).
- CSAT: answers 1-5; CSAT = % of answers that are 4 or 5 (0..100).
- CES: answers 1-7 where 7 is "very easy"; CES = mean score; ``ces_easy`` = % of answers 5-7.

Every figure comes with its number of answers and a 95% interval (see ``parcours.analytics.voc.stats``);
figures are NULL where a group has no answers for that metric. SQL counts per group, numpy
turns counts into intervals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from parcours.analytics.voc.answers import answers_query
from parcours.analytics.voc.stats import nps_interval, t_interval, wilson_interval
from parcours.errors import ParcoursError
from parcours.query import column, sql
from parcours.query.filter import Filter

#: Group keys of ``voc_scores`` (keep them stable: they are the JSON keys of ``voc scores --by``).
GROUPINGS = ("touchpoint", "stage", "channel")

#: Periods of ``voc_trend``.
PERIODS = ("day", "week", "month", "quarter", "year")

#: The figure columns of a scores table, after the group key(s).
SCORE_COLUMNS = [
    "nps", "nps_answers", "nps_low", "nps_high",
    "csat", "csat_answers", "csat_low", "csat_high",
    "ces", "ces_answers", "ces_low", "ces_high", "ces_easy",
]

#: the per-group counts a scores table is made from (the items of a SELECT list)
_COUNTS = sql("""SELECT
    sum(CASE WHEN metric = 'nps' THEN 1 ELSE 0 END) AS nps_answers,
    sum(CASE WHEN metric = 'nps' AND score >= 9 THEN 1 ELSE 0 END) AS promoters,
    sum(CASE WHEN metric = 'nps' AND score <= 6 THEN 1 ELSE 0 END) AS detractors,
    sum(CASE WHEN metric = 'csat' THEN 1 ELSE 0 END) AS csat_answers,
    sum(CASE WHEN metric = 'csat' AND score >= 4 THEN 1 ELSE 0 END) AS satisfied,
    sum(CASE WHEN metric = 'ces' THEN 1 ELSE 0 END) AS ces_answers,
    avg(CASE WHEN metric = 'ces' THEN score END) AS ces_mean,
    stddev_samp(CASE WHEN metric = 'ces' THEN score END) AS ces_std,
    sum(CASE WHEN metric = 'ces' AND score >= 5 THEN 1 ELSE 0 END) AS ces_easy_answers
""").selects

#: ``voc_scores`` per grouping: touchpoints and stages in journey order, unknown ones last
_BY = {
    "touchpoint": "SELECT touchpoint, {counts} FROM {answers} a GROUP BY touchpoint "
                  "ORDER BY min(stage_index), touchpoint NULLS LAST",
    "stage": "SELECT stage, {counts} FROM {answers} a GROUP BY stage ORDER BY min(stage_index), stage NULLS LAST",
    "channel": "SELECT channel, {counts} FROM {answers} a GROUP BY channel ORDER BY channel NULLS LAST",
}
_ALL = "SELECT 'all' AS answers, {counts} FROM {answers} a"
_TREND = "SELECT date_trunc({unit}, timestamp) AS period, {counts} FROM {answers} a GROUP BY period ORDER BY period NULLS LAST"
_TREND_BY = ("SELECT date_trunc({unit}, timestamp) AS period, {by}, {counts} FROM {answers} a "
             "GROUP BY period, {by} ORDER BY period, {by} NULLS LAST")


def score_table(counts: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Turn per-group counts (the columns of ``_COUNTS``) into figures with intervals."""
    out = counts[keys].copy()
    for col in ("nps_answers", "csat_answers", "ces_answers"):
        counts[col] = counts[col].fillna(0).astype("int64")
    nps, nps_low, nps_high = nps_interval(counts["promoters"], counts["detractors"], counts["nps_answers"])
    csat, csat_low, csat_high = wilson_interval(counts["satisfied"], counts["csat_answers"])
    ces_low, ces_high = t_interval(counts["ces_mean"], counts["ces_std"], counts["ces_answers"])
    with np.errstate(invalid="ignore", divide="ignore"):
        ces_easy = 100 * counts["ces_easy_answers"].to_numpy(float) / counts["ces_answers"].to_numpy(float)
    columns = {
        "nps": nps, "nps_answers": counts["nps_answers"], "nps_low": nps_low, "nps_high": nps_high,
        "csat": csat, "csat_answers": counts["csat_answers"], "csat_low": csat_low, "csat_high": csat_high,
        "ces": counts["ces_mean"], "ces_answers": counts["ces_answers"], "ces_low": ces_low,
        "ces_high": ces_high, "ces_easy": ces_easy,
    }
    for name, values in columns.items():
        out[name] = np.asarray(values, dtype="int64" if name.endswith("_answers") else float)
    figures = [c for c in SCORE_COLUMNS if not c.endswith("_answers")]
    out[figures] = out[figures].astype(object).where(out[figures].notna(), None)
    return out.reset_index(drop=True)


def _check_by(by: str | None) -> None:
    if by is not None and by not in GROUPINGS:
        raise ParcoursError(f"voc scores: `by` {by!r} is not one of {', '.join(GROUPINGS)}")


def voc_scores(store, by: str | None = "touchpoint", *, filter: Filter | None = None) -> pd.DataFrame:
    """NPS, CSAT and CES with answers and 95% intervals, one row per ``by`` group.

    ``by`` is ``touchpoint``, ``stage``, ``channel`` or None (one row for all answers).
    Columns: the group key, then ``SCORE_COLUMNS``. Answers tied to no touchpoint form a
    group whose key is NULL (never dropped). Touchpoints and stages come in journey order.
    """
    _check_by(by)
    if by is None:
        counts = store.engine.df(sql(_ALL, counts=_COUNTS, answers=answers_query(store, filter)))
        counts = counts[counts["nps_answers"].fillna(0) + counts["csat_answers"].fillna(0)
                        + counts["ces_answers"].fillna(0) > 0]
        return score_table(counts, ["answers"])
    counts = store.engine.df(sql(_BY[by], counts=_COUNTS, answers=answers_query(store, filter)))
    return score_table(counts, [by])


def voc_trend(store, period: str = "week", by: str | None = None, *, filter: Filter | None = None) -> pd.DataFrame:
    """The scores of ``voc_scores`` per period (``day``, ``week``, ``month``, ``quarter``, ``year``).

    Columns: ``period`` (the period's first instant, UTC), the ``by`` key when given, then
    ``SCORE_COLUMNS``. Periods without answers are absent.
    """
    _check_by(by)
    if period not in PERIODS:
        raise ParcoursError(f"voc trend: `period` {period!r} is not one of {', '.join(PERIODS)}")
    keys = ["period"] + ([by] if by else [])
    answers = answers_query(store, filter)
    query = (sql(_TREND_BY, unit=period, by=column(by), counts=_COUNTS, answers=answers) if by
             else sql(_TREND, unit=period, counts=_COUNTS, answers=answers))
    counts = store.engine.df(query)
    return score_table(counts, keys)
