"""One data function per page: ``(store, Filter, **options) -> dict`` for its template.

They call the analyses (never SQL of their own beyond small listings) and shape the results
into rows and Plotly specs. The dashboard's routes (``parcours.web.routes``) cache their output
per filter and data version; the report (``parcours.report``) draws ``journey_page`` to a file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import pandas as pd

from parcours.analytics.attribution import attribution, side_by_side
from parcours.analytics.attribution.paths import NO_TOUCH
from parcours.analytics.customers.persons import group_types
from parcours.analytics.filters import events
from parcours.analytics.funnels.funnel import FunnelRun, conversion_trends, funnel
from parcours.analytics.funnels.spec import POSTHOG_MODES
from parcours.analytics.journey_map import clean, compare_lanes, journey_map
from parcours.analytics.names import known_events
from parcours.analytics.paths.paths import flows, top_paths
from parcours.analytics.retention.retention import retention, retention_curve
from parcours.analytics.segments.leads import LeadModel, score_leads, train_lead_model
from parcours.analytics.segments.personas import find_personas
from parcours.analytics.segments.segments import list_segments, segment_members
from parcours.analytics.stages.overview import store_stats, unmapped_events
from parcours.analytics.voc import compare_touchpoints, list_followups, survey_answers, voc_scores
from parcours.analytics.voc.followups import STATUSES, pending_followups
from parcours.config.loader import template_text
from parcours.errors import ParcoursError
from parcours.journey.profiles import customer_profile
from parcours.query import sql
from parcours.query.filter import SPLITS, Filter, split
from parcours.store.store import Store
from parcours.views import charts
from parcours.views.i18n import Duration, Label
from parcours.views.people import linked_sankey

#: ``shared(store, key, compute)``: a result that does not depend on the page's filter, computed
#: once for every filter (the dashboard passes its cache's ``get``; alone, it is just computed)
Shared = Callable[[Store, Hashable, Callable[[], Any]], Any]


def computed(store: Store, key: Hashable, compute: Callable[[], Any]) -> Any:
    """The ``Shared`` that keeps nothing: ``compute()``."""
    return compute()


def segment_names(store: Store) -> list[str]:
    return list_segments(store, with_counts=False)["name"].tolist()


def subject_names(store: Store) -> list[str]:
    """Whose journeys the filter bar offers besides customers': one per group type (accounts)."""
    return [f"group.{t}" for t in group_types(store)]


def journey_page(store: Store, filter: Filter, order: str = "file", lanes: tuple[str, ...] = (),
                 periods: tuple[str, ...] = ()) -> dict:
    """The map; with ``lanes`` (segments) or two ``periods``, their figures side by side under it."""
    compared = compare_lanes(store, filter, segments=lanes, periods=periods)  # first: a bad lane fails fast
    jm = journey_map(store, filter, order=order)
    labels = [s["label"] for s in jm["stages"]]
    figs = {
        "emotion": charts.emotion_curve(labels, [s["emotion"] for s in jm["stages"]]),
        "reached": charts.losses(labels, [s["reached"] for s in jm["stages"]],
                                 [s["name"] == jm["biggest_loss"] for s in jm["stages"]]),
    }
    if compared:
        figs["lane_emotion"] = charts.emotion_lanes(labels, [(c["label"], [s["emotion"] for s in c["stages"]])
                                                             for c in compared])
        shares = pd.DataFrame([(c["label"], label, s["reached"] / c["customers"] if c["customers"] else None)
                               for c in compared for label, s in zip(labels, c["stages"], strict=True)],
                              columns=["lane", "stage", "share"])
        figs["lane_reached"] = charts.grouped_bars(shares, "stage", "lane", "share", height=260,
                                                   yaxis={"tickformat": ".0%", "title": Label("share_reached")})
    return {"map": jm, "compared": compared, "compare_by": "period" if periods else "segment", "charts": figs}


def records(df: pd.DataFrame, limit: int | None = None) -> list[dict]:
    """Rows as plain dicts for a template (NaN as None), at most ``limit`` of them."""
    part = df.head(limit) if limit else df
    return [{k: clean(v) for k, v in row.items()} for row in part.to_dict("records")]


#: rows per page of a long list (follow-ups, poor answers, leads)
PAGE_SIZE = 50


def paged(df: pd.DataFrame, page: int, size: int = PAGE_SIZE) -> dict:
    """One page (1-based) of a long list: its rows, and where it sits ("51–100 of 213") for the pager.

    A page past the last one is an error that names the last page; an empty list has one empty page.
    """
    total = len(df)
    pages = max(1, -(-total // size))
    if not 1 <= page <= pages:
        raise ParcoursError(f"page={page}: there {'is' if pages == 1 else 'are'} {pages} page"
                            f"{'' if pages == 1 else 's'} of {size} rows ({total} in all); use 1 to {pages}")
    first = (page - 1) * size
    return {"rows": records(df.iloc[first:first + size]), "page": page, "pages": pages, "total": total,
            "first": first + 1 if total else 0, "last": min(first + size, total)}


# -- evidence behind a flagged touchpoint -----------------------------------------------------

def evidence_page(store: Store, filter: Filter, touchpoint: str, points: list[dict], page: int = 1) -> dict:
    """A touchpoint's friction signals (``points``: the journey map's friction rows) and poor answers."""
    names = {t.name: t for t in store.config.touchpoints}
    if touchpoint not in names:
        raise ParcoursError(f"touchpoint={touchpoint!r}: not in the journey file ({', '.join(names)})")
    rows = [p for p in points if p["touchpoint"] == touchpoint]
    answers = survey_answers(store, filter=filter)
    poor = answers[(answers["touchpoint"] == touchpoint)]
    poor = poor[((poor["metric"] == "nps") & (poor["score"] <= 6)) | ((poor["metric"] != "nps") & (poor["score"] <= 2))]
    poor = poor.sort_values("timestamp", ascending=False) if "timestamp" in poor else poor
    return {"touchpoint": names[touchpoint], "signals": rows, "poor": paged(poor, page)}


# -- funnels ------------------------------------------------------------------------------------

def default_steps(store: Store) -> list[str]:
    return [f"stage:{s.name}" for s in store.config.stages]


def funnel_page(store: Store, filter: Filter, steps: tuple[str, ...], window: str, mode: str,
                breakdown: str, drop_step: int, split_by: str = "") -> dict:
    """The funnel; with ``split_by`` (``conformance``, ``fitness < 0.8``) also its conversion per
    group of customers (``parcours.analytics.filters.split``), e.g. conforming vs deviating."""
    options = {"window": window, "mode": mode, "breakdown": breakdown or None}
    steps_list = list(steps)
    if len(steps_list) < 2:
        raise ParcoursError("funnel: give at least two steps")
    if not 2 <= drop_step <= len(steps_list):
        raise ParcoursError(f"drop_step={drop_step}: must be between 2 and {len(steps_list)}")
    # one kernel run for the table, the time to convert and who dropped (the trend needs its own)
    run = FunnelRun(store, steps_list, filter=filter, window=window, mode=mode)
    overall = run.steps()
    table = overall if not breakdown else funnel(store, steps_list, filter=filter, **options)
    ttc = run.time_to_convert()
    try:
        trend = conversion_trends(store, steps_list, interval="week", filter=filter, window=window, mode=mode)
    except ParcoursError:
        trend = pd.DataFrame(columns=["period_start", "reached_from_step_count", "conversion_rate"])  # unordered
    incomplete = _incomplete(store, filter, trend["period_start"], pd.Timedelta(days=7),
                             pd.Timedelta(seconds=run.spec.window_seconds))
    # a period nobody entered has no rate (a gap), not 0%
    rates = trend["conversion_rate"].where(trend["reached_from_step_count"] > 0)
    dropped = run.dropped(drop_step)
    sides = split(filter, split_by, "split=") if split_by else []
    split_table = pd.concat([FunnelRun(store, steps_list, filter=f, window=window, mode=mode).steps().assign(split=label)
                             for label, f in sides], ignore_index=True) if sides else None
    labels = [f"{i + 1}. {s}" for i, s in enumerate(steps_list)]
    figs = {
        "funnel": charts.funnel(labels, overall["customers"].tolist()),
        "ttc": charts.bars([Duration(v) for v in ttc["bin_start_seconds"]], ttc["customers"].tolist(),
                           xaxis={"type": "category"}),
        "trend": charts.trend(trend["period_start"], rates, incomplete, yaxis={"title": "%"}),
    }
    if breakdown:
        figs["breakdown"] = charts.grouped_bars(table.assign(breakdown=table["breakdown"].fillna(Label("no_value"))),
                                                "name", "breakdown", "conversion_from_first",
                                                yaxis={"tickformat": ".0%"})
    if split_table is not None:
        figs["split"] = charts.grouped_bars(split_table, "name", "split", "conversion_from_first",
                                            yaxis={"tickformat": ".0%"})
    step_options = ([f"stage:{st.name}" for st in store.config.stages]
                    + [f"touchpoint:{tp.name}" for tp in store.config.touchpoints])
    return {"table": records(table), "charts": figs, "dropped": records(dropped, 30), "dropped_total": len(dropped),
            "step_options": step_options, "split_options": [*SPLITS, "fitness < 0.8"],
            "split_table": records(split_table) if split_table is not None else [],
            "modes": POSTHOG_MODES, "average_seconds": ttc.attrs.get("average_conversion_time")}


def _incomplete(store: Store, filter: Filter, periods: pd.Series, length: pd.Timedelta,
                window: pd.Timedelta) -> list[bool]:
    """Which periods have not closed: an entry in them could still convert after the data's end
    (the latest event in the filter), so their rate is not final."""
    if periods.empty:
        return []
    end = store.engine.df(sql("SELECT max(timestamp) AS t FROM {events}", events=events(store, filter)))["t"].iloc[0]
    if pd.isna(end):
        return [False] * len(periods)
    end = pd.Timestamp(end).tz_convert(None) if pd.Timestamp(end).tzinfo else pd.Timestamp(end)
    return [pd.Timestamp(p) + length + window > end for p in periods]


# -- paths ----------------------------------------------------------------------------------------

def _path_links(paths: pd.DataFrame, align_end: bool) -> pd.DataFrame:
    """Sankey links (position, source, target, customers) from a top-paths table."""
    rows = []
    for _, r in paths.iterrows():
        if str(r["path"]).startswith("("):
            continue  # (other), (did not reach ...) are counts, not paths
        steps = str(r["path"]).split(" > ")
        offset = 6 - len(steps) if align_end else 0
        for i, (a, b) in enumerate(zip(steps, steps[1:], strict=False)):
            rows.append((offset + i + 1, a, b, int(r["customers"])))
    df = pd.DataFrame(rows, columns=["position", "source", "target", "customers"])
    return df.groupby(["position", "source", "target"], as_index=False)["customers"].sum()


def paths_page(store: Store, filter: Filter, touchpoint: str, direction: str) -> dict:
    names = [t.name for t in store.config.touchpoints]
    if touchpoint and touchpoint not in names:
        raise ParcoursError(f"touchpoint={touchpoint!r}: not in the journey file")
    if direction not in ("from", "to"):
        raise ParcoursError(f"direction={direction!r}: use from or to")
    anchor = f"touchpoint:{touchpoint}" if touchpoint else None
    if direction == "to" and anchor:
        top = top_paths(store, end=anchor, max_length=5, top=15, filter=filter)
        links = _path_links(top_paths(store, end=anchor, max_length=5, top=40, filter=filter), align_end=True)
        # links under 0.5% of the customers in scope only clutter the diagram
        floor = 0.005 * links[links["position"] == links["position"].min()]["customers"].sum() if len(links) else 0
        sankey = charts.sankey(links[links["customers"] >= floor])
    else:
        top = top_paths(store, start=anchor, max_length=5, top=15, filter=filter)
        # a click on a link lists its customers
        sankey = linked_sankey(store, flows(store, start=anchor, max_steps=4, filter=filter),
                               {"start": anchor, "max_steps": 4})
    return {"touchpoints": names, "top": records(top), "charts": {"sankey": sankey}}


# -- retention ------------------------------------------------------------------------------------

def retention_page(store: Store, filter: Filter, period: str, start: str = "", back: str = "") -> dict:
    """Cohorts by their first ``start`` event, retained by a ``back`` event (any event when empty):
    the names are checked by the analysis, whose did-you-mean message the page shows."""
    if period not in ("day", "week", "month"):
        raise ParcoursError(f"period={period!r}: use day, week or month")
    table = retention(store, start or None, back or None, period=period, filter=filter)
    curve = retention_curve(store, start or None, back or None, period=period, filter=filter)
    horizon = {"day": 30, "week": 16, "month": 12}[period]
    grid = table[table["period"] <= horizon].pivot(index="cohort", columns="period", values="rate")
    sizes = table.groupby("cohort")["size"].first()
    # a click on a cell lists the customers it counts
    cells = [[f"/people?set=cohort&period={period}&cohort={c}&k={k}" for k in grid.columns] for c in grid.index]
    grid.index = [f"{c} (n={sizes[c]})" for c in grid.index]
    heatmap = charts.heatmap(grid, xaxis={"type": "category", "title": Label(period)})
    heatmap["data"][0]["customdata"] = cells
    return {"charts": {"heatmap": heatmap,
                       "curve": charts.lines(curve[curve["period"] <= horizon], "period", "rate",
                                             yaxis={"tickformat": ".0%", "range": [0, 1.05]})},
            "curve": records(curve[curve["period"] <= horizon]), "event_options": _event_options(store)}


def _event_options(store: Store) -> list[str]:
    """What a retention cohort can start or return with: stored events, then touchpoints and stages."""
    return (sorted(known_events(store)) + [f"touchpoint:{t.name}" for t in store.config.touchpoints]
            + [f"stage:{s.name}" for s in store.config.stages])


# -- attribution ----------------------------------------------------------------------------------

def attribution_page(store: Store, filter: Filter, level: str) -> dict:
    if level not in ("channel", "campaign"):
        raise ParcoursError(f"level={level!r}: use channel or campaign")
    result = attribution(store, level=level, filter=filter)
    wide = side_by_side(result)
    # "(none)": conversions with no touch in their lookback window, named in words on the chart
    result = result.assign(channel=[Label("no_touch") if c == NO_TOUCH else c for c in result["channel"]])
    models = result.assign(model=[Label(f"model_{m}") for m in result["model"]])
    return {"charts": {"models": charts.grouped_bars(models, "channel", "model", "conversions",
                                                     yaxis={"title": Label("conversions")})},
            "columns": list(wide.columns), "table": records(wide), "no_touch": NO_TOUCH,
            "has_no_touch": bool((wide[wide.columns[0]] == NO_TOUCH).any())}


# -- voice of the customer ------------------------------------------------------------------------

def voc_page(store: Store, filter: Filter, metric: str) -> dict:
    if metric not in ("nps", "csat", "ces"):
        raise ParcoursError(f"metric={metric!r}: use nps, csat or ces")
    overall = voc_scores(store, by=None, filter=filter)
    by_tp = voc_scores(store, by="touchpoint", filter=filter)
    shown = by_tp[by_tp[f"{metric}_answers"] > 0]
    compare = compare_touchpoints(store, metric=metric, filter=filter)
    return {"overall": records(overall), "by_touchpoint": records(by_tp), "compare": records(compare),
            "charts": {"scores": charts.intervals(shown["touchpoint"].tolist(), shown[metric], shown[f"{metric}_low"],
                                                  shown[f"{metric}_high"], metric.upper(),
                                                  yaxis={"title": metric.upper()})}}


def followup_rows(store: Store, status: str | None, page: int = 1) -> dict:
    """A page of follow-up items, and how many the "+ Follow-ups" action would open now."""
    return {"followups": paged(list_followups(store, status=status or None), page), "statuses": STATUSES,
            "pending": pending_followups(store)}


# -- segments, personas, leads ----------------------------------------------------------------------

def segments_page(store: Store, filter: Filter, shared: Shared = computed) -> dict:
    """Personas are found over every customer; with a segment, the chart shows its members per persona."""
    saved = list_segments(store)
    personas = shared(store, ("personas",), lambda: find_personas(store))
    cards = personas.cards
    members = personas.members
    if filter.segment:
        members = members[members["customer_id"].isin(set(segment_members(store, filter.segment)["customer_id"]))]
    counts = members["persona"].value_counts().reindex(cards["persona"], fill_value=0)
    return {"saved": records(saved), "cards": records(cards),
            "charts": {"sizes": charts.bars(cards["persona"].tolist(), counts.tolist(), height=260)}}


def _lead_scores(store: Store) -> tuple[LeadModel, pd.DataFrame]:
    model = train_lead_model(store)
    return model, score_leads(store, model)


def leads_page(store: Store, filter: Filter, shared: Shared = computed, page: int = 1) -> dict:
    """Current prospects scored over every customer (the date range does not apply); a segment narrows the list."""
    model, scored = shared(store, ("lead_scores",), lambda: _lead_scores(store))
    if filter.segment:
        members = set(segment_members(store, filter.segment)["customer_id"])
        scored = scored[scored["customer"].isin(members)]
    counts, edges = np.histogram(scored["score"], bins=20, range=(0, 100))
    return {"leads": paged(scored, page), "total": len(scored), "auc": model.evaluation.get("roc_auc"),
            "charts": {"scores": charts.bars([f"{int(a)}–{int(b)}" for a, b in zip(edges, edges[1:], strict=False)],
                                             counts.tolist(), height=240,
                                             xaxis={"title": Label("score"), "type": "category"})}}


# -- data -------------------------------------------------------------------------------------------

def _store_overview(store: Store) -> dict:
    """What the data page shows about the whole store, whatever the filter."""
    # the store's own bookkeeping tables (not the journey): read from the store whatever the engine
    quarantine = store.execute(
        "SELECT source, row_number, reason, raw, quarantined_at FROM quarantine ORDER BY quarantined_at DESC LIMIT 100"
    ).df()
    imports = store.execute(
        "SELECT batch_id, source, loaded, quarantined, duplicates, imported_at FROM imports ORDER BY batch_id DESC LIMIT 50"
    ).df()
    stats = store_stats(store)
    return {"stats": {k: v for k, v in stats.items() if not isinstance(v, dict | list)},
            "quarantine": records(quarantine), "imports": records(imports),
            "unmapped": records(unmapped_events(store)), "journey_file": journey_text(store)}


def data_page(store: Store, filter: Filter, shared: Shared = computed) -> dict:
    """Event volume in the filter, then the store's counts, quarantine, imports and unmapped events."""
    volume = store.engine.df(sql("""
        SELECT CAST(date_trunc('week', timestamp) AS DATE) AS week, coalesce(source, '(none)') AS source,
               count(*) AS events
        FROM {events} GROUP BY 1, 2 ORDER BY 1, 2""", events=events(store, filter)))
    volume["source"] = [Label("no_value") if s == "(none)" else s for s in volume["source"]]
    return {**shared(store, ("store_overview",), lambda: _store_overview(store)),
            "charts": {"volume": charts.grouped_bars(volume, "week", "source", "events", barmode="stack")}}


def journey_text(store: Store) -> str:
    """The journey file in use: the one set on the store, or the five-stage template."""
    return store.get_meta("journey_toml") or template_text("five-stages")


# -- customer profile --------------------------------------------------------------------------------

def example_customer(store: Store) -> str | None:
    """An identifier to try on the empty search page: a customer who went furthest in the journey,
    so the example profile has something to show (None in an empty store)."""
    df = store.engine.df(sql("""
        SELECT customer_id FROM {events} WHERE customer_id IS NOT NULL
        GROUP BY customer_id ORDER BY max(stage_index) DESC NULLS LAST, count(*) DESC, customer_id LIMIT 1""",
                             events=events(store)))
    return None if df.empty else str(df["customer_id"].iloc[0])


def customer_page(store: Store, any_id: str) -> dict:
    profile = customer_profile(store, any_id)
    timeline = profile.timeline.copy()
    props = timeline["properties"].map(lambda p: json.loads(p) if isinstance(p, str) and p else {})
    timeline["answer"] = [
        f"{p.get('metric', '').upper()} {p.get('score')}" + (f" – “{p['comment']}”" if p.get("comment") else "")
        if e == "survey_response" else None for e, p in zip(timeline["event"], props, strict=True)]
    timeline = timeline.drop(columns=["properties", "message_id"])
    staged = timeline.dropna(subset=["stage"])
    stage_names = [s.name for s in store.config.stages]
    fig = {"data": [{"type": "scatter", "mode": "markers+lines", "x": [str(v) for v in staged["timestamp"]],
                     "y": staged["stage"].tolist(), "text": staged["touchpoint"].tolist(),
                     "marker": {"size": 10, "color": "#2563eb"}, "line": {"shape": "hv", "color": "#cbd5e1"}}],
           "layout": charts.layout(height=260, margin={"l": 110, "r": 20, "t": 10, "b": 40},
                                   yaxis={"categoryorder": "array", "categoryarray": stage_names, "type": "category",
                                          "range": [-0.5, len(stage_names) - 0.5]})}
    return {"profile": profile.summary(), "identities": records(profile.identities),
            "timeline": records(timeline), "charts": {"timeline": fig}}
