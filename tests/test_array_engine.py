"""The array path (gradcli/array_engine.py) through the Python API: values that are vectors and matrices.

Witnesses: the published seed vectors (tests/data/seed-vectors.jsonl), NumPy's own forward formulas
(written naively here, away from overflow), and central finite differences of those formulas.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import DATA, REPO, run_cli
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

import gradcli
from gradcli.errors import ExitStatus, MathError, ShapeError

SEED_VECTORS = DATA / "seed-vectors.jsonl"  # the copy of ../shared/conformance/seed-vectors.jsonl (test_conformance keeps it in sync)
with open(SEED_VECTORS, encoding="utf-8") as stream:
    SEEDS = [json.loads(line) for line in stream if line.strip()]


def central_gradient(f, x: np.ndarray) -> np.ndarray:
    """∂f/∂x element by element: (f(x + h) - f(x - h)) / 2h, h = 1e-6·max(1, |x|)."""
    gradient = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        h = 1e-6 * max(1.0, abs(x[index]))
        up, down = x.copy(), x.copy()
        up[index] += h
        down[index] -= h
        gradient[index] = (f(up) - f(down)) / (2 * h)
    return gradient


def assert_matches_differences(got, f, x):
    assert np.shape(got) == np.shape(x)
    np.testing.assert_allclose(got, central_gradient(f, x), rtol=1e-6, atol=1e-8)


# ----- the seed vectors: the course examples in vector form -----


@pytest.mark.parametrize("case", SEEDS, ids=[case["name"] for case in SEEDS])
def test_the_seed_vectors_give_the_published_value_and_gradient(case):
    result = gradcli.grad(case["expression"], case["at"])
    assert type(result.value) is float and math.isclose(result.value, case["value"], rel_tol=1e-9)
    assert list(result.gradient) == list(case["gradient"])
    for name, expected in case["gradient"].items():
        got = result.gradient[name]
        assert np.shape(got) == np.shape(case["at"][name])  # the gradient has its variable's shape
        if np.ndim(expected) == 0:
            assert type(got) is float
        else:
            assert isinstance(got, np.ndarray) and got.dtype == np.float64
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_softmax_cross_entropy_gives_a_minus_y():
    z, y = np.array([2.0, 1.0, 0.1]), np.array([1.0, 0.0, 0.0])
    result = gradcli.grad("a = softmax(z); L = -sum(y * log(a))", z=z, y=y)
    softmax = np.exp(z) / np.exp(z).sum()
    np.testing.assert_allclose(result.gradient["z"], softmax - y, rtol=1e-12, atol=1e-16)


def test_arrays_given_as_lists_numpy_arrays_or_numbers_agree():
    program = "z = w @ x + b; a = sigmoid(z); L = -(y*log(a) + (1 - y)*log(1 - a))"
    as_lists = gradcli.grad(program, w=[0.2, -0.4], x=[1, 3], b=0.5, y=0)
    as_arrays = gradcli.grad(program, w=np.array([0.2, -0.4]), x=np.array([1.0, 3.0]), b=np.float64(0.5), y=0.0)
    assert as_lists.value == as_arrays.value
    for name in ("w", "x", "b", "y"):
        np.testing.assert_array_equal(as_lists.gradient[name], as_arrays.gradient[name])


# ----- each array op: its forward against NumPy, its VJP against finite differences -----

VALUES = st.floats(-3, 3)
MATRICES = arrays(np.float64, array_shapes(min_dims=1, max_dims=2, max_side=4), elements=VALUES)


def naive_softmax(x, axis=-1):
    return np.exp(x) / np.exp(x).sum(axis=axis, keepdims=True)


REFERENCES = {  # the op as NumPy writes it, naively: inputs stay in [-3, 3]
    "sum": lambda x, axis=None: np.sum(x, axis=axis),
    "mean": lambda x, axis=None: np.mean(x, axis=axis),
    "softmax": naive_softmax,
    "log_softmax": lambda x, axis=-1: np.log(naive_softmax(x, axis)),
    "logsumexp": lambda x, axis=-1: np.log(np.exp(x).sum(axis=axis)),
}


def with_axis(source: str, op_name: str, axis: int | None):
    """The program parsed, with `axis=` set on the first node of the op, the innermost (the parser
    cannot write keywords yet)."""
    graph = gradcli.parse(source)
    if axis is not None:
        node = next(node for node, op in enumerate(graph.ops) if op is not None and op.name == op_name)
        graph.attributes[node] = {"axis": axis}
    return graph


@pytest.mark.parametrize("name", sorted(REFERENCES))
@given(x=MATRICES, data=st.data())
def test_each_array_op_against_numpy_and_finite_differences(name, x, data):
    axes = [None] if name in ("sum", "mean") else []
    axes += list(range(-x.ndim, x.ndim))
    axis = data.draw(st.sampled_from(axes))
    keywords = {} if axis is None else {"axis": axis}
    reference = REFERENCES[name]
    expected = reference(x, **keywords)
    got = gradcli.api.value_at(with_axis(f"{name}(X)", name, axis), {"X": x})[0]
    assert np.shape(got) == np.shape(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    # f = sum(R * op(X)), R random: its gradient is the VJP of the op at R
    r = data.draw(arrays(np.float64, np.shape(expected), elements=VALUES))
    result = gradcli.differentiate(with_axis(f"sum(R * {name}(X))", name, axis), {"R": r, "X": x})
    assert_matches_differences(result.gradient["X"], lambda v: np.sum(r * reference(v, **keywords)), x)


MATMUL_CASES = {  # (a's shape, b's shape) in terms of sizes m, n, p: the four cases of NumPy's matmul
    "vector @ vector": lambda m, n, p: ((n,), (n,)),
    "matrix @ vector": lambda m, n, p: ((m, n), (n,)),
    "vector @ matrix": lambda m, n, p: ((n,), (n, p)),
    "matrix @ matrix": lambda m, n, p: ((m, n), (n, p)),
}
SIDES = st.integers(1, 4)


@pytest.mark.parametrize("spelling", ["(A @ B)", "dot(A, B)"])
@pytest.mark.parametrize("case", list(MATMUL_CASES))
@given(m=SIDES, n=SIDES, p=SIDES, data=st.data())
def test_matmul_against_numpy_and_finite_differences(case, spelling, m, n, p, data):
    a_shape, b_shape = MATMUL_CASES[case](m, n, p)
    a = data.draw(arrays(np.float64, a_shape, elements=VALUES))
    b = data.draw(arrays(np.float64, b_shape, elements=VALUES))
    out_shape = np.shape(a @ b)
    np.testing.assert_allclose(gradcli.evaluate(spelling, A=a, B=b), a @ b, rtol=1e-13, atol=1e-13)
    r = data.draw(arrays(np.float64, out_shape, elements=VALUES))
    result = gradcli.grad(f"sum(R * {spelling})", R=r, A=a, B=b)
    assert_matches_differences(result.gradient["A"], lambda v: np.sum(r * (v @ b)), a)
    assert_matches_differences(result.gradient["B"], lambda v: np.sum(r * (a @ v)), b)


# ----- broadcasting forward, summing backward -----

W = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.5]])


@pytest.mark.parametrize("b, summed", [
    (np.array([0.5, -1.0, 2.0]), W.sum(axis=0)),  # a row added to each row of W
    (0.75, W.sum()),  # a scalar: every element
    (np.array([[2.0], [-0.5]]), W.sum(axis=1, keepdims=True)),  # a column added to each column
], ids=["(3,)", "()", "(2, 1)"])
def test_a_broadcast_input_gets_the_gradient_summed_back_to_its_shape(b, summed):
    result = gradcli.grad("sum(W * b)", W=W, b=b)
    assert np.shape(result.gradient["b"]) == np.shape(b)
    np.testing.assert_allclose(result.gradient["b"], summed, rtol=1e-15)
    np.testing.assert_array_equal(result.gradient["W"], np.broadcast_to(b, W.shape))
    assert_matches_differences(result.gradient["b"], lambda v: np.sum(W * v), np.array(b, dtype=float))


def test_an_input_broadcast_in_two_places_sums_both_contributions():
    b = np.array([0.5, -1.0, 2.0])
    result = gradcli.grad("sum(W * b) + sum(b)", W=W, b=b)
    np.testing.assert_allclose(result.gradient["b"], W.sum(axis=0) + 1, rtol=1e-15)


# ----- stable where the textbook formula overflows -----


def test_log_softmax_cross_entropy_at_large_logits_is_finite_and_exact():
    result = gradcli.grad("-sum(y * log_softmax(z))", z=[1000.0, 0.0, -1000.0], y=[1.0, 0.0, 0.0])
    assert result.value == 0.0
    assert result.gradient["z"].tolist() == [0.0, 0.0, 0.0]
    assert result.gradient["y"].tolist() == [0.0, 1000.0, 2000.0]
    assert gradcli.evaluate("logsumexp(z)", z=[1000.0, 0.0, -1000.0]) == 1000.0
    np.testing.assert_array_equal(gradcli.evaluate("softmax(z)", z=[1000.0, 0.0, -1000.0]), [1.0, 0.0, 0.0])


def test_a_math_error_names_the_element():
    with pytest.raises(MathError) as error:
        gradcli.grad("sum(log(z))", z=[1.0, -1.0, 2.0])
    assert error.value.message == "math error in log: the logarithm of a negative number (-1) is not real, at z[1]"
    assert error.value.exit_status == ExitStatus.MATH_ERROR
    with pytest.raises(MathError) as error:  # softmax underflows to 0 at z[1]: the log of it is the error
        gradcli.grad("a = softmax(z); L = -sum(y * log(a))", z=[1000.0, 0.0, -1000.0], y=[1.0, 0.0, 0.0])
    assert error.value.message == "math error in log: the logarithm of 0 is -infinity, at a[1]"


# ----- shapes that do not fit -----


@pytest.mark.parametrize("source, at, message", [
    ("sum(W @ x)", {"W": [[1, 2], [3, 4]], "x": [1, 2, 3]},
     "cannot multiply a 2×2 matrix by a vector of 3: inner sizes 2 and 3 differ"),
    ("sum(z + w)", {"z": [1, 2, 3], "w": [1, 2]}, "cannot add a vector of 3 and a vector of 2: sizes 3 and 2 differ"),
    ("sum(W - w)", {"W": [[1, 2, 3]], "w": [1, 2]},
     "cannot subtract a vector of 2 from a 1×3 matrix: sizes 3 and 2 differ (NumPy lines shapes up from the last axis)"),
    ("x @ z", {"x": 2, "z": [1, 2]},
     "cannot multiply a scalar by a vector of 2 with @: @ takes vectors and matrices; for a scalar factor, use *"),
    ("sum(softmax(x))", {"x": 2}, "softmax needs a vector or a matrix, not a scalar (it works along an axis)"),
])
def test_a_shape_mismatch_is_a_shape_error_naming_both_shapes(source, at, message):
    with pytest.raises(ShapeError) as error:
        gradcli.grad(source, at)
    assert error.value.message == message and error.value.exit_status == ExitStatus.BAD_INPUT


def test_an_axis_out_of_range_is_a_shape_error():
    with pytest.raises(ShapeError, match=r"sum\(\.\.\., axis=2\): a 2×3 matrix has axes 0 to 1"):
        gradcli.differentiate(with_axis("sum(sum(X))", "sum", 2), {"X": W})


@pytest.mark.parametrize("source, at, words, shape", [
    ("L = W @ x", {"W": [[1, 2], [3, 4], [5, 6]], "x": [1, 2]}, "L is a vector of 3", (3,)),
    ("z * 2", {"z": [[1, 2], [3, 4]]}, "f is a 2×2 matrix", (2, 2)),
])
def test_grad_of_a_vector_or_matrix_output_says_how_to_reduce_it(source, at, words, shape):
    with pytest.raises(ShapeError) as error:
        gradcli.grad(source, at)
    assert error.value.message == (f"grad needs a scalar output, but {words}: use 'gradcli jacobian', "
                                   f"or reduce it with sum(...) or mean(...)")
    assert np.shape(gradcli.evaluate(source, at)) == shape  # its value is fine


# ----- the Result, as the API returns it -----


def test_the_result_on_the_array_path():
    result = gradcli.grad("h = sigmoid(W @ x + b); s = u @ h", W=W, x=[1.0, 2.0, -1.0], b=0.5, u=[1.0, -2.0])
    assert result.shapes is not None and result.shapes[result.graph.output] == ()
    assert type(result.value) is float
    assert type(result.gradient["b"]) is float  # anything of shape () is a Python float
    assert result.gradient["W"].shape == (2, 3) and not result.gradient["W"].flags.writeable
    assert result.gradient["W"].flags.c_contiguous
    assert result.gradient_of("h").shape == (2,)  # a named intermediate
    assert gradcli.grad("(x+y)*z", x=-2, y=5, z=-4).shapes is None  # the scalar path


def test_wrt_limits_what_is_computed_and_an_unreached_variable_gets_zeros():
    graph = gradcli.parse("a = sum(w); L = sum(W @ x)")
    result = gradcli.differentiate(graph, {"w": [1.0, 2.0], "W": W, "x": [1.0, 2.0, 3.0]}, wrt=["x"])
    assert list(result.gradient) == ["x"]
    np.testing.assert_allclose(result.gradient["x"], W.sum(axis=0), rtol=1e-15)
    everything = gradcli.differentiate(graph, {"w": [1.0, 2.0], "W": W, "x": [1.0, 2.0, 3.0]})
    assert everything.gradient["w"].tolist() == [0.0, 0.0]  # the output does not depend on w


def test_array_ops_mark_the_program_and_scalar_programs_stay_scalar():
    assert gradcli.parse("L = sum(z)").uses_arrays
    assert gradcli.parse("s = u @ h").uses_arrays
    repeated = "\n".join(f"a{k} = sum(z{k})" for k in range(6)) + "\nL = a0"  # learned line shapes replay them
    assert gradcli.parse(repeated).uses_arrays
    assert not gradcli.parse("a = exp(x); b = max(a, y); sin(b)").uses_arrays


def test_a_scalar_grad_imports_neither_numpy_nor_the_array_engine():
    code = ("import sys, gradcli; r = gradcli.grad('(x+y)*z', x=-2, y=5, z=-4); print(r.gradient); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'numpy' or m == 'gradcli.array_engine'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["{'x': -4.0, 'y': -4.0, 'z': 3.0}", "[]"]


def test_points_refuses_an_array_program(tmp_path):
    points = tmp_path / "points.csv"
    points.write_text("z\n1\n2\n")
    run = run_cli("grad", "sum(z)", "--points", str(points))
    assert run.code == ExitStatus.BAD_INPUT and run.stdout == ""
    assert ("--points runs scalar programs row by row; vector and matrix values are not supported with --points "
            "yet") in run.stderr
