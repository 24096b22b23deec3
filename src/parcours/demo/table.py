"""The simulated arrays as an events file: ids, names, channels, UTM tags and JSON properties.

UTM tags come from the ``campaign`` code: the awareness touches, the landing visit that
follows a click in the same session (its URL carries the tags), and the retention emails.

One DuckDB statement (in a private in-memory database) turns the numeric codes into
the columns the importer reads, so that a million events take a second, not a Python
loop. Every id is derived from the seed and the customer number: the same seed gives
the same file, byte for byte.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from parcours.demo import business as biz
from parcours.demo.generator import (
    COMMENT_TEXTS,
    CRM_ID,
    EMAIL,
    METRICS,
    PHONE,
    SURVEY_TOUCHPOINTS,
    simulate,
)
from parcours.engine.base import query_arrow
from parcours.query import Query, sql

FIRST_NAMES = ("ludovic", "camille", "lea", "hugo", "manon", "lucas", "chloe", "louis", "ines", "jules",
               "sarah", "nathan", "emma", "thomas", "julie", "arthur", "zoe", "paul", "alice", "karim")
LAST_NAMES = ("martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand", "leroy", "moreau",
              "simon", "laurent", "lefebvre", "michel", "garcia", "david", "bertrand", "roux", "vincent", "fournier")


def _pick(values, code: str) -> Query:
    """``values[code]``, NULL when the code is -1; ``code`` is a constant expression over the arrays."""
    return sql("[{values}][{code} + 1]", values=list(values), code=sql(code))


#: the events file, one row per simulated event (the picks and constants are bound)
_EVENTS = """
    SELECT {id_prefix} || lpad(CAST(row AS VARCHAR), 9, '0') AS message_id,
           CASE WHEN event = {identify} THEN 'identify' ELSE 'track' END AS type,
           {event} AS event,
           to_timestamp(t) AS timestamp,
           CASE WHEN "user" THEN 'c' || {customer} END AS user_id,
           CASE WHEN offline THEN {offline_prefix} || left(md5({seed} || CAST(row AS VARCHAR)), 12)
                WHEN anon_device >= 0
                THEN 'anon-' || left(md5({seed} || CAST(cust AS VARCHAR) || ':' || CAST(anon_device AS VARCHAR)), 16)
           END AS anonymous_id,
           {channel} AS channel,
           {utm_source} AS utm_source,
           {utm_medium} AS utm_medium,
           {utm_campaign} AS utm_campaign,
           CAST(json_merge_patch('{}', {properties}) AS VARCHAR) AS properties
    FROM sim ORDER BY row
"""

#: the properties of every event (NULL ones are left out by ``json_merge_patch``)
_PROPERTIES = """
    json_object(
        'device', CASE WHEN anon_device >= 0 THEN {device} END,
        'product', {product},
        'cart_value', CASE WHEN NOT isnan(cart_value) THEN round(cart_value, 2) END,
        'revenue', CASE WHEN NOT isnan(revenue) THEN round(revenue, 2) END,
        'currency', CASE WHEN NOT isnan(revenue) OR NOT isnan(cart_value) THEN 'EUR' END,
        'repeat', CASE repeat WHEN 1 THEN true WHEN 0 THEN false END,
        'error', {error},
        'topic', {topic},
        'store', {store},
        'reason', {reason},
        'rating', CASE WHEN rating >= 0 THEN rating END,
        'delay_days', CASE WHEN delay_days >= 0 THEN delay_days END,
        'email', CASE WHEN traits & {email_bit} <> 0 THEN {email} END,
        'phone', CASE WHEN traits & {phone_bit} <> 0 THEN '+336' || lpad(CAST(cust AS VARCHAR), 8, '0') END,
        'crm_id', CASE WHEN traits & {crm_bit} <> 0 THEN 'CRM' || {customer} END,
        'metric', {metric},
        'score', CASE WHEN score >= 0 THEN score END,
        'touchpoint', {touchpoint},
        'comment', {comment},
        'language', {language})
"""


def _query(seed: int) -> Query:
    customer = sql("lpad(CAST(cust AS VARCHAR), 7, '0')")
    email = sql("{first} || '.' || {last} || '.' || CAST(cust AS VARCHAR) || '@exemple.fr'",
                first=_pick(FIRST_NAMES, "cust % 20"), last=_pick(LAST_NAMES, "(cust // 20) % 20"))
    campaigns = biz.ALL_CAMPAIGNS
    properties = sql(
        _PROPERTIES,
        device=_pick(biz.DEVICES, "anon_device"), product=_pick(biz.PRODUCTS, "product"),
        error=_pick(biz.PAYMENT_ERRORS, "error"), topic=_pick(biz.FORM_TOPICS, "topic"),
        store=_pick(biz.STORES, "store"), reason=_pick(biz.RETURN_REASONS, "reason"),
        email_bit=EMAIL, email=email, phone_bit=PHONE, crm_bit=CRM_ID, customer=customer,
        metric=_pick(METRICS, "metric"), touchpoint=_pick(SURVEY_TOUCHPOINTS, "survey_tp"),
        comment=_pick(COMMENT_TEXTS, "comment"), language=_pick(("fr", "en"), "language"),
    )
    return sql(
        _EVENTS,
        id_prefix="demo-" + str(seed) + "-", identify=biz.E["identify"], event=_pick(biz.EVENTS, "event"),
        customer=customer, seed=str(seed) + ":",
        offline_prefix=sql("CASE WHEN channel = {store} THEN 'pos-' ELSE 'call-' END", store=biz.CH["store"]),
        channel=_pick(biz.CHANNELS, "channel"),
        utm_source=_pick([k.source for k in campaigns], "campaign"),
        utm_medium=_pick([k.medium for k in campaigns], "campaign"),
        utm_campaign=_pick([k.name for k in campaigns], "campaign"),
        properties=properties,
    )


def demo_table(customers: int, seed: int) -> pa.Table:
    """The demo events as an Arrow table with the importer's column names."""
    cols = simulate(customers, seed)
    cols["row"] = np.arange(len(cols["t"]), dtype=np.int64)
    sim = pa.table(cols)
    return query_arrow(_query(seed), sim=sim)


def write_demo(customers: int, seed: int, path: str | Path) -> int:
    """Write the demo events to a Parquet file; returns how many events."""
    import pyarrow.parquet as pq

    table = demo_table(customers, seed)
    pq.write_table(table, path, compression="zstd")
    return table.num_rows
