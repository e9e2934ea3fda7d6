"""The backprop trace (issue 4): `gradcli trace`, `grad --trace`, its JSON and its text.

Witnesses are independent of the code under test: the course numbers in seed-examples.jsonl,
a small interpreter written here (Python's math module) for every forward value, central finite
differences of that interpreter for every local gradient, the softmax-gradient formula, and the
arithmetic identities of the trace itself (contribution = upstream × local, a node's gradient is
the sum of the contributions into it). The text is read back from a fixed-width Rich Console.
"""

from __future__ import annotations

import io
import json
import math
import re
import subprocess
import sys
import time

import pytest
from conftest import REPO, at_option, run_cli, run_process, seed_examples
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from gradcli.api import differentiate
from gradcli.i18n import translator
from gradcli.parse import parse
from gradcli.render.trace import trace_view
from gradcli.trace import build_trace, trace_object

SEEDS = seed_examples()
SEED = {example["name"]: example for example in SEEDS}

# ----- independent witnesses -----

INTERPRETER = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "neg": lambda a: -a,
    "pow": lambda a, b: a**b,
    "exp": math.exp,
    "log": math.log,
    "sin": math.sin,
    "cos": math.cos,
    "tanh": math.tanh,
    "sigmoid": lambda a: 1 / (1 + math.exp(-a)),
    "relu": lambda a: a if a > 0 else 0.0,
    "max": max,
    "min": min,
    "copy": lambda a: a,
}
NAMED_CONSTANTS = {"pi": math.pi, "e": math.e}


def finite_difference(function, arguments: list[float], slot: int) -> float:
    """Central difference of `function` in one argument (step scaled to the argument)."""
    h = 1e-6 * max(1.0, abs(arguments[slot]))
    up, down = list(arguments), list(arguments)
    up[slot] += h
    down[slot] -= h
    return (function(*up) - function(*down)) / (2 * h)


def close(a: float, b: float, rel: float = 1e-9, abs_: float = 1e-12) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def independent_values(forward: list[dict], at: dict[str, float]) -> dict[str, float]:
    """Every node's value, recomputed from the forward rows' structure with Python's math module."""
    values: dict[str, float] = {}
    for row in forward:
        if row["op"] == "var":
            values[row["node"]] = float(at[row["node"]])
        elif row["op"] == "const":
            values[row["node"]] = NAMED_CONSTANTS.get(row["node"]) or float(row["node"])
        else:
            values[row["node"]] = INTERPRETER[row["op"]](*[values[name] for name in row["inputs"]])
    return values


def trace_json(source: str, at: dict) -> dict:
    run = run_cli("trace", source, "--at", at_option(at), "--json")
    assert run.code == 0, run.stderr
    return run.json()


def console_text(source: str, at: dict, lang: str = "en", max_rows: int | None = None, width: int = 80) -> str:
    """The trace as printed on a fixed-width Console without colour."""
    result = differentiate(parse(source), at, record=True)
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False)
    console.print(trace_view(build_trace(result), translator(lang), 6, max_rows, width))
    return console.file.getvalue()


# ----- the forward and backward numbers of every seed example -----


@pytest.mark.parametrize("example", SEEDS, ids=[e["name"] for e in SEEDS])
def test_seed_example_forward_values_match_an_independent_interpreter(example):
    document = trace_json(example["expression"], example["at"])
    forward = document["trace"]["forward"]
    values = independent_values(forward, example["at"])
    for row in forward:
        assert close(row["value"], values[row["node"]]), row
    assert close(values[document["output"]], example["value"])  # the output's row, by its name
    assert close(document["value"], example["value"])


@pytest.mark.parametrize("example", SEEDS, ids=[e["name"] for e in SEEDS])
def test_seed_example_backward_numbers(example):
    """Locals agree with finite differences; contribution = upstream × local; grads sum the contributions."""
    document = trace_json(example["expression"], example["at"])
    trace = document["trace"]
    forward = {row["node"]: row for row in trace["forward"]}
    values = independent_values(trace["forward"], example["at"])
    received: dict[str, list[float]] = {}
    grad_of = {row["node"]: row["grad"] for row in trace["backward"]}
    assert trace["backward"][0]["node"] == document["output"] and trace["backward"][0]["grad"] == 1.0
    for row in trace["backward"]:
        node = forward[row["node"]]
        # an edge for every input that is not a constant (constants need no gradient), in slot order
        slots = [slot for slot, name in enumerate(node["inputs"]) if forward[name]["op"] != "const"]
        assert [edge["input"] for edge in row["edges"]] == ([node["inputs"][s] for s in slots] if row["edges"] else [])
        for slot, edge in zip(slots, row["edges"]):
            arguments = [values[name] for name in node["inputs"]]
            witness = finite_difference(INTERPRETER[node["op"]], arguments, slot)
            assert close(edge["local"], witness, rel=1e-6, abs_=1e-7), (row["node"], edge, witness)
            assert edge["contribution"] == row["grad"] * edge["local"]
            received.setdefault(edge["input"], []).append(edge["contribution"])
    for name, contributions in received.items():
        assert close(grad_of[name], math.fsum(contributions)), name
    for name, expected in example["gradient"].items():
        assert close(grad_of.get(name, 0.0), expected, rel=1e-9, abs_=1e-12), name
        assert close(document["gradient"][name], expected, rel=1e-9, abs_=1e-12)


def _screen_number(text: str) -> float:
    return float(text.strip().strip("()"))


def parse_screen(text: str) -> dict:
    """Read the forward rows, the backward rows and the branch sums back from the printed trace."""
    lines = text.splitlines()
    forward, headers, edges, sums = {}, [], [], []
    section = None
    k = 0
    while k < len(lines):
        line = lines[k].rstrip()
        k += 1
        if line in ("Forward pass", "Backward pass", "Gradient"):
            section = line
            continue
        if section == "Forward pass":
            cells = re.split(r"\s{2,}", line.strip())
            if cells and cells[0].isdigit():
                forward[cells[1]] = _screen_number(cells[-1])
        elif section == "Backward pass":
            header = re.match(r"^(\S+)(?: = .*)?    upstream ∂\S+/∂(\S+) = (?:.* = )?(\S+)", line)
            if header:
                assert header.group(1) == header.group(2)
                headers.append((header.group(1), _screen_number(header.group(3))))
                continue
            edge = re.match(r"^  → (\S+)(?: Σ)?\s+∂(\S+)/∂(\S+) = (.*)$", line)
            if edge:
                rest = edge.group(4)
                if "×" not in rest:  # the product did not fit: it is on the next line
                    rest += "  " + lines[k].strip()
                    k += 1
                local_text, product = re.split(r"\s{2,}", rest.strip(), maxsplit=1)
                upstream, _, tail = product.partition(" × ")
                local, _, contribution = tail.partition(" = ")
                edges.append({"node": edge.group(2), "input": edge.group(1), "local": _screen_number(local),
                              "local_text": local_text, "upstream": _screen_number(upstream),
                              "contribution": _screen_number(contribution.rstrip(" ⚠"))})
        if "∂" in line and "(via " in line:
            sums.append(line.strip("│ ").strip())
    return {"forward": forward, "headers": headers, "edges": edges, "sums": sums}


def agree(screen: float, exact: float) -> bool:
    """A number printed with 6 significant digits against the exact one."""
    return math.isclose(screen, exact, rel_tol=1e-5, abs_tol=1e-9)


@pytest.mark.parametrize("example", SEEDS, ids=[e["name"] for e in SEEDS])
def test_seed_example_numbers_on_a_fixed_width_console(example):
    text = console_text(example["expression"], example["at"])
    assert all(len(line) <= 80 for line in text.splitlines())
    screen = parse_screen(text)
    document = trace_json(example["expression"], example["at"])
    values = independent_values(document["trace"]["forward"], example["at"])
    # a constant is no step of the forward pass: its number shows in the operations that use it
    assert set(screen["forward"]) == {row["node"] for row in document["trace"]["forward"] if row["op"] != "const"}
    for name, shown in screen["forward"].items():
        assert agree(shown, values[name]), name
    rows = [row for row in document["trace"]["backward"] if row["edges"]]
    assert [name for name, _ in screen["headers"]] == [row["node"] for row in rows]
    for (_, shown), row in zip(screen["headers"], rows):
        assert agree(shown, row["grad"])
    json_edges = [(row["node"], row["grad"], edge) for row in rows for edge in row["edges"]]
    assert len(screen["edges"]) == len(json_edges)
    for shown, (node, grad, edge) in zip(screen["edges"], json_edges):
        assert (shown["node"], shown["input"]) == (node, edge["input"])
        assert agree(shown["upstream"], grad) and agree(shown["local"], edge["local"])
        assert agree(shown["contribution"], edge["contribution"])
    gradient_lines = text.split("\nGradient\n")[1].splitlines()
    for name, expected in example["gradient"].items():
        row = next(line for line in gradient_lines if line.split()[:1] == [name])
        assert agree(float(row.split()[-1]), expected), name


# ----- branch nodes -----


def test_branch_y_sums_two_paths_into_y():
    example = SEED["branch-y"]
    document = trace_json(example["expression"], example["at"])
    branches = {b["node"]: b for b in document["trace"]["branches"]}
    assert list(branches) == ["y"]
    assert [(t["from"], t["contribution"]) for t in branches["y"]["terms"]] == [("a", 2.0), ("b", 3.0)]
    assert branches["y"]["total"] == 5.0 == example["gradient"]["y"]
    assert "∂f/∂y = 2 (via a) + 3 (via b) = 5" in console_text(example["expression"], example["at"])


def test_branch_node_sums_two_paths_into_x():
    example = SEED["branch-node"]
    document = trace_json(example["expression"], example["at"])
    (branch,) = document["trace"]["branches"]
    assert branch["node"] == "x"
    assert [t["contribution"] for t in branch["terms"]] == example["branches"]["x"] == [2.0, 6.0]
    assert [t["from"] for t in branch["terms"]] == ["y1", "y2"]
    assert branch["total"] == 8.0
    assert "∂z/∂x = 2 (via y1) + 6 (via y2) = 8" in console_text(example["expression"], example["at"])


def test_softmax_xent_each_z_collects_a_term_from_every_use_and_s_from_every_output():
    example = SEED["softmax-xent"]
    at = example["at"]
    document = trace_json(example["expression"], at)
    forward = {row["node"]: row for row in document["trace"]["forward"]}
    branches = {b["node"]: b for b in document["trace"]["branches"]}
    exps = [math.exp(at[f"z{k}"]) for k in (1, 2, 3)]
    softmax = [e / sum(exps) for e in exps]
    for k in (1, 2, 3):
        z = f"z{k}"
        users = [name for name, row in forward.items() if z in row["inputs"]]
        assert len(users) == 2  # exp(z_k) in s and again in a_k
        assert [t["from"] for t in branches[z]["terms"]] == users
        assert close(math.fsum(t["contribution"] for t in branches[z]["terms"]), branches[z]["total"])
        assert close(branches[z]["total"], softmax[k - 1] - at[f"y{k}"])  # ∂L/∂z = softmax - y
        assert close(branches[z]["total"], example["gradient"][z])
    assert [t["from"] for t in branches["s"]["terms"]] == ["a1", "a2", "a3"]
    text = console_text(example["expression"], at)
    for k in (1, 2, 3):
        assert re.search(rf"∂L/∂z{k} = \S+ \(via t\d+\) \+ \S+ \(via t\d+\) = ", text)
    assert re.search(r"∂L/∂s = \S+ \(via a1\) \+ \S+ \(via a2\) \+ \S+ \(via a3\) = ", text)
    # and where s passes its gradient on, the sum is shown as it happens
    assert re.search(r"^s = t\d+ \+ t\d+    upstream ∂L/∂s = \S+ \+ \S+ \+ \S+ = \S+  Σ$", text, re.M)


def test_a_node_used_twice_by_one_consumer_names_both_inputs():
    document = trace_json("x*x", {"x": 3})
    (branch,) = document["trace"]["branches"]
    assert [(t["from"], t["contribution"]) for t in branch["terms"]] == [("f", 3.0), ("f", 3.0)]
    assert "∂f/∂x = 3 (via f, input 1) + 3 (via f, input 2) = 6" in console_text("x*x", {"x": 3})


def test_a_branch_with_many_paths_lists_one_row_per_path():
    source = " + ".join(f"{k}*x" for k in range(1, 10))
    text = console_text(source, {"x": 1})
    assert "∂f/∂x = 45  sum of the 9 contributions below" in text
    for k in range(1, 10):
        assert re.search(rf"^│\s+[+ ] {k}\s+\(via t\d+\)", text, re.M), k


# ----- properties on random programs -----

VARIABLES = ("x", "y", "z")
UNARY = ("sin", "tanh", "sigmoid", "-")
BINARY = ("+", "-", "*", "max", "min")


@st.composite
def random_programs(draw):
    """`q1 = ...; q2 = ...; f = ...` over x, y, z and earlier names (so nodes branch often)."""
    statements = []
    names: list[str] = []
    for index in range(draw(st.integers(1, 4))):
        leaves = st.sampled_from(VARIABLES + tuple(names) + ("2", "0.5"))
        expression = draw(st.recursive(
            leaves,
            lambda inner: st.one_of(
                st.tuples(st.sampled_from(UNARY), inner).map(
                    lambda p: f"-({p[1]})" if p[0] == "-" else f"{p[0]}({p[1]})"),
                st.tuples(st.sampled_from(BINARY), inner, inner).map(
                    lambda p: f"{p[0]}({p[1]}, {p[2]})" if p[0] in ("max", "min") else f"({p[1]} {p[0]} {p[2]})"),
            ),
            max_leaves=6,
        ))
        name = f"q{index + 1}"
        statements.append(f"{name} = {expression}")
        names.append(name)
    return "; ".join(statements)


POINTS = st.fixed_dictionaries({v: st.floats(-2, 2, allow_nan=False).map(lambda f: round(f, 3)) for v in VARIABLES})


@given(source=random_programs(), point=POINTS)
def test_every_branch_total_is_the_node_gradient_and_every_gradient_the_sum_of_its_contributions(source, point):
    graph = parse(source)
    at = {name: point[name] for name in graph.variables}
    result = differentiate(graph, at, record=True)
    trace = trace_object(build_trace(result))
    grad_of = {row["node"]: row["grad"] for row in trace["backward"]}
    output = trace["forward"][-1]["node"]
    if not trace["backward"]:  # the output depends on no variable: nothing flows back
        assert all(value == 0 for value in result.gradient.values()) and not trace["branches"]
        return
    assert (trace["backward"][0]["node"], trace["backward"][0]["grad"]) == (output, 1.0)
    # contributions into each node, collected from the edges
    received: dict[str, list[float]] = {}
    for row in trace["backward"]:
        for edge in row["edges"]:
            assert edge["contribution"] == row["grad"] * edge["local"]
            received.setdefault(edge["input"], []).append(edge["contribution"])
    for name, grad in grad_of.items():
        if name == output:
            assert grad == 1.0
        else:
            scale = math.fsum(abs(c) for c in received[name])
            assert math.isclose(grad, math.fsum(received[name]), rel_tol=1e-12, abs_tol=1e-12 * scale), name
    for name, value in result.gradient.items():
        assert grad_of.get(name, 0.0) == value
    # the branch nodes are exactly the nodes that depend on a variable or a named intermediate (whose
    # gradient may be asked for even when its value is constant) and fill more than one input slot
    # of the nodes the output depends on
    named = set(graph.intermediates)
    depends = set()
    for row in trace["forward"]:
        if row["op"] == "var" or row["node"] in named or any(name in depends for name in row["inputs"]):
            depends.add(row["node"])
    live = {output}
    uses: dict[str, int] = {}
    for row in reversed(trace["forward"]):
        if row["node"] in live:
            for name in row["inputs"]:
                live.add(name)
                uses[name] = uses.get(name, 0) + 1
    expected = {name for name, count in uses.items() if count > 1 and name in depends}
    assert {b["node"] for b in trace["branches"]} == expected
    for branch in trace["branches"]:
        assert branch["total"] == grad_of[branch["node"]]
        assert len(branch["terms"]) == uses[branch["node"]] == len(received[branch["node"]])
        terms = [t["contribution"] for t in branch["terms"]]
        scale = math.fsum(abs(c) for c in terms)
        assert math.isclose(branch["total"], math.fsum(terms), rel_tol=1e-12, abs_tol=1e-12 * scale)


# ----- the command line -----


def test_trace_json_has_exactly_the_documented_shapes():
    example = SEED["branch-y"]
    document = trace_json(example["expression"], example["at"])
    plain = run_cli("grad", example["expression"], "--at", at_option(example["at"]), "--json").json()
    assert {key: value for key, value in document.items() if key != "trace"} == plain
    trace = document["trace"]
    assert set(trace) == {"forward", "backward", "branches"}
    assert all(set(row) == {"node", "op", "inputs", "value"} for row in trace["forward"])
    assert all(set(row) == {"node", "grad", "edges"} for row in trace["backward"])
    assert all(set(edge) == {"input", "local", "contribution"} for row in trace["backward"] for edge in row["edges"])
    assert all(set(b) == {"node", "terms", "total"} for b in trace["branches"])
    assert all(set(t) == {"from", "contribution"} for b in trace["branches"] for t in b["terms"])
    assert [row["op"] for row in trace["forward"]] == ["var", "var", "add", "var", "max", "mul"]


def test_grad_trace_json_is_the_grad_object_plus_the_trace():
    example = SEED["circuit"]
    args = ("(x+y)*z", "--at", at_option(example["at"]))
    with_trace = run_cli("grad", *args, "--trace", "--json").json()
    assert with_trace["trace"] == run_cli("trace", *args, "--json").json()["trace"]
    del with_trace["trace"]
    assert with_trace == run_cli("grad", *args, "--json").json()


def test_grad_trace_prints_the_trace_and_the_gradient_table():
    run = run_cli("grad", "(x+y)*z", "--at", "x=-2,y=5,z=-4", "--trace")
    assert run.code == 0
    assert "Forward pass" in run.stdout and "Backward pass" in run.stdout
    assert "→ x   ∂t1/∂x = 1" in run.stdout and "-4 × 1 = -4" in run.stdout
    assert re.search(r"^x\s+-2\s+-4$", run.stdout, re.M)  # grad's own table follows


def test_grad_trace_with_check():
    run = run_cli("grad", "(x+y)*z", "--at", "x=-2,y=5,z=-4", "--trace", "--check", "--json")
    assert run.code == 0, run.stderr
    document = run.json()
    assert document["check"]["ok"] and document["trace"]["backward"][0]["node"] == "f"


@pytest.mark.parametrize("args", [
    ("grad", "x*y", "--at", "x=1,y=2", "--max-rows", "3"),
    ("grad", "x*y", "--points", "-", "--trace"),
    ("trace", "x*y", "--at", "x=1,y=2", "--max-rows", "0"),
    ("trace", "x*y", "--at", "x=1,y=2", "--lang", "fr"),
], ids=["max-rows-without-trace", "trace-with-points", "max-rows-0", "unknown-language"])
def test_usage_errors_exit_2(args):
    assert run_cli(*args, input="x,y\n1,2\n").code == 2


def test_trace_errors_keep_their_exit_codes():
    assert run_cli("trace", "log(x)", "--at", "x=-1").code == 3
    assert run_cli("trace", "x +", "--at", "x=1").code == 2


def test_the_kink_is_flagged_on_its_row_with_the_convention():
    text = console_text("relu(x) + max(x, y)", {"x": 0, "y": 0})
    assert "⚠ relu is not differentiable here; convention: relu'(0) = 0" in text.replace("\n    ", " ")
    assert "convention: the gradient is split evenly among the tied inputs" in text.replace("\n    ", " ")
    assert re.search(r"→ x Σ\s+∂t\d/∂x = 1 if x > 0 else 0 = 0\s+1 × 0 = 0 ⚠", text)
    assert re.search(r"→ y\s+∂t\d/∂y = ½ \(2 inputs equal the largest\) = 0.5\s+1 × 0.5 = 0.5 ⚠", text)


def test_gates_are_named():
    text = console_text("max(x*y, x+y)", {"x": 2, "y": 3})
    for gate in ("add gate: distributes", "mul gate: swaps", "max gate: routes"):
        assert gate in text


def test_rich_markup_in_user_text_prints_literally():
    # A comment is dropped from the heading, so markup in it neither shows nor acts.
    source = "x*y # [bold red]boom[/] [link=http://e.x]l[/link] :smile:"
    for args in (("trace", source), ("grad", source, "--trace")):
        run = run_cli(*args, "--at", "x=1,y=2")
        assert run.code == 0, run.stderr
        assert run.stdout.startswith("Backprop trace of x*y\n") and "boom" not in run.stdout
    # Program text itself goes into Rich as Text: markup-like text would print as typed.
    result = differentiate(parse("x*y"), {"x": 1, "y": 2}, record=True)
    result.graph.source = "x*y [bold red]boom[/] :smile:"
    console = Console(file=io.StringIO(), width=80, color_system=None, highlight=False)
    console.print(trace_view(build_trace(result), translator("en"), 6))
    assert console.file.getvalue().startswith("Backprop trace of x*y [bold red]boom[/] :smile:\n")


@pytest.mark.parametrize("source, title", [
    ("a = x + 1  # shift\nf = a*2", "a = x + 1; f = a*2"),
    ("# a note first\n\nq = (x +\n     y)   # sum\n\nf = q*x;", "q = (x + y); f = q*x"),
    ("ｑ ＝ ｘ＋１ ＃ 全角のコメント\nｆ＝ｑ＊２", "ｑ ＝ ｘ＋１; ｆ＝ｑ＊２"),
], ids=["comment", "continued-line", "full-width"])
def test_the_heading_is_the_program_without_comments(source, title):
    assert console_text(source, {"x": 1, "y": 2}).splitlines()[0] == f"Backprop trace of {title}"


def test_the_heading_of_a_program_file_leaves_its_comment_lines_out():
    run = run_cli("trace", "--file", str(REPO / "examples" / "apple.grad"), "--at", "apple=100,n=2,tax=1.1")
    assert run.code == 0, run.stderr
    assert run.stdout.splitlines()[0] == "Backprop trace of apple_price = apple * n; total = apple_price * tax"


@pytest.mark.parametrize("source, at, edge, formula", [
    ("q = x + y; f = q * z", {"x": -2, "y": 5, "z": -4}, ("f", "q"), "z"),
    ("q = x + y; f = q * z", {"x": -2, "y": 5, "z": -4}, ("f", "z"), "q"),
    ("f = max(x, y, z)*2", {"x": 1, "y": 2, "z": 0}, ("t1", "y"), "1 if y is the largest else 0"),
    ("f = w / v", {"w": 3, "v": 2}, ("f", "v"), "-w/v²"),
    ("f = x ^ p", {"x": 3, "p": 2}, ("f", "p"), "x^p·ln x"),
    ("f = abs(b) * a", {"a": 3, "b": 2}, ("t1", "b"), "sign(b)"),  # names a and b stay themselves
], ids=["mul-left", "mul-right", "max", "div", "pow", "names-a-b"])
def test_local_formulas_name_the_inputs_not_the_op_tables_placeholders(source, at, edge, formula):
    # The trace, check's first wrong step (screen and JSON) all say the same, in the program's names.
    consumer, name = edge
    text = console_text(source, at)
    assert f"∂{consumer}/∂{name} = {formula} = " in text
    wrong = "--expect-node" if name not in at else "--expect"
    run = run_cli("check", source, "--at", at_option(at), wrong, f"{name}=12345")
    assert f"local ∂{consumer}/∂{name} = {formula} = " in " ".join(run.stdout.split())  # check may wrap it
    document = run_cli("check", source, "--at", at_option(at), wrong, f"{name}=12345", "--json").json()
    [step] = [s for s in document["check"]["first_wrong"]["steps"] if s["via"] == consumer]
    assert step["local_formula"] == formula


def test_japanese_headings_with_lang_and_with_the_environment():
    source, at = "a = x + y; b = max(y, z); f = a * b", "x=1,y=2,z=0"
    by_option = run_cli("trace", source, "--at", at, "--lang", "ja")
    by_environment = run_cli("trace", source, "--at", at, env={"GRADCLI_LANG": "ja_JP.UTF-8"})
    assert by_option.stdout == by_environment.stdout
    for word in ("順伝播", "逆伝播", "分岐ノード", "局所的な微分", "上流から伝わる勾配", "合計"):
        assert word in by_option.stdout, word
    assert "Forward pass" not in by_option.stdout and "Branch nodes" not in by_option.stdout
    assert "∂f/∂y = 2 (a 経由) + 3 (b 経由) = 5" in by_option.stdout
    english = run_cli("trace", source, "--at", at, "--lang", "en", env={"GRADCLI_LANG": "ja"})
    assert "Forward pass" in english.stdout and "順伝播" not in english.stdout


@pytest.mark.parametrize("setting, warned", [("fr_FR.UTF-8", True), ("jp", True), ("en_GB.UTF-8", False),
                                             ("C.UTF-8", False), ("", False)])
def test_a_language_the_trace_does_not_speak_is_english_with_a_warning(setting, warned):
    run = run_cli("trace", "x*y", "--at", "x=2,y=3", env={"GRADCLI_LANG": setting})
    assert run.code == 0 and "Forward pass" in run.stdout
    assert ("GRADCLI_LANG" in run.stderr) == warned, run.stderr


@pytest.mark.parametrize("lang, words", [("en", "x: the gradient overflows a double"), ("ja", "x: 勾配が倍精度で")])
def test_a_variable_whose_gradient_overflows_is_noted_in_the_trace(lang, words):
    run = run_cli("trace", "1e200*(1e200*x)", "--at", "x=1e-300", "--lang", lang, env={"COLUMNS": "200"})
    assert run.code == 0 and words in run.stdout


def test_every_text_of_the_op_table_that_a_trace_shows_has_a_japanese_translation():
    from gradcli.i18n import JAPANESE
    from gradcli.ops import OPERATIONS

    missing = []
    for op in OPERATIONS:
        texts = [op.gate, *(kink.convention for kink in op.kinks)]
        texts += [shown for shown in op.show if re.search(r"\b(if|else|is|the|other|input)\b", shown)]
        missing += [(op.name, text) for text in texts if text is not None and text not in JAPANESE]
    assert not missing, "add these to gradcli/i18n.py"


def test_japanese_lines_fit_80_columns():
    from rich.cells import cell_len

    example = SEED["softmax-xent"]
    text = console_text(example["expression"], example["at"], lang="ja")
    assert max(cell_len(line) for line in text.splitlines()) <= 80


def test_max_rows_shortens_each_part_and_says_what_was_left_out():
    source = "; ".join(["q0 = x*y"] + [f"q{k} = q{k - 1}*x + y" for k in range(1, 200)])
    run = run_cli("trace", source, "--at", "x=0.5,y=0.25", "--max-rows", "6")
    assert run.code == 0, run.stderr
    nodes = len(parse(source).ops)
    shown_steps = [int(m) for m in re.findall(r"^\s+(\d+)  ", run.stdout.split("Backward pass")[0], re.M)]
    assert len(shown_steps) == 6
    gap = re.search(r"⋮ (\d+) forward steps left out \((\d+)–(\d+)\)", run.stdout)
    assert gap and int(gap.group(1)) == nodes - 6 == int(gap.group(3)) - int(gap.group(2)) + 1
    assert "backward rows left out" in run.stdout and "--max-rows sets how many are shown" in run.stdout
    assert len(run.stdout.splitlines()) < 80
    full = run_cli("trace", source, "--at", "x=0.5,y=0.25", "--max-rows", "6", "--json").json()
    assert len(full["trace"]["forward"]) == nodes  # the JSON is always complete


def test_thousands_of_nodes_render_in_seconds():
    source = "; ".join(["q0 = x*y"] + [f"q{k} = sin(q{k - 1}) + x*q{k - 1}" for k in range(1, 1500)])
    started = time.perf_counter()
    run = run_cli("trace", source, "--at", "x=0.5,y=0.3")
    elapsed = time.perf_counter() - started
    assert run.code == 0, run.stderr
    assert elapsed < 10, elapsed
    assert len(re.findall(r"^  → ", run.stdout, re.M)) == 5 * 1499 + 2  # every edge has its row
    assert "∂q1499/∂x = " in run.stdout  # x's branch sum: many paths, one row each


def test_plain_output_when_not_a_terminal_and_no_colour_with_no_color():
    args = ("trace", "a = x + y; b = max(y, z); f = a * b", "--at", "x=1,y=2,z=0")
    piped = run_process(*args, env={"NO_COLOR": "", "FORCE_COLOR": "", "TERM": "xterm-256color", "COLUMNS": "80"})
    assert piped.code == 0 and "\x1b[" not in piped.stdout
    terminal = {"FORCE_COLOR": "1", "TERM": "xterm-256color", "COLUMNS": "80"}
    coloured = run_process(*args, env={**terminal, "NO_COLOR": ""})
    assert re.search(r"\x1b\[[0-9;]*3[0-9]m", coloured.stdout)  # a terminal gets colours...
    no_color = run_process(*args, env={**terminal, "NO_COLOR": "1"})
    assert not re.search(r"\x1b\[[0-9;]*3[0-9]m", no_color.stdout)  # ...unless NO_COLOR is set
    assert re.sub(r"\x1b\[[0-9;]*m", "", no_color.stdout) == piped.stdout


def test_plain_grad_json_imports_neither_rich_nor_the_trace():
    code = ("import sys; from gradcli.cli import main; main(['grad', '(x+y)*z', '--at', 'x=-2,y=5,z=-4', '--json']); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('rich', 'sympy', 'numpy') "
            "or m == 'gradcli.trace'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert json.loads(done.stdout.strip().splitlines()[0])["gradient"] == {"x": -4.0, "y": -4.0, "z": 3.0}


# ----- narrow terminals, pipes, an ASCII stream (issue 11) -----

WIDTHS = (40, 60, 80, 120)
APPLE = ("--file", str(REPO / "examples" / "apple.grad"), "--at", "apple=100,n=2,tax=1.1")
SOFTMAX = ("--file", str(REPO / "examples" / "softmax-xent.grad"), "--at", "z1=1,z2=2,z3=0.5,y1=0,y2=1,y3=0")
COMMANDS = {  # what a user types, and the digits its numbers are shown with
    "trace-apple": (("trace", *APPLE), 6),
    "trace-softmax": (("trace", *SOFTMAX), 6),
    "trace-softmax-ja": (("trace", *SOFTMAX, "--lang", "ja"), 6),
    "grad-trace-softmax": (("grad", "--trace", *SOFTMAX), 6),
    "grad-softmax": (("grad", *SOFTMAX), 12),
    "grad-softmax-ja": (("grad", *SOFTMAX, "--lang", "ja"), 12),
    "eval-softmax": (("eval", *SOFTMAX), 12),
    "grad-long-name": (("grad", "learning_rate*exp(x)/3 + sin(x)", "--at", "learning_rate=0.1234567,x=-1.234567"), 12),
}


def piped(*args: str, width: int, env: dict | None = None):
    """The command as a pipe sees it at COLUMNS=width (no colour, no language from the caller's environment)."""
    return run_process(*args, env={"COLUMNS": str(width), "NO_COLOR": "1", "GRADCLI_LANG": "", **(env or {})})


def shown(value: float, digits: int) -> str:
    text = "nan" if value != value else f"{value:.{digits}g}"
    return "0" if text == "-0" else text


def numbers_of(args: tuple[str, ...], digits: int) -> set[str]:
    """Every number the command prints, from the JSON of the same command (as text at those digits)."""
    command = [word for word in args if word not in ("--lang", "ja")]
    if command[0] == "eval":
        return {shown(run_cli(*command, "--json").json()["value"], digits)}
    document = run_cli("grad", *command[1:] if command[0] == "grad" else command[1:], "--json",
                       *(("--trace",) if "--trace" in command or command[0] == "trace" else ())).json()
    numbers = {shown(document["value"], digits)} | {shown(v, digits) for v in document["gradient"].values()}
    trace = document.get("trace")
    if trace:
        numbers |= {shown(row["value"], digits) for row in trace["forward"] if row["op"] != "const"}
        for row in trace["backward"]:
            numbers.add(shown(row["grad"], digits))
            numbers |= {shown(edge[key], digits) for edge in row["edges"] for key in ("local", "contribution")}
        numbers |= {shown(branch["total"], digits) for branch in trace["branches"]}
    return numbers


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_line_fits_the_width_and_every_number_is_whole(name, width):
    from rich.cells import cell_len

    args, digits = COMMANDS[name]
    run = piped(*args, width=width)
    assert run.code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert max(cell_len(line) for line in lines) <= width, "\n".join(line for line in lines if cell_len(line) > width)
    assert not re.search(r"[\d.]…|-…", run.stdout)  # no number cut short (`-0…`)
    for number in numbers_of(args, digits):
        assert re.search(rf"(?<![\w.]){re.escape(number)}(?![\w.])", run.stdout), number


def test_at_40_columns_each_forward_row_keeps_its_value_beside_its_step():
    run = piped("trace", *APPLE, width=40)
    forward = run.stdout.split("Forward pass\n")[1].split("\n\n")[0].splitlines()[1:]
    assert forward[0].split()[0] == "step" and forward[0].split()[-1] == "value"
    values = {"apple": "100", "n": "2", "apple_price": "200", "tax": "1.1", "total": "220"}
    rows = [line.split() for line in forward if re.match(r"^\s+\d+\s", line)]
    assert [(row[1], row[-1]) for row in rows] == list(values.items())


def test_piped_at_80_columns_the_apple_contributions_stay_on_their_rows():
    run = piped("trace", *APPLE, width=80)
    edges = [line for line in run.stdout.splitlines() if "→ " in line]
    assert len(edges) == 4 and all(" × " in line for line in edges), edges
    assert "∂total/∂apple_price = tax = 1.1  1 × 1.1 = 1.1" in run.stdout


def test_a_long_title_is_shortened_with_an_ellipsis_not_broken():
    for width in WIDTHS:
        lines = piped("trace", *SOFTMAX, width=width).stdout.splitlines()
        assert lines[0].startswith("Backprop trace of s = exp(z1) + exp(z2)") and lines[0].endswith("…")
        point = lines[1:lines.index("")]  # broken between variables where it must be, never inside one
        assert " ".join(line.strip() for line in point) == "at z1 = 1, z2 = 2, z3 = 0.5, y1 = 0, y2 = 1, y3 = 0"
        assert len(point) == (2 if width == 40 else 1)


def test_the_gradient_table_stays_aligned_on_an_ascii_stream():
    run = run_process("grad", "θ*x + x^2", "--at", "θ=2,x=3", env={"PYTHONIOENCODING": "ascii", "COLUMNS": "80"})
    assert run.code == 0, run.stderr
    header, rule, *rows = run.stdout.splitlines()[1:]
    assert header.split() == ["variable", "value", "df/dvariable"] and rule == "-" * len(header)
    assert [row.split() for row in rows] == [["\\u03b8", "2", "3"], ["x", "3", "8"]]  # θ as the stream escapes it
    assert {len(line) for line in [header, *rows]} == {len(header)}  # the numbers end under the heading


# ----- constants and the local formulas a student would write (issue 11) -----


def test_constants_are_not_steps_and_a_named_one_is_given_once():
    run = run_cli("trace", "x^2 + 3*x^3 + pi*x + pi", "--at", "x=2")
    forward = run.stdout.split("Forward pass\n")[1].split("\n\n")[0]
    steps = [line.split() for line in forward.splitlines() if re.match(r"^\s+\d+\s", line)]
    assert [int(row[0]) for row in steps] == list(range(1, len(steps) + 1))
    assert [row[1] for row in steps] == ["x", "t1", "t2", "t3", "t4", "t5", "t6", "f"]  # no step named 2, 3 or pi
    assert not re.search(r"\bconstant\b", forward) and forward.count("constants: pi = 3.14159") == 1
    assert "3 * t2" in forward and "pi * x" in forward
    document = run_cli("trace", "x^2 + 3*x^3 + pi*x + pi", "--at", "x=2", "--json").json()
    assert [row["node"] for row in document["trace"]["forward"] if row["op"] == "const"] == ["2", "3", "3", "pi", "pi"]


def _evaluate(formula: str, x: float) -> float:
    """A displayed power-rule formula (`3·x²`, `0.5·x^-0.5`) as Python arithmetic, for our own output only."""
    python = formula.replace("·", "*").replace("²", "**2").replace("³", "**3").replace("^", "**")
    assert re.fullmatch(r"[-\d.*x ]+", python), python
    return eval(python, {"__builtins__": {}}, {"x": x})


@pytest.mark.parametrize("source, x, formula", [
    ("x^2", 3, "2·x"), ("x^3", 3, "3·x²"), ("x^5", 2, "5·x^4"), ("x^1", 5, None), ("x^0", 5, None),
    ("x^0.5", 4, "0.5·x^-0.5"), ("x^-1", 2, "-1·x^-2"), ("x^-0.5", 4, "-0.5·x^-1.5"), ("x**2.5", 4, "2.5·x^1.5"),
], ids=["square", "cube", "fifth", "first", "zeroth", "sqrt", "reciprocal", "negative-half", "two-and-a-half"])
def test_a_constant_exponent_is_put_into_the_power_rule(source, x, formula):
    text = run_cli("trace", source, "--at", f"x={x}").stdout
    row = re.search(r"∂f/∂x = (.*?)  ", text).group(1)
    exact = finite_difference(lambda a: INTERPRETER["pow"](a, float(source.split("^")[-1].split("**")[-1])), [x], 0)
    if formula is None:  # b = 1 or 0: the partial is the number itself
        assert close(float(row), exact, rel=1e-6, abs_=1e-9) and "^" not in row
        return
    shown_formula, _, local = row.rpartition(" = ")
    assert shown_formula == formula and "b" not in row and "(2-1)" not in row
    assert close(_evaluate(formula, x), float(local), rel=1e-5) and close(float(local), exact, rel=1e-5)


@pytest.mark.parametrize("source, at, rows", [
    ("max(x, y)", "x=1,y=1", {"x": "½ (2 inputs equal the largest) = 0.5", "y": "½ (2 inputs equal the largest) = 0.5"}),
    ("min(x, y)", "x=1,y=1", {"x": "½ (2 inputs equal the smallest) = 0.5", "y": "½ (2 inputs equal the smallest) = 0.5"}),
    ("max(x, y, z)", "x=1,y=1,z=1", {"z": "1/3 (3 inputs equal the largest) = 0.333333"}),
    ("max(x, y, z)", "x=2,y=2,z=0", {"x": "½ (2 inputs equal the largest) = 0.5", "z": "1 if z is the largest else 0 = 0"}),
    ("max(x, y)", "x=2,y=1", {"x": "1 if x is the largest else 0 = 1", "y": "1 if y is the largest else 0 = 0"}),
], ids=["max-tie", "min-tie", "three-way", "two-of-three", "no-tie"])
def test_a_tie_row_shows_the_share_it_gives(source, at, rows):
    text = run_cli("trace", source, "--at", at).stdout
    for name, formula in rows.items():
        assert re.search(re.escape(f"∂f/∂{name} = {formula}") + r"\s", text), name


def test_max_of_a_node_with_itself_gives_each_edge_half_and_says_no_tie():
    run = run_cli("trace", "max(x, x)", "--at", "x=3")
    assert run.code == 0
    assert run.stdout.count("∂f/∂x = ½ (2 inputs equal the largest) = 0.5  1 × 0.5 = 0.5\n") == 2
    total = finite_difference(lambda a: max(a, a), [3.0], 0)  # max(x, x) is x
    assert close(total, 1.0)
    assert "∂f/∂x = 0.5 (via f, input 1) + 0.5 (via f, input 2) = 1" in run.stdout
    assert "⚠" not in run.stdout and run.stderr == ""


# ----- Japanese (issue 11) -----


def test_the_gradient_table_speaks_japanese():
    run = run_cli("grad", "x*y", "--at", "x=2,y=3", "--lang", "ja")
    assert run.stdout.splitlines()[1].split() == ["入力変数", "値", "∂f/∂変数"]
    assert not re.search(r"variable|value", run.stdout)
    assert "変数がない" in run_cli("grad", "2", "--lang", "ja").stdout


def test_a_japanese_trace_at_a_tie_notes_it_in_japanese_on_both_streams():
    run = run_cli("trace", "max(x, y)*z", "--at", "x=1,y=1,z=2", env={"GRADCLI_LANG": "ja"})
    assert run.code == 0
    assert "規約: 同点の入力で勾配を等分する" in run.stdout and "規約: 同点:" not in run.stdout
    assert "∂t1/∂x = ½（2 つの入力が最大値に等しい） = 0.5" in run.stdout
    assert "警告" in run.stderr and "規約: 同点の入力で" in run.stderr
    assert not re.search(r"convention|differentiable|warning", run.stdout + run.stderr)
