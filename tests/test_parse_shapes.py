"""The parser's two paths give the same graph and the same errors.

Generated programs repeat a few line shapes; the parser learns a shape the second time it sees
it and parses later lines of that shape by one regex match and a replay of its nodes
(gradcli/parse_shapes.py). Here every program is parsed twice, with shapes learned and with
learning switched off, and everything the rest of gradcli reads from a graph (its notes too),
or from an error, must be identical. The programs repeat templates with varied names, numbers, spacing,
comments, separators and mistakes, which is where the two paths could drift apart.
"""

from __future__ import annotations

import importlib

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gradcli import GradcliError, parse

shapes_module = importlib.import_module("gradcli.parse_shapes")

TEMPLATES = [
    "{t} = sin({a})*{b} + {a}*{c}",
    "{t} = {a} * {n} + exp({b}*{n})",
    "{t} = {a}",
    "{t} = -{a}^{n}",
    "{t} = {n}{a} - {b}/{c}",
    "{t} = max({a}, {b})",
    "{t} = log({a}, {n}) * ({b} + {c})",
    "{t} = {a} ** {b} ** {n}",
    "{t} = sigmoid({a}) + relu({b} - {n})",
    "{t} = atan2({a}, {b})",
]

# Mostly valid, now and then a constant, a function name, a malformed number, or after a 0 what
# reads as a hexadecimal or binary number (errors and notes must match too).
NAMES = st.sampled_from(["x", "y", "z", "θ", "x1", "a0", "_q"] * 12 + ["pi", "e", "sin", "x1F", "b10"])
NUMBERS = st.sampled_from(["2", "0.31", ".5", "1e-3", "3."] * 12 + ["1e400", "1_0", "0", "0"])
SPACES = st.sampled_from(["", " ", "  ", "\t"])
ENDS = st.sampled_from(["\n", "\n", "; ", " # note\n", "\r\n", ";\n"])


@st.composite
def programs(draw, templates=TEMPLATES, names=NAMES, numbers=NUMBERS):
    templates = draw(st.lists(st.sampled_from(templates), min_size=1, max_size=3))
    lines = []
    defined: list[str] = []
    for k in range(draw(st.integers(1, 12))):
        template = draw(st.sampled_from(templates))

        def operand():
            if defined and draw(st.booleans()):
                return draw(st.sampled_from(defined))  # an earlier line: a branch node
            return draw(names)

        fresh = draw(st.sampled_from([f"t{k}"] * 60 + ["x", "t0", "pi", "e", "exp"]))  # now and then a name reused
        line = template.format(t=fresh, a=operand(), b=operand(), c=operand(), n=draw(numbers))
        if draw(st.integers(0, 29)) == 0:
            line = line.replace("*", draw(st.sampled_from(["", "**", "* *", "×"])), 1)  # now and then a mistake
        space = draw(SPACES)
        lines.append(space + line.replace(" ", space or " ") + draw(ENDS))
        defined.append(fresh)
    return "".join(lines) + draw(st.sampled_from(["", "f = t0 + 1", "t1"]))


def outcome(source: str):
    """Everything a graph or an error shows, as plain data."""
    try:
        graph = parse(source)
    except GradcliError as error:
        return ("error", type(error).__name__, error.message, error.span)
    spans = [graph.span(node) for node in range(len(graph.ops))]
    return ("graph", [op and op.name for op in graph.ops], graph.inputs, graph.names, spans, graph.constants,
            graph.variables, graph.intermediates, graph.output, graph.output_name, graph.notes, graph.attributes,
            graph.uses_arrays)


def assert_both_paths_agree(source: str) -> None:
    """The same outcome with shapes learned as with learning switched off."""
    with_shapes = outcome(source)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(shapes_module, "_MAX_SHAPES", 0)
        without = outcome(source)
    assert with_shapes == without


@given(source=programs())
@example(source="a1 = 2x + y\na2 = 3x + y\na3 = 0x1F + y\n")  # the third line matches the learned shape
@example(source="a1 = 2x + y\na2 = 3x + y\na3 = 0 x1F + y\na4 = 0xg + y\n")  # spaced, or no hex digits: 0*x1F
@example(source="a1 = x*2\na2 = x*3\ne = x*4\na4 = e*5\npi = e*pi\n")  # constants' names assigned
def test_learned_shapes_give_the_graph_and_the_errors_of_the_general_parser(source):
    assert_both_paths_agree(source)


# Vector programs: `@` and a keyword-free sum are replayed; lists, indexes, .T and axis= are never
# learned (a replay makes no attributes), and a learned scalar shape must not swallow them.
VECTOR_TEMPLATES = [
    "{t} = W @ {a} + {b}",
    "{t} = sum({a} * {b})",
    "{t} = {a} * {b}",
    "{t} = {a}[{n}] * {b}",
    "{t} = {a} * {b}[-1]",
    "{t} = [{a}, {b}]",
    "{t} = sum({a}, axis={n})",
    "{t} = {a}.T @ {b}",
    "{t} = softmax({a}, axis=-1) @ {b}",
    "{t} = dot({a}, {b})",
]
VECTOR_NAMES = st.sampled_from(["x", "y", "z", "u", "axis"] * 8 + ["pi", "sum"])  # axis: a keyword's name too
INDEXES = st.sampled_from(["0", "1", "2"] * 10 + ["1.5", "i"])


@given(source=programs(VECTOR_TEMPLATES, VECTOR_NAMES, INDEXES))
@example(source="a = x * y\nb = x * y\nc = x * y[0]\nd = x * y.T\ne = x * y\n")
@example(source="a = sum(x)\nb = sum(y)\nc = sum(x, axis=0)\nd = sum(y)\n")
def test_learned_shapes_agree_with_the_general_parser_on_vector_programs(source):
    assert_both_paths_agree(source)


def test_shapes_are_used_for_a_generated_program(monkeypatch):
    """The property above compares something: a program of repeated lines does go down the shape path."""
    source = "a0 = x\n" + "".join(f"a{k} = sin(a{k - 1})*x + a{k - 1}*y\n" for k in range(1, 50))
    learned = []
    original = shapes_module._Shape.__init__

    def spy(self, key):
        learned.append(key)
        original(self, key)

    monkeypatch.setattr(shapes_module._Shape, "__init__", spy)
    parse(source)
    assert len(learned) == 1
