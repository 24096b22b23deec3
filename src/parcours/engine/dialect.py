"""DuckDB-dialect analysis SQL to Spark SQL: sqlglot, plus the few functions that truly differ.

sqlglot transpiles almost everything; this shim rewrites only what it maps to a Spark
function with other semantics (or to none): ``epoch_us`` (no Spark twin) and ``epoch`` (fractional
seconds in DuckDB, whole seconds in Spark's ``unix_timestamp``) and ``quantile_cont``
(Spark's ``percentile_cont`` takes only the ``WITHIN GROUP`` form). Analyses should prefer
portable SQL; a function lands here only when no portable spelling exists.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from parcours.errors import ParcoursError


def _micros(ts: exp.Expression) -> exp.Expression:
    # the store's TIMESTAMPs are UTC wall times (TIMESTAMP_NTZ); the session zone is UTC
    return exp.func("unix_micros", exp.cast(ts, exp.DataType.build("TIMESTAMPLTZ")))


def _shim(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.JSONExtract | exp.JSONExtractScalar) and isinstance(node.expression, exp.Literal):
        # a JSON path bound as a constant (``parcours.query.match.field``) is a plain string; read it as
        # DuckDB reads a path, so that Spark gets its own spelling (``get_json_object`` reads no ``$."k"``)
        node.set("expression", Dialect.get_or_raise("duckdb").to_json_path(node.expression))
    if isinstance(node, exp.Anonymous) and node.name.lower() == "epoch_us":
        return _micros(node.expressions[0])
    if isinstance(node, exp.PercentileCont) and node.expression is not None:
        # quantile_cont(x, q): Spark's percentile interpolates the same way
        return exp.func("percentile", node.this, node.expression)
    if isinstance(node, exp.TimeToUnix):
        # DuckDB's epoch() keeps the fraction of a second
        return exp.Div(this=_micros(node.this), expression=exp.Literal.number("1e6"))
    return node


def duckdb_sql(query: exp.Expression | str) -> str:
    """DuckDB SQL text of a query tree (text, written in DuckDB's dialect, passes as it is)."""
    return query if isinstance(query, str) else query.sql(dialect="duckdb")


def parse(query: str) -> exp.Expression:
    """One DuckDB-dialect statement, parsed; a parse error names the engine and the cause."""
    try:
        return sqlglot.parse_one(query, read="duckdb")
    except sqlglot.errors.ParseError as e:
        raise ParcoursError(f"spark engine: cannot read the analysis query: {e}") from None


def to_spark(tree: exp.Expression | str) -> str:
    """Spark SQL text of a DuckDB-dialect query (text or parsed tree)."""
    tree = parse(tree) if isinstance(tree, str) else tree.copy()
    return tree.transform(_shim).sql(dialect="spark")
