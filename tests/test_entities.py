"""Persons and groups (accounts): stored from identify/group calls and tables, read by every analysis.

Person properties (``person.NAME``) and groups (``group.TYPE``, ``group.TYPE.NAME``) filter
events before any analysis, and a funnel can count accounts or customers sharing a person
property (PostHog's global filters, ``person_props`` and ``aggregate_by``).
"""

from __future__ import annotations

import pytest
from clirun import run
from conftest import load_events

import parcours
from parcours.analytics.funnels.funnel import funnel
from parcours.errors import ParcoursError
from parcours.query.filter import Filter, parse_where

EVENTS = [
    # ann browses anonymously, then identifies as u1 (plan free, later pro): stitched, latest wins
    {"anonymous_id": "a1", "event": "signup", "timestamp": "2024-01-01T10:00:00Z"},
    {"anonymous_id": "a1", "user_id": "u1", "type": "identify", "timestamp": "2024-01-01T10:01:00Z",
     "properties": {"plan": "free"}},
    {"user_id": "u1", "type": "identify", "timestamp": "2024-01-03T00:00:00Z", "properties": {"plan": "pro"}},
    {"user_id": "u1", "type": "group", "timestamp": "2024-01-01T10:02:00Z",
     "properties": {"group_id": "acme", "industry": "retail"}},
    {"user_id": "u2", "event": "signup", "timestamp": "2024-01-01T11:00:00Z"},
    {"user_id": "u2", "type": "identify", "timestamp": "2024-01-01T11:00:00Z", "properties": {"plan": "free"}},
    {"user_id": "u2", "type": "group", "timestamp": "2024-01-01T11:00:00Z", "properties": {"group_id": "acme"}},
    {"user_id": "u2", "event": "paid", "timestamp": "2024-01-02T11:00:00Z"},
    {"user_id": "u3", "event": "signup", "timestamp": "2024-01-01T12:00:00Z"},
    {"user_id": "u3", "type": "group", "timestamp": "2024-01-01T12:00:00Z",
     "properties": {"group_id": "globex", "industry": "energy"}},
    # u3 moves to acme: events from then on carry acme
    {"user_id": "u3", "type": "group", "timestamp": "2024-01-05T00:00:00Z", "properties": {"group_id": "acme"}},
    {"user_id": "u3", "event": "paid", "timestamp": "2024-01-06T00:00:00Z"},
]


@pytest.fixture
def accounts(store, tmp_path):
    summary = load_events(store, EVENTS, tmp_path)
    assert summary.loaded == len(EVENTS)
    return store


def _counts(store, filter=None, **spec) -> list[int]:
    return list(funnel(store, spec={"steps": ["signup", "paid"], **spec}, filter=filter)["customers"])


def test_person_property_filters_every_event(accounts):
    # u1 (stitched with a1, latest plan pro) is the only pro customer; its anonymous signup counts
    assert _counts(accounts, Filter(where=[parse_where("person.plan = 'pro'")])) == [1, 0]
    assert _counts(accounts, Filter(where=[parse_where("person.plan = 'free'")])) == [1, 1]
    assert _counts(accounts) == [3, 2]


def test_step_person_props_and_global_filters(accounts):
    assert _counts(accounts, steps=[{"event": "signup", "person_props": {"plan": "free"}}, "paid"]) == [1, 1]
    assert _counts(accounts, global_event_filter={"where": [{"field": "person.plan", "value": "pro"}]}) == [1, 0]
    # acme's industry is retail (u1's group call); u3's signup was at globex (energy)
    assert _counts(accounts, global_group_filter={"company": {"industry": "retail"}}) == [2, 1]  # u3 paid in acme, signed up elsewhere
    assert _counts(accounts, global_group_filter={"company": {"industry": "energy"}}) == [1, 0]


def test_aggregate_by_group_and_person_property(accounts):
    # accounts: acme (u1, u2 signed up; u2 and u3 paid while in acme), globex (u3's signup)
    assert _counts(accounts, aggregate_by="group.company") == [2, 1]
    # customers sharing a plan: free (u2) converts; pro (u1) does not; u3 has no plan and is left out
    assert _counts(accounts, aggregate_by="person_props.plan") == [2, 1]


def test_group_breakdown(accounts):
    df = funnel(accounts, spec={"steps": ["signup", "paid"], "breakdown": {"property": "group.company"}})
    got = {b: list(g["customers"]) for b, g in df.groupby("breakdown")}
    assert got == {"acme": [2, 1], "globex": [1, 1]}


def test_bad_where_is_one_clear_error():
    with pytest.raises(ParcoursError, match="FIELD OP VALUE"):
        parse_where("plan is pro")
    with pytest.raises(ParcoursError, match="person.NAME"):
        parse_where("persona.plan = 'x'")


def test_cli_imports_person_and_group_tables(tmp_path, capsys):
    db = tmp_path / "s.duckdb"
    events = tmp_path / "ev.csv"
    events.write_text("user_id,event,timestamp,tier\nu1,signup,2024-01-01T00:00:00Z,gold\n"
                      "u2,signup,2024-01-01T00:00:00Z,\nu2,paid,2024-01-02T00:00:00Z,\n")
    persons = tmp_path / "persons.csv"
    persons.write_text("user_id,plan\nu1,pro\nu2,free\n")
    groups = tmp_path / "groups.csv"
    groups.write_text("group_id,user_id,industry\nacme,u1,retail\nacme,u2,retail\n")

    def cli(*args):
        return run(capsys, "--db", db, *args)

    assert cli("import", events, "--map", "traits.tier=tier").code == 0
    r = cli("import", persons, "--as", "persons", "--format", "json")
    assert r.code == 0, r.err
    assert r.json()["values"] == 2
    assert cli("import", groups, "--as", "groups", "--format", "json").json()["memberships"] == 2

    def customers(*args):
        r = cli("funnel", *args, "--format", "json")
        assert r.code == 0, r.err
        return [s["customers"] for s in r.json()]

    assert customers("signup", "paid", "--where", "person.plan = 'free'") == [1, 1]
    assert customers("signup", "paid", "--by", "group.company") == [1, 1]
    assert customers("signup", "--where", "person.tier = 'gold'") == [1]
    assert customers("signup", "--where", "group.company.industry = 'retail'") == [2]
    r = cli("funnel", "signup", "--where", "plan is pro")
    assert r.code == 2 and "FIELD OP VALUE" in r.err and len(r.err.strip().splitlines()) == 1


def test_same_answers_on_spark(accounts):
    spark = pytest.importorskip("pyspark")
    assert spark
    from parcours.engine.spark import spark_session

    spark_session()
    path = accounts.path
    sp = parcours.open(path, engine="spark")
    try:
        for spec in ({"aggregate_by": "group.company"}, {"aggregate_by": "person_props.plan"},
                     {"global_group_filter": {"company": {"industry": "retail"}}}):
            assert _counts(sp, **spec) == _counts(accounts, **spec), spec
        for filter in (Filter(where=[parse_where("person.plan = 'pro'")]), Filter(subject="group.company")):
            assert _counts(sp, filter) == _counts(accounts, filter), filter
            for analysis in (parcours.top_paths, parcours.dfg):
                assert analysis(sp, by="event", filter=filter).equals(analysis(accounts, by="event", filter=filter))
    finally:
        sp.close()


def test_collector_identify_and_group_calls(tmp_path):
    """Segment's identify and group calls (alone and in a batch) over HTTP feed persons and accounts."""
    import httpx
    from server_process import Server, create_key

    db = tmp_path / "collector.duckdb"
    key = create_key(db, "write", "web")
    msgs = [
        {"type": "track", "messageId": "t1", "anonymousId": "a1", "event": "signup", "timestamp": "2024-01-01T10:00:00Z"},
        {"type": "group", "messageId": "g2", "userId": "u2", "groupId": "acme", "timestamp": "2024-01-01T09:00:00Z",
         "traits": {"industry": "retail"}},
        {"type": "track", "messageId": "t2", "userId": "u2", "event": "signup", "timestamp": "2024-01-01T11:00:00Z"},
        {"type": "track", "messageId": "t3", "userId": "u2", "event": "paid", "timestamp": "2024-01-02T11:00:00Z"},
    ]
    with Server(db) as srv, httpx.Client(base_url=srv.url, auth=(key, ""), timeout=10) as http:
        assert http.post("/v1/identify", json={"messageId": "i1", "userId": "u1", "anonymousId": "a1",
                                               "timestamp": "2024-01-01T10:01:00Z", "traits": {"plan": "pro"}}).status_code == 200
        assert http.post("/v1/group", json={"messageId": "g1", "userId": "u1", "groupId": "acme",
                                            "timestamp": "2024-01-01T10:02:00Z", "traits": {"seats": 5}}).status_code == 200
        assert http.post("/v1/batch", json={"batch": msgs}).json()["accepted"] == len(msgs)
    with parcours.open(db) as store:
        assert _counts(store, aggregate_by="group.company") == [1, 1]
        assert _counts(store, Filter(where=[parse_where("person.plan = 'pro'")])) == [1, 0]
        assert _counts(store, Filter(where=[parse_where("group.company.industry = 'retail'")])) == [2, 1]
        got = parcours.groups(store, "company", ["industry", "seats"]).to_dict("records")
        assert got == [{"group_key": "acme", "industry": "retail", "seats": "5"}]
        assert parcours.persons(store, ["plan"]).to_dict("records") == [{"customer_id": "u1", "plan": "pro"}]


def test_dashboard_filter_takes_the_same_conditions(accounts):
    from starlette.requests import Request

    from parcours.web.request import page_filter

    def req(qs: str) -> Request:
        return Request({"type": "http", "query_string": qs.encode(), "headers": []})

    filter = page_filter(req("from=2024-01-01&where=person.plan+%3D+%27pro%27&where=group.company.seats+%3E%3D+10"))
    f = filter.to_filter()
    assert [(c.field, c.op, c.value, c.numeric) for c in f.where] == [
        ("person.plan", "eq", "pro", False), ("group.company.seats", "ge", 10.0, True)]
    assert "where=person.plan" in filter.query()  # links keep the conditions
    # the Filter a page hands its analyses: the funnel of pro customers
    assert _counts(accounts, page_filter(req("where=person.plan+%3D+%27pro%27")).to_filter()) == [1, 0]
    with pytest.raises(ParcoursError, match="where= 'plan pro'"):
        page_filter(req("where=plan+pro"))


def test_every_analysis_can_follow_accounts(accounts):
    """``Filter(subject="group.company")``: the account is the customer of every analysis."""
    by_account = Filter(subject="group.company")
    # paths: acme's journey interleaves its members' events (u1's, u2's, and u3's only once it
    # joined acme); a signup and a group call at the same instant keep the order they were recorded in
    paths = parcours.top_paths(accounts, by="event", max_length=9, filter=by_account)
    assert dict(zip(paths["path"], paths["customers"], strict=True)) == {
        "signup > group > signup > group > paid > group > paid": 1, "signup > group": 1}
    ret = parcours.retention(accounts, cohort_event="signup", return_event="paid", period="day", filter=by_account)
    assert set(ret["size"]) == {2}  # two accounts signed up on 2024-01-01
    # a subject reads the account's events only: acme did both steps
    customers = parcours.funnel_customers(accounts, spec={"steps": ["signup", "paid"]}, filter=by_account)
    assert dict(zip(customers["customer"], customers["level"], strict=True)) == {"acme": 2, "globex": 1}


ACCOUNT_JOURNEY = """
[[stages]]
name = "consideration"
[[stages]]
name = "decision"
[[touchpoints]]
name = "signup"
stage = "consideration"
channel = "web"
match = { event = "signup" }
[[touchpoints]]
name = "paid"
stage = "decision"
channel = "web"
match = { event = "paid" }
"""


def test_cli_stage_progression_and_retention_per_account(accounts, capsys):
    accounts.set_journey(ACCOUNT_JOURNEY, "accounts.toml")  # stages read mapped events only
    path = accounts.path
    accounts.close()
    r = run(capsys, "--db", path, "retention", "--cohort-event", "signup", "--return-event", "paid", "--period", "day",
            "--subject", "group.company", "--format", "json")
    assert r.code == 0, r.err
    assert {row["size"] for row in r.json()} == {2}
    r = run(capsys, "--db", path, "stages", "--subject", "group.company", "--format", "json")
    assert r.code == 0, r.err
    assert [row["reached"] for row in r.json()] == [2, 1], r.out  # acme and globex signed up; acme paid
    r = run(capsys, "--db", path, "stages", "--subject", "company")
    assert r.code == 2 and "--subject 'company'" in r.err and "group.TYPE" in r.err


def test_cli_paths_friction_and_voc_take_where_and_subject(accounts, capsys):
    path = accounts.path
    accounts.close()

    def paths(*args: str) -> set[str]:
        r = run(capsys, "--db", path, "paths", "--by", "event", "--max-length", "9", "--format", "json", *args)
        assert r.code == 0, r.err
        return {row["path"] for row in r.json()}

    assert paths("--subject", "group.company") == {"signup > group > signup > group > paid > group > paid",
                                                    "signup > group"}
    # u1 is pro (latest identify wins): the only customer left (identify calls are no step)
    assert paths("--where", "person.plan = 'pro'") == {"signup > group"}
    for command in (("friction",), *(("voc", c) for c in ("scores", "trend", "compare", "emotion", "behaviour",
                                                          "detractor-touchpoints", "answers"))):
        r = run(capsys, "--db", path, *command, "--where", "person.plan = 'pro'", "--subject", "group.company")
        assert "No such option" not in r.err and "no such option" not in r.err, (command, r.err)
        assert r.code in (0, 2), (command, r.err)
    r = run(capsys, "--db", path, "paths", "--subject", "company")
    assert r.code == 2 and "--subject 'company'" in r.err


def test_retention_breaks_down_by_person_property(accounts):
    df = parcours.retention(accounts, cohort_event="signup", return_event="paid", period="day", breakdown="person.plan")
    came_back = df[df["retained"] > 0]
    # free (u2) paid the next day; u3 (no plan) five days later; pro (u1) never
    assert sorted(zip(came_back["group"].fillna("-"), came_back["period"], strict=True)) == [("-", 5), ("free", 1)]


def test_touchpoint_rules_refuse_person_fields():
    from parcours.config import parse_config
    from parcours.errors import ConfigError

    toml = """
[[stages]]
name = "s"
[[touchpoints]]
name = "t"
stage = "s"
channel = "web"
match = { event = "x", person_props = { plan = "pro" } }
"""
    with pytest.raises(ConfigError, match="person.plan"):
        parse_config(toml)


def test_attribution_by_account(store, tmp_path):
    """B2B: the account's first touch was a colleague's, so first-touch credit moves to it."""
    acme = {"$groups": {"company": "acme"}}  # events may name their account themselves
    load_events(store, [
        {"user_id": "u1", "event": "visit", "timestamp": "2024-01-01T10:00:00Z", "properties": acme, "channel": "search"},
        {"user_id": "u2", "event": "visit", "timestamp": "2024-01-01T11:00:00Z", "properties": acme, "channel": "email"},
        {"user_id": "u2", "event": "purchase", "timestamp": "2024-01-02T11:00:00Z", "properties": {**acme, "revenue": 10}},
    ], tmp_path)

    def first_touch(filter):
        df = parcours.attribution(store, "first_touch", conversion="purchase", touches={"event": "visit"}, filter=filter)
        return df.loc[df["conversions"] > 0, "channel"].tolist()

    assert first_touch(Filter()) == ["email"]
    assert first_touch(Filter(subject="group.company")) == ["search"]


def test_spec_errors_name_the_key(accounts):
    with pytest.raises(ParcoursError, match="global_event_filter: where.0.field"):
        funnel(accounts, spec={"steps": ["signup"], "global_event_filter": {"where": [{"field": "nope", "value": 1}]}})
    with pytest.raises(ParcoursError, match="aggregate_by 'persona.x'"):
        funnel(accounts, spec={"steps": ["signup"], "aggregate_by": "persona.x"})


def test_dashboard_reads_the_map_per_account(accounts):
    """``subject=group.company`` on any page: the journey map counts accounts, as ``--subject`` does."""
    from starlette.requests import Request

    from parcours.views.pages import journey_page, subject_names
    from parcours.web.request import page_filter

    def req(qs: str) -> Request:
        return Request({"type": "http", "query_string": qs.encode(), "headers": []})

    accounts.set_journey(ACCOUNT_JOURNEY, "accounts.toml")
    assert subject_names(accounts) == ["group.company"]  # what the filter bar offers besides customers
    per_account = page_filter(req("subject=group.company"))
    assert "subject=group.company" in per_account.query()  # links keep it
    people, firms = (journey_page(accounts, f.to_filter())["map"] for f in (page_filter(req("")), per_account))
    reached = {s["name"]: s["reached"] for s in firms["stages"]}
    assert reached == {"consideration": 2, "decision": 1}, firms["stages"]  # acme and globex; acme paid
    assert {s["name"]: s["reached"] for s in people["stages"]} == {"consideration": 3, "decision": 2}
    with pytest.raises(ParcoursError, match="subject='company'"):
        page_filter(req("subject=company"))
