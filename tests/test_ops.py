"""The whole op table (gradcli.ops.OPERATIONS), op by op, against two independent witnesses.

For every op, at several points inside its domain and away from its kinks:
  - each local partial agrees with a central finite difference of the op's own forward rule;
  - the op's SymPy counterpart, differentiated by SymPy, agrees with each partial;
  - the forward rule agrees with SymPy's value (evaluated at 30 digits);
  - the op is reachable by each of its spellings from the parser, and the whole pipeline
    (`gradcli.grad`) gives the same gradient as the finite differences.
Then the conventions at the kinks: relu'(0) = 0, abs'(0) = 0, max/min ties split evenly,
sqrt'(0) = +inf, each checked against one-sided finite differences (a convention must lie
between the one-sided derivatives, or be their limit).
"""

from __future__ import annotations

import math

import pytest
import sympy as sp

import gradcli
from gradcli import scalar
from gradcli.ops import ELEMENTWISE, FUNCTIONS, INFIX, OPERATIONS, OPS, POSTFIX, PREFIX, Call, Infix, Postfix, Prefix

# Points inside each op's domain, away from kinks, branch cuts and poles. Every elementwise op of
# the table must have an entry: a new op without points fails test_every_op_has_points. (Array ops
# are tested on arrays, in tests/test_array_engine.py.)
POINTS: dict[str, list[tuple[float, ...]]] = {
    "add": [(1.5, -2.25), (-0.3, 0.7), (3.0, 4.0)],
    "sub": [(1.5, -2.25), (-0.3, 0.7), (3.0, 4.0)],
    "mul": [(1.5, -2.25), (-0.3, 0.7), (3.0, 4.0)],
    "div": [(1.5, -2.25), (-0.3, 0.7), (3.0, 4.0), (-7.0, 0.125)],
    "neg": [(-1.3,), (0.2,), (4.0,)],
    "pow": [(2.0, 3.0), (1.5, -0.5), (0.3, 2.5), (5.0, 0.5), (0.7, 0.0), (2.0, -3.0)],
    "exp": [(-2.0,), (0.0,), (1.5,), (10.0,)],
    "log": [(0.1,), (1.0,), (7.5,)],
    "logb": [(8.0, 2.0), (0.5, 10.0), (3.0, 0.5), (100.0, 7.0)],
    "log2": [(0.25,), (3.0,), (1000.0,)],
    "log10": [(0.25,), (3.0,), (1000.0,)],
    "sqrt": [(0.01,), (2.0,), (100.0,)],
    "sin": [(-1.0,), (0.3,), (2.0,), (10.0,)],
    "cos": [(-1.0,), (0.3,), (2.0,), (10.0,)],
    "tan": [(-1.0,), (0.3,), (2.0,), (10.0,)],
    "asin": [(-0.9,), (0.0,), (0.5,)],
    "acos": [(-0.9,), (0.0,), (0.5,)],
    "atan": [(-3.0,), (0.0,), (0.5,), (10.0,)],
    "atan2": [(1.0, 2.0), (-1.0, -2.0), (2.0, -1.0), (-0.5, 3.0)],
    "sinh": [(-2.0,), (0.1,), (3.0,)],
    "cosh": [(-2.0,), (0.1,), (3.0,)],
    "tanh": [(-2.0,), (0.1,), (3.0,)],
    "sigmoid": [(-5.0,), (0.0,), (2.0,), (-0.7,)],
    "relu": [(-2.0,), (0.5,), (3.0,)],
    "softplus": [(-3.0,), (0.0,), (2.5,)],
    "abs": [(-2.0,), (0.5,)],
    "max": [(1.0, 2.0), (3.0, -1.0), (0.5, 2.0, 1.5), (-1.0, -2.0, -3.0), (4.0, 1.0, 2.0, 3.0)],
    "min": [(1.0, 2.0), (3.0, -1.0), (0.5, 2.0, 1.5), (-1.0, -2.0, -3.0), (4.0, 1.0, 2.0, 3.0)],
    "copy": [(1.7,), (-3.0,)],
}

# Pairs (op, point, slot) where the documented partial is a convention rather than a derivative.
# pow at a negative base: ∂/∂b is nan (documented), the base partial is a plain derivative.
NEGATIVE_BASE = [(-2.0, 3.0), (-1.5, 2.0), (-0.5, -3.0)]

# What the issue lists: the language's function names (plus pow(a, b)).
DOCUMENTED_FUNCTIONS = {
    "exp", "log", "ln", "log2", "log10", "sqrt", "sin", "cos", "tan", "asin", "acos", "atan", "atan2",
    "sinh", "cosh", "tanh", "sigmoid", "relu", "softplus", "abs", "max", "min", "pow",
    # vectors and matrices (issue 12)
    "sum", "mean", "softmax", "log_softmax", "logsumexp", "dot", "outer", "norm", "transpose",
}


def cases() -> list:
    return [pytest.param(op, point, id=f"{op.name}{point}") for op in ELEMENTWISE for point in POINTS.get(op.name, [])]


def central_difference(f, point: tuple[float, ...], slot: int) -> float:
    """(f(x+h) - f(x-h)) / 2h, with a Richardson step to cancel the h² term."""

    def estimate(h):
        up = list(point)
        down = list(point)
        up[slot] += h
        down[slot] -= h
        return (f(*up) - f(*down)) / (2 * h)

    h = 1e-4 * max(1.0, abs(point[slot]))
    return (4 * estimate(h / 2) - estimate(h)) / 3


def forward(op, point):
    return op.forward(scalar, *point)


def partial(op, point, slot):
    return op.local(scalar, slot, forward(op, point), list(point))


SYMBOLS = sp.symbols("a0:6", real=True)


def sympy_expression(op, arity):
    return op.sympy(sp, *SYMBOLS[:arity])


def sympy_number(expression, point) -> float:
    substitutions = {SYMBOLS[k]: sp.Float(v, 40) for k, v in enumerate(point)}  # the double itself, exactly
    value = sp.N(expression.subs(substitutions), 30)
    assert value.is_real, (expression, point, value)
    return float(value)


# ----- the table is complete -----


def test_every_op_has_points():
    assert set(POINTS) == {op.name for op in ELEMENTWISE}
    for op in ELEMENTWISE:
        for point in POINTS[op.name]:
            assert op.arity is None and len(point) >= 2 or len(point) == op.arity, (op.name, point)


def test_the_function_names_are_the_documented_ones():
    assert set(FUNCTIONS) == DOCUMENTED_FUNCTIONS
    assert set(INFIX) == {"+", "-", "*", "/", "^", "**", "@"}
    assert set(PREFIX) == {"-"}
    assert set(POSTFIX) == {".T"}


# ----- finite differences and SymPy, op by op -----


@pytest.mark.parametrize("op, point", cases())
def test_partials_match_central_finite_differences(op, point):
    for slot in range(len(point)):
        expected = central_difference(lambda *args: forward(op, args), point, slot)
        got = partial(op, point, slot)
        assert got == pytest.approx(expected, rel=1e-7, abs=1e-9), (op.name, point, slot, got, expected)


@pytest.mark.parametrize("op, point", cases())
def test_partials_match_sympy(op, point):
    expression = sympy_expression(op, len(point))
    for slot in range(len(point)):
        expected = sympy_number(sp.diff(expression, SYMBOLS[slot]), point)
        got = partial(op, point, slot)
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-15), (op.name, point, slot, got, expected)


@pytest.mark.parametrize("op, point", cases())
def test_forward_matches_sympy(op, point):
    expected = sympy_number(sympy_expression(op, len(point)), point)
    got = forward(op, point)
    assert isinstance(got, float)
    assert got == pytest.approx(expected, rel=1e-14, abs=1e-300), (op.name, point, got, expected)


# Where a textbook formula cancels or overflows: σ(a)·(1 - σ(a)) is 0 at a = 40, 1 - tanh(a)² at
# a = 20, a² + b² overflows at 1e200 and underflows at 1e-200, 1 - a² loses digits near a = 1.
EXTREMES = [
    ("sigmoid", (40.0,)), ("sigmoid", (36.0,)), ("sigmoid", (20.0,)), ("sigmoid", (-40.0,)),
    ("tanh", (20.0,)), ("tanh", (-20.0,)), ("tanh", (10.0,)),
    ("atan2", (1e-200, 1e-200)), ("atan2", (1e200, 1e200)), ("atan2", (-3e-200, 1e-200)),
    ("asin", (0.99999999,)), ("acos", (-0.99999999,)),
]


@pytest.mark.parametrize("name, point", EXTREMES, ids=str)
def test_partials_keep_their_digits_at_extreme_arguments(name, point):
    op = FUNCTIONS[name][len(point)]
    expression = sympy_expression(op, len(point))
    for slot in range(len(point)):
        expected = sympy_number(sp.diff(expression, SYMBOLS[slot]), point)
        assert partial(op, point, slot) == pytest.approx(expected, rel=1e-14, abs=0), slot


@pytest.mark.parametrize("point", NEGATIVE_BASE, ids=repr)
def test_pow_at_a_negative_base(point):
    """A negative base to an integer power: ∂/∂a is the derivative, ∂/∂b nan as documented."""
    op = OPS["pow"]
    expected = central_difference(lambda a, b: forward(op, (a, b)), point, 0)
    assert partial(op, point, 0) == pytest.approx(expected, rel=1e-7)
    assert math.isnan(partial(op, point, 1))


# ----- every op is reachable from the parser, and the pipeline agrees -----


def spellings(op, arity: int) -> list[str]:
    """Every way to write op applied to variables v0, v1, ... ."""
    names = [f"v{k}" for k in range(arity)]
    texts = []
    for syntax in op.syntax:
        if isinstance(syntax, Infix):
            texts += [f"{names[0]} {symbol} {names[1]}" for symbol in syntax.symbols]
        elif isinstance(syntax, Prefix):
            texts.append(f"{syntax.symbol}{names[0]}")
        elif isinstance(syntax, Postfix):
            texts.append(f"{names[0]}{syntax.symbol}")
        elif isinstance(syntax, Call):
            texts += [f"{name}({', '.join(names)})" for name in syntax.names]
    if op.name == "copy":  # a name given to another name
        texts.append(f"q = {names[0]}; q")
    elif op.name == "stack":  # the parser makes these two from brackets
        texts.append(f"[{', '.join(names)}]")
    elif op.name == "index":
        texts.append(f"{names[0]}[0]")
    return texts


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_every_op_is_reachable_by_each_of_its_spellings(op):
    arities = [2, 3] if op.arity is None else [op.arity]
    for arity in arities:
        texts = spellings(op, arity)
        assert texts, op.name
        for text in texts:
            graph = gradcli.parse(text)
            assert graph.ops[graph.output] is op, (text, graph.ops[graph.output])
            assert [graph.names[j] for j in graph.inputs[graph.output]] == [f"v{k}" for k in range(arity)], text


@pytest.mark.parametrize("op, point", cases())
def test_the_pipeline_gives_the_finite_difference_gradient(op, point):
    names = [f"v{k}" for k in range(len(point))]
    at = dict(zip(names, point))
    for text in spellings(op, len(point)):
        result = gradcli.grad(text, at)
        assert result.value == pytest.approx(forward(op, point), rel=1e-15, abs=1e-300), text
        for slot, name in enumerate(names):
            expected = central_difference(lambda *args: forward(op, args), point, slot)
            assert result.gradient[name] == pytest.approx(expected, rel=1e-7, abs=1e-9), (text, name)
        assert result.notes == [], (text, result.notes)  # away from kinks: no warning


def test_the_same_variable_in_both_slots_sums_the_partials():
    """x^x: d/dx = x^x (1 + ln x), the two partials of pow added at one node."""
    x = 1.7
    assert gradcli.grad("x^x", x=x).gradient["x"] == pytest.approx(x**x * (1 + math.log(x)), rel=1e-14)
    assert gradcli.grad("atan2(x, x)", x=x).gradient["x"] == pytest.approx(0.0, abs=1e-16)
    assert gradcli.grad("max(x, x)", x=x).gradient["x"] == 1.0  # a tie with itself: ½ + ½


# ----- conventions at the kinks -----


def one_sided(f, x: float, side: int, h: float = 1e-7) -> float:
    return (f(x + side * h) - f(x)) / (side * h)


@pytest.mark.parametrize("name, at, expected", [
    ("relu", 0.0, 0.0),
    ("abs", 0.0, 0.0),
])
def test_relu_and_abs_at_zero(name, at, expected):
    op = OPS[name]
    assert op.kink_at((at,)) is not None
    assert partial(op, (at,), 0) == expected
    left = one_sided(lambda a: forward(op, (a,)), at, -1)
    right = one_sided(lambda a: forward(op, (a,)), at, +1)
    assert min(left, right) <= expected <= max(left, right)  # a subgradient
    result = gradcli.grad(f"{name}(x)", x=at)
    assert result.gradient == {"x": expected}
    assert [note.kind for note in result.notes] == ["kink"]
    assert f"{name}'(0) = 0" in result.notes[0].message


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("values, shares", [
    ((1.0, 1.0), (0.5, 0.5)),
    ((2.0, 2.0, 2.0), (1 / 3, 1 / 3, 1 / 3)),
    ((-1.5, -1.5, -1.5, -1.5), (0.25, 0.25, 0.25, 0.25)),
], ids=["two", "three", "four"])
def test_max_and_min_ties_split_the_gradient_evenly(name, values, shares):
    op = OPS[name]
    assert op.kink_at(values) is not None
    names = [f"v{k}" for k in range(len(values))]
    result = gradcli.grad(f"{name}({', '.join(names)})", dict(zip(names, values)))
    assert [result.gradient[n] for n in names] == pytest.approx(list(shares), rel=1e-15)
    assert math.fsum(result.gradient.values()) == pytest.approx(1.0, rel=1e-15)  # d/dt f(x + t·1) = 1
    assert [note.kind for note in result.notes] == ["kink"] and "split evenly" in result.notes[0].message


@pytest.mark.parametrize("name, values, expected", [
    ("max", (3.0, 1.0, 3.0), (0.5, 0.0, 0.5)),  # two of three tied for the largest
    ("min", (3.0, 1.0, 1.0), (0.0, 0.5, 0.5)),
    ("max", (1.0, 1.0, 3.0), (0.0, 0.0, 1.0)),  # a tie below the largest is no kink
])
def test_a_partial_tie_shares_only_among_the_tied(name, values, expected):
    names = [f"v{k}" for k in range(len(values))]
    result = gradcli.grad(f"{name}({', '.join(names)})", dict(zip(names, values)))
    assert [result.gradient[n] for n in names] == list(expected)
    assert bool(result.notes) == (OPS[name].kink_at(values) is not None)


def test_a_tie_share_lies_between_the_one_sided_derivatives():
    op = OPS["max"]
    f = lambda a: forward(op, (a, 1.0))  # noqa: E731
    left, right = one_sided(f, 1.0, -1), one_sided(f, 1.0, +1)
    assert left == pytest.approx(0.0, abs=1e-9) and right == pytest.approx(1.0, rel=1e-6)
    assert left <= partial(op, (1.0, 1.0), 0) <= right


def test_sqrt_at_zero_is_plus_infinity():
    op = OPS["sqrt"]
    assert op.kink_at((0.0,)) is not None
    assert partial(op, (0.0,), 0) == math.inf
    # the right-sided difference quotient grows without bound as h shrinks
    quotients = [one_sided(lambda a: forward(op, (a,)), 0.0, +1, h) for h in (1e-4, 1e-8, 1e-12)]
    assert quotients[0] < quotients[1] < quotients[2] and quotients[2] > 1e5
    result = gradcli.grad("sqrt(x)", x=0.0)
    assert result.value == 0.0 and result.gradient == {"x": math.inf}
    assert any("sqrt'(0) = +inf" in note.message for note in result.notes)


def test_atan2_across_the_negative_x_axis_is_flagged_with_the_partials_of_either_side():
    """atan2(±0, -1) is ±π: a jump, so a warning; the slope is the same on both sides."""
    op = OPS["atan2"]
    above, below = (lambda y: forward(op, (y, -1.0))), (lambda y: -forward(op, (-y, -1.0)))
    slopes = [one_sided(above, 0.0, +1), one_sided(below, 0.0, +1)]
    result = gradcli.grad("atan2(y, x)", y=0.0, x=-1.0)
    assert result.gradient["y"] == pytest.approx(slopes[0], rel=1e-6) == pytest.approx(slopes[1], rel=1e-6)
    assert result.gradient["x"] == 0.0
    assert any("jumps by 2π" in note.message for note in result.notes)
    assert gradcli.grad("atan2(y, x)", y=1e-300, x=-1.0).notes == []  # off the axis: smooth


@pytest.mark.parametrize("a, b", [(-0.0, 0.0), (0.0, -0.0), (math.nan, 1.0), (1.0, math.nan), (2.0, 3.0), (3.0, 2.0)])
def test_scalar_max_and_min_are_numpys_even_for_signed_zeros_and_nan(a, b):
    """So a batch row (NumPy) equals the single point (gradcli.scalar) to the bit."""
    np = pytest.importorskip("numpy")
    for ours, theirs in ((scalar.maximum, np.maximum), (scalar.minimum, np.minimum)):
        expected = float(theirs(a, b))
        got = ours(a, b)
        assert repr(got) == repr(expected) and math.copysign(1, got) == math.copysign(1, expected)


def test_the_kink_predicates_are_false_away_from_the_kinks():
    for op in ELEMENTWISE:
        for point in POINTS[op.name] if op.kinks else ():
            assert op.kink_at(point) is None, (op.name, point)


@pytest.mark.parametrize("source, at, expected", [
    ("sqrt(x)", -0.0, math.inf),  # sqrt(-0.0) is -0.0; the convention is still +inf
    ("sqrt(-x)", 0.0, -math.inf),  # the chain rule: +inf × -1
    ("sqrt(-x)", -0.0, -math.inf),
])
def test_the_sqrt_convention_holds_at_negative_zero(source, at, expected):
    assert gradcli.grad(source, x=at).gradient["x"] == expected
