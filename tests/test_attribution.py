"""Attribution models on path tables: ChannelAttribution's results, hand checks, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import shared_path
from typer.testing import CliRunner

from parcours.analytics.attribution import (
    attribute_paths,
    first_touch,
    last_non_direct_touch,
    last_touch,
    linear,
    markov,
    position_based,
    read_paths,
    shapley,
    side_by_side,
    time_decay,
)
from parcours.analytics.attribution.paths import PathTable, read_path_text
from parcours.cli.main import app
from parcours.errors import ParcoursError

CASES = "cases/attribution/"


def table(*rows: tuple[str, float, float, float]) -> PathTable:
    return PathTable.from_frame(pd.DataFrame(rows, columns=["path", "total_conversions", "total_conversion_value",
                                                            "total_null"]))


def by_channel(df: pd.DataFrame, column: str = "conversions") -> dict[str, float]:
    return {c: pytest.approx(v, abs=1e-12) for c, v in zip(df["channel"], df[column], strict=True)}


@pytest.fixture(scope="module")
def peer_data() -> PathTable:
    return read_paths(shared_path(CASES + "Data.csv"))


# -- against ChannelAttribution --------------------------------------------------------------
def test_reads_channelattribution_example_data(peer_data):
    assert peer_data.n_paths == 10_000 and len(peer_data.channels) == 12
    assert peer_data.conversions.sum() == 19_785 and peer_data.nulls.sum() == 68_602
    assert peer_data.value.sum() == pytest.approx(74_802.9716, abs=1e-3)


@pytest.mark.parametrize("model, fn", [("first_touch", first_touch), ("last_touch", last_touch),
                                       ("linear_touch", linear)])
def test_heuristics_match_channelattribution(peer_data, model, fn):
    ref = pd.read_csv(shared_path(CASES + "heuristic_models.csv")).set_index("channel_name")
    ours = fn(peer_data).set_index("channel").loc[ref.index]
    np.testing.assert_allclose(ours["conversions"], ref[f"{model}_conversions"], rtol=1e-8)
    np.testing.assert_allclose(ours["value"], ref[f"{model}_value"], rtol=1e-8)


def test_exact_markov_matches_absorbing_chain_reference(peer_data):
    ref = pd.read_csv(shared_path(CASES + "markov_exact_order1.csv")).set_index("channel_name")
    ours = markov(peer_data, order=1).attribution.set_index("channel").loc[ref.index]
    np.testing.assert_allclose(ours["conversions"], ref["total_conversions"], rtol=1e-6)
    np.testing.assert_allclose(ours["value"], ref["total_conversion_value"], rtol=1e-6)
    np.testing.assert_allclose(ours["removal_effect"], ref["removal_effects_conversion"], rtol=1e-6)
    np.testing.assert_allclose(ours["removal_effect_value"], ref["removal_effects_conversion_value"], rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 100, 200])
def test_exact_markov_within_noise_of_simulated_peer_runs(peer_data, seed):
    ref = pd.read_csv(shared_path(CASES + f"markov_order1_seed{seed}.csv")).set_index("channel_name")
    ours = markov(peer_data, order=1).attribution.set_index("channel").loc[ref.index]
    total = peer_data.conversions.sum()
    diff = (ours["conversions"] - ref["total_conversions"]).abs()
    assert diff.max() <= 0.01 * total
    assert diff.sum() <= 0.04 * total


def test_markov_transition_matrix_matches_peer(peer_data):
    ref = pd.read_csv(shared_path(CASES + "markov_order1_transition_matrix.csv"))
    ours = markov(peer_data).transitions.set_index(["from", "to"])["probability"]
    expected = ref.set_index(["channel_from_name", "channel_to_name"])["transition_probability"]
    np.testing.assert_allclose(ours.loc[expected.index], expected, rtol=1e-8)
    assert len(ours) == len(expected)


# -- by hand ------------------------------------------------------------------------------------
def test_markov_hand_check():
    result = markov(table(("a > b", 1, 10, 0), ("b > c", 1, 20, 0)))
    assert by_channel(result.attribution) == {"a": 0.5, "b": 1.0, "c": 0.5}
    assert result.conversion_probability == pytest.approx(1.0)
    assert result.value_per_journey == pytest.approx(15.0)


def test_markov_collapses_repeats():
    plain = markov(table(("a > b", 1, 10, 0), ("b > c", 1, 20, 0))).attribution
    repeated = markov(table(("a > a > b", 1, 10, 0), ("b > c > c > c", 1, 20, 0))).attribution
    pd.testing.assert_frame_equal(plain, repeated)


def test_markov_order_two_remembers_where_a_journey_came_from():
    # a > c converts, b > c does not: order 1 cannot tell the two c's apart, order 2 can
    paths = table(("a > c", 1, 1, 0), ("b > c", 0, 0, 1))
    assert by_channel(markov(paths, order=1).attribution) == {"a": 0.25, "c": 0.5, "b": 0.25}
    assert by_channel(markov(paths, order=2, states="prefix").attribution) == {"a": 0.5, "c": 0.5, "b": 0.0}
    states = set(markov(paths, order=2, states="prefix").transitions["from"])
    assert states == {"(start)", "a", "b", "a > c", "b > c"}


def test_markov_order_three_agrees_with_a_dense_reference():
    paths = table(("a > b > c > d", 3, 30, 2), ("b > a > c", 1, 5, 4), ("c > d > a > b", 2, 8, 1), ("d", 0, 0, 3))
    ours = markov(paths, order=3, states="prefix").attribution.set_index("channel")
    ref = dense_markov(paths, order=3)
    for channel, effect in ref.items():
        assert ours.loc[channel, "removal_effect"] == pytest.approx(effect, abs=1e-12)


def dense_markov(paths: PathTable, order: int) -> dict[str, float]:
    """Removal effects of the prefix rule by a plain dense implementation (dicts of string states,
    numpy inverse)."""
    counts: dict[tuple[str, str], float] = {}
    for p, conv, null in zip(paths.paths(">"), paths.conversions, paths.nulls, strict=True):
        seq = [c for i, c in enumerate(p.split(">")) if i == 0 or c != p.split(">")[i - 1]]
        states = ["(start)"] + [">".join(seq[max(0, i - order + 1): i + 1]) for i in range(len(seq))]
        for a, b in zip(states, states[1:], strict=False):
            counts[a, b] = counts.get((a, b), 0) + conv + null
        counts[states[-1], "(conversion)"] = counts.get((states[-1], "(conversion)"), 0) + conv
        counts[states[-1], "(null)"] = counts.get((states[-1], "(null)"), 0) + null
    names = sorted({a for a, _ in counts} | {b for _, b in counts} - {"(conversion)", "(null)"})
    index = {n: i for i, n in enumerate(names)}

    def p_conv(removed: str | None) -> float:
        q = np.zeros((len(names), len(names)))
        r = np.zeros(len(names))
        for (a, b), w in counts.items():
            if removed is not None and a.split(">")[-1] == removed:
                continue
            out = sum(v for (x, _), v in counts.items() if x == a)
            if b == "(conversion)":
                r[index[a]] += w / out
            elif b != "(null)":
                q[index[a], index[b]] += w / out
        return float(np.linalg.solve(np.eye(len(names)) - q, r)[index["(start)"]])

    base = p_conv(None)
    return {c: 1 - p_conv(c) / base for c in paths.channels}


def test_heuristic_hand_checks():
    paths = table(("a > a > b", 3, 30, 5), ("direct > c > direct", 2, 20, 0), ("direct", 1, 1, 0))
    assert by_channel(first_touch(paths)) == {"a": 3, "b": 0, "direct": 3, "c": 0}
    assert by_channel(last_touch(paths)) == {"a": 0, "b": 3, "direct": 3, "c": 0}
    assert by_channel(last_non_direct_touch(paths)) == {"a": 0, "b": 3, "direct": 1, "c": 2}
    assert by_channel(linear(paths)) == {"a": 2, "b": 1, "direct": 1 + 4 / 3, "c": 2 / 3}
    assert by_channel(linear(paths), "value") == {"a": 20, "b": 10, "direct": 1 + 40 / 3, "c": 20 / 3}
    # half-life 1: weights 1/4, 1/2, 1 from first to last
    assert by_channel(time_decay(paths, half_life=1)) == {
        "a": 3 * 3 / 7, "b": 3 * 4 / 7, "direct": 2 * 5 / 7 + 1, "c": 2 * 2 / 7}
    assert by_channel(position_based(paths)) == {"a": 3 * 0.6, "b": 3 * 0.4, "direct": 2 * 0.8 + 1, "c": 2 * 0.2}
    assert by_channel(position_based(table(("a > b", 1, 0, 0)), first=0.3, last=0.1)) == {"a": 0.75, "b": 0.25}
    assert by_channel(shapley(paths)) == {"a": 1.5, "b": 1.5, "direct": 2, "c": 1}


def test_shapley_closed_form_equals_the_definition():
    """The per-journey split against Shapley's definition: average marginal worth over all orders."""
    from itertools import permutations

    paths = table(("a > b > a", 2, 7, 1), ("b > c", 1, 3, 0), ("c > d > a > c", 4, 1, 2), ("d", 1, 9, 0),
                  ("e", 0, 0, 4))
    sets = [set(p.split(" > ")) for p in paths.paths()]

    def worth(coalition: set[str], column: np.ndarray) -> float:
        return sum(v for s, v in zip(sets, column, strict=True) if s <= coalition)

    for column, measure in ((paths.conversions, "conversions"), (paths.value, "value")):
        phi = dict.fromkeys(paths.channels, 0.0)
        orders = list(permutations(paths.channels))
        for order in orders:
            seen: set[str] = set()
            for c in order:
                phi[c] += (worth(seen | {c}, column) - worth(seen, column)) / len(orders)
                seen.add(c)
        assert by_channel(shapley(paths), measure) == phi


def test_attribution_lists_every_model_side_by_side():
    result = attribute_paths(table(("a > b", 1, 10, 0), ("b > c", 1, 20, 0)))
    assert list(result.columns) == ["channel", "model", "conversions", "value", "share", "value_share",
                                    "removal_effect"]
    assert result["model"].unique().tolist() == ["first_touch", "last_touch", "last_non_direct", "linear",
                                                 "time_decay", "position_based", "markov", "shapley"]
    assert result.groupby("model")["share"].sum().tolist() == pytest.approx([1.0] * 8)
    assert result[result["model"] != "markov"]["removal_effect"].isna().all()
    wide = side_by_side(result)
    assert wide.set_index("channel").loc["b", "markov"] == pytest.approx(1.0)
    assert wide.set_index("channel").loc["c", "first_touch"] == 0


def test_markov_without_conversions_gives_zero():
    result = markov(table(("a > b", 0, 0, 3)))
    assert result.conversion_probability == 0
    assert result.attribution["conversions"].tolist() == [0, 0]


# -- bad input ----------------------------------------------------------------------------------
HEADER = "path,total_conversions,total_conversion_value,total_null\n"


@pytest.mark.parametrize("text, message", [
    (HEADER, "no paths"),
    ("", "empty file"),
    (HEADER + "a > b,1,2,0\n,1,2,0\n", "line 3: empty path"),
    (HEADER + "a > b,1,2,0\na > > b,1,2,0\n", "line 3: empty channel name"),
    (HEADER + "a > b,1,2,0\nb,-1,2,0\n", "line 3: negative total_conversions"),
    (HEADER + "a > b,1,2,0\nb,1,2,-4\n", "line 3: negative total_null"),
    (HEADER + "a > b,1,2,0\nb,one,2,0\n", "line 3: total_conversions is 'one', not a number"),
    (HEADER + "a|b,1,2,0\nb|c,1,2,0\n", "line 2: path 'a|b' has no '>' separator but contains '|'"),
    ("path,conversions\na > b,1\n", "missing column(s) total_conversions"),
    (HEADER + "a > (start),1,2,0\n", "line 2: channel name '(start)' is reserved"),
])
def test_bad_path_tables_name_the_row(text, message):
    with pytest.raises(ParcoursError, match=message.replace("(", r"\(").replace(")", r"\)").replace("|", r"\|")):
        read_path_text(text, origin="f.csv")


@pytest.mark.parametrize("text, message", [
    (HEADER + "a > b,1,2,0\nb,inf,2,0\n", "line 3: total_conversions is 'inf', not a number"),
    (HEADER + "a > b,1,2,0\nb,1,lots,0\n", "line 3: total_conversion_value is 'lots', not a number"),
    (HEADER + "a > b,1,2,0\nb,1,-2,0\n", "line 3: negative total_conversion_value"),
    (HEADER + "a > b,1,2,0\n   ,1,2,0\n", "line 3: empty path"),
    (HEADER + "a > b >,1,2,0\n", "line 2: empty channel name in path 'a > b >'"),
])
def test_more_bad_rows_name_the_line(text, message):
    with pytest.raises(ParcoursError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_path_text(text, origin="f.csv")


def test_empty_separator_is_an_error():
    with pytest.raises(ParcoursError, match="f.csv: the path separator is empty"):
        read_path_text(HEADER + "a > b,1,2,0\n", sep="", origin="f.csv")


def test_cli_options_that_do_not_fit_the_source(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text(HEADER + "a > b,1,10,0\n")
    res = CliRunner().invoke(app, ["attribution", "--paths", str(f), "--segment", "buyers"])
    assert isinstance(res.exception, ParcoursError) and "not to a --paths file" in str(res.exception)
    res = CliRunner().invoke(app, ["--db", str(tmp_path / "s.duckdb"), "attribution", "--delimiter", ";"])
    assert isinstance(res.exception, ParcoursError) and "--delimiter applies to a --paths file only" in str(res.exception)
    res = CliRunner().invoke(app, ["attribution", "--paths", str(f), "--channels", "journey"])
    assert isinstance(res.exception, ParcoursError) and "only paths built from the store" in str(res.exception)


def test_bad_model_options():
    paths = table(("a > b", 1, 1, 0))
    with pytest.raises(ParcoursError, match="order 4"):
        markov(paths, order=4)
    with pytest.raises(ParcoursError, match="half-life"):
        time_decay(paths, half_life=0)
    with pytest.raises(ParcoursError, match="first=0.7, last=0.4"):
        position_based(paths, first=0.7, last=0.4)
    with pytest.raises(ParcoursError, match="unknown attribution model.*u_shaped"):
        attribute_paths(paths, ["linear", "u_shaped"])


def test_read_paths_missing_file(tmp_path):
    with pytest.raises(ParcoursError, match="path file not found"):
        read_paths(tmp_path / "nope.csv")


def test_one_column_file_says_the_delimiter_is_wrong(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("path;total_conversions\na > b;1\n")
    with pytest.raises(ParcoursError, match="delimiter is not ','"):
        read_paths(f, delimiter=",")


# -- CLI (keep it stable) ----------------------------------------------------------------------
def test_cli_paths_json_is_one_object_per_channel():
    res = CliRunner().invoke(app, ["attribution", "--paths", str(shared_path(CASES + "Data.csv")), "--sep", ">",
                                   "--model", "markov", "--order", "1", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert len(rows) == 12
    assert {"channel", "model", "conversions", "value"} <= set(rows[0])
    ref = pd.read_csv(shared_path(CASES + "markov_exact_order1.csv")).set_index("channel_name")
    for row in rows:
        assert row["model"] == "markov"
        assert row["conversions"] == pytest.approx(ref.loc[row["channel"], "total_conversions"], rel=1e-6)


def test_cli_comma_file_and_transitions(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text(HEADER + "a > b,1,10,0\nb > c,1,20,0\n")
    res = CliRunner().invoke(app, ["attribution", "--paths", str(f), "-m", "linear", "-m", "shapley", "-f", "json"])
    assert res.exit_code == 0, res.output
    assert [(r["model"], r["channel"], r["conversions"]) for r in json.loads(res.stdout)] == [
        ("linear", "b", 1.0), ("linear", "a", 0.5), ("linear", "c", 0.5),
        ("shapley", "b", 1.0), ("shapley", "a", 0.5), ("shapley", "c", 0.5)]
    res = CliRunner().invoke(app, ["attribution", "--paths", str(f), "--transitions", "-f", "json"])
    rows = {(r["from"], r["to"]): r["probability"] for r in json.loads(res.stdout)}
    assert rows[("b", "(conversion)")] == 0.5 and rows[("(start)", "a")] == 0.5


def test_cli_bad_file_is_an_error(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text(HEADER + "a > b,1,10,0\nb > c,-2,20,0\n")
    res = CliRunner().invoke(app, ["attribution", "--paths", str(f), "-f", "json"])
    assert isinstance(res.exception, ParcoursError)
    assert "line 3: negative total_conversions" in str(res.exception)


def test_cli_error_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    from parcours.cli.main import main

    f = tmp_path / "p.csv"
    f.write_text("path;total_conversions\na > b;1\nb |c;x\n")
    monkeypatch.setattr("sys.argv", ["parcours", "attribution", "--paths", str(f), "--format", "json"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "line 3: total_conversions is 'x', not a number" in err
