"""Plotly figure specs (plain dicts) for the dashboard's charts.

Figures are written as JSON into the page and drawn by the locally served plotly.min.js;
building dicts directly keeps the server free of plotly's Python figure machinery. Legends and
axis titles that are the dashboard's own words are ``Label`` keys, put in the reader's
language when the page is drawn (``parcours.views.i18n.localize``), so one cached spec serves
every language.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

from parcours.analytics.journey_map import clean
from parcours.views.i18n import Label

PALETTE = ["#2563eb", "#f97316", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#db2777"]
FONT = {"family": "Inter, 'DejaVu Sans', Arial, sans-serif", "size": 12, "color": "#1f2937"}


def layout(**extra) -> dict:
    """A chart's layout: the house style, then ``extra``; an axis ``title`` may be given as plain text."""
    base = {"margin": {"l": 50, "r": 20, "t": 30, "b": 40}, "font": FONT, "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)", "height": 320, "colorway": PALETTE,
            "legend": {"orientation": "h", "y": -0.2}}
    for key, value in extra.items():
        if key.startswith(("xaxis", "yaxis")) and isinstance(value.get("title"), str):
            # plotly.js 3+ draws only {"text": ...} titles and silently ignores a bare string
            value = {**value, "title": {"text": value["title"]}}
        base[key] = value
    return base


def values(series: Sequence) -> list:
    return [clean(v) for v in series]


def emotion_curve(labels: list[str], emotions: list[float | None], title: str = Label("emotion")) -> dict:
    """The emotion line across stages, from -1 (unhappy) to +1, with a neutral band; a stage
    without answers is marked "no answers" on the chart, not left out."""
    colours = ["#dc2626" if (e is not None and e < 0) else "#16a34a" for e in emotions]
    line = {"type": "scatter", "mode": "lines+markers+text", "x": labels, "y": emotions,
            "line": {"shape": "spline", "width": 3, "color": "#6366f1"}, "connectgaps": True,
            "marker": {"size": 14, "color": colours}, "name": title,
            "text": [f"{e:+.2f}" if e is not None else "" for e in emotions], "textposition": "top center"}
    return {"data": [line, *_no_answers(labels, emotions)], "layout": {**_emotion_layout(title, 200), "showlegend": False}}


def emotion_lanes(labels: list[str], lanes: list[tuple[str, list[float | None]]]) -> dict:
    """One emotion line per lane (segment or period) across the stages, gaps marked "no answers"."""
    data, said = [], set()
    for i, (name, emotions) in enumerate(lanes):
        colour = PALETTE[i % len(PALETTE)]
        data.append({"type": "scatter", "mode": "lines+markers", "x": labels, "y": emotions, "name": name,
                     "line": {"width": 3, "color": colour}, "marker": {"size": 10, "color": colour}})
        data.extend(_no_answers(labels, emotions, colour, name, said))
    return {"data": data, "layout": _emotion_layout(Label("emotion"), 260)}


def _no_answers(labels: list[str], emotions: list[float | None], colour: str = "#6b7280",
                name: str = "", said: set[str] | None = None) -> list[dict]:
    """Hollow markers on the neutral line, labelled "no answers", where a stage has no answer to average:
    a line that silently skips the stage would read as if it had been measured. ``said``: the
    stages already labelled by another lane (their words would print on top of each other)."""
    gaps = [label for label, e in zip(labels, emotions, strict=True) if e is None]
    if not gaps:
        return []
    said = set() if said is None else said
    text = ["" if g in said else Label("no_answers") for g in gaps]
    said.update(gaps)
    return [{"type": "scatter", "mode": "markers+text", "x": gaps, "y": [0] * len(gaps), "showlegend": False,
             "name": name or Label("no_answers"), "text": text, "hovertext": [Label("no_answers")] * len(gaps),
             "hoverinfo": "x+name+text", "textposition": "bottom center",
             "textfont": {"color": colour}, "marker": {"size": 12, "symbol": "circle-open", "color": colour}}]


def _emotion_layout(title: str, height: int) -> dict:
    return layout(height=height, yaxis={"range": [-1, 1], "zeroline": True, "zerolinecolor": "#9ca3af", "title": title},
                  margin={"l": 60, "r": 20, "t": 10, "b": 30},
                  shapes=[{"type": "rect", "xref": "paper", "x0": 0, "x1": 1, "y0": -1, "y1": 0,
                           "fillcolor": "#fee2e2", "opacity": 0.35, "line": {"width": 0}, "layer": "below"}])


def bars(x: Sequence, y: Sequence, name: str = "", horizontal: bool = False, **extra) -> dict:
    trace = {"type": "bar", "name": name}
    trace.update({"x": values(y), "y": values(x), "orientation": "h"} if horizontal else
                 {"x": values(x), "y": values(y)})
    return {"data": [trace], "layout": layout(**extra)}


def losses(labels: list[str], reached: list[int], worst: list[bool]) -> dict:
    """Customers reaching each stage, and how many of them the next stage loses (the worst step in red)."""
    lost = [a - b for a, b in zip(reached, reached[1:], strict=False)] + [0]
    share = [f"−{x / a:.0%}" if a and x else "" for x, a in zip(lost, reached, strict=True)]
    return {"data": [
        {"type": "bar", "name": Label("reached"), "x": labels, "y": reached, "marker": {"color": "#2563eb"},
         "text": [f"{r:,}" for r in reached], "textposition": "inside"},
        {"type": "bar", "name": Label("lost_next"), "x": labels, "y": lost, "text": share,
         "textposition": "outside",
         "marker": {"color": ["#dc2626" if w else "#fca5a5" for w in worst]}}],
        "layout": layout(height=260, barmode="group", showlegend=False, margin={"l": 60, "r": 20, "t": 10, "b": 30})}


def wrap(label: str, width: int = 18) -> str:
    """A long label on several lines (``<br>``), broken after spaces or ``:`` (``stage:``, ``touchpoint:``);
    a longer name stays whole."""
    lines, line = [], ""
    for part in re.findall(r"[^ :]+[ :]?|[ :]", label):
        if line and len(line) + len(part.rstrip()) > width:
            lines.append(line.rstrip())
            line = ""
        line += part
    return "<br>".join([*lines, line.rstrip()]) if line else "<br>".join(lines)


def funnel(names: Sequence[str], customers: Sequence[int]) -> dict:
    """Customers per step, whole numbers with the reader's separators (never 20.103k), labels wrapped."""
    return {"data": [{"type": "funnel", "y": [wrap(n) for n in names], "x": values(customers),
                      "texttemplate": "%{value:,d}<br>%{percentInitial:.1%}", "marker": {"color": "#2563eb"},
                      "hovertemplate": "%{y}<br>%{value:,d}<extra></extra>"}],
            "layout": layout(margin={"l": 160, "r": 20, "t": 10, "b": 20}, yaxis={"automargin": True})}


def trend(periods: Sequence, rates: Sequence, incomplete: Sequence[bool], **extra) -> dict:
    """Conversion per period: complete periods as a solid line, the latest ones whose window has not
    closed yet (conversions may still come) dotted and named "incomplete", never drawn as a drop to 0."""
    x, y = [str(p) for p in periods], values(rates)
    done = [i for i, late in enumerate(incomplete) if not late]
    late = [i for i, late in enumerate(incomplete) if late]
    joined = ([done[-1]] if done else []) + late  # the dotted part starts from the last complete point
    data = [{"type": "scatter", "mode": "lines+markers", "name": Label("conversion"),
             "x": [x[i] for i in done], "y": [y[i] for i in done]}]
    if late:
        data.append({"type": "scatter", "mode": "lines+markers", "name": Label("incomplete_period"),
                     "x": [x[i] for i in joined], "y": [y[i] for i in joined],
                     "line": {"dash": "dot", "color": "#9ca3af"}, "marker": {"color": "#9ca3af"}})
    return {"data": data, "layout": layout(**extra)}


def grouped_bars(df: pd.DataFrame, x: str, group: str, y: str, **extra) -> dict:
    data = [{"type": "bar", "name": g if isinstance(g, str) else str(g), "x": values(part[x]), "y": values(part[y])}
            for g, part in df.groupby(group, sort=False)]
    return {"data": data, "layout": layout(**{"barmode": "group", **extra})}


def lines(df: pd.DataFrame, x: str, y: str, name: str = "", **extra) -> dict:
    return {"data": [{"type": "scatter", "mode": "lines+markers", "name": name,
                      "x": [str(v) for v in df[x]], "y": values(df[y])}], "layout": layout(**extra)}


def heatmap(table: pd.DataFrame, **extra) -> dict:
    return {"data": [{"type": "heatmap", "x": [str(c) for c in table.columns], "y": [str(i) for i in table.index],
                      "z": [[clean(v) for v in row] for row in table.to_numpy()],
                      "colorscale": [[0, "#f1f5f9"], [0.1, "#bfdbfe"], [0.4, "#3b82f6"], [1, "#1e3a8a"]],
                      "zmin": 0, "zmax": 1, "hoverongaps": False,
                      # the rate in each cell, readable without hovering
                      "texttemplate": "%{z:.0%}", "textfont": {"size": 10}}],
            "layout": layout(**{"height": max(320, 18 * len(table) + 80), "margin": {"l": 170, "r": 20, "t": 10, "b": 40},
                                "yaxis": {"autorange": "reversed", "type": "category"},
                                "xaxis": {"type": "category"}, **extra})}


def sankey(flows: pd.DataFrame) -> dict:
    """Nodes are (position, step) pairs so that a step seen at two positions is two nodes, left to right."""
    nodes: dict[tuple, int] = {}

    def node(pos: int, name: str) -> int:
        return nodes.setdefault((pos, name), len(nodes))

    src, tgt, val = [], [], []
    for _, r in flows.iterrows():
        src.append(node(int(r["position"]), r["source"]))
        tgt.append(node(int(r["position"]) + 1, r["target"]))
        val.append(int(r["customers"]))
    labels = [Label("path_end") if name == "(end)" else name for (_, name) in nodes]
    # one colour per step, whatever its column, so a touchpoint is followed across the diagram
    hue: dict[str, str] = {}
    colours = ["#d1d5db" if isinstance(n, Label) else hue.setdefault(n, PALETTE[len(hue) % len(PALETTE)])
               for n in labels]
    return {"data": [{"type": "sankey", "arrangement": "snap",
                      "node": {"label": labels, "pad": 12, "thickness": 14, "color": colours},
                      "link": {"source": src, "target": tgt, "value": val, "color": "rgba(99,102,241,0.25)"}}],
            "layout": layout(height=480, margin={"l": 10, "r": 10, "t": 10, "b": 10})}


def intervals(labels: Sequence[str], value: Sequence, low: Sequence, high: Sequence, name: str, **extra) -> dict:
    v, lo, hi = values(value), values(low), values(high)
    return {"data": [{"type": "scatter", "mode": "markers", "name": name, "x": list(labels), "y": v,
                      "marker": {"size": 11},
                      "error_y": {"type": "data", "symmetric": False,
                                  "array": [(h - x) if h is not None and x is not None else None for h, x in zip(hi, v, strict=True)],
                                  "arrayminus": [(x - m) if m is not None and x is not None else None for m, x in zip(lo, v, strict=True)]}}],
            "layout": layout(**extra)}
