"""What messages and printed programs say: each names what the user gave, reads as English, and
(for a printed program) parses back to the same program."""

from __future__ import annotations

import io

import pytest
from conftest import run_cli

import gradcli
import gradcli.batch
import gradcli.batch.run
from gradcli.cli.inputs import Inputs
from gradcli.errors import ExitStatus
from gradcli.parse import parse


def test_points_refuses_vectors_with_the_one_message_the_batch_api_gives(tmp_path):
    points = tmp_path / "points.csv"
    points.write_text("x\n1\n", encoding="utf-8")
    run = run_cli("grad", "sum(z) * x", "--points", str(points), "--at", "z=[1,2]")
    assert run.code == ExitStatus.BAD_INPUT
    assert gradcli.batch.SCALAR_ROWS_ONLY in " ".join(run.stderr.split())
    assert gradcli.batch.run.SCALAR_ROWS_ONLY is gradcli.batch.SCALAR_ROWS_ONLY  # written once


def test_the_point_remembers_which_option_gave_each_value(tmp_path):
    point_file = tmp_path / "point.json"
    point_file.write_text('{"w": 1, "x": 2, "y": 3}', encoding="utf-8")
    inputs = Inputs("w*x*y", None, ([("x", 5.0)],), ([("y", 0.0), ("w", None)],), False, str(point_file))
    assert inputs.at == {"w": 1.0, "x": 5.0, "y": 0.0}
    assert inputs.given_by == {"w": "--at-file", "x": "--at", "y": "--data"}


@pytest.mark.parametrize("text, ignored", [
    ("x,y\n1,2\n", "column 'y' is ignored: --data gives y for every row"),
    ('{"x": 1, "y": 2}\n', "key 'y' is ignored: --data gives y for every row"),
    ('{"x": 1, "id": 7}\n', "key 'id' is ignored: it is not a variable of the program"),
], ids=["csv", "jsonl", "jsonl-unknown"])
def test_a_column_that_data_fixes_is_said_to_be_fixed_by_data(tmp_path, text, ignored):
    points = tmp_path / ("points.csv" if text.startswith("x") else "points.jsonl")
    points.write_text(text, encoding="utf-8")
    warnings: list[str] = []
    code = gradcli.batch.run.run_points(parse("x*y"), {"y": 5.0}, str(points), given_by={"y": "--data"},
                                        warn=warnings.append, say=warnings.append, stdout=io.StringIO(),
                                        terminal=False)
    assert code == ExitStatus.OK
    assert warnings == [ignored]


def test_a_column_that_at_fixes_is_still_said_to_be_fixed_by_at(tmp_path):
    points = tmp_path / "points.csv"
    points.write_text("x,y\n1,2\n", encoding="utf-8")
    run = run_cli("grad", "x*y", "--points", str(points), "--at", "y=10")
    assert run.code == 0
    assert "column 'y' is ignored: --at gives y for every row" in run.stderr


@pytest.mark.parametrize("lang, expected", [
    ("en", "max() takes 1 argument, or 2 or more, none given"),
    ("ja", "max() の引数は 1 個か 2 個以上 だが、一つも与えられていない"),
])
def test_the_arity_of_max_reads_as_a_sentence(lang, expected):
    run = run_cli("eval", "max()", "--lang", lang)
    assert run.code == ExitStatus.BAD_INPUT
    assert expected in run.stderr


@pytest.mark.parametrize("source", ["q = 2; q.T", "q = 2; f = -q.T", "q = pi; r = q; f = r.T * x", "f = W.T @ x"])
def test_a_printed_transpose_parses_back_to_the_same_program(source):
    """A transpose of a number prints in its call form, transpose(2): the parser refuses 2.T."""
    graph = parse(source)
    for printed in (graph.expression(), graph.program()):
        again = parse(printed)
        assert again.expression() == graph.expression()
        point = {name: 0.5 for name in again.variables} if "W" not in again.variables else {"W": [[1, 2]], "x": [3]}
        assert gradcli.evaluate(printed, point) == pytest.approx(gradcli.evaluate(source, point))


def test_a_column_that_data_fixes_says_data(tmp_path):
    points = tmp_path / "points.csv"
    points.write_text("x,y\n1,2\n", encoding="utf-8")
    run = run_cli("grad", "x*y", "--points", str(points), "--data", "y=5")
    assert run.code == 0 and "column 'y' is ignored: --data gives y for every row" in run.stderr
