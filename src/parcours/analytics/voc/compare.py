"""Which touchpoints score significantly better or worse than the rest of the journey.

Each touchpoint is compared with all other answers of the same metric:

- NPS: z test on the difference of two Net Promoter Scores, each with the trinomial
  variance of ``parcours.analytics.voc.stats``;
- CSAT: two-proportion z test (pooled share of 4-5 answers);
- CES: Welch's t test on the means (``scipy.stats.ttest_ind_from_stats``).

Testing many touchpoints at once finds "significant" differences by chance, so p-values
are adjusted with Benjamini-Hochberg (``scipy.stats.false_discovery_control``) over the
touchpoints that have enough answers. Below ``min_answers`` on either side the verdict is
"not enough answers" and no test is run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from parcours.analytics.voc.answers import METRICS, answers_query
from parcours.errors import ParcoursError
from parcours.query import sql
from parcours.query.filter import Filter

#: Below this many answers (on the touchpoint or in the rest) no comparison is made.
MIN_ANSWERS = 30


def _nps_parts(promoters, detractors, n):
    p, d = promoters / n, detractors / n
    return 100 * (p - d), 100**2 * np.maximum(p + d - (p - d) ** 2, 0.0) / n


def _two_sided(z: np.ndarray, diff: np.ndarray) -> np.ndarray:
    from scipy import stats  # here, not at import: the CLI's start-up should not pay for SciPy

    p = 2 * stats.norm.sf(np.abs(z))
    return np.where(np.isnan(z), np.where(diff == 0, 1.0, 0.0), p)


def compare_touchpoints(
    store, metric: str = "nps", min_answers: int = MIN_ANSWERS, alpha: float = 0.05, *, filter: Filter | None = None
) -> pd.DataFrame:
    """Each touchpoint's score against the rest of the answers, with a verdict.

    Columns: touchpoint, stage, metric, value, answers, rest_value, rest_answers, difference
    (value - rest_value), p_value, p_adjusted, verdict (``higher``, ``lower``, ``no significant
    difference`` or ``not enough answers``). Values are on the metric's scale (NPS -100..100,
    CSAT %, CES mean).
    """
    from scipy import stats

    if metric not in METRICS:
        raise ParcoursError(f"voc compare: `metric` {metric!r} is not one of {', '.join(METRICS)}")
    if min_answers < 2:
        raise ParcoursError(f"voc compare: `min_answers` must be at least 2, not {min_answers}")
    df = store.engine.df(sql("""
        SELECT touchpoint, min(stage) AS stage, count(*) AS n,
               sum(CASE WHEN score >= 9 THEN 1 ELSE 0 END) AS promoters,
               sum(CASE WHEN score <= 6 THEN 1 ELSE 0 END) AS detractors,
               sum(CASE WHEN score >= 4 THEN 1 ELSE 0 END) AS satisfied,
               sum(score) AS total, sum(score * score) AS total_sq
        FROM {answers} a
        WHERE metric = {metric} AND touchpoint IS NOT NULL
        GROUP BY touchpoint ORDER BY touchpoint
    """, answers=answers_query(store, filter), metric=metric))
    columns = ["touchpoint", "stage", "metric", "value", "answers", "rest_value", "rest_answers", "difference",
               "p_value", "p_adjusted", "verdict"]
    if df.empty:
        return pd.DataFrame(columns=columns)
    all_ = df[["n", "promoters", "detractors", "satisfied", "total", "total_sq"]].sum()
    rest = {c: all_[c] - df[c].to_numpy(float) for c in all_.index}
    n, rn = df["n"].to_numpy(float), rest["n"]
    with np.errstate(invalid="ignore", divide="ignore"):
        if metric == "nps":
            value, var = _nps_parts(df["promoters"].to_numpy(float), df["detractors"].to_numpy(float), n)
            rest_value, rest_var = _nps_parts(rest["promoters"], rest["detractors"], rn)
            diff = value - rest_value
            p_value = _two_sided(diff / np.sqrt(var + rest_var), diff)
        elif metric == "csat":
            k, rk = df["satisfied"].to_numpy(float), rest["satisfied"]
            value, rest_value = 100 * k / n, 100 * rk / rn
            pooled = (k + rk) / (n + rn)
            diff = value - rest_value
            p_value = _two_sided(diff / (100 * np.sqrt(pooled * (1 - pooled) * (1 / n + 1 / rn))), diff)
        else:
            value, rest_value = df["total"].to_numpy(float) / n, rest["total"] / rn
            std = np.sqrt(np.maximum(df["total_sq"].to_numpy(float) - n * value**2, 0) / (n - 1))
            rest_std = np.sqrt(np.maximum(rest["total_sq"] - rn * rest_value**2, 0) / (rn - 1))
            diff = value - rest_value
            p_value = stats.ttest_ind_from_stats(value, std, n, rest_value, rest_std, rn, equal_var=False).pvalue
            p_value = np.where(np.isnan(p_value), np.where(diff == 0, 1.0, 0.0), p_value)
    enough = (n >= min_answers) & (rn >= min_answers)
    p_adjusted = np.full(len(df), np.nan)
    if enough.any():
        p_adjusted[enough] = stats.false_discovery_control(p_value[enough])
    verdict = np.where(
        ~enough, "not enough answers",
        np.where(p_adjusted < alpha, np.where(diff > 0, "higher", "lower"), "no significant difference"),
    )
    out = pd.DataFrame({
        "touchpoint": df["touchpoint"], "stage": df["stage"], "metric": metric, "value": value,
        "answers": df["n"].astype("int64"), "rest_value": rest_value, "rest_answers": rn.astype("int64"),
        "difference": diff, "p_value": np.where(enough, p_value, np.nan), "p_adjusted": p_adjusted,
        "verdict": verdict,
    })
    return out.sort_values(["p_adjusted", "touchpoint"], na_position="last").reset_index(drop=True)[columns]
