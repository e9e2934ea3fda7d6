"""The array ops of stage 2 through the Python API, as a program writes them: max(X) and min(X),
outer, norm, transpose (A.T), indexing (z[1], X[1, 0]), lists ([a, b, c]) and dot.

Witnesses: NumPy's own functions for every forward, and central finite differences of them for
every vector-Jacobian product (through f = sum(R * op(X)), whose gradient in X is the op's VJP at
R). Where an op is not differentiable, the convention is checked against what it promises: a
two-way tie's even split is the symmetric (central) derivative, and the note names the entries.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import REPO, run_cli
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from test_array_engine import SIDES, VALUES, assert_matches_differences

import gradcli
from gradcli.errors import ExitStatus, ShapeError
from gradcli.ops import OPS

SHAPES = array_shapes(min_dims=1, max_dims=2, max_side=4)
MATRICES = arrays(np.float64, SHAPES, elements=VALUES)
# Entries of [-3, 3] at least 0.01 apart: a near tie would be a kink within finite differences' reach.
DISTINCT = arrays(np.float64, SHAPES, elements=st.integers(-300, 300).map(lambda k: k / 100), unique=True)


def weights_for(data, like) -> np.ndarray:
    """A random R of the op's output shape."""
    return data.draw(arrays(np.float64, np.shape(like), elements=VALUES))


# ----- max(X) and min(X): reductions, ties split evenly -----

EXTREMES = {"max": np.max, "min": np.min}


@pytest.mark.parametrize("name", list(EXTREMES))
@given(x=DISTINCT, data=st.data())
def test_max_and_min_of_one_argument_against_numpy_and_finite_differences(name, x, data):
    axis = data.draw(st.sampled_from([None, *range(-x.ndim, x.ndim)]))
    call = f"{name}(X)" if axis is None else f"{name}(X, axis={axis})"
    reference = EXTREMES[name]
    expected = reference(x, axis=axis)
    got = gradcli.evaluate(call, X=x)
    assert np.shape(got) == np.shape(expected)
    np.testing.assert_array_equal(got, expected)  # max picks an entry: exact
    r = weights_for(data, expected)
    gradient = gradcli.grad(f"sum(R * {call})", R=r, X=x).gradient["X"]
    assert_matches_differences(gradient, lambda v: np.sum(r * reference(v, axis=axis)), x)


def test_one_argument_max_is_the_reduction_and_more_arguments_stay_elementwise():
    assert gradcli.parse("max(X)").ops[-1] is OPS["amax"]
    assert gradcli.parse("min(X)").ops[-1] is OPS["amin"]
    for source in ("max(a, b)", "max(a, b, c)", "min(a, b)"):
        assert gradcli.parse(source).ops[-1].elementwise, source
    # elementwise max of a vector and a number, broadcast: the vector form of relu
    result = gradcli.grad("sum(max(z, 0))", z=[-1.0, 2.0, 3.0])
    assert result.value == 5.0 and result.gradient["z"].tolist() == [0.0, 1.0, 1.0]
    assert gradcli.grad("max(a, b)", a=2.0, b=3.0).gradient == {"a": 0.0, "b": 1.0}  # the scalar path, unchanged


def test_a_tie_splits_the_gradient_evenly_and_is_noted_naming_the_entries():
    result = gradcli.grad("max(z)", z=[1.0, 1.0, 0.0])
    assert result.value == 1.0
    assert result.gradient["z"].tolist() == [0.5, 0.5, 0.0]
    assert [note.message for note in result.notes] == [
        "max is not differentiable here; convention: the gradient is split evenly among the tied entries "
        "(½ each for two) (at z[0], z[1])"]
    three = gradcli.grad("min(z)", z=[-2.0, 5.0, -2.0, -2.0]).gradient["z"]
    np.testing.assert_allclose(three, [1 / 3, 0.0, 1 / 3, 1 / 3], rtol=1e-15)


def test_a_two_way_tie_share_is_the_symmetric_derivative():
    """At a tie of two, (f(x + h) - f(x - h)) / 2h is exactly ½: the convention is the central difference."""
    z = np.array([1.0, 1.0, 0.0, -3.0])
    assert_matches_differences(gradcli.grad("max(z)", z=z).gradient["z"], np.max, z)


def test_ties_along_an_axis_split_within_their_own_group():
    x = np.array([[1.0, 2.0, 0.5], [1.0, 0.0, 0.5]])  # columns 0 and 2 tie, column 1 does not
    result = gradcli.grad("sum(R * min(X, axis=0))", R=[1.0, 2.0, 4.0], X=x)
    np.testing.assert_array_equal(result.gradient["X"], [[0.5, 0.0, 2.0], [0.5, 2.0, 2.0]])
    assert result.notes[0].message.endswith("(at X[0, 0], X[0, 2], X[1, 0], X[1, 2])")  # not column 1


def test_max_of_one_number_asks_for_a_second_argument():
    run = run_cli("grad", "max(x)", "--at", "x=1")
    assert run.code == ExitStatus.BAD_INPUT and run.stdout == ""
    assert ("max() of one argument reduces a vector or a matrix, but its argument is a scalar; to compare "
            "numbers, give two or more arguments: max(a, b)") in run.stderr


def test_the_tie_note_through_the_cli_in_both_languages():
    run = run_cli("grad", "max(z)", "--at", "z=[1,1,0]", "--json")
    assert run.code == 0 and run.json()["gradient"]["z"] == [0.5, 0.5, 0.0]
    assert "(at z[0], z[1])" in run.stderr
    run = run_cli("grad", "max(z)", "--at", "z=[1,1,0]", "--lang", "ja")
    assert run.code == 0 and "同点の要素で勾配を等分する（2 つなら ½ ずつ）（z[0], z[1] で）" in run.stderr


# ----- norm(X): Euclidean (Frobenius for a matrix), without overflow, 0 at 0 -----


@given(x=MATRICES, r=VALUES)
def test_norm_against_numpy_and_finite_differences(x, r):
    assume(np.linalg.norm(x) > 1e-2)
    np.testing.assert_allclose(gradcli.evaluate("norm(X)", X=x), np.linalg.norm(x), rtol=1e-14)
    gradient = gradcli.grad("R * norm(X)", R=r, X=x).gradient["X"]
    assert_matches_differences(gradient, lambda v: r * np.linalg.norm(v), x)


@pytest.mark.parametrize("scale", [1e200, 1e-200])
def test_norm_neither_overflows_nor_underflows(scale):
    """The textbook √(Σ x²) squares 1e200 to inf and 1e-200 to 0."""
    result = gradcli.grad("norm(x)", x=[3 * scale, 4 * scale])
    assert result.value == pytest.approx(5 * scale, rel=1e-15)
    np.testing.assert_allclose(result.gradient["x"], [0.6, 0.8], rtol=1e-15)


def test_norm_at_zero_has_gradient_zero_by_convention_and_says_so():
    result = gradcli.grad("norm(W)", W=[[0.0, 0.0], [0.0, 0.0]])
    assert result.value == 0.0
    assert result.gradient["W"].tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert [note.message for note in result.notes] == [
        "norm is not differentiable here; convention: norm'(0) = 0: the gradient at the zero vector is 0 (as PyTorch)"]
    assert gradcli.grad("norm(x)", x=[0.0, 1e-300]).notes == []  # tiny is not zero


# ----- outer, transpose, and dot as a name (test_array_engine tests it as matmul) -----


@given(m=SIDES, n=SIDES, data=st.data())
def test_outer_against_numpy_and_finite_differences(m, n, data):
    u = data.draw(arrays(np.float64, (m,), elements=VALUES))
    v = data.draw(arrays(np.float64, (n,), elements=VALUES))
    np.testing.assert_array_equal(gradcli.evaluate("outer(u, v)", u=u, v=v), np.outer(u, v))
    r = weights_for(data, np.outer(u, v))
    result = gradcli.grad("sum(R * outer(u, v))", R=r, u=u, v=v)
    assert_matches_differences(result.gradient["u"], lambda w: np.sum(r * np.outer(w, v)), u)
    assert_matches_differences(result.gradient["v"], lambda w: np.sum(r * np.outer(u, w)), v)


@pytest.mark.parametrize("spelling", ["X.T", "transpose(X)"])
@given(x=MATRICES, data=st.data())
def test_transpose_against_numpy_and_finite_differences(spelling, x, data):
    np.testing.assert_array_equal(gradcli.evaluate(spelling, X=x), x.T)
    r = weights_for(data, x.T)
    result = gradcli.grad(f"sum(R * {spelling})", R=r, X=x)
    assert_matches_differences(result.gradient["X"], lambda v: np.sum(r * v.T), x)


def test_the_transpose_binds_tighter_than_any_operator():
    a, b = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.5, -1.0], [2.0, 1.0]])
    np.testing.assert_array_equal(gradcli.evaluate("(A @ B).T - B.T @ A.T", A=a, B=b), np.zeros((2, 2)))


def test_dot_is_a_function_name_now_and_the_cs231n_example_still_runs():
    with pytest.raises(gradcli.ParseError, match="dot is a function name and cannot be assigned"):
        gradcli.parse("dot = w0*x0 + w1*x1; f = dot")
    run = run_cli("grad", "--file", str(REPO / "examples" / "cs231n-neuron.grad"),
                  "--at", "w0=2,x0=-1,w1=-3,x1=-2,w2=-3", "--json")
    sigmoid = 1 / (1 + np.exp(-1.0))  # s = 1 at this point; ∂f/∂w0 = σ'(s)·x0, the course notes' -0.2
    assert run.code == 0 and run.json()["gradient"]["w0"] == pytest.approx(-sigmoid * (1 - sigmoid), rel=1e-14)


# ----- indexing: z[1], X[1, 0], X[-1] -----


@st.composite
def indexed(draw):
    """An array and an index into it: one integer per leading axis (1 to all of them), negative allowed."""
    x = draw(MATRICES)
    count = draw(st.integers(1, x.ndim))
    index = tuple(draw(st.integers(-n, n - 1)) for n in x.shape[:count])
    return x, index


@given(case=indexed(), data=st.data())
def test_index_against_numpy_and_finite_differences(case, data):
    x, index = case
    element = f"X[{', '.join(map(str, index))}]"
    got = gradcli.evaluate(element, X=x)
    assert np.shape(got) == np.shape(x[index])
    np.testing.assert_array_equal(got, x[index])
    r = weights_for(data, x[index])
    gradient = gradcli.grad(f"sum(R * {element})", R=r, X=x).gradient["X"]
    assert_matches_differences(gradient, lambda v: np.sum(r * v[index]), x)


@pytest.mark.parametrize("source, at, message", [
    ("z[3]", [1.0, 2.0, 3.0], "z[3] is outside a vector of 3 (indices are 0-based: 0 to 2)"),
    ("z[-4]", [1.0, 2.0, 3.0], "z[-4] is outside a vector of 3 (from the end, indices are -1 to -3)"),
    ("z[0, 3]", [[1.0, 2.0, 3.0]], "z[0, 3] is outside a 1×3 matrix (indices on axis 1 are 0-based: 0 to 2)"),
    ("z[1, 0]", [1.0, 2.0, 3.0], "z[1, 0] has 2 indices, but a vector of 3 has 1 axis"),
    ("z[0]", 2.0, "z[0]: a scalar has no elements to index"),
    ("softmax(z)[3]", [1.0, 2.0, 3.0], "softmax(z)[3] is outside a vector of 3 (indices are 0-based: 0 to 2)"),
    ("(2*z)[3]", [1.0, 2.0, 3.0], "(2*z)[3] is outside a vector of 3 (indices are 0-based: 0 to 2)"),
])
def test_an_index_outside_the_value_names_the_element_and_the_shape(source, at, message):
    with pytest.raises(ShapeError) as error:
        gradcli.grad(f"sum({source} * z)", z=at)
    assert error.value.message == message and error.value.exit_status == ExitStatus.BAD_INPUT


def test_an_index_outside_the_value_through_the_cli_has_its_caret():
    run = run_cli("grad", "sum(z[3] * z)", "--at", "z=[1,2,3]")
    assert run.code == ExitStatus.BAD_INPUT and run.stdout == ""
    assert run.stderr.splitlines()[1:] == ["  | sum(z[3] * z)", "  |     ^^^^"]
    assert "z[3] is outside a vector of 3 (indices are 0-based: 0 to 2) (column 5)" in run.stderr


# ----- lists: [a, b, c] stacks its elements -----


@given(shape=array_shapes(min_dims=0, max_dims=2, max_side=3), count=st.integers(1, 4), data=st.data())
def test_stack_against_numpy_and_finite_differences(shape, count, data):
    names = [f"X{k}" for k in range(count)]
    elements = [data.draw(arrays(np.float64, shape, elements=VALUES)) for _ in names]
    at = {name: (float(x) if x.ndim == 0 else x) for name, x in zip(names, elements)}  # numbers as the API takes them
    listed = f"[{', '.join(names)}]"
    expected = np.stack(elements)
    np.testing.assert_array_equal(gradcli.evaluate(listed, at), expected)
    r = weights_for(data, expected)
    result = gradcli.grad(f"sum(R * {listed})", {"R": r, **at})
    for k, name in enumerate(names):
        def f(v, k=k):
            return np.sum(r * np.stack([v if j == k else x for j, x in enumerate(elements)]))

        assert_matches_differences(result.gradient[name], f, elements[k])


def test_a_list_of_numbers_is_a_vector_and_a_list_of_lists_a_matrix():
    np.testing.assert_array_equal(gradcli.evaluate("[1, 2, 3]"), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(gradcli.evaluate("[[1, 2], [3, 4]] @ [1, -1]"), [-1.0, -1.0])
    # s @ s = x² + y² + x²y²: ∂/∂x = 2x + 2xy², ∂/∂y = 2y + 2x²y
    result = gradcli.grad("s = [x, y, x*y]; L = s @ s", x=2.0, y=3.0)
    assert (result.value, result.gradient) == (49.0, {"x": 40.0, "y": 30.0})


def test_an_element_used_twice_gets_both_rows():
    result = gradcli.grad("sum(R * [a, b, a])", R=[1.0, 10.0, 100.0], a=2.0, b=3.0)
    assert result.gradient["R"].tolist() == [2.0, 3.0, 2.0]
    assert result.gradient["a"] == 101.0 and result.gradient["b"] == 10.0 and type(result.gradient["a"]) is float


# ----- shapes that do not fit name both shapes -----


@pytest.mark.parametrize("source, at, message", [
    ("sum(outer(u, v))", {"u": [1.0, 2.0], "v": [[1.0]]}, "outer takes two vectors, not a vector of 2 and a 1×1 matrix"),
    ("sum([a, b])", {"a": [1.0, 2.0], "b": [1.0, 2.0, 3.0]},
     "element 1 of the list is a vector of 3, but element 0 is a vector of 2: a list's elements must all have "
     "the same shape"),
    ("sum([[1, 2], [3]])", {}, "element 1 of the list is a vector of 1, but element 0 is a vector of 2: a list's "
                               "elements must all have the same shape"),
    ("sum(max(X, axis=2))", {"X": [[1.0, 2.0]]}, "max(..., axis=2): a 1×2 matrix has axes 0 to 1 (or -1 to -2 from the end)"),
], ids=["outer", "list", "ragged-literal", "axis"])
def test_a_shape_that_does_not_fit_names_both_shapes(source, at, message):
    with pytest.raises(ShapeError) as error:
        gradcli.grad(source, at)
    assert error.value.message == message and error.value.exit_status == ExitStatus.BAD_INPUT


# ----- kinks of elementwise ops on arrays name their entries too -----


def test_relu_at_a_zero_entry_is_noted_at_that_entry():
    result = gradcli.grad("sum(relu(z))", z=[0.0, 1.0, -2.0])
    assert result.gradient["z"].tolist() == [0.0, 1.0, 0.0]
    assert [note.message for note in result.notes] == [
        "relu is not differentiable here; convention: relu'(0) = 0 (as PyTorch and micrograd) (at z[0])"]
    assert gradcli.grad("sum(relu(z))", z=[0.5, 1.0]).notes == []
    many = gradcli.grad("sum(abs(z))", z=[0.0] * 6).notes[0].message
    assert many.endswith("(at z[0], z[1], z[2] and 3 more)")
