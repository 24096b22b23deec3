"""The demo business: deterministic, realistic, fully mapped, stitched, with friction to find."""

from __future__ import annotations

import pytest

import parcours
from parcours.analytics.filters import events_sql
from parcours.config.loader import template_text
from parcours.demo import PLANTED_FRICTION, demo_table, load_demo
from parcours.demo.business import SCALES, TONE_CUTS
from parcours.demo.comments import COMMENTS

N = 3000


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    store = parcours.open(tmp_path_factory.mktemp("demo") / "demo.duckdb")
    summary = load_demo(store, customers=N, seed=7)
    yield store, summary
    store.close()


def one(store, sql: str):
    return store.engine.df(sql).iloc[0, 0]


def j(store) -> str:
    return f"({events_sql(store, None)})"


def test_same_seed_same_data_and_another_seed_other_data():
    a, b = demo_table(400, seed=3), demo_table(400, seed=3)
    assert a.equals(b)
    c = demo_table(400, seed=4)
    assert not a.equals(c)
    assert a.column("message_id")[0].as_py() != c.column("message_id")[0].as_py()


def test_loads_through_the_importer_without_loss_and_idempotently(demo_store, tmp_path):
    store, summary = demo_store
    assert summary.loaded == summary.rows > 4 * N
    assert summary.quarantined == 0
    again = load_demo(store, customers=N, seed=7)
    assert again.loaded == 0 and again.duplicates == summary.rows


def test_every_event_maps_to_a_touchpoint(demo_store):
    store, _ = demo_store
    stats = parcours.store_stats(store)
    assert stats["unmapped_events"] == 0
    assert stats["quarantined"] == 0
    expected = {
        "ad_click", "search_click", "social_click", "email_open", "site_visit", "product_view", "product_compare",
        "chat_message", "form_submit", "store_visit", "add_to_cart", "remove_from_cart", "checkout_start",
        "payment_error", "sales_call", "purchase", "delivery", "delivery_delayed", "support_call",
        "newsletter_open", "loyalty_offer_click", "return_request", "review_posted", "referral_sent",
        "identify", "survey_response",
    }
    assert set(stats["events_by_name"]) == expected
    # every event carries a channel; repeat purchases land in retention
    assert one(store, "SELECT count(*) FROM events WHERE channel IS NULL") == 0
    repeat = store.engine.df(f"SELECT DISTINCT stage FROM {j(store)} WHERE touchpoint = 'repeat_purchase'")
    assert list(repeat["stage"]) == ["retention"]


def test_the_ecommerce_template_maps_the_demo_too(tmp_path):
    store = parcours.open(tmp_path / "shop.duckdb")
    store.set_journey(template_text("ecommerce"), "ecommerce")
    load_demo(store, customers=300, seed=1)
    assert parcours.store_stats(store)["unmapped_events"] == 0
    mobile = one(store, f"SELECT count(*) FROM {j(store)} WHERE touchpoint = 'mobile'")
    assert mobile > 0
    store.close()


def test_awareness_has_utm_campaigns_of_different_quality(demo_store):
    store, _ = demo_store
    df = store.engine.df(
        f"""
        WITH first AS (SELECT customer_id, arg_min(utm_campaign, timestamp) AS campaign
                       FROM {j(store)} WHERE stage = 'awareness' GROUP BY 1),
             bought AS (SELECT DISTINCT customer_id FROM {j(store)} WHERE event = 'purchase')
        SELECT campaign, count(*) AS customers, avg(CASE WHEN b.customer_id IS NULL THEN 0 ELSE 1 END) AS rate
        FROM first LEFT JOIN bought b USING (customer_id) GROUP BY 1
        """
    )
    assert df["campaign"].notna().all() and len(df) >= 6
    big = df[df["customers"] >= 100]
    assert big["rate"].max() > 2 * big["rate"].min()
    missing = one(store, f"SELECT count(*) FROM {j(store)} WHERE stage = 'awareness' AND "
                         "(utm_source IS NULL OR utm_medium IS NULL OR utm_campaign IS NULL)")
    assert missing == 0


def test_landing_visits_and_retention_emails_carry_utm_tags(demo_store):
    """A funnel from the site broken down by utm_source shows the sources, not only "None"."""
    from parcours.analytics.funnels.funnel import funnel

    store, _ = demo_store
    df = funnel(store, ["touchpoint:web_page", "touchpoint:cart"], breakdown="utm_source")
    first = df[df["step"] == df["step"].min()].set_index("breakdown")["customers"]
    tagged = first.drop(index=[None], errors="ignore")
    assert {"google", "meta", "instagram", "newsletter"} <= set(tagged.index)
    assert tagged.sum() > 0.25 * first.sum()  # the landing visits of same-session clicks
    untagged = one(store, f"SELECT count(*) FROM {j(store)} WHERE event IN ('newsletter_open', 'loyalty_offer_click') "
                          "AND (utm_source IS NULL OR utm_medium IS NULL OR utm_campaign IS NULL)")
    assert untagged == 0
    assert one(store, f"SELECT count(*) FROM {j(store)} WHERE utm_campaign = 'newsletter_mensuelle'") > 100


def test_numbers_look_like_a_real_business(demo_store):
    store, _ = demo_store
    counts = store.engine.df(
        f"""SELECT count(DISTINCT customer_id) AS everyone,
                   count(DISTINCT CASE WHEN event = 'add_to_cart' THEN customer_id END) AS carts,
                   count(DISTINCT CASE WHEN event = 'purchase' THEN customer_id END) AS buyers,
                   count(DISTINCT CASE WHEN event = 'store_visit' THEN customer_id END) AS store_visitors
            FROM {j(store)}"""
    ).iloc[0]
    assert 0.02 < counts.buyers / counts.everyone < 0.15          # most visitors never buy
    assert 0.6 < 1 - counts.buyers / counts.carts < 0.8           # most carts are abandoned (~70%)
    assert counts.store_visitors > 0
    stages = parcours.stage_overview(store)
    assert list(stages["reached"]) == sorted(stages["reached"], reverse=True)
    assert (stages["reached"] > 0).all()


def test_surveys_are_in_range_tied_to_touchpoints_with_matching_comments(demo_store):
    store, _ = demo_store
    df = store.engine.df(
        f"""SELECT json_extract_string(properties, '$.metric') AS metric,
                   CAST(json_extract_string(properties, '$.score') AS INTEGER) AS score,
                   json_extract_string(properties, '$.touchpoint') AS touchpoint,
                   json_extract_string(properties, '$.comment') AS comment,
                   json_extract_string(properties, '$.language') AS language
            FROM {j(store)} WHERE event = 'survey_response'"""
    )
    assert set(df["metric"]) == {"nps", "csat", "ces"}
    for metric, (lo, hi) in SCALES.items():
        scores = df.loc[df["metric"] == metric, "score"]
        assert scores.between(lo, hi).all() and scores.nunique() >= 3
    touchpoints = {t.name for t in store.config.touchpoints}
    assert set(df["touchpoint"]) <= touchpoints
    commented = df[df["comment"].notna()]
    assert set(commented["language"]) == {"fr", "en"}
    assert 0.3 < len(commented) / len(df) < 0.7
    negative = {c for tp in COMMENTS.values() for lang in tp["negative"].values() for c in lang}
    positive = {c for tp in COMMENTS.values() for lang in tp["positive"].values() for c in lang}
    for _, row in commented.iterrows():
        neg_cut, pos_cut = TONE_CUTS[row.metric]
        if row.comment in negative:
            assert row.score <= neg_cut
        if row.comment in positive:
            assert row.score >= pos_cut


def test_stitching_joins_anonymous_devices_and_offline_contacts(demo_store):
    store, _ = demo_store
    # customers who logged in on two devices: both anonymous ids end up in one customer
    two_devices = store.con.execute(
        """SELECT user_id, list(DISTINCT anonymous_id) AS anons FROM events WHERE type = 'identify'
           GROUP BY 1 HAVING count(DISTINCT anonymous_id) = 2 LIMIT 20"""
    ).fetchall()
    assert len(two_devices) >= 10
    for user_id, anons in two_devices:
        found = store.con.execute(
            "SELECT DISTINCT customer_id FROM identity_map WHERE identifier IN (?, ?, ?)", [user_id, *anons]
        ).fetchall()
        assert found == [(user_id,)]
    # events from before the login, on the first device, belong to the customer
    anonymous_before = one(
        store, f"SELECT count(*) FROM {j(store)} WHERE user_id IS NULL AND customer_id LIKE 'c0%' AND stage = 'awareness'"
    )
    assert anonymous_before > 0
    # store visits and calls known only by email/phone/CRM id join the online customer
    offline = one(
        store, f"""SELECT count(*) FROM {j(store)} WHERE event IN ('store_visit', 'support_call')
                   AND anonymous_id NOT LIKE 'anon-%' AND customer_id LIKE 'c0%'"""
    )
    assert offline > 0
    assert len(parcours.customer(store, two_devices[0][0]).identities) >= 3


def _score(store, metric: str) -> dict[str, float]:
    df = store.engine.df(
        f"""SELECT json_extract_string(properties, '$.touchpoint') AS touchpoint,
                   avg(CAST(json_extract_string(properties, '$.score') AS DOUBLE)) AS score
            FROM {j(store)} WHERE event = 'survey_response' AND json_extract_string(properties, '$.metric') = '{metric}'
            GROUP BY 1"""
    )
    return dict(zip(df["touchpoint"], df["score"], strict=True))


def test_planted_friction_is_measurably_worse(demo_store):
    store, _ = demo_store
    config_touchpoints = {t.name for t in store.config.touchpoints}
    assert {"checkout", "delivery", "web_form"} <= set(PLANTED_FRICTION) <= config_touchpoints
    ces, csat = _score(store, "ces"), _score(store, "csat")
    assert ces["checkout"] < ces["product_page"] - 1 and ces["web_form"] < ces["product_page"] - 1
    assert csat["delivery"] < csat["store_visit"]

    f = store.engine.df(
        f"""SELECT
              count(DISTINCT CASE WHEN event = 'checkout_start' THEN customer_id END) AS checkouts,
              count(DISTINCT CASE WHEN event = 'purchase' THEN customer_id END) AS buyers,
              count(DISTINCT CASE WHEN event = 'payment_error' THEN customer_id END) AS payment_errors
            FROM {j(store)}"""
    ).iloc[0]
    assert 1 - f.buyers / f.checkouts > 0.3 and f.payment_errors / f.checkouts > 0.2

    # delays are followed by a support call within days, and delayed customers are detractors
    d = store.engine.df(
        f"""WITH late AS (SELECT customer_id, timestamp AS t FROM {j(store)} WHERE event = 'delivery_delayed'),
                 calls AS (SELECT customer_id, timestamp AS t FROM {j(store)} WHERE event = 'support_call')
            SELECT count(*) AS delays,
                   count(*) FILTER (WHERE EXISTS (SELECT 1 FROM calls c WHERE c.customer_id = l.customer_id
                                    AND c.t BETWEEN l.t AND l.t + INTERVAL 3 DAY)) AS called
            FROM late l"""
    ).iloc[0]
    assert d.delays > 0 and d.called / d.delays > 0.5
    by_delay = store.engine.df(
        f"""SELECT json_extract_string(properties, '$.metric') AS metric,
                   avg(CAST(json_extract_string(properties, '$.score') AS DOUBLE)) AS score,
                   customer_id IN (SELECT customer_id FROM {j(store)} WHERE event = 'delivery_delayed') AS late
            FROM {j(store)} WHERE event = 'survey_response' AND json_extract_string(properties, '$.touchpoint') = 'delivery'
            GROUP BY 1, 3"""
    ).set_index(["metric", "late"])["score"]
    assert by_delay["nps", True] < by_delay["nps", False] - 1.5 and by_delay["nps", True] < 7 < by_delay["nps", False]
    assert by_delay["csat", True] < by_delay["csat", False] - 1

    # web form loops: several submits per customer, with live chat in between
    loops = one(store, f"""SELECT count(*) FROM (SELECT customer_id FROM {j(store)} WHERE event = 'form_submit'
                           GROUP BY 1 HAVING count(*) >= 2)""")
    assert loops > 0

    # the long wait between cart and checkout for mobile-first shoppers who switch device
    w = store.engine.df(
        f"""WITH c AS (SELECT customer_id, min(timestamp) FILTER (WHERE event = 'add_to_cart') AS cart,
                              arg_min(channel, timestamp) FILTER (WHERE event = 'add_to_cart') AS cart_channel,
                              arg_min(channel, timestamp) FILTER (WHERE event = 'checkout_start') AS co_channel,
                              min(timestamp) FILTER (WHERE event = 'checkout_start') AS co
                       FROM {j(store)} GROUP BY 1)
            SELECT cart_channel = 'mobile' AND co_channel = 'web' AS switched,
                   median(epoch(co) - epoch(cart)) / 3600 AS hours
            FROM c WHERE co IS NOT NULL GROUP BY 1"""
    ).set_index("switched")["hours"]
    assert w[True] > 12 and w[False] < 2


def test_bad_customer_count_is_a_clear_error(store):
    with pytest.raises(parcours.ParcoursError, match="at least one customer"):
        load_demo(store, customers=0, seed=1)
