"""The array syntax of the language: list literals, indexing, `.T` and keyword arguments.

Everything is driven as a user types it (`gradcli grad ... --json`), with the reference numbers
computed here by NumPy from the same formula written out by hand, and the gradients by central
differences of that NumPy formula: never gradcli's own output. Every new parse error is checked
for its caret (the exact characters under it) and for its Japanese. `program()` must parse back
to the same graph, and `--cse` must keep nodes that differ only in their attributes apart.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from conftest import run_cli

from gradcli import parse


def grad_json(program: str, at: str, *options: str) -> dict:
    run = run_cli("grad", "--at", at, "--json", *options, "--", program)
    assert run.code == 0, run.stderr
    return run.json()


def differences(f, point: dict, h: float = 1e-6) -> dict:
    """Central differences of f(**point) for every element of every value."""
    gradient = {}
    for name, value in point.items():
        value = np.asarray(value, dtype=float)
        partials = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            up, down = value.copy(), value.copy()
            up[index] += h
            down[index] -= h
            partials[index] = (f(**{**point, name: up}) - f(**{**point, name: down})) / (2 * h)
        gradient[name] = partials
    return gradient


def assert_matches(document: dict, f, point: dict) -> None:
    """gradcli's value and gradient against f (NumPy) and its central differences, for every
    variable of the program (gradcli's gradient names those it uses)."""
    assert document["value"] == pytest.approx(f(**point), rel=1e-12)
    assert set(document["gradient"]) <= set(point)
    for name, expected in differences(f, point).items():
        if name not in document["gradient"]:
            assert not expected.any(), name
            continue
        assert np.shape(document["gradient"][name]) == np.shape(point[name]), name
        assert np.allclose(document["gradient"][name], expected, rtol=1e-6, atol=1e-8), name


def at_text(point: dict, program: str | None = None) -> str:
    """The --at text of a point (of the names the program uses, if given)."""
    return ",".join(f"{name}={json.dumps(np.asarray(value).tolist())}" for name, value in point.items()
                    if program is None or re.search(rf"\b{name}\b", program))


# ----- the new syntax, through the engine -----

def test_the_briefs_example_an_index_a_transpose_and_a_list_in_one_expression():
    point = {"z": [1.5, 2.0], "W": [[1.0, 2, 3], [4, 5, 6]], "x": 0.5, "y": -1.0}

    def f(z, W, x, y):
        return np.sum(np.asarray(z)[0] * np.asarray(W).T @ np.array([x, y]))

    assert_matches(grad_json("sum(z[0] * W.T @ [x, y])", at_text(point)), f, point)


def test_list_literals_have_the_shapes_of_their_nesting():
    document = grad_json("v = [x, y, x*y]\nM = [[1, 2],\n     [3, 4]]\nL = sum(M @ [v[0], v[2]])", "x=2,y=3")
    assert document["shapes"]["v"] == [3]
    assert document["shapes"]["M"] == [2, 2]
    # L = (1+3)·x + (2+4)·x·y
    assert document["value"] == 4 * 2 + 6 * 2 * 3
    assert document["gradient"] == {"x": 4 + 6 * 3, "y": 6 * 2}


def test_a_list_of_one_element_is_a_vector_of_one():
    document = grad_json("v = [x]; L = sum(v)", "x=2")
    assert document["shapes"]["v"] == [1]


@pytest.mark.parametrize("program, f", [
    ("sum(W @ x + b)", lambda W, x, b: np.sum(W @ x + b)),  # (W @ x) + b, not W @ (x + b)
    ("sum(2*W@x)", lambda W, x, b: np.sum((2 * W) @ x)),
    ("sum(W @ x * 2)", lambda W, x, b: np.sum((W @ x) * 2)),
    ("-x[0]^2", lambda W, x, b: -(x[0] ** 2)),  # -(x[0]^2): the index binds tighter than ^ and -
    ("x[0]^2 + b[-1]", lambda W, x, b: x[0] ** 2 + b[-1]),
    ("x[-1] * W[1, 0]", lambda W, x, b: x[-1] * W[1, 0]),
    ("sum(W.T @ b)", lambda W, x, b: np.sum(W.T @ b)),
    ("sum((W.T @ b) * x)", lambda W, x, b: np.sum((W.T @ b) * x)),
    ("sum(outer(b, x).T @ b)", lambda W, x, b: np.sum(np.outer(b, x).T @ b)),
    ("sum(W.T.T @ x)", lambda W, x, b: np.sum(W @ x)),
    ("W[1][0] + [b, 2*b][1, 0]", lambda W, x, b: W[1][0] + 2 * b[0]),  # an index of an index, of a list
    ("sum(softmax(W, axis=0) * W)", lambda W, x, b: np.sum(np.exp(W) / np.exp(W).sum(axis=0) * W)),
    ("sum(softmax(W, axis=-1) * W)", lambda W, x, b: np.sum(np.exp(W) / np.exp(W).sum(axis=1, keepdims=True) * W)),
    ("sum(W, axis=0) @ x", lambda W, x, b: W.sum(axis=0) @ x),
    ("sum(W, axis=1) @ b", lambda W, x, b: W.sum(axis=1) @ b),
    ("max(W, axis=1) @ b", lambda W, x, b: W.max(axis=1) @ b),
], ids=lambda value: value if isinstance(value, str) else "")
def test_the_new_syntax_parses_with_the_right_precedence(program, f):
    point = {"W": np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]), "x": np.array([1.0, -2.0, 0.5]),
             "b": np.array([0.3, -0.6])}
    assert_matches(grad_json(program, at_text(point, program)), f, point)


@pytest.mark.parametrize("program, structure", [
    ("W @ x + b", "((W @ x) + b)"),
    ("2*A@B", "((2 * A) @ B)"),
    ("A@B*2", "((A @ B) * 2)"),
    ("-z[0]", "(-z[0])"),
    ("z[0]^2", "(z[0] ^ 2)"),
    ("x^y[0]", "(x ^ y[0])"),
    ("A.T @ B", "(A.T @ B)"),
    ("(A@B).T", "(A @ B).T"),
    ("-A.T", "(-A.T)"),
    ("transpose(A)", "A.T"),
    ("exp(x)[0]", "exp(x)[0]"),
    ("[x, y][1]", "[x, y][1]"),
    ("sum(X, axis = -1)", "sum(X, axis=-1)"),
])
def test_the_structure_of_each_new_form(program, structure):
    assert parse(program).expression() == structure


def test_a_keyword_whose_name_is_already_a_variable():
    document = grad_json("a = axis * 2; L = sum(sum(X * a, axis=1))", "axis=3,X=[[1,2],[3,4]]")
    assert document["value"] == 60
    assert document["gradient"]["X"] == [[6, 6], [6, 6]]


@pytest.mark.parametrize("program", ["[x, y]", "z[0]", "A.T", "transpose(A)", "sum(X, axis=0)", "dot(u, v)",
                                     "max(X)", "u @ v", "a = sum(x); b = exp(a)"])
def test_array_syntax_marks_the_graph(program):
    assert parse(program).uses_arrays


def test_scalar_programs_stay_unmarked():
    assert not parse("a = exp(x); b = max(a, y); c = (a - b)^2 # @ in a comment\nsin(c)").uses_arrays


# ----- the parse errors, each with its caret and its Japanese -----

PARSE_ERRORS = [  # (program, the English message, the text under the caret)
    ("L = []", "an empty list [] has no value", "[]"),
    ("L = sum(z[])", "an index is an integer such as z[0] (0-based)", "]"),
    ("L = z[i]", "an index is an integer such as z[0] (0-based)", "i"),
    ("L = z[1.5]", "an index is an integer such as z[0] (0-based)", "1.5"),
    ("L = z[0 1]", "an index is an integer such as z[0] (0-based)", "1"),
    ("L = z[1:]", "slices such as z[1:] are not supported; an index is an integer such as z[0] (0-based)", ":"),
    ("L = z[:2]", "slices such as z[1:] are not supported; an index is an integer such as z[0] (0-based)", ":"),
    ("L = z[0", "unclosed '[': no matching ']'", "["),
    ("L = [x, y", "unclosed '[': no matching ']'", "["),
    ("L = [x, [y", "unclosed '[': no matching ']'", "["),
    ("L = 2[0]", "a number cannot be indexed", "2["),
    ("L = (2)[0]", "a number cannot be indexed", "(2)["),
    ("L = pi.T", "a number has no transpose", "pi.T"),
    ("L = x.U", "'.' can only be followed by T (transpose)", ".U"),
    ("L = x.", "'.' can only be followed by T (transpose)", "."),
    ("L = [x)", "')' cannot close '[': write ']'", ")"),
    ("L = (x]", "']' cannot close '(': write ')'", "]"),
    ("L = sin(x]", "']' cannot close 'sin(': write ')'", "]"),
    ("L = x]", "unbalanced ']': there is no '[' to close", "]"),
    ("L = [x, ]", "expected a number, a name or '(' but found ']'", "]"),
    ("L = [x +]", "'+' needs an operand after it", "+"),
    ("L = x, y", "',' is only allowed between a function's arguments or a list's elements", ","),
    ("L = sum(X, axes=0)", "sum() takes the keyword axis, not axes", "axes"),
    ("L = exp(x, axis=0)", "exp() takes no keyword arguments", "axis="),
    ("L = sum(X, axis=0, y)", "an argument follows axis=: keywords come last, as in sum(X, axis=0)", "y"),
    ("L = sum(X, axis=0, 2*y)", "an argument follows axis=: keywords come last, as in sum(X, axis=0)", "2*y"),
    ("L = sum(X, axis=x)", "axis= takes an integer such as 0 or -1", "x"),
    ("L = sum(X, axis=-x)", "axis= takes an integer such as 0 or -1", "-x"),
    ("L = sum(X, axis=0+1)", "axis= takes an integer such as 0 or -1", "0"),
    ("L = sum(X, axis=1.0)", "axis= takes an integer such as 0 or -1", "1.0"),
    ("L = sum(X, axis=0, axis=1)", "axis= is given twice", "axis="),
    ("L = max(a, b, axis=0)", "max() of 2 arguments takes no keyword axis", "axis"),
    ("L = x + [y, axis=0]", "'=' can only follow a name at the start of a statement", "="),
]
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def caret_text(stderr: str, source: str) -> str:
    """The characters of `source` (one line) under the caret of an error."""
    lines = stderr.splitlines()
    start = lines[2].index("^") - lines[1].index("| ") - 2
    return source[start:start + lines[2].count("^")]


@pytest.mark.parametrize("program, message, under", PARSE_ERRORS, ids=[p for p, *_ in PARSE_ERRORS])
def test_every_new_parse_error_has_its_caret_and_its_japanese(program, message, under):
    english = run_cli("grad", "--", program)
    assert english.code == 2
    assert english.stderr.splitlines()[0].startswith(f"gradcli: error: {message} (column ")
    assert caret_text(english.stderr, program) == under
    japanese = run_cli("grad", "--lang", "ja", "--", program)
    assert japanese.code == 2
    assert JAPANESE.search(japanese.stderr.splitlines()[0].removeprefix("gradcli: エラー: ")), japanese.stderr
    assert japanese.stderr.splitlines()[1:] == english.stderr.splitlines()[1:]


# ----- program() and --cse -----

ROUND_TRIPS = [
    "v = [x, y, x*y]; M = [[1, 2], [3, 4]]; L = sum(M @ [v[0], v[-1]])",
    "h = sigmoid(W.T @ x + b); s = u @ h; s",
    "a = softmax(Z, axis=0); b = log_softmax(Z, axis=-1); L = sum(a * b) + sum(Z, axis=1)[0]",
    "m = max(X, axis=1); n = min(X); q = dot(u, v); L = sum(m) + n + q + norm(X[0]) + outer(u, v)[1, 0]",
    "L = (A @ B).T[0, 1] + -z[2] + [[1, 2]][0][1] + sum(transpose(A), axis=0)[1]",
]


@pytest.mark.parametrize("source", ROUND_TRIPS)
def test_program_parses_back_to_the_same_graph(source):
    graph = parse(source)
    again = parse(graph.program())
    assert [op and op.name for op in again.ops] == [op and op.name for op in graph.ops]
    assert again.inputs == graph.inputs
    assert again.attributes == graph.attributes
    assert again.names == graph.names
    assert {node: value for node, (value, _) in again.constants.items()} == \
        {node: value for node, (value, _) in graph.constants.items()}
    assert again.uses_arrays and again.program() == graph.program()


def test_cse_keeps_reductions_along_different_axes_apart():
    point = {"X": np.array([[1.0, 2.0], [3.0, 5.0]]), "u": np.array([0.5, -1.0]), "v": np.array([2.0, 0.25])}

    def f(X, u, v):
        return X.sum(axis=0) @ u + X.sum(axis=1) @ v + X.sum(axis=0) @ v

    program = "sum(X, axis=0) @ u + sum(X, axis=1) @ v + sum(X, axis=0) @ v"
    document = grad_json(program, at_text(point), "--cse")
    assert_matches(document, f, point)
    merged = parse(program, cse=True)
    assert sorted(merged.attributes.values(), key=str) == [{"axis": 0}, {"axis": 1}]
    assert merged.uses_arrays


def test_cse_keeps_different_indexes_apart():
    document = grad_json("z[0] * z[1] + z[0]", "z=[3,5]", "--cse")
    assert document["value"] == 18 and document["gradient"]["z"] == [6, 3]


# ----- the caret under the operator of a shape error -----

@pytest.mark.parametrize("source, under", [
    ("W @ x", "@"), ("(a + b) @ (c - d)", "@"), ("a - -b", "-"), ("a ^ b ^ c", "^"), ("a ** -b", "**"),
    ("x*y*z", "*"), ("2x * y", "*"), ("a - 2y", "-"), ("z[-1] - w", "-"), ("A.T @ B", "@"), ("[a, b] + c", "+"),
    ("a × b", "×"), ("x * 2y", "x * 2y"), ("pow(a, b)", "pow(a, b)"), ("sum(a)", "sum(a)"),
])
def test_operator_span_is_the_operator_of_a_binary_node(source, under):
    graph = parse(source)
    start, end = graph.operator_span(graph.output)
    assert source[start:end] == under


def test_a_shape_error_points_at_its_operator():
    program = "q = A * 2; L = sum(q @ v)"
    run = run_cli("grad", program, "--at", "A=[[1,2],[3,4]],v=[1,2,3]")
    assert run.code == 2
    assert run.stderr.splitlines()[0].startswith(
        "gradcli: error: cannot multiply a 2×2 matrix by a vector of 3: inner sizes 2 and 3 differ")
    assert caret_text(run.stderr, program) == "@"
