"""Outgoing webhooks: journey triggers queued after import, delivered signed, retried, logged.

Configured in the journey file (``[[webhooks]]``: name, url, trigger, secret, stage,
minutes). Nothing here runs during ingestion: ``enqueue_webhooks`` evaluates the triggers
over the stored events in a separate step and queues one delivery per occurrence
(idempotent: an occurrence is queued once, whatever the number of runs), and
``deliver_webhooks`` sends what is due from the queue. A slow or broken receiver delays
only its own deliveries, never an import.

Triggers:

- ``detractor``: an NPS answer of 0-6 (one delivery per answer);
- ``cart_abandoned``: a cart event (``add_to_cart``) followed by no cart or purchase event of
  the same customer for ``minutes`` (one per such cart event);
- ``stage_entered``: a customer's first event in ``stage`` (one per customer);
- ``moment_of_truth``: an event at a touchpoint marked ``moment_of_truth`` (one per event);
- ``segment_entered`` / ``segment_left``: a customer who joined (left) the saved ``segment``
  since the webhook last looked (audience sync; the first look sends nothing). The live
  triggers evaluate the membership of the customers whose events arrived, and the whole
  store only when that could miss a change: see ``_watch_scope``.

Each delivery is a JSON ``POST``; its body is signed with HMAC-SHA256 under the webhook's
shared secret and the signature sent as ``X-Parcours-Signature: sha256=<hex>`` (receivers
recompute it over the raw body; see ``verify_signature``). A failed attempt (no answer or a
non-2xx status) is retried after ``backoff * 2**(attempt - 1)`` seconds, up to
``max_attempts``; then the delivery is marked failed. Every attempt is logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlparse

import pandas as pd
from sqlglot import exp

from parcours.analytics.filters import events
from parcours.analytics.segments.members import Segment, get_segment, segment_members_query
from parcours.analytics.segments.rules import compile_rule
from parcours.analytics.voc.answers import answers_query
from parcours.config.schema import Webhook
from parcours.errors import ParcoursError
from parcours.journey.live_state import state_source
from parcours.query import Query, sql, table
from parcours.query.journey import event_order
from parcours.store.store import utcnow

SIGNATURE_HEADER = "X-Parcours-Signature"

#: Events that put something in a cart (the demo's and Segment's spec names).
CART_EVENTS = ("add_to_cart", "Product Added")

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = 30.0


def sign(body: bytes, secret: str) -> str:
    """The signature header value of ``body``: ``sha256=`` and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, secret: str, header: str | None) -> bool:
    """What a receiver does: recompute the signature and compare in constant time."""
    return header is not None and hmac.compare_digest(sign(body, secret), header)


def _narrowed(customers: Query | None) -> Query:
    """A condition: the customer is one of ``customers`` (TRUE when None)."""
    return exp.true() if customers is None else sql("customer_id IN ({customers})", customers=customers)


def _occurrences(store, hook: Webhook, now: datetime, since: datetime | None = None,
                 customers: Query | None = None) -> Query:
    """The trigger's occurrences: dedupe_key, customer_id, occurred_at, and payload columns.

    With ``since``, the query has a ``$since`` parameter and a trigger may leave out the events
    before it wherever that cannot change an occurrence at or after it (carts: see below).
    ``customers`` (a query selecting customer ids) narrows the journey's events before they are
    grouped per customer: DuckDB does not push that condition below a grouping, so above it
    every customer's events would be grouped first (a scan of the whole store per live cycle)."""
    if hook.trigger == "detractor":
        return sql("""
            SELECT message_id AS dedupe_key, customer_id, timestamp AS occurred_at, score, touchpoint, stage, comment
            FROM {answers} a WHERE metric = 'nps' AND score <= 6
        """, answers=answers_query(store, customers=customers))
    if hook.trigger in ("segment_entered", "segment_left"):
        return _segment_change(store, hook, now, customers)
    journey = events(store)
    some = _narrowed(customers)
    if hook.trigger == "moment_of_truth":
        moments = [t.name for t in store.config.touchpoints if t.moment_of_truth]
        if not moments:
            raise ParcoursError(f"webhook {hook.name!r}: trigger moment_of_truth needs a touchpoint with "
                                "moment_of_truth = true in the journey file")
        return sql("""
            SELECT message_id AS dedupe_key, customer_id, timestamp AS occurred_at, touchpoint, stage, event
            FROM {journey} e WHERE touchpoint IN ({moments}) AND {some}
        """, journey=journey, moments=moments, some=some)
    if hook.trigger == "stage_entered":
        stages = [s.name for s in store.config.stages]
        if hook.stage not in stages:
            raise ParcoursError(
                f"webhook {hook.name!r}: trigger stage_entered needs stage = one of {stages}, not {hook.stage!r}"
            )
        return sql("""
            SELECT customer_id AS dedupe_key, customer_id, min(timestamp) AS occurred_at,
                   arg_min(touchpoint, ({order})) AS touchpoint, {stage} AS stage
            FROM {journey} e WHERE stage = {stage} AND {some} GROUP BY customer_id
        """, order=event_order(), stage=hook.stage, journey=journey, some=some)
    if hook.minutes <= 0:
        raise ParcoursError(f"webhook {hook.name!r}: minutes must be positive, not {hook.minutes}")
    now_epoch = (now - datetime(1970, 1, 1)).total_seconds()
    # the event after a cart at or after ``since`` is too (in the event order, timestamps never go
    # back): the events before ``since`` change no such cart's answer, and the window only sorts
    # the recent ones (the live triggers look every 2 s beside a store of millions of events)
    recent = sql("e.timestamp >= $since") if since else exp.true()
    return sql("""
        SELECT message_id AS dedupe_key, customer_id, timestamp AS occurred_at,
               TRY_CAST(json_extract_string(properties, '$.cart_value') AS DOUBLE) AS cart_value
        FROM (
            SELECT *, lead(timestamp) OVER (PARTITION BY customer_id ORDER BY {order}) AS next_at
            FROM {journey} e
            WHERE (event IN ({carts}) OR event = {purchase}) AND {recent}
        ) c
        WHERE event IN ({carts})
          AND coalesce(epoch(next_at), {now_epoch}) - epoch(timestamp) >= {quiet}
    """, order=event_order(), journey=journey, carts=list(CART_EVENTS), purchase=store.config.purchase_event,
               recent=recent, now_epoch=now_epoch, quiet=hook.minutes * 60)


#: seconds between two evaluations over the whole store of a segment rule that depends on time (see
#: ``_watch_scope``): a customer who enters or leaves such a segment only because time passed (the
#: store's latest event moved on) is announced within this period of the live triggers
SEGMENT_RECHECK_SECONDS = 60.0

#: the rule names whose value moves with the store's latest event (days are counted back from it)
TIME_FIELDS = ("recency_days", "tenure_days")

#: the meta key (per webhook) of what its last look over the whole store saw: see ``_watch_scope``
WATCH_META = "segment_watch:"

#: the temporary table of the customers a narrowed segment look evaluates, and whether each is a member now
_SCOPE = "_segment_watch_scope"


def _segment_change(store, hook: Webhook, now: datetime, scope: Query | None = None) -> Query:
    """Customers who entered (or left) the saved segment since the webhook last looked.

    The members last seen are kept in ``segment_watch`` (updated by ``enqueue_webhooks`` in the
    same transaction as the deliveries); an entry's key is the customer and the time it was
    seen, so a customer who leaves and comes back is announced again. With ``scope`` (from
    ``_watch_scope``) only the customers of its table are compared, with the membership it holds.
    """
    if not hook.segment:
        raise ParcoursError(f"webhook {hook.name!r}: trigger {hook.trigger} needs segment = a saved segment's name")
    if scope is None:
        members = segment_members_query(store, hook.segment)
    else:
        members = sql("SELECT customer_id FROM {scope} WHERE member", scope=table(_SCOPE))
    seen = sql("SELECT customer_id FROM segment_watch WHERE webhook = {name} AND {mine}", name=hook.name,
               mine=_narrowed(scope))
    new, old = (members, seen) if hook.trigger == "segment_entered" else (seen, members)
    return sql("""
        SELECT customer_id || '@' || {at} AS dedupe_key, customer_id, {at_time} AS occurred_at,
               {segment} AS segment
        FROM (SELECT DISTINCT customer_id FROM {new} n WHERE customer_id NOT IN ({old}))
    """, at=now.isoformat(sep=" "), at_time=now, segment=hook.segment, new=new, old=old)


def _definition(seg: Segment) -> str:
    """What a segment's members follow from besides the journey: its rule, or its list (saved with it)."""
    return f"{seg.kind}\x00{seg.expression}\x00{seg.updated_at.isoformat()}"


def _lead_scores_stamp(store) -> str:
    """Changes whenever the lead scores are saved again (``lead_score`` in a rule)."""
    count, scored = store.execute("SELECT count(*), max(scored_at) FROM lead_scores").fetchone()
    return f"{count}:{scored}"


def _watch_scope(store, hook: Webhook, now: datetime, customers: Query | None) -> Query | None:
    """The customers whose membership this look evaluates: None for every customer of the store.

    A segment's members change as events arrive, for the customers whose events they are; and
    without any: when the segment is edited (a rule's text, a list's members), when the lead
    scores are saved again (a rule naming ``lead_score``), and as time passes for a rule whose
    days are counted back from the store's latest event (``recency_days``, ``tenure_days``,
    ``events(NAME, DAYS)``, ``touchpoints(NAME, DAYS)``: other customers' events move it on).
    So with ``customers`` (the live triggers' changed customers) the look evaluates those
    customers, and the watched customers who are no longer in the store (merged into another by
    stitching, erased); it evaluates everyone without them (the manual run), on the first look
    after the segment or the lead scores changed, and for a rule that depends on time when
    ``SEGMENT_RECHECK_SECONDS`` have passed since it last did. The deliveries are those of an
    evaluation over the whole store; only the ones that time passing causes wait for that period.
    """
    if customers is None:
        return None
    seg = get_segment(store, hook.segment)
    last = json.loads(store.get_meta(WATCH_META + hook.name) or "{}")
    if last.get("definition") != _definition(seg):
        return None
    if seg.kind == "rule":
        rule = compile_rule(seg.expression, store.config)
        if "lead_score" in rule.fields and last.get("lead_scores") != _lead_scores_stamp(store):
            return None
        timed = bool(rule.fields & set(TIME_FIELDS)) or any(c.days is not None for c in rule.counts)
        if timed and not 0 <= (now - datetime.fromisoformat(last["looked_at"])).total_seconds() < SEGMENT_RECHECK_SECONDS:
            return None
    # one table for the whole look, so that the comparison and the update of segment_watch after it
    # read the same customers, and their membership is evaluated once
    scope = sql("SELECT customer_id FROM {scope}", scope=table(_SCOPE))
    store.execute(sql("""
        CREATE OR REPLACE TEMP TABLE {scope} AS
        SELECT customer_id, FALSE AS member FROM {customers} c
        UNION
        SELECT customer_id, FALSE FROM segment_watch
        WHERE webhook = {name} AND customer_id NOT IN (SELECT customer_id FROM {state})
    """, scope=table(_SCOPE), customers=customers, name=hook.name, state=state_source(store)))
    store.execute(sql("UPDATE {scope} SET member = TRUE WHERE customer_id IN (SELECT customer_id FROM {members} m)",
                      scope=table(_SCOPE), members=segment_members_query(store, hook.segment, scope)))
    return scope


def _watch_segment(store, hook: Webhook, now: datetime, scope: Query | None = None) -> None:
    """Record the segment's members as this webhook has now seen them (those of ``scope`` only, if given)."""
    if scope is not None:
        store.execute(sql("DELETE FROM segment_watch WHERE webhook = {name} AND customer_id IN ({scope})",
                          name=hook.name, scope=scope))
        store.execute(sql("INSERT INTO segment_watch SELECT {name}, customer_id FROM {scope} WHERE member",
                          name=hook.name, scope=table(_SCOPE)))
        return
    members = segment_members_query(store, hook.segment)
    store.execute("DELETE FROM segment_watch WHERE webhook = ?", [hook.name])
    store.execute(sql("INSERT INTO segment_watch SELECT DISTINCT {name}, customer_id FROM {members} m",
                      name=hook.name, members=members))
    store.execute("INSERT OR REPLACE INTO segment_watch_started VALUES (?, ?, ?)", [hook.name, hook.segment, now])
    seg = get_segment(store, hook.segment)
    seen = {"definition": _definition(seg), "looked_at": now.isoformat()}
    if seg.kind == "rule" and "lead_score" in compile_rule(seg.expression, store.config).fields:
        seen["lead_scores"] = _lead_scores_stamp(store)
    store.set_meta(WATCH_META + hook.name, json.dumps(seen))


def _body(hook: Webhook, row: dict) -> str:
    payload = {"webhook": hook.name, "trigger": hook.trigger}
    for key, value in row.items():
        if key == "dedupe_key":
            continue
        if isinstance(value, pd.Timestamp | datetime):
            value = value.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif value is not None and pd.isna(value):
            value = None
        payload[key] = value
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


#: triggers whose occurrences only a customer's new events can create (a cart's quiet period depends
#: on time; a segment's membership mostly not: see ``_watch_scope``)
ARRIVAL_TRIGGERS = ("detractor", "stage_entered", "moment_of_truth")


def enqueue_webhooks(store, since: datetime | None = None, now: datetime | None = None,
                     customers: Query | None = None) -> pd.DataFrame:
    """Queue a delivery for every new occurrence of every configured trigger.

    ``since`` ignores occurrences before that UTC time (so a new webhook does not replay all
    history). ``customers`` (a query selecting customer ids) narrows the ``ARRIVAL_TRIGGERS`` to
    those customers, and the segment triggers to them as far as that gives the same deliveries
    (``_watch_scope``): the live triggers pass the customers whose events just arrived. Without
    it (the manual run) every customer is evaluated. Returns one row per webhook: webhook,
    trigger, queued (new deliveries).
    """
    now = now or utcnow()
    rows = []
    for hook in store.config.webhooks:
        if urlparse(hook.url).scheme not in ("http", "https"):
            raise ParcoursError(f"webhook {hook.name!r}: url {hook.url!r} is not an http(s) URL")
        watching = hook.trigger in ("segment_entered", "segment_left")
        if watching and not _watch_started(store, hook):
            # the first look sends nothing: the members so far did not just enter
            with store.transaction(changes_data=False):
                _watch_segment(store, hook, now)
            rows.append({"webhook": hook.name, "trigger": hook.trigger, "queued": 0})
            continue
        # the customers this look evaluates (None: all): those whose events arrived, or for a segment
        # those and the watched customers who left the store, unless it must look at everyone
        arrival = (customers if hook.trigger in ARRIVAL_TRIGGERS
                   else _watch_scope(store, hook, now, customers) if watching else None)
        query = sql("""
            SELECT * FROM {occurrences} o
            WHERE {narrowed} AND {recent}
              AND dedupe_key NOT IN (SELECT dedupe_key FROM webhook_deliveries WHERE webhook = $hook)
            ORDER BY occurred_at, dedupe_key
        """, occurrences=_occurrences(store, hook, now, since, arrival), narrowed=_narrowed(arrival),
            recent=sql("occurred_at >= $since") if since else exp.true())
        found = store.execute(query, {"hook": hook.name, **({"since": since} if since else {})}).df()
        records = [
            (r["dedupe_key"], _body(hook, r)) for r in found.astype(object).where(found.notna(), None).to_dict("records")
        ]
        with store.transaction(changes_data=False):  # no journey data: the journey table stays
            for key, body in records:
                store.execute(
                    "INSERT INTO webhook_deliveries VALUES (nextval('webhook_delivery_seq'), ?, ?, ?, ?, ?, "
                    "'pending', 0, ?, ?, NULL)",
                    [hook.name, hook.trigger, key, hook.url, body, now, now],
                )
            if watching:
                _watch_segment(store, hook, now, arrival)
        if watching and arrival is not None:
            store.execute(sql("DROP TABLE IF EXISTS {scope}", scope=table(_SCOPE)))
        rows.append({"webhook": hook.name, "trigger": hook.trigger, "queued": len(records)})
    return pd.DataFrame(rows, columns=["webhook", "trigger", "queued"])


def start_watching(store, now: datetime | None = None) -> None:
    """Take the first look at the segment of every segment webhook not watching yet (sends nothing).

    The server calls this when it starts, so that customers who join after it are announced.
    """
    now = now or utcnow()
    for hook in store.config.webhooks:
        if hook.trigger in ("segment_entered", "segment_left") and not _watch_started(store, hook):
            with store.transaction(changes_data=False):
                _watch_segment(store, hook, now)


def _watch_started(store, hook: Webhook) -> bool:
    row = store.execute("SELECT segment FROM segment_watch_started WHERE webhook = ?", [hook.name]).fetchone()
    return row is not None and row[0] == hook.segment


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str | None]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) checked
            return response.status, None
    except urllib.error.HTTPError as e:
        return e.code, f"HTTP {e.code} {e.reason}"
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        return None, str(getattr(e, "reason", e))


def due_deliveries(store, now: datetime) -> list[tuple[int, str, str, str, int]]:
    """Deliveries to try now: (delivery_id, webhook, url, body, attempts so far), oldest first."""
    return store.execute(
        "SELECT delivery_id, webhook, url, body, attempts FROM webhook_deliveries "
        "WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, delivery_id",
        [now],
    ).fetchall()


def send(hook: Webhook | None, delivery: tuple[int, str, str, str, int], timeout: float) -> tuple[int | None, str | None]:
    """One attempt at a delivery: its signed POST; (HTTP status or None, error or None). No store needed."""
    delivery_id, name, url, body, _ = delivery
    if hook is None:
        return None, f"webhook {name!r} is no longer in the journey file"
    data = body.encode("utf-8")
    return _post(url, data, {
        "Content-Type": "application/json", SIGNATURE_HEADER: sign(data, hook.secret),
        "X-Parcours-Webhook": name, "X-Parcours-Delivery": str(delivery_id),
        "User-Agent": "parcours-webhooks",
    }, timeout)


def record_attempt(store, delivery: tuple[int, str, str, str, int], code: int | None, error: str | None,
                   at: datetime, max_attempts: int = MAX_ATTEMPTS, backoff: float = BACKOFF_SECONDS,
                   known: bool = True) -> dict:
    """Log an attempt and move the delivery on: delivered, failed, or pending after the backoff."""
    delivery_id, name, _, _, attempts = delivery
    attempt = attempts + 1 if known else max_attempts
    ok = code is not None and 200 <= code < 300
    status = "delivered" if ok else ("failed" if attempt >= max_attempts else "pending")
    with store.transaction(changes_data=False):  # no journey data: the journey table stays
        store.execute("INSERT INTO webhook_attempts VALUES (?, ?, ?, ?, ?)", [delivery_id, attempt, at, code, error])
        store.execute(
            "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, delivered_at = ? "
            "WHERE delivery_id = ?",
            [status, attempt, at + timedelta(seconds=backoff * 2 ** (attempt - 1)), at if ok else None, delivery_id],
        )
    return {"delivery_id": delivery_id, "webhook": name, "status": status, "attempts": attempt,
            "http_status": code, "error": error}


def deliver_webhooks(
    store,
    max_attempts: int = MAX_ATTEMPTS,
    backoff: float = BACKOFF_SECONDS,
    timeout: float = 10.0,
    wait: bool = False,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] = time.sleep,
) -> pd.DataFrame:
    """Send every due delivery once; with ``wait``, keep going (sleeping through the backoff)
    until the queue has nothing pending. Returns the deliveries touched: delivery_id, webhook,
    status, attempts, http_status, error."""
    hooks = {h.name: h for h in store.config.webhooks}
    touched: dict[int, dict] = {}
    while True:
        for delivery in due_deliveries(store, clock()):
            hook = hooks.get(delivery[1])
            code, error = send(hook, delivery, timeout)
            touched[delivery[0]] = record_attempt(store, delivery, code, error, clock(), max_attempts, backoff,
                                                  known=hook is not None)
        if not wait:
            break
        following = store.execute(
            "SELECT min(next_attempt_at) FROM webhook_deliveries WHERE status = 'pending'"
        ).fetchone()[0]
        if following is None:
            break
        sleep(max((following - clock()).total_seconds(), 0.0))
    return pd.DataFrame(list(touched.values()),
                        columns=["delivery_id", "webhook", "status", "attempts", "http_status", "error"])


def webhook_log(store, delivery_id: int | None = None) -> pd.DataFrame:
    """The delivery log: every attempt with the delivery's current status, newest first.

    Columns: delivery_id, webhook, trigger, dedupe_key, status, attempt, logged_at, http_status, error.
    Deliveries not tried yet appear once with a NULL attempt.
    """
    one = delivery_id is not None
    return store.execute(sql(
        """SELECT d.delivery_id, d.webhook, d.trigger, d.dedupe_key, d.status, a.attempt, a.logged_at,
                  a.http_status, a.error
           FROM webhook_deliveries d LEFT JOIN webhook_attempts a USING (delivery_id) WHERE {which}
           ORDER BY coalesce(a.logged_at, d.created_at) DESC, d.delivery_id DESC, a.attempt DESC""",
        which=sql("d.delivery_id = ?") if one else exp.true(),
    ), [delivery_id] if one else []).df()
