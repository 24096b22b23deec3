"""Event matchers: the one way parcours says "these events".

Touchpoint match rules, funnel steps, exclusions and analysis filters all use the
same small language, the one of the peer funnel cases:

- ``event``: an event name, a list of names, or ``None`` for any event;
- ``props``: every key present, non-null and equal to the value;
- ``props_not``: the key must not equal the value (a missing key passes);
- ``where``: a list of ``{field, op, value, numeric}`` comparisons on ``event``,
  ``type``, ``channel``, ``touchpoint``, ``stage``, ``utm_*`` or ``props.NAME``.

A matcher compiles to a boolean query tree in ``parcours.query.match``; the engine
layer writes it in each engine's SQL.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Op = Literal["eq", "ne", "lt", "le", "gt", "ge", "is_null", "is_not_null", "in", "contains", "regex"]

#: Columns of the journey relation a ``where`` condition may name directly.
COLUMN_FIELDS = {
    "event", "type", "channel", "touchpoint", "stage", "utm_source", "utm_medium",
    "utm_campaign", "user_id", "anonymous_id", "customer_id", "source",
}

#: Person and group fields (see ``parcours.journey.entities``): ``person.NAME``, ``group.TYPE``,
#: ``group.TYPE.NAME``; a query naming them gets them joined to the journey relation.
ENTITY_PREFIXES = ("person.", "group.")
GROUP_FIELD = re.compile(r"^group\.([^.]+)(?:\.(.+))?$")


def is_entity_field(field: str) -> bool:
    return field.startswith(ENTITY_PREFIXES)


def known_field(v: str) -> str:
    """``v`` if a condition, breakdown or aggregation may name it, else ``ValueError`` saying what may."""
    if v in COLUMN_FIELDS or v.startswith(("props.", "properties.", "context.")):
        return v
    if (v.startswith("person.") and len(v) > len("person.")) or GROUP_FIELD.match(v):
        return v
    raise ValueError(
        f"unknown field {v!r}: use one of {sorted(COLUMN_FIELDS)}, props.NAME / context.NAME, "
        "person.NAME, group.TYPE or group.TYPE.NAME"
    )


class Condition(BaseModel):
    """One comparison: ``field op value``."""

    model_config = ConfigDict(extra="forbid")
    field: str
    op: Op = "eq"
    value: Any = None
    numeric: bool = False

    @field_validator("field")
    @classmethod
    def _known_field(cls, v: str) -> str:
        return known_field(v)


class EventMatcher(BaseModel):
    """Which events a step, a touchpoint or a filter is about."""

    model_config = ConfigDict(extra="forbid")
    event: str | list[str] | None = None
    props: dict[str, Any] = Field(default_factory=dict)
    props_not: dict[str, Any] = Field(default_factory=dict)
    where: list[Condition] = Field(default_factory=list)
    #: the customer's person properties must equal these (``person.NAME``, latest value)
    person_props: dict[str, Any] = Field(default_factory=dict)
    #: ``{TYPE: {NAME: value}}``: the event's group of that type must have these properties
    group_props: dict[str, dict[str, Any]] = Field(default_factory=dict)
    math: Literal["first_time_for_user"] | None = None

    def conditions(self) -> list[Condition]:
        """``where`` with ``person_props`` and ``group_props`` written as conditions."""
        out = list(self.where)
        out += [Condition(field=f"person.{k}", value=v) for k, v in self.person_props.items()]
        out += [Condition(field=f"group.{t}.{k}", value=v) for t, props in self.group_props.items()
                for k, v in props.items()]
        return out

    def fields(self) -> set[str]:
        """Every field the matcher reads (what a query must provide)."""
        return {"props." + k for k in (*self.props, *self.props_not)} | {c.field for c in self.conditions()}

    @classmethod
    def parse(cls, spec: str | dict | EventMatcher) -> EventMatcher:
        """Accept the short forms: ``"name"``, ``"touchpoint:NAME"``, ``"stage:NAME"`` or a dict."""
        if isinstance(spec, EventMatcher):
            return spec
        if isinstance(spec, str):
            for kind in ("touchpoint", "stage"):
                if spec.startswith(kind + ":"):
                    return cls(where=[Condition(field=kind, value=spec[len(kind) + 1 :])])
            return cls(event=spec)
        return cls.model_validate(spec)
