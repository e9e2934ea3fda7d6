"""`gradcli graph`: the Rich tree, Graphviz DOT and Mermaid views (issue 4).

DOT and Mermaid are read back by small parsers written here from the languages' grammars
(DOT: graphviz.org/doc/info/lang.html; Mermaid flowchart node, edge and comment lines), so a
test fails on any malformed line, and the graph read back is compared with the program's own
structure and with the course numbers of the seed examples.
"""

from __future__ import annotations

import re
import time

import pytest
from conftest import REPO, at_option, run_cli, seed_examples

from gradcli.render.graph import dot_quote, mermaid_escape

SEEDS = seed_examples()

# ----- a DOT reader: tokens, then `digraph ID { stmt* }` with node, edge and attribute statements -----

DOT_TOKEN = re.compile(r'''
    (?P<space>\s+|//[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<id>[A-Za-z_][A-Za-z_0-9]*|-?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?))
  | (?P<arrow>->)
  | (?P<punct>[{}\[\];,=])
''', re.X)


def dot_tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text):
        match = DOT_TOKEN.match(text, position)
        assert match, f"not DOT at {position}: {text[position:position + 40]!r}"
        position = match.end()
        if match.lastgroup != "space":
            tokens.append((match.lastgroup, match.group()))
    return tokens


def dot_unquote(token: str) -> str:
    body = token[1:-1]
    assert "\n" not in body
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), body)


def parse_dot(text: str) -> dict:
    """{'nodes': {id: attrs}, 'edges': [(tail, head, attrs)], 'graph': attrs}; asserts it is well formed."""
    tokens = dot_tokens(text)
    k = 0

    def take(kind=None, value=None):
        nonlocal k
        assert k < len(tokens), "unexpected end of DOT"
        token = tokens[k]
        assert kind is None or token[0] == kind, (token, kind)
        assert value is None or token[1] == value, (token, value)
        k += 1
        return token

    def attributes() -> dict:
        result = {}
        take("punct", "[")
        while tokens[k] != ("punct", "]"):
            key = take("id")[1]
            take("punct", "=")
            kind, raw = tokens[k]
            assert kind in ("id", "string")
            take()
            result[key] = dot_unquote(raw) if kind == "string" else raw
            if tokens[k] in (("punct", ","), ("punct", ";")):
                take()
        take("punct", "]")
        return result

    take("id", "digraph")
    take("id")
    take("punct", "{")
    graph, nodes, edges = {}, {}, []
    while tokens[k] != ("punct", "}"):
        kind, first = take("id")
        if first in ("node", "edge") and tokens[k] == ("punct", "["):
            attributes()
        elif tokens[k] == ("punct", "="):
            take()
            value_kind, raw = take()
            graph[first] = dot_unquote(raw) if value_kind == "string" else raw
        elif tokens[k][0] == "arrow":
            take()
            head = take("id")[1]
            edges.append((first, head, attributes() if tokens[k] == ("punct", "[") else {}))
        else:
            nodes[first] = attributes() if tokens[k] == ("punct", "[") else {}
        take("punct", ";")
    take("punct", "}")
    assert k == len(tokens), "text after the graph"
    for tail, head, _ in edges:
        assert tail in nodes and head in nodes, (tail, head)
    return {"graph": graph, "nodes": nodes, "edges": edges}


# ----- a Mermaid flowchart reader -----

MERMAID_LABEL = r'"([^"]*)"'
MERMAID_NODE = re.compile(rf"^  (n\d+)(?:\[{MERMAID_LABEL}\]|\(\[{MERMAID_LABEL}\]\))$")
MERMAID_EDGE = re.compile(rf"^  (n\d+) -->(?:\|{MERMAID_LABEL}\|)? (n\d+)$")


def mermaid_unescape(text: str) -> str:
    assert not re.search(r"[<>]", text.replace("<br/>", "")), text
    text = text.replace("<br/>", "\n")
    entities = {"quot": '"', "lt": "<", "gt": ">", "amp": "&"}

    def entity(match):
        name = match.group(1)
        return chr(int(name)) if name.isdigit() else entities[name]

    assert "#" not in re.sub(r"#(\w+);", "", text), text  # every # starts an entity
    return re.sub(r"#(\w+);", entity, text)


def parse_mermaid(text: str) -> dict:
    lines = text.rstrip("\n").split("\n")
    assert lines[0] == "flowchart LR"
    nodes, edges = {}, []
    for line in lines[1:]:
        if line.startswith("  %%"):
            assert "\n" not in line
            continue
        node = MERMAID_NODE.match(line)
        edge = MERMAID_EDGE.match(line)
        assert node or edge, f"not a Mermaid node or edge line: {line!r}"
        if node:
            label = node.group(2) if node.group(2) is not None else node.group(3)
            nodes[node.group(1)] = mermaid_unescape(label)
        else:
            assert edge.group(1) in nodes and edge.group(3) in nodes, line
            label = None if edge.group(2) is None else mermaid_unescape(edge.group(2))
            edges.append((edge.group(1), edge.group(3), label))
    return {"nodes": nodes, "edges": edges}


def graph_output(*args: str) -> str:
    run = run_cli("graph", *args)
    assert run.code == 0, run.stderr
    return run.stdout


def first_lines(nodes: dict[str, str]) -> dict[str, str]:
    """Node id -> the name of the node (the first line of its label, up to ' = ')."""
    return {node: label.split("\n")[0].split(" = ")[0] for node, label in nodes.items()}


CIRCUIT_EDGES = {("x", "t1"), ("y", "t1"), ("t1", "f"), ("z", "f")}


def test_dot_of_the_circuit_has_its_structure():
    dot = parse_dot(graph_output("(x+y)*z", "--format", "dot"))
    names = first_lines({node: attrs["label"] for node, attrs in dot["nodes"].items()})
    assert sorted(names.values()) == ["f", "t1", "x", "y", "z"]
    assert {(names[a], names[b]) for a, b, _ in dot["edges"]} == CIRCUIT_EDGES
    assert dot["nodes"][next(n for n, name in names.items() if name == "t1")]["label"] == "t1 = x + y"


def test_mermaid_of_the_circuit_has_its_structure():
    mermaid = parse_mermaid(graph_output("(x+y)*z", "--format", "mermaid"))
    names = first_lines(mermaid["nodes"])
    assert {(names[a], names[b]) for a, b, _ in mermaid["edges"]} == CIRCUIT_EDGES


@pytest.mark.parametrize("fmt", ["dot", "mermaid"])
@pytest.mark.parametrize("example", SEEDS, ids=[e["name"] for e in SEEDS])
def test_with_a_point_every_variable_shows_its_value_and_gradient(example, fmt):
    text = graph_output(example["expression"], "--at", at_option(example["at"]), "--format", fmt, "--precision", "12")
    if fmt == "dot":
        labels = [attrs["label"] for attrs in parse_dot(text)["nodes"].values()]
    else:
        labels = list(parse_mermaid(text)["nodes"].values())
    by_name = {label.split("\n")[0].split(" = ")[0]: label.split("\n") for label in labels}
    for name, value in example["at"].items():
        lines = by_name[name]
        assert float(lines[1]) == pytest.approx(value)  # value above
        shown = re.fullmatch(rf"∂\S+/∂{re.escape(name)} = (\S+)", lines[2])  # gradient below
        assert shown and float(shown.group(1)) == pytest.approx(example["gradient"][name], rel=1e-10, abs=1e-12)
    output = run_cli("grad", example["expression"], "--at", at_option(example["at"]), "--json").json()["output"]
    assert float(by_name[output][1]) == pytest.approx(example["value"], rel=1e-10)
    assert by_name[output][2] == f"∂{output}/∂{output} = 1"


def test_edges_carry_the_contributions_and_a_branch_node_sums_them():
    example = next(e for e in SEEDS if e["name"] == "branch-y")
    dot = parse_dot(graph_output(example["expression"], "--at", at_option(example["at"]), "--format", "dot"))
    names = first_lines({node: attrs["label"] for node, attrs in dot["nodes"].items()})
    into_y = sorted(float(attrs["label"]) for tail, head, attrs in dot["edges"] if names[tail] == "y")
    assert into_y == [2.0, 3.0] and sum(into_y) == example["gradient"]["y"]
    at = at_option(example["at"])
    mermaid = parse_mermaid(graph_output(example["expression"], "--at", at, "--format", "mermaid"))
    names = first_lines(mermaid["nodes"])
    assert sorted(float(label) for tail, _, label in mermaid["edges"] if names[tail] == "y") == [2.0, 3.0]


TRICKY = 'x*y # "quoted" \\N back\\slash <b>html</b> & [bold]markup[/] #35; {braces} ; -> |pipe|'


def test_dot_quote_escapes_any_text():
    # No valid program puts such text in a label (a comment is dropped from the title), so the
    # quoting itself is read back by the DOT reader above.
    dot = parse_dot(f"digraph g {{\n  label={dot_quote(TRICKY + chr(10) + 'line two')};\n}}\n")
    assert dot["graph"]["label"] == TRICKY + " line two"


def test_mermaid_escape_escapes_any_text():
    escaped = mermaid_escape(TRICKY)
    parse_mermaid(f'flowchart LR\n  %% {escaped}\n  n0["{escaped}"]\n')
    assert mermaid_unescape(escaped) == TRICKY


TITLED = "a = x + 1  # shift [b]<i>\"q\"</i>\nf = (a +\n     2)*a   # done"


def test_titles_are_the_program_without_comments_one_statement_after_another():
    # Comments are notes to self and line breaks garble a one-line title: the title is the
    # program as typed, statements joined by `; ` (a break inside parentheses is a space).
    expected = "a = x + 1; f = (a + 2)*a"
    dot = parse_dot(graph_output(TITLED, "--format", "dot"))
    assert dot["graph"]["label"] == expected
    text = graph_output(TITLED, "--format", "mermaid")
    parse_mermaid(text)
    comment = next(line for line in text.splitlines() if line.startswith("  %%"))
    assert mermaid_unescape(comment.split(": ", 1)[1]) == expected
    apple = parse_dot(graph_output("--file", str(REPO / "examples" / "apple.grad"), "--format", "dot"))
    assert apple["graph"]["label"] == "apple_price = apple * n; total = apple_price * tax"


def test_a_duplicate_input_gives_two_edges():
    dot = parse_dot(graph_output("x*x", "--at", "x=3", "--format", "dot"))
    assert [attrs["label"] for _, _, attrs in dot["edges"]] == ["3", "3"]
    assert len(parse_mermaid(graph_output("x*x", "--format", "mermaid"))["edges"]) == 2


def test_the_tree_shows_values_and_gradients_and_refers_back_to_shared_nodes():
    text = graph_output("q = x + y; f = q * q + z", "--at", "x=1,y=2,z=3")
    lines = text.splitlines()
    assert re.match(r"^f = t1 \+ z\s+12\s+∂f/∂f = 1$", lines[0])
    assert any(re.search(r"q = x \+ y\s+3\s+∂f/∂q = 6$", line) for line in lines)
    assert sum("q = x + y (see above)" in line for line in lines) == 1
    assert any(re.search(r"\bx\s+1\s+∂f/∂x = 6$", line) for line in lines)


def test_the_tree_without_a_point_is_the_structure_alone():
    text = graph_output("(x+y)*z")
    assert text.splitlines()[0] == "f = t1 * z"
    assert "∂" not in text and re.search(r"t1 = x \+ y$", text, re.M)


def test_a_deep_tree_is_cut_and_says_so():
    source = "; ".join(["q0 = x"] + [f"q{k} = sin(q{k - 1})" for k in range(1, 400)])
    text = graph_output(source)
    assert "the tree is cut at depth" in text and len(text.splitlines()) < 100


def test_thousands_of_nodes_in_dot_and_mermaid_quickly():
    source = "; ".join(["q0 = x*y"] + [f"q{k} = sin(q{k - 1}) + x*q{k - 1}" for k in range(1, 2000)])
    for fmt, reader in (("dot", parse_dot), ("mermaid", parse_mermaid)):
        started = time.perf_counter()
        text = graph_output(source, "--at", "x=0.5,y=0.25", "--format", fmt)
        assert time.perf_counter() - started < 10
        assert len(reader(text)["edges"]) == 2 + 5 * 1999


def test_graph_errors():
    assert run_cli("graph", "x +").code == 2
    assert run_cli("graph", "x*y", "--at", "x=1").code == 2  # a point must give every variable
    assert run_cli("graph", "log(x)", "--at", "x=-1").code == 3
    assert run_cli("graph", "x", "--format", "png").code == 2
