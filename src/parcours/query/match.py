"""Event matchers and conditions (``parcours.matcher``) as boolean query trees.

The one compiler of the matching language: touchpoint rules, funnel steps, exclusions and
the filter's conditions all become trees here, their values constants of the tree. Property
values are compared as text (``json_extract_string``), numbers only when a condition says
``numeric``.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from parcours.errors import ParcoursError
from parcours.matcher import Condition, EventMatcher
from parcours.query.template import column, sql

#: the JSON column each property prefix reads
_JSON_COLUMNS = (("props.", "properties"), ("properties.", "properties"), ("context.", "context"))
_COMPARE = {"eq": "{v} = {x}", "ne": "{v} <> {x}", "lt": "{v} < {x}", "le": "{v} <= {x}", "gt": "{v} > {x}",
            "ge": "{v} >= {x}"}


def json_path(key: str) -> str:
    """The JSON path of a property name; a name with dots or quotes stays one key."""
    return '$."' + key.replace('"', '\\"') + '"'


def field(name: str, alias: str | None = None) -> exp.Expression:
    """The value of a field (``event``, ``props.plan``, ``person.plan``...) on the event ``alias``."""
    for prefix, json_column in _JSON_COLUMNS:
        if name.startswith(prefix):
            return sql("json_extract_string({doc}, {path})", doc=column(json_column, alias),
                       path=json_path(name[len(prefix):]))
    return column(name, alias)  # a person/group field is one joined column named after it


def as_text(value: Any) -> str:
    """A value as the text a property holds (JSON's ``true``/``false`` for booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def condition(c: Condition, alias: str | None = None) -> exp.Expression:
    """``c`` as a boolean tree over the event ``alias``."""
    value = field(c.field, alias)
    if c.op == "is_null":
        return sql("{v} IS NULL", v=value)
    if c.op == "is_not_null":
        return sql("{v} IS NOT NULL", v=value)
    if c.op == "in":
        values = c.value if isinstance(c.value, list) else [c.value]
        return sql("{v} IN ({values})", v=value, values=[as_text(v) for v in values])
    if c.op == "contains":
        return sql("contains({v}, {text})", v=value, text=as_text(c.value))
    if c.op == "regex":
        return sql("regexp_matches({v}, {pattern})", v=value, pattern=as_text(c.value))
    if c.numeric:
        return sql(_COMPARE[c.op], v=sql("TRY_CAST({v} AS DOUBLE)", v=value), x=float(c.value))
    return sql(_COMPARE[c.op], v=value, x=as_text(c.value))


def all_of(conditions: list[exp.Expression]) -> exp.Expression:
    """Every condition holds (``TRUE`` when there is none)."""
    return exp.and_(*conditions, copy=False) if conditions else exp.true()


def matcher(m: EventMatcher | str | dict, alias: str | None = None) -> exp.Expression:
    """A matcher as a boolean tree (``TRUE`` matches every event).

    ``math`` is not expressible per row; analyses that support it handle it themselves.
    """
    m = EventMatcher.parse(m)
    parts: list[exp.Expression] = []
    if isinstance(m.event, str):
        parts.append(sql("{event} = {name}", event=column("event", alias), name=m.event))
    elif isinstance(m.event, list):
        parts.append(sql("{event} IN ({names})", event=column("event", alias), names=list(m.event)))
    for key, value in m.props.items():
        prop = field("props." + key, alias)
        parts.append(sql("{p} IS NOT NULL AND {p} = {text}", p=prop, text=as_text(value)))
    for key, value in m.props_not.items():
        prop = field("props." + key, alias)
        parts.append(sql("({p} IS NULL OR {p} <> {text})", p=prop, text=as_text(value)))
    parts.extend(condition(c, alias) for c in m.conditions())
    return all_of(parts)


def step(spec: EventMatcher | str | dict | None, what: str, missing: exp.Expression) -> exp.Expression:
    """A step a caller gives (``"purchase"``, ``"stage:decision"``, a dict) as a boolean tree;
    ``missing`` when none is given. A malformed one is an error naming ``what`` (the parameter)."""
    if spec is None:
        return missing
    try:
        return matcher(spec)
    except ValueError as e:
        raise ParcoursError(f"{what} {spec!r}: not a valid step: {e}") from None
