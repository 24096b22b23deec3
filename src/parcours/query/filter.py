"""The filter every analysis takes: a date range, conditions on events, whose journeys.

Conditions may name event fields, person properties (``person.plan``) and groups
(``group.company``, ``group.company.plan``): they apply to every event before the analysis
sees it (PostHog's global filters); see ``parcours.journey.entities``. Conditions on
customer-level fields (``fitness < 0.8``, ``deviation = 'skipped stage'``) keep or drop whole
customers, as a segment does; see ``parcours.query.customer_fields``. The filter says which
events pass as a tree (``event_condition``); ``parcours.analytics.filters.events`` applies it,
with the segment and the customer-level conditions, to the journey relation.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlglot import exp

from parcours.errors import ParcoursError
from parcours.matcher import Condition, EventMatcher, known_field
from parcours.query.customer_fields import CUSTOMER_FIELDS, CustomerCondition
from parcours.query.match import all_of, condition, matcher
from parcours.query.template import sql


class Filter(BaseModel):
    """Which events an analysis looks at."""

    model_config = ConfigDict(extra="forbid")
    start: datetime | None = None  #: inclusive, UTC
    end: datetime | None = None  #: exclusive, UTC
    #: event conditions, and conditions on customer-level fields (``fitness < 0.8``)
    where: list[Condition | CustomerCondition] = Field(default_factory=list)
    #: every event must also match each of these (a funnel's ``global_event_filter``)
    match: list[EventMatcher] = Field(default_factory=list)
    #: whose journeys: None for customers, or a field (``group.company``, ``person.plan``) whose
    #: value becomes the ``customer_id`` of every event, so an analysis counts accounts
    #: (events without a value are left out, as PostHog does when aggregating by group)
    subject: str | None = None
    #: a saved segment's name: only its members' events (see ``parcours.analytics.segments.segments``)
    segment: str | None = None

    def model_post_init(self, _context) -> None:
        """An inverted or empty date range selects nothing: a mistake, not an answer of zeros."""
        if self.start is not None and self.end is not None:
            start, end = (d.astimezone(UTC).replace(tzinfo=None) if d.tzinfo else d for d in (self.start, self.end))
            if start >= end:
                raise ParcoursError(
                    f"`start` {self.start:%Y-%m-%d %H:%M} is not before `end` {self.end:%Y-%m-%d %H:%M}: the range "
                    "is empty (`end` is excluded: `end` 2024-02-01 ends with January)"
                )

    def event_condition(self) -> exp.Expression:
        """Which events pass: the date range, the event conditions and the matchers (a tree)."""
        parts = []
        if self.start is not None:
            parts.append(sql("timestamp >= {start}", start=self.start))
        if self.end is not None:
            parts.append(sql("timestamp < {end}", end=self.end))
        parts.extend(condition(c) for c in self.event_conditions)
        parts.extend(matcher(m) for m in self.match)
        return all_of(parts)

    @property
    def event_conditions(self) -> list[Condition]:
        return [c for c in self.where if isinstance(c, Condition)]

    @property
    def customer_conditions(self) -> list[CustomerCondition]:
        return [c for c in self.where if isinstance(c, CustomerCondition)]

    @property
    def whole_customers(self) -> bool:
        """Whether the filter only keeps or drops whole customers (a segment, customer-level conditions).

        Only then may an analysis read a table derived from every customer's whole journey;
        dates, event conditions and a subject change the sequences themselves.
        """
        return (self.start is None and self.end is None and not self.event_conditions and not self.match
                and self.subject is None)

    def fields(self) -> set[str]:
        """The event fields the filter's conditions (and subject) read."""
        subject = {self.subject} if self.subject else set()
        return {c.field for c in self.event_conditions}.union(subject, *(m.fields() for m in self.match))

    @field_validator("subject")
    @classmethod
    def _known_subject(cls, v: str | None) -> str | None:
        return None if v in (None, "", "customer") else known_field(v)

    def narrowed(self, where: list[Condition | CustomerCondition] = (), match: list[EventMatcher] = ()) -> Filter:
        """This filter with more conditions (all must hold)."""
        return self.model_copy(update={"where": [*self.where, *where], "match": [*self.match, *match]})


_WHERE_RE = re.compile(r"^\s*([A-Za-z_$][\w$.:-]*)\s*(=|==|!=|<>|<=|>=|<|>)\s*(.+?)\s*$")
_OPS = {"=": "eq", "==": "eq", "!=": "ne", "<>": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}


def parse_where(text: str, what: str = "`where`") -> Condition | CustomerCondition:
    """``FIELD OP VALUE`` (``person.plan = 'pro'``, ``group.company.seats >= 10``) as a condition.

    A quoted value is text; an unquoted number compares as a number. FIELD is an event
    column, ``props.NAME``, ``person.NAME``, ``group.TYPE`` or ``group.TYPE.NAME``, or a
    customer-level field (``fitness``, ``deviation``: ``CUSTOMER_FIELDS``). ``what`` names the
    text in errors (the CLI's flag, the dashboard's query parameter).
    """
    m = _WHERE_RE.match(text)
    if m is None:
        raise ParcoursError(f"{what} {text!r}: write FIELD OP VALUE, e.g. \"person.plan = 'pro'\" "
                            "(OP: = != < <= > >=)")
    field, op, raw = m.groups()
    numeric = False
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        value: object = raw[1:-1]
    else:
        try:
            value, numeric = float(raw), True
        except ValueError:
            value = raw
    kind = CustomerCondition if field in CUSTOMER_FIELDS else Condition
    try:
        return kind(field=field, op=_OPS[op], value=value, numeric=numeric)
    except ValueError as e:
        msg = e.errors()[0]["msg"].removeprefix("Value error, ")
        if kind is Condition:
            msg += f", or a customer field ({', '.join(CUSTOMER_FIELDS)}: e.g. fitness < 0.8)"
        raise ParcoursError(f"{what} {text!r}: {msg}") from None


#: ``split="conformance"``: customers who followed the design fully against the others
SPLITS = {"conformance": ("fitness = 1", "fitness < 1")}


def split(filter: Filter | None, by: str, what: str = "`by`") -> list[tuple[str, Filter]]:
    """``filter`` narrowed to each side of a customer-level condition: (label, filter) pairs.

    ``by`` is ``conformance`` (``fitness = 1``, conforming, against ``fitness < 1``, deviating)
    or a condition on a customer-level field (``fitness < 0.8``, ``deviation = 'skipped stage'``)
    against its complement. Customers without a value (no touchpoint on the map) are on neither
    side. The label of each side is its condition as ``--where`` writes it.
    """
    filter = filter or Filter()
    texts = SPLITS.get(by.strip())
    if texts is None:
        condition = parse_where(by, what)
        if not isinstance(condition, CustomerCondition):
            raise ParcoursError(f"{what} {by!r}: split by conformance or by a customer-level condition "
                                f"({', '.join(CUSTOMER_FIELDS)}), e.g. \"fitness < 0.8\"; an event condition "
                                "does not divide customers (filter by it with `where`)")
        sides = [condition, condition.complement()]
    else:
        sides = [parse_where(t, what) for t in texts]
    return [(c.text(), filter.narrowed(where=[c])) for c in sides]
