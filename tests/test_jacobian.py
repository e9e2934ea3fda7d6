"""`gradcli jacobian` and the API's jacobian: the Jacobian of the output with respect to each
variable, shaped output + variable (JAX's convention).

Witnesses: the closed forms of the course material computed here with NumPy (σ'(z) = σ(1 − σ) on a
diagonal, ∂(Wx + b)/∂x = W and ∂/∂b = I, softmax's diag(a) − a aᵀ), central finite differences of
NumPy functions for random programs, and `grad` itself for a scalar output, whose Jacobian is its
gradient.
"""

from __future__ import annotations

import importlib
import json
import shlex

import numpy as np
import pytest
from conftest import REPO, run_cli
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from test_cli import help_examples

from gradcli.errors import ExitStatus
from gradcli.jacobian import jacobian

JACOBIAN_MODULE = importlib.import_module("gradcli.jacobian")  # the module, whatever gradcli.jacobian names


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def softmax(v):
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def jacobian_json(*args: str) -> dict:
    run = run_cli("jacobian", *args, "--json")
    assert run.code == 0, run.stderr
    return run.json()


# ----- the course's Jacobians, through the command line -----


def test_the_sigmoid_jacobian_is_diagonal_with_sigma_times_one_minus_sigma():
    z = np.array([0.5, -1.0, 2.0])
    document = jacobian_json("sigmoid(z)", "--at", "z=[0.5,-1,2]")
    s = sigmoid(z)
    np.testing.assert_allclose(document["value"], s, rtol=1e-15)
    got = np.array(document["jacobian"]["z"])
    assert got.shape == (3, 3) and document["shapes"] == {"z": [3], "f": [3]}
    np.testing.assert_allclose(np.diagonal(got), s * (1 - s), rtol=1e-14)
    assert (got[~np.eye(3, dtype=bool)] == 0).all()  # exactly 0 off the diagonal
    screen = run_cli("jacobian", "sigmoid(z)", "--at", "z=[0.5,-1,2]", env={"COLUMNS": "120"}).stdout
    assert "∂f/∂z  (3 × 3: output 3, z 3)" in screen
    assert "diagonal: each entry of f depends only on the matching entry of z (elementwise)" in screen


W = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
X = np.array([1.0, 0.0, -1.0])
AFFINE = ("W @ x + b", "--at", "W=[[1,2,3],[4,5,6]],x=[1,0,-1],b=[0.5,0.5]")


def test_the_affine_map_has_jacobian_w_in_x_the_identity_in_b_and_x_in_rows_of_w():
    document = jacobian_json(*AFFINE)
    assert document["value"] == (W @ X + 0.5).tolist()
    jacobians = {name: np.array(value) for name, value in document["jacobian"].items()}
    assert list(jacobians) == ["W", "x", "b"]
    assert (jacobians["x"] == W).all()
    assert (jacobians["b"] == np.eye(2)).all()
    # ∂f[i]/∂W[j, k] = x[k] where i = j, else 0
    assert jacobians["W"].shape == (2, 2, 3)
    assert (jacobians["W"] == np.eye(2)[:, :, None] * X[None, None, :]).all()
    assert document["shapes"] == {"W": [2, 3], "x": [3], "b": [2], "f": [2]}


def test_the_affine_view_labels_rows_and_columns_flattens_w_and_names_the_identity():
    run = run_cli(*("jacobian", *AFFINE), env={"COLUMNS": "120"})
    assert run.code == 0
    lines = [line.split() for line in run.stdout.splitlines()]
    assert ["x[0]", "x[1]", "x[2]"] in lines and ["f[1]", "4", "5", "6"] in lines
    assert ["f[0]", "1", "0", "-1", "0", "0", "0"] in lines  # ∂f[0]/∂W: x in W's first row
    assert "∂f/∂W  (2 × 6: output 2, W 2×3)" in run.stdout
    assert "flattened: a row per entry of f, a column per entry of W, in C order" in run.stdout
    b_block = run.stdout.partition("∂f/∂b  (")[2]
    assert "the identity: ∂f/∂b = I" in b_block and "diagonal" not in run.stdout


def test_the_softmax_jacobian_is_diag_a_minus_a_a_transposed():
    z = np.array([2.0, 1.0, 0.1])
    got = np.array(jacobian_json("softmax(z)", "--at", "z=[2,1,0.1]")["jacobian"]["z"])
    a = softmax(z)
    np.testing.assert_allclose(got, np.diag(a) - np.outer(a, a), rtol=1e-14, atol=1e-16)


def test_a_matrix_output_has_the_output_axes_first_and_is_shown_flattened():
    w = np.array([[1.0, -2.0], [0.5, 3.0]])
    result = jacobian("tanh(W)", W=w)
    got = result.jacobian["W"]
    assert got.shape == (2, 2, 2, 2) and not got.flags.writeable
    expected = np.zeros((2, 2, 2, 2))
    for i, j in np.ndindex(2, 2):
        expected[i, j, i, j] = 1 - np.tanh(w[i, j]) ** 2
    np.testing.assert_allclose(got, expected, rtol=1e-14)
    screen = run_cli("jacobian", "tanh(W)", "--at", "W=[[1,-2],[0.5,3]]", env={"COLUMNS": "120"}).stdout
    assert "∂f/∂W  (4 × 4: output 2×2, W 2×2)" in screen and "flattened" in screen
    row = next(line for line in screen.splitlines() if line.strip().startswith("f[1, 0]"))
    assert row.split("]")[1].split() == ["0", "0", f"{1 - np.tanh(0.5) ** 2:.12g}", "0"]


# ----- a scalar output: the Jacobian is the gradient -----


@pytest.mark.parametrize("program, at", [
    ("x*y", "x=2,y=3"),
    ("a = softmax(z); L = -sum(y * log(a))", "z=[2,1,0.1],y=[1,0,0]"),
    ("z = W @ x + b; h = sigmoid(z); s = u @ h", "W=[[0.1,-0.2,0.3],[0,0.5,-0.1]],x=[1,2,-1],b=[0.1,-0.1],u=[1,-2]"),
])
def test_a_scalar_outputs_jacobian_is_grads_gradient(program, at):
    document = jacobian_json(program, "--at", at)
    graded = run_cli("grad", program, "--at", at, "--json").json()
    assert document["value"] == graded["value"]
    assert document["jacobian"] == graded["gradient"]  # scalars stay plain numbers, arrays keep their shapes


def test_a_scalar_program_shows_its_gradient_as_one_row():
    run = run_cli("jacobian", "x*y", "--at", "x=2,y=3")
    assert run.code == 0
    assert "∂f/∂(x, y)  (1 × 2: output scalar, 2 scalar variables)" in run.stdout
    assert ["f", "3", "2"] in [line.split() for line in run.stdout.splitlines()]


def test_scalar_variables_of_a_vector_output_share_one_matrix():
    """[x*y, x + y] at (2, 3): the textbook 2×2 Jacobian, a column per variable."""
    result = jacobian("[x*y, x + y]", x=2.0, y=3.0)
    assert result.jacobian["x"].tolist() == [3.0, 1.0] and result.jacobian["y"].tolist() == [2.0, 1.0]
    lines = [line.split() for line in run_cli("jacobian", "[x*y, x + y]", "--at", "x=2,y=3").stdout.splitlines()]
    assert ["x", "y"] in lines and ["f[0]", "3", "2"] in lines and ["f[1]", "1", "1"] in lines


# ----- random programs against central finite differences -----

N = st.integers(1, 3)
ENTRIES = st.floats(-2, 2)
STEPS = {  # (how the program writes it, the same with NumPy)
    "tanh": ("tanh({})", lambda v, a, z: np.tanh(v)),
    "sigmoid": ("sigmoid({})", lambda v, a, z: sigmoid(v)),
    "softmax": ("softmax({})", lambda v, a, z: softmax(v)),
    "matmul": ("A @ ({})", lambda v, a, z: a @ v),
    "times z": ("({}) * z", lambda v, a, z: v * z),
    "over a norm": ("({}) / (1 + sum(z * z))", lambda v, a, z: v / (1 + np.sum(z * z))),
}
ENDS = {  # the output: a vector, or a matrix
    "vector": ("{}", lambda v, a, z: v),
    "outer": ("outer({}, z)", lambda v, a, z: np.outer(v, z)),
    "broadcast": ("A * ({})", lambda v, a, z: a * v),
}


def central_jacobian(f, x: np.ndarray) -> np.ndarray:
    """∂f/∂x by central differences, shaped f's output + x's shape."""
    columns = []
    for index in np.ndindex(x.shape):
        h = 1e-6 * max(1.0, abs(x[index]))
        up, down = x.copy(), x.copy()
        up[index] += h
        down[index] -= h
        columns.append((f(up) - f(down)) / (2 * h))
    out_shape = np.shape(columns[0])
    return np.moveaxis(np.array(columns), 0, -1).reshape(out_shape + x.shape)


@given(n=N, data=st.data(), steps=st.lists(st.sampled_from(list(STEPS)), max_size=3),
       end=st.sampled_from(list(ENDS)))
def test_a_random_programs_jacobian_matches_central_differences(n, data, steps, end):
    a = data.draw(arrays(np.float64, (n, n), elements=ENTRIES), label="A")
    z = data.draw(arrays(np.float64, (n,), elements=ENTRIES), label="z")
    source, chain = "A @ z", [lambda v, a, z: a @ z]
    for step in [*steps, None]:
        text, function = STEPS[step] if step else ENDS[end]
        source, chain = text.format(source), [*chain, function]

    def program(a, z):
        v = None
        for function in chain:
            v = function(v, a, z)
        return v

    result = jacobian(source, A=a, z=z)
    assert list(result.jacobian) == ["A", "z"]
    for name, x, f in (("A", a, lambda v: program(v, z)), ("z", z, lambda v: program(a, v))):
        expected = central_jacobian(f, x)
        got = result.jacobian[name]
        assert got.shape == np.shape(program(a, z)) + x.shape, (source, name)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7, err_msg=f"{source}: ∂/∂{name}")


# ----- options: --wrt, --data, --full -----


def test_wrt_limits_the_jacobians_in_the_json():
    document = jacobian_json(*AFFINE, "--wrt", "x")
    assert list(document["jacobian"]) == ["x"]
    assert document["jacobian"]["x"] == W.tolist()


def test_wrt_limits_what_is_computed_not_only_what_is_shown(monkeypatch):
    """All three Jacobians of W @ x + b have 2 × (6 + 3 + 2) = 22 entries, x's alone 6: under a
    limit of 10, asking for x only must still work."""
    monkeypatch.setattr(JACOBIAN_MODULE, "MAX_JACOBIAN_ENTRIES", 10)
    refused = run_cli("jacobian", *AFFINE)
    assert refused.code == ExitStatus.BAD_INPUT
    assert "have 22 entries in all, and the limit is 10; choose fewer variables with --wrt" in refused.stderr
    assert run_cli("jacobian", *AFFINE, "--wrt", "x").code == 0


def test_data_gets_no_jacobian():
    document = jacobian_json("a = softmax(z); L = -sum(y * log(a))", "--at", "z=[2,1,0.1],y=[1,0,0]", "--data", "y")
    assert list(document["jacobian"]) == ["z"] and document["data"] == ["y"]
    a = softmax(np.array([2.0, 1.0, 0.1]))
    np.testing.assert_allclose(document["jacobian"]["z"], a - [1, 0, 0], rtol=1e-12, atol=1e-16)


def test_a_large_jacobian_is_summarised_unless_full():
    at = "z=[" + ",".join(["0.5"] * 9) + "]"  # 81 entries: more than a grid prints
    summarised = run_cli("jacobian", "sigmoid(z)", "--at", at, env={"COLUMNS": "200"})
    slope = f"{sigmoid(0.5) * (1 - sigmoid(0.5)):.12g}"
    assert f"9×9 matrix: [0, 0] = {slope} … [8, 8] = {slope}" in summarised.stdout
    assert "(--full prints every entry)" in summarised.stdout and "z[8]" not in summarised.stdout
    assert "diagonal" in summarised.stdout  # said of a summarised Jacobian too
    full = run_cli("jacobian", "sigmoid(z)", "--at", at, "--full", env={"COLUMNS": "200"})
    assert "z[8]" in full.stdout and "f[8]" in full.stdout and "…" not in full.stdout


# ----- errors and notes, as grad has them -----


def test_an_output_with_too_many_entries_is_refused_before_any_maths(tmp_path):
    point = tmp_path / "point.json"
    point.write_text(json.dumps({"z": [0.5] * (JACOBIAN_MODULE.MAX_OUTPUT_ENTRIES + 1)}))
    run = run_cli("jacobian", "sigmoid(z)", "--at-file", str(point))
    assert run.code == ExitStatus.BAD_INPUT and run.stdout == ""
    assert "f is a vector of 10001: its Jacobian takes one reverse sweep per entry" in run.stderr
    assert 'gradcli grad "sum(...)"' in run.stderr and "(f[0])" in run.stderr


def test_a_shape_error_is_bad_input():
    run = run_cli("jacobian", "W @ x", "--at", "W=[[1,2],[3,4]],x=[1,2,3]")
    assert run.code == ExitStatus.BAD_INPUT
    assert "cannot multiply a 2×2 matrix by a vector of 3: inner sizes 2 and 3 differ" in run.stderr


def test_a_math_error_names_the_element():
    run = run_cli("jacobian", "log(z)", "--at", "z=[1,-1]")
    assert run.code == ExitStatus.MATH_ERROR and run.stdout == ""
    assert "the logarithm of a negative number (-1) is not real, at z[1]" in run.stderr


def test_a_kink_is_noted_naming_its_entries():
    run = run_cli("jacobian", "relu(z)", "--at", "z=[0,1]", "--json")
    assert run.code == 0
    assert run.json()["jacobian"]["z"] == [[0.0, 0.0], [0.0, 1.0]]  # relu'(0) = 0
    assert any("relu is not differentiable here" in w and w.endswith("(at z[0])") for w in run.json()["warnings"])
    assert "(at z[0])" in run.stderr


def test_a_constant_program_has_no_jacobian():
    run = run_cli("jacobian", "[1, 2] * 3")
    assert run.code == 0 and "no variables: the value is a constant, and there is no Jacobian" in run.stdout
    assert run_cli("jacobian", "[1, 2] * 3", "--json").json()["jacobian"] == {}


# ----- Japanese -----


def test_the_view_speaks_japanese():
    run = run_cli(*("jacobian", *AFFINE), "--lang", "ja", env={"COLUMNS": "120"})
    assert run.code == 0
    assert "∂f/∂x のヤコビ行列  （2 × 3: 出力 2、x 3）" in run.stdout
    assert "単位行列: ∂f/∂b = I" in run.stdout and "平坦化して表示" in run.stdout
    diagonal = run_cli("jacobian", "sigmoid(z)", "--at", "z=[0.5,-1,2]", "--lang", "ja", env={"COLUMNS": "120"})
    assert "対角行列: f の各要素は z の対応する要素だけに依存する" in diagonal.stdout
    scalar = run_cli("jacobian", "x*y", "--at", "x=2,y=3", "--lang", "ja")
    assert "∂f/∂(x, y) のヤコビ行列  （1 × 2: 出力 スカラー、スカラー変数 2 個）" in scalar.stdout


def test_the_refusals_speak_japanese(monkeypatch):
    monkeypatch.setattr(JACOBIAN_MODULE, "MAX_OUTPUT_ENTRIES", 1)
    rows = run_cli("jacobian", "sigmoid(z)", "--at", "z=[1,2]", "--lang", "ja")
    assert rows.code == ExitStatus.BAD_INPUT
    assert "f は 長さ 2 のベクトル: ヤコビ行列には出力の要素ごとに逆伝播が 1 回必要で、上限は 1 要素" in rows.stderr
    monkeypatch.setattr(JACOBIAN_MODULE, "MAX_OUTPUT_ENTRIES", 10)
    monkeypatch.setattr(JACOBIAN_MODULE, "MAX_JACOBIAN_ENTRIES", 3)
    entries = run_cli("jacobian", "sigmoid(z)", "--at", "z=[1,2]", "--lang", "ja")
    assert entries.code == ExitStatus.BAD_INPUT
    assert "f（長さ 2 のベクトル）の z についてのヤコビ行列は合わせて 4 要素あり、上限は 3。--wrt で変数を減らす" in entries.stderr


# ----- help -----


@pytest.mark.parametrize("example", help_examples("jacobian"))
def test_every_example_in_the_help_runs(example, monkeypatch):
    monkeypatch.chdir(REPO)
    words = shlex.split(example)
    assert words[:2] == ["gradcli", "jacobian"]
    run = run_cli(*words[1:])
    assert run.code == 0, (example, run.stderr)
    assert run.stdout.strip()
