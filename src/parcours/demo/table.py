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
from parcours.matcher import quote

FIRST_NAMES = ("ludovic", "camille", "lea", "hugo", "manon", "lucas", "chloe", "louis", "ines", "jules",
               "sarah", "nathan", "emma", "thomas", "julie", "arthur", "zoe", "paul", "alice", "karim")
LAST_NAMES = ("martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand", "leroy", "moreau",
              "simon", "laurent", "lefebvre", "michel", "garcia", "david", "bertrand", "roux", "vincent", "fournier")


def _list(values) -> str:
    return "[" + ", ".join(quote(v) for v in values) + "]"


def _pick(values, code: str) -> str:
    """``values[code]`` in SQL, NULL when the code is -1."""
    return f"{_list(values)}[{code} + 1]"


def _sql(seed: int) -> str:
    c = "lpad(CAST(cust AS VARCHAR), 7, '0')"
    email = (f"{_pick(FIRST_NAMES, 'cust % 20')} || '.' || {_pick(LAST_NAMES, '(cust // 20) % 20')} || '.' "
             f"|| CAST(cust AS VARCHAR) || '@exemple.fr'")
    phone = "'+336' || lpad(CAST(cust AS VARCHAR), 8, '0')"
    crm = f"'CRM' || {c}"
    campaigns = biz.ALL_CAMPAIGNS
    props = ", ".join([
        f"'device', CASE WHEN anon_device >= 0 THEN {_pick(biz.DEVICES, 'anon_device')} END",
        f"'product', {_pick(biz.PRODUCTS, 'product')}",
        "'cart_value', CASE WHEN NOT isnan(cart_value) THEN round(cart_value, 2) END",
        "'revenue', CASE WHEN NOT isnan(revenue) THEN round(revenue, 2) END",
        "'currency', CASE WHEN NOT isnan(revenue) OR NOT isnan(cart_value) THEN 'EUR' END",
        "'repeat', CASE repeat WHEN 1 THEN true WHEN 0 THEN false END",
        f"'error', {_pick(biz.PAYMENT_ERRORS, 'error')}",
        f"'topic', {_pick(biz.FORM_TOPICS, 'topic')}",
        f"'store', {_pick(biz.STORES, 'store')}",
        f"'reason', {_pick(biz.RETURN_REASONS, 'reason')}",
        "'rating', CASE WHEN rating >= 0 THEN rating END",
        "'delay_days', CASE WHEN delay_days >= 0 THEN delay_days END",
        f"'email', CASE WHEN traits & {EMAIL} <> 0 THEN {email} END",
        f"'phone', CASE WHEN traits & {PHONE} <> 0 THEN {phone} END",
        f"'crm_id', CASE WHEN traits & {CRM_ID} <> 0 THEN {crm} END",
        f"'metric', {_pick(METRICS, 'metric')}",
        "'score', CASE WHEN score >= 0 THEN score END",
        f"'touchpoint', {_pick(SURVEY_TOUCHPOINTS, 'survey_tp')}",
        f"'comment', {_pick(COMMENT_TEXTS, 'comment')}",
        f"'language', {_pick(('fr', 'en'), 'language')}",
    ])
    offline_prefix = f"CASE WHEN channel = {biz.CH['store']} THEN 'pos-' ELSE 'call-' END"
    return f"""
    SELECT 'demo-{seed}-' || lpad(CAST(row AS VARCHAR), 9, '0') AS message_id,
           CASE WHEN event = {biz.E['identify']} THEN 'identify' ELSE 'track' END AS type,
           {_pick(biz.EVENTS, 'event')} AS event,
           to_timestamp(t) AS timestamp,
           CASE WHEN "user" THEN 'c' || {c} END AS user_id,
           CASE WHEN offline THEN {offline_prefix} || left(md5('{seed}:' || CAST(row AS VARCHAR)), 12)
                WHEN anon_device >= 0
                THEN 'anon-' || left(md5('{seed}:' || CAST(cust AS VARCHAR) || ':' || CAST(anon_device AS VARCHAR)), 16)
           END AS anonymous_id,
           {_pick(biz.CHANNELS, 'channel')} AS channel,
           {_pick([k.source for k in campaigns], 'campaign')} AS utm_source,
           {_pick([k.medium for k in campaigns], 'campaign')} AS utm_medium,
           {_pick([k.name for k in campaigns], 'campaign')} AS utm_campaign,
           CAST(json_merge_patch('{{}}', json_object({props})) AS VARCHAR) AS properties
    FROM sim ORDER BY row
    """


def demo_table(customers: int, seed: int) -> pa.Table:
    """The demo events as an Arrow table with the importer's column names."""
    cols = simulate(customers, seed)
    cols["row"] = np.arange(len(cols["t"]), dtype=np.int64)
    sim = pa.table(cols)
    return query_arrow(_sql(seed), sim=sim)


def write_demo(customers: int, seed: int, path: str | Path) -> int:
    """Write the demo events to a Parquet file; returns how many events."""
    import pyarrow.parquet as pq

    table = demo_table(customers, seed)
    pq.write_table(table, path, compression="zstd")
    return table.num_rows
