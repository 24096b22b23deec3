"""The import rules, read from the source (no import is run): layers, no circles, one door to the engines.

The layers, bottom-up (docs/contributing.md draws them): a module may import its own
package and any layer at or below its own, never one above; the walls of issue 18 are named
too (the dashboard and the report, side by side over the pages, never import each other).
``TYPE_CHECKING`` imports are left out: they name a type for the checker and never run.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "parcours"

#: bottom-up; each entry is the top-level packages/modules of one layer
LAYERS: list[set[str]] = [
    {"errors", "matcher", "config", "durations", "jsonable"},  # foundation: no data access
    {"query"},  # queries as sqlglot trees: templates, matchers, the journey relation, the filter
    {"engine"},  # runs queries: DuckDB, Spark
    {"store"},  # the DuckDB file: tables, migrations, transactions
    {"identity", "journey"},  # stitching; the journey relation and its materialized tables
    {"ingest", "analytics"},  # writing events in; the analyses
    {"demo"},  # voice of the customer (builds on analytics); the demo data set
    {"views"},  # the pages' data, words, templates and assets: what the dashboard and the report draw
    {"web", "report"},  # the dashboard (HTTP over the views); the static report (files from the views)
    {"server"},  # the collector server (mounts the dashboard)
    {"cli"},  # the command line, on top of everything
    {"client", "__init__"},  # the HTTP client and the lazy public API
]
#: only these packages may import a web framework (the CLI starts the server): the pages know no HTTP
HTTP_PACKAGES = {"web", "server", "cli"}
HTTP_MODULES = {"fastapi", "starlette", "uvicorn"}
#: only these packages may import a database engine
ENGINE_PACKAGES = {"store", "engine"}
ENGINE_MODULES = {"duckdb", "pyspark"}


def _layer(top: str) -> int:
    for i, layer in enumerate(LAYERS):
        if top in layer:
            return i
    raise AssertionError(f"parcours.{top} is in no layer: add it to LAYERS (and to docs/contributing.md)")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, package: str) -> list[tuple[str, int]]:
    """(imported module, line) for every import that runs, lazy ones included."""
    found = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.append((sub if _exists(sub) else module, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _exists(module: str) -> bool:
    if not module.startswith("parcours."):
        return False
    path = SRC.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _graph() -> dict[str, list[tuple[str, int]]]:
    graph = {}
    for path in sorted(SRC.rglob("*.py")):
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        graph[name] = _imports(ast.parse(path.read_text(), str(path)), package)
    return graph


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


GRAPH = _graph()


def _upward(here: str, there: str) -> bool:
    return _layer(there) > _layer(here)


def _uses(here: str, there: str) -> list[str]:
    """Where modules of package ``here`` import package ``there``."""
    return [f"{m}:{line} imports {t}" for m, imports in GRAPH.items() if _top(m) == here
            for t, line in imports if t.startswith("parcours") and _top(t) == there]


def test_no_upward_imports():
    wrong = [f"{module}:{line} imports {target} (layer {_layer(_top(target))} above {_layer(_top(module))})"
             for module, imports in GRAPH.items() for target, line in imports
             if target.startswith("parcours") and _upward(_top(module), _top(target))]
    assert not wrong, "upward imports:\n" + "\n".join(wrong)


#: the walls issue 18 asked for, by name: the report renders without the dashboard and the dashboard without
#: the report (one layer, side by side over ``views``: only this test keeps them apart), the server runs
#: without the CLI, and the pages know neither the dashboard nor the report
WALLS = [("report", "web"), ("web", "report"), ("server", "cli"), ("views", "web"), ("views", "report")]


@pytest.mark.parametrize("here, there", WALLS)
def test_the_walls_of_issue_18(here, there):
    found = _uses(here, there)
    assert not found, f"{here} imports {there}:\n" + "\n".join(found)


def test_only_web_and_server_speak_http():
    """The pages (``views``) are drawn by the report too: only the dashboard, the server (and the CLI that
    starts it) import FastAPI, Starlette or uvicorn."""
    wrong = [f"{module}:{line} imports {target}" for module, imports in GRAPH.items() for target, line in imports
             if target.split(".")[0] in HTTP_MODULES and _top(module) not in HTTP_PACKAGES]
    assert not wrong, "web framework imports outside web/, server/ and cli/:\n" + "\n".join(wrong)


def test_no_import_circles():
    """No cycle among modules (lazy imports included) nor among top-level packages."""
    modules = {m: {t for t, _ in imports if t in GRAPH and t != m} for m, imports in GRAPH.items()}
    # a package's __init__ re-exporting its own modules is not a circle through them
    modules = {m: {t for t in ts if not (m.startswith(t + ".") and t in GRAPH)} for m, ts in modules.items()}
    packages: dict[str, set[str]] = {}
    for m, ts in modules.items():
        packages.setdefault(_top(m), set()).update(_top(t) for t in ts if _top(t) != _top(m))
    for graph, what in ((modules, "modules"), (packages, "packages")):
        cycle = _find_cycle(graph)
        assert cycle is None, f"import circle among {what}: {' -> '.join(cycle)}"


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := walk(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := walk(node)):
            return found
    return None


def test_only_store_and_engine_import_duckdb_or_pyspark():
    wrong = [f"{module}:{line} imports {target}" for module, imports in GRAPH.items() for target, line in imports
             if target.split(".")[0] in ENGINE_MODULES and _top(module) not in ENGINE_PACKAGES]
    assert not wrong, "engine imports outside store/ and engine/:\n" + "\n".join(wrong)


@pytest.mark.parametrize("package, source, rule", [
    ("parcours.journey", "from parcours.cli.output import emit\n", "upward"),
    ("parcours.report", "from parcours.web.routes import router\n", "wall"),
    ("parcours.journey", "import duckdb\n", "engine"),
    ("parcours.views", "from fastapi import Request\n", "http"),
])
def test_the_rules_catch_a_violation(package, source, rule):
    """The checks above fail on an offending module: a journey module importing the CLI or duckdb,
    the report importing the dashboard, a page importing FastAPI."""
    here = _top(package + ".x")
    imports = _imports(ast.parse(source), package)
    if rule == "upward":
        assert any(_upward(here, _top(t)) for t, _ in imports)
    elif rule == "wall":
        assert any((here, _top(t)) in WALLS for t, _ in imports)
    elif rule == "engine":
        assert any(t.split(".")[0] in ENGINE_MODULES for t, _ in imports) and here not in ENGINE_PACKAGES
    else:
        assert any(t.split(".")[0] in HTTP_MODULES for t, _ in imports) and here not in HTTP_PACKAGES


def _connection_uses(tree: ast.AST) -> list[int]:
    """Lines that reach a connection: an attribute ``.con`` (the store's DuckDB connection)."""
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "con"]


def test_only_store_and_engine_hold_a_connection():
    """Everything else goes through the store's one door (``Store.execute``), as datasette's views do."""
    wrong = [f"{_module_name(path)}:{line} uses .con" for path in sorted(SRC.rglob("*.py"))
             if _top(_module_name(path)) not in ENGINE_PACKAGES
             for line in _connection_uses(ast.parse(path.read_text(), str(path)))]
    assert not wrong, "connection use outside store/ and engine/ (use store.execute):\n" + "\n".join(wrong)
    assert _connection_uses(ast.parse("rows = store.con.execute('SELECT 1').fetchall()\n"))  # the check can fail


#: words that make a string SQL (upper case, as every query of the project is written)
SQL_WORDS = re.compile(r"\b(SELECT|INSERT INTO|UPDATE|DELETE FROM|CREATE|DROP|ALTER|WHERE|JOIN|GROUP BY|ORDER BY|UNION)\b")


def _text_sql(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) for SQL built as text: an f-string with SQL in it, or a tree rendered to text."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
            if SQL_WORDS.search(text):
                found.append((node.lineno, "f-string SQL"))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "sql"
              and any(k.arg == "dialect" for k in node.keywords)):
            found.append((node.lineno, "renders a tree"))
    return found


def test_queries_are_trees_with_bound_values():
    """No value or name is spliced into SQL text (issue 18): queries are composed with
    ``parcours.query.sql`` and only the engine and the store render a tree to text."""
    wrong = [f"{_module_name(path)}:{line} {what}" for path in sorted(SRC.rglob("*.py"))
             for line, what in _text_sql(ast.parse(path.read_text(), str(path)))
             if not (what == "renders a tree" and _top(_module_name(path)) in ENGINE_PACKAGES)]
    assert not wrong, "SQL built as text (compose a tree with parcours.query.sql):\n" + "\n".join(wrong)
    caught = _text_sql(ast.parse('q = f"SELECT * FROM t WHERE x = {x}"\nt = q.sql(dialect="duckdb")\n'))
    assert [what for _, what in caught] == ["f-string SQL", "renders a tree"]  # the check can fail
