"""The journey map as one nested dict: what the home page and the report draw.

Everything comes from the analyses (stages, VoC, emotion curve, friction), joined onto the
journey file's stages and touchpoints, so the map shows every touchpoint the business
declared, even one no customer has used yet. Touchpoints keep journey order within their
stage (the file's, or the measured typical order), never customer counts: a map read left to
right and top to bottom is the journey as it happens. The designer's lanes (goals, thoughts,
pain points, opportunities, owner) come from the journey file as written.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd

from parcours.analytics.conformance import conformance_overview, opportunities
from parcours.analytics.friction.friction import friction
from parcours.analytics.names import check_name
from parcours.analytics.segments.segments import list_segments
from parcours.analytics.stages.overview import top_touchpoints
from parcours.analytics.stages.stages import stage_progression
from parcours.analytics.stages.touchpoint_outcomes import touchpoint_outcomes
from parcours.analytics.voc import emotion_curve, voc_scores
from parcours.config.schema import LANES
from parcours.errors import ParcoursError
from parcours.query.filter import Filter
from parcours.store.store import Store

#: how many friction points the map flags (the worst ones, by touchpoint score)
TOP_FRICTION = 5
#: how many actual variants and opportunities the map lists
TOP_VARIANTS = 5
TOP_OPPORTUNITIES = 8
SCORES = ("nps", "csat", "ces")
#: the touchpoint orders a map can show: the journey file's, or the measured typical order
ORDERS = ("file", "measured")


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


def journey_map(store: Store, filter: Filter | None = None, order: str = "file") -> dict:
    """Stages in order, each with its touchpoints, people, times, scores, emotion and friction.

    ``order``: touchpoints within a stage in the journey file's order (``file``) or in the
    measured typical order (``measured``: where customers usually meet them first).
    """
    if order not in ORDERS:
        raise ParcoursError(f"order={order!r}: use {' or '.join(ORDERS)}")
    config = store.config
    progression = _by(stage_progression(store, filter=filter), "stage")
    stage_scores = _by(voc_scores(store, by="stage", filter=filter), "stage")
    tp_scores = _by(voc_scores(store, by="touchpoint", filter=filter), "touchpoint")
    emotions = _by(emotion_curve(store, level="stage", filter=filter), "stage")
    tp_emotions = _by(emotion_curve(store, level="touchpoint", filter=filter), "touchpoint")
    used = _by(top_touchpoints(store, per_stage=10_000, filter=filter), "touchpoint")
    outcomes = _by(touchpoint_outcomes(store, filter=filter), "touchpoint")
    points = friction(store, filter=filter)
    worst = list(dict.fromkeys(points["touchpoint"]))[:TOP_FRICTION]
    flagged: dict[str, list[dict]] = {}
    for _, r in points[points["touchpoint"].isin(worst)].iterrows():
        flagged.setdefault(r["touchpoint"], []).append({
            "signal": r["signal"], "rate": clean(r["rate"]), "baseline": clean(r["baseline"]),
            "customers": int(r["customers"]), "base": int(r["base"]), "score": clean(r["score"]),
            "rank": worst.index(r["touchpoint"]) + 1,
        })

    conf = conformance_overview(store, filter=filter, top=TOP_VARIANTS)
    conf_stage = _by(conf["stages"], "stage")
    conf_tp = _by(conf["touchpoints"], "touchpoint")
    opps = opportunities(store, filter=filter).head(TOP_OPPORTUNITIES)

    stages = []
    for i, s in enumerate(config.stages):
        p = progression.get(s.name)
        tps = []
        for t in (t for t in config.touchpoints if t.stage == s.name):
            u, o, te = used.get(t.name), outcomes.get(t.name), tp_emotions.get(t.name)
            tps.append({
                "name": t.name, "label": t.label or t.name, "channel": t.channel, "online": t.online,
                "team": t.team, "moment_of_truth": t.moment_of_truth,
                "customers": int(u["customers"]) if u is not None else 0,
                "scores": _scores(tp_scores.get(t.name)), "friction": flagged.get(t.name, []),
                "followed": clean(conf_tp[t.name]["share"]) if t.name in conf_tp else None,
                "required": t.is_required,
                "conversion": clean(o["conversion"]) if o is not None else None,
                "dropoff": clean(o["dropoff"]) if o is not None else None,
                "position": clean(o["position"]) if o is not None else None,
                "emotion": clean(te["emotion"]) if te is not None else None,
                "answers": int(te["answers"]) if te is not None else 0,
            })
        if order == "measured":  # unused touchpoints keep their file order, after the used ones
            tps.sort(key=lambda t: math.inf if t["position"] is None else t["position"])
        e = emotions.get(s.name)
        stages.append({
            "name": s.name, "label": s.label or s.name, "description": s.description, "index": i,
            "current": int(clean(p["current"]) or 0) if p is not None else 0,
            "reached": int(clean(p["reached"]) or 0) if p is not None else 0,
            "median_seconds": clean(p["median_seconds"]) if p is not None else None,
            "scores": _scores(stage_scores.get(s.name)),
            "emotion": clean(e["emotion"]) if e is not None else None,
            "answers": int(e["answers"]) if e is not None else 0,
            "lanes": s.lanes(),
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
        "order": order,
        #: the designer's lanes some stage fills, in the map's order (empty lanes are not drawn)
        "lanes": [lane for lane in LANES if any(st["lanes"][lane] for st in stages)],
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


# -- persona lanes: segments or periods side by side ---------------------------------------------

#: how many segments (personas saved as segments included) the map sets side by side, as UXPressia does
MAX_LANES = 3
#: how many friction points each lane names
LANE_FRICTION = 3


def compare_lanes(store: Store, filter: Filter | None = None, segments: tuple[str, ...] = (),
                  periods: tuple[str, ...] = ()) -> list[dict]:
    """One lane per segment, or per period (two), with the same figures: stage conversion,
    emotion curve and friction, so the differences between them are the only thing that varies.

    A segment lane replaces the filter's segment and keeps its dates and conditions; a period
    lane (``YYYY-MM-DD..YYYY-MM-DD``, both days included) replaces its dates and keeps the rest.
    """
    base = filter or Filter()
    if segments and periods:
        raise ParcoursError("compare segments (lane=) or two periods (period=), not both at once")
    if len(segments) > MAX_LANES:
        raise ParcoursError(f"lane=: at most {MAX_LANES} segments side by side ({len(segments)} given); "
                            "leave some out")
    if len(set(segments)) < len(segments):
        raise ParcoursError(f"lane=: a segment is chosen twice ({', '.join(segments)})")
    if periods and len(periods) != 2:
        raise ParcoursError(f"period=: give two periods to compare ({len(periods)} given), "
                            "e.g. period=2024-01-01..2024-03-31&period=2024-04-01..2024-06-30")
    if segments:
        known = list_segments(store, with_counts=False)["name"].tolist()
        for name in segments:
            check_name("lane=", "segment", name, known)
        return [_lane(store, name, name, base.model_copy(update={"segment": name})) for name in segments]
    return [_lane(store, text, text.replace("..", " – "), base.model_copy(update=dict(zip(("start", "end"),
                                                                                     parse_period(text), strict=True))))
            for text in periods]


def parse_period(text: str) -> tuple[datetime, datetime]:
    """``YYYY-MM-DD..YYYY-MM-DD`` (both days included) as a filter's start and exclusive end."""
    try:
        first, last = (date.fromisoformat(part.strip()) for part in text.split(".."))
    except ValueError:
        raise ParcoursError(f"period={text!r}: write FIRST..LAST days as YYYY-MM-DD..YYYY-MM-DD, "
                            "e.g. 2024-01-01..2024-03-31") from None
    if last < first:
        raise ParcoursError(f"period={text!r}: {last} is before {first}")
    return datetime.combine(first, time()), datetime.combine(last + timedelta(days=1), time())


def _lane(store: Store, key: str, label: str, filter: Filter) -> dict:
    """A lane's figures per stage (reached, conversion to the next, emotion) and its worst friction."""
    progression = _by(stage_progression(store, filter=filter), "stage")
    emotions = _by(emotion_curve(store, level="stage", filter=filter), "stage")
    points = friction(store, filter=filter)
    stages = []
    for st in store.config.stages:
        p, e = progression.get(st.name), emotions.get(st.name)
        stages.append({"name": st.name, "reached": int(clean(p["reached"]) or 0) if p is not None else 0,
                       "emotion": clean(e["emotion"]) if e is not None else None,
                       "answers": int(e["answers"]) if e is not None else 0})
    for a, b in zip(stages, stages[1:], strict=False):
        a["conversion_to_next"] = b["reached"] / a["reached"] if a["reached"] else None
    stages[-1]["conversion_to_next"] = None
    worst = points.drop_duplicates("touchpoint").head(LANE_FRICTION)
    return {"key": key, "label": label, "customers": stages[0]["reached"], "stages": stages,
            "friction": [{"touchpoint": r["touchpoint"], "signal": r["signal"], "rate": clean(r["rate"]),
                          "score": clean(r["touchpoint_score"])} for _, r in worst.iterrows()]}
