"""`gradcli diff`: each partial derivative as a formula by SymPy, and with --at its value.

Witnesses: the textbook derivatives of the course examples, and the published gradients
(seed examples) for the values.
"""

from __future__ import annotations

import math
import multiprocessing
import time

import pytest

from gradcli.errors import ExitStatus

from conftest import at_option, run_cli, seed_examples

CHAIN = "; ".join(["a1 = sin(x)*x + x*y"] + [f"a{i} = sin(a{i - 1})*x + a{i - 1}*y" for i in range(2, 17)])


def diff_json(*args: str) -> dict:
    run = run_cli("diff", *args, "--json")
    assert run.code == ExitStatus.OK, run.stderr
    return run.json()


TEXTBOOK = [
    # (program, {variable or intermediate: the derivative as SymPy writes it})
    ("(x+y)*z", {"x": "z", "y": "z", "z": "x + y"}),
    ("x^3", {"x": "3*x**2"}),
    ("apple_price = apple * n; total = apple_price * tax", {"apple": "n*tax", "n": "apple*tax", "tax": "apple*n"}),
    ("t = x + y; z = t^2", {"t": "2*t", "x": "2*x + 2*y"}),
    ("q = x + y; f = q * z", {"q": "z"}),
    ("sin(x)*y", {"x": "y*cos(x)", "y": "sin(x)"}),
    ("1.1*x", {"x": "11/10"}),
    ("relu(x)", {"x": "Heaviside(x)"}),
    ("abs(x)", {"x": "sign(x)"}),
]


@pytest.mark.parametrize("source, expected", TEXTBOOK, ids=[t[0] for t in TEXTBOOK])
def test_formulas_are_the_textbook_derivatives(source, expected):
    document = diff_json(source, "--wrt", ",".join(expected))
    assert document["derivatives"] == expected
    assert "values" not in document


@pytest.mark.parametrize("example", seed_examples(), ids=lambda e: e["name"])
def test_values_at_the_point_are_the_published_gradient(example):
    document = diff_json(example["expression"], "--at", at_option(example["at"]))
    assert set(document["derivatives"]) == set(example["gradient"])
    for name, published in example["gradient"].items():
        assert math.isclose(document["values"][name], published, rel_tol=1e-12, abs_tol=1e-15)


def test_the_value_of_an_intermediate_derivative():
    # Deep Learning from Scratch, ch. 5: z = t², ∂z/∂t = 2t = 6 at x = 1, y = 2.
    document = diff_json("t = x + y; z = t^2", "--wrt", "t", "--at", "x=1,y=2")
    assert document["derivatives"] == {"t": "2*t"} and document["values"] == {"t": 6.0}


def test_plain_lines_for_scripts():
    run = run_cli("diff", "(x+y)*z", "--plain")
    assert run.code == ExitStatus.OK
    assert run.stdout.splitlines() == ["df/dx = z", "df/dy = z", "df/dz = x + y"]
    run = run_cli("diff", "(x+y)*z", "--plain", "--wrt", "z", "--at", "x=-2,y=5,z=-4")
    assert run.stdout.splitlines() == ["df/dz = x + y = 3"]


def test_latex():
    run = run_cli("diff", "x0^2*w_1", "--latex", "--wrt", "x0")
    assert run.code == ExitStatus.OK
    assert run.stdout.strip() == r"\frac{\partial f}{\partial x_{0}} = 2 w_{1} x_{0}"


def test_pretty_is_the_default():
    run = run_cli("diff", "sin(x)*sin(x)", "--at", "x=pi/4")
    assert run.code == ExitStatus.OK
    assert "∂f/∂x" in run.stdout and "sin(2⋅x)" in run.stdout  # simplified, by the unicode pretty printer
    assert run.stdout.split()[-1] == "1"  # 2 sin(π/4) cos(π/4)


def test_formulas_are_simplified():
    document = diff_json("sin(x)^2 + cos(x)^2")
    assert document["derivatives"] == {"x": "0"}


def test_kink_notes_are_warnings_with_at():
    run = run_cli("diff", "relu(x)", "--at", "x=0", "--json")
    assert run.code == ExitStatus.OK
    assert any("relu'(0) = 0" in warning for warning in run.json()["warnings"])


# At a kink SymPy's formula has a value that is not a derivative (Heaviside(0) = 1/2), and grad
# applies the op table's convention: (program, point, variable, SymPy's value, grad's, convention).
KINKS = [
    ("relu(x)", "x=0", "x", "0.5", "0", "relu'(0) = 0"),
    ("relu(x)*y", "x=0,y=4", "x", "2", "0", "relu'(0) = 0"),
    ("sqrt(x)", "x=0", "x", "no finite real value", "inf", "sqrt'(0) = +inf"),
]


@pytest.mark.parametrize("source, at, name, sympy, ours, convention", KINKS, ids=[k[0] for k in KINKS])
def test_at_a_kink_diff_warns_that_sympy_and_grad_differ_and_why(source, at, name, sympy, ours, convention):
    document = diff_json(source, "--at", at, "--wrt", name)
    grad = run_cli("grad", source, "--at", at, "--json").json()["gradient"][name]
    assert (grad if isinstance(grad, str) else f"{grad:g}") == ours  # the number the warning quotes is grad's
    [warning] = [w for w in document["warnings"] if w.startswith(f"∂f/∂{name}:")]
    assert f"f is not differentiable in {name} here" in warning
    assert f"SymPy's formula gives {sympy}," in warning and f"`gradcli grad` gives {ours} " in warning
    assert convention in warning
    if sympy[0].isdigit():
        assert math.isclose(document["values"][name], float(sympy))  # SymPy's own value is left as it is
    run = run_cli("diff", source, "--at", at)
    assert run.code == ExitStatus.OK and f"∂f/∂{name}: f is not differentiable" in run.stderr


def test_a_removable_kink_and_an_intermediate_past_the_kink_are_told_apart():
    # relu(x) - relu(-x) is x: differentiable, though each relu sits at its kink.
    [warning] = [w for w in diff_json("relu(x) - relu(-x)", "--at", "x=0")["warnings"] if w.startswith("∂f/∂x")]
    assert "looks differentiable in x" in warning and "gives 1," in warning and "gives 0 " in warning
    # ∂f/∂q of q = relu(x) does not pass through relu; ∂f/∂x does.
    warnings = diff_json("q = relu(x); f = q*z", "--at", "x=0,z=2", "--wrt", "q,x")["warnings"]
    assert not any(w.startswith("∂f/∂q") for w in warnings) and any(w.startswith("∂f/∂x") for w in warnings)
    assert not any(w.startswith("∂") for w in diff_json("relu(x)", "--at", "x=1")["warnings"])


def test_no_line_of_the_diff_table_ends_in_spaces():
    for args in (("sin(x)/y", "--at", "x=1,y=2"), ("sin(x)/y",), ("(x+y)*z", "--wrt", "z")):
        run = run_cli("diff", *args)
        assert run.code == ExitStatus.OK and "formula" in run.stdout
        assert [line for line in run.stdout.splitlines() if line != line.rstrip()] == []


@pytest.mark.parametrize("args, code", [
    (("(x+y)*z", "--latex", "--plain"), ExitStatus.BAD_INPUT),
    (("(x+y)*z", "--wrt", "w"), ExitStatus.BAD_INPUT),
    (("log(x)", "--at", "x=-1"), ExitStatus.MATH_ERROR),
    (("(x+y)*z", "--at", "x=1"), ExitStatus.BAD_INPUT),
], ids=["latex-and-plain", "unknown-wrt", "math-error", "missing-value"])
def test_bad_input(args, code):
    run = run_cli("diff", *args)
    assert run.code == code and "Traceback" not in run.stderr


def test_a_derivative_sympy_cannot_finish_stops_at_the_time_limit():
    started = time.monotonic()
    run = run_cli("diff", CHAIN, "--timeout", "1")
    assert time.monotonic() - started < 5
    assert run.code == ExitStatus.BAD_INPUT and "timed out after 1 s" in run.stderr
    assert multiprocessing.active_children() == []


def test_a_program_too_big_for_sympy_is_refused_at_once():
    source = " + ".join(f"x{i}*y{i}" for i in range(200))
    started = time.monotonic()
    run = run_cli("diff", source)
    assert time.monotonic() - started < 2
    assert run.code == ExitStatus.BAD_INPUT and "too big for a symbolic derivative" in run.stderr


# ----- a tie where SymPy and grad give the same number (issue 11, item 7) -----

AGREEING_KINKS = [
    # (program, point, variable, the number both give): ½ each at a max tie, sign(0) = abs'(0) = 0
    ("max(x, y)", "x=1,y=1", "y", "0.5"),
    ("abs(x)", "x=0", "x", "0"),
]


@pytest.mark.parametrize("source, at, name, both", AGREEING_KINKS, ids=[k[0] for k in AGREEING_KINKS])
def test_at_a_kink_where_sympy_and_grad_agree_no_difference_is_claimed(source, at, name, both):
    document = diff_json(source, "--at", at, "--wrt", name)
    grad = run_cli("grad", source, "--at", at, "--json").json()["gradient"][name]
    assert math.isclose(document["values"][name], float(both)) and math.isclose(grad, float(both))
    [warning] = [w for w in document["warnings"] if w.startswith(f"∂f/∂{name}:")]
    assert "while" not in warning
    assert f"SymPy's formula and `gradcli grad` both give {both} here" in warning


# ----- the step function is not θ (issue 11, item 3) -----


def test_the_step_function_is_printed_as_h_never_as_theta():
    pretty = run_cli("diff", "relu(θ)*θ")
    assert pretty.code == ExitStatus.OK
    assert "H(θ)" in pretty.stdout and "θ(θ)" not in pretty.stdout
    assert pretty.stdout.count("H(x) is the Heaviside step function") == 1  # explained once, under the result
    latex = run_cli("diff", "relu(θ)*θ", "--latex").stdout
    assert r"\theta" not in latex and r"H\left(θ\right)" in latex
    assert latex.splitlines()[-1].startswith("% H(x) is the Heaviside step function")
    # Plain text and JSON keep SymPy's own name, which SymPy reads back.
    assert run_cli("diff", "relu(θ)*θ", "--plain").stdout == "df/dθ = θ*Heaviside(θ) + Max(0, θ)\n"
    assert diff_json("relu(θ)*θ")["derivatives"] == {"θ": "θ*Heaviside(θ) + Max(0, θ)"}


def test_the_step_function_takes_a_name_the_program_does_not_use():
    run = run_cli("diff", "H*relu(x)", "--wrt", "x")
    assert "H⋅step(x)" in run.stdout and "step(x) is the Heaviside step function" in run.stdout
    assert "H(x)" not in run.stdout


def test_no_step_note_without_a_step_function():
    assert "Heaviside" not in run_cli("diff", "sin(x)*y").stdout


# ----- the terminal's width (issue 11, item 6) -----


@pytest.mark.parametrize("columns", [40, 60, 80, 120])
def test_diff_fits_the_terminal_width(columns):
    from rich.cells import cell_len

    args = ("sigmoid(w*x)", "--at", "w=2,x=-1")
    run = run_cli("diff", *args, env={"COLUMNS": str(columns)})
    document = diff_json(*args)
    lines = run.stdout.splitlines()
    assert [line for line in lines if cell_len(line) > columns] == []
    assert [line for line in lines if line != line.rstrip()] == []
    for name, value in document["values"].items():
        assert f"∂f/∂{name}" in run.stdout and f"{value:.12g}" in run.stdout.split()


# ----- Japanese (issue 11, item 7) -----


def test_diff_speaks_japanese():
    import re

    for args in (("relu(x)*y", "--at", "x=0,y=2"), ("max(x, y)", "--at", "x=1,y=1")):
        run = run_cli("diff", *args, "--lang", "ja")
        assert run.code == ExitStatus.OK and "式" in run.stdout
        words = set(re.findall(r"[A-Za-z]{2,}", run.stdout + run.stderr))
        assert words <= {"Max", "SymPy", "gradcli", "grad", "relu", "max", "PyTorch", "micrograd"}, words
