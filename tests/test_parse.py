"""The parser: source text → graph, checked through its fully parenthesised rendering.

`Graph.expression()` prints every operation in parentheses with named intermediates expanded,
and `Graph.program()` one statement per named intermediate; the expected texts below are
written by hand from the language rules in the README (precedence, associativity, unary minus,
implicit multiplication, Unicode forms), not copied from gradcli's output. Where a rule has a
numeric consequence (`2^3^2` is 512, not 64), the value is checked too.
"""

from __future__ import annotations

import math
import time
import unicodedata

import pytest

import gradcli
from gradcli import BindingError, ParseError, parse


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
    ("pi = 3; pi", "pi is a constant and cannot be assigned", "pi"),
    ("e = 1; e", "e is a constant and cannot be assigned", "e"),
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
