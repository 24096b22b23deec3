"""Journey maps: shipped templates, `parcours init`, and validation errors that name file and key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from clirun import run

import parcours
from parcours.config import TEMPLATES, load_config, parse_config, template_text
from parcours.errors import ConfigError


@pytest.mark.parametrize("name", TEMPLATES)
def test_templates_are_valid_and_complete(name):
    config = parse_config(template_text(name), name)
    stage_names = [s.name for s in config.stages]
    assert {t.stage for t in config.touchpoints} == set(stage_names)  # every stage has touchpoints
    assert any(not t.online for t in config.touchpoints)
    assert any(t.moment_of_truth for t in config.touchpoints)


def test_template_stages():
    assert [s.name for s in parse_config(template_text("five-stages")).stages] == [
        "awareness", "consideration", "decision", "retention", "advocacy"]
    eco = parse_config(template_text("ecommerce"))
    assert [s.name for s in eco.stages] == ["before_purchase", "during_purchase", "after_purchase"]
    assert [t.name for t in eco.touchpoints if t.stage == "after_purchase"] == [
        "follow_up_communication", "delivery", "customer_account", "returns_refunds"]


def test_init_writes_a_template(tmp_path, capsys):
    out = tmp_path / "journey.toml"
    r = run(capsys, "init", "--template", "ecommerce", "--output", out)
    assert r.code == 0, r.err
    assert "3 stages, 13 touchpoints" in r.out
    assert load_config(out).name == parse_config(template_text("ecommerce")).name
    again = run(capsys, "init", "--template", "ecommerce", "--output", out)
    assert again.code == 2 and "already exists (use --force" in again.err
    assert run(capsys, "init", "-t", "five-stages", "-o", out, "--force").code == 0
    assert len(load_config(out).stages) == 5


def test_init_unknown_template(tmp_path, capsys):
    r = run(capsys, "init", "--template", "banking", "--output", tmp_path / "j.toml")
    assert r.code == 2
    assert r.err.strip() == "error: unknown template 'banking': choose one of five-stages, ecommerce"
    assert not (tmp_path / "j.toml").exists()


BASE = """
[[stages]]
name = "aware"
[[stages]]
name = "buy"
[[touchpoints]]
name = "ad"
stage = "aware"
channel = "ads"
match = "ad_click"
"""


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        (BASE.replace('channel = "ads"', 'channel = "telepathy"'), "touchpoints[0].channel", "Input should be"),
        (BASE.replace('stage = "aware"', 'stage = "sleep"'), "(top level)", "stage 'sleep' is not one of the stages"),
        (BASE + '[[touchpoints]]\nname = "ad"\nstage = "buy"\nchannel = "web"\nmatch = "x"\n', "(top level)",
         "touchpoint 'ad' is declared twice"),
        (BASE.replace('match = "ad_click"', 'match = { event = "x", where = [{ field = "colour", value = 1 }] }'),
         "touchpoints[0].match.where[0].field", "unknown field 'colour'"),
        (BASE.replace('match = "ad_click"', ""), "touchpoints[0].match", "Field required"),
        (BASE + "colour = 3\n", "touchpoints[0].colour", "Extra inputs are not permitted"),
        ("stages = []\n", "(top level)", "at least one stage"),
        (BASE.replace('name = "aware"', 'name = "a ware"', 1), "stages[0].name", "String should match pattern"),
        # the designer's lanes: a misspelt key is named with the right one, a wrong type says what to write
        (BASE.replace('name = "buy"', 'name = "buy"\npain_point = "x"'), "stages[1]",
         "unknown key 'pain_point'; did you mean 'pain_points'?"),
        (BASE.replace('name = "buy"', 'name = "buy"\nwishes = "x"'), "stages[1]",
         "unknown key 'wishes'; a stage's keys are name, label"),
        (BASE.replace('name = "buy"', 'name = "buy"\ngoals = 3'), "stages[1].goals", "give a text or a list of texts"),
        (BASE.replace('name = "buy"', 'name = "buy"\nthoughts = ["ok", 2]'), "stages[1].thoughts",
         "give a text or a list of texts"),
        (BASE.replace('name = "buy"', 'name = "buy"\nopportunities = ["  "]'), "stages[1].opportunities",
         "an empty text"),
        (BASE.replace('name = "buy"', 'name = "buy"\nowner = ""'), "stages[1].owner", "an empty text"),
    ],
)
def test_validation_errors_name_file_key_and_problem(tmp_path, text, key, problem):
    path = tmp_path / "journey.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert f"{key}: " in message and problem in message
    assert "\n" not in message and message.count(f"{key}: ") == 1  # one clear line


def test_stage_lanes_take_a_text_or_a_list():
    config = parse_config(BASE.replace('name = "aware"', 'name = "aware"\ngoals = "find a gift"\n'
                                       'pain_points = ["too many ads", "no prices"]\nowner = "marketing"', 1))
    assert config.stages[0].lanes() == {"goals": ["find a gift"], "thoughts": [],
                                        "pain_points": ["too many ads", "no prices"], "opportunities": [],
                                        "owner": ["marketing"]}
    assert all(not texts for texts in config.stages[1].lanes().values())  # every lane is optional


def test_the_documented_lanes_example_is_valid():
    text = (Path(__file__).resolve().parents[1] / "docs" / "dashboard.md").read_text("utf-8")
    example = re.search(r"```toml\n(\[\[stages\]\].*?)```", text, flags=re.S).group(1)
    stage = parse_config(example + BASE).stages[0]
    assert stage.name == "decision" and all(stage.lanes().values())


def test_the_demo_journey_fills_every_lane_of_every_stage():
    for stage in parse_config(template_text("five-stages")).stages:
        assert all(stage.lanes().values()), stage.name


def test_not_toml_and_missing_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[[stages]\nname=")
    with pytest.raises(ConfigError, match=r"bad.toml: not valid TOML"):
        load_config(path)
    with pytest.raises(ConfigError, match="journey file not found"):
        load_config(tmp_path / "none.toml")


def test_journey_set_validates_and_keeps_the_old_map_on_error(tmp_path, capsys):
    db = tmp_path / "s.duckdb"
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(BASE)
    bad.write_text(BASE.replace('channel = "ads"', 'channel = "telepathy"'))
    assert run(capsys, "--db", db, "journey", "set", good).code == 0
    r = run(capsys, "--db", db, "journey", "set", bad)
    assert r.code == 2 and "bad.toml: touchpoints[0].channel" in r.err and len(r.err.strip().splitlines()) == 1
    shown = run(capsys, "--db", db, "journey", "show", "--format", "json").json()
    assert [t["touchpoint"] for t in shown] == ["ad"]


def test_a_bad_lane_is_one_line_on_stderr_and_the_map_keeps_its_lanes(tmp_path, capsys):
    db = tmp_path / "s.duckdb"
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(BASE.replace('name = "buy"', 'name = "buy"\nowner = "sales"'))
    bad.write_text(BASE.replace('name = "buy"', 'name = "buy"\nowner = "sales"\ngoal = "pay"'))
    assert run(capsys, "--db", db, "journey", "set", good).code == 0
    r = run(capsys, "--db", db, "journey", "set", bad)
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1
    assert "bad.toml: stages[1]: unknown key 'goal'; did you mean 'goals'?" in r.err
    with parcours.open(db) as store:
        assert store.config.stages[1].owner == "sales" and store.config.stages[1].goals == []
