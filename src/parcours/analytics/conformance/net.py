"""The designed journey as a Petri net: each rule of the journey file becomes net structure.

How the rules map (also in docs/conformance.md):

- stage ``s`` has an entry place ``s:in``; the next stage's entry is its exit, and the last
  stage exits to ``end`` (the final marking). A silent ``s:open`` marks ``s:active`` and one
  ``t:todo`` place per *tracked* touchpoint; a silent ``s:close`` takes them back when all are
  ``t:done``. Going back to an earlier stage has no arc: it is a deviation.
- a *free* touchpoint (optional, repeatable, not named in any ``after``) is one visible
  transition that reads ``s:active``: any number of times, in any order.
- a tracked touchpoint (required, not repeatable, or in an ``after`` relation) moves
  ``t:todo -> t:done`` by its visible transition; optional ones also by a silent ``t:skip``;
  repeatable ones repeat with a second visible transition (``t:done -> t:done``), or, when
  another touchpoint must come after them, ``t:todo -> t:again -> t:again`` closed by a silent
  ``t:finish``, so that nothing of ``t`` can follow the touchpoints that come after it.
- ``after = [u]``: ``t``'s first occurrence reads ``u:done`` (u finished or skipped).
- a stage that is not ``skippable`` and has no required touchpoint needs at least one of its
  touchpoints: its open marks ``s:empty``, every first occurrence has a copy that turns it into
  ``s:some``, and close needs ``s:some``. A skippable stage with required touchpoints has a
  silent ``s:bypass``.
- unless ``must_finish``, a silent ``s:leave`` goes from a stage's exit to ``end``: a customer
  may stop after any completed stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from parcours.config import JourneyConfig


@dataclass
class Transition:
    id: str
    label: str | None  #: the touchpoint name; None for a silent transition
    consume: list[str]
    produce: list[str]


@dataclass
class Net:
    """A Petri net with one initial and one final place (each marked with one token)."""

    name: str
    places: list[str] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    initial: str = ""
    final: str = "end"

    def place(self, name: str) -> str:
        if name not in self.places:
            self.places.append(name)
        return name

    def add(self, tid: str, label: str | None, consume: list[str], produce: list[str]) -> None:
        self.transitions.append(Transition(tid, label, [self.place(p) for p in consume], [self.place(p) for p in produce]))


def _first(net: Net, needs_one: bool, stage: str, name: str, consume: list[str], produce: list[str]) -> None:
    """A touchpoint's first occurrence; in a stage that needs one touchpoint, also the copy that marks it."""
    if needs_one:
        net.add(name + ":first", name, consume + [f"{stage}:empty"], produce + [f"{stage}:some"])
        net.add(name, name, consume + [f"{stage}:some"], produce + [f"{stage}:some"])
    else:
        net.add(name, name, consume, produce)


def journey_net(config: JourneyConfig) -> Net:
    """The Petri net of ``config``'s designed journey (see the module docstring for the rules)."""
    net = Net(config.name)
    stages = [s.name for s in config.stages]
    net.initial = net.place(f"{stages[0]}:in")
    after_targets = {u for t in config.touchpoints for u in t.after}
    for k, stage in enumerate(config.stages):
        entry = f"{stage.name}:in"
        exit_ = f"{stages[k + 1]}:in" if k + 1 < len(stages) else "end"
        tps = [t for t in config.touchpoints if t.stage == stage.name]
        tracked = [t for t in tps if t.is_required or not t.repeatable or t.after or t.name in after_targets]
        free = [t for t in tps if t not in tracked]
        needs_one = not stage.skippable and not any(t.is_required for t in tps) and bool(tps)
        active = f"{stage.name}:active"
        opened = [active] + [f"{t.name}:todo" for t in tracked] + ([f"{stage.name}:empty"] if needs_one else [])
        closing = [active] + [f"{t.name}:done" for t in tracked] + ([f"{stage.name}:some"] if needs_one else [])
        net.add(f"{stage.name}:open", None, [entry], opened)

        for t in free:
            _first(net, needs_one, stage.name, t.name, [active], [active])
        for t in tracked:
            reads = [f"{u}:done" for u in t.after]
            todo, done, again = f"{t.name}:todo", f"{t.name}:done", f"{t.name}:again"
            if t.repeatable and t.name in after_targets:
                _first(net, needs_one, stage.name, t.name, [todo] + reads, [again] + reads)
                net.add(f"{t.name}:repeat", t.name, [again], [again])
                net.add(f"{t.name}:finish", None, [again], [done])
            else:
                _first(net, needs_one, stage.name, t.name, [todo] + reads, [done] + reads)
                if t.repeatable:
                    net.add(f"{t.name}:repeat", t.name, [done], [done])
            if not t.is_required:
                net.add(f"{t.name}:skip", None, [todo], [done])
        net.add(f"{stage.name}:close", None, closing, [exit_])
        if stage.skippable and any(t.is_required for t in tps):
            net.add(f"{stage.name}:bypass", None, [entry], [exit_])
        if not config.must_finish and exit_ != "end":
            net.add(f"{stage.name}:leave", None, [exit_], ["end"])
    net.place("end")
    return net
