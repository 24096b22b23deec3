"""Names a question refers to (events, touchpoints, stages, properties, segments) checked against the store.

A step, anchor or breakdown that names something the store has never seen would give
zeros or an empty chart: that is a typo, not an answer. Every analysis checks its names
here, and the error names the closest known ones ("did you mean purchase?"), so the CLI
(one line, exit 2) and the dashboard (the message on the page) say the same thing.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from parcours.errors import ParcoursError
from parcours.matcher import EventMatcher, is_entity_field

if TYPE_CHECKING:
    from parcours.store import Store


class UnknownName(ParcoursError):
    """A name that exists nowhere in the store (or its journey map)."""


def closest(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """The known names closest to ``name`` (difflib's ratio, best first)."""
    return difflib.get_close_matches(str(name), sorted({str(k) for k in known}), n=n, cutoff=0.6)


def check_name(where: str, kind: str, name: Any, known: Iterable[str]) -> None:
    """Raise ``UnknownName`` when ``name`` is not in ``known``, naming the closest known names."""
    known = {str(k) for k in known}
    if str(name) in known:
        return
    near = closest(str(name), known)
    if near:
        hint = "did you mean " + " or ".join(near) + "?"
    else:
        listed = sorted(known)
        hint = f"known {kind}s: {', '.join(listed[:10])}{', ...' if len(listed) > 10 else ''}" if listed else \
            f"the store has no {kind}s yet"
    raise UnknownName(f"{where}: unknown {kind} {str(name)!r}; {hint}")


def known_events(store: Store) -> set[str]:
    """Every event name stored (raw events, before the journey map)."""
    return set(store.engine.df("SELECT DISTINCT event FROM events WHERE event IS NOT NULL")["event"])


def known_properties(store: Store) -> set[str]:
    """Every top-level property key of the stored events."""
    df = store.engine.df(
        "SELECT DISTINCT unnest(json_keys(properties)) AS k FROM events WHERE properties IS NOT NULL"
    )
    return set(df["k"])


def check_matcher(store: Store, where: str, spec: Any, events: set[str] | None = None) -> set[str] | None:
    """Check the event, touchpoint and stage names of one step (a string, dict or ``EventMatcher``).

    Returns the known events (read at most once per question; pass them back in). An empty
    store has no names to compare with: nothing is checked until it holds events.
    """
    if spec is None:
        return events
    try:
        m = EventMatcher.parse(spec)
    except ValueError:
        return events  # the analysis reports a malformed step itself
    journey = {"touchpoint": lambda: [t.name for t in store.config.touchpoints],
               "stage": lambda: [s.name for s in store.config.stages]}
    for c in m.where:
        if c.field in journey and c.op in ("eq", "in"):
            for value in c.value if isinstance(c.value, list) else [c.value]:
                check_name(where, c.field, value, journey[c.field]())
    names = [] if m.event is None else [m.event] if isinstance(m.event, str) else list(m.event)
    if names:
        events = known_events(store) if events is None else events
        if events:
            for name in names:
                check_name(where, "event", name, events)
    return events


def check_property(store: Store, where: str, field: str, columns: Iterable[str] = ()) -> None:
    """Check a breakdown field: an event column, or ``props.NAME`` (or a bare NAME) some event has.

    Person and group fields (``person.NAME``, ``group.TYPE``) are read from their own tables,
    where a name nobody has set yet is a value nobody has, so they are not checked here."""
    if field in set(columns) or field.startswith("context.") or is_entity_field(field):
        return
    name = field.split(".", 1)[1] if field.startswith(("props.", "properties.")) else field
    name = name.split(".", 1)[0]  # a nested path: its top-level key must exist
    props = known_properties(store)
    if props:
        check_name(where, "property", name, props)
