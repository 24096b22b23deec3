"""Persons and groups (accounts) as columns of the journey relation, on demand.

A person's properties are the traits of its ``identify`` calls (``properties``), the
``context.traits`` any event carries (``import --map traits.NAME=COLUMN``) and the rows of
``person_properties`` (``import --as persons``). A customer's group of a type comes from its
``group`` calls (``properties.group_id``, the type in ``properties.group_type``, else
``company``) and ``group_memberships`` (``import --as groups``); a group's properties from
its group calls' traits and ``group_properties``. All of it is history keyed by the id that
sent it; read through the identity map, so stitched identities share it:

- ``person.NAME``: the customer's latest value (by timestamp) of NAME;
- ``group.TYPE``: the customer's group of that type *at the event's time* (its latest group
  call at or before it; events before the first call carry the first group);
- ``group.TYPE.NAME``: that group's latest value of NAME.

Only the fields a query names are joined (``with_entities_sql``), so a query that names
none reads the journey relation as before.
"""

from __future__ import annotations

from parcours.matcher import GROUP_FIELD, is_entity_field, json_path, quote
from parcours.matcher import entity_column as column

#: the group type of a ``group`` call without one (Segment's group call names no type)
DEFAULT_GROUP_TYPE = "company"


def _id_sql(alias: str = "") -> str:
    p = f"{alias}." if alias else ""
    return f"coalesce({p}user_id, {p}anonymous_id)"


def person_history_sql(name: str) -> str:
    """``identifier, value, ts`` for every time a person's ``name`` was set."""
    path = json_path(name)
    trait = quote(f'$."traits"."{_esc(name)}"')
    return f"""
        SELECT {_id_sql()} AS identifier, json_extract_string(properties, {path}) AS value, timestamp AS ts
        FROM events WHERE type = 'identify' AND json_extract_string(properties, {path}) IS NOT NULL
        UNION ALL
        SELECT {_id_sql()}, json_extract_string(context, {trait}), timestamp
        FROM events WHERE json_extract_string(context, {trait}) IS NOT NULL
        UNION ALL
        SELECT identifier, value, timestamp FROM person_properties WHERE name = {quote(name)} AND value IS NOT NULL
    """


def _esc(name: str) -> str:
    return name.replace('"', '\\"')


def _latest(history: str, keys: list[str]) -> str:
    """The latest row of ``history`` per ``keys`` (ties: the greater value, so the answer is stable)."""
    k = ", ".join(keys)
    return f"""SELECT * FROM (
        SELECT h.*, row_number() OVER (PARTITION BY {k} ORDER BY ts DESC, value DESC) AS _rn FROM ({history}) h
    ) WHERE _rn = 1"""


def persons_sql(names: list[str]) -> str:
    """``customer_id`` and one ``"person.NAME"`` column per name: each customer's latest values."""
    history = " UNION ALL ".join(
        f"""SELECT coalesce(m.customer_id, h.identifier) AS customer_id, {quote(n)} AS name, h.value, h.ts
            FROM ({person_history_sql(n)}) h LEFT JOIN identity_map m ON m.identifier = h.identifier"""
        for n in names
    )
    cols = ", ".join(f"max(CASE WHEN name = {quote(n)} THEN value END) AS {column('person.' + n)}" for n in names)
    return f"SELECT customer_id, {cols} FROM ({_latest(history, ['customer_id', 'name'])}) GROUP BY customer_id"


def _group_type_sql() -> str:
    return f"coalesce(json_extract_string(properties, '$.group_type'), {quote(DEFAULT_GROUP_TYPE)})"


def group_types_sql() -> str:
    """``group_type``: every type of group a customer was put in, by a ``group`` call or a group table."""
    return f"""
        SELECT DISTINCT {_group_type_sql()} AS group_type FROM events
        WHERE type = 'group' AND json_extract_string(properties, '$.group_id') IS NOT NULL
        UNION SELECT group_type FROM group_memberships
    """


def memberships_sql(group_type: str) -> str:
    """``customer_id, group_key, valid_from, valid_to`` of a type: each membership until the next one.

    The first membership has no start (``valid_from`` NULL): events before a customer's first
    group call belong to its first group, as its account is known from then on.
    """
    history = f"""
        SELECT {_id_sql()} AS identifier, json_extract_string(properties, '$.group_id') AS group_key, timestamp AS ts
        FROM events WHERE type = 'group' AND json_extract_string(properties, '$.group_id') IS NOT NULL
              AND {_group_type_sql()} = {quote(group_type)}
        UNION ALL
        SELECT identifier, group_key, timestamp FROM group_memberships WHERE group_type = {quote(group_type)}
    """
    return f"""
        SELECT customer_id, group_key,
               CASE WHEN row_number() OVER w > 1 THEN ts END AS valid_from,
               lead(ts) OVER w AS valid_to
        FROM (SELECT coalesce(m.customer_id, h.identifier) AS customer_id, h.group_key, h.ts
              FROM ({history}) h LEFT JOIN identity_map m ON m.identifier = h.identifier)
        WINDOW w AS (PARTITION BY customer_id ORDER BY ts, group_key)
    """


def group_properties_sql(group_type: str, names: list[str]) -> str:
    """``group_key`` and one ``"group.TYPE.NAME"`` column per name: each group's latest values."""
    def history(n: str) -> str:
        path = json_path(n)
        return f"""
            SELECT json_extract_string(properties, '$.group_id') AS group_key, {quote(n)} AS name,
                   json_extract_string(properties, {path}) AS value, timestamp AS ts
            FROM events WHERE type = 'group' AND {_group_type_sql()} = {quote(group_type)}
                  AND json_extract_string(properties, '$.group_id') IS NOT NULL
                  AND json_extract_string(properties, {path}) IS NOT NULL
            UNION ALL
            SELECT group_key, name, value, timestamp FROM group_properties
            WHERE group_type = {quote(group_type)} AND name = {quote(n)} AND value IS NOT NULL
        """
    union = " UNION ALL ".join(history(n) for n in names)
    cols = ", ".join(
        f"max(CASE WHEN name = {quote(n)} THEN value END) AS {column(f'group.{group_type}.{n}')}" for n in names
    )
    return f"SELECT group_key, {cols} FROM ({_latest(union, ['group_key', 'name'])}) GROUP BY group_key"


def event_group_sql(group_type: str, alias: str) -> str:
    """The group of a type an event names itself: ``properties.$groups.TYPE`` (Segment/PostHog),
    or for a numeric type N PostHog's ``properties.$group_N``; NULL when it names none."""
    path = quote('$."$groups"."' + _esc(group_type) + '"')
    own = [f"json_extract_string({alias}.properties, {path})"]
    if group_type.isdigit():
        own.append(f"json_extract_string({alias}.properties, {json_path('$group_' + group_type)})")
    return ", ".join(own)


def with_entities_sql(relation: str, fields: set[str] | list[str]) -> str:
    """``relation`` (a journey relation as SQL) with a column for each person/group field named.

    An event's group of a type is the one it names itself, else its customer's at the time.
    """
    fields = sorted({f for f in fields if is_entity_field(f)})
    if not fields:
        return relation
    person = sorted({f.removeprefix("person.") for f in fields if f.startswith("person.")})
    groups: dict[str, set[str]] = {}
    for f in fields:
        if (m := GROUP_FIELD.match(f)) is not None:
            groups.setdefault(m.group(1), set())
            if m.group(2):
                groups[m.group(1)].add(m.group(2))
    sql = relation
    if person:
        cols = ", ".join(f"p.{column('person.' + n)}" for n in person)
        sql = f"SELECT j.*, {cols} FROM ({sql}) j LEFT JOIN ({persons_sql(person)}) p ON p.customer_id = j.customer_id"
    for gtype, names in sorted(groups.items()):
        key = column("group." + gtype)
        sql = (f"SELECT j.*, coalesce({event_group_sql(gtype, 'j')}, g.group_key) AS {key} FROM ({sql}) j "
               f"LEFT JOIN ({memberships_sql(gtype)}) g ON g.customer_id = j.customer_id"
               f" AND (g.valid_from IS NULL OR j.timestamp >= g.valid_from)"
               f" AND (g.valid_to IS NULL OR j.timestamp < g.valid_to)")
        if names:
            cols = ", ".join(f"gp.{column(f'group.{gtype}.{n}')}" for n in sorted(names))
            sql = (f"SELECT j.*, {cols} FROM ({sql}) j "
                   f"LEFT JOIN ({group_properties_sql(gtype, sorted(names))}) gp ON gp.group_key = j.{key}")
    return sql
