"""The people page (who is behind a count) and the flow explorer (the ways into and out of a step).

Both read a description from the query string, so that any count on any page is a plain link:
``/people?set=funnel&step=A&step=B&reached=2`` lists the customers the funnel counts at step 2,
``/flow?at=touchpoint:cart&direction=after`` shows where customers go from the cart. The sets
are resolved by ``parcours.analytics.customers.sets``: the list has as many customers as the count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

import pandas as pd

from parcours.analytics.customers.sets import KINDS, customer_set, save_customer_set
from parcours.analytics.funnels.funnel import FunnelRun
from parcours.analytics.paths.paths import OTHER, SEP, TIMES, customer_paths, flows, rank_paths, top_paths
from parcours.errors import ParcoursError
from parcours.query.filter import Filter
from parcours.store.store import Store
from parcours.views import charts

if TYPE_CHECKING:  # the routes hand over the request's query; nothing here imports the web framework
    from starlette.datastructures import QueryParams

PAGE_SIZE = 50
#: The query parameters that describe a set (besides ``set`` and the repeatable ``step``).
SET_PARAMS = ("reached", "dropped", "window", "mode", "position", "source", "target", "max_steps", "path",
              "start", "end", "max_length", "collapse", "split_by", "split_step", "cohort", "k", "period",
              "persona", "name", "touchpoint", "signal")
DIRECTIONS = ("after", "before", "between", "dropoff")
__all__ = ["customer_set", "save_customer_set"]  # used by the routes through this module


def set_from_query(query: QueryParams) -> tuple[str, dict]:
    """The set a query string describes: its kind and the options of the analysis that counted it."""
    kind = (query.get("set") or "").strip()
    if kind not in KINDS:
        raise ParcoursError(f"set={kind!r}: use one of {', '.join(KINDS)}")
    params: dict = {k: query.get(k) for k in SET_PARAMS if query.get(k)}
    params["steps"] = [s.strip() for s in query.getlist("step") if s.strip()]
    return kind, params


def set_query(kind: str, params: dict) -> str:
    """The query string of a set (the inverse of ``set_from_query``), for links."""
    pairs = [("set", kind)] + [("step", s) for s in params.get("steps", ())]
    pairs += [(k, str(v)) for k, v in params.items() if k != "steps" and v not in (None, "", False)]
    return urlencode(pairs)


def people_page(store: Store, filter: Filter, kind: str, params: tuple, page: int) -> dict:
    """One page of a set's customers (``PAGE_SIZE`` a page), and how many there are in all."""
    if page < 1:
        raise ParcoursError(f"page={page}: pages start at 1")
    ids = customer_set(store, kind, _unfreeze(params), filter)
    pages = max(1, -(-len(ids) // PAGE_SIZE))
    if page > pages:
        raise ParcoursError(f"page={page}: there are {pages} pages of {len(ids)} customers")
    shown = ids.iloc[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    return {"ids": shown["customer_id"].tolist(), "total": len(ids), "page_no": page, "pages": pages}


def freeze(params: dict) -> tuple:
    """``params`` as a hashable value (a cache key part)."""
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))


def _unfreeze(params: tuple) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params}


def _step_name(label: str) -> str:
    """A shown step without its repeat count or split value: ``cart ×2`` and ``cart (web)`` are ``cart``."""
    return label.split(TIMES)[0].split(" (")[0]


def flow_page(store: Store, filter: Filter, at: str, until: str, direction: str, fsteps: tuple[str, ...],
              dropped: int, window: str, mode: str, collapse: bool, split_by: str, open_other: bool) -> dict:
    """Paths after, before or between steps, or after a funnel's drop-off, each with its customers' link.

    After a drop-off (``fsteps`` and ``dropped`` N): the paths of the customers the funnel counts
    as dropped at step N (with the funnel's ``window`` and ``mode``), from their first step N-1;
    they add up to the funnel's drop-off. Opened at one of the funnel's steps, the page also gives
    the funnel's count at that step (customers on its best paths), with its list.
    """
    if direction not in DIRECTIONS:
        raise ParcoursError(f"direction={direction!r}: use one of {', '.join(DIRECTIONS)}")
    options = {"collapse_repeats": collapse, "split_by": split_by or None}
    link = {"collapse": "1" if collapse else "", "split_by": split_by}
    funnel_count = None
    sankey = None
    if direction == "dropoff":
        if len(fsteps) < 2 or not 2 <= dropped <= len(fsteps):
            raise ParcoursError("direction=dropoff: give the funnel's steps (fstep=...) and dropped=N, N in 2.."
                                f"{max(len(fsteps), 2)}")
        at = fsteps[dropped - 2]
        funnel = {k: v for k, v in (("window", window), ("mode", mode)) if v}
        who = FunnelRun(store, list(fsteps), filter=filter, **funnel).dropped(dropped)["customer"]
        funnel_count = len(who)
        paths = customer_paths(store, start=at, filter=filter, **options)
        paths = paths[paths["customer_id"].isin(set(who))]
        table = _ranked(paths, open_other)
    else:
        if not at:
            raise ParcoursError("flow: choose a step (at=touchpoint:NAME, stage:NAME or an event)")
        if direction == "between" and not until:
            raise ParcoursError("direction=between: give the second step too (until=...)")
        anchors = {"after": {"start": at}, "before": {"end": at}, "between": {"start": at, "end": until}}[direction]
        table = top_paths(store, **anchors, top=15, open_other=open_other, filter=filter, **options)
        people = {"set": "path", **anchors, **link}
        if direction == "after":
            links = flows(store, start=at, max_steps=4, filter=filter, **options)
            sankey = linked_sankey(store, links, {"start": at, "max_steps": 4, **link})
    rows = []
    for r in table.to_dict("records"):
        path = str(r["path"])
        target = None
        if path == OTHER:
            target = "other"
        elif direction != "dropoff":
            params = {k: v for k, v in people.items() if k != "set"}
            target = "/people?" + set_query("path", {**params, "path": path})
        rows.append({**r, "people": target})
    touchpoints = {t.name for t in store.config.touchpoints}
    step_note = None
    if direction != "dropoff" and at in fsteps and len(fsteps) > 1:  # opened from a funnel's step
        k = fsteps.index(at) + 1
        funnel = {k: v for k, v in (("window", window), ("mode", mode)) if v}
        counted = FunnelRun(store, list(fsteps), filter=filter, keys=False, **funnel).steps()
        step_note = {"step": k, "customers": int(counted["customers"].iloc[k - 1]),
                     "people": "/people?" + set_query("funnel", {"steps": list(fsteps), "reached": k, **funnel})}
    seen = sorted({_step_name(s) for r in rows for s in str(r["path"]).split(SEP)} & touchpoints)
    return {"rows": rows, "charts": {"flow": sankey} if sankey else {}, "seen": seen, "step_note": step_note, "at": at, "funnel_count": funnel_count,
            "dropped_people": "/people?" + set_query("funnel", {"steps": list(fsteps), "dropped": dropped,
                                                                "window": window, "mode": mode})
            if direction == "dropoff" else None,
            "touchpoints": sorted(touchpoints)}


def _ranked(paths: pd.DataFrame, open_other: bool, top: int = 15) -> pd.DataFrame:
    """``top_paths``' table from per-customer paths (``customer_paths``)."""
    counts = (paths.groupby("path", as_index=False).agg(length=("length", "min"), customers=("customer_id", "size"))
              .sort_values(["customers", "path"], ascending=[False, True]))
    return rank_paths(counts, top, open_other)


def linked_sankey(store: Store, links: pd.DataFrame, params: dict) -> dict:
    """The Sankey of ``flows`` (run with ``params``): a click on a link lists its customers, on a node
    opens the flow explorer at that touchpoint.

    Links under 0.5% of the customers at the first position only clutter the diagram: left out.
    """
    floor = 0.005 * links[links["position"] == links["position"].min()]["customers"].sum() if len(links) else 0
    links = links[links["customers"] >= floor]
    spec = charts.sankey(links)
    # a node opens the flow explorer at its step; (end) and split or collapsed labels open nothing
    touchpoints = {t.name for t in store.config.touchpoints}
    spec["data"][0]["node"]["customdata"] = [
        "/flow?" + urlencode({"at": f"touchpoint:{n}", "direction": "after"}) if n in touchpoints else None
        for n in spec["data"][0]["node"]["label"]]
    spec["data"][0]["link"]["customdata"] = [
        "/people?" + set_query("link", {**params, "position": int(r["position"]), "source": r["source"],
                                        "target": r["target"]})
        for r in links.to_dict("records")]
    return spec
