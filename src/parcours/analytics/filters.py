"""The journey relation narrowed by the filter: what every analysis reads.

``events`` is the one way an analysis reads events: a new filter dimension reaches every
analysis at once. It applies the filter's event condition (``parcours.query.filter``), the
saved segment and the customer-level conditions (resolved here, by the analyses that compute
them), person and group fields, and the subject (whose journeys).
"""

from __future__ import annotations

import importlib

from sqlglot import exp

from parcours.analytics.segments.members import segment_members_query
from parcours.engine.dialect import duckdb_sql
from parcours.journey.entities import with_entities
from parcours.journey.materialized import journey_source
from parcours.matcher import is_entity_field
from parcours.query.customer_fields import CUSTOMER_FIELDS, CustomerCondition
from parcours.query.filter import Filter
from parcours.query.match import all_of, field
from parcours.query.template import column, sql


def customers_sql(store, condition: CustomerCondition) -> exp.Expression:
    """The ``customer_id``s that meet ``condition`` (the field's resolver, imported now)."""
    module, function = CUSTOMER_FIELDS[condition.field].resolver.split(":")
    return getattr(importlib.import_module(module), function)(store, condition)


def customers_condition(store, filter: Filter) -> exp.Expression | None:
    """Keeps the customers of the segment and of the customer-level conditions; None: all."""
    parts = [segment_members_query(store, filter.segment)] if filter.segment is not None else []
    parts += [customers_sql(store, c) for c in filter.customer_conditions]
    return all_of([sql("customer_id IN ({members})", members=p) for p in parts]) if parts else None


def _with_subject(store, source: exp.Expression, subject: str) -> exp.Expression:
    """``source`` with ``customer_id`` replaced by the subject's value; rows without one dropped.

    The columns are listed (read from a zero-row query) rather than starred with an
    exception, which not every engine's SQL has.
    """
    names = store.engine.arrow(sql("SELECT * FROM {source} LIMIT 0", source=source)).schema.names
    value = field(subject)
    columns = [sql("CAST({value} AS VARCHAR) AS customer_id", value=value) if c == "customer_id" else column(c)
               for c in names]
    return sql("SELECT {columns} FROM {source} WHERE {value} IS NOT NULL", columns=columns, source=source, value=value)


def needs_entities(filter: Filter | None, fields: set[str] | list[str] = ()) -> bool:
    """Whether ``events`` joins person/group columns (which reorders the journey's rows)."""
    return any(is_entity_field(f) for f in {*(filter.fields() if filter else ()), *fields})


def events(store, filter: Filter | None = None, fields: set[str] | list[str] = ()) -> exp.Select:
    """The journey relation of ``store``, narrowed by ``filter``, as a query tree.

    The relation is read from its materialized table when that is fresh (rebuilt first when
    stale and the store is writable), else computed live; see ``parcours.journey.materialized``.
    Person and group fields that ``filter`` or ``fields`` name become columns of it; with a
    ``subject``, its value is every event's ``customer_id`` (journeys of accounts).
    """
    filter = filter or Filter()
    source = journey_source(store)
    entity_fields = {f for f in {*filter.fields(), *fields} if is_entity_field(f)}
    if entity_fields:
        source = with_entities(sql("SELECT * FROM {source}", source=source), entity_fields)
    conditions = [filter.event_condition()]
    customers = customers_condition(store, filter)
    if customers is not None:
        conditions.append(customers)
    query = sql("SELECT * FROM {source} WHERE {condition}", source=source, condition=all_of(conditions))
    if filter.subject is not None:  # after the segment and customer conditions, which name customers
        query = _with_subject(store, query, filter.subject)
    return query


def events_sql(store, filter: Filter | None = None, fields: set[str] | list[str] = ()) -> str:
    """``events`` as DuckDB SQL text, for a user's own queries (``parcours.events_sql``): the
    analyses compose the tree, ``events``."""
    return duckdb_sql(events(store, filter, fields))
