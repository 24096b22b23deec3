"""The journey map as one nested dict: what the home page and the report draw.

Everything comes from the analyses (stages, VoC, emotion curve, friction), joined onto the
journey file's stages and touchpoints, so the map shows every touchpoint the business
declared, even one no customer has used yet.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from parcours.analytics.conformance import conformance_overview, opportunities
from parcours.analytics.filters import Filter
from parcours.analytics.friction import friction
from parcours.analytics.overview import top_touchpoints
from parcours.analytics.stages import stage_progression
from parcours.store.store import Store
from parcours.voc import emotion_curve, voc_scores

#: how many friction points the map flags (the worst ones, by touchpoint score)
TOP_FRICTION = 5
#: how many actual variants and opportunities the map lists
TOP_VARIANTS = 5
TOP_OPPORTUNITIES = 8
SCORES = ("nps", "csat", "ces")


def clean(value: Any) -> Any:
    """A JSON- and template-friendly value: NaN/NA/None become None, numpy numbers plain numbers."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.ndarray):
        return [clean(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    return value


def _scores(row: pd.Series | None) -> dict:
    out = {}
    for m in SCORES:
        n = int(clean(row[f"{m}_answers"]) or 0) if row is not None else 0
        out[m] = None if n == 0 else {"value": clean(row[m]), "low": clean(row[f"{m}_low"]),
                                      "high": clean(row[f"{m}_high"]), "answers": n}
    return out


def _by(df: pd.DataFrame, key: str) -> dict:
    return {r[key]: r for _, r in df.iterrows()} if not df.empty else {}


def journey_map(store: Store, filter: Filter | None = None) -> dict:
    """Stages in order, each with its touchpoints, people, times, scores, emotion and friction."""
    config = store.config
    progression = _by(stage_progression(store, filter=filter), "stage")
    stage_scores = _by(voc_scores(store, by="stage", filter=filter), "stage")
    tp_scores = _by(voc_scores(store, by="touchpoint", filter=filter), "touchpoint")
    emotions = _by(emotion_curve(store, level="stage", filter=filter), "stage")
    used = _by(top_touchpoints(store, per_stage=10_000, filter=filter), "touchpoint")
    points = friction(store, filter=filter)
    worst = list(dict.fromkeys(points["touchpoint"]))[:TOP_FRICTION]
    flagged: dict[str, list[dict]] = {}
    for _, r in points[points["touchpoint"].isin(worst)].iterrows():
        flagged.setdefault(r["touchpoint"], []).append({
            "signal": r["signal"], "rate": clean(r["rate"]), "baseline": clean(r["baseline"]),
            "customers": int(r["customers"]), "base": int(r["base"]), "score": clean(r["score"]),
            "rank": worst.index(r["touchpoint"]) + 1,
        })

    conf = conformance_overview(store, filter, top=TOP_VARIANTS)
    conf_stage = _by(conf["stages"], "stage")
    conf_tp = _by(conf["touchpoints"], "touchpoint")
    opps = opportunities(store, filter).head(TOP_OPPORTUNITIES)

    stages = []
    for i, s in enumerate(config.stages):
        p = progression.get(s.name)
        tps = []
        for t in (t for t in config.touchpoints if t.stage == s.name):
            u = used.get(t.name)
            tps.append({
                "name": t.name, "label": t.label or t.name, "channel": t.channel, "online": t.online,
                "team": t.team, "moment_of_truth": t.moment_of_truth,
                "customers": int(u["customers"]) if u is not None else 0,
                "scores": _scores(tp_scores.get(t.name)), "friction": flagged.get(t.name, []),
                "followed": clean(conf_tp[t.name]["share"]) if t.name in conf_tp else None,
                "required": t.is_required,
            })
        tps.sort(key=lambda t: -t["customers"])
        e = emotions.get(s.name)
        stages.append({
            "name": s.name, "label": s.label or s.name, "description": s.description, "index": i,
            "current": int(clean(p["current"]) or 0) if p is not None else 0,
            "reached": int(clean(p["reached"]) or 0) if p is not None else 0,
            "median_seconds": clean(p["median_seconds"]) if p is not None else None,
            "scores": _scores(stage_scores.get(s.name)),
            "emotion": clean(e["emotion"]) if e is not None else None,
            "followed": clean(conf_stage[s.name]["share"]) if s.name in conf_stage else None,
            "touchpoints": tps,
        })
    for a, b in zip(stages, stages[1:], strict=False):
        a["conversion_to_next"] = b["reached"] / a["reached"] if a["reached"] else None
    if stages:
        stages[-1]["conversion_to_next"] = None
    rates = [(s["conversion_to_next"], s["name"]) for s in stages if s["conversion_to_next"] is not None]
    biggest_loss = min(rates)[1] if rates else None
    low = [(s["emotion"], s["name"]) for s in stages if s["emotion"] is not None]
    return {
        "stages": stages,
        "customers": stages[0]["reached"] if stages else 0,
        "biggest_loss": biggest_loss,
        "unhappiest": min(low)[1] if low else None,
        "worst_touchpoints": worst,
        #: every friction row (with example customers), for the evidence pages
        "friction": [{k: clean(v) for k, v in row.items()} for row in points.to_dict("records")],
        #: the happy path (rank 0) against the most common actual variants
        "variants": [{k: clean(v) for k, v in row.items()} for row in conf["variants"].to_dict("records")],
        "opportunities": [{k: clean(v) for k, v in row.items()} for row in opps.to_dict("records")],
    }
