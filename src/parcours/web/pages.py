"""One data function per dashboard page: ``(store, Filter, **options) -> dict`` for its template.

They call the analyses (never SQL of their own beyond small listings) and shape the results
into rows and Plotly specs; the routes cache their output per filter and data version.
"""

from __future__ import annotations

from parcours.analytics.filters import Filter
from parcours.analytics.segments import list_segments
from parcours.store.store import Store
from parcours.web import charts
from parcours.web.journey_map import journey_map


def segment_names(store: Store) -> list[str]:
    return list_segments(store, with_counts=False)["name"].tolist()


def journey_page(store: Store, flt: Filter) -> dict:
    jm = journey_map(store, flt)
    labels = [s["label"] for s in jm["stages"]]
    return {
        "map": jm,
        "charts": {
            "emotion": charts.emotion_curve(labels, [s["emotion"] for s in jm["stages"]], "emotion"),
            "reached": charts.bars(labels, [s["reached"] for s in jm["stages"]], height=200,
                                   margin={"l": 60, "r": 20, "t": 10, "b": 30}),
        },
    }
