"""A funnel definition: steps, window, semantics and options, validated once.

The same object comes from Python keyword arguments, from the CLI flags and from a
``--spec FILE.json`` in the format of the peer cases in ``../shared/cases/funnels``,
so a saved funnel means the same thing wherever it is run.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from parcours.durations import duration_seconds
from parcours.errors import ParcoursError
from parcours.matcher import COLUMN_FIELDS, Condition, EventMatcher, known_field
from parcours.query.filter import Filter

#: PostHog's default conversion window.
DEFAULT_WINDOW_SECONDS = 14 * 86400
POSTHOG_MODES = ("ordered", "strict", "unordered")
CLICKHOUSE_MODES = ("strict_deduplication", "strict_order", "strict_increase", "strict_once", "allow_reentry")


class Exclusion(EventMatcher):
    """Drop a subject whose path did this between two steps (0-based, as PostHog)."""

    funnel_from_step: int = 0
    funnel_to_step: int = 1


class Breakdown(BaseModel):
    """Split the funnel by a property (or several, joined with ``|``)."""

    model_config = ConfigDict(extra="forbid")
    property: str | list[str]
    attribution: Literal["first_touch", "last_touch", "all_events", "step"] = "first_touch"
    step: int | None = None  #: 0-based step whose event gives the value, with ``attribution="step"``

    def fields(self) -> list[str]:
        props = [self.property] if isinstance(self.property, str) else list(self.property)
        return [_field_name(p) if p in COLUMN_FIELDS or p.startswith(("props.", "properties.", "context.", "person",
                                                                        "group.")) else "props." + p
                for p in props]


def _field_name(name: str) -> str:
    """PostHog's ``person_props.NAME`` is parcours's ``person.NAME``."""
    return "person." + name.removeprefix("person_props.") if name.startswith("person_props.") else name


def _group_conditions(spec: dict[str, dict[str, Any]] | list[Condition]) -> list[Condition]:
    if isinstance(spec, list):
        return spec
    return [Condition(field=f"group.{t}.{k}", value=v) for t, props in spec.items() for k, v in props.items()]


class FunnelSpec(BaseModel):
    """Everything that defines a funnel. Steps and exclusions use the matcher language."""

    model_config = ConfigDict(extra="forbid")
    steps: list[EventMatcher]
    names: list[str] = Field(default_factory=list)
    window_seconds: float = DEFAULT_WINDOW_SECONDS
    semantics: Literal["posthog", "clickhouse"] = "posthog"
    mode: str | None = None
    exclusions: list[Exclusion] = Field(default_factory=list)
    aggregate_by: str = "customer"
    breakdown: Breakdown | None = None
    optional: list[int] = Field(default_factory=list)  #: 1-based steps a path may skip
    max_gap_seconds: dict[int, float] = Field(default_factory=dict)  #: step -> most seconds since the previous step
    min_gap_seconds: dict[int, float] = Field(default_factory=dict)  #: step -> fewest seconds since the previous step
    repeat: bool = False  #: count every conversion of a subject, not only the first
    #: every event must match this (event properties, ``person.NAME`` and ``group.TYPE.NAME`` fields)
    #: before steps are matched: PostHog's global filters
    global_event_filter: EventMatcher | list[Condition] | None = None
    #: ``{TYPE: {NAME: value}}`` (or conditions on ``group.TYPE.NAME``): only events whose group has these
    global_group_filter: dict[str, dict[str, Any]] | list[Condition] | None = None
    #: a step naming an event the store never saw: "error" (parcours' rule, with the closest known
    #: names) or "zero" (PostHog's and ClickHouse's answer: nobody reaches it)
    unknown_events: Literal["error", "zero"] = "error"

    def global_filter(self, filter: Filter | None) -> Filter:
        """``filter`` narrowed by the global event and group filters."""
        filter = filter or Filter()
        g = self.global_event_filter
        match = [g] if isinstance(g, EventMatcher) else []
        where = (g if isinstance(g, list) else []) + _group_conditions(self.global_group_filter or [])
        return filter.narrowed(where, match) if match or where else filter

    def fields(self) -> set[str]:
        """Every field the funnel reads, beyond those of a filter: steps, exclusions, breakdown, subject."""
        out = {self.aggregate_key()}.union(*(m.fields() for m in [*self.steps, *self.exclusions]))
        if self.breakdown:
            out.update(self.breakdown.fields())
        return out | self.global_filter(None).fields()

    @field_validator("window_seconds")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("the window must be longer than zero")
        return v

    @property
    def n(self) -> int:
        return len(self.steps)

    def mode_name(self) -> str:
        return self.mode or ("ordered" if self.semantics == "posthog" else "default")

    def clickhouse_modes(self) -> set[str]:
        modes = {m.strip() for m in self.mode_name().split("+")} - {"default"}
        return {"strict_deduplication" if m == "strict" else m for m in modes}

    def validate_all(self) -> FunnelSpec:
        """Check what pydantic cannot: modes, step references, what each semantics supports."""
        n = self.n
        if n == 0:
            raise ParcoursError("funnel: give at least one step")
        if n > 62:
            raise ParcoursError(f"funnel: {n} steps; at most 62 are supported")
        mode = self.mode_name()
        if self.semantics == "posthog":
            if mode not in POSTHOG_MODES:
                raise ParcoursError(f"`mode` {mode!r}: unknown under posthog semantics; use one of {', '.join(POSTHOG_MODES)}")
        else:
            unknown = self.clickhouse_modes() - set(CLICKHOUSE_MODES)
            if unknown or not mode.strip():
                raise ParcoursError(
                    f"`mode` {mode!r}: unknown under clickhouse semantics ({', '.join(sorted(unknown)) or 'empty'}); "
                    f"use default or {', '.join(CLICKHOUSE_MODES)} joined with +"
                )
            if "allow_reentry" in self.clickhouse_modes() and "strict_order" not in self.clickhouse_modes():
                raise ParcoursError("`mode`: allow_reentry needs strict_order (write strict_order+allow_reentry)")
            for what, present in (("exclusions", self.exclusions), ("breakdown", self.breakdown),
                                  ("optional steps", self.optional), ("gaps", self.max_gap_seconds or self.min_gap_seconds),
                                  ("repeat conversions", self.repeat)):
                if present:
                    raise ParcoursError(f"funnel: {what} are a posthog-semantics option; clickhouse windowFunnel has none")
        for i, x in enumerate(self.exclusions):
            f, t = x.funnel_from_step, x.funnel_to_step
            where = f"exclusions[{i}] ({f} -> {t})"
            if f < 0 or t > n - 1 or f >= t:
                raise ParcoursError(f"{where}: needs 0 <= from < to <= {n - 1} (0-based steps of a {n}-step funnel)")
            if mode == "unordered" and (f != 0 or t != n - 1):
                raise ParcoursError(f"{where}: unordered funnels only take exclusions over the whole funnel (0 -> {n - 1})")
        extras = {"optional": self.optional, "max_gap_seconds": list(self.max_gap_seconds),
                  "min_gap_seconds": list(self.min_gap_seconds)}
        for what, steps in extras.items():
            for s in steps:
                if not 2 <= s <= n:
                    raise ParcoursError(f"funnel {what}: step {s} is not one of steps 2..{n} (1-based; step 1 has no previous step)")
        if mode == "unordered" and (self.optional or self.max_gap_seconds or self.min_gap_seconds or self.repeat):
            raise ParcoursError("funnel: optional steps, gaps and repeat conversions need an ordered or strict funnel")
        if self.breakdown and self.breakdown.attribution == "step":
            s = self.breakdown.step
            if s is None or not 0 <= s < n:
                raise ParcoursError(f"breakdown: attribution 'step' needs step = 0..{n - 1} (0-based)")
            if mode == "unordered" and s != 0:
                raise ParcoursError("breakdown: unordered funnels only take step attribution on step 0")
        self.aggregate_key()  # validates aggregate_by
        return self

    def aggregate_key(self) -> str:
        """The field the funnel counts: the customer, a session, or any property/column."""
        a = _field_name(self.aggregate_by)
        if a in ("customer", "user", "person"):
            return "customer_id"
        if a == "session":
            return "props.session_id"
        try:
            return known_field(a)
        except ValueError:
            raise ParcoursError(
                f"aggregate_by {a!r}: use customer, session, a column ({', '.join(sorted(COLUMN_FIELDS))}), props.NAME, "
                "person_props.NAME (customers sharing a person property) or group.TYPE (an account)"
            ) from None

    def step_names(self) -> list[str]:
        names = list(self.names)
        for m in self.steps[len(names):]:
            simple = isinstance(m.event, str) and not (m.props or m.props_not or m.conditions() or m.math)
            if simple:
                names.append(m.event)
            elif not m.event and len(m.where) == 1 and m.where[0].field in ("touchpoint", "stage") and m.where[0].op == "eq":
                names.append(f"{m.where[0].field}:{m.where[0].value}")
            else:
                names.append(json.dumps(m.model_dump(exclude_defaults=True), ensure_ascii=False))
        return names


def _step(spec: Any, i: int) -> EventMatcher:
    try:
        return EventMatcher.parse(spec)
    except ValidationError as e:
        raise ParcoursError(f"step {i + 1}: {_first_error(e)}") from None


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return f"{loc}: {err['msg']}" if loc else err["msg"]


def build_spec(steps: list[Any] | None = None, *, window: str | float | timedelta | None = None,
               spec: dict | None = None, **options: Any) -> FunnelSpec:
    """A validated ``FunnelSpec`` from steps and keyword options, or from a case-format dict."""
    data: dict[str, Any] = dict(spec or {})
    for key in ("name", "semantics_description", "events", "expected", "source_test", "notes", "date_range",
                "ts_synthesized", "modes", "peer_query", "source_file", "source", "viz", "interval",
                "bin_count", "funnel_from_step", "funnel_to_step", "person_props", "group_props"):
        data.pop(key, None)  # case-file keys that describe, not define, a funnel
    if "semantics" in data and data["semantics"] not in ("posthog", "clickhouse"):
        data.pop("semantics")  # the case files use it for a prose rule description
    if steps is not None:
        data["steps"] = steps
    if window is not None:
        data["window_seconds"] = duration_seconds(window, "`window`")
    data.update({k: v for k, v in options.items() if v is not None})
    if not data.get("steps"):
        raise ParcoursError("funnel: give at least one step")
    data["steps"] = [_step(s, i) for i, s in enumerate(data["steps"])]
    if isinstance(data.get("global_event_filter"), dict):  # a matcher; a list is conditions
        try:
            data["global_event_filter"] = EventMatcher.parse(data["global_event_filter"])
        except ValidationError as e:
            raise ParcoursError(f"global_event_filter: {_first_error(e)}") from None
    if isinstance(data.get("breakdown"), str | list):
        data["breakdown"] = {"property": data["breakdown"]}
    try:
        result = FunnelSpec.model_validate(data)
    except ValidationError as e:
        raise ParcoursError(f"funnel definition: {_first_error(e)}") from None
    return result.validate_all()
