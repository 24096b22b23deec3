"""Conformance as a filter of every analysis: ``--where "fitness < 0.8"``, ``deviation = '...'``, ``--split``.

A condition on a customer-level field keeps whole customers, so each analysis filtered by it
must answer exactly as it does for the list segment of the same customers.
"""

from __future__ import annotations

import pytest
from clirun import run
from conftest import load_events
from test_conformance import PLANTED

import parcours
from parcours.analytics.conformance import conformance_customers, save_fitness_segment
from parcours.errors import ParcoursError
from parcours.query.filter import Filter, parse_where

#: fitness (see test_conformance): a 1, b 0.8 (pays twice), c 0.75 (pays before the cart), d 0.8 (back
#: to discover), e 0.67 (skips buy), f 0.8 (skips the required compare); g has no touchpoint on the map
JOURNEYS = {"a": ["ad", "compare", "cart", "pay"], "b": ["ad", "cart", "pay", "pay"], "c": ["ad", "pay", "cart"],
            "d": ["ad", "cart", "pay", "search"], "e": ["ad", "review"], "f": ["ad", "compare", "cart", "review"],
            "g": ["unknown_thing"]}


@pytest.fixture
def planted(store, tmp_path):
    store.set_journey(PLANTED, "planted")
    load_events(store, [{"user_id": c, "event": ev, "timestamp": f"2024-01-0{k + 1}T00:00:0{i}Z"}
                        for k, (c, seq) in enumerate(JOURNEYS.items()) for i, ev in enumerate(seq)], tmp_path)
    return store


def _where(*texts: str) -> Filter:
    return Filter(where=[parse_where(t) for t in texts])


def _customers(store, filter: Filter) -> list[str]:
    sql = parcours.events_sql(store, filter)
    return sorted(store.engine.df(f"SELECT DISTINCT customer_id FROM ({sql})")["customer_id"])


def test_fitness_and_deviation_keep_whole_customers(planted):
    fitness = conformance_customers(planted).set_index("customer")["fitness"]
    assert fitness["a"] == 1.0 and fitness["c"] == 0.75 and fitness.isna()["g"]
    assert _customers(planted, _where("fitness < 0.8")) == ["c", "e"]
    assert _customers(planted, _where("fitness >= 0.8")) == ["a", "b", "d", "f"]  # g has no fitness: in neither
    assert _customers(planted, _where("fitness = 1")) == ["a"]
    assert _customers(planted, _where("deviation = 'skipped stage'")) == ["e"]
    assert _customers(planted, _where("deviation != 'skipped stage'")) == ["a", "b", "c", "d", "f"]
    # with event conditions and a segment, all must hold
    assert _customers(planted, _where("fitness < 1", "event = 'pay'")) == ["b", "c", "d"]
    save_fitness_segment(planted, "high", "fitness >= 0.8")
    assert _customers(planted, Filter(segment="high", where=[parse_where("fitness < 1")])) == ["b", "d", "f"]


def test_every_analysis_answers_as_for_the_same_list_segment(planted):
    save_fitness_segment(planted, "deviating", "fitness < 0.8")
    by_condition, by_segment = _where("fitness < 0.8"), Filter(segment="deviating")
    analyses = [
        lambda f: parcours.funnel(planted, ["ad", "cart", "pay"], filter=f),
        lambda f: parcours.top_paths(planted, filter=f),
        lambda f: parcours.dfg(planted, filter=f),
        lambda f: parcours.retention(planted, filter=f),
        lambda f: parcours.stage_progression(planted, filter=f),
        lambda f: parcours.attribution(planted, filter=f),
    ]
    for analysis in analyses:
        got, expected = analysis(by_condition), analysis(by_segment)
        assert got.equals(expected)
    assert list(parcours.funnel(planted, ["ad", "cart"], filter=by_condition)["customers"]) == [2, 1]


def test_answers_follow_new_data(planted, tmp_path):
    assert _customers(planted, _where("fitness = 1")) == ["a"]
    load_events(planted, [{"user_id": "h", "event": e, "timestamp": f"2024-02-01T00:00:0{i}Z"}
                          for i, e in enumerate(["search", "cart", "pay"])], tmp_path)
    assert _customers(planted, _where("fitness = 1")) == ["a", "h"]


@pytest.mark.parametrize("text, message", [
    ("fitness < 'high'", "fitness compares with a number"),
    ("deviation < 'skipped stage'", "deviation takes = !=, not <"),
    ("deviation = 2", "deviation compares with a quoted name"),
    ("fitnes < 0.8", "or a customer field (fitness, deviation"),
])
def test_bad_conditions_say_what_to_write(text, message):
    with pytest.raises(ParcoursError, match="^`where` ") as e:  # the parameter (the CLI says --where)
        parse_where(text)
    assert message in str(e.value)


def test_unknown_deviation_kind_names_the_closest(planted):
    with pytest.raises(ParcoursError, match="did you mean skipped stage"):
        _customers(planted, _where("deviation = 'skiped stage'"))


def test_cli_funnel_paths_retention_take_fitness(planted, capsys):
    def cli(*args):
        r = run(capsys, "--db", planted.path, *args, "--format", "json")
        assert r.code == 0, r.err
        return r.json()

    planted.close()
    assert [s["customers"] for s in cli("funnel", "ad", "cart", "pay", "--where", "fitness < 0.8")] == [2, 1, 0]
    paths = cli("paths", "--where", "fitness = 1")
    assert [p["path"] for p in paths] == ["ad > compare > cart > pay"]
    assert sum(r["size"] for r in cli("retention", "--where", "fitness < 0.8") if r["period"] == 0) == 2
    bad = run(capsys, "--db", planted.path, "funnel", "ad", "--where", "fitness ~ 1")
    assert bad.code == 2 and len(bad.err.strip().splitlines()) == 1 and "FIELD OP VALUE" in bad.err
    bad = run(capsys, "--db", planted.path, "paths", "--where", "deviation > 'x'")
    assert bad.code == 2 and "deviation takes = !=" in bad.err


def test_dashboard_filter_bar_takes_fitness(planted):
    from starlette.requests import Request

    from parcours.web.request import page_filter

    request = Request({"type": "http", "query_string": b"where=fitness+%3C+0.8", "headers": []})
    assert _customers(planted, page_filter(request).to_filter()) == ["c", "e"]


def test_same_answers_on_spark(planted):
    pytest.importorskip("pyspark")
    path = planted.path
    planted.close()
    with parcours.open(path, read_only=True) as duck:
        sp = parcours.open(path, read_only=True, engine="spark")
        try:
            # few Spark queries: each costs seconds on a loaded machine
            for text in ("fitness < 0.8", "deviation != 'skipped stage'"):
                f = _where(text)
                assert _customers(sp, f) == _customers(duck, f), text
            f = _where("fitness < 0.8")
            assert parcours.funnel(sp, ["ad", "cart", "pay"], filter=f).equals(
                parcours.funnel(duck, ["ad", "cart", "pay"], filter=f))
        finally:
            sp.close()


def test_split_by_conformance_or_a_condition(planted):
    from parcours.query.filter import split

    sides = split(None, "conformance")
    assert [label for label, _ in sides] == ["fitness = 1", "fitness < 1"]
    assert [_customers(planted, f) for _, f in sides] == [["a"], ["b", "c", "d", "e", "f"]]
    sides = split(_where("event = 'cart'"), "deviation = 'skipped stage'")
    assert [label for label, _ in sides] == ["deviation = 'skipped stage'", "deviation != 'skipped stage'"]
    assert [_customers(planted, f) for _, f in sides] == [[], ["a", "b", "c", "d", "f"]]
    with pytest.raises(ParcoursError, match="an event condition does not divide customers"):
        split(None, "channel = 'web'")


def test_cli_funnel_split(planted, capsys):
    planted.close()
    r = run(capsys, "--db", planted.path, "funnel", "ad", "cart", "pay", "--split", "fitness < 0.8", "--format", "json")
    assert r.code == 0, r.err
    assert [(s["split"], s["customers"]) for s in r.json()] == [
        ("fitness < 0.8", 2), ("fitness < 0.8", 1), ("fitness < 0.8", 0),
        ("fitness >= 0.8", 4), ("fitness >= 0.8", 4), ("fitness >= 0.8", 3)]
    bad = run(capsys, "--db", planted.path, "funnel", "ad", "cart", "--split", "event = 'pay'")
    assert bad.code == 2 and len(bad.err.strip().splitlines()) == 1 and "--split" in bad.err


def test_dashboard_funnel_split_by_conformance(planted):
    from fastapi.testclient import TestClient

    from parcours.server import create_app
    from parcours.server.keys import create_key

    key = create_key(planted, "read", "reader")
    planted.close()
    with TestClient(create_app(planted.path)) as client:
        auth = {"Authorization": f"Bearer {key}", "Accept": "text/html"}
        r = client.get("/funnels?step=ad&step=cart&step=pay&split=conformance", headers=auth)
        assert r.status_code == 200, r.text
        table = r.text.split('id="split"')[1]
        assert "chart-split" in table and "<td>fitness = 1</td><td>3</td><td>pay</td><td>1</td>" in table
        assert "<td>fitness &lt; 1</td><td>3</td><td>pay</td><td>2</td>" in table
        bad = client.get("/funnels?step=ad&step=cart&split=fitness+%3C+x", headers=auth)
        assert bad.status_code == 400 and "split=" in bad.text
