"""``sql(template, **bindings)``: a query tree from a constant template and its bindings.

A template is DuckDB-dialect SQL written as a constant, with ``{name}`` placeholders where a
relation, an expression or a value goes. It is parsed once (cached) and each placeholder is
replaced in the tree by its binding:

- a query (``sql(...)`` of a SELECT): a sub-query, in FROM (``FROM {events} e``), in a CTE,
  after IN (``customer_id IN ({members})``) or as a scalar;
- any other expression (a condition, a column, ``ident(...)``, ``table(...)``): itself, in
  brackets where an operator takes it (``{a} AND {b}`` keeps ``a``'s OR together);
- a Python value: its constant (``parcours.query.constants``);
- a word where SQL takes a unit (``date_trunc({unit}, ts)``): that word;
- a list: its items, where the placeholder stands in a list (``IN ({values})``, ``ORDER BY
  {order}``, a SELECT list, function arguments), or a tuple of them in brackets
  (``arg_min(x, ({order}))``); an empty list after IN is ``FALSE``.

A placeholder is written where SQL takes a name (``{name}`` becomes an identifier before
parsing), so a template is valid SQL in every position a placeholder can take; a struct
literal (``{'a': 1}``) is not a placeholder. Every placeholder must be bound and every binding
used: a mismatch is a programming error, raised at once.
"""

from __future__ import annotations

import re
from functools import lru_cache

import sqlglot
from sqlglot import exp

from parcours.query.constants import literal

#: a query or any part of one
Query = exp.Expression

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MARK = "__parcours_"


@lru_cache(maxsize=4096)
def _parse(template: str) -> tuple[exp.Expression, frozenset[str]]:
    names = frozenset(_PLACEHOLDER.findall(template))
    return sqlglot.parse_one(_PLACEHOLDER.sub(lambda m: _MARK + m.group(1), template), read="duckdb"), names


def sql(template: str, /, **bindings: object) -> Query:
    """The tree of ``template`` with each ``{name}`` replaced by ``bindings[name]``."""
    parsed, names = _parse(template)
    if names != bindings.keys():
        missing, unused = sorted(names - bindings.keys()), sorted(bindings.keys() - names)
        raise ValueError(f"query template: unbound placeholders {missing}, unused bindings {unused}: {template!r}")
    tree = parsed.copy()
    by_lower = {name.lower(): name for name in names}
    marks = [n for n in tree.find_all(exp.Identifier, exp.Var) if n.name.lower().startswith(_MARK)]
    bound = set()
    for mark in marks:
        name = by_lower[mark.name.lower()[len(_MARK):]]
        bound.add(name)
        if isinstance(mark, exp.Var):  # a unit (``date_trunc({unit}, ts)``): the bound word itself
            mark.replace(_word(bindings[name], template))
        elif _holder(mark) is tree:  # the whole template is the placeholder: ``sql("{cond}", cond=...)``
            return _expression(bindings[name])
        else:
            _bind(mark, bindings[name])
    if bound != names:
        raise ValueError(f"query template: placeholders {sorted(names - bound)} stand where SQL keeps no name; "
                         f"bind them elsewhere: {template!r}")
    return tree


def _word(value: object, template: str) -> exp.Var:
    """A unit word (``day``, ``week``): letters only, since it is written as it is."""
    if not (isinstance(value, str) and value.isascii() and value.isalpha()):
        raise ValueError(f"query template: {value!r} is bound where SQL takes a word (a unit such as 'day'): {template!r}")
    return exp.var(value)


def ident(name: str) -> exp.Identifier:
    """A column or alias name (quoted: any name is safe) to bind where a name goes."""
    return exp.to_identifier(name, quoted=True)


def column(name: str, table: str | None = None) -> exp.Column:
    """A (qualified) column reference, quoted."""
    return exp.column(name, table, quoted=True)


def table(name: str) -> exp.Table:
    """A stored table by its (schema-qualified) name: ``table("derived.journey")``."""
    return exp.to_table(name)


def _expression(value: object) -> exp.Expression:
    if isinstance(value, exp.Expression):
        return value.copy()
    return literal(value)


def _holder(mark: exp.Identifier) -> exp.Expression:
    """The node a placeholder stands for: the column or table it names, else the name itself."""
    return mark.parent if isinstance(mark.parent, exp.Column | exp.Table) and mark.arg_key == "this" else mark


def _bind(mark: exp.Identifier, value: object) -> None:
    if isinstance(value, exp.Identifier):
        mark.replace(value.copy())
        return
    holder = _holder(mark)
    if isinstance(value, list | tuple):
        _splice(holder, value)
    elif isinstance(value, exp.Subquery) and not value.alias:
        _bind_query(holder, value.this)
    elif isinstance(value, exp.Query):
        _bind_query(holder, value)
    elif isinstance(value, exp.Table) and isinstance(holder, exp.Table):
        bound = value.copy()
        if holder.args.get("alias"):
            bound.set("alias", holder.args["alias"])
        holder.replace(bound)
    else:
        bound = _expression(value)
        if _is_operation(bound) and _is_operation(holder.parent):  # ``{a} AND {b}`` with ``a = x OR y``
            bound = exp.paren(bound, copy=False)
        holder.replace(bound)


def _is_operation(node: exp.Expression | None) -> bool:
    """Whether ``node`` is an operator whose operands may need brackets (``a OR b``, ``NOT a``, ``x IN (...)``)."""
    return isinstance(node, exp.Binary | exp.Unary | exp.Predicate)


def _bind_query(holder: exp.Expression, query: exp.Query) -> None:
    query = query.copy()
    parent = holder.parent
    if isinstance(parent, exp.Subquery | exp.CTE | exp.Paren) and holder.arg_key == "this":
        holder.replace(query)  # already in brackets: ``FROM ({inner}) j``, ``WITH j AS ({q})``
    elif isinstance(parent, exp.In) and holder.arg_key == "expressions" and len(parent.expressions) == 1:
        parent.set("expressions", None)
        parent.set("query", exp.Subquery(this=query))
    elif isinstance(holder, exp.Table):
        holder.replace(exp.Subquery(this=query, alias=holder.args.get("alias")))
    else:
        holder.replace(exp.Subquery(this=query))


def _splice(holder: exp.Expression, values: list | tuple) -> None:
    item = holder.parent if isinstance(holder.parent, exp.Ordered) else holder
    if isinstance(item.parent, exp.Paren):  # ``({order})``: a tuple of the items
        item.parent.replace(exp.Tuple(expressions=[_expression(v) for v in values]))
        return
    parent, key = item.parent, item.arg_key
    if isinstance(parent, exp.Func) and key == "this" and "expressions" in parent.arg_types \
            and not parent.expressions and values:  # ``coalesce({values})``: first argument, then the rest
        parent.set("this", _expression(values[0]))
        parent.set("expressions", [_expression(v) for v in values[1:]])
        return
    siblings = parent.args.get(key) if parent is not None else None
    if not isinstance(siblings, list):
        raise ValueError(f"a list is bound where SQL takes one item: {parent.sql() if parent else holder.sql()}")
    if not values:
        if isinstance(parent, exp.In) and key == "expressions" and len(siblings) == 1:
            parent.replace(exp.false())  # nothing is in an empty set
            return
        raise ValueError(f"an empty list is bound in {parent.sql()}")
    items = []
    for value in values:
        node = _expression(value)
        if item is not holder:  # ``ORDER BY {order}``: each item keeps the direction written
            wrapped = item.copy()
            wrapped.set("this", node)
            node = wrapped
        items.append(node)
    at = siblings.index(item)
    parent.set(key, [*siblings[:at], *items, *siblings[at + 1:]])
