"""The three witnesses (`gradcli check`, `grad --check`): reverse mode against SymPy and finite
differences, and against a student's own numbers.

The references are independent of our partials: the published course numbers (seed examples),
SymPy's own derivative, and textbook one-sided derivatives at kinks. A deliberately wrong
partial planted in the op table must make the check fail.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import re
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcli import witness
from gradcli.api import grad
from gradcli.check import CONVENTION, MISMATCH, NOT_DIFFERENTIABLE, OK, UNDEFINED, Expectation, check_gradient
from gradcli.errors import ExitStatus
from gradcli.formatting import format_value
from gradcli.graph import apply_text
from gradcli.ops import ELEMENTWISE, FUNCTIONS, OPS, Op
from gradcli.parse import parse

from conftest import REPO, at_option, run_cli, run_process, seed_examples

# The chain that keeps SymPy busy for minutes (8 steps already take 7 s).
CHAIN = "; ".join(["a1 = sin(x)*x + x*y"] + [f"a{i} = sin(a{i - 1})*x + a{i - 1}*y" for i in range(2, 17)])


def check_json(*args: str):
    run = run_cli("check", *args, "--json")
    return run, (run.json() if run.stdout.strip() else None)


def close(a: float, b: float, rtol: float) -> bool:
    return math.isclose(a, b, rel_tol=rtol, abs_tol=rtol * 1e-2)


# ----- all three witnesses agree -----


@pytest.mark.parametrize("example", seed_examples(), ids=lambda e: e["name"])
def test_witnesses_agree_with_the_published_numbers(example):
    run, document = check_json(example["expression"], "--at", at_option(example["at"]))
    assert run.code == ExitStatus.OK, run.stderr
    check = document["check"]
    assert check["ok"] and check["mode"] == "whole"
    assert check["locals"]["checked"] > 0 and not check["locals"]["mismatches"]
    for name, published in example["gradient"].items():
        entry = check["variables"][name]
        assert entry["verdict"] == OK
        assert close(entry["ad"], published, 1e-12)
        assert close(entry["sympy"], published, 1e-12)
        assert close(entry["fd"], published, 1e-6)


def test_grad_check_prints_the_gradient_and_the_check():
    run = run_cli("grad", "(x+y)*z", "--at", "x=-2,y=5,z=-4", "--check")
    assert run.code == ExitStatus.OK
    assert "∂f/∂variable" in run.stdout and "SymPy differentiated the whole expression" in run.stdout
    assert "the witnesses agree" in run.stdout


def test_grad_check_json_has_the_gradient_and_the_check():
    document = run_cli("grad", "(x+y)*z", "--at", "x=-2,y=5,z=-4", "--check", "--json").json()
    assert document["gradient"] == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert set(document["check"]) >= {"ok", "mode", "variables", "notes"}
    assert set(document["check"]["variables"]["z"]) >= {"ad", "sympy", "fd", "verdict"}


# Random programs: smooth ops on safe domains, plus selections (relu, max, abs) that are
# exact at random points. Test-side text generation; the parser is what is being fed.
_UNARY = ["sin({})", "cos({})", "tanh({})", "sigmoid({})", "softplus({})", "atan({})", "exp(tanh({}))",
          "log(1 + ({})^2)", "sqrt(2 + ({})^2)", "relu({})", "abs({})"]
_BINARY = ["({}) + ({})", "({}) - ({})", "({}) * ({})", "({}) / (1.5 + ({})^2)", "max({}, {})", "min({}, {})",
           "atan2({}, 2 + ({})^2)", "(1 + ({})^2)^sin({})"]


@st.composite
def programs(draw):
    names = ["x", "y", "z"]
    leaves = st.sampled_from(names + ["0.5", "2", "pi"])
    expression = draw(st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.tuples(st.sampled_from(_UNARY), inner).map(lambda t: t[0].format(t[1])),
            st.tuples(st.sampled_from(_BINARY), inner, inner).map(lambda t: t[0].format(t[1], t[2])),
        ),
        max_leaves=7,
    ))
    point = {name: draw(st.floats(-3, 3, allow_nan=False).map(lambda v: round(v, 3))) for name in names}
    return "f = " + expression + " + 0*(x + y + z)", point


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_witnesses_agree_on_random_programs(program):
    source, point = program
    report = check_gradient(grad(source, point), timeout=20)
    assert report.ok, (source, point, report.variables, report.local_mismatches)
    assert report.mode == "whole"
    for variable in report.variables:
        assert variable.verdict in (OK, NOT_DIFFERENTIABLE, CONVENTION), variable
        if variable.verdict == OK and variable.detail is None:
            assert variable.sympy is not None and variable.fd is not None


@settings(max_examples=15, deadline=None)
@given(programs())
def test_local_mode_agrees_on_random_programs(program):
    source, point = program
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(witness, "MAX_WHOLE_NODES", 0)  # local mode for every program
        report = check_gradient(grad(source, point), timeout=20)
    assert report.mode == "local"
    assert report.ok, (source, point, report.variables, report.local_mismatches)


_GENERIC_POINTS = {1: {"x": 0.3}, 2: {"x": 0.7, "y": 1.3}, None: {"x": 0.3, "y": 0.9, "z": 0.5}}


@pytest.mark.parametrize("mode", ["whole", "local"])
@pytest.mark.parametrize("op", [op for op in ELEMENTWISE if op.syntax], ids=lambda op: op.name)
def test_sympy_confirms_every_partial_of_the_op_table(op, mode, monkeypatch):
    if mode == "local":
        monkeypatch.setattr(witness, "MAX_WHOLE_NODES", 0)
    point = _GENERIC_POINTS[op.arity]
    result = grad(apply_text(op, list(point)), point)
    report = check_gradient(result)
    assert report.ok and report.mode == mode
    assert report.local_checked == len(point) and not report.local_mismatches
    assert all(v.verdict == OK and v.sympy is not None for v in report.variables)


# ----- a wrong partial planted in the op table is caught -----


def replaced(op: Op, **changes) -> Op:
    """A copy of an op-table entry with some fields changed (entries are immutable records)."""
    return Op(**{slot: changes.get(slot, getattr(op, slot)) for slot in Op.__slots__})


def _wrong_sin(factor: float):
    return replaced(OPS["sin"], partials=(lambda xp, out, a: factor * xp.cos(a),))


@pytest.mark.parametrize("factor, caught_by_fd", [(-1.0, True), (1 + 1e-6, False)], ids=["gross", "subtle"])
def test_a_wrong_partial_in_the_op_table_fails_the_check(monkeypatch, factor, caught_by_fd):
    monkeypatch.setitem(FUNCTIONS, "sin", {1: _wrong_sin(factor)})
    run, document = check_json("sin(x)*y", "--at", "x=0.7,y=2")
    assert run.code == ExitStatus.CHECK_FAILED
    check = document["check"]
    assert not check["ok"] and check["variables"]["x"]["verdict"] == MISMATCH
    assert check["variables"]["y"]["verdict"] == OK
    assert close(check["variables"]["x"]["sympy"], 2 * math.cos(0.7), 1e-12)  # SymPy was not fed our partial
    fd_gap = abs(check["variables"]["x"]["fd"] - check["variables"]["x"]["ad"])
    assert (fd_gap > 1e-3) == caught_by_fd  # the subtle error hides from finite differences, not from SymPy
    [mismatch] = check["locals"]["mismatches"]
    assert mismatch["formula"] == "sin(x)" and close(mismatch["sympy"], math.cos(0.7), 1e-12)
    assert mismatch["partial"] == "cos(x)"  # the input's name, not the op table's placeholder a
    human = run_cli("check", "sin(x)*y", "--at", "x=0.7,y=2")
    assert "∂t1/∂x = cos(x)" in human.stdout and "cos(a)" not in human.stdout


def test_a_wrong_partial_is_caught_in_local_mode(monkeypatch):
    monkeypatch.setattr(witness, "MAX_WHOLE_NODES", 0)
    monkeypatch.setitem(FUNCTIONS, "sin", {1: _wrong_sin(1 + 1e-6)})
    run, document = check_json("sin(x)*y", "--at", "x=0.7,y=2")
    assert run.code == ExitStatus.CHECK_FAILED
    assert document["check"]["mode"] == "local"
    assert document["check"]["variables"]["x"]["verdict"] == MISMATCH
    assert len(document["check"]["locals"]["mismatches"]) == 1


def test_a_wrong_infix_partial_is_caught():
    graph = parse("(x+y)*z")
    wrong_mul = replaced(OPS["mul"], partials=(lambda xp, out, a, b: b, lambda xp, out, a, b: b))
    graph.ops = [wrong_mul if op is OPS["mul"] else op for op in graph.ops]
    from gradcli.api import differentiate

    report = check_gradient(differentiate(graph, {"x": -2, "y": 5, "z": -4}))
    assert not report.ok
    verdicts = {v.name: v.verdict for v in report.variables}
    assert verdicts == {"x": OK, "y": OK, "z": MISMATCH}  # ∂f/∂z came out as z, not x + y


# ----- kinks: reported, not failed -----

KINKS = [
    # (program, point, variable, left, right, words of the convention)
    ("relu(x)", "x=0", "x", 0.0, 1.0, "relu'(0) = 0"),
    ("abs(x)", "x=0", "x", -1.0, 1.0, "abs'(0) = 0"),
    ("max(x, y)", "x=1,y=1", "x", 0.0, 1.0, "split evenly"),
    ("min(x, y)", "x=1,y=1", "y", 1.0, 0.0, "split evenly"),
    ("relu(x)*y", "x=0,y=3", "x", 0.0, 3.0, "relu'(0) = 0"),
    ("(x^2)^0.5", "x=0", "x", -1.0, 1.0, "0 < b < 1"),
]


@pytest.mark.parametrize("source, at, name, left, right, convention", KINKS, ids=[k[0] for k in KINKS])
def test_kinks_are_reported_not_failed(source, at, name, left, right, convention):
    run, document = check_json(source, "--at", at)
    assert run.code == ExitStatus.OK
    entry = document["check"]["variables"][name]
    assert entry["verdict"] == NOT_DIFFERENTIABLE
    assert close(entry["one_sided"]["left"], left, 1e-6) and close(entry["one_sided"]["right"], right, 1e-6)
    assert convention in entry["detail"]
    human = run_cli("check", source, "--at", at)
    assert human.code == ExitStatus.OK and "not differentiable at this point" in human.stdout


def test_sqrt_at_zero_has_only_a_right_derivative():
    run, document = check_json("sqrt(x)", "--at", "x=0")
    assert run.code == ExitStatus.OK
    entry = document["check"]["variables"]["x"]
    assert entry["verdict"] == NOT_DIFFERENTIABLE and entry["ad"] == "inf"
    assert entry["one_sided"] == {"left": None, "right": "inf"}  # √h/h = 1/√h grows without bound
    human = " ".join(run_cli("check", "sqrt(x)", "--at", "x=0").stdout.split())  # lines wrap at 80 columns
    assert "left undefined, right +inf (unbounded)" in human


# Textbook one-sided derivatives, finite or not: (program, point, variable, left, right).
# None is undefined (f has no real values on that side); ±inf an unbounded difference quotient.
ONE_SIDED = [
    ("relu(x)", {"x": 0.0}, "x", 0.0, 1.0),
    ("abs(x)", {"x": 0.0}, "x", -1.0, 1.0),
    ("max(x, y)", {"x": 1.0, "y": 1.0}, "x", 0.0, 1.0),
    ("max(x, y)", {"x": 1.0, "y": 1.0}, "y", 0.0, 1.0),
    ("sqrt(x)", {"x": 0.0}, "x", None, math.inf),
    ("sqrt(abs(x))", {"x": 0.0}, "x", -math.inf, math.inf),
    ("-sqrt(x)*y", {"x": 0.0, "y": 2.0}, "x", None, -math.inf),
    ("x^y", {"x": 0.0, "y": 0.0}, "y", None, -math.inf),  # 0^0 = 1 jumps to 0^y = 0: (0 - 1)/h
    ("x^0.9", {"x": 0.0}, "x", None, math.inf),  # h^-0.1: slow, but it keeps growing
    ("(x^2)^0.5", {"x": 0.0}, "x", -1.0, 1.0),
    ("relu(x) + sqrt(x + 1)", {"x": 0.0}, "x", 0.5, 1.5),  # finite, with curvature on both sides
    ("sqrt(x^2)", {"x": 0.0}, "x", -1.0, 1.0),  # reverse mode: ∞ × 0 = nan, SymPy: sign(0) = 0; a kink all the same
]


@pytest.mark.parametrize("source, at, name, left, right", ONE_SIDED,
                         ids=[f"{s}-{n}" for s, _, n, _, _ in ONE_SIDED])
def test_one_sided_derivatives_are_the_textbook_ones_and_unbounded_ones_are_infinite(source, at, name, left, right):
    report = check_gradient(grad(source, at))
    [entry] = [v for v in report.variables if v.name == name]
    assert entry.verdict == NOT_DIFFERENTIABLE
    for got, want in ((entry.left, left), (entry.right, right)):
        if want is None or math.isinf(want):
            assert got == want
        else:
            assert got is not None and math.isfinite(got) and close(got, want, 1e-6)


def test_unbounded_one_sided_derivatives_print_as_infinite_not_as_a_step_size_artefact():
    run = run_cli("check", "x^y", "--at", "x=0,y=0", env={"COLUMNS": "200"})
    assert run.code == ExitStatus.OK
    [line] = [line for line in run.stdout.splitlines() if line.startswith("y:")]
    assert "left undefined, right -inf (unbounded)" in line and not re.search(r"right -?\d", line)


def test_a_convention_at_a_removable_kink_is_reported_not_failed():
    # relu(x) - relu(-x) is x: differentiable at 0, but both relu'(0) = 0 give 0.
    run, document = check_json("relu(x) - relu(-x)", "--at", "x=0")
    assert run.code == ExitStatus.OK
    entry = document["check"]["variables"]["x"]
    assert entry["verdict"] == CONVENTION and entry["ad"] == 0 and close(entry["fd"], 1.0, 1e-8)


def test_an_undefined_partial_is_reported_not_failed():
    run, document = check_json("x^y", "--at", "x=-2,y=2")  # (-2)^y has no real derivative in y
    assert run.code == ExitStatus.OK
    variables = document["check"]["variables"]
    assert variables["y"]["verdict"] == UNDEFINED and variables["x"]["verdict"] == OK


def test_near_a_kink_finite_differences_step_aside_and_sympy_decides():
    report = check_gradient(grad("relu(x)", x=1e-9))
    [x] = report.variables
    assert report.ok and x.verdict == OK and x.sympy == 1.0 and "finite differences not used" in x.detail


@pytest.mark.parametrize("source, at", [("asin(x)", "x=1"), ("acos(x)", "x=-1"), ("sqrt(x)", "x=0")])
def test_sympy_at_a_pole_of_the_derivative_has_no_value_not_a_huge_one(source, at):
    """SymPy gets the doubles exactly: 1/sqrt(1 - x²) at x = 1 is a pole (evalf with subs gave 1.8e75)."""
    run, document = check_json(source, "--at", at)
    assert run.code == ExitStatus.OK
    [entry] = document["check"]["variables"].values()
    assert entry["sympy"] is None and entry["ad"] in ("inf", "-inf")


def test_grad_check_with_wrt_still_checks_every_variable_with_its_notes():
    run = run_cli("grad", "x^p", "--at", "x=-3,p=2", "--wrt", "x", "--check", "--json")
    variables = run.json()["check"]["variables"]
    assert variables["x"]["verdict"] == OK and variables["p"]["verdict"] == UNDEFINED


def test_an_undefined_value_is_a_math_error_not_a_check():
    run = run_cli("check", "log(x)", "--at", "x=-1")
    assert run.code == ExitStatus.MATH_ERROR and "negative number" in run.stderr


# ----- the time limit, the size guard, SymPy failures -----


def test_a_program_that_keeps_sympy_busy_returns_within_the_limit():
    started = time.monotonic()
    run = run_process("check", CHAIN, "--at", "x=0.5,y=0.7", "--check-timeout", "2", "--json", timeout=60)
    elapsed = time.monotonic() - started
    assert run.code == ExitStatus.OK, run.stderr
    document = run.json()
    assert elapsed < 12  # interpreter start + SymPy import + 2 s, not minutes
    assert math.isfinite(document["value"]) and set(document["gradient"]) == {"x", "y"}
    check = document["check"]
    assert check["mode"] == "local" and check["ok"]
    assert any("symbolic check unavailable for the whole expression: timed out after 2 s" in n for n in check["notes"])
    for entry in check["variables"].values():
        assert close(entry["sympy"], entry["ad"], 1e-10)


def test_without_any_symbolic_result_the_exit_code_is_unchanged():
    run, document = check_json("sin(x)*y", "--at", "x=0.7,y=2", "--check-timeout", "0.001")
    assert run.code == ExitStatus.OK
    check = document["check"]
    assert check["mode"] == "unavailable" and check["ok"]
    assert any(n.startswith("symbolic check unavailable: timed out") for n in check["notes"])
    assert all(v["sympy"] is None and v["verdict"] == OK for v in check["variables"].values())


def _raising(error):
    def counterpart(sp, *inputs):
        raise error

    return counterpart


@pytest.mark.parametrize("error, words", [(RecursionError(), "nested too deeply"), (ValueError("boom"), "boom")],
                         ids=["recursion", "exception"])
def test_a_sympy_failure_leaves_the_main_result_and_the_exit_code(monkeypatch, error, words):
    monkeypatch.setitem(OPS, "sin", replaced(OPS["sin"], sympy=_raising(error)))
    run = run_cli("grad", "sin(x)*y", "--at", "x=0.7,y=2", "--check", "--json")
    assert run.code == ExitStatus.OK
    document = run.json()
    assert document["gradient"]["y"] == math.sin(0.7)
    [note] = document["check"]["notes"]
    assert note.startswith("symbolic check unavailable: ") and words in note


def test_the_size_guard_picks_local_mode_and_a_10000_node_check_takes_seconds():
    steps = ["a1 = tanh(x*y)"] + [f"a{i} = tanh(a{i - 1}*x + y) + 0.1*a{i - 1}" for i in range(2, 2001)]
    source = "; ".join(steps)
    result = grad(source, x=0.3, y=-0.2)
    assert len(result.graph) > 10_000
    started = time.monotonic()
    report = check_gradient(result)
    elapsed = time.monotonic() - started
    assert report.mode == "local" and report.ok
    assert any("operations (the whole-expression limit is" in note for note in report.notes)
    assert report.local_checked > 10_000 and elapsed < 15


def test_a_spawned_worker_gives_the_same_check(monkeypatch):
    # The start method of systems without a safe fork (macOS, Windows): the job travels pickled.
    monkeypatch.setattr(witness, "START_METHOD", "spawn")
    report = check_gradient(grad("q = x + y; f = q * z", x=-2, y=5, z=-4), timeout=60)
    assert report.ok and report.mode == "whole" and report.local_checked == 4
    assert [v.sympy for v in report.variables] == [-4.0, -4.0, 3.0]


def test_no_worker_process_outlives_the_check():
    check_json(CHAIN, "--at", "x=0.5,y=0.7", "--check-timeout", "0.5")
    assert multiprocessing.active_children() == []


# ----- --expect and --expect-node -----


def test_expect_right_numbers_pass():
    run, document = check_json("(x+y)*z", "--at", "x=-2,y=5,z=-4", "--expect", "x=-4,y=-4,z=3")
    assert run.code == ExitStatus.OK
    assert all(e["ok"] for e in document["check"]["expect"].values())


def test_expect_wrong_numbers_fail_naming_each():
    run = run_cli("check", "(x+y)*z", "--at", "x=-2,y=5,z=-4", "--expect", "x=-4,y=4,z=2")
    assert run.code == ExitStatus.CHECK_FAILED
    document = run_cli("check", "(x+y)*z", "--at", "x=-2,y=5,z=-4", "--expect", "x=-4,y=4,z=2", "--json").json()
    expect = document["check"]["expect"]
    assert {name for name, e in expect.items() if not e["ok"]} == {"y", "z"}
    assert expect["y"]["right"] == -4 and expect["z"]["right"] == 3


@pytest.mark.parametrize("typed, ok", [("0.39", True), ("0.4", True), ("0.38", False), ("0.3932", True),
                                       ("0.3933", False), ("1/3", False)])
def test_a_decimal_counts_to_the_digits_typed(typed, ok):
    # ∂f/∂x0 of the neuron is 0.39322386648... (CS231n prints 0.39).
    run = run_cli("check", "sigmoid(w0*x0 + w1*x1 + w2)", "--at", "w0=2,x0=-1,w1=-3,x1=-2,w2=-3",
                  "--expect", f"x0={typed}")
    assert (run.code == ExitStatus.OK) == ok


def test_an_integer_is_taken_exactly():
    assert check_json("x*y", "--at", "x=3,y=4.4", "--expect", "x=4")[0].code == ExitStatus.CHECK_FAILED
    assert check_json("x*y", "--at", "x=3,y=4", "--expect", "x=4")[0].code == ExitStatus.OK


def test_expect_node_right():
    run, document = check_json("q = x + y; f = q * z", "--at", "x=-2,y=5,z=-4", "--expect-node", "q=-4")
    assert run.code == ExitStatus.OK and "first_wrong" not in document["check"]


def test_expect_node_wrong_names_the_first_wrong_step_with_its_local_gradients():
    # The student got ∂f/∂q wrong (4); their x, y follow from it (4, 4). q comes first backwards.
    run, document = check_json("q = x + y; f = q * z", "--at", "x=-2,y=5,z=-4",
                               "--expect-node", "q=4,x=4", "--expect", "z=3")
    assert run.code == ExitStatus.CHECK_FAILED
    first = document["check"]["first_wrong"]
    assert first["name"] == "q" and first["right"] == -4 and first["expected"] == 4
    [step] = first["steps"]
    assert step["via"] == "f" and step["upstream"] == 1 and step["local"] == -4 and step["contribution"] == -4
    human = run_cli("check", "q = x + y; f = q * z", "--at", "x=-2,y=5,z=-4", "--expect-node", "q=4,x=4")
    assert "First wrong step" in human.stdout and "∂f/∂q is -4, not 4" in human.stdout


def test_expect_node_at_a_branch_shows_every_contribution():
    # branch-node seed: y1 = 2x, y2 = x², ∂z/∂x = 2 + 6 = 8.
    document = check_json("y1 = 2*x; y2 = x^2; z = y1 + y2", "--at", "x=3", "--expect-node", "x=6")[1]
    first = document["check"]["first_wrong"]
    assert first["right"] == 8
    assert sorted(step["contribution"] for step in first["steps"]) == [2, 6]


@pytest.mark.parametrize("source, at, expect, partial, japanese", [
    ("x^3", "x=2", "x=10", "∂f/∂x = 3·x² = 12", "∂f/∂x = 3·x² = 12"),  # 3·2² = 12: the exponent put in
    ("max(x,y)", "x=1,y=1", "x=1", "∂f/∂x = ½ (2 inputs equal the largest) = 0.5",
     "∂f/∂x = ½（2 つの入力が最大値に等しい） = 0.5"),  # a tie: each input's share
    ("q = x + y; f = max(q, 3)", "x=1,y=2", "q=1", "∂f/∂q = ½ (2 inputs equal the largest) = 0.5",
     "∂f/∂q = ½（2 つの入力が最大値に等しい） = 0.5"),
], ids=["power", "tie", "tie-with-a-constant"])
def test_the_first_wrong_step_shows_the_partial_that_gives_its_number(source, at, expect, partial, japanese):
    """The explanation shows each local partial as the trace does, a formula that gives the number beside it,
    not the op table's `b·a^(b-1)` or a false `1 if x is the largest else 0` at a tie."""
    option = "--expect-node" if expect.startswith("q") else "--expect"
    wide = {"COLUMNS": "200"}
    run = run_cli("check", source, "--at", at, option, expect, env=wide)
    assert run.code == ExitStatus.CHECK_FAILED
    [line] = [line for line in run.stdout.splitlines() if line.startswith("  via ")]
    assert f"local {partial} → " in line and "^(3-1)" not in line and "largest else" not in line
    assert f" {partial} " in run_cli("trace", source, "--at", at, env=wide).stdout  # the trace's row of that edge
    steps = run_cli("check", source, "--at", at, option, expect, "--json").json()["check"]["first_wrong"]["steps"]
    assert [step["local_formula"] for step in steps] == [partial.split(" = ")[1]]
    assert japanese in run_cli("check", source, "--at", at, option, expect, "--lang", "ja", env=wide).stdout


def test_no_line_of_a_check_ends_in_spaces(monkeypatch):
    # The witnesses table, "Your numbers" and the unconfirmed-partials table: Rich pads cells.
    run = run_cli("check", "q = x + y; f = q * z", "--at", "x=-2,y=5,z=-4", "--expect-node", "q=4", "--expect", "z=3")
    tables = run.stdout + run_cli("check", "relu(x)*y", "--at", "x=0,y=2").stdout
    monkeypatch.setitem(FUNCTIONS, "sin", {1: _wrong_sin(-1.0)})
    tables += run_cli("check", "sin(x)*y", "--at", "x=0.7,y=2").stdout
    for heading in ("verdict", "Your numbers", "yours", "Local partials that SymPy does not confirm", "op table"):
        assert heading in tables
    assert [line for line in tables.splitlines() if line != line.rstrip()] == []


def test_expect_node_accepts_trace_labels():
    run, document = check_json("(x+y)*z", "--at", "x=-2,y=5,z=-4", "--expect-node", "t1=-4")
    assert run.code == ExitStatus.OK and document["check"]["expect"]["t1"]["ok"]


def test_the_unnamed_output_is_f_in_expectations_traces_and_warnings():
    run, document = check_json("(x+y)*z", "--at", "x=-2,y=5,z=-4", "--expect-node", "f=1")
    assert run.code == ExitStatus.OK and document["check"]["expect"]["f"]["ok"]
    trace = run_cli("grad", "(x+y)*z", "--at", "x=-2,y=5,z=-4", "--trace", "--json").json()["trace"]
    assert trace["forward"][-1]["node"] == "f" and trace["backward"][0] == {
        "node": "f", "grad": 1.0, "edges": trace["backward"][0]["edges"]}
    assert run_cli("grad", "relu(x)", "--at", "x=0").stderr.startswith("gradcli: warning: f = relu(x):")


@pytest.mark.parametrize("args", [("--expect", "nope=1"), ("--expect", "x=1", "--expect", "x=2"),
                                  ("--expect", "x")], ids=["unknown", "twice", "no-value"])
def test_bad_expectations_are_usage_errors(args):
    run = run_cli("check", "(x+y)*z", "--at", "x=-2,y=5,z=-4", *args)
    assert run.code == ExitStatus.BAD_INPUT and "Traceback" not in run.stderr


def test_api_expectations():
    report = check_gradient(grad("(x+y)*z", x=-2, y=5, z=-4), expectations=[Expectation("z", 3.0)])
    assert report.ok and report.expectations[0].right == 3.0


def test_rtol_loosens_the_sympy_comparison(monkeypatch):
    monkeypatch.setitem(FUNCTIONS, "sin", {1: _wrong_sin(1 + 1e-6)})
    assert check_json("sin(x)*y", "--at", "x=0.7,y=2")[0].code == ExitStatus.CHECK_FAILED
    assert check_json("sin(x)*y", "--at", "x=0.7,y=2", "--rtol", "1e-5")[0].code == ExitStatus.OK


# ----- start-up and safety -----


def test_a_plain_grad_never_imports_sympy():
    def imported(*args):
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "gradcli", *args], capture_output=True,
                              text=True, env={"PYTHONPATH": str(REPO)}, timeout=60)
        assert done.returncode == 0, done.stderr
        return {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "|" in line}

    assert "sympy" not in imported("grad", "(x+y)*z", "--at", "x=-2,y=5,z=-4", "--json")
    assert "sympy" in imported("grad", "(x+y)*z", "--at", "x=-2,y=5,z=-4", "--json", "--check")


AUDIT_SCRIPT = """
import sys, types
log = sys.argv[1]
MARK = "Zq7Xv"  # in no library: only user text carries it

def mentions(item, depth=0):
    if isinstance(item, (str, bytes)):
        return MARK in (item if isinstance(item, str) else item.decode("utf-8", "replace"))
    if isinstance(item, types.CodeType) and depth < 10:
        return any(mentions(x, depth + 1) for x in (*item.co_names, *item.co_varnames, *item.co_consts))
    return False

def hook(event, args):
    if event in ("compile", "exec") and args and mentions(args[0]):
        with open(log, "a") as stream:
            stream.write(event + "\\n")

sys.addaudithook(hook)
from gradcli.cli import main
program = "q_Zq7Xv = w_Zq7Xv * sin(v_Zq7Xv) + exp(w_Zq7Xv)/(1 + v_Zq7Xv^2); r_Zq7Xv = q_Zq7Xv^2"
at = "w_Zq7Xv=0.5,v_Zq7Xv=-1.25"
codes = [main(["check", program, "--at", at, "--json"]),
         main(["check", program, "--at", at, "--expect", "w_Zq7Xv=1", "--json"]),
         main(["diff", program, "--at", at, "--json"]),
         main(["diff", program, "--wrt", "q_Zq7Xv", "--latex"])]
print(codes)
compile("control_Zq7Xv + 1", "<control>", "eval")  # the hook does see user text when it is compiled
"""


def test_no_user_text_is_compiled_or_executed(tmp_path):
    log = tmp_path / "events.log"
    done = subprocess.run([sys.executable, "-c", AUDIT_SCRIPT, str(log)], capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO)}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [0, 1, 0, 0]
    assert log.read_text().splitlines() == ["compile"]  # the control alone


def test_check_module_has_no_sympy_at_import():
    code = "import sys, gradcli.check, gradcli.witness; print('sympy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(REPO)},
                          timeout=60)
    assert done.stdout.strip() == "False"


def test_finite_differences_without_numpy_match_the_batched_ones(monkeypatch):
    source = "sigmoid(w0*x0 + w1*x1 + w2)"
    result = grad(source, w0=2, x0=-1, w1=-3, x1=-2, w2=-3)
    batched = witness.finite_differences(result.graph, result.at, result.value)
    monkeypatch.setitem(sys.modules, "numpy", None)  # import numpy now raises ImportError
    scalar = witness.finite_differences(result.graph, result.at, result.value)
    for name in result.at:
        assert close(batched[name].central, scalar[name].central, 1e-9)
        assert close(scalar[name].central, result.gradient[name], 1e-8)


def test_constants_become_exact_numbers_not_huge_integers():
    import sympy as sp

    assert witness.sympy_number(sp, 1.1, "1.1") == sp.Rational(11, 10)
    assert witness.sympy_number(sp, 3.0, "3") == sp.Integer(3)
    assert witness.sympy_number(sp, math.pi, "pi") is sp.pi
    assert isinstance(witness.sympy_number(sp, 1e300, "1e300"), sp.Float)
    assert isinstance(witness.sympy_number(sp, 1e-300, "1e-300"), sp.Float)


def test_check_options_of_grad_need_check():
    run = run_cli("grad", "(x+y)*z", "--at", "x=-2,y=5,z=-4", "--rtol", "1e-3")
    assert run.code == ExitStatus.BAD_INPUT and "--check" in run.stderr


def test_without_sympy_the_check_falls_back_to_finite_differences(monkeypatch):
    monkeypatch.setitem(sys.modules, "sympy", None)  # import sympy now raises ImportError
    report = check_gradient(grad("(x+y)*z", x=-2, y=5, z=-4))
    assert report.ok and report.mode == "unavailable"
    assert report.notes == ["symbolic check unavailable: SymPy is not installed; only finite differences were compared"]
    assert [v.fd for v in report.variables] == pytest.approx([-4, -4, 3], rel=1e-8)


def test_a_stray_comma_in_expect_keeps_each_value_with_its_own_typed_precision():
    # y is 2.03: "2.0" was typed to one decimal, so it stands for 1.95..2.05 and is right.
    for expect in ("x=3,y=2.0", "x=3,,y=2.0"):
        document = check_json("x*y", "--at", "x=2.03,y=3", "--expect", expect)[1]
        assert document["check"]["expect"]["y"]["ok"], expect


# ----- nan or inf from reverse mode against a finite derivative (issue 11, item 2) -----

# (program, point, ∂f/∂x by hand): f has a finite, perhaps one-sided, derivative, while reverse
# mode multiplies 0 by sqrt'(0) = +inf (or sums +inf and -inf) and gives nan.
ZERO_TIMES_INFINITY = [
    ("sqrt(x)*x", "x=0", 0.0),  # x^1.5 for x ≥ 0: 1.5·√x = 0
    ("x*sqrt(x)", "x=0", 0.0),
    ("x^0.5*x", "x=0", 0.0),
    ("sqrt(x)^2", "x=0", 1.0),  # x for x ≥ 0
    ("abs(x)*sqrt(abs(x))", "x=0", 0.0),  # |x|^1.5: differentiable on both sides
    ("relu(x)*sqrt(x)", "x=0", 0.0),  # x^1.5 for x ≥ 0; SymPy gives no value here
    ("sqrt(relu(x))*x", "x=0", 0.0),  # 0 for x < 0, x^1.5 for x > 0
    ("sqrt(x)*y", "x=0,y=0", 0.0),  # f(x, 0) = 0
    ("sqrt(x) - sqrt(x)", "x=0", 0.0),  # ∞ − ∞ at the branch sum
]


def flat(text: str) -> str:
    """The text with its line breaks (wrapping at the terminal width) undone."""
    return " ".join(text.split())


@pytest.mark.parametrize("source, at, derivative", ZERO_TIMES_INFINITY, ids=[c[0] for c in ZERO_TIMES_INFINITY])
def test_nan_from_reverse_mode_where_f_has_a_derivative_is_a_mismatch(source, at, derivative):
    run, document = check_json(source, "--at", at)
    assert run.code == ExitStatus.CHECK_FAILED
    check = document["check"]
    entry = check["variables"]["x"]
    assert entry["ad"] == "nan" and entry["verdict"] == MISMATCH
    assert not check["ok"] and not check["witnesses_agree"] and check["expectations_match"]
    assert re.search(r"reverse mode cannot apply the chain rule here: (0 × ∞ on the edge from|∞ − ∞)", entry["detail"])
    # Every witness that gives a number gives the derivative by hand (one-sided ones too: no 0.0014 artefact).
    numbers = [entry["sympy"], entry["one_sided"]["left"], entry["one_sided"]["right"]]
    assert any(n is not None for n in numbers)
    assert all(close(n, derivative, 1e-6) for n in numbers if n is not None)
    for command in (("check", source, "--at", at), ("grad", source, "--at", at, "--check")):
        human = run_cli(*command)
        assert human.code == ExitStatus.CHECK_FAILED
        assert not re.search(r"\bagree", human.stdout) and "✗ a witness disagrees with reverse mode" in human.stdout


def test_at_a_kink_the_conclusion_does_not_say_the_witnesses_agree():
    # relu'(0): reverse mode 0 (the convention), SymPy Heaviside(0) = 0.5: not the same number.
    run = run_cli("check", "relu(x)*y", "--at", "x=0,y=3")
    assert run.code == ExitStatus.OK
    assert not re.search(r"\bagree", run.stdout)
    assert run.stdout.splitlines()[-1] == "✓ no witness contradicts reverse mode; for x see above"
    everywhere = run_cli("check", "relu(x)*y", "--at", "x=1,y=3")
    assert everywhere.stdout.splitlines()[-1] == "✓ the witnesses agree"


def test_json_tells_wrong_expectations_from_disagreeing_witnesses():
    point = ("(x+y)*z", "--at", "x=-2,y=5,z=-4")
    check = check_json(*point, "--expect", "x=-4,y=4")[1]["check"]
    assert (check["ok"], check["witnesses_agree"], check["expectations_match"]) == (False, True, False)
    check = check_json(*point, "--expect", "x=-4,y=-4")[1]["check"]
    assert (check["ok"], check["witnesses_agree"], check["expectations_match"]) == (True, True, True)
    check = check_json("sqrt(x)*x", "--at", "x=0", "--expect", "x=0")[1]["check"]
    assert (check["ok"], check["witnesses_agree"], check["expectations_match"]) == (False, False, False)


# ----- the "Your numbers" table (issue 11, item 10) -----


def test_your_numbers_are_echoed_as_typed_under_a_centred_title_with_every_column_headed():
    run = run_cli("check", "(x+y)*z", "--at", "x=-2,y=5,z=-4", "--expect", "x=-4.0,y=4,z=-0.20")
    assert run.code == ExitStatus.CHECK_FAILED
    lines = run.stdout.splitlines()
    title = next(k for k, line in enumerate(lines) if line.strip() == "Your numbers")
    header, rule, *rows = lines[title + 1: title + 6]
    assert header.split() == ["∂f/∂", "yours", "right", "verdict"]
    assert set(rule) == {"─"}
    width = max(len(line) for line in (header, *rows))
    assert len(rule) == width  # the rule is as wide as the table, no wider
    assert abs(lines[title].index("Y") - (width - len("Your numbers")) / 2) <= 1  # centred over it
    assert rows[0].split()[:3] == ["x", "-4.0", "-4"]
    assert rows[2].split()[:3] == ["z", "-0.20", "3"]  # not -0.2
    assert "∂f/∂z is 3, not -0.20" in flat(run.stdout)


# ----- the terminal's width (issue 11, item 6) -----

NARROW_CASES = [
    ("check", "sigmoid(w0*x0 + w1*x1 + w2)", "--at", "w0=2,x0=-1,w1=-3,x1=-2,w2=-3", "--expect", "x0=0.39,w0=0.2"),
    ("check", "q = x + y; f = q * z", "--at", "x=-2,y=5,z=-4", "--expect-node", "q=4"),
    ("check", "sqrt(x)*x", "--at", "x=0"),
    ("grad", "relu(x)*y", "--at", "x=0,y=3", "--check"),
]


@pytest.mark.parametrize("columns", [40, 60, 80, 120])
@pytest.mark.parametrize("args", NARROW_CASES, ids=[" ".join(c[:2]) for c in NARROW_CASES])
def test_check_fits_the_terminal_width_and_keeps_every_number(args, columns):
    from rich.cells import cell_len

    run = run_cli(*args, env={"COLUMNS": str(columns)})
    document = run_cli(*args, "--json").json()["check"]
    lines = run.stdout.splitlines()
    assert [line for line in lines if cell_len(line) > columns] == []
    assert [line for line in lines if line != line.rstrip()] == []
    words = run.stdout.split()
    for name, entry in document["variables"].items():  # every witness's number is there, uncut
        for number in (entry["ad"], entry["sympy"]):
            if number is not None:
                assert format_value(float(number)) in words
    assert "…" not in run.stdout


# ----- Japanese (issue 11, item 7) -----

_NAMES_AND_FORMULAS = {"SymPy", "sqrt", "relu", "inf", "nan", "PyTorch", "micrograd", "FD"}


def english_words(text: str, names: set[str]) -> set[str]:
    return set(re.findall(r"[A-Za-z]{2,}", text)) - _NAMES_AND_FORMULAS - names


@pytest.mark.parametrize("args", [
    ("q = x + y; f = q * z", "--at", "x=-2,y=5,z=-4", "--expect-node", "q=4,x=4", "--expect", "z=-0.20"),
    ("sqrt(x)*x", "--at", "x=0"),
    ("relu(x)*y", "--at", "x=0,y=3", "--expect", "y=0"),
    ("x^y", "--at", "x=-2,y=2"),
], ids=["first-wrong-step", "zero-times-infinity", "kink", "undefined"])
def test_check_speaks_japanese(args):
    for run in (run_cli("check", *args, "--lang", "ja"), run_cli("check", *args, env={"GRADCLI_LANG": "ja"})):
        assert english_words(run.stdout, {"f", "q", "x", "y", "z", "t1"}) == set(), run.stdout
        assert "検証" in run.stdout
