"""Batch mode (`grad EXPR --points FILE`, gradcli.batch): every row must be what one point gives.

The witness for each row is the single-point `gradcli.grad` at that row (the scalar path through
Python's math module), and for the course's neuron the published numbers.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import struct
import subprocess
import sys

import numpy as np
import pytest

import gradcli
from gradcli import batch, scalar
from gradcli.batch.run import run_points
from gradcli.errors import BindingError, ExitStatus, MathError
from gradcli.parse import parse

from conftest import REPO, seed_examples

NEURON = "sigmoid(w0*x0 + w1*x1 + w2)"
NEURON_NAMES = ["w0", "x0", "w1", "x1", "w2"]
KINKS = "relu(x) * max(y, z) + abs(x - y) + min(x, y, z)"

# Programs of correctly rounded operations (+ - * / sqrt) and selections (relu, max, min, abs):
# NumPy and math compute these identically, so the rows must match to the last bit.
EXACT_PROGRAMS = {
    "circuit": ("(x+y)*z", ["x", "y", "z"]),
    "kinks": (KINKS, ["x", "y", "z"]),
    "rational": ("q = x*y - z; f = q / (x*x + 1) + sqrt(z*z + y*y) - -x", ["x", "y", "z"]),
    "ties-of-three": ("max(x, y, z) * min(y, z) + relu(z - x)", ["x", "y", "z"]),
}

# NumPy's kernels for these may round differently from libm's in the last place.
TRANSCENDENTAL_PROGRAMS = {
    "neuron": (NEURON, NEURON_NAMES),
    "binary-xent": ("z = w*x + b; a = sigmoid(z); L = -(y*log(a) + (1-y)*log(1-a))", ["w", "x", "b", "y"]),
    "assorted": ("tanh(x*y) + sinh(x)*cosh(y) + atan2(x, y) + x^y + log10(x*x + 1) + softplus(y) + sin(x)/cos(y)",
                 ["x", "y"]),
}


def bits(number: float) -> bytes | str:
    """A float's exact bits (every nan counts as the same nan)."""
    return "nan" if number != number else struct.pack("<d", number)


def sample(names: list[str], rows: int, seed: int) -> dict[str, np.ndarray]:
    """Half small integers and halves (zeros and ties, the kinks), half normal draws."""
    random = np.random.default_rng(seed)
    kinks = random.choice([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0], size=(len(names), rows))
    smooth = np.round(random.normal(scale=2.0, size=(len(names), rows)), 4)
    pick = random.random(size=rows) < 0.5
    return {name: np.where(pick, kinks[i], smooth[i]) for i, name in enumerate(names)}


def single_point(source: str, names: list[str], columns: dict, row: int):
    """The single-point Result at a row, or the MathError it raises."""
    try:
        return gradcli.grad(source, {name: float(columns[name][row]) for name in names})
    except MathError as error:
        return error


def assert_row_matches(result: batch.Batch, row: int, expected, names: list[str]) -> None:
    if isinstance(expected, MathError):
        assert result.errors.get(row) == expected.message, f"row {row}"
        return
    assert row not in result.errors, f"row {row}: {result.errors.get(row)}"
    assert bits(result.value[row]) == bits(expected.value), f"row {row} value"
    for name in names:
        assert bits(result.gradient[name][row]) == bits(expected.gradient[name]), f"row {row} ∂/∂{name}"


def cli_points(cli, source: str, text: str, *options: str):
    """`grad SOURCE --points -` with `text` on stdin."""
    return cli("grad", source, "--points", "-", *options, input=text)


def read_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def read_jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def csv_text(names: list[str], rows: list[list]) -> str:
    return "\n".join([",".join(names), *(",".join(str(cell) for cell in row) for row in rows)]) + "\n"


def jsonl_text(names: list[str], rows: list[list]) -> str:
    return "".join(json.dumps(dict(zip(names, row))) + "\n" for row in rows)


# ----- each row equals one point -----


@pytest.mark.parametrize("source, names", EXACT_PROGRAMS.values(), ids=EXACT_PROGRAMS.keys())
def test_rows_equal_single_points_bit_for_bit(source, names):
    columns = sample(names, 400, seed=len(source))
    result = batch.gradients(source, columns)
    for row in range(400):
        assert_row_matches(result, row, single_point(source, names, columns, row), names)


@pytest.mark.parametrize("source, names", TRANSCENDENTAL_PROGRAMS.values(), ids=TRANSCENDENTAL_PROGRAMS.keys())
def test_rows_equal_single_points_given_the_same_elementary_functions(source, names, monkeypatch):
    """With the scalar namespace's exp, log, tanh... swapped for NumPy's kernels, rows match to the bit.

    So the batch runs the same graph, the same rules, in the same order; what is left between a
    batch row and `grad` is only how NumPy and libm round an elementary function (measured below).
    """
    for name in ("exp", "log", "log1p", "log10", "tanh", "sinh", "cosh", "sin", "cos", "atan2", "pow"):
        kernel = getattr(np, name)
        monkeypatch.setattr(scalar, name, lambda *a, kernel=kernel: float(kernel(*a)))
    columns = sample(names, 300, seed=len(source))
    with np.errstate(all="ignore"):
        result = batch.gradients(source, columns)
        expected = [single_point(source, names, columns, row) for row in range(300)]
    assert any(isinstance(e, MathError) for e in expected) == (source == TRANSCENDENTAL_PROGRAMS["assorted"][0])
    for row in range(300):
        assert_row_matches(result, row, expected[row], names)


def test_neuron_rows_are_exact_where_numpy_and_math_exp_agree():
    """Unpatched: where NumPy's exp and cosh agree with math's at a row, the row matches `grad` to
    the bit; elsewhere the value is within 1 ulp and the partials within the propagated rounding.
    (The forward rule of sigmoid takes exp(-|z|), its partial cosh(z/2).)"""
    columns = sample(NEURON_NAMES, 2000, seed=231)
    result = batch.gradients(NEURON, columns)
    agreeing = 0
    for row in range(2000):
        w0, x0, w1, x1, w2 = (float(columns[name][row]) for name in NEURON_NAMES)
        z = w0 * x0 + w1 * x1 + w2
        expected = gradcli.grad(NEURON, w0=w0, x0=x0, w1=w1, x1=x1, w2=w2)
        if float(np.exp(-abs(z))) == math.exp(-abs(z)) and float(np.cosh(0.5 * z)) == math.cosh(0.5 * z):
            agreeing += 1
            assert_row_matches(result, row, expected, NEURON_NAMES)
        else:
            assert abs(result.value[row] - expected.value) <= math.ulp(expected.value)
            for name in NEURON_NAMES:
                assert result.gradient[name][row] == pytest.approx(expected.gradient[name], rel=1e-13, abs=1e-300)
    assert agreeing > 1000  # the exact comparison covers most rows, so the test has teeth


def test_neuron_example_file_gives_the_course_numbers(cli):
    """examples/points.csv row 1 is the CS231n neuron; its numbers are the published ones."""
    seed = next(example for example in seed_examples() if example["name"] == "neuron-sigmoid-gate")
    run = cli("grad", seed["expression"], "--points", str(REPO / "examples" / "points.csv"))
    assert run.code == 0, run.stderr
    first = read_csv(run.stdout)[0]
    assert {name: float(first[name]) for name in seed["at"]} == seed["at"]
    assert float(first["f"]) == pytest.approx(seed["value"], rel=1e-15)
    for name, expected in seed["gradient"].items():
        assert float(first[f"df/d{name}"]) == pytest.approx(expected, rel=1e-15)
    assert first["error"] == ""


# ----- formats -----

FORMAT_ROWS = [[1, 2, 2], [0, -1, 0.5], [-2, -2, -2], [0.25, 3, -1], [2, 0, 0]]


@pytest.mark.parametrize("reading", ["csv", "jsonl"])
@pytest.mark.parametrize("writing", ["csv", "jsonl"])
def test_formats_both_ways_give_single_point_numbers(cli, reading, writing):
    names = ["x", "y", "z"]
    text = (csv_text if reading == "csv" else jsonl_text)(names, FORMAT_ROWS)
    run = cli_points(cli, KINKS, text, "--format", writing)
    assert run.code == 0, run.stderr
    rows = (read_csv if writing == "csv" else read_jsonl)(run.stdout)
    assert len(rows) == len(FORMAT_ROWS)
    assert list(rows[0]) == ["x", "y", "z", "f", "df/dx", "df/dy", "df/dz", "error", "notes"]
    for given, row in zip(FORMAT_ROWS, rows):
        expected = gradcli.grad(KINKS, dict(zip(names, given)))
        assert [float(row[name]) for name in names] == given
        assert bits(float(row["f"])) == bits(expected.value)
        assert [bits(float(row[f"df/d{name}"])) for name in names] == [bits(v) for v in expected.gradient.values()]
        assert row["error"] in ("", None)


def test_json_flag_means_json_lines_and_contradicting_csv_is_a_usage_error(cli):
    text = csv_text(["x", "y", "z"], FORMAT_ROWS)
    run = cli_points(cli, KINKS, text, "--json")
    assert run.code == 0 and len(read_jsonl(run.stdout)) == len(FORMAT_ROWS)
    run = cli_points(cli, KINKS, text, "--json", "--format", "csv")
    assert run.code == ExitStatus.BAD_INPUT and run.stdout == ""


def test_output_reads_back_as_points(cli):
    """The CSV written names the variables in its header, so it can be fed back in."""
    first = cli_points(cli, KINKS, csv_text(["x", "y", "z"], FORMAT_ROWS))
    again = cli_points(cli, KINKS, first.stdout)
    assert again.code == 0
    assert again.stdout == first.stdout
    assert "column 'f' is not a variable of the program" in again.stderr


def test_infinite_partials_are_spelled_like_json_output(cli):
    run = cli_points(cli, "sqrt(x)", "x\n0\n4\n", "--format", "jsonl")
    assert run.code == 0
    first, second = read_jsonl(run.stdout)
    assert first["df/dx"] == "inf" and first["f"] == 0.0 and second["df/dx"] == 0.25
    assert gradcli.grad("sqrt(x)", x=0).gradient["x"] == math.inf


# ----- notes per row, and the inputs as typed -----

NOTED_PROGRAMS = {  # kinks, infinite and undefined partials; each row is checked against `gradcli grad --at`
    "sqrt-times-x": ("sqrt(x)*x", ["x"], ()),
    "kinks": (KINKS, ["x", "y", "z"], ()),
    "power": ("x^y", ["x", "y"], ()),
    "atan2": ("atan2(y, x) + abs(x)", ["x", "y"], ()),
    "wrt-intermediate": ("q = relu(x) * y; f = sqrt(q)", ["x", "y"], ("--wrt", "q")),
}
GRID = [-1, 0, 0.5, 1, 2]


def warnings_of(run) -> list[str]:
    prefix = "gradcli: warning: "
    return [line.removeprefix(prefix) for line in run.stderr.splitlines() if line.startswith(prefix)]


@pytest.mark.parametrize("writing", ["csv", "jsonl"])
@pytest.mark.parametrize("source, names, options", NOTED_PROGRAMS.values(), ids=NOTED_PROGRAMS.keys())
def test_each_rows_notes_are_what_grad_warns_at_that_point(cli, source, names, options, writing):
    """The witness is the single-point command itself, run once per row."""
    points = [list(point) for point in itertools.product(GRID, repeat=len(names))]
    run = cli_points(cli, source, csv_text(names, points), "--format", writing, *options)
    rows = (read_csv if writing == "csv" else read_jsonl)(run.stdout)
    noted = 0
    for point, row in zip(points, rows):
        single = cli("grad", source, "--at", ",".join(f"{n}={v}" for n, v in zip(names, point)), *options)
        if single.code == ExitStatus.MATH_ERROR:
            assert row["error"].startswith("math error"), point
            continue
        assert single.code == 0, single.stderr
        notes = row["notes"] if writing == "jsonl" else [n for n in row["notes"].split(" | ") if n]
        assert notes == warnings_of(single), point
        noted += bool(notes)
    assert noted, "the grid reaches a kink or an undefined partial"
    assert f"{noted} of {len(points)} points in standard input have notes" in run.stderr


def test_the_issue_example_notes_the_kink_and_counts_it(cli):
    run = cli_points(cli, "sqrt(x)*x", "x\n0\n")
    assert run.code == 0
    assert run.stdout.splitlines() == [
        "x,f,df/dx,error,notes",
        "0,0.0,nan,,t1 = sqrt(x): sqrt is not differentiable here; "
        "convention: sqrt'(0) = +inf (the one-sided derivative)",
    ]
    assert "1 of 1 points in standard input have notes (see the notes column)" in run.stderr
    assert "line 2: t1 = sqrt(x): sqrt is not differentiable" in run.stderr


def test_a_note_met_on_many_rows_is_summarised_once_with_its_count(cli):
    run = cli_points(cli, "relu(x)", "x\n1\n0\n0\n2\n0\n")
    assert "3 of 5 points in standard input have notes" in run.stderr
    assert "line 3 and 2 more: f = relu(x): relu is not differentiable" in run.stderr


def test_rows_that_may_have_a_note_alone_take_the_single_point_path(monkeypatch):
    """The common case pays nothing for notes: without a kink op and with finite partials, no row is
    run again one by one; with relu, only the rows where its input is 0."""
    from gradcli.batch import chunk

    asked = []
    real = chunk.differentiate
    monkeypatch.setattr(chunk, "differentiate", lambda graph, point, **options: asked.append(point) or
                        real(graph, point, **options))
    columns = sample(NEURON_NAMES, 5000, seed=5)
    assert batch.gradients(NEURON, columns).notes == {} and asked == []
    result = batch.gradients("relu(x) * y", x=[1.0, 0.0, -2.0, 0.0], y=[3.0, 3.0, 0.0, 0.0])
    assert asked and all(point["x"] == 0 for point in asked) and sorted(result.notes) == [1, 3]


def test_every_kink_of_the_op_table_is_at_a_zero_or_a_tie():
    """What the batch relies on to find the rows where a kink may hold (gradcli/batch/chunk.py)."""
    from gradcli.ops import OPERATIONS

    values = [-2.0, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 2.0, 3.0]
    kinked = [op for op in OPERATIONS if op.kinks and op.elementwise]
    assert kinked
    for op in kinked:
        for arity in ([op.arity] if op.arity else [2, 3]):
            for point in itertools.product(values, repeat=arity):
                if op.kink_at(point) is not None:
                    assert 0 in point or len(set(point)) < len(point), (op.name, point)


def test_csv_inputs_are_echoed_byte_for_byte(cli):
    lines = ["x,y", "1,2.50", "-0,1e3", "  3 ,+4", ".5,7.", "1E-2,0.10", "abc,1", "inf,2", "5"]
    run = cli_points(cli, "x*y", "\n".join(lines) + "\n")
    output = run.stdout.splitlines()
    assert output[0] == "x,y,f,df/dx,df/dy,error,notes"
    for given, written in zip(lines[1:], output[1:]):
        assert written.startswith(given + ","), (given, written)
    assert float(read_csv(run.stdout)[3]["f"]) == 3.5


def test_json_inputs_are_echoed_byte_for_byte_and_stay_json(cli):
    lines = ['{"x": 1, "y": 2.50}', '{"x": -0, "y": 1E+3}', '{"x": true, "y": 1}', '{"x": "1", "y": 0.10}']
    run = cli_points(cli, "x*y", "\n".join(lines) + "\n", "--format", "jsonl")
    for given, written in zip(lines, run.stdout.splitlines()):
        assert written.startswith(given[:-1] + ", "), (given, written)
    rows = read_jsonl(run.stdout)  # every line is JSON
    assert rows[2]["x"] is True and rows[3]["x"] == "1"
    assert rows[0]["f"] == 2.5 and rows[0]["notes"] == []
    as_csv = cli_points(cli, "x*y", "\n".join(lines) + "\n")
    assert [line.split(",")[:2] for line in as_csv.stdout.splitlines()[1:]] == [
        ["1", "2.50"], ["-0", "1E+3"], ["true", "1"], ['"""1"""', "0.10"]]


def test_csv_cells_in_json_lines_output_are_json(cli):
    """A CSV cell that is not a JSON number (`+4`, `.5`, `7.`) is written as the number it reads as."""
    run = cli_points(cli, "x*y", "x,y\n+4,.5\n7.,1e3\nabc,1\n", "--format", "jsonl")
    rows = read_jsonl(run.stdout)
    assert [(row["x"], row["y"]) for row in rows] == [(4.0, 0.5), (7.0, 1000.0), ("abc", 1)]
    assert run.stdout.splitlines()[1].startswith('{"x": 7.0, "y": 1e3, ')


@pytest.mark.parametrize("given, message", [
    ("true", "the value of x must be a number, not true"),
    ("false", "the value of x must be a number, not false"),
    ("null", "no value for x"),
    ('"2"', 'the value of x must be a number, not "2"'),
    ("[1, 2.50]", "the value of x must be a number, not [1, 2.5]"),
    ("[" * 100_000 + "]" * 100_000, "not valid JSON (nested too deeply)"),
    ("1e400", "the value of x is too large for a double"),
    ("1" * 400, "the value of x is too large for a double"),
    ("NaN", "the value of x must be finite, not nan"),
])
def test_a_json_value_that_is_not_a_finite_number_is_an_error_row(cli, given, message):
    run = cli_points(cli, "x*y", f'{{"x": {given}, "y": 2}}\n{{"x": 1, "y": 2}}\n', "--format", "jsonl")
    assert run.code == ExitStatus.BAD_INPUT
    first, second = read_jsonl(run.stdout)
    assert first["error"] == message and first["f"] is None
    echoed = {"NaN": '"nan"', "[1, 2.50]": "[1, 2.5]"}.get(given, given)
    if not given.startswith("[["):
        assert run.stdout.startswith(f'{{"x": {echoed}, "y": 2, ')
    assert second["f"] == 2.0


def test_the_summary_speaks_japanese_and_the_columns_stay(cli):
    text = "x,y\n0,1\nabc,2\n0,3\n"
    english = cli_points(cli, "relu(x)*y", text)
    for japanese in (cli_points(cli, "relu(x)*y", text, "--lang", "ja"),
                     cli("grad", "relu(x)*y", "--points", "-", input=text, env={"GRADCLI_LANG": "ja"})):
        assert japanese.code == english.code == ExitStatus.BAD_INPUT
        assert japanese.stdout == english.stdout  # data: column names and cells as in English
        assert "gradcli: エラー: 標準入力 の 3 点のうち 1 点は結果なし（使えない入力 1 点）" in japanese.stderr
        assert "3 行目: x の値は数でなければならない（'abc' ではなく）" in japanese.stderr
        assert "gradcli: 警告: 標準入力 の 3 点のうち 2 点に注記あり（notes 列を参照）" in japanese.stderr
        assert "2 行目ほか 1 点: t1 = relu(x): relu はこの点で微分できない" in japanese.stderr
        assert "points" not in japanese.stderr and "line" not in japanese.stderr


def test_batch_warnings_speak_japanese(cli):
    run = cli_points(cli, "x*y", "x,y,id\n1,2,a\n", "--at", "y=3", "--lang", "ja")
    assert "gradcli: 警告: 列 'y' は無視する: --at が全行の y を与えている" in run.stderr
    assert "gradcli: 警告: 列 'id' はプログラムの変数ではないので無視する" in run.stderr
    run = cli_points(cli, "x*y", "x\n1\n", "--lang", "ja")
    assert run.code == ExitStatus.BAD_INPUT
    assert "標準入力 に y の列がない（列: x）。列を加えるか、--at y=値 で全行の値を与える" in run.stderr


# ----- errors per row -----

ERROR_ROWS = [[2, 1], [-1, 1], [3, 0], [0, 1], [1.5, 2]]


@pytest.mark.parametrize("writing", ["csv", "jsonl"])
def test_math_error_rows_get_the_single_point_message_and_exit_3(cli, writing):
    source = "log(x) / y"
    run = cli_points(cli, source, csv_text(["x", "y"], ERROR_ROWS), "--format", writing)
    assert run.code == ExitStatus.MATH_ERROR
    rows = (read_csv if writing == "csv" else read_jsonl)(run.stdout)
    empty = "" if writing == "csv" else None
    for given, row in zip(ERROR_ROWS, rows):
        try:
            expected = gradcli.grad(source, x=given[0], y=given[1])
        except MathError as error:
            assert row["error"] == error.message
            assert (row["f"], row["df/dx"], row["df/dy"]) == (empty, empty, empty)
            assert [float(row["x"]), float(row["y"])] == given  # the inputs are still echoed
        else:
            assert row["error"] == empty
            assert float(row["f"]) == expected.value and float(row["df/dx"]) == expected.gradient["x"]
    messages = [row["error"] for row in rows]
    assert "log of a negative" in messages[1] or "negative" in messages[1]
    assert "division by zero" in messages[2]
    assert "3 of 5 points in standard input have no result" in run.stderr
    assert "line 3:" in run.stderr and "line 5:" in run.stderr  # the header is line 1


def test_a_nan_hidden_by_a_later_node_is_still_an_error_as_for_one_point():
    """relu(nan) is 0, but `grad` refuses the point because a node has no value; so must the batch."""
    source = "relu(log(x)) + x"
    with pytest.raises(MathError) as single:
        gradcli.grad(source, x=-1.0)
    result = batch.gradients(source, x=[-1.0, 1.0])
    assert result.errors == {0: single.value.message}
    assert math.isnan(result.value[0]) and result.value[1] == 1.0


@pytest.mark.parametrize("source", ["x + log(-1)", "relu(log(-1)) + x"], ids=["propagated", "hidden"])
def test_a_constant_subexpression_without_a_value_fails_every_row(source):
    result = batch.gradients(source, x=[1.0, 2.0, 3.0])
    with pytest.raises(MathError) as single:
        gradcli.grad(source, x=1.0)
    assert result.errors == {0: single.value.message, 1: single.value.message, 2: single.value.message}


CSV_MALFORMED = "x,y\n1,2\nabc,1\n3\n,4\n5,6,7\ninf,1\n2,2\n"


def test_malformed_csv_rows_error_alone_and_exit_2(cli):
    """Decision: an unusable row (non-number, missing cell, wrong field count, not finite) gets its
    message in `error` like a math error; the rest is computed; the exit status is 2 (bad input)."""
    run = cli_points(cli, "x*y", CSV_MALFORMED)
    assert run.code == ExitStatus.BAD_INPUT
    rows = read_csv(run.stdout)
    assert [row["error"] for row in rows] == [
        "",
        "the value of x must be a number, not 'abc'",
        "the row has 1 field; the header has 2",
        "no value for x",
        "the row has 3 fields; the header has 2",
        "the value of x must be finite, not inf",
        "",
    ]
    assert [row["f"] for row in rows] == ["2.0", "", "", "", "", "", "4.0"]
    assert rows[1]["x"] == "abc"  # the input is echoed as given
    assert "5 of 7 points" in run.stderr and "5 with unusable input" in run.stderr


@pytest.mark.parametrize("cell", ["1_0", "١٢"])
def test_a_csv_cell_is_a_number_only_if_at_would_take_it(cli, cell):
    """Python's float() reads `1_0` as 10 and other scripts' digits; --at refuses them, and so does a row."""
    assert cli("grad", "x*y", "--at", f"x={cell},y=2").code == ExitStatus.BAD_INPUT
    run = cli_points(cli, "x*y", f"x,y\n{cell},2\n3,4\n")
    assert run.code == ExitStatus.BAD_INPUT
    assert [row["error"] for row in read_csv(run.stdout)] == [f"the value of x must be a number, not {cell!r}", ""]


def test_a_carriage_return_spoils_its_own_csv_line_only(cli):
    run = cli_points(cli, "x*y", "x,y\n1,2\n3,4\r5,6\n7,8\n")
    assert run.code == ExitStatus.BAD_INPUT
    rows = read_csv(run.stdout)
    assert [row["f"] for row in rows] == ["2.0", "", "56.0"]
    assert rows[1]["error"] == "not valid CSV (a carriage return inside an unquoted field)"
    assert "line 3: not valid CSV" in run.stderr


def test_an_oversized_csv_field_stops_the_run_after_the_rows_before_it(cli):
    """It may be an unclosed quote, so the lines after it cannot be trusted (`5` inside the quote
    is no row); the rows computed before it are still output."""
    lines = ["x,y", "1,2", "3,4", '"' + "a" * 200_000, "5", '"', "7,8"]
    run = cli_points(cli, "x*y", "\n".join(lines) + "\n")
    assert run.code == ExitStatus.BAD_INPUT
    assert [row["f"] for row in read_csv(run.stdout)] == ["2.0", "12.0"]
    assert "line 4: not valid CSV (field larger than field limit (131072))" in run.stderr


def test_a_json_line_that_names_a_variable_twice_is_an_error_row(cli):
    """`ｘ` is x after NFKC, as in a program or a CSV header (where two such names are refused)."""
    run = cli_points(cli, "x*y", '{"ｘ": 1, "x": 2, "y": 3}\n{"x": 2, "y": 3}\n', "--format", "jsonl")
    assert run.code == ExitStatus.BAD_INPUT
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert [row["error"] for row in rows] == ['the keys "ｘ" and "x" both name x', None]
    assert rows[1]["f"] == 6.0


def test_a_program_that_is_a_variable_gets_a_value_column_of_its_own(cli):
    run = cli_points(cli, "x", "x\n1.5\n")
    assert run.code == ExitStatus.OK
    assert read_csv(run.stdout) == [{"x": "1.5", "f": "1.5", "df/dx": "1.0", "error": "", "notes": ""}]


def test_malformed_json_lines_error_alone_and_exit_2(cli):
    text = '{"x": 1, "y": 2}\n[1, 2]\n{"x": "3", "y": 1}\n{"y": 1}\nnot json\n{"x": true, "y": 1}\n\n{"x": 2, "y": 2}\n'
    run = cli_points(cli, "x*y", text, "--format", "jsonl")
    assert run.code == ExitStatus.BAD_INPUT
    rows = read_jsonl(run.stdout)
    assert [row["error"] for row in rows] == [
        None,
        'a line must be a JSON object such as {"x": 1.5}',
        'the value of x must be a number, not "3"',
        "no value for x",
        "not valid JSON (Expecting value)",
        "the value of x must be a number, not true",
        None,
    ]
    assert rows[0]["f"] == 2.0 and rows[-1]["f"] == 4.0
    assert "line 5: no value for x" not in run.stderr and "line 4: no value for x" in run.stderr


def test_unusable_input_outranks_math_errors_in_the_exit_status(cli):
    run = cli_points(cli, "log(x)", "x\n-1\nabc\n2\n")
    assert run.code == ExitStatus.BAD_INPUT
    assert "1 with unusable input, 1 with a math error" in run.stderr


# ----- the header, --at and stdin -----


def test_a_header_missing_a_variable_is_refused_before_any_output(cli):
    run = cli_points(cli, "(x+y)*z", "x,y\n1,2\n")
    assert run.code == ExitStatus.BAD_INPUT
    assert run.stdout == ""
    assert "has no column for z" in run.stderr and "--at z=" in run.stderr


@pytest.mark.parametrize("text, warning", [
    ("id,x,y\nfirst,2,3\n", "column 'id' is not a variable of the program"),
    ('{"id": "first", "x": 2, "y": 3}\n', "key 'id' is ignored"),
], ids=["csv", "jsonl"])
def test_unknown_columns_are_ignored_with_a_warning(cli, text, warning):
    run = cli_points(cli, "x*y", text)
    assert run.code == 0
    assert warning in run.stderr
    assert read_csv(run.stdout)[0]["f"] == "6.0"


def test_empty_input_is_refused_and_a_header_alone_gives_no_rows(cli):
    assert cli_points(cli, "x", "").code == ExitStatus.BAD_INPUT
    run = cli_points(cli, "x*2", "x\n")
    assert run.code == 0 and run.stdout == "x,f,df/dx,error,notes\n"


def test_at_fixes_a_variable_for_every_row(cli):
    rows = [[2, -1, -3, -2], [1, 1, 1, 1], [0.5, -0.5, 2, 0]]
    run = cli_points(cli, NEURON, csv_text(["w0", "x0", "w1", "x1"], rows), "--at", "w2=-3")
    assert run.code == 0, run.stderr
    for given, row in zip(rows, read_csv(run.stdout)):
        expected = gradcli.grad(NEURON, dict(zip(["w0", "x0", "w1", "x1"], given)), w2=-3)
        assert float(row["w2"]) == -3.0
        assert float(row["f"]) == pytest.approx(expected.value, rel=1e-15)
        assert float(row["df/dw2"]) == pytest.approx(expected.gradient["w2"], rel=1e-13)


def test_at_overrides_a_column_with_a_warning(cli):
    run = cli_points(cli, "x*y", "x,y\n2,3\n4,5\n", "--at", "y=10")
    assert run.code == 0
    assert [row["f"] for row in read_csv(run.stdout)] == ["20.0", "40.0"]
    assert "column 'y' is ignored: --at gives y" in run.stderr


def test_points_from_a_file_and_from_stdin_agree(cli, tmp_path):
    text = csv_text(["x", "y", "z"], FORMAT_ROWS)
    path = tmp_path / "points.csv"
    path.write_text(text)
    from_file = cli("grad", KINKS, "--points", str(path))
    assert from_file.code == 0 and from_file.stdout == cli_points(cli, KINKS, text).stdout


def test_program_and_points_cannot_both_read_stdin(cli):
    run = cli("grad", "-", "--points", "-", input="x\n1\n")
    assert run.code == ExitStatus.BAD_INPUT
    assert "standard input" in run.stderr


def test_a_missing_points_file_is_bad_input(cli, tmp_path):
    run = cli("grad", "x", "--points", str(tmp_path / "absent.csv"))
    assert run.code == ExitStatus.BAD_INPUT and "cannot read" in run.stderr


def test_format_without_points_is_a_usage_error(cli):
    assert cli("grad", "x", "--at", "x=1", "--format", "jsonl").code == ExitStatus.BAD_INPUT


def test_wrt_selects_partials_including_named_intermediates(cli):
    run = cli_points(cli, "q = x + y; f = q * z", "x,y,z\n-2,5,-4\n", "--wrt", "q,z")
    assert run.code == 0
    row = read_csv(run.stdout)[0]
    assert list(row) == ["x", "y", "z", "f", "df/dq", "df/dz", "error", "notes"]
    assert (float(row["df/dq"]), float(row["df/dz"])) == (-4.0, 3.0)  # CS231n: ∂f/∂q = z, ∂f/∂z = q


def test_a_column_name_clash_is_refused(cli):
    run = cli_points(cli, "error + x", "error,x\n1,2\n")  # a variable named like the error column
    assert run.code == ExitStatus.BAD_INPUT and "two columns named error" in run.stderr


# ----- chunks -----


def test_many_rows_in_several_chunks_equal_one_chunk():
    names = ["x", "y", "z"]
    columns = sample(names, 1000, seed=7)
    columns["x"][[3, 500, 999]] = [np.nan, -np.inf, np.nan]  # input errors in different chunks
    source = "log(x*x) * max(y, z) / (y - z)"
    with np.errstate(all="ignore"):
        whole = batch.differentiate_many(parse(source), columns, chunk_rows=10**6)
        for size in (1, 7, 128):
            pieces = batch.differentiate_many(parse(source), columns, chunk_rows=size)
            assert pieces.errors == whole.errors
            assert [bits(v) for v in pieces.value] == [bits(v) for v in whole.value]
            for name in names:
                assert [bits(v) for v in pieces.gradient[name]] == [bits(v) for v in whole.gradient[name]]
    assert whole.errors[3] == "the value of x must be finite, not nan"
    assert any(message.startswith("math error") for message in whole.errors.values())
    whole = batch.differentiate_many(parse(KINKS), columns, chunk_rows=10**6)
    assert len(whole.notes) > 100
    for size in (1, 7, 128):
        assert batch.differentiate_many(parse(KINKS), columns, chunk_rows=size).notes == whole.notes


def run_text(text: str, source: str = "x*y", **options):
    """gradcli.batch.run.run_points on `text` (as a points file), capturing stdout, stderr and warnings."""
    stdout, stderr, said = io.StringIO(), io.StringIO(), []
    stdin = io.TextIOWrapper(io.BytesIO(text.encode()))
    saved, sys.stdin = sys.stdin, stdin
    try:
        status = run_points(parse(source), {}, "-", options.pop("output_format", "csv"), None,
                                  warn=said.append, say=said.append, stdout=stdout, stderr=stderr, **options)
    finally:
        sys.stdin = saved
    return status, stdout.getvalue(), stderr.getvalue(), said


@pytest.mark.parametrize("reading", ["csv", "jsonl"])
def test_cli_chunks_give_the_same_output_as_one_chunk(reading):
    rows = [[k / 7 - 40, (k % 13) - 6] for k in range(600)] + [["oops", 1], [1, 2]]
    text = (csv_text if reading == "csv" else jsonl_text)(["x", "y"], rows)
    outputs = {size: run_text(text, "log(x) * y", chunk_rows=size)[:2] for size in (1, 5, 64, 10**6)}
    assert len(set(outputs.values())) == 1
    status, stdout = outputs[1]
    assert status == ExitStatus.BAD_INPUT and stdout.count("\n") == 603
    assert stdout.count("math error in log") == 281  # x = k/7 - 40 ≤ 0 for k ≤ 280


class Discard:
    """A stdout that keeps nothing, so that only the batch's own memory is measured."""

    def write(self, text: str) -> int:
        return len(text)


@pytest.mark.parametrize("reading", ["csv", "jsonl"])
def test_memory_stays_flat_as_rows_grow(reading):
    """Ten times the rows, about the same peak: nothing grows with the number of rows."""
    import tracemalloc

    peaks = []
    for rows in (2_000, 20_000):
        text = (csv_text if reading == "csv" else jsonl_text)(["x", "y"], [[k % 17 - 8, k % 5] for k in range(rows)])
        stdin = io.TextIOWrapper(io.BytesIO(text.encode()))
        saved, sys.stdin = sys.stdin, stdin
        tracemalloc.start()
        try:
            run_points(parse("log(x) * y"), {}, "-", "csv", None, warn=print, say=lambda message: None,
                             stdout=Discard(), stderr=io.StringIO(), chunk_rows=500)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
            sys.stdin = saved
    assert peaks[1] < 1.5 * peaks[0], peaks


# ----- progress bar -----


def test_no_progress_bar_when_stderr_is_not_a_terminal():
    status, _, stderr, _ = run_text("x,y\n1,2\n", terminal=False, progress_after=0)
    assert status == 0 and stderr == ""


def test_no_progress_bar_with_quiet_even_on_a_terminal():
    status, _, stderr, _ = run_text("x,y\n1,2\n", terminal=True, quiet=True, progress_after=0)
    assert status == 0 and stderr == ""


def test_no_progress_bar_for_a_short_run_on_a_terminal():
    _, _, stderr, _ = run_text("x,y\n1,2\n", terminal=True)
    assert stderr == ""


def test_progress_bar_shows_rows_done_on_a_terminal():
    text = "x,y\n" + "1,2\n" * 2500
    status, stdout, stderr, _ = run_text(text, terminal=True, progress_after=0, chunk_rows=1000)
    assert status == 0 and stdout.count("\n") == 2501
    assert "2,500 rows" in stderr and "━" in stderr
    assert "━" not in stdout


def test_cli_quiet_and_not_a_terminal_print_nothing_on_stderr(cli):
    for options in ((), ("--quiet",)):
        run = cli_points(cli, "x*y", "x,y\n1,2\n", *options)
        assert run.code == 0 and run.stderr == ""


# ----- the Python API -----


def test_api_numbers_broadcast_like_at():
    result = batch.gradients("x*y + z", x=[1.0, 2.0, 3.0], y=10, z=np.array([0.5, 0.5, 0.5]))
    assert result.value.tolist() == [10.5, 20.5, 30.5]
    assert result.gradient["y"].tolist() == [1.0, 2.0, 3.0]
    assert result.gradient["z"].tolist() == [1.0, 1.0, 1.0]
    assert result.output == "f" and result.errors == {}


def test_api_output_that_depends_on_no_column_still_has_one_entry_per_row():
    result = batch.gradients("q = a*2; f = q + b*0 + 1", a=3.0, b=[1.0, 2.0])
    assert result.value.tolist() == [7.0, 7.0]
    assert result.gradient["a"].tolist() == [2.0, 2.0]


@pytest.mark.parametrize("columns, message", [
    ({"x": [1.0, 2.0], "y": [1.0]}, "different lengths"),
    ({"x": [1.0]}, "no value for y"),
    ({"x": [1.0], "y": [1.0], "pi": 3}, "is a constant"),
    ({"x": ["a"], "y": [1.0]}, "must be numbers"),
    ({"x": [[1.0]], "y": [1.0]}, "one-dimensional"),
], ids=["lengths", "missing", "constant", "text", "matrix"])
def test_api_refuses_bad_columns(columns, message):
    with pytest.raises(BindingError, match=message):
        batch.gradients("x*y", columns)


def test_api_warns_about_unused_names_like_grad():
    assert batch.gradients("x*2", x=[1.0], w=[2.0]).warnings == gradcli.grad("x*2", x=1.0, w=2.0).warnings


def test_numpy_is_imported_only_when_a_batch_runs():
    code = ("import sys, gradcli.batch, gradcli.cli; "
            "print(sorted(m for m in ('numpy', 'rich', 'sympy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stdout.strip() == "[]"
