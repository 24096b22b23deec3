"""Confidence intervals for the three survey metrics (95% unless told otherwise).

- NPS: the Wald interval of a difference of two trinomial proportions. With ``p`` the
  share of promoters and ``d`` the share of detractors among ``n`` answers,
  ``var(p - d) = (p + d - (p - d)^2) / n`` (Rocks, "Confidence intervals for the Net
  Promoter Score", 2016). Reported on the -100..100 scale and clipped to it.
- CSAT (share of 4-5 answers): the Wilson score interval, which stays inside 0..100 and
  behaves for small ``n`` and shares near 0 or 100%.
- CES (mean score): Student's t interval, ``mean ± t(0.975, n-1) * s / sqrt(n)``.

Every function is vectorised over numpy arrays: one call for all groups of a report.
An interval needs at least one answer (two for the t interval); otherwise it is NaN.
"""

from __future__ import annotations

import numpy as np


def _z(confidence: float) -> float:
    from scipy import stats  # here, not at import: the CLI's start-up should not pay for SciPy

    return float(stats.norm.ppf(0.5 + confidence / 2))


def nps_interval(promoters, detractors, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NPS (-100..100) with the low and high ends of its Wald trinomial interval."""
    promoters, detractors, n = (np.asarray(x, dtype=float) for x in (promoters, detractors, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        p, d = promoters / n, detractors / n
        nps = p - d
        half = _z(confidence) * np.sqrt(np.maximum(p + d - nps**2, 0.0) / n)
    return 100 * nps, np.clip(100 * (nps - half), -100, 100), np.clip(100 * (nps + half), -100, 100)


def wilson_interval(successes, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A share in percent with the low and high ends of its Wilson score interval."""
    k, n = np.asarray(successes, dtype=float), np.asarray(n, dtype=float)
    z = _z(confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return 100 * p, 100 * (centre - half), 100 * (centre + half)


def t_interval(mean, std, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Low and high ends of Student's t interval of a mean (``std`` is the sample deviation)."""
    from scipy import stats

    mean, std, n = (np.asarray(x, dtype=float) for x in (mean, std, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        df = np.where(n > 1, n - 1, np.nan)
        half = stats.t.ppf(0.5 + confidence / 2, df) * std / np.sqrt(n)
    return mean - half, mean + half
