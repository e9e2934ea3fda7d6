"""Vectors and matrices in and out, through the command line as a user types it.

Values in: `--at 'z=[2,1,0.1]'`, nested lists for matrices, elements as constant expressions,
and every malformed value named by its position (exit 2). Values out: `--json` with nested
lists and plain numbers for scalars, the human table with its shape column and its blocks at
any width, in English and Japanese. What is not built yet for vectors exits 2 and says so, and
a scalar program's output is what it always was. Reference numbers come from NumPy written out
here (softmax, the chain rule by hand), never from gradcli's own output.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from conftest import run_cli

import gradcli
from gradcli.errors import BindingError

SOFTMAX_XENT = "a = softmax(z); L = -sum(y * log(a))"
WINDOW_SCORE = "z = W @ x + b; h = sigmoid(z); s = u @ h"
WINDOW_AT = "W=[[0.1,-0.2,0.3],[0,0.5,-0.1]],x=[1,2,-1],b=[0.1,-0.1],u=[1,-2]"
AFFINE_LOSS = "Y = X @ W + b; L = -sum(T * log_softmax(Y)) / 2"
AFFINE_AT = "X=[[1,2],[0.5,-1]],W=[[0.1,0.2,-0.3],[0.4,-0.5,0.6]],b=[0,0.1,-0.1],T=[[0,0,1],[0,1,0]]"


def softmax(z):
    e = np.exp(np.asarray(z, dtype=float) - np.max(z))
    return e / e.sum()


def window_score_gradient():
    """CS224N lecture 3 by hand: δ = u ⊙ σ'(z), ∂s/∂W = δ xᵀ, ∂s/∂x = Wᵀ δ, ∂s/∂b = δ, ∂s/∂u = h."""
    W = np.array([[0.1, -0.2, 0.3], [0, 0.5, -0.1]])
    x, b, u = np.array([1.0, 2, -1]), np.array([0.1, -0.1]), np.array([1.0, -2])
    h = 1 / (1 + np.exp(-(W @ x + b)))
    delta = u * h * (1 - h)
    return u @ h, {"W": np.outer(delta, x), "x": W.T @ delta, "b": delta, "u": h}


# ----- values in -----

def test_a_vector_softmax_cross_entropy_gives_a_minus_y():
    run = run_cli("grad", SOFTMAX_XENT, "--at", "z=[2,1,0.1],y=[1,0,0]", "--json")
    assert run.code == 0, run.stderr
    document = run.json()
    a = softmax([2, 1, 0.1])
    assert document["value"] == pytest.approx(-math.log(a[0]), rel=1e-12)
    assert document["gradient"]["z"] == pytest.approx((a - [1, 0, 0]).tolist(), rel=1e-12)
    assert document["gradient"]["y"] == pytest.approx((-np.log(a)).tolist(), rel=1e-12)
    assert document["at"] == {"z": [2.0, 1.0, 0.1], "y": [1.0, 0.0, 0.0]}


def test_elements_may_be_constant_expressions_and_brackets_keep_their_commas():
    run = run_cli("grad", "sum(z * w)", "--at", "z=[pi/4, 2^-1, max(1, 3)],w=[1,2,3]", "--json")
    assert run.code == 0, run.stderr
    document = run.json()
    assert document["at"]["z"] == [math.pi / 4, 0.5, 3.0]
    assert document["gradient"]["w"] == [math.pi / 4, 0.5, 3.0]
    assert document["gradient"]["z"] == [1.0, 2.0, 3.0]


def test_values_from_several_options_and_data_in_brackets():
    run = run_cli("grad", SOFTMAX_XENT, "--at", "z=[2,1,0.1]", "--data", "y=[1,0,0]", "--json")
    assert run.code == 0, run.stderr
    document = run.json()
    assert document["data"] == ["y"] and list(document["gradient"]) == ["z"]
    assert document["gradient"]["z"] == pytest.approx((softmax([2, 1, 0.1]) - [1, 0, 0]).tolist(), rel=1e-12)


@pytest.mark.parametrize("at, position", [
    ("W=[[1,2,3],[4,5]],x=[1,2,3]", "W[1] has 2 elements, but W[0] has 3: a matrix's rows must all have the same length"),
    ("W=[[1,2,3],[4,5,6]],x=[1,[2],3]", "x[1] is a list where a number was expected"),
    ("W=[[1,2,3],[4,5,6]],x=[[1,2],3]", "x[1] is a number where a list was expected"),
    ("W=[[1,2,3],[4,5,6]],x=[]", "x = []: an empty list has no value"),
    ("W=[[1,2,3],[4,5,6]],x=[[],[]]", "x[0] = []: an empty list has no value"),
    ("W=[[1,2,3],[4,5,6]],x=[1,2,1e999]", "x[2] must be finite, not inf"),
    ("W=[[1,2,3],[4,5,6]],x=[1,2,-1e999]", "x[2] must be finite, not -inf"),
    ("W=[[1,2,3],[4,5,6]],x=[1,2,inf]", "x[2] = inf"),
    ("W=[[1,2,a],[4,5,6]],x=[1,2,3]", "W[0, 2] = a: a is not a number"),
    ("W=[[1,2,3],[4,5,6]],x=[1,true,3]", "x[1] = true"),
    ("W=[[1,2,3],[4,5,6]],x=[1,,3]", "x[1] has no value"),
    ("W=[[1,2,3],[4,5,6]],x=[1,2,3,]", "x[3] has no value"),
    ("W=[[1,2,3],[4,5,6]],x=[1,2,3", "'[' is not closed"),
    ("W=[[1,2,3],[4,5,6]],x=[1,2,3]]", "text after the closing ']'"),
    ("W=[[1,2,3],[4,5,6]],x=[[1] 2]", "after ']'"),
    ("W=[[1,2,3],[4,5,6]],x=" + "[" * 40 + "1" + "]" * 40, "more than 32 levels of nested lists"),
    ("W=[[1,2,3],[4,5,6]],x=" + "[" * 100_000 + "1" + "]" * 100_000, "more than 32 levels of nested lists"),
])
def test_a_malformed_value_exits_2_naming_the_position(at, position):
    run = run_cli("grad", "sum(W @ x)", "--at", at)
    assert run.code == 2, (run.code, run.stderr)
    assert position in run.stderr, run.stderr
    assert run.stderr.startswith("gradcli: error: --at"), run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""


def test_a_malformed_value_is_named_in_japanese_too():
    run = run_cli("grad", "sum(W @ x)", "--at", "W=[[1,2,3],[4,5]],x=[1,2,3]", "--lang", "ja")
    assert run.code == 2
    assert "W[1] の要素は 2 個だが、W[0] は 3 個: 行列の行はすべて同じ長さでなければならない" in run.stderr, run.stderr


@pytest.mark.parametrize("value, message", [
    ([[1, 2, 3], [4, 5]], "W[1] has 2 elements, but W[0] has 3: a matrix's rows must all have the same length"),
    ([[1, 2, "a"], [4, 5, 6]], 'W[0, 2] is "a", not a number'),
    ([[1, 2, True], [4, 5, 6]], "W[0, 2] is true, not a number"),
    ([[1, 2, math.inf], [4, 5, 6]], "W[0, 2] must be finite, not inf"),
    (np.array([[1, 2, np.nan], [4, 5, 6]]), "W[0, 2] must be finite, not nan"),
    ([[1, 2, 10 ** 400], [4, 5, 6]], "W[0, 2] is too large for a double"),
    (np.array([True, False]), "W holds booleans, not numbers"),
    (np.array([1 + 2j]), "W holds complex numbers; gradcli works with real numbers"),
    (np.zeros((0, 3)), "W has shape (0, 3): an empty array has no value"),
    ([], "W = []: an empty list has no value"),
])
def test_the_python_api_checks_arrays_as_the_command_line_does(value, message):
    with pytest.raises(BindingError) as raised:
        gradcli.grad("sum(W)", W=value)
    assert raised.value.message == message


def test_the_api_takes_lists_and_arrays_and_leaves_the_callers_array_writable():
    z = np.array([2.0, 1.0, 0.1])
    result = gradcli.grad(SOFTMAX_XENT, z=z, y=[1, 0, 0])
    assert z.flags.writeable  # the caller's own array is not changed
    assert not result.at["z"].flags.writeable  # no rule can write to the point
    assert result.at["y"].dtype == np.float64 and result.at["y"].flags.c_contiguous
    assert result.gradient["z"].shape == (3,)
    assert result.gradient["z"] == pytest.approx(softmax(z) - [1, 0, 0], rel=1e-12)
    scalar = gradcli.grad("sum(z) * b", z=[1, 2], b=np.float64(3))  # shape (): a plain float
    assert type(scalar.gradient["b"]) is float and scalar.gradient["b"] == 3.0


# ----- JSON out -----

def test_json_has_nested_lists_plain_scalars_and_shapes():
    run = run_cli("grad", AFFINE_LOSS, "--at", AFFINE_AT, "--json")
    assert run.code == 0, run.stderr
    document = run.json()
    assert document["shapes"] == {"X": [2, 2], "W": [2, 3], "b": [3], "T": [2, 3], "Y": [2, 3], "L": []}
    assert type(document["value"]) is float
    X = np.array([[1, 2], [0.5, -1]])
    W = np.array([[0.1, 0.2, -0.3], [0.4, -0.5, 0.6]])
    b, T = np.array([0, 0.1, -0.1]), np.array([[0.0, 0, 1], [0, 1, 0]])
    Y = X @ W + b
    probabilities = np.exp(Y) / np.exp(Y).sum(axis=1, keepdims=True)
    dY = (probabilities - T) / 2  # DLFS 5.6.3: (y - t) / batch size
    expected = {"X": dY @ W.T, "W": X.T @ dY, "b": dY.sum(axis=0)}  # b was broadcast: summed back to (3,)
    for name, gradient in expected.items():
        assert np.shape(document["gradient"][name]) == gradient.shape
        np.testing.assert_allclose(document["gradient"][name], gradient, rtol=1e-9, atol=1e-15, err_msg=name)


def test_json_writes_a_non_finite_entry_as_a_string():
    run = run_cli("grad", "sum(sqrt(z))", "--at", "z=[0,4]", "--json")
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout)["gradient"]["z"] == ["inf", 0.25]


def test_eval_of_a_vector_prints_it():
    run = run_cli("eval", "2 * z", "--at", "z=[1,2.5]", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["value"] == [2.0, 5.0]
    assert run_cli("eval", "2 * z", "--at", "z=[1,2.5]").stdout == "[2, 5]\n"


SCALAR_JSON = ('{"version": 1, "expression": "(x+y)*z", "output": "f", "at": {"x": -2.0, "y": 5.0, "z": -4.0}, '
               '"value": -12.0, "gradient": {"x": -4.0, "y": -4.0, "z": 3.0}, "warnings": []}\n')
SCALAR_TABLE = """f = -12
variable  value  ∂f/∂variable
─────────────────────────────
x            -2            -4
y             5            -4
z            -4             3
"""


def test_a_scalar_programs_output_is_unchanged():
    """Byte for byte what gradcli printed before vectors (README's example): no "shapes", no shape column."""
    assert run_cli("grad", "(x+y)*z", "--at", "x=-2,y=5,z=-4", "--json").stdout == SCALAR_JSON
    assert run_cli("grad", "(x+y)*z", "--at", "x=-2,y=5,z=-4").stdout == SCALAR_TABLE


# ----- the human table -----

def numbers_in(text: str) -> list[str]:
    """Every number printed, in order, as a whole word (brackets and commas taken off)."""
    return [word.strip("[],") for word in text.split() if re.fullmatch(r"[\[]*-?[\d.]+(e[-+]\d+)?[\],]*", word)]


@pytest.mark.parametrize("columns", [40, 80, 120])
def test_the_table_fits_the_width_without_cutting_a_number(columns):
    run = run_cli("grad", WINDOW_SCORE, "--at", WINDOW_AT, env={"COLUMNS": str(columns)})
    assert run.code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert max(len(line) for line in lines) <= columns, run.stdout
    value, gradient = window_score_gradient()
    assert lines[0] == f"s = {value:.12g}"
    printed = numbers_in(run.stdout)
    for name, partial in gradient.items():
        for entry in np.ravel(partial):
            assert f"{entry:.12g}" in printed, (name, entry, run.stdout)


def test_the_table_has_a_shape_column_and_a_block_for_each_matrix():
    run = run_cli("grad", WINDOW_SCORE, "--at", WINDOW_AT, env={"COLUMNS": "120"})
    rows = {line.split()[0]: line.split() for line in run.stdout.splitlines()[3:7]}
    assert [rows[name][1] for name in "Wxbu"] == ["2×3", "3", "2", "2"]
    _, gradient = window_score_gradient()
    block = run.stdout.split("∂s/∂W  (2×3, W's shape)\n", 1)[1].splitlines()[:2]
    assert [numbers_in(line) for line in block] == [[f"{v:.12g}" for v in row] for row in gradient["W"]]
    assert len({line.index("]") for line in block}) == 1  # the columns are aligned: the rows end together


def test_a_scalar_among_vectors_is_shown_as_a_scalar():
    run = run_cli("grad", "z = w @ x + b; L = sigmoid(z)", "--at", "w=[0.2,-0.4],x=[1,3],b=0.5")
    row = next(line for line in run.stdout.splitlines() if line.startswith("b "))
    assert row.split()[:3] == ["b", "scalar", "0.5"]


def test_a_long_vector_is_summarised_by_its_corners_and_norm():
    values = list(range(1, 101))
    run = run_cli("grad", "sum(z * z) / 2", "--at", f"z=[{','.join(map(str, values))}]", env={"COLUMNS": "200"})
    assert run.code == 0, run.stderr
    norm = math.sqrt(sum(v * v for v in values))
    assert f"vector of 100: [0] = 1 … [99] = 100, norm {norm:.12g}" in run.stdout


def test_the_table_speaks_japanese():
    run = run_cli("grad", WINDOW_SCORE, "--at", WINDOW_AT, "--lang", "ja", env={"COLUMNS": "120"})
    assert run.code == 0, run.stderr
    heading = run.stdout.splitlines()[1].split()
    assert heading == ["入力変数", "形", "値", "∂s/∂変数"]
    assert "∂s/∂W  （2×3、W と同じ形）" in run.stdout


# ----- what is not built for vectors yet -----

@pytest.mark.parametrize("args, what", [
    (["diff", SOFTMAX_XENT], "diff"),
    (["diff", "x * y", "--at", "x=[1,2],y=3"], "diff"),
])
def test_what_is_not_built_for_vectors_yet_exits_2_and_says_so(args, what):
    run = run_cli(*args)
    assert run.code == 2, (run.code, run.stderr)
    assert run.stderr == (f"gradcli: error: {what} does not work on vectors and matrices yet; plain `gradcli grad` "
                          f"gives their value and gradient\n")
    assert run.stdout == ""


def test_an_expected_partial_must_be_a_number():
    run = run_cli("check", "x * y", "--at", "x=1,y=2", "--expect", "x=[1,2]")
    assert run.code == 2
    assert "--expect x=[1,2]: an expected partial is a number" in run.stderr


def test_the_graph_of_a_vector_program_without_a_point_still_draws():
    run = run_cli("graph", SOFTMAX_XENT)
    assert run.code == 0, run.stderr
    assert "a = softmax(z)" in run.stdout
