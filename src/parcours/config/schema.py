"""The journey map as configuration: stages, touchpoints, identity and webhooks.

A journey file is TOML. Stages are ordered; every touchpoint belongs to one stage and
says which raw events it stands for (``match``). The first touchpoint whose rule
matches an event wins, so specific rules go before general ones.
"""

from __future__ import annotations

import difflib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from parcours.matcher import EventMatcher, is_entity_field

Channel = Literal[
    "web", "mobile", "email", "ads", "social", "search", "store", "call_centre", "chat",
    "web_form", "delivery", "review", "sms", "partner", "direct", "survey", "other",
]


#: the designer's text lanes a stage may fill, in the order the map shows them
LANES = ("goals", "thoughts", "pain_points", "opportunities", "owner")


class Stage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    label: str | None = None
    description: str = ""
    #: "before", "during" or "after" purchase, for templates that group stages that way
    phase: str | None = None
    #: whether a customer may pass this stage without any of its touchpoints (conformance)
    skippable: bool = False
    #: the designer's lanes on the journey map (UXPressia's goals, thoughts, pain points...):
    #: text the data cannot give, written per stage; one string or a list of them
    goals: list[str] = Field(default_factory=list)
    thoughts: list[str] = Field(default_factory=list)
    pain_points: list[str] = Field(default_factory=list)
    opportunities: list[str] = Field(default_factory=list)
    #: who runs the stage backstage (a team or a person)
    owner: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data):
        # a misspelt lane would otherwise be "extra inputs are not permitted": name the right key
        if isinstance(data, dict):
            for key in data:
                if key not in cls.model_fields:
                    near = difflib.get_close_matches(str(key), list(cls.model_fields), n=1, cutoff=0.6)
                    hint = f"did you mean {near[0]!r}?" if near else f"a stage's keys are {', '.join(cls.model_fields)}"
                    raise ValueError(f"unknown key {key!r}; {hint}")
        return data

    @field_validator(*LANES[:-1], mode="before")
    @classmethod
    def _text_or_list(cls, v):
        if isinstance(v, str):
            return [v]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise ValueError(f"{v!r}: give a text or a list of texts, e.g. [\"compare prices\", \"find a gift\"]")
        return v

    @field_validator(*LANES)
    @classmethod
    def _not_blank(cls, v):
        for text in v if isinstance(v, list) else [v]:
            if text is not None and not text.strip():
                raise ValueError("an empty text: write the lane's text or leave the key out")
        return v

    def lanes(self) -> dict[str, list[str]]:
        """The designer's lanes with their texts (the owner as a one-item list), empty ones included."""
        return {lane: ([self.owner] if self.owner else []) if lane == "owner" else getattr(self, lane)
                for lane in LANES}


class Touchpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    label: str | None = None
    stage: str
    channel: Channel
    online: bool = True
    team: str = "unassigned"
    moment_of_truth: bool = False
    match: EventMatcher
    #: whether the designed journey needs this touchpoint in its stage; None: only if a moment of truth
    required: bool | None = None
    #: whether it may happen more than once without a deviation
    repeatable: bool = True
    #: touchpoints of the same stage expected (all their occurrences) before this one
    after: list[str] = Field(default_factory=list)

    @property
    def is_required(self) -> bool:
        """Required when said so, else when it is a moment of truth (the default rule)."""
        return self.moment_of_truth if self.required is None else self.required

    @field_validator("match", mode="before")
    @classmethod
    def _short_match(cls, v):
        return EventMatcher.parse(v) if isinstance(v, str) else v

    @field_validator("match")
    @classmethod
    def _event_fields_only(cls, v: EventMatcher) -> EventMatcher:
        # touchpoints are part of the journey relation that person and group fields are joined to
        if entity := sorted(f for f in v.fields() if is_entity_field(f)):
            raise ValueError(f"a touchpoint matches events by their own fields; {', '.join(entity)} "
                             "(person/group) can filter an analysis instead (--where)")
        return v


class IdentityConfig(BaseModel):
    """Which properties identify a person across channels and devices.

    Besides ``user_id`` and ``anonymous_id``, any property (or identify trait) named
    here links the records that share its value into one customer.
    """

    model_config = ConfigDict(extra="forbid")
    traits: list[str] = Field(default_factory=lambda: ["email", "phone", "crm_id", "device_id"])


class Webhook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    url: str
    trigger: Literal["detractor", "cart_abandoned", "stage_entered", "moment_of_truth", "segment_entered",
                     "segment_left"]
    secret: str
    stage: str | None = None
    segment: str | None = None  #: the saved segment of segment_entered / segment_left
    minutes: float = 30  #: cart_abandoned's quiet period (fractions allowed)


class JourneyConfig(BaseModel):
    """A whole journey map."""

    model_config = ConfigDict(extra="forbid")
    name: str = "journey"
    description: str = ""
    stages: list[Stage]
    touchpoints: list[Touchpoint] = Field(default_factory=list)
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    #: events that mean "this customer bought": used for conversion and value figures
    purchase_event: str = "purchase"
    #: property holding the monetary value of an event
    value_property: str = "revenue"
    #: events that are deliberately not touchpoints (surveys, identify calls): not reported as unmapped
    ignored_events: list[str] = Field(default_factory=lambda: ["survey_response", "identify", "alias"])
    webhooks: list[Webhook] = Field(default_factory=list)
    #: conformance: whether a journey that stops before the last stage is a deviation
    must_finish: bool = False

    def analysed(self) -> str:
        """The map as the analyses and derived tables read it: everything but the webhooks (JSON).

        Two maps with the same ``analysed()`` give the same answers: changing only the webhooks
        keeps the store's data version and its derived tables."""
        return self.model_dump_json(exclude={"webhooks"})

    @model_validator(mode="after")
    def _consistent(self) -> JourneyConfig:
        if not self.stages:
            raise ValueError("a journey needs at least one stage")
        stage_names = [s.name for s in self.stages]
        for kind, names in (("stage", stage_names), ("touchpoint", [t.name for t in self.touchpoints])):
            seen = set()
            for n in names:
                if n in seen:
                    raise ValueError(f"{kind} {n!r} is declared twice")
                seen.add(n)
        for i, t in enumerate(self.touchpoints):
            if t.stage not in stage_names:
                raise ValueError(
                    f"touchpoints[{i}] ({t.name}): stage {t.stage!r} is not one of the stages {stage_names}"
                )
        stage_of = {t.name: t.stage for t in self.touchpoints}
        for i, t in enumerate(self.touchpoints):
            for u in t.after:
                if stage_of.get(u) != t.stage:
                    where = "is not a touchpoint" if u not in stage_of else f"is in stage {stage_of[u]!r}"
                    raise ValueError(f"touchpoints[{i}] ({t.name}): after {u!r} {where}; "
                                     f"`after` names touchpoints of the same stage ({t.stage!r})")
        self._check_after_cycles()
        return self

    def _check_after_cycles(self) -> None:
        """`after` must be an order: a cycle would make the stage impossible to complete."""
        after = {t.name: list(t.after) for t in self.touchpoints}
        state: dict[str, int] = {}

        def visit(name: str, path: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                raise ValueError(f"`after` makes a cycle: {' -> '.join(path + [name])}; remove one of its links")
            state[name] = 1
            for u in after[name]:
                visit(u, path + [name])
            state[name] = 2

        for name in after:
            visit(name, [])

    def stage_index(self, name: str) -> int:
        return [s.name for s in self.stages].index(name)

    def touchpoint(self, name: str) -> Touchpoint:
        for t in self.touchpoints:
            if t.name == name:
                return t
        raise KeyError(name)
