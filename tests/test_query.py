"""The query layer: templates with bound trees and values, matchers as trees, the same answer on both engines."""

from __future__ import annotations

from datetime import UTC, date, datetime

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from parcours.engine.dialect import to_spark
from parcours.matcher import Condition
from parcours.query import column, ident, literal, sql, table
from parcours.query.match import all_of, condition, matcher


def run(tree: exp.Expression) -> list[tuple]:
    """The rows of ``tree`` in a scratch DuckDB (the dialect the templates are written in)."""
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(tree.sql(dialect="duckdb")).fetchall()


def test_a_value_is_a_constant_of_the_tree_never_text():
    evil = "x'); DROP TABLE events; --"
    tree = sql("SELECT {v} AS v", v=evil)
    assert isinstance(tree.find(exp.Literal), exp.Literal)
    assert run(tree) == [(evil,)]


@pytest.mark.parametrize("value, expected", [
    (None, None), (True, True), (False, False), (3, 3), (2.5, 2.5), ("é'\"", "é'\""),
    (datetime(2024, 3, 1, 12, 30), datetime(2024, 3, 1, 12, 30)),
    (datetime(2024, 3, 1, 13, 30, tzinfo=UTC), datetime(2024, 3, 1, 13, 30)),
    (date(2024, 3, 1), date(2024, 3, 1)),
])
def test_python_values_keep_their_type(value, expected):
    assert run(sql("SELECT {v}", v=value)) == [(expected,)]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), object(), b"bytes"])
def test_a_value_sql_has_no_constant_for_is_refused(value):
    with pytest.raises(TypeError, match="no SQL constant"):
        literal(value)


def test_a_query_binds_as_a_sub_query_wherever_it_stands():
    inner = sql("SELECT range AS x FROM range(5)")
    tree = sql(
        "WITH c AS ({q}) SELECT (SELECT max(x) FROM {q} AS a), count(*) FROM ({q}) b WHERE x IN ({q}) AND x IN ({few})",
        q=inner, few=[1, 2, 3])
    assert run(tree) == [(4, 3)]


def test_the_same_binding_twice_is_two_copies():
    inner = sql("SELECT 1 AS x")
    tree = sql("SELECT * FROM {a} l JOIN {a} r USING (x)", a=inner)
    subqueries = list(tree.find_all(exp.Subquery))
    assert len(subqueries) == 2 and subqueries[0].this is not subqueries[1].this
    assert run(tree) == [(1,)]


def test_operators_keep_their_operands_together():
    either = sql("x = 1 OR x = 2")
    tree = sql("SELECT count(*) FROM range(4) t(x) WHERE {a} AND NOT {b}", a=either, b=sql("x = 2 OR x = 3"))
    assert run(tree) == [(1,)]


def test_lists_splice_where_sql_takes_a_list():
    tree = sql("SELECT {cols} FROM (SELECT 2 AS a, 1 AS b UNION ALL SELECT 1, 2) ORDER BY {order} DESC",
               cols=[column("a"), column("b")], order=[column("b")])
    assert run(tree) == [(1, 2), (2, 1)]


def test_a_list_in_brackets_is_a_tuple():
    rows = sql("SELECT arg_min(v, ({order})) FROM (VALUES (1, 2, 'b'), (1, 1, 'a'), (2, 0, 'c')) t(x, y, v)",
               order=[column("x"), column("y")])
    assert run(rows) == [("a",)]


def test_a_list_fills_a_function_whose_first_argument_stands_apart():
    assert run(sql("SELECT coalesce({values})", values=[None, 2, 3])) == [(2,)]


def test_an_empty_list_after_in_is_nothing_and_not_in_is_everything():
    assert run(sql("SELECT count(*) FROM range(3) WHERE range IN ({none})", none=[])) == [(0,)]
    assert run(sql("SELECT count(*) FROM range(3) WHERE NOT range IN ({none})", none=[])) == [(3,)]


def test_names_and_tables_and_units():
    tree = sql("SELECT {c} AS {alias}, date_trunc({unit}, TIMESTAMP '2024-03-14 10:00') FROM {t} AS t",
               c=column("name with space", "t"), alias=ident("out"), unit="month",
               t=sql('SELECT 1 AS "name with space"'))
    assert run(tree) == [(1, datetime(2024, 3, 1))]
    assert table("derived.journey").sql() == "derived.journey"


def test_a_whole_template_can_be_one_placeholder():
    cond = sql("x > {n}", n=1)
    assert sql("{c}", c=cond).sql() == "x > 1"


@pytest.mark.parametrize("template, bindings, message", [
    ("SELECT {a}", {}, "unbound placeholders \\['a'\\]"),
    ("SELECT 1", {"a": 1}, "unused bindings \\['a'\\]"),
    ("SELECT '{a}'", {"a": 1}, "stand where SQL keeps no name"),
    ("SELECT {a} + 1", {"a": [1, 2]}, "a list is bound where SQL takes one item"),
    ("SELECT f({a})", {"a": []}, "an empty list"),
    ("SELECT date_trunc({unit}, ts) FROM t", {"unit": "day', ts); DROP TABLE t; --"}, "where SQL takes a word"),
    ("ATTACH {path} AS x", {"path": "/tmp/x.duckdb"}, "where SQL takes a word"),
])
def test_template_mistakes_are_caught_at_once(template, bindings, message):
    with pytest.raises(ValueError, match=message):
        sql(template, **bindings)


def test_a_struct_literal_is_not_a_placeholder():
    assert run(sql("SELECT {'a': {v}}.a", v=7)) == [(7,)]


EVENTS = """
    SELECT * FROM (VALUES
        ('purchase', '{"plan": "pro", "n": "3", "flag": true}', 'web', NULL),
        ('purchase', '{"plan": "free", "n": "12"}', 'store', 'ads'),
        ('view', '{"plan": "pro"}', NULL, NULL),
        ('view', '{}', 'web', 'mail')
    ) t(event, properties, channel, utm_source)
"""


@pytest.mark.parametrize("spec, expected", [
    ({}, 4),
    ("purchase", 2),
    ({"event": ["purchase", "view"], "props": {"plan": "pro"}}, 2),
    ({"props_not": {"plan": "pro"}}, 2),
    ({"props": {"flag": True}}, 1),
    ({"where": [{"field": "props.n", "op": "ge", "value": 5, "numeric": True}]}, 1),
    ({"where": [{"field": "props.n", "op": "ge", "value": "5"}]}, 0),  # as text: '3' and '12' < '5'
    ({"where": [{"field": "channel", "op": "in", "value": ["web", "store"]}]}, 3),
    ({"where": [{"field": "utm_source", "op": "is_null"}]}, 2),
    ({"where": [{"field": "channel", "op": "contains", "value": "e"}]}, 3),
    ({"where": [{"field": "props.plan", "op": "regex", "value": "^f"}]}, 1),
    ({"where": [{"field": "channel", "op": "ne", "value": "web"}]}, 1),
])
def test_matchers_select_the_events_they_describe(spec, expected):
    tree = sql("SELECT count(*) FROM ({events}) e WHERE {m}", events=sql(EVENTS), m=matcher(spec, "e"))
    assert run(tree) == [(expected,)]
    assert "SELECT" in to_spark(tree)  # every matcher transpiles to Spark SQL


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=12), st.sampled_from(["eq", "ne", "lt", "ge", "contains"]))
def test_any_text_value_is_compared_as_written(value, op):
    """Quotes, backslashes, braces and unicode reach the database as the same value."""
    c = Condition(field="props.k", op=op, value=value)
    doc = sql("SELECT json_object('k', {v}) AS properties", v=value)
    got = run(sql("SELECT count(*) FROM {doc} WHERE {c}", doc=doc, c=condition(c)))[0][0]
    expected = {"eq": True, "ne": False, "lt": False, "ge": True, "contains": True}[op]
    assert got == int(expected)


def test_all_of_nothing_is_true():
    assert run(sql("SELECT {c}", c=all_of([]))) == [(True,)]
