"""The parser: source text → graph, checked through its fully parenthesised rendering.

`Graph.expression()` prints every operation in parentheses with named intermediates expanded,
and `Graph.program()` one statement per named intermediate; the expected texts below are
written by hand from the language rules in the README (precedence, associativity, unary minus,
implicit multiplication, Unicode forms), not copied from gradcli's output. Where a rule has a
numeric consequence (`2^3^2` is 512, not 64), the value is checked too.
"""

from __future__ import annotations

import importlib
import math
import re
import time
import unicodedata

import pytest
from conftest import run_cli
from hypothesis import given
from hypothesis import strategies as st
from test_catalogue import CASES

import gradcli
from gradcli import BindingError, GradcliError, ParseError, parse
from gradcli.api import value_at
from gradcli.parse import plain_number

parse_module = importlib.import_module("gradcli.parse")  # `gradcli.parse` is also the name of a function


def rendered(source: str) -> str:
    return parse(source).expression()


def case(source, expected, id=None):
    return pytest.param(source, expected, id=id or source)


# ----- precedence: + - looser than * / looser than unary looser than ^ -----

PRECEDENCE = [
    case("1+2*3", "(1 + (2 * 3))"),
    case("1*2+3", "((1 * 2) + 3)"),
    case("x+y*z", "(x + (y * z))"),
    case("x*y+z", "((x * y) + z)"),
    case("x-y/z", "(x - (y / z))"),
    case("x/y-z", "((x / y) - z)"),
    case("x*y^z", "(x * (y ^ z))"),
    case("x^y*z", "((x ^ y) * z)"),
    case("x+y^z", "(x + (y ^ z))"),
    case("(x+y)*z", "((x + y) * z)"),
    case("x*(y+z)", "(x * (y + z))"),
    case("(x+y)^2", "((x + y) ^ 2)"),
    case("sin(x)^2", "(sin(x) ^ 2)"),
    case("sin(x^2)", "sin((x ^ 2))"),
    case("2*sin(x)+1", "((2 * sin(x)) + 1)"),
    case("max(x+1, y*2, z)", "max((x + 1), (y * 2), z)"),
    case("log(x, 2)+atan2(y, x)", "(log(x, 2) + atan2(y, x))"),
    case("pow(x+1, 2)", "((x + 1) ^ 2)"),  # pow(a, b) is the same op as a^b
    case("ln(x)", "log(x)"),  # ln is another name of log
    case("((((x))))", "x"),  # parentheses group, they are not nodes
    case("x # a comment", "x"),
]

# ----- associativity: left for - and /, right for ^ and ** -----

ASSOCIATIVITY = [
    case("x-y-z", "((x - y) - z)"),
    case("x/y/z", "((x / y) / z)"),
    case("x+y+z", "((x + y) + z)"),
    case("x*y*z", "((x * y) * z)"),
    case("x-y+z", "((x - y) + z)"),
    case("x+y-z", "((x + y) - z)"),
    case("x/y*z", "((x / y) * z)"),
    case("x*y/z", "((x * y) / z)"),
    case("x^y^z", "(x ^ (y ^ z))"),
    case("x**y**z", "(x ^ (y ^ z))"),
    case("x^y**z", "(x ^ (y ^ z))"),
    case("x**y^z", "(x ^ (y ^ z))"),
    case("w^x^y^z", "(w ^ (x ^ (y ^ z)))"),
    case("x-(y-z)", "(x - (y - z))"),
    case("(x^y)^z", "((x ^ y) ^ z)"),
]

# ----- unary minus and plus -----

UNARY = [
    case("-x", "(-x)"),
    case("+x", "x"),  # unary plus adds no node
    case("-x^2", "(-(x ^ 2))"),
    case("-2^2", "(-(2 ^ 2))"),
    case("2^-1", "(2 ^ (-1))"),
    case("x^-y", "(x ^ (-y))"),
    case("x^-y^2", "(x ^ (-(y ^ 2)))"),
    case("x**-2", "(x ^ (-2))"),
    case("x ^ - 2", "(x ^ (-2))"),
    case("-x*y", "((-x) * y)"),
    case("-x-y", "((-x) - y)"),
    case("x*-y", "(x * (-y))"),
    case("x- -y", "(x - (-y))"),
    case("- - x", "(-(-x))"),
    case("-(x+y)", "(-(x + y))"),
    case("-sin(x)", "(-sin(x))"),
    case("(-x)^2", "((-x) ^ 2)"),
]

# ----- implicit multiplication: a number followed by a name or '(' -----

IMPLICIT = [
    case("2x", "(2 * x)"),
    case("3(x+1)", "(3 * (x + 1))"),
    case("2 (x)", "(2 * x)"),
    case("2pi", "(2 * pi)"),
    case("2sin(x)", "(2 * sin(x))"),
    case(".5x", "(.5 * x)"),
    case("2.5e-1x", "(2.5e-1 * x)"),
    case("1/2x", "((1 / 2) * x)"),  # binds like *, so left to right
    case("2x^2", "(2 * (x ^ 2))"),
    case("-2x", "((-2) * x)"),
    case("x+2y", "(x + (2 * y))"),
]

# ----- Unicode: NFKC, typed operator forms, superscripts -----

UNICODE = [
    case("ｘ＋ｙ", "(x + y)", "full-width x+y"),
    case("（ｘ＋ｙ）＊ｚ", "((x + y) * z)", "full-width parentheses and star"),
    case("２ｘ", "(2 * x)", "full-width 2x"),
    case("x\u2212y", "(x - y)", "U+2212 minus"),
    case("\u2212x^2", "(-(x ^ 2))", "U+2212 unary minus"),
    case("x×y", "(x * y)", "times sign"),
    case("x·y", "(x * y)", "middle dot"),
    case("x÷y", "(x / y)", "division sign"),
    case("x²", "(x ^ 2)", "superscript two"),
    case("x³+y²", "((x ^ 3) + (y ^ 2))", "superscripts in a sum"),
    case("x²³", "(x ^ 23)", "two superscript digits"),
    case("x⁻¹", "(x ^ (-1))", "superscript minus one"),
    case("2x²", "(2 * (x ^ 2))", "implicit times superscript"),
    case("θ^2", "(θ ^ 2)", "greek name"),
    case("θ₁+θ₂", "(θ1 + θ2)", "subscript digits are NFKC name characters"),
]


RENDERINGS = PRECEDENCE + ASSOCIATIVITY + UNARY + IMPLICIT + UNICODE


@pytest.mark.parametrize("source, expected", RENDERINGS)
def test_precedence_associativity_unary_minus_implicit_multiplication_and_unicode(source, expected):
    assert rendered(source) == expected


@pytest.mark.parametrize("source, expected", RENDERINGS)
def test_the_rendering_parses_back_to_itself(source, expected):
    """The parenthesised text is a program too, and a fixed point of the rendering."""
    assert rendered(expected) == expected


@pytest.mark.parametrize("source, name", [
    ("cafe\u0301 + 1", "caf\u00e9"),
    ("A\u030a * 2", "\u00c5"),
    ("e\u0301\u00b2 + 1", "\u00e9"),  # é²: a composed letter, then a superscript power
], ids=["e-combining-acute", "A-combining-ring", "with-superscripts"])
def test_a_decomposed_letter_is_composed_by_nfkc(source, name):
    assert unicodedata.normalize("NFKC", source).startswith(name)  # what NFKC of the whole text gives
    assert list(parse(source).variables) == [name]


def test_superscript_two_is_a_power_not_a_variable_x2():
    graph = parse("x²")
    assert list(graph.variables) == ["x"]
    assert gradcli.grad("x²", x=3).gradient == {"x": 6.0}


@pytest.mark.parametrize("source, at, expected", [
    ("2^3^2", {}, 512.0),  # right-associative: 2^(3^2), not (2^3)^2 = 64
    ("2**3**2", {}, 512.0),
    ("-2^2", {}, -4.0),  # -(2^2), not (-2)^2
    ("2^-1", {}, 0.5),
    ("1-2-3", {}, -4.0),  # (1-2)-3, not 1-(2-3) = 2
    ("8/4/2", {}, 1.0),  # (8/4)/2, not 8/(4/2) = 4
    ("1+2*3", {}, 7.0),
    ("1/2x", {"x": 4}, 2.0),  # (1/2)*x, not 1/(2x) = 0.125
    ("3(x+1)", {"x": 2}, 9.0),
    ("ｘ＋ｙ", {"x": 1, "y": 2}, 3.0),
    ("x\u2212y", {"x": 1, "y": 2}, -1.0),
    ("x÷y", {"x": 1, "y": 4}, 0.25),
    ("x⁻¹", {"x": 4}, 0.25),
    ("2pi", {}, 2 * math.pi),
    ("e^2", {}, math.e**2),
])
def test_the_rules_give_the_textbook_values(source, at, expected):
    assert gradcli.evaluate(source, at) == pytest.approx(expected, rel=1e-15)


# ----- errors of the language -----


def test_two_names_side_by_side_is_an_error_with_a_hint():
    with pytest.raises(ParseError, match="missing operator before 'y'") as caught:
        parse("x y")
    assert caught.value.span[0] == "x y".index("y")


@pytest.mark.parametrize("source, culprit", [
    ("2 3", "3"),
    ("x 2", "2"),
    ("(x)(y)", "(y"),  # a parenthesis after a parenthesis is not implicit multiplication either
])
def test_no_other_implicit_multiplication(source, culprit):
    with pytest.raises(ParseError, match="missing operator") as caught:
        parse(source)
    assert caught.value.span[0] == source.rindex(culprit)


def test_digit_grouping_is_refused():
    with pytest.raises(ParseError, match="digits may not be grouped"):
        parse("1_000 * x")


# ----- statements -----


@pytest.mark.parametrize("source", [
    "q = x + y; f = q * z",
    "q = x + y\nf = q * z",
    "q = x + y;\nf = q * z;",
    "# the CS231n circuit\nq = x + y   # the add gate\n\nf = q * z\n",
    "q = (x +\n     y)\nf = q * z",  # a newline inside parentheses continues the statement
])
def test_statements_separated_by_semicolons_or_newlines(source):
    graph = parse(source)
    assert graph.program() == "q = (x + y); f = (q * z)"
    assert graph.expression() == "((x + y) * z)"
    assert graph.output_name == "f"
    assert list(graph.variables) == ["x", "y", "z"]


@pytest.mark.parametrize("source, expected", [
    ("max(x,\n y)", "max(x, y)"),
    ("(x + # a comment inside parentheses\n y)", "(x + y)"),
    ("sin(\nx\n)", "sin(x)"),
    ("log(x,\n2)", "log(x, 2)"),
])
def test_a_newline_inside_parentheses_continues_the_statement(source, expected):
    assert rendered(source) == expected


def test_a_newline_outside_parentheses_ends_the_statement():
    with pytest.raises(ParseError, match="'\\+' needs an operand after it") as caught:
        parse("x +\ny")
    assert caught.value.span[0] == "x +\ny".index("+")


@pytest.mark.parametrize("source, name", [
    ("x*y", "f"), ("f*x", "f_out"), ("f = x*2; f + 1", "f_out"), ("f_out*f*x", "f_out2"), ("q = x; q", "q"),
])
def test_an_unnamed_output_gets_a_name_the_program_does_not_use(source, name):
    graph = parse(source)
    assert graph.output_name == name
    assert graph.labels()[graph.output] == name


def test_the_last_statement_is_the_output():
    assert parse("a = x*2; total = a + 1").output_name == "total"
    assert parse("a = x*2; a + 1").output_name == "f"
    graph = parse("a = x*2; b = a + 1; a")  # the output need not be the last assignment
    assert graph.expression() == "(x * 2)"
    assert gradcli.grad("a = x*2; b = a + 1; a", x=5).value == 10.0


def test_a_named_intermediate_is_one_branch_node():
    graph = parse("a = x*y; f = a + log(a)")
    assert graph.names.count("a") == 1
    a = graph.names.index("a")
    assert sum(node_inputs.count(a) for node_inputs in graph.inputs) == 2  # read by log and by +
    assert len(graph) == 5  # x, y, a = x*y, log(a), f = a + log(a): the product is not repeated
    assert graph.program() == "a = (x * y); f = (a + log(a))"
    assert graph.expression() == "((x * y) + log((x * y)))"  # expanded inline for reading


def test_a_variable_is_one_node_however_often_it_is_used():
    graph = parse("x*x + x")
    assert list(graph.variables) == ["x"]
    assert [name for name in graph.names if name] == ["x"]
    assert sum(node_inputs.count(graph.variables["x"]) for node_inputs in graph.inputs) == 3
    assert len(graph) == 3


def test_repeated_subexpressions_stay_as_typed_and_cse_merges_them():
    assert sum(op is not None and op.name == "add" for op in parse("(x+y)*(x+y)").ops) == 2
    assert sum(op is not None and op.name == "add" for op in parse("(x+y)*(x+y)", cse=True).ops) == 1


def test_minus_and_divide_stay_their_own_ops():
    assert [op.name for op in parse("x-y/z").ops if op is not None] == ["div", "sub"]


@pytest.mark.parametrize("source", [
    "q = x + y; f = q * z",
    "a = x*y; f = a + log(a)",
    "z = w*x + b; a = sigmoid(z); L = -(y*log(a) + (1-y)*log(1-a))",
    "s = exp(z1) + exp(z2); p = exp(z1)/s; L = -log(p)",
])
def test_the_node_list_is_in_topological_order(source):
    graph = parse(source)
    for node, node_inputs in enumerate(graph.inputs):
        assert all(j < node for j in node_inputs), (node, node_inputs)
    assert graph.output == len(graph) - 1


@pytest.mark.parametrize("source, message, culprit", [
    ("q = x; q = 2*x", "q is assigned twice (first on line 1)", "q = 2"),
    ("q = x\nq = 2*x", "q is assigned twice (first on line 1)", "q = 2"),
    ("y = x + 1; x = 2; y", "x is already used as a variable", "x = 2"),
    ("e = 1; e = 2", "e is assigned twice (first on line 1)", "e = 2"),  # a constant's name, assigned twice
    ("exp = 3; exp", "exp is a function name and cannot be assigned", "exp"),
    ("x + 1; x * 2", "this expression's value is never used", "x + 1"),
])
def test_reassignment_and_other_statement_errors(source, message, culprit):
    with pytest.raises(ParseError) as caught:
        parse(source)
    assert message in caught.value.message
    assert caught.value.span[0] == source.index(culprit)


@pytest.mark.parametrize("source, name", [
    ("x = x + 1; x", "x"),
    ("q = q * 2", "q"),
    ("a1 = x*2\na2 = a1*2\na3 = a3*2\na4 = a3*2", "a3"),  # the third line is parsed by a learned shape
])
def test_a_name_used_in_its_own_definition_is_an_error(source, name):
    with pytest.raises(ParseError, match=f"{name} is used in its own definition") as caught:
        parse(source)
    target = source.index(f"{name} =")
    assert caught.value.span[0] == source.index(name, source.index("=", target))  # at the use, not the target


# ----- constants -----


@pytest.mark.parametrize("name, value", [("pi", math.pi), ("e", math.e)])
def test_constants(name, value):
    graph = parse(f"{name} * x")
    assert list(graph.variables) == ["x"]  # a constant is not a variable
    assert [v for v, _ in graph.constants.values()] == [value]
    result = gradcli.grad(f"{name} * x", x=2)
    assert result.value == 2 * value and result.gradient == {"x": value}
    with pytest.raises(BindingError, match=f"{name} is a constant"):
        gradcli.grad(f"{name} * x", {name: 3.0, "x": 2})


def test_e_is_a_constant_and_exp_a_function():
    assert gradcli.evaluate("e") == math.e
    assert gradcli.evaluate("exp(1)") == math.exp(1)
    assert gradcli.evaluate("2e") == 2 * math.e  # a number then a name: not 2e0
    assert gradcli.evaluate("2e1") == 20.0


# ----- size: no recursion anywhere -----

DEPTH = 100_000


def test_100000_nested_parentheses():
    graph = parse("(" * DEPTH + "x" + ")" * DEPTH)
    assert len(graph) == 1
    assert graph.expression() == "x"
    assert gradcli.differentiate(graph, {"x": 3}).gradient == {"x": 1.0}


def test_100000_nested_parentheses_around_operations():
    source = "(x + " * DEPTH + "1" + ")" * DEPTH  # right-nested: (x + (x + (... + 1)))
    graph = parse(source)
    assert len(graph) == DEPTH + 2  # x, the constant 1, and one add per level
    assert graph.expression() == "(x + " * DEPTH + "1" + ")" * DEPTH
    result = gradcli.differentiate(graph, {"x": 0.5})
    assert result.value == DEPTH * 0.5 + 1 and result.gradient == {"x": float(DEPTH)}


def test_100000_nested_calls_render_without_recursion():
    graph = parse("sin(" * DEPTH + "x" + ")" * DEPTH)
    assert len(graph) == DEPTH + 1
    assert graph.expression() == "sin(" * DEPTH + "x" + ")" * DEPTH


def test_a_million_term_sum_parses_left_associatively():
    terms = 1_000_000
    names = ("a", "b", "c", "d")
    source = " + ".join(names[k % 4] for k in range(terms))
    started = time.perf_counter()
    graph = parse(source)
    elapsed = time.perf_counter() - started
    assert len(graph) == 4 + (terms - 1)  # four variables and 999 999 additions
    assert list(graph.variables) == list(names)
    assert all(op.name == "add" for op in graph.ops if op is not None)
    # left-associative: each addition's left input is the addition before it
    additions = [node for node, op in enumerate(graph.ops) if op is not None]
    assert all(graph.inputs[node][0] == previous for previous, node in zip(additions, additions[1:]))
    text = graph.expression()
    assert text.startswith("(" * (terms - 1) + "a + b) + c) + d) + a)")
    assert text.endswith(" + d)") and len(text) == len(source) + 2 * (terms - 1)
    assert elapsed < 30, f"parsing a million-term sum took {elapsed:.1f} s"


# ----- a constant's name assigned: from there on it names the intermediate (Python's rule) -----

MICROGRAD = """\
# micrograd's test_more_ops (test/test_engine.py), each `x += y` written as a new name
c = a + b
d = a*b + b**3
c2 = c + c + 1
c3 = c2 + 1 + c2 + (-a)
d2 = d + d*2 + relu(b + a)
d3 = d2 + 3*d2 + relu(b - a)
e = c3 - d3
f = e**2
g = f / 2.0
g2 = g + 10.0 / f
"""


def micrograd_by_hand(a: float, b: float) -> float:
    """micrograd's test, as it is written there, in plain Python floats."""
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + max(b + a, 0.0)
    d += 3 * d + max(b - a, 0.0)
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    return g


def test_micrograds_own_test_program_assigns_e(tmp_path):
    """The numbers micrograd's test checks against PyTorch, and central differences of the same sums."""
    path = tmp_path / "micrograd.grad"
    path.write_text(MICROGRAD, encoding="utf-8")
    run = run_cli("grad", "--file", str(path), "--at", "a=-4,b=2", "--json")
    assert run.code == 0, run.stderr
    document = run.json()
    assert document["value"] == pytest.approx(24.70408163265306, rel=1e-13)
    assert document["gradient"] == pytest.approx({"a": 138.83381924198252, "b": 645.5772594752186}, rel=1e-13)
    h = 1e-5
    by_differences = {
        "a": (micrograd_by_hand(-4 + h, 2) - micrograd_by_hand(-4 - h, 2)) / (2 * h),
        "b": (micrograd_by_hand(-4, 2 + h) - micrograd_by_hand(-4, 2 - h)) / (2 * h),
    }
    assert document["gradient"] == pytest.approx(by_differences, rel=1e-7)
    note = "e = … on line 8 hides the constant e (2.71828182846) from that line on"
    assert document["warnings"] == [note]
    assert run.stderr == f"gradcli: warning: {note}\n"


def test_before_its_assignment_the_name_is_still_the_constant():
    run = run_cli("grad", "y = e*x; e = y + 1; e*2", "--at", "x=1", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["value"] == pytest.approx(2 * (math.e + 1), rel=1e-15)
    assert run.json()["gradient"] == {"x": pytest.approx(2 * math.e, rel=1e-15)}
    assert "hides the constant e" in run.stderr


def test_a_name_that_hides_a_constant_gets_no_value_from_at():
    """--at gives values to variables; the program's e is computed, not one of them."""
    run = run_cli("grad", "e = x*2; e + 1", "--at", "x=1,e=3")
    assert run.code == 2
    assert "e is computed by the program and cannot be given a value" in run.stderr


# ----- hexadecimal, binary and octal numbers: not read, and said so -----


@pytest.mark.parametrize("program, literal, name, decimal", [
    ("0x10", "0x10", "x10", "16"),
    ("0b101", "0b101", "b101", "5"),
    ("0o17", "0o17", "o17", "15"),
    ("2*0X1F + y", "0X1F", "X1F", "31"),
    ("ｙ＋０ｘ１０", "０ｘ１０", "x10", "16"),  # full-width, as NFKC reads it
])
def test_a_hexadecimal_number_is_an_error_with_its_decimal_value(program, literal, name, decimal):
    run = run_cli("grad", program, "--at", "y=1")
    assert run.code == 2
    first, source_line, carets = run.stderr.splitlines()
    expected = f"is read as 0*{name}: gradcli has no hexadecimal, binary or octal numbers; write {decimal}"
    assert expected in first  # not `no value for x10`
    column = program.index(literal)
    assert carets == "  | " + _caret_under(program, column, len(literal))


def _caret_under(text: str, start: int, length: int) -> str:
    """Spaces as wide as text[:start] on a terminal, then a caret as wide as the span."""
    def width(chunk: str) -> int:
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in chunk)

    return " " * width(text[:start]) + "^" * width(text[start:start + length])


def test_a_hexadecimal_number_on_a_line_of_a_learned_shape():
    program = "a1 = 2x + y\na2 = 3x + y\na3 = 0x1F + y\na3"
    run = run_cli("grad", program, "--at", "x=1,y=1")
    assert run.code == 2
    assert "0x1F is read as 0*x1F" in run.stderr and "(line 3, column 6)" in run.stderr


@pytest.mark.parametrize("program", ["0 x10", "0xg", "3x10"])
def test_a_spaced_zero_or_a_name_that_is_no_number_is_an_implicit_product(program):
    assert rendered(program) == f"({program[0]} * {program[1:].strip()})"


# ----- --at values: plain numbers are read as numbers, and a Japanese keyboard's = and , work -----


def test_a_japanese_keyboards_full_width_equals_and_comma_in_at():
    run = run_cli("grad", "りんご*個数", "--at", "りんご＝１００，個数＝２", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["at"] == {"りんご": 100.0, "個数": 2.0}
    assert run.json()["gradient"] == {"りんご": 2.0, "個数": 100.0}


def test_full_width_parentheses_keep_a_comma_inside_one_value():
    run = run_cli("eval", "x + y", "--at", "ｘ＝ｍａｘ（１，２），ｙ＝３", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["at"] == {"x": 2.0, "y": 3.0}


def test_plain_numbers_in_at_are_not_parsed_as_programs(monkeypatch):
    programs = []
    parse_program = gradcli.api.parse
    monkeypatch.setattr(gradcli.api, "parse", lambda text: programs.append(text) or parse_program(text))
    run = run_cli("grad", "x*y*z*w", "--at", "x=-2,y=0.5,z=1e-3,w=１２", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["at"] == {"x": -2.0, "y": 0.5, "z": 0.001, "w": 12.0}
    assert programs == []
    run = run_cli("grad", "x*y", "--at", "x=pi/4,y=2^-1", "--json")  # constant expressions still are
    assert run.json()["at"] == {"x": math.pi / 4, "y": 0.5}
    assert programs == ["pi/4", "2^-1"]


@given(st.from_regex(r"[ ]?[-+]?(?:[0-9]{1,25}\.?[0-9]{0,25}|\.[0-9]{1,25})(?:[eE][-+]?[0-9]{1,3})?[ ]?",
                     fullmatch=True))
def test_a_plain_number_has_the_value_the_parser_gives_it(text):
    number = plain_number(text)
    try:
        parsed = value_at(parse(text), {})[0]
    except GradcliError:  # 1e400: the parser's error explains it
        assert number is None
        return
    assert number is not None and number.hex() == parsed.hex()  # the same double, -0.0 too


# ----- every parse error and note in Japanese, with the caret where the English one has it -----

PARSE_ERRORS = [  # (program, a fragment of the English message); one for each message the parser writes
    ("", "the program is empty"),
    ("x + 1; x * 2", "this expression's value is never used"),
    ("q = ; q", "nothing is assigned to q"),
    ("2 = x", "only a name can be assigned to"),
    ("x + y = 2", "'=' can only follow a name at the start of a statement"),
    ("exp = 3; exp", "exp is a function name and cannot be assigned"),
    ("q = x\nq = 2*x", "q is assigned twice (first on line 1)"),
    ("y = x + 1; x = 2; y", "x is already used as a variable (line 1, column 5)"),
    ("q = q * 2", "q is used in its own definition"),
    ("sin + 1", "sin is a function: call it as sin(...)"),
    ("x + x(2)", "x is not a function; to multiply write x*(...)"),
    ("sine(x)", "unknown function sine(); did you mean sin?"),
    ("foo(x)", "unknown function foo()"),
    ("exp()", "exp() takes 1 argument, none given"),
    ("sin(x, y)", "sin() takes 1 argument, 2 given"),
    ("atan2(x)", "atan2() takes 2 arguments, 1 given"),
    ("log(x, 2, 3)", "log() takes 1 or 2 arguments, 3 given"),
    ("1_000*x", "malformed number: digits may not be grouped with '_'"),
    ("1e400", "the number 1e400 is too large for a double"),
    ("0x10", "0x10 is read as 0*x10"),
    ("0x" + "f" * 20, "octal numbers; write it in decimal"),
    ("x +", "'+' needs an operand after it"),
    ("x * ()", "empty parentheses"),
    ("2*(x+1", "unclosed '(': no matching ')'"),
    ("1 + sin(x", "unclosed call of sin(: no matching ')'"),
    ("x+1)", "unbalanced ')': there is no '(' to close"),
    ("x, y", "',' is only allowed between a function's arguments"),
    ("q = x\nf = q +* 2", "expected a number, a name or '(' but found '*'"),
    ("x y", "missing operator before 'y' (write * to multiply)"),
    ("x + .", "unexpected character '.'"),
]
LIMITS = [  # (a limit lowered to, the program, a fragment of the English message)
    ("MAX_SOURCE_CHARS", 10, "x + " * 5 + "x", "the program has 21 characters; the limit is 10"),
    ("MAX_NODES", 10, "+".join("x" * 20), "the program has more than 10 nodes, the limit"),
    ("MAX_DEPTH", 10, "(" * 20 + "x" + ")" * 20, "the expression nests more than 10 levels deep, the limit"),
]
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
POSITION = re.compile(r"(?: \((?:line \d+, )?column \d+\)|（(?:\d+ 行目、)?\d+ 列目）)$")


def _in_both_languages(command: str, *args: str, input: bytes | None = None) -> tuple[list[str], list[str]]:
    english = run_cli(command, *args, input=input)
    japanese = run_cli(command, "--lang", "ja", *args, input=input)
    assert english.code == japanese.code == 2, (english.stderr, japanese.stderr)
    return english.stderr.splitlines(), japanese.stderr.splitlines()


def _assert_translated_with_the_same_caret(english: list[str], japanese: list[str]) -> None:
    message = POSITION.sub("", japanese[0].removeprefix("gradcli: エラー: "))
    assert JAPANESE.search(message), japanese[0]
    assert POSITION.sub("", english[0].removeprefix("gradcli: error: ")) != message
    assert len(japanese) == len(english)
    if len(english) == 3:  # the source line (its text after the gutter) and the caret line
        assert japanese[1].split("| ", 1)[1] == english[1].split("| ", 1)[1]
        assert japanese[2] == english[2]


@pytest.mark.parametrize("program, fragment", PARSE_ERRORS, ids=[fragment for _, fragment in PARSE_ERRORS])
def test_every_parse_error_in_japanese_with_the_same_caret(program, fragment):
    english, japanese = _in_both_languages("grad", "--", program)
    assert fragment in english[0]
    _assert_translated_with_the_same_caret(english, japanese)


@pytest.mark.parametrize("limit, value, program, fragment", LIMITS, ids=[limit for limit, *_ in LIMITS])
def test_every_limit_of_the_parser_in_japanese(monkeypatch, limit, value, program, fragment):
    monkeypatch.setattr(parse_module, limit, value)
    english, japanese = _in_both_languages("grad", "-", input=program.encode())
    assert fragment in english[0]
    _assert_translated_with_the_same_caret(english, japanese)


def test_the_catalogues_parse_errors_in_japanese_with_the_same_caret():
    """The bad programs of tests/test_catalogue.py whose error has a caret: the parser's errors."""
    checked = []
    for case in CASES:
        if case.code == 2 and "^" in run_cli(*case.args, input=case.stdin).stderr:
            english, japanese = _in_both_languages(*case.args, input=case.stdin)
            _assert_translated_with_the_same_caret(english, japanese)
            checked.append(case.id)
    assert len(checked) >= 20, checked


def test_the_note_about_a_hidden_constant_in_japanese():
    run = run_cli("eval", "pi = 3; pi", "--lang", "ja")
    assert run.code == 0 and run.stdout == "3\n"
    assert run.stderr == "gradcli: 警告: 1 行目の pi = … から先では、pi は定数（3.14159265359）ではなく代入された値を指す\n"
