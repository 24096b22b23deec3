"""Opportunities ranked on the journey map: which axes of improvement come first.

One row per touchpoint and per stage (the move from a stage to the next). Each row joins four
signals measured elsewhere: what is lost (conversions and revenue), how far customers stray from
the design there (conformance), how they feel there (surveys), and friction (``analytics.friction``).
The score, 0..100, is ``100 x reach x (0.4 loss + 0.2 conformance + 0.2 satisfaction + 0.2 friction)``:

- reach: the share of all customers the row concerns;
- loss: the share of them whose conversion was lost, by the measured gap (see ``lost_conversions``);
- conformance: the share of them who did not follow the design there;
- satisfaction: how far the row's surveys fall below all answers (detractor share, CSAT, CES), 0..1;
- friction: the friction score of the touchpoint (sum of its robust z x weight) / 10, at most 1.

docs/conformance.md spells it out with a worked example.
"""

from __future__ import annotations

import pandas as pd

from parcours.analytics.conformance.conformance import conformance_customers
from parcours.analytics.filters import events
from parcours.analytics.friction.friction import friction
from parcours.analytics.voc.answers import answers_query
from parcours.query import sql
from parcours.query.filter import Filter
from parcours.store.store import Store

WEIGHTS = {"loss": 0.4, "conformance": 0.2, "satisfaction": 0.2, "friction": 0.2}
FRICTION_SCALE = 10.0
EXAMPLES = 5

#: per answers group: how many NPS answers, the detractor share, CSAT (share 4-5), CES mean (a SELECT list)
_SURVEY_COLUMNS = sql("""SELECT
    count(*) FILTER (WHERE metric = 'nps') AS nps_answers,
    CAST(avg(CASE WHEN score <= 6 THEN 1 ELSE 0 END) FILTER (WHERE metric = 'nps') AS DOUBLE) AS detractors,
    CAST(avg(CASE WHEN score >= 4 THEN 1 ELSE 0 END) FILTER (WHERE metric = 'csat') AS DOUBLE) AS csat,
    CAST(avg(score) FILTER (WHERE metric = 'ces') AS DOUBLE) AS ces""").selects


def _satisfaction(store: Store, filter: Filter | None) -> tuple[pd.DataFrame, dict]:
    """Per touchpoint and stage: detractor share, CSAT (share 4-5), CES mean; and the same over all answers."""
    answers = answers_query(store, filter)
    per = store.engine.df(sql("SELECT touchpoint, stage, {cols} FROM {answers} a GROUP BY GROUPING SETS ((touchpoint), (stage))",
                              cols=_SURVEY_COLUMNS, answers=answers))
    base = store.engine.df(sql("SELECT {cols} FROM {answers} a", cols=_SURVEY_COLUMNS, answers=answers)).iloc[0].to_dict()
    return per, base


def _gap(row: dict | None, base: dict) -> float:
    """How far below all answers: the largest of the detractor-share excess, CSAT shortfall, CES shortfall / 6."""
    if not row:
        return 0.0
    gaps = [0.0]
    for key, scale, worse in (("detractors", 1.0, 1), ("csat", 1.0, -1), ("ces", 6.0, -1)):
        v, b = row.get(key), base.get(key)
        if v is not None and b is not None and pd.notna(v) and pd.notna(b):
            gaps.append(worse * (float(v) - float(b)) / scale)
    return max(gaps)


def _value_per_buyer(store: Store, filter: Filter | None) -> float:
    config = store.config
    v = store.engine.scalar(sql(
        "SELECT sum(TRY_CAST(json_extract_string(properties, {path}) AS DOUBLE)) / nullif(count(DISTINCT customer_id), 0) "
        "FROM {events} e WHERE event = {purchase}",
        path="$." + config.value_property, events=events(store, filter), purchase=config.purchase_event))
    return float(v) if v is not None else 0.0


def opportunities(store: Store, *, filter: Filter | None = None, min_customers: int = 10) -> pd.DataFrame:
    """Ranked opportunities, highest ``score`` first.

    Columns: ``rank``, ``stage``, ``touchpoint`` (None for a stage row: leaving the stage),
    ``score`` (0..100, see the module docstring), ``customers`` (affected), ``lost_conversions``,
    ``lost_value`` (lost conversions x value per buyer), ``deviating_share`` (did not follow the design
    there), ``detractor_share``, ``csat``, ``ces`` (with ``*_baseline`` over all answers),
    ``satisfaction_gap``, ``friction_score``, ``evidence`` (short sentences with figures, strongest
    first), ``example_customers``. Rows with fewer than ``min_customers`` are left out.
    """
    config = store.config
    per = conformance_customers(store, filter=filter)
    per = per[per["touchpoints"] > 0]
    total = len(per)
    value = _value_per_buyer(store, filter)
    sat, base = _satisfaction(store, filter)
    sat_tp = {r["touchpoint"]: r for r in sat[sat["touchpoint"].notna()].to_dict("records")}
    sat_stage = {r["stage"]: r for r in sat[sat["stage"].notna() & sat["touchpoint"].isna()].to_dict("records")}
    fr = friction(store, min_z=0.0, min_customers=min_customers, filter=filter)
    fr_tp = fr.groupby("touchpoint")["score"].sum().to_dict() if not fr.empty else {}
    fr_top = (fr.sort_values("score", ascending=False).groupby("touchpoint").head(1).set_index("touchpoint")
              if not fr.empty else pd.DataFrame())
    stage_of = {t.name: t.stage for t in config.touchpoints}
    sidx = {s.name: i for i, s in enumerate(config.stages)}
    cust_tps = [set(v.split(" > ")) for v in per["variant"]]
    furthest = [max(sidx[stage_of[t]] for t in tps) for tps in cust_tps]
    converted = per["converted"].tolist()
    customers = per["customer"].tolist()
    devs = per["deviations"].tolist()
    rows = []

    def row(stage: str, tp: str | None, members: list[int], deviating: list[int], lost: float, lost_why: str,
            sat_row: dict | None, friction_score: float) -> None:
        n = len(members)
        if n < min_customers:
            return
        reach, loss = n / total, min(1.0, lost / n)
        conf = len(deviating) / n
        gap = _gap(sat_row, base)
        fric = min(1.0, friction_score / FRICTION_SCALE)
        terms = {"loss": loss, "conformance": conf, "satisfaction": gap, "friction": fric}
        score = 100 * reach * sum(WEIGHTS[k] * v for k, v in terms.items())
        evidence = []
        if lost > 0:
            evidence.append((WEIGHTS["loss"] * loss, f"{lost:,.1f} conversions lost ({lost * value:,.0f} in value): {lost_why}"))
        if deviating:
            evidence.append((WEIGHTS["conformance"] * conf,
                             f"{conf:.0%} of its {n:,} customers did not follow the design here"))
        if gap > 0 and sat_row:
            parts = [f"{label} {sat_row[k]:{fmt}} vs {base[k]:{fmt}} overall"
                     for k, label, fmt in (("detractors", "detractor share", ".0%"), ("csat", "CSAT", ".0%"),
                                           ("ces", "CES", ".2f"))
                     if sat_row.get(k) is not None and pd.notna(sat_row.get(k)) and base.get(k) is not None
                     and pd.notna(base.get(k))]
            evidence.append((WEIGHTS["satisfaction"] * gap, "surveys: " + ", ".join(parts)))
        if tp is not None and friction_score > 0 and tp in fr_top.index:
            top = fr_top.loc[tp]
            evidence.append((WEIGHTS["friction"] * fric,
                             f"friction {friction_score:.1f}: {top['signal']} at {top['rate']:.0%} vs {top['baseline']:.0%} elsewhere"))
        evidence.sort(key=lambda e: -e[0])
        examples = [customers[i] for i in (deviating or members)][:EXAMPLES]
        rows.append({
            "stage": stage, "touchpoint": tp, "score": round(score, 4), "customers": n,
            "lost_conversions": round(lost, 2), "lost_value": round(lost * value, 2),
            "deviating_share": conf,
            "detractor_share": (sat_row or {}).get("detractors"), "detractor_share_baseline": base.get("detractors"),
            "csat": (sat_row or {}).get("csat"), "csat_baseline": base.get("csat"),
            "ces": (sat_row or {}).get("ces"), "ces_baseline": base.get("ces"),
            "satisfaction_gap": gap, "friction_score": friction_score,
            "evidence": [text for _, text in evidence], "example_customers": examples,
        })

    for t in config.touchpoints:
        members = [i for i, tps in enumerate(cust_tps) if t.name in tps
                   or any(d["touchpoint"] == t.name for d in devs[i])]
        deviating = [i for i in members if any(d["touchpoint"] == t.name for d in devs[i])]
        lost, why = 0.0, ""
        following = [i for i in members if i not in set(deviating)]
        if deviating and following:
            c_follow = sum(converted[i] for i in following) / len(following)
            c_dev = sum(converted[i] for i in deviating) / len(deviating)
            lost = max(0.0, c_follow - c_dev) * len(deviating)
            why = f"customers who deviated here converted {c_dev:.0%} vs {c_follow:.0%} for those who followed"
        row(t.stage, t.name, members, deviating, lost, why, sat_tp.get(t.name), float(fr_tp.get(t.name, 0.0)))
    for k, s in enumerate(config.stages):
        members = [i for i in range(total) if furthest[i] >= k]
        deviating = [i for i in members if any(d["stage"] == s.name for d in devs[i])]
        lost, why = 0.0, ""
        if k + 1 < len(config.stages):
            stopped = [i for i in members if furthest[i] == k and not converted[i]]
            went_on = [i for i in members if furthest[i] > k]
            if stopped and went_on:
                rate = sum(converted[i] for i in went_on) / len(went_on)
                lost = len(stopped) * rate
                why = (f"{len(stopped):,} customers stopped at {s.name} without buying; "
                       f"{rate:.0%} of those who went on converted")
        stage_fr = max((fr_tp.get(t.name, 0.0) for t in config.touchpoints if t.stage == s.name), default=0.0)
        row(s.name, None, members, deviating, lost, why, sat_stage.get(s.name), float(stage_fr))
    cols = ["rank", "stage", "touchpoint", "score", "customers", "lost_conversions", "lost_value", "deviating_share",
            "detractor_share", "detractor_share_baseline", "csat", "csat_baseline", "ces", "ces_baseline",
            "satisfaction_gap", "friction_score", "evidence", "example_customers"]
    df = pd.DataFrame(rows, columns=cols[1:])
    df = df.sort_values(["score", "stage", "touchpoint"], ascending=[False, True, True], kind="stable",
                        na_position="first").reset_index(drop=True)
    df.insert(0, "rank", range(1, len(df) + 1))
    return df
