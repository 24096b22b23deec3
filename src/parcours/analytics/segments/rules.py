"""The segment rule language: a small, safe expression over one customer.

A rule reads like a SQL ``WHERE`` clause over one row per customer::

    channel = 'ads' AND stage >= 'decision' AND events('add_to_cart', 30) >= 2
    nps = 'detractor' OR lead_score >= 70
    traits.plan IN ('pro', 'team') AND NOT value > 500

sqlglot parses the text; the compiler walks the tree and accepts only the node
types and names below, rebuilding the condition as a query tree of its own (values become
constants of the tree, ``parcours.query``), so no text the user typed ever reaches the
engine as SQL.

| name | meaning |
|---|---|
| ``channel``, ``campaign``, ``source``, ``medium`` | of acquisition: the first event that has one |
| ``stage`` / ``current_stage`` | furthest / latest stage; compared in journey order (``stage >= 'decision'``) |
| ``nps`` | ``'promoter'``, ``'passive'`` or ``'detractor'``, from the latest NPS answer |
| ``nps_score``, ``satisfaction`` | the latest NPS score; the mean score of all survey answers |
| ``value``, ``purchases``, ``events`` | revenue and purchases (the journey's purchase event), events |
| ``recency_days``, ``tenure_days`` | days since the last / first event, counted back from the latest event in the store |
| ``lead_score`` | the latest lead score (``parcours leads``), 0..100 |
| ``traits.NAME`` | the latest value of property NAME on the customer's ``identify`` events, as text |
| ``events('NAME'[, DAYS])`` | times the customer did event NAME (in the last DAYS days) |
| ``touchpoints('NAME'[, DAYS])`` | times the customer used touchpoint NAME (in the last DAYS days) |

Operators: ``= != <> < <= > >=``, ``IN (...)``, ``BETWEEN a AND b``, ``IS [NOT] NULL``,
``AND``, ``OR``, ``NOT`` and parentheses.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from parcours.config import JourneyConfig
from parcours.errors import ParcoursError
from parcours.query import column, sql

#: plain names, with the column of the per-customer relation they stand for and their kind
FIELDS: dict[str, str] = {
    "channel": "text", "campaign": "text", "source": "text", "medium": "text",
    "stage": "stage", "current_stage": "stage", "nps": "nps",
    "nps_score": "number", "satisfaction": "number", "value": "number", "purchases": "number",
    "events": "number", "recency_days": "number", "tenure_days": "number", "lead_score": "number",
}
NPS_CATEGORIES = ("promoter", "passive", "detractor")
COUNT_FUNCTIONS = ("events", "touchpoints")

_COMPARISONS = {exp.EQ: "{c} = {v}", exp.NEQ: "{c} <> {v}", exp.LT: "{c} < {v}", exp.LTE: "{c} <= {v}",
                exp.GT: "{c} > {v}", exp.GTE: "{c} >= {v}"}
_BOOLEANS = {exp.And: "{a} AND {b}", exp.Or: "{a} OR {b}"}


@dataclass(frozen=True)
class Count:
    """``events('NAME', DAYS)`` / ``touchpoints('NAME', DAYS)``: one extra per-customer column."""

    kind: str  #: "events" or "touchpoints"
    name: str
    days: int | None

    @property
    def column(self) -> str:
        return f"n_{self.kind}_{_digest(self.name, str(self.days))}"


@dataclass
class Rule:
    """A compiled rule: a condition (a query tree) over the per-customer relation, and what it needs there."""

    text: str
    condition: exp.Expression
    counts: set[Count] = field(default_factory=set)
    traits: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)


class RuleError(ParcoursError):
    """A segment rule that cannot be read or names something unknown."""


def _digest(*parts: str) -> str:
    """A short stable tag that keeps generated column names distinct whatever the user named things."""
    return hashlib.sha1("\x00".join(parts).encode()).hexdigest()[:10]


def trait_column(name: str) -> str:
    return f"trait_{_digest(name)}"


def compile_rule(text: str, config: JourneyConfig) -> Rule:
    """Parse and check ``text``; raise ``RuleError`` saying what is wrong and where."""
    if not text or not text.strip():
        raise RuleError("segment rule is empty: give a condition such as \"stage >= 'decision'\"")
    try:
        tree = sqlglot.parse_one(text, read="duckdb")
    except ParseError as e:
        first = e.errors[0] if e.errors else {}
        where = f" near {first.get('highlight')!r}" if first.get("highlight") else ""
        raise RuleError(f"segment rule {text!r}: cannot parse it{where}") from None
    except TokenError:
        raise RuleError(f"segment rule {text!r}: cannot read it (an unclosed quote?)") from None
    rule = Rule(text=text, condition=exp.true())
    rule.condition = _Compiler(config, rule).condition(tree)
    return rule


class _Compiler:
    def __init__(self, config: JourneyConfig, rule: Rule):
        self.config = config
        self.rule = rule
        self.stages = [s.name for s in config.stages]

    def fail(self, node: exp.Expression, why: str) -> RuleError:
        return RuleError(f"segment rule {self.rule.text!r}: {why} (at {node.sql()!r})")

    # -- boolean structure -------------------------------------------------
    def condition(self, node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Paren):
            return self.condition(node.this)
        if type(node) in _BOOLEANS:
            return sql(_BOOLEANS[type(node)], a=self.condition(node.left), b=self.condition(node.right))
        if isinstance(node, exp.Not):
            return sql("NOT coalesce({c}, FALSE)", c=self.condition(node.this))
        if type(node) in _COMPARISONS:
            left, right = node.left, node.right
            if isinstance(left, exp.Literal) and not isinstance(right, exp.Literal):
                raise self.fail(node, "put the name on the left: NAME op VALUE")
            kind, name = self.operand(left)
            return sql(_COMPARISONS[type(node)], c=column(name), v=self.value(right, kind, node))
        if isinstance(node, exp.In):
            kind, name = self.operand(node.this)
            if node.args.get("query") or not node.expressions:
                raise self.fail(node, "IN takes a list of values")
            return sql("{c} IN ({values})", c=column(name), values=[self.value(v, kind, node) for v in node.expressions])
        if isinstance(node, exp.Between):
            kind, name = self.operand(node.this)
            low, high = self.value(node.args["low"], kind, node), self.value(node.args["high"], kind, node)
            return sql("{c} BETWEEN {low} AND {high}", c=column(name), low=low, high=high)
        if isinstance(node, exp.Is):
            kind, name = self.operand(node.this)
            if not isinstance(node.expression, exp.Null):
                raise self.fail(node, "IS takes NULL only")
            return sql("{c} IS NULL", c=column(name))
        raise self.fail(node, "expected a comparison such as stage >= 'decision', joined by AND / OR / NOT")

    # -- operands ----------------------------------------------------------
    def operand(self, node: exp.Expression) -> tuple[str, str]:
        """(kind, column name in the per-customer relation) for the left side of a comparison."""
        if isinstance(node, exp.Column):
            table, name = node.table, node.name
            if table == "traits":
                self.rule.traits.add(name)
                return "trait", trait_column(name)
            if table or name not in FIELDS:
                raise self.fail(
                    node, f"unknown name {node.sql()!r}: use one of {', '.join(FIELDS)}, traits.NAME, "
                    "events('NAME', DAYS) or touchpoints('NAME', DAYS)"
                )
            self.rule.fields.add(name)
            kind = FIELDS[name]
            return kind, {"stage": "furthest_stage_index", "current_stage": "current_stage_index"}.get(name, name)
        if isinstance(node, exp.Anonymous) and node.name.lower() in COUNT_FUNCTIONS:
            return "number", self.count(node)
        raise self.fail(node, "expected a name (stage, channel, value, ...) or events()/touchpoints()")

    def count(self, node: exp.Anonymous) -> str:
        kind = node.name.lower()
        args = node.expressions
        if not 1 <= len(args) <= 2 or not (isinstance(args[0], exp.Literal) and args[0].is_string):
            raise self.fail(node, f"{kind}() takes a quoted name and an optional number of days")
        name = args[0].this
        days = None
        if len(args) == 2:
            if not (isinstance(args[1], exp.Literal) and not args[1].is_string and args[1].this.isdigit()):
                raise self.fail(node, f"{kind}(): the number of days must be a whole number")
            days = int(args[1].this)
            if days < 1:
                raise self.fail(node, f"{kind}(): the number of days must be at least 1")
        if kind == "touchpoints" and name not in {t.name for t in self.config.touchpoints}:
            raise self.fail(node, f"unknown touchpoint {name!r} (see `parcours journey show`)")
        c = Count(kind, name, days)
        self.rule.counts.add(c)
        return c.column

    def value(self, node: exp.Expression, kind: str, where: exp.Expression) -> float | int | str:
        """A checked value for the right side of a comparison against a ``kind`` operand (bound as a constant)."""
        negative = isinstance(node, exp.Neg)
        if negative:
            node = node.this
        if not isinstance(node, exp.Literal):
            raise self.fail(where, "compare with a quoted text or a number")
        if kind == "number":
            if node.is_string:
                raise self.fail(where, f"{node.sql()} is text; this name takes a number")
            number = float(node.this)
            if not math.isfinite(number):
                raise self.fail(where, f"{node.sql()} is too large a number")
            return -number if negative else number
        if negative:
            raise self.fail(where, "a negative number here makes no sense")
        text = node.this
        if kind == "stage":
            if text not in self.stages:
                raise self.fail(where, f"unknown stage {text!r}: the journey's stages are {self.stages}")
            return self.stages.index(text)
        if kind == "nps" and text not in NPS_CATEGORIES:
            raise self.fail(where, f"nps is one of {list(NPS_CATEGORIES)}, not {text!r}")
        return text
