"""The forward pass and the reverse sweep (gradcli.engine), end to end through the API.

Witnesses: central finite differences of the program's own value, SymPy on an expression built
here alongside each random program (not from gradcli's graph), closed forms, and plain Python
loops. Also: how branch nodes accumulate, a million-node program, and depth without recursion.
"""

from __future__ import annotations

import inspect
import math
import random
import shlex
import sys
from contextlib import contextmanager

import mpmath
import pytest
import sympy as sp
from conftest import REPO, run_cli

import gradcli


def finite_difference_gradient(source: str, at: dict[str, float]) -> dict[str, float]:
    """Central differences of the program's value, one Richardson step, variable by variable."""
    graph = gradcli.parse(source)
    value = gradcli.api.value_at
    gradient = {}
    for name in graph.variables:

        def shifted(step: float) -> float:
            return (value(graph, {**at, name: at[name] + step})[0] - value(graph, {**at, name: at[name] - step})[0]) / (
                2 * step
            )

        h = 1e-4 * max(1.0, abs(at[name]))
        gradient[name] = (4 * shifted(h / 2) - shifted(h)) / 3
    return gradient


def assert_close_gradients(got: dict, expected: dict, rel: float, abs: float, context=None):
    assert list(got) == list(expected), context
    for name in expected:
        assert got[name] == pytest.approx(expected[name], rel=rel, abs=abs), (context, name, got, expected)


# ----- the course examples (examples/*.grad, at the point their comment line gives) -----

EXAMPLE_FILES = sorted((REPO / "examples").glob("*.grad"))
SCALAR_EXAMPLE_FILES = [path for path in EXAMPLE_FILES if "--at-file" not in path.read_text(encoding="utf-8")
                        and "[" not in path.read_text(encoding="utf-8").splitlines()[1]]  # test_examples_vectors has the rest


def documented_command(path) -> list[str]:
    """The command on an example's second comment line: `# gradcli grad --file ... --at ...`."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# gradcli "):
            return shlex.split(line[2:])[1:]
    raise AssertionError(f"{path.name} has no '# gradcli ...' comment line")


def documented_point(path) -> dict[str, float]:
    words = documented_command(path)
    pairs = words[words.index("--at") + 1].split(",")
    return {name: float(value) for name, value in (pair.split("=") for pair in pairs)}


def test_the_course_examples_are_all_there():
    names = {path.stem for path in EXAMPLE_FILES}
    assert {"cs231n-circuit", "cs231n-neuron", "apple", "cs224n-branch", "softmax-xent"} <= names


@pytest.mark.parametrize("path", SCALAR_EXAMPLE_FILES, ids=lambda path: path.stem)
def test_course_examples_match_finite_differences(path):
    source = path.read_text(encoding="utf-8")
    at = documented_point(path)
    result = gradcli.grad(source, at)
    assert_close_gradients(result.gradient, finite_difference_gradient(source, at), rel=1e-7, abs=1e-9,
                           context=path.name)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda path: path.stem)
def test_the_command_in_each_example_runs(path, monkeypatch):
    monkeypatch.chdir(REPO)
    run = run_cli(*documented_command(path))
    assert run.code == 0, run.stderr
    assert run.stdout.strip()
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("source, at, gradient", [
    # CS231n circuit and neuron, Deep Learning from Scratch apples: the published numbers
    ("q = x + y; f = q * z", {"x": -2, "y": 5, "z": -4}, {"x": -4.0, "y": -4.0, "z": 3.0}),
    ("apple_price = apple * n; total = apple_price * tax", {"apple": 100, "n": 2, "tax": 1.1},
     {"apple": 2.2, "n": 110.0, "tax": 200.0}),
    # softmax cross-entropy: dL/dz_i = a_i - y_i (a closed form, not our output)
    ("s = exp(z1) + exp(z2) + exp(z3); L = -(y1*log(exp(z1)/s) + y2*log(exp(z2)/s) + y3*log(exp(z3)/s))",
     {"z1": 1.0, "z2": 2.0, "z3": 0.5, "y1": 0.0, "y2": 1.0, "y3": 0.0}, None),
])
def test_published_and_closed_form_gradients(source, at, gradient):
    result = gradcli.grad(source, at)
    if gradient is None:  # softmax: build the closed form
        exps = [math.exp(at[f"z{k}"]) for k in (1, 2, 3)]
        total = sum(exps)
        for k in (1, 2, 3):
            assert result.gradient[f"z{k}"] == pytest.approx(exps[k - 1] / total - at[f"y{k}"], rel=1e-12)
    else:
        assert result.gradient == pytest.approx(gradient, rel=1e-12)


# ----- random programs, built with their SymPy twin -----

X = sp.symbols("x y z", real=True)
VARIABLES = ["x", "y", "z"]

# (text template, sympy builder): smooth everywhere on the reals, no overflow at small depth.
UNARY = [
    ("sin({})", sp.sin),
    ("cos({})", sp.cos),
    ("tanh({})", sp.tanh),
    ("sigmoid({})", lambda u: 1 / (1 + sp.exp(-u))),
    ("atan({})", sp.atan),
    ("softplus({})", lambda u: sp.log(1 + sp.exp(u))),
    ("exp(tanh({}))", lambda u: sp.exp(sp.tanh(u))),
    ("sqrt(1 + ({})^2)", lambda u: sp.sqrt(1 + u**2)),
    ("log(1 + ({})^2)", lambda u: sp.log(1 + u**2)),
    ("({})^2", lambda u: u**2),
    ("-({})", lambda u: -u),
]
BINARY = [
    ("({}) + ({})", lambda u, v: u + v),
    ("({}) - ({})", lambda u, v: u - v),
    ("({}) * ({})", lambda u, v: u * v),
    ("({}) / (1 + ({})^2)", lambda u, v: u / (1 + v**2)),
    ("({}) * sin({})", lambda u, v: u * sp.sin(v)),
    ("log(2 + sin({}) * cos({}))", lambda u, v: sp.log(2 + sp.sin(u) * sp.cos(v))),
    ("atan2(2 + tanh({}), ({}))", lambda u, v: sp.atan2(2 + sp.tanh(u), v)),
    ("pow(2 + tanh({}), ({}))", lambda u, v: (2 + sp.tanh(u)) ** v),
]


def random_tree(rng: random.Random, leaves: list[tuple[str, sp.Expr]], depth: int) -> tuple[str, sp.Expr]:
    if depth == 0 or rng.random() < 0.25:
        if rng.random() < 0.15:
            c = rng.choice([0.5, 2, 3, 1.25])
            return repr(c), sp.Float(repr(c), 40) if isinstance(c, float) else sp.Integer(c)
        return rng.choice(leaves)
    if rng.random() < 0.45:
        template, build = rng.choice(UNARY)
        text, expression = random_tree(rng, leaves, depth - 1)
        return template.format(text), build(expression)
    template, build = rng.choice(BINARY)
    (t1, e1), (t2, e2) = random_tree(rng, leaves, depth - 1), random_tree(rng, leaves, depth - 1)
    return template.format(t1, t2), build(e1, e2)


def random_program(seed: int) -> tuple[str, sp.Expr]:
    """A few statements; later ones reuse earlier names, so named intermediates are branch nodes."""
    rng = random.Random(seed)
    leaves = [(name, symbol) for name, symbol in zip(VARIABLES, X)]
    statements = []
    count = rng.randint(1, 4)
    expression = None
    for k in range(count):
        text, expression = random_tree(rng, leaves, depth=3)
        if k:  # every statement feeds the next, so earlier ones reach the output
            text, expression = f"({text}) + sin(t{k - 1})", expression + sp.sin(leaves[-1][1])
        name = f"t{k}"
        statements.append(f"{name} = {text}")
        leaves = leaves + [(name, expression)] * 2  # make reuse likely
    return "; ".join(statements), expression


def random_point(seed: int) -> dict[str, float]:
    rng = random.Random(10_000 + seed)
    return {name: round(rng.uniform(-2, 2), 6) for name in VARIABLES}


SEEDS = range(40)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_programs_match_sympy_and_finite_differences(seed):
    source, expression = random_program(seed)
    at = random_point(seed)
    graph = gradcli.parse(source)
    at = {name: value for name, value in at.items() if name in graph.variables}
    result = gradcli.differentiate(graph, at)
    names = [name for name in VARIABLES if name in at]
    symbols = [symbol for name, symbol in zip(VARIABLES, X) if name in at]
    # SymPy differentiates its own twin of the program; mpmath evaluates it at 30 digits
    twin = sp.lambdify(symbols, [expression] + [sp.diff(expression, symbol) for symbol in symbols], "mpmath")
    with mpmath.workdps(30):
        value, *partials = (float(v) for v in twin(*[mpmath.mpf(repr(at[name])) for name in names]))
    assert result.value == pytest.approx(value, rel=1e-11, abs=1e-13), source
    symbolic = dict(zip(names, partials))
    assert_close_gradients(result.gradient, {name: symbolic[name] for name in graph.variables}, rel=1e-9, abs=1e-11,
                           context=source)
    assert_close_gradients(result.gradient, finite_difference_gradient(source, at), rel=1e-6, abs=1e-8,
                           context=source)


@pytest.mark.parametrize("seed", SEEDS)
def test_each_adjoint_is_the_sum_of_the_contributions_it_receives(seed):
    source, _ = random_program(seed)
    at = {name: value for name, value in random_point(seed).items()}
    graph = gradcli.parse(source)
    result = gradcli.differentiate(graph, {name: at[name] for name in graph.variables}, record=True)
    received: dict[int, list[float]] = {}
    for edge in result.edges:
        assert edge.contribution == edge.upstream * edge.local
        assert edge.upstream == result.grads[edge.consumer]
        received.setdefault(edge.input, []).append(edge.contribution)
    for node, pieces in received.items():
        assert result.grads[node] == pytest.approx(math.fsum(pieces), rel=1e-12, abs=1e-15), (source, node)
    assert result.grads[graph.output] == 1.0


# ----- branch accumulation -----


def test_a_named_intermediate_used_twice_sums_both_paths():
    x, y = 2.0, 3.0
    a = x * y
    result = gradcli.differentiate(gradcli.parse("a = x*y; f = a + log(a)"), {"x": x, "y": y}, record=True)
    node = result.graph.names.index("a")
    assert sorted(edge.contribution for edge in result.edges if edge.input == node) == pytest.approx([1 / a, 1.0])
    assert result.gradient_of("a") == pytest.approx(1 + 1 / a, rel=1e-15)
    assert result.gradient == pytest.approx({"x": y * (1 + 1 / a), "y": x * (1 + 1 / a)}, rel=1e-15)


@pytest.mark.parametrize("source, x, expected", [
    ("x + x + x + x", 1.3, 4.0),
    ("x*x*x", 1.5, 3 * 1.5**2),
    ("x*x - x", 0.75, 2 * 0.75 - 1),
    ("a = x^2; b = sin(a); c = cos(a); f = b*c", 0.8, 2 * 0.8 * math.cos(2 * 0.8**2)),  # ½ sin(2x²)
    ("y1 = 2*x; y2 = x^2; z = y1 + y2", 3.0, 8.0),
])
def test_a_variable_used_many_times_accumulates(source, x, expected):
    assert gradcli.grad(source, x=x).gradient["x"] == pytest.approx(expected, rel=1e-14)


def test_gradient_of_a_named_intermediate():
    """CS231n: ∂f/∂q = z for q = x + y, f = q*z."""
    result = gradcli.differentiate(gradcli.parse("q = x + y; f = q * z"), {"x": -2, "y": 5, "z": -4})
    assert result.gradient_of("q") == -4.0
    assert result.gradient_of("f") == 1.0


@pytest.mark.parametrize("source, x, name, expected", [
    ("a = 2; f = a*x", 3.0, "a", 3.0),  # ∂(a·x)/∂a = x
    ("a = 2; b = a*x; f = b*b", 3.0, "a", 2 * (2 * 3.0) * 3.0),  # 2b·x
    ("c = pi/4; f = sin(c*x)", 1.5, "c", 1.5 * math.cos(1.5 * math.pi / 4)),  # x·cos(c·x)
    ("k = 2^-1; f = exp(k*x)", 1.5, "k", 1.5 * math.exp(0.75)),
])
def test_gradient_of_a_named_constant_intermediate(source, x, name, expected):
    result = gradcli.differentiate(gradcli.parse(source), {"x": x})
    assert result.gradient_of(name) == pytest.approx(expected, rel=1e-14, abs=1e-300)


def test_a_variable_that_does_not_reach_the_output_gets_zero():
    result = gradcli.grad("u = sin(y); f = x^2", x=3, y=1)
    assert result.gradient == {"x": 6.0, "y": 0.0}


def test_constant_subexpressions_are_never_differentiated():
    """x^2 at x = -3: ∂(a^b)/∂b would be nan (log of a negative base), but 2 is a constant."""
    result = gradcli.grad("x^2 + x^(1+1)", x=-3.0)
    assert result.gradient == {"x": -12.0}
    assert result.notes == []


@pytest.mark.parametrize("source, at, wrt, warned", [
    ("p = 2; f = x^p", {"x": -3.0}, ["p"], True),  # asked for: ∂f/∂p = x^p·ln x is undefined at x < 0
    ("p = 2; f = x^p", {"x": -3.0}, None, False),  # not asked for: only ∂f/∂x is shown
    ("x^y", {"x": -3.0, "y": 2.0}, ["x"], False),  # ∂f/∂y is undefined, but only ∂f/∂x is shown
    ("x^y", {"x": -3.0, "y": 2.0}, None, True),
    ("a = relu(0); f = a*x", {"x": 2.0}, ["a", "x"], False),  # a kink at a constant: no partial taken there
    ("a = relu(x); f = a*x", {"x": 0.0}, ["a", "x"], True),
    ("1e200*(1e200*x)", {"x": 1e-300}, None, True),  # finite partials whose product overflows
    ("1e100*(1e100*x)", {"x": 1e-300}, None, False),
])
def test_notes_concern_the_partials_shown_and_taken(source, at, wrt, warned):
    result = gradcli.differentiate(gradcli.parse(source), at, wrt=wrt)
    assert bool(result.notes) == warned, result.notes
    arguments = ["grad", source, "--at", ",".join(f"{k}={v}" for k, v in at.items()), "--json"]
    document = run_cli(*arguments, *(["--wrt", ",".join(wrt)] if wrt else [])).json()
    assert bool(document["warnings"]) == warned


@pytest.mark.parametrize("source, at, kinds", [
    ("sqrt(x)", {"x": 0.0}, ["kink"]),  # the infinite partial is the kink's convention, not an overflow
    ("atan2(y, x)", {"y": 0.0, "x": 0.0}, ["kink"]),
    ("sqrt(y) + 1e200*(1e200*x)", {"y": 0.0, "x": 1e-300}, ["kink"]),  # an infinite partial is on the way
    ("1e200*(1e200*x)", {"x": 1e-300}, ["overflow"]),
    ("atan2(y, x)", {"y": 0.0, "x": -1.0}, ["kink"]),  # a jump in y
    ("atan2(0, x)", {"x": -1.0}, []),  # ... with y a constant: π for every x < 0
    ("atan2(0, x)", {"x": 0.0}, ["nonfinite"]),  # a jump in x: ∂/∂x is nan
])
def test_the_kind_of_each_note(source, at, kinds):
    assert [note.kind for note in gradcli.differentiate(gradcli.parse(source), at).notes] == kinds


def test_a_gradient_that_overflows_from_finite_partials_is_named():
    result = gradcli.grad("1e200*(1e200*x) + y", x=1e-300, y=1.0)
    assert result.gradient == {"x": math.inf, "y": 1.0}
    assert [(result.graph.names[note.node], note.kind) for note in result.notes] == [("x", "overflow")]
    assert "x: the gradient overflows a double" in run_cli("grad", "1e200*(1e200*x) + y", "--at", "x=1e-300,y=1").stderr


def depends_on(graph, sources) -> list[int]:
    """1 for each node with one of `sources` among itself and its ancestors, found by a walk up
    from each node (quadratic, fine for small programs)."""
    flags = []
    for node in range(len(graph.ops)):
        stack, seen, found = [node], set(), False
        while stack and not found:
            j = stack.pop()
            if j not in seen:
                seen.add(j)
                found = j in sources
                stack.extend(graph.inputs[j])
        flags.append(int(found))
    return flags


@pytest.mark.parametrize("source", [
    *(random_program(seed)[0] for seed in SEEDS),
    "x*y + sin(x)", "q = x; f = q*q", "x + y*exp(x)",  # no constants
    "a = 2; f = a*x", "x^2 + x^(1+1)", "c = pi/4; f = sin(c*x) + sin(1)",  # constants, named or not
])
def test_the_nodes_that_need_a_gradient_are_those_that_depend_on_a_name(source):
    graph = gradcli.parse(source)
    names = {*graph.variables.values(), *graph.intermediates.values()}
    assert list(gradcli.engine.needs_gradient(graph)) == depends_on(graph, names)


def ancestors_of_output(graph) -> list[int]:
    """1 for the output and every node it depends on, found by a walk up from the output."""
    flags = [0] * len(graph.ops)
    stack = [graph.output]
    while stack:
        j = stack.pop()
        if not flags[j]:
            flags[j] = 1
            stack.extend(graph.inputs[j])
    return flags


@pytest.mark.parametrize("source", [
    *(random_program(seed)[0] for seed in SEEDS),
    "u = x*y; v = z + 1; u*2",  # v, z and 1 do not reach the output
    "a = x*2; b = a + y; a",  # the output is consumed later, by a step that does not reach it
    "x",
])
def test_reaching_output_marks_the_nodes_the_output_depends_on(source):
    graph = gradcli.parse(source)
    assert list(gradcli.graph.reaching_output(graph.inputs, graph.output)) == ancestors_of_output(graph)


SOFTMAX_XENT = ("s = exp(z1) + exp(z2) + exp(z3); "
                "L = -(y1*log(exp(z1)/s) + y2*log(exp(z2)/s) + y3*log(exp(z3)/s))")
SOFTMAX_AT = {"z1": 2.0, "z2": 1.0, "z3": 0.1, "y1": 1.0, "y2": 0.0, "y3": 0.0}


def test_data_gets_no_gradient_and_no_edge_leads_only_to_it():
    """The labels of a cross-entropy are data: ∂L/∂z = a − y (the seed's result) is unchanged, and
    no recorded step of the sweep ends in a label or in a node that depends on labels alone."""
    graph = gradcli.parse(SOFTMAX_XENT)
    result = gradcli.differentiate(graph, SOFTMAX_AT, record=True, data=["y1", "y2", "y3"])
    z = [SOFTMAX_AT[f"z{k}"] for k in (1, 2, 3)]
    softmax = [math.exp(v) / sum(map(math.exp, z)) for v in z]
    expected = {f"z{k}": softmax[k - 1] - SOFTMAX_AT[f"y{k}"] for k in (1, 2, 3)}
    assert list(result.gradient) == ["z1", "z2", "z3"]
    assert result.gradient == pytest.approx(expected, rel=1e-12)
    on_a_path_to_z = depends_on(graph, {graph.variables[f"z{k}"] for k in (1, 2, 3)})
    assert result.edges and all(on_a_path_to_z[edge.input] for edge in result.edges)


def test_wrt_takes_partials_only_on_paths_to_what_is_asked():
    graph = gradcli.parse(SOFTMAX_XENT)
    full = gradcli.differentiate(graph, SOFTMAX_AT, record=True)
    only = gradcli.differentiate(graph, SOFTMAX_AT, record=True, wrt=["z2", "s"])
    assert only.gradient == {"z2": full.gradient_of("z2"), "s": full.gradient_of("s")}
    wanted = depends_on(graph, {graph.variables["z2"], graph.intermediates["s"]})
    assert {(e.consumer, e.input) for e in only.edges} == {(e.consumer, e.input) for e in full.edges if wanted[e.input]}


@pytest.mark.parametrize("options, message", [
    ({"data": ["w"]}, "no variable 'w'"),
    ({"data": ["y1"], "wrt": ["y1"]}, "is data"),
])
def test_data_names_are_checked(options, message):
    with pytest.raises(gradcli.BindingError, match=message):
        gradcli.differentiate(gradcli.parse(SOFTMAX_XENT), SOFTMAX_AT, **options)


@pytest.mark.parametrize("source, at, kink", [
    ("max(x, x)", {"x": 1.0}, False),  # f = x: differentiable
    ("max(x, x, y)", {"x": 1.0, "y": 1.0}, True),  # x and y tie
    ("min(x, 2*x)", {"x": 0.0}, True),  # different nodes with equal values
])
def test_a_tie_is_between_different_inputs(source, at, kink):
    run = run_cli("grad", source, "--at", ",".join(f"{k}={v}" for k, v in at.items()))
    assert run.code == 0 and ("not differentiable" in run.stderr) == kink, run.stderr


@pytest.mark.parametrize("source, at, wrt, expected", [
    ("x^0", "x=0", None, None),  # x^0 is 1: differentiable, the constant exponent has no partial taken
    ("x^2", "x=0", None, None),
    ("x^0.5", "x=0", None, "∂/∂a = +inf"),
    ("x^y", "x=0,y=0", None, "∂/∂b = 0"),  # 0^y jumps from 1 at y = 0 to 0 for y > 0
    ("x^y", "x=0,y=0", "x", None),  # ∂/∂x of x^0 exists: only ∂/∂y is at stake, and it is not asked
    ("x^y", "x=0,y=0.5", None, "∂/∂a = +inf"),
])
def test_a_power_kink_note_concerns_the_partials_taken(source, at, wrt, expected):
    run = run_cli("grad", source, "--at", at, *(["--wrt", wrt] if wrt else []))
    assert run.code == 0
    if expected is None:
        assert "warning" not in run.stderr, run.stderr
    else:
        assert expected in run.stderr and run.stderr.count("warning") == 1, run.stderr


# ----- size and depth: a million nodes, no recursion -----


def test_a_million_node_program_end_to_end_through_the_api():
    """Horner's scheme nested 500 000 deep: f = (((x·a + b)·a + b)·a + b)… = x·aᴺ + b·(aᴺ - 1)/(a - 1)."""
    levels = 500_000
    source = "(" * levels + "x" + "*a + b)" * levels
    x, a, b = 0.5, 1 - 2.0**-20, 0.25
    result = gradcli.grad(source, x=x, a=a, b=b)
    assert len(result.graph) == 3 + 2 * levels  # over a million nodes
    power = math.pow(a, levels)
    geometric = (power - 1) / (a - 1)  # Σ a^k, k < N
    d_geometric = (levels * math.pow(a, levels - 1) * (a - 1) - (power - 1)) / (a - 1) ** 2
    assert result.value == pytest.approx(x * power + b * geometric, rel=1e-9)
    assert list(result.gradient) == ["x", "a", "b"]
    assert result.gradient["x"] == pytest.approx(power, rel=1e-9)
    assert result.gradient["b"] == pytest.approx(geometric, rel=1e-9)
    assert result.gradient["a"] == pytest.approx(levels * x * math.pow(a, levels - 1) + b * d_geometric, rel=1e-9)


@contextmanager
def shallow_recursion_limit(headroom: int = 120):
    """Only `headroom` frames above this one: any recursion over the program's depth fails."""
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + headroom)
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


DEPTH = 100_000


def test_depth_needs_no_recursion_sin_chain():
    """sin(sin(…sin(x)…)) 100 000 deep, against a plain loop of the chain rule."""
    x = 1.1
    value, derivative = x, 1.0
    for _ in range(DEPTH):
        derivative *= math.cos(value)
        value = math.sin(value)
    source = "sin(" * DEPTH + "x" + ")" * DEPTH
    gradcli.parse("sin(x)")  # warm-up outside the limit
    with shallow_recursion_limit():
        graph = gradcli.parse(source)
        result = gradcli.differentiate(graph, {"x": x})
        text = graph.expression()
    assert text == source
    assert result.value == value  # the same operations in the same order
    assert result.gradient["x"] == pytest.approx(derivative, rel=1e-12)


@pytest.mark.parametrize("source, value, gradient", [
    ("-" * DEPTH + "x", 2.0, 1.0),
    ("-" * (DEPTH + 1) + "x", -2.0, -1.0),
    ("(x + " * DEPTH + "1" + ")" * DEPTH, DEPTH * 2.0 + 1, float(DEPTH)),
    ("(" * DEPTH + "x" + ")" * DEPTH, 2.0, 1.0),
    ("a0 = x\n" + "".join(f"a{k} = a{k - 1} + x\n" for k in range(1, DEPTH)), DEPTH * 2.0, float(DEPTH)),
], ids=["minus-even", "minus-odd", "right-nested-sum", "parentheses", "statement-chain"])
def test_depth_needs_no_recursion(source, value, gradient):
    with shallow_recursion_limit():
        graph = gradcli.parse(source)
        result = gradcli.differentiate(graph, {"x": 2.0}, record=True)
        graph.expression()
        graph.program()
    assert result.value == value
    assert result.gradient == {"x": gradient}


def test_reaching_output_needs_no_recursion():
    """The output a1 = x*y comes first; the 100 000 steps after it do not reach it."""
    graph = gradcli.parse("a1 = x*y\n" + "".join(f"a{k} = a{k - 1} + x\n" for k in range(2, DEPTH)) + "a1")
    with shallow_recursion_limit():
        reaches = gradcli.graph.reaching_output(graph.inputs, graph.output)
    assert [node for node, flag in enumerate(reaches) if flag] == [graph.variables["x"], graph.variables["y"],
                                                                    graph.intermediates["a1"]]


def test_the_recursion_guard_itself_works():
    """shallow_recursion_limit() does catch a recursive walk: the tests above can fail."""

    def recursive_depth(n):
        return 0 if n == 0 else 1 + recursive_depth(n - 1)

    with shallow_recursion_limit(), pytest.raises(RecursionError):
        recursive_depth(1000)
