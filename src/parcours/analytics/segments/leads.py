"""Lead scoring: how likely each prospect is to buy soon, and why.

Training rows are *snapshots*: at several past moments, every prospect (a customer
with recent activity and no purchase yet) is described by ``features_query`` from
events before that moment only, and labelled by whether they bought within
``horizon_days`` after it. Nothing after a moment leaks into its row.

The model is scikit-learn's histogram gradient boosting, calibrated (isotonic,
cross-validated) so that a score of 30 means about a 30 % chance. Every training
is evaluated on a time-based hold-out: the model trained on snapshots whose label
window closes before the last quarter of snapshots scores that last quarter.

The score a sales team sorts by is a documented rank, spread over 0-100: the
percentile of the prospect's purchase intent among today's prospects (100: the most
likely to buy, 0: the least). Trees give many prospects the same intent: those are
ordered by recency (more recent higher), then by events (more higher); prospects equal
on all three share their average rank. The calibrated chance of
buying within the horizon is kept beside it as ``probability`` (in %): with a base rate
under 1 % every probability is small, which is why it is not the score.

Reasons are per-lead contributions on the model's log-odds (the boosted trees before
calibration, whose steps would hide small effects): how much the intent drops when one
feature is set back to the typical prospect's value (the training median), strongest
first. Every prospect gets at least one reason.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sqlglot import exp
from threadpoolctl import threadpool_limits

from parcours.analytics.filters import events
from parcours.analytics.segments.features import feature_columns, features_query
from parcours.errors import ParcoursError
from parcours.query import Query, literal, sql
from parcours.query.filter import Filter
from parcours.store.store import Store, utcnow

#: features that are constant or meaningless for someone who has not bought yet
PROSPECT_EXCLUDED = ("purchases", "value", "time_to_purchase_days")
#: labelled outcomes of each kind (bought / did not buy) needed to learn; fewer gives a constant model
MIN_OUTCOMES = 20


@dataclass
class LeadModel:
    """A trained, calibrated purchase-intent model and its hold-out evaluation."""

    model: CalibratedClassifierCV
    features: list[str]
    baseline: np.ndarray  #: the typical prospect: training medians, for reasons
    horizon_days: int
    evaluation: dict = field(default_factory=dict)

    def predict(self, X: np.ndarray) -> np.ndarray:
        with threadpool_limits(_threads(len(X))):
            return self.model.predict_proba(X)[:, 1]

    def intent(self, X: np.ndarray) -> np.ndarray:
        """The boosted trees' log-odds (mean over the calibration folds): smooth where the
        calibrated probability is a step function, so it ranks and explains finely."""
        with threadpool_limits(_threads(len(X))):
            return np.mean([c.estimator.decision_function(X) for c in self.model.calibrated_classifiers_], axis=0)


def _threads(rows: int) -> int | None:
    """One thread for small data: OpenMP start-up and spinning cost more than they save there
    (ten times slower on a busy two-core machine); all cores (None) for large data."""
    return 1 if rows < 200_000 else None


def _classifier(seed: int) -> CalibratedClassifierCV:
    gb = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.06, max_leaf_nodes=31,
                                        l2_regularization=1.0, random_state=seed)
    return CalibratedClassifierCV(gb, method="isotonic", cv=3)


def evaluate(y: np.ndarray, p: np.ndarray, top: float = 0.10) -> dict:
    """ROC AUC, precision in the top ``top`` share, Brier score and a calibration table."""
    y = np.asarray(y, dtype=int)
    if len(np.unique(y)) < 2:
        raise ParcoursError("lead scoring: the hold-out has only buyers or only non-buyers; cannot evaluate")
    k = max(1, int(round(len(p) * top)))
    order = np.argsort(-p, kind="stable")
    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="quantile")
    return {
        "rows": int(len(y)),
        "base_rate": float(y.mean()),
        "roc_auc": float(roc_auc_score(y, p)),
        "precision_at_top_10pct": float(y[order[:k]].mean()),
        "lift_at_top_10pct": float(y[order[:k]].mean() / y.mean()),
        "brier": float(brier_score_loss(y, p)),
        "calibration": [{"predicted": float(a), "observed": float(b)} for a, b in zip(predicted, observed, strict=True)],
    }


def fit(frame: pd.DataFrame, features: Sequence[str], horizon_days: int, seed: int = 0) -> LeadModel:
    """Fit the calibrated model on a frame with ``features`` and a ``label`` column."""
    # a feature nobody has (e.g. satisfaction without surveys) says nothing, and breaks the binning
    features = [f for f in features if frame[f].notna().any()]
    X = frame[features].to_numpy(dtype=float)
    y = frame["label"].to_numpy(dtype=int)
    counts = np.bincount(y, minlength=2)
    if counts.min() < MIN_OUTCOMES:
        raise ParcoursError(
            f"lead scoring: too few labelled outcomes to learn: {int(counts[1])} prospects bought and "
            f"{int(counts[0])} did not within the horizon (in {len(y):,} training snapshots); at least "
            f"{MIN_OUTCOMES} of each are needed: import more history, or lengthen `horizon_days`"
        )
    with threadpool_limits(_threads(len(X))):
        model = _classifier(seed).fit(X, y)
    return LeadModel(model, list(features), np.nanmedian(X, axis=0), horizon_days)


def fit_stratified(frame: pd.DataFrame, features: Sequence[str], horizon_days: int = 1,
                   test_size: float = 0.25, seed: int = 0) -> LeadModel:
    """Fit with a stratified random hold-out (for data without time, like single sessions)."""
    train, test = train_test_split(frame, test_size=test_size, stratify=frame["label"], random_state=seed)
    model = fit(train, features, horizon_days, seed)
    model.evaluation = {"split": "stratified", **evaluate(test["label"], model.predict(test[model.features].to_numpy(float)))}
    return model


def labelled_frame(store: Store, moments: Query, horizon_days: int, properties: Sequence[str] = ()) -> pd.DataFrame:
    """Feature rows for the (``customer_id``, ``moment``) pairs of the query ``moments``, with ``label``:
    whether the customer bought within ``horizon_days`` from the moment on."""
    return store.engine.df(sql("""
        WITH f AS ({features}),
        later AS (SELECT customer_id, timestamp FROM {events} WHERE event = {purchase})
        SELECT f.*, EXISTS (SELECT 1 FROM later l WHERE l.customer_id = f.customer_id
                            AND l.timestamp >= f.moment
                            AND l.timestamp < f.moment + INTERVAL {days} DAY) AS label
        FROM f ORDER BY f.moment, f.customer_id
    """, features=features_query(store, moments, properties), events=events(store),
        purchase=store.config.purchase_event, days=int(horizon_days)))


def snapshot_frame(store: Store, moments: Sequence[datetime], horizon_days: int, active_days: int = 30,
                   properties: Sequence[str] = (), filter: Filter | None = None) -> pd.DataFrame:
    """Labelled feature rows of the prospects at each moment: customers active in the
    ``active_days`` before it who have not bought yet (among those with an event in ``filter``)."""
    query = sql("""
        SELECT j.customer_id, c.moment FROM {events} j, {moments}
        WHERE j.timestamp < c.moment
        GROUP BY j.customer_id, c.moment
        HAVING max(j.timestamp) >= c.moment - INTERVAL {days} DAY
           AND sum(CASE WHEN j.event = {purchase} THEN 1 ELSE 0 END) = 0
    """, events=events(store), moments=exp.values([(literal(m),) for m in moments], alias="c", columns=["moment"]),
        days=int(active_days), purchase=store.config.purchase_event)
    if filter is not None:
        query = sql("SELECT * FROM {query} WHERE customer_id IN (SELECT customer_id FROM {events})",
                    query=query, events=events(store, filter))
    return labelled_frame(store, query, horizon_days, properties)


def _span(store: Store) -> tuple[datetime, datetime]:
    lo, hi = store.engine.arrow("SELECT min(timestamp) AS lo, max(timestamp) AS hi FROM events").to_pylist()[0].values()
    if lo is None:
        raise ParcoursError("lead scoring: the store has no events (import data or run `parcours demo` first)")
    return lo, hi


def train_lead_model(store: Store, horizon_days: int = 14, snapshots: int = 16, active_days: int = 30,
                     properties: Sequence[str] = (), seed: int = 0) -> LeadModel:
    """Train on past snapshots, evaluate on the last quarter of them (time-based hold-out), refit on all.

    The hold-out model only sees snapshots whose label window closes before the first
    hold-out snapshot.

    Snapshots are spread evenly over the second half of the history, the last one
    ``horizon_days`` before the latest event so that its label window is complete.
    """
    if horizon_days < 1 or snapshots < 3:
        raise ParcoursError("lead scoring: horizon_days must be >= 1 and snapshots >= 3")
    lo, hi = _span(store)
    last = hi - timedelta(days=horizon_days)
    first = lo + (last - lo) / 2
    if last - first < timedelta(days=horizon_days):
        raise ParcoursError(
            f"lead scoring: the data spans {(hi - lo).days} days; with a {horizon_days}-day horizon it needs "
            f"at least {4 * horizon_days} days of history"
        )
    moments = [first + (last - first) * i / (snapshots - 1) for i in range(snapshots)]
    frame = snapshot_frame(store, moments, horizon_days, active_days, properties)
    features = [f for f in feature_columns(store, properties) if f not in PROSPECT_EXCLUDED]
    test_from = pd.Timestamp(moments[-max(1, snapshots // 4)])
    train = frame[frame["moment"] <= test_from - pd.Timedelta(days=horizon_days)]
    test = frame[frame["moment"] >= test_from]
    held = fit(train, features, horizon_days, seed)
    evaluation = {
        "split": "time", "train_rows": len(train), "train_until": str(train["moment"].max()),
        "test_from": str(test_from), "horizon_days": horizon_days,
        **evaluate(test["label"].to_numpy(), held.predict(test[held.features].to_numpy(float))),
    }
    model = fit(frame, features, horizon_days, seed)
    model.evaluation = evaluation
    return model


def explain(model: LeadModel, X: np.ndarray, top: int = 3) -> list[list[str]]:
    """The reasons for each row's score, strongest first: the features that raise its intent most.

    A lead nothing raises gets what lowers it most; one no feature moves is said to be typical.
    """
    p = model.intent(X)
    deltas = np.zeros_like(X, dtype=float)
    for j, base in enumerate(model.baseline):
        differs = ~np.isclose(X[:, j], base, equal_nan=True)
        if differs.any():
            X2 = X[differs].copy()
            X2[:, j] = base
            deltas[differs, j] = p[differs] - model.intent(X2)
    reasons = []
    for i in range(len(X)):
        up = [j for j in np.argsort(-deltas[i], kind="stable")[:top] if deltas[i, j] > 1e-9]
        chosen = up or [j for j in np.argsort(deltas[i], kind="stable")[:top] if deltas[i, j] < -1e-9]
        reasons.append([_reason(model.features[j], X[i, j], deltas[i, j]) for j in chosen]
                       or ["a typical prospect: no feature sets them apart"])
    return reasons


def _reason(feature: str, value: float, delta: float) -> str:
    pts = f"{'+' if delta > 0 else '-'}{abs(delta):.2g} log-odds"
    kind, _, name = feature.partition(":")
    if np.isnan(value):
        text = f"no {feature}"
    elif kind in ("touchpoint", "stage", "channel"):
        text = f"{name} x{value:g}"
    elif feature in ("recency_days", "tenure_days"):
        text = f"{feature.removesuffix('_days')} {value:.1f} days"
    else:
        text = f"{feature} {value:.3g}"
    return f"{text} ({pts})"


def score_leads(store: Store, model: LeadModel | None = None, *, active_days: int = 30,
                properties: Sequence[str] = (), filter: Filter | None = None, **train_options) -> pd.DataFrame:
    """Score current prospects 0-100, highest first (see the module docstring for the scale).

    ``filter`` picks the prospects (customers with an event in it); the model, trained on the
    whole store, and each prospect's features (all their behaviour) do not depend on it.

    Columns: ``customer``, ``score`` (0..100: percentile of purchase intent among the
    prospects), ``probability`` (calibrated chance of buying within the horizon, in %),
    ``reasons`` (short strings, strongest first, never empty), ``furthest_stage``,
    ``recency_days``, ``events``. No prospect today gives an empty table; a model that
    cannot tell prospects apart is an error, not a constant score.
    """
    model = model or train_lead_model(store, active_days=active_days, properties=properties, **train_options)
    _, hi = _span(store)
    frame = snapshot_frame(store, [hi + timedelta(seconds=1)], model.horizon_days, active_days, properties, filter)
    stages = [s.name for s in store.config.stages]
    if frame.empty:
        return pd.DataFrame(columns=["customer", "score", "probability", "reasons", "furthest_stage",
                                     "recency_days", "events"])
    X = frame[model.features].to_numpy(float)
    intent = model.intent(X)
    if len(X) > 1 and np.ptp(intent) == 0:
        raise ParcoursError(f"lead scoring: the model gives all {len(X):,} prospects the same intent; "
                            "it has nothing to rank them by (import more history)")
    rank = _rank(intent, -frame["recency_days"].to_numpy(float), frame["events"].to_numpy(float))
    out = pd.DataFrame({
        "customer": frame["customer_id"],
        "score": np.round(100 * (rank - 1) / max(len(X) - 1, 1), 1) if len(X) > 1 else np.array([100.0]),
        "probability": np.round(model.predict(X) * 100, 2),
        "reasons": explain(model, X),
        "furthest_stage": [stages[int(i)] if i >= 0 else None for i in frame["furthest_stage"]],
        "recency_days": frame["recency_days"].round(1),
        "events": frame["events"],
    })
    return out.sort_values(["score", "customer"], ascending=[False, True], ignore_index=True)


def _rank(*keys: np.ndarray) -> np.ndarray:
    """1-based ranks by ``keys`` lexicographically (the first key first); full ties share their average rank."""
    frame = pd.DataFrame({f"k{i}": np.nan_to_num(k, nan=-np.inf) for i, k in enumerate(keys)})
    order = frame.sort_values(list(frame.columns), kind="stable").index.to_numpy()
    ranks = np.empty(len(frame))
    ranks[order] = np.arange(1, len(frame) + 1)
    return pd.Series(ranks).groupby([frame[c] for c in frame.columns]).transform("mean").to_numpy()


def save_lead_scores(store: Store, scores: pd.DataFrame, model: LeadModel) -> None:
    """Keep the latest scores (for ``lead_score`` in segment rules) and the training's evaluation."""
    now = utcnow()
    store.register("_lead_rows", scores[["customer", "score", "reasons"]].assign(scored_at=now))
    try:
        with store.transaction(changes_data=False):  # no journey data: the journey table stays
            store.execute("DELETE FROM lead_scores")
            store.execute("INSERT INTO lead_scores SELECT customer, score, reasons, scored_at FROM _lead_rows")
            store.execute("INSERT INTO lead_models VALUES (?, ?, ?, ?)",
                              [now, model.horizon_days, model.evaluation.get("train_rows", 0),
                               json.dumps(model.evaluation)])
    finally:
        store.unregister("_lead_rows")
