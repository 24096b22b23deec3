"""Behavioural personas: customers clustered on how they behave, described in plain words.

Customers are grouped on how they behave *before* they buy: features of buyers are
taken as of their first purchase (``features_query`` with moments), of the others over all
their behaviour. Clustering on everything, purchases included, put every buyer in one
persona (100% conversion) and left every other persona at 0%: conversion was the
grouping, not a finding. The clustering space is the channel mix (share of touchpoint
events per channel) plus the furthest stage, sessions, distinct touchpoints, recency
and satisfaction, scaled to unit variance (counts on a log scale so a few heavy
customers do not make their own clusters); the cards describe all behaviour. k-means (scikit-learn, seeded) runs for each k in a range
and the k with the best silhouette score on a seeded sample is kept: the same data
and seed give the same personas.

RFM scores (recency, frequency, monetary quintiles of buyers) are the simpler alternative.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from parcours.analytics.filters import events
from parcours.analytics.segments.features import features_query
from parcours.analytics.segments.segments import save_list_segment
from parcours.errors import ParcoursError
from parcours.query import sql
from parcours.query.filter import Filter
from parcours.query.match import field
from parcours.store.store import Store

#: readable features compared with the average customer on each card
DESCRIBED = {
    "sessions": "sessions", "distinct_touchpoints": "touchpoints used", "furthest_stage": "furthest stage",
    "recency_days": "days since last seen", "purchases": "purchases", "value": "value",
    "satisfaction": "satisfaction", "time_to_purchase_days": "days to first purchase",
}


#: what a persona is called after its most over-represented channel (any other: "<channel> users")
NOUNS = {
    "ads": "Ad clickers", "search": "Searchers", "social": "Social followers", "email": "Email readers",
    "web": "Web visitors", "mobile": "Mobile users", "chat": "Chat users", "web_form": "Form senders",
    "store": "Store shoppers", "call_centre": "Callers", "delivery": "Delivery recipients", "review": "Reviewers",
}
#: what else sets a persona apart: (feature, sign) -> phrase; {} is the stage or touchpoint
QUALIFIERS = {
    ("touchpoint", 1): "who go through {}",
    ("sessions", 1): "who come back often", ("sessions", -1): "on a single visit",
    ("distinct_touchpoints", 1): "who try many touchpoints", ("distinct_touchpoints", -1): "who use few touchpoints",
    ("furthest_stage", 1): "who reach {}", ("furthest_stage", -1): "who stop at {}",
    ("recency_days", 1): "not seen lately", ("recency_days", -1): "seen recently",
    ("purchases", 1): "who buy", ("purchases", -1): "who do not buy",
    ("value", 1): "who spend the most", ("value", -1): "who spend little",
    ("satisfaction", 1): "who are satisfied", ("satisfaction", -1): "who are unhappy",
    ("time_to_purchase_days", 1): "who take long to buy", ("time_to_purchase_days", -1): "who buy quickly",
}


@dataclass
class Personas:
    #: persona (id, e.g. persona_1), name (readable), name_parts (channel, qualifier key, argument),
    #: size, share, description, conversion, satisfaction, top_channels, top_touchpoints
    cards: pd.DataFrame
    members: pd.DataFrame  #: customer_id, persona
    k: int
    silhouette: dict[int, float]  #: the criterion, for each k tried


def _space(f: pd.DataFrame) -> pd.DataFrame:
    channels = [c for c in f.columns if c.startswith("channel:")]
    total = f[channels].sum(axis=1).replace(0, np.nan)
    space = f[channels].div(total, axis=0).fillna(0)
    for col in ("sessions", "distinct_touchpoints"):
        space[col] = np.log1p(f[col].clip(lower=0))
    space["furthest_stage"] = f["furthest_stage"]
    space["recency_days"] = np.log1p(f["recency_days"])
    space["satisfaction"] = f["satisfaction"].fillna(f["satisfaction"].mean() if f["satisfaction"].notna().any() else 0)
    return space.loc[:, space.std() > 0]


def find_personas(store: Store, k: int | None = None, *, k_range: range = range(3, 9), seed: int = 0,
                  sample: int = 4000, filter: Filter | None = None) -> Personas:
    """Cluster customers into personas; ``k`` fixed, or chosen by silhouette over ``k_range``.

    The range starts at 3: two groups almost always just split buyers from the rest.
    ``filter`` picks the customers (those with an event in it); each is described by all
    their behaviour.
    """
    f = store.engine.df(features_query(store, filter=filter)).sort_values("customer_id", ignore_index=True)
    if len(f) < 10:
        raise ParcoursError(f"personas: {len(f)} customers in the store; need at least 10 to find groups")
    X = StandardScaler().fit_transform(_space(_before_buying(store, f)).to_numpy(float))
    candidates = [k] if k else [c for c in k_range if 2 <= c < len(f)]
    if not candidates:
        raise ParcoursError(f"personas: no number of clusters to try in {k_range}")
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(f), size=min(sample, len(f)), replace=False)
    scores, labels = {}, {}
    with threadpool_limits(1):  # small data: threads cost more than they save (see leads)
        for c in candidates:
            labels[c] = KMeans(n_clusters=c, n_init=10, random_state=seed).fit_predict(X)
            sub = labels[c][idx]
            scores[c] = float(silhouette_score(X[idx], sub)) if len(set(sub)) > 1 else -1.0
    best = max(scores, key=lambda c: (scores[c], -c))
    f["cluster"] = labels[best]
    # name personas by size, largest first, so names are stable for a given seed and data
    order = f["cluster"].value_counts().sort_index().sort_values(ascending=False, kind="stable").index
    names = {cl: f"persona_{i + 1}" for i, cl in enumerate(order)}
    f["persona"] = f["cluster"].map(names)
    cards = pd.DataFrame([_card(f, names[cl], f[f["cluster"] == cl], store) for cl in order])
    _name(f, cards, order, store)
    return Personas(cards, f[["customer_id", "persona"]], best, scores)


def _before_buying(store: Store, f: pd.DataFrame) -> pd.DataFrame:
    """``f``'s customers described as of their first purchase (buyers) or over all behaviour (others).

    A buyer whose first event is the purchase has no behaviour before it: a row of zeros.
    """
    moments = sql("""
        SELECT customer_id, coalesce(min(CASE WHEN event = {purchase} THEN timestamp END),
                                     (SELECT max(timestamp) FROM events) + INTERVAL 1 SECOND) AS moment
        FROM {events} GROUP BY customer_id""", purchase=store.config.purchase_event, events=events(store))
    before = store.engine.df(features_query(store, moments=moments)).set_index("customer_id")
    before = before.reindex(f["customer_id"]).reset_index()
    counts = [c for c in before.columns if c not in ("customer_id", "moment", "satisfaction", "recency_days")]
    before[counts] = before[counts].fillna(0)
    before["recency_days"] = before["recency_days"].fillna(before["recency_days"].max())
    return before.drop(columns=["purchases", "value", "time_to_purchase_days"])


def _noun(g: pd.DataFrame, f: pd.DataFrame, channels: list[str]) -> str:
    """The channel that sets the group apart: its main channel among those it uses 1.5 times as much
    as the average customer (its main channel when none)."""
    def mix(frame: pd.DataFrame) -> pd.Series:
        total = frame[channels].sum(axis=1).replace(0, np.nan)
        return frame[channels].div(total, axis=0).fillna(0).mean()

    mine, overall = mix(g), mix(f)
    over = mine[(mine > 0) & (mine >= 1.5 * overall)]
    return (over if len(over) else mine).idxmax().split(":", 1)[1]


def _qualifiers(g: pd.DataFrame, f: pd.DataFrame, stages: list[str], others: list[str]) -> list[tuple[str, str]]:
    """(qualifier key, argument) candidates, strongest first: a touchpoint (of ``others``) used by
    many more of the group than on average, then the features furthest from the average (in
    standard deviations)."""
    found: list[tuple[float, str, str]] = []
    for col in (f"touchpoint:{tp}" for tp in others):
        mine, overall = (g[col] > 0).mean(), (f[col] > 0).mean()
        if mine >= 0.3 and overall > 0 and mine / overall >= 2:
            found.append((mine / overall, "touchpoint+1", col.split(":", 1)[1]))
    for col in DESCRIBED:
        spread = f[col].std()
        if not (g[col].notna().mean() >= 0.2 and spread and spread > 0):
            continue  # e.g. days to buy, known for the few buyers of a group only
        z = (g[col].mean() - f[col].mean()) / spread
        if abs(z) >= 0.3:
            arg = ""
            if col == "furthest_stage":
                median = g[col].median()
                arg = stages[int(round(median))] if median >= 0 else ""
                if not arg:
                    continue
            found.append((abs(z), f"{col}{'+1' if z > 0 else '-1'}", arg))
    found.sort(key=lambda x: -x[0])
    return [(key, arg) for _, key, arg in found]


def _name(f: pd.DataFrame, cards: pd.DataFrame, order, store: Store) -> None:
    """Readable, distinct names from what sets each persona apart ("Store shoppers who go through
    call_centre"), in ``cards["name"]``, with the parts in ``cards["name_parts"]`` for translation."""
    stages = [s.name for s in store.config.stages]
    channels = [c for c in f.columns if c.startswith("channel:")]
    names, parts = [], []
    for cl in order:
        g = f[f["cluster"] == cl]
        noun = _noun(g, f, channels) if channels else ""
        others = [t.name for t in store.config.touchpoints if t.channel != noun and f"touchpoint:{t.name}" in f]
        options = _qualifiers(g, f, stages, others) + [("", "")]
        for key, arg in options:
            name = _english_name(noun, key, arg)
            if name not in names or key == "":
                break
        base, n = name, 2
        while name in names:
            name, n = f"{base} ({n})", n + 1
        names.append(name)
        parts.append([noun, key, arg])
    cards["name"] = names
    cards["name_parts"] = parts


def _english_name(channel: str, qualifier: str, arg: str = "") -> str:
    """The persona name from its parts: the channel's noun and the qualifier's phrase."""
    noun = NOUNS.get(channel, f"{channel.replace('_', ' ').capitalize()} users" if channel else "Customers")
    if not qualifier:
        return noun
    col, sign = qualifier[:-2], int(qualifier[-2:])
    return f"{noun} {QUALIFIERS[(col, sign)].format(arg)}"


def _card(f: pd.DataFrame, name: str, g: pd.DataFrame, store: Store) -> dict:
    stages = [s.name for s in store.config.stages]
    channels = [c for c in f.columns if c.startswith("channel:")]
    touchpoints = [c for c in f.columns if c.startswith("touchpoint:")]
    diffs = []
    for col, label in DESCRIBED.items():
        spread = f[col].std()
        if g[col].notna().mean() >= 0.2 and spread and spread > 0:  # days to buy: only if buyers are many
            diffs.append(((g[col].mean() - f[col].mean()) / spread, col, label))
    diffs.sort(key=lambda d: -abs(d[0]))
    phrases = []
    for z, col, label in diffs[:3]:
        mine, avg = g[col].mean(), f[col].mean()
        if col == "furthest_stage":
            phrases.append(f"{'further' if z > 0 else 'less far'} in the journey "
                           f"(typically {stages[int(round(g[col].median()))] if g[col].median() >= 0 else 'no stage'})")
        else:
            phrases.append(f"{'more' if z > 0 else 'fewer' if col != 'value' else 'less'} {label} "
                           f"({mine:.3g} vs {avg:.3g} on average)")
    mix = g[channels].sum()
    top_channels = [c.split(":", 1)[1] for c in mix[mix > 0].sort_values(ascending=False).index[:3]]
    used = g[touchpoints].sum()
    top_tps = [c.split(":", 1)[1] for c in used[used > 0].sort_values(ascending=False).index[:3]]
    conversion = float((g["purchases"] > 0).mean())
    satisfaction = float(g["satisfaction"].mean()) if g["satisfaction"].notna().any() else None
    text = (f"{len(g):,} customers ({len(g) / len(f):.0%}): " + "; ".join(phrases)
            + f". Mostly via {', '.join(top_channels) or 'no channel'}; top touchpoints "
            f"{', '.join(top_tps) or 'none'}. Conversion {conversion:.0%}"
            + (f", satisfaction {satisfaction:.1f}." if satisfaction is not None else ", no survey answers."))
    return {"persona": name, "size": len(g), "share": len(g) / len(f), "description": text,
            "conversion": conversion, "satisfaction": satisfaction, "top_channels": top_channels,
            "top_touchpoints": top_tps}


def save_personas(store: Store, personas: Personas, replace: bool = True) -> list[str]:
    """Save each persona as a list segment of the same name (usable with ``--segment``)."""
    store.register("_persona_members", personas.members)
    try:
        for row in personas.cards.itertuples():
            save_list_segment(
                store, row.persona,
                sql("SELECT customer_id FROM _persona_members WHERE persona = {persona}", persona=row.persona),
                description=row.description, replace=replace,
            )
    finally:
        store.unregister("_persona_members")
    return list(personas.cards["persona"])


def rfm_scores(store: Store, *, filter: Filter | None = None) -> pd.DataFrame:
    """RFM scores of buyers, 1 (low) to 5 (high), quintiles computed in the engine.

    Purchases are those in ``filter``; recency counts back from the store's latest event.

    Columns: ``customer_id``, ``recency_days`` (since the last purchase, counted back from the
    latest event), ``frequency`` (purchases), ``monetary`` (summed value), ``r``, ``f``, ``m``,
    ``rfm`` (e.g. ``"545"``).
    """
    config = store.config
    return store.engine.df(sql(
        """
        WITH b AS (
            SELECT customer_id,
                   (epoch((SELECT max(timestamp) FROM events)) - epoch(max(timestamp))) / 86400.0 AS recency_days,
                   count(*) AS frequency, coalesce(sum({value}), 0) AS monetary
            FROM {events} WHERE event = {purchase} GROUP BY customer_id
        ), s AS (
            SELECT *, ntile(5) OVER (ORDER BY recency_days DESC, customer_id) AS r,
                      ntile(5) OVER (ORDER BY frequency, customer_id) AS f,
                      ntile(5) OVER (ORDER BY monetary, customer_id) AS m
            FROM b
        )
        SELECT *, CAST(r AS VARCHAR) || CAST(f AS VARCHAR) || CAST(m AS VARCHAR) AS rfm
        FROM s ORDER BY rfm DESC, customer_id
        """,
        value=sql("TRY_CAST({v} AS DOUBLE)", v=field("props." + config.value_property)),
        events=events(store, filter), purchase=config.purchase_event,
    ))
