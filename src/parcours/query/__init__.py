"""The query layer: analysis queries as sqlglot expression trees, never as spliced text.

A query is composed from constant templates (DuckDB's dialect) whose ``{name}`` placeholders
are bound to sub-queries, expressions or Python values, as PostHog's HogQL does
(``parse_select(..., {"inner_query": ast})``): a value becomes a constant node of the tree, so
no value is ever written into SQL text by hand, and a relation is a tree that the next query
takes whole, not a string wrapped in brackets. The engine (``parcours.engine``) turns the tree
into its own dialect and runs it.

    from parcours.query import sql
    q = sql("SELECT customer_id FROM {events} WHERE event = {name}", events=events, name="purchase")

Modules: ``template`` (``sql``, placeholders and how a binding replaces them), ``constants``
(Python values as literals), ``match`` (event matchers and conditions as boolean trees),
``journey`` (the journey relation), ``filter`` (the filter every analysis takes).
"""

from parcours.query.constants import literal
from parcours.query.template import Query, column, ident, sql, table

__all__ = ["Query", "column", "ident", "literal", "sql", "table"]
