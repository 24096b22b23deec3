"""Column mapping: which source column (or constant) fills which event field.

``--map FIELD=COLUMN`` and ``--set FIELD=VALUE`` build a ``Mapping``. Fields not
mapped explicitly are taken from a column of the same name when there is one
(Segment's camelCase names too). Every source column that fills no field is kept as
a property under its own name: accepted data is never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from parcours.errors import ImportError_

FIELDS = (
    "message_id", "timestamp", "user_id", "anonymous_id", "previous_id", "event", "type",
    "channel", "utm_source", "utm_medium", "utm_campaign", "properties", "context",
)
#: what ``import --as groups`` also maps: the group's id and type
ENTITY_FIELDS = ("group_key", "group_type")
EVENT_TYPES = ("track", "page", "screen", "identify", "alias", "group")

#: Other names a source may use for a field (Segment's spec, common exports).
ALIASES = {
    "message_id": ("messageId",),
    "user_id": ("userId",),
    "anonymous_id": ("anonymousId",),
    "previous_id": ("previousId",),
    "timestamp": ("originalTimestamp",),
}

#: Defaults per format, used when the field is not mapped and no column has its name.
FORMAT_DEFAULTS = {
    "xes": {"user_id": "case:concept:name", "event": "concept:name", "timestamp": "time:timestamp"},
}

INTERNAL = ("__row", "__invalid", "__raw")


def _split(item: str, option: str) -> tuple[str, str]:
    if "=" not in item:
        raise ImportError_(f"{option} {item!r}: expected FIELD=VALUE")
    key, value = item.split("=", 1)
    key = key.strip()
    prefixed = any(key.startswith(p) and len(key) > len(p) for p in ("properties.", "traits."))
    if key not in FIELDS and key not in ENTITY_FIELDS and not prefixed:
        raise ImportError_(
            f"{option} {item!r}: unknown field {key!r}; fields are {', '.join(FIELDS)}, properties.NAME and "
            f"traits.NAME (person properties); person and group tables also take {', '.join(ENTITY_FIELDS)}"
        )
    return key, value


@dataclass
class Mapping:
    columns: dict[str, str] = field(default_factory=dict)  #: field -> source column
    constants: dict[str, str] = field(default_factory=dict)  #: field -> constant value

    @classmethod
    def parse(cls, maps: list[str] | None = None, sets: list[str] | None = None) -> Mapping:
        m = cls()
        for item in maps or []:
            key, value = _split(item, "--map")
            m.columns[key] = value
        for item in sets or []:
            key, value = _split(item, "--set")
            m.constants[key] = value
        return m

    def resolve(self, columns: list[str], fmt: str, origin: str) -> Mapping:
        """The complete mapping for a file with these columns; unknown columns are an error."""
        available = [c for c in columns if c not in INTERNAL]
        for key, col in self.columns.items():
            if col not in available:
                raise ImportError_(
                    f"--map {key}={col}: {origin} has no column {col!r} (columns: {', '.join(available)})"
                )
        resolved = dict(self.columns)
        defaults = FORMAT_DEFAULTS.get(fmt, {})
        taken = set(resolved.values())
        for f in FIELDS:
            if f in resolved or f in self.constants:
                continue
            for candidate in (f, *ALIASES.get(f, ()), defaults.get(f)):
                if candidate and candidate in available and candidate not in taken:
                    resolved[f] = candidate
                    taken.add(candidate)
                    break
        return Mapping(resolved, dict(self.constants))

    def check_required(self, columns: list[str], origin: str) -> None:
        """Refuse a mapping that leaves a required field unfilled: every row would be quarantined.

        A row needs a timestamp, a user_id or anonymous_id, and an event name (or a type,
        which names identify/page/screen events). Checked on the resolved mapping.
        """
        filled = set(self.columns) | set(self.constants)
        available = ", ".join(c for c in columns if c not in INTERNAL)
        for needed, fields in (("timestamp", ("timestamp",)), ("user_id", ("user_id", "anonymous_id")),
                               ("event", ("event", "type"))):
            if not filled & set(fields):
                raise ImportError_(
                    f"{origin}: no column fills {' or '.join(fields)} (columns: {available}); "
                    f"pass --map {needed}=COLUMN or --set {needed}=VALUE"
                )

    def leftover(self, columns: list[str]) -> list[str]:
        """Source columns that fill no field: they become properties."""
        used = set(self.columns.values())
        return [c for c in columns if c not in used and c not in INTERNAL]
