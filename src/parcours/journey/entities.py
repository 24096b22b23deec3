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

Only the fields a query names are joined (``with_entities``), so a query that names
none reads the journey relation as before.
"""

from __future__ import annotations

from sqlglot import exp

from parcours.matcher import GROUP_FIELD, is_entity_field
from parcours.query import Query, column, ident, sql
from parcours.query.journey import identity_key
from parcours.query.match import json_path

#: the group type of a ``group`` call without one (Segment's group call names no type)
DEFAULT_GROUP_TYPE = "company"


def _traits_path(name: str) -> str:
    """The JSON path of a trait under ``context.traits`` (a value, bound as a constant)."""
    return '$."traits".' + json_path(name).removeprefix("$.")


def _group_field(group_type: str, name: str) -> str:
    """The column name of a group's property: ``group.TYPE.NAME``."""
    return ".".join(("group", group_type, name))


def _union_all(parts: list[Query]) -> Query:
    return parts[0] if len(parts) == 1 else exp.union(*parts, distinct=False)


def person_history(name: str) -> Query:
    """``identifier, value, ts`` for every time a person's ``name`` was set."""
    return sql(
        """
        SELECT {id} AS identifier, json_extract_string(properties, {path}) AS value, timestamp AS ts
        FROM events WHERE type = 'identify' AND json_extract_string(properties, {path}) IS NOT NULL
        UNION ALL
        SELECT {id}, json_extract_string(context, {trait}), timestamp
        FROM events WHERE json_extract_string(context, {trait}) IS NOT NULL
        UNION ALL
        SELECT identifier, value, timestamp FROM person_properties WHERE name = {name} AND value IS NOT NULL
        """,
        id=identity_key(None), path=json_path(name), trait=_traits_path(name), name=name,
    )


def _latest(history: Query, keys: list[str]) -> Query:
    """The latest row of ``history`` per ``keys`` (ties: the greater value, so the answer is stable)."""
    return sql(
        """SELECT * FROM (
            SELECT h.*, row_number() OVER (PARTITION BY {keys} ORDER BY ts DESC, value DESC) AS _rn FROM {history} h
        ) WHERE _rn = 1""",
        keys=[column(k) for k in keys], history=history,
    )


def _pivot(name: str, column_name: str) -> Query:
    """The value of the property ``name`` as the column ``column_name``, in a GROUP BY of its rows."""
    return sql("max(CASE WHEN name = {name} THEN value END) AS {alias}", name=name, alias=ident(column_name))


def persons_query(names: list[str]) -> Query:
    """``customer_id`` and one ``"person.NAME"`` column per name: each customer's latest values."""
    history = _union_all([
        sql("""SELECT coalesce(m.customer_id, h.identifier) AS customer_id, {name} AS name, h.value, h.ts
               FROM {history} h LEFT JOIN identity_map m ON m.identifier = h.identifier""",
            name=n, history=person_history(n))
        for n in names
    ])
    return sql("SELECT customer_id, {columns} FROM {latest} GROUP BY customer_id",
               columns=[_pivot(n, "person." + n) for n in names], latest=_latest(history, ["customer_id", "name"]))


def _group_type() -> Query:
    return sql("coalesce(json_extract_string(properties, '$.group_type'), {default})", default=DEFAULT_GROUP_TYPE)


def group_types_query() -> Query:
    """``group_type``: every type of group a customer was put in, by a ``group`` call or a group table."""
    return sql(
        """
        SELECT DISTINCT {group_type} AS group_type FROM events
        WHERE type = 'group' AND json_extract_string(properties, '$.group_id') IS NOT NULL
        UNION SELECT group_type FROM group_memberships
        """,
        group_type=_group_type(),
    )


def memberships_query(group_type: str) -> Query:
    """``customer_id, group_key, valid_from, valid_to`` of a type: each membership until the next one.

    The first membership has no start (``valid_from`` NULL): events before a customer's first
    group call belong to its first group, as its account is known from then on.
    """
    history = sql(
        """
        SELECT {id} AS identifier, json_extract_string(properties, '$.group_id') AS group_key, timestamp AS ts
        FROM events WHERE type = 'group' AND json_extract_string(properties, '$.group_id') IS NOT NULL
              AND {type_of_call} = {group_type}
        UNION ALL
        SELECT identifier, group_key, timestamp FROM group_memberships WHERE group_type = {group_type}
        """,
        id=identity_key(None), type_of_call=_group_type(), group_type=group_type,
    )
    return sql(
        """
        SELECT customer_id, group_key,
               CASE WHEN row_number() OVER w > 1 THEN ts END AS valid_from,
               lead(ts) OVER w AS valid_to
        FROM (SELECT coalesce(m.customer_id, h.identifier) AS customer_id, h.group_key, h.ts
              FROM {history} h LEFT JOIN identity_map m ON m.identifier = h.identifier)
        WINDOW w AS (PARTITION BY customer_id ORDER BY ts, group_key)
        """,
        history=history,
    )


def _group_history(group_type: str, name: str) -> Query:
    """``group_key, name, value, ts`` for every time a group's ``name`` was set."""
    return sql(
        """
        SELECT json_extract_string(properties, '$.group_id') AS group_key, {name} AS name,
               json_extract_string(properties, {path}) AS value, timestamp AS ts
        FROM events WHERE type = 'group' AND {type_of_call} = {group_type}
              AND json_extract_string(properties, '$.group_id') IS NOT NULL
              AND json_extract_string(properties, {path}) IS NOT NULL
        UNION ALL
        SELECT group_key, name, value, timestamp FROM group_properties
        WHERE group_type = {group_type} AND name = {name} AND value IS NOT NULL
        """,
        name=name, path=json_path(name), type_of_call=_group_type(), group_type=group_type,
    )


def group_properties_query(group_type: str, names: list[str]) -> Query:
    """``group_key`` and one ``"group.TYPE.NAME"`` column per name: each group's latest values."""
    history = _union_all([_group_history(group_type, n) for n in names])
    return sql("SELECT group_key, {columns} FROM {latest} GROUP BY group_key",
               columns=[_pivot(n, _group_field(group_type, n)) for n in names],
               latest=_latest(history, ["group_key", "name"]))


def event_group(group_type: str, alias: str) -> Query:
    """The group of a type an event names itself: ``properties.$groups.TYPE`` (Segment/PostHog),
    or for a numeric type N PostHog's ``properties.$group_N``; NULL when it names none."""
    properties = column("properties", alias)
    own = sql("json_extract_string({properties}, {path})", properties=properties,
              path='$."$groups".' + json_path(group_type).removeprefix("$."))
    if not group_type.isdigit():
        return own
    return sql("coalesce({own}, json_extract_string({properties}, {path}))", own=own, properties=properties,
               path=json_path("$group_" + group_type))


def with_entities(relation: Query, fields: set[str] | list[str]) -> Query:
    """``relation`` (a journey relation) with a column for each person/group field named.

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
    query = relation
    if person:
        query = sql("SELECT j.*, {columns} FROM {relation} j LEFT JOIN {persons} p ON p.customer_id = j.customer_id",
                    columns=[column("person." + n, "p") for n in person], relation=query,
                    persons=persons_query(person))
    for gtype, names in sorted(groups.items()):
        key = "group." + gtype
        query = sql(
            """
            SELECT j.*, coalesce({own}, g.group_key) AS {key} FROM {relation} j
            LEFT JOIN {memberships} g ON g.customer_id = j.customer_id
                 AND (g.valid_from IS NULL OR j.timestamp >= g.valid_from)
                 AND (g.valid_to IS NULL OR j.timestamp < g.valid_to)
            """,
            own=event_group(gtype, "j"), key=ident(key), relation=query, memberships=memberships_query(gtype),
        )
        if names:
            query = sql("SELECT j.*, {columns} FROM {relation} j LEFT JOIN {properties} gp ON gp.group_key = {key}",
                        columns=[column(_group_field(gtype, n), "gp") for n in sorted(names)], relation=query,
                        properties=group_properties_query(gtype, sorted(names)), key=column(key, "j"))
    return query
