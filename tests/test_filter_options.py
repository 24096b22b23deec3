"""The shared filter options come from one place (``cli/filter_options.py``), and the ``Filter``'s
errors name its parameters in the library and the flags on the command line (issue 18)."""

from __future__ import annotations

import ast
from datetime import datetime
from pathlib import Path

import click
import pytest
from clirun import run

import parcours
from parcours.cli.commands import COMMANDS
from parcours.cli.filter_options import FromOption, SegmentOption, SubjectOption, ToOption, WhereOption
from parcours.cli.lazy_group import module_commands
from parcours.cli.param_errors import with_flags
from parcours.errors import ParcoursError
from parcours.query.filter import Filter, parse_where

CLI = Path(parcours.__file__).parent / "cli"
SHARED = {"--segment": SegmentOption, "--from": FromOption, "--to": ToOption, "--where": WhereOption,
          "--subject": SubjectOption}
#: the commands that filter, and the shared options each takes
FILTERING = {
    "paths": set(SHARED), "attribution": set(SHARED), "retention": set(SHARED), "friction": set(SHARED),
    "stages": set(SHARED), "abandonment": set(SHARED), "funnel": set(SHARED) - {"--subject"},
    "conformance": {"--segment", "--from", "--to"}, "opportunities": {"--segment", "--from", "--to"},
    "summary": {"--segment"}, "personas": set(SHARED) - {"--subject"}, "rfm": set(SHARED) - {"--subject"},
    **{f"voc {name}": set(SHARED) for name in ("scores", "trend", "compare", "emotion", "behaviour",
                                              "detractor-touchpoints", "answers")},
}
#: options of a shared flag's name that mean something else there
OWN = {
    "conformance": {"--where"}, "segment create": {"--where"}, "segment edit": {"--where"},  # a rule of their own
    "report": {"--segment", "--from", "--to"},  # the dashboard's: whole days, --to included (see report_cmd)
    "gdpr scrub": {"--from", "--to"},  # the events to scrub (the same meaning, not an analysis filter)
}


def _commands() -> dict:
    """Every command by the words typed after ``parcours`` (a group's commands as ``GROUP NAME``)."""
    found = {}
    for name, (module, _) in COMMANDS.items():
        command = module_commands(module)[name]
        subs = getattr(command, "commands", None)
        found.update({f"{name} {sub}": c for sub, c in subs.items()} if subs else {name: command})
    return found


def _options(command) -> dict:
    """The command's options by their first flag (Typer's own Click: compared by kind, not class)."""
    return {o.opts[0]: o for o in command.params if o.param_type_name == "option"}


def test_every_filtering_command_has_its_shared_options_with_one_help_text():
    for name, command in _commands().items():
        options = _options(command)
        shared = {flag for flag, o in options.items() if o.name.startswith("filter_") and not o.hidden}
        assert shared == FILTERING.get(name, set()), name
        assert set(SHARED) & set(options) == shared | OWN.get(name, set()), name
        for flag in shared:
            assert options[flag].help == SHARED[flag].help, (name, flag)
        if "--from" in shared:  # the old names stay, hidden
            assert options["--since"].hidden and options["--until"].hidden, name


def test_no_command_module_declares_the_shared_options_itself():
    shared = {"SegmentOption", "FromOption", "ToOption", "WhereOption", "SubjectOption", "make_filter"}
    declaring = [
        p.name for p in CLI.glob("*.py") for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module == "parcours.cli.filter_options"
        and shared & {a.name for a in node.names}
    ]
    assert declaring == []


@pytest.fixture
def db(tmp_path):
    events = tmp_path / "e.csv"
    events.write_text("user_id,event,timestamp,channel\n"
                      "u1,view,2024-01-01T10:00:00Z,web\nu1,cart,2024-01-02T10:00:00Z,web\n"
                      "u2,view,2024-02-01T10:00:00Z,ads\nu2,cart,2024-02-02T10:00:00Z,ads\n"
                      "u3,view,2024-03-01T10:00:00Z,web\n")
    path = tmp_path / "s.duckdb"
    store = parcours.open(path)
    parcours.import_file(store, events)
    store.close()
    return path


def _dfg_count(capsys, db, *options: str) -> int:
    r = run(capsys, "--db", db, "paths", "--dfg", "--by", "event", "--format", "json", *options)
    assert r.code == 0, r.err
    return sum(row["count"] for row in r.json())


def test_the_command_gets_the_filter_the_options_describe(capsys, db):
    assert _dfg_count(capsys, db) == 2
    assert _dfg_count(capsys, db, "--from", "2024-02-01") == 1
    assert _dfg_count(capsys, db, "--since", "2024-02-01") == 1  # the hidden alias means the same
    assert _dfg_count(capsys, db, "--until", "2024-02-01") == 1
    assert _dfg_count(capsys, db, "--where", "channel = 'ads'") == 1
    assert _dfg_count(capsys, db, "--where", "channel = 'ads'", "--to", "2024-02-01") == 0
    r = run(capsys, "--db", db, "paths", "--until", "2024-02-01", "--to", "2024-02-01")
    assert r.code == 2 and r.err == "error: --until and --to mean the same; give one of them\n"


def test_the_library_names_the_filter_parameters(tmp_path):
    with pytest.raises(ParcoursError, match="^`start` 2024-03-01 00:00 is not before `end` 2024-02-01 00:00: "
                                            "the range is empty \\(`end` is excluded"):
        Filter(start=datetime(2024, 3, 1), end=datetime(2024, 2, 1))
    with pytest.raises(ParcoursError, match="^`where` 'plan is pro': write FIELD OP VALUE"):
        parse_where("plan is pro")
    store = parcours.open(tmp_path / "s.duckdb")
    try:
        with pytest.raises(ParcoursError, match="^`where` 'plan is pro'"):
            parcours.stage_progression(store, filter=Filter(where=[parse_where("plan is pro")]))
    finally:
        store.close()


@pytest.mark.parametrize("command", [["paths"], ["stages"], ["voc", "scores"], ["conformance"]])
def test_the_command_line_names_the_flags(capsys, db, command):
    # paths has a `start` of its own (--from-step): the filter's `start` is still --from
    r = run(capsys, "--db", db, *command, "--from", "2024-03-01", "--to", "2024-02-01")
    assert r.code == 2
    assert r.err == ("error: --from 2024-03-01 00:00 is not before --to 2024-02-01 00:00: the range is empty "
                     "(--to is excluded: --to 2024-02-01 ends with January)\n")


def test_bad_where_and_subject_name_their_flags(capsys, db):
    r = run(capsys, "--db", db, "stages", "--where", "plan is pro")
    assert r.code == 2 and r.err.startswith("error: --where 'plan is pro': write FIELD OP VALUE")
    r = run(capsys, "--db", db, "stages", "--subject", "nosuch")
    assert r.code == 2 and r.err.startswith("error: --subject 'nosuch': unknown field")
    r = run(capsys, "--db", db, "funnel", "view", "cart", "--split", "channel = 'ads'")
    assert r.code == 2 and r.err.startswith("error: --split \"channel = 'ads'\": split by conformance")
    assert "filter by it with --where" in r.err


def test_a_later_message_names_the_shared_flag_only_where_the_command_has_it():
    shared = [click.Option(["--where"], "filter_where"), click.Option(["--from-step", "start"])]
    assert with_flags("use `where`; `start` too", shared) == "use --where; --from-step too"
    assert with_flags("use `where`", [click.Option(["--top"], "top")]) == "use where"


def test_a_paths_file_takes_no_filter(capsys, tmp_path):
    paths = tmp_path / "p.csv"
    paths.write_text("path,total_conversions,total_conversion_value,total_null\nads > web,3,30,1\n")
    r = run(capsys, "attribution", "--paths", paths, "--where", "channel = 'ads'")
    assert r.code == 2 and "--where and --subject apply to the store's journeys, not to a --paths file" in r.err
    assert run(capsys, "attribution", "--paths", paths, "--format", "json").code == 0


def test_the_report_reads_to_as_every_command_does(capsys, tmp_path):
    """The report's days go to the dashboard's pages, whose filter bar includes its last day."""
    events = tmp_path / "e.csv"  # events the default journey map knows
    events.write_text("user_id,event,timestamp\nu1,site_visit,2024-01-05T10:00:00Z\n"
                      "u1,add_to_cart,2024-01-05T10:05:00Z\nu2,site_visit,2024-02-05T10:00:00Z\n")
    db = tmp_path / "mapped.duckdb"
    assert run(capsys, "--db", db, "import", events).code == 0
    r = run(capsys, "--db", db, "report", "--from", "2024-02-01", "--to", "2024-02-01")
    assert r.code == 2 and "the range is empty (--to is excluded" in r.err
    out = tmp_path / "r.html"
    r = run(capsys, "--db", db, "report", "--from", "2024-01-01", "--to", "2024-02-01", "-o", out)
    assert r.code == 0, r.err
    assert "2024-01-01 – 2024-01-31" in out.read_text("utf-8")
