"""The customer-level fields ``fitness`` and ``deviation`` of the shared filter.

``Filter(where=[fitness < 0.8])`` keeps the customers whose whole journey (all their
events, whatever the filter's other conditions) aligns with the designed journey with a
fitness below 0.8. Conformance is computed once per store state (data version, journey
map, schema: ``parcours.journey.materialized.stamp``) and per process, then handed to the
engine as a temporary view, one row per customer and deviation kind, that the filter's
``customer_id IN (...)`` reads. Customers with no touchpoint on the map have no fitness
and meet no condition on it. See ``parcours.query.customer_fields``.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
from sqlglot import exp

from parcours.analytics.conformance.conformance import KINDS, conformance_customers
from parcours.analytics.names import check_name
from parcours.journey.materialized import stamp
from parcours.query import sql, table
from parcours.query.customer_fields import CustomerCondition
from parcours.store.store import Store

#: the view the engine shows the per-customer answers as
VIEW = "_customer_conformance"
_SCHEMA = pa.schema([("customer_id", pa.string()), ("fitness", pa.float64()), ("deviation", pa.string())])
#: a ``fitness`` condition per operator
_FITNESS = {"eq": "fitness = {x}", "ne": "fitness <> {x}", "lt": "fitness < {x}", "le": "fitness <= {x}",
            "gt": "fitness > {x}", "ge": "fitness >= {x}"}
#: (store, stamp) -> the view's rows; one entry per store file
_cache: dict[str, tuple[str, pa.Table]] = {}


def conformance_table(store: Store) -> pa.Table:
    """``customer_id``, ``fitness``, ``deviation`` (a kind, or null for none): one row per customer
    and kind, for customers with touchpoints; computed once per store state."""
    key = store.path if store.path != ":memory:" else f"memory:{id(store)}"
    state = stamp(store)
    hit = _cache.get(key)
    if hit is not None and hit[0] == state:
        return hit[1]
    per = conformance_customers(store).dropna(subset=["fitness"])
    kinds = {v: sorted({d["kind"] for d in devs}) or [None]
             for v, devs in zip(per["variant"], per["deviations"], strict=True)}
    rows = pd.DataFrame({"customer_id": per["customer"], "fitness": per["fitness"].astype(float),
                         "deviation": per["variant"].map(kinds)}).explode("deviation")
    table = pa.Table.from_pandas(rows, schema=_SCHEMA, preserve_index=False)
    _cache[key] = (state, table)
    return table


def condition_customers_sql(store: Store, condition: CustomerCondition) -> exp.Select:
    """The query of the customers who meet a ``fitness`` or ``deviation`` condition.

    (A tree despite its name: ``parcours.query.customer_fields`` names it as the fields' resolver.)
    """
    if condition.field == "deviation":
        check_name(f"`where` {condition.text()!r}", "deviation kind", condition.value, KINDS)
    store.engine.register(VIEW, conformance_table(store))
    if condition.field == "fitness":
        return sql("SELECT DISTINCT customer_id FROM {view} WHERE {meets}", view=table(VIEW),
                   meets=sql(_FITNESS[condition.op], x=float(condition.value)))
    return sql("SELECT customer_id FROM {view} GROUP BY customer_id "
               "HAVING max(CASE WHEN deviation = {kind} THEN 1 ELSE 0 END) = {has}",
               view=table(VIEW), kind=condition.value, has=1 if condition.op == "eq" else 0)
