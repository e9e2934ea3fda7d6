"""`gradcli graph`: the Rich tree, Graphviz DOT and Mermaid views (issue 4).

DOT and Mermaid are read back by small parsers written here from the languages' grammars
(DOT: graphviz.org/doc/info/lang.html; Mermaid flowchart node, edge and comment lines), so a
test fails on any malformed line, and the graph read back is compared with the program's own
structure and with the course numbers of the seed examples.
"""

from __future__ import annotations

import json
import math
import re
import time

import pytest
from conftest import REPO, at_option, run_cli, run_process, seed_examples
from rich.cells import cell_len

from gradcli.formatting import format_value
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
    assert any(re.search(r"q = x \+ y Σ\s+3\s+contribution via t1, input 1 = 3\s+∂f/∂q = 3 \+ 3 = 6$", line)
               for line in lines)
    assert sum(bool(re.search(r"q = x \+ y Σ\s+\(see above\)\s+contribution via t1, input 2 = 3$", line))
               for line in lines) == 1
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



# ----- the tree teaches the branch lesson (issue 11, item 5) -----

BRANCH_SEEDS = [e for e in SEEDS if "branches" in e]  # published per-path contributions
# The same programs with each use of the shared variable given its own name: the partial of f in
# one copy is what flows along that one edge, measured here by finite differences of `eval`.
SPLIT_PROGRAMS = {
    "branch-y": ("y", "a = x + ya; b = max(yb, z); f = a * b", ["ya", "yb"]),
    "branch-node": ("x", "y1 = 2*xa; y2 = xb^2; z = y1 + y2", ["xa", "xb"]),
}
GUIDES = str.maketrans("│├└─", "    ")


def words(tree: str) -> str:
    """A tree as one line of words: guides and line breaks gone, so a node's stacked lines read on."""
    return " ".join(tree.translate(GUIDES).split())


def run_tree(*args: str, env: dict) -> str:
    run = run_process("graph", *args, env=env)
    assert run.code == 0, run.stderr
    return run.stdout


def gradient_matches(text: str, output: str) -> list[tuple[str, str, list[float]]]:
    """(name, ∂output/∂name as printed, the terms of its sum when it is a branch node) for each
    gradient in a tree's words."""
    number = r"(\(?-?[\d.e+-]+\)?|nan|-?inf)"
    found = []
    for match in re.finditer(rf"∂{re.escape(output)}/∂(\w+) = {number}((?: \+ {number})*)(?: = {number})?(?= |$)", text):
        name, first, rest, total = match.group(1), match.group(2), match.group(3), match.group(5)
        if total is None:
            found.append((name, first, []))
        else:
            found.append((name, total, [float(term.strip("()")) for term in [first, *re.findall(r"\+ (\S+)", rest)]]))
    return found


def gradients_in_tree(text: str, output: str) -> dict[str, tuple[float, list[float]]]:
    """name -> (∂output/∂name, the terms of its sum when it is a branch node)."""
    return {name: (float(total), terms) for name, total, terms in gradient_matches(text, output)}


def contributions_in_tree(text: str, name: str) -> list[float]:
    """The contributions shown on the edges into `name`, in the order of the tree."""
    return [float(value) for value in
            re.findall(rf"\b{re.escape(name)} Σ (?:\S+|\(see above\)) contribution via \w+(?:, input \d+)? = (\S+)", text)]


def finite_difference(program: str, at: dict, name: str, step: float = 1e-6) -> float:
    """(f(name + h) − f(name − h)) / 2h through `gradcli eval`: a witness that shares no code with the sweep."""
    def value(shift: float) -> float:
        point = {**at, name: at[name] + shift}
        run = run_cli("eval", program, "--at", at_option(point), "--json")
        assert run.code == 0, run.stderr
        return run.json()["value"]
    return (value(step) - value(-step)) / (2 * step)


@pytest.mark.parametrize("example", BRANCH_SEEDS, ids=[e["name"] for e in BRANCH_SEEDS])
def test_the_tree_marks_a_branch_node_and_shows_each_edge_contribution(example):
    at = at_option(example["at"])
    text = words(graph_output(example["expression"], "--at", at))
    (shared, expected), = example["branches"].items()
    # Σ on every use, one contribution per edge: the published path numbers, in the order of the tree.
    assert contributions_in_tree(text, shared) == expected
    assert text.count(f"{shared} Σ (see above)") == len(expected) - 1  # the total stands once
    output = run_cli("grad", example["expression"], "--at", at, "--json").json()["output"]
    total, terms = gradients_in_tree(text, output)[shared]
    assert terms == expected and total == pytest.approx(sum(expected))  # the edges into a node sum to its gradient
    assert total == pytest.approx(finite_difference(example["expression"], example["at"], shared), rel=1e-6)
    # Each edge alone: the program with the shared variable split into one copy per use.
    _, split, copies = SPLIT_PROGRAMS[example["name"]]
    split_at = {**{k: v for k, v in example["at"].items() if k != shared},
                **{copy: example["at"][shared] for copy in copies}}
    assert [finite_difference(split, split_at, copy) for copy in copies] == pytest.approx(expected, rel=1e-6)
    assert "Σ: a node used more than once" in text


def test_the_branch_example_file_reads_as_the_issue_asks():
    lines = graph_output("--file", str(REPO / "examples" / "cs224n-branch.grad"), "--at", "x=1,y=2,z=0").splitlines()
    assert re.fullmatch(r"│   └── y Σ   2   contribution via a = 2   ∂f/∂y = 2 \+ 3 = 5", lines[3])
    assert re.fullmatch(r"    ├── y Σ   \(see above\)   contribution via b = 3", lines[5])


def test_a_node_used_once_has_no_sigma_and_its_gradient_is_what_its_edge_brings():
    text = graph_output("sigmoid(w0*x0 + w1*x1 + w2)", "--at", "w0=2,x0=-1,w1=-3,x1=-2,w2=-3")
    assert "Σ" not in text and "contribution" not in text
    dot = parse_dot(graph_output("sigmoid(w0*x0 + w1*x1 + w2)", "--at", "w0=2,x0=-1,w1=-3,x1=-2,w2=-3",
                                 "--format", "dot", "--precision", "6"))
    names = first_lines({node: attrs["label"] for node, attrs in dot["nodes"].items()})
    shown = gradients_in_tree(words(text), "f")
    for tail, _, attrs in dot["edges"]:
        assert shown[names[tail]][0] == float(attrs["label"])


def test_a_node_used_many_times_gives_its_total_and_the_count_of_its_contributions():
    for choose, words_of_sum in (([], "(the sum of 6 contributions)"), (["--lang", "ja"], "（6 個の寄与の合計）")):
        text = words(graph_output("x + 2*x + 3*x + 4*x + 5*x + 6*x", "--at", "x=1", *choose))
        assert f"∂f/∂x = 21 {words_of_sum}" in text  # 1 + 2 + ... + 6
    english = words(graph_output("x + 2*x + 3*x + 4*x + 5*x + 6*x", "--at", "x=1"))
    assert sorted(contributions_in_tree(english, "x")) == [1, 2, 3, 4, 5, 6]


# ----- graph --json -----


def strict_json(text: str):
    """JSON as RFC 8259 has it: NaN and Infinity are not numbers there."""
    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("example", SEEDS, ids=[e["name"] for e in SEEDS])
def test_json_graph_has_values_gradients_and_contributions_that_sum(example):
    document = strict_json(graph_output(example["expression"], "--at", at_option(example["at"]), "--json"))
    nodes = {node["id"]: node for node in document["nodes"]}
    assert [edge["input"] for edge in document["edges"]] == [j for node in document["nodes"] for j in node["inputs"]]
    by_label = {node["label"]: node for node in document["nodes"] if node["op"] == "var"}
    for name, gradient in example["gradient"].items():
        assert by_label[name]["grad"] == pytest.approx(gradient, rel=1e-10, abs=1e-12)
        assert by_label[name]["value"] == pytest.approx(example["at"][name])
    assert nodes[f"n{len(nodes) - 1}"]["value"] == pytest.approx(example["value"], rel=1e-10)
    for node in document["nodes"]:  # gradcli's own identity: what flows into a node along its edges is its gradient
        flowing = [edge["contribution"] for edge in document["edges"] if edge["input"] == node["id"]]
        if node["label"] == document["output"]:
            assert node["grad"] == 1 and flowing == []
        elif node["op"] != "const":
            assert node["grad"] == pytest.approx(sum(flowing), rel=1e-12, abs=1e-15)
    for shared, expected in example.get("branches", {}).items():
        assert [edge["contribution"] for edge in document["edges"]
                if edge["input"] == by_label[shared]["id"]] == pytest.approx(expected)
    assert document["gradient"] == pytest.approx(example["gradient"], rel=1e-10, abs=1e-12)


def test_json_graph_without_a_point_is_the_structure_and_follows_the_json_conventions():
    document = strict_json(graph_output("q = x + y; f = q * 2", "--json"))
    assert document["version"] >= 1 and document["output"] == "f" and "at" not in document
    assert [(node["label"], node["op"], node["inputs"]) for node in document["nodes"]] == [
        ("x", "var", []), ("y", "var", []), ("q", "add", ["n0", "n1"]), ("2", "const", []), ("f", "mul", ["n2", "n3"])]
    assert all(set(node) == {"id", "label", "op", "inputs"} for node in document["nodes"])
    assert all("contribution" not in edge for edge in document["edges"])
    # No gradient flows into a constant: null, not a made-up 0; nan and inf are strings.
    with_point = strict_json(graph_output("q = x + y; f = q * 2", "--at", "x=1,y=2", "--json"))
    assert with_point["nodes"][3]["grad"] is None and with_point["edges"][3]["contribution"] is None
    kink = strict_json(graph_output("sqrt(x)*x", "--at", "x=0", "--json"))
    assert {edge["contribution"] for edge in kink["edges"]} & {"nan", "inf"}


def test_json_goes_without_dot_and_mermaid():
    for fmt in ("dot", "mermaid"):
        run = run_cli("graph", "x*y", "--json", "--format", fmt)
        assert run.code == 2 and "--json" in run.stderr and run.stdout == ""


# ----- Japanese (issue 11, item 4) -----

ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")


def english_words(text: str, program_words: set[str]) -> set[str]:
    return set(ENGLISH_WORD.findall(text)) - program_words


@pytest.mark.parametrize("lang, contribution, via", [
    ("en", r"contribution (via .+?) = (\S+)", r"(\S+) \((via [^)]+)\)"),
    ("ja", r"(\S+(?: の入力 \d+)? 経由)の寄与 = (\S+)", r"(\S+) \(([^)]+経由)\)"),
], ids=["en", "ja"])
@pytest.mark.parametrize("program, at", [("x*x", "x=3"), ("a = x + y; b = max(y, z); f = a*b", "x=1,y=2,z=0"),
                                         ("q = x*y; f = q*q + sin(q)", "x=1,y=2")], ids=["x*x", "branch", "both"])
def test_the_tree_and_the_trace_say_where_a_contribution_comes_from_in_the_same_words(lang, contribution, via,
                                                                                    program, at):
    """`via a`, or `via t1, input 2` when one step takes the node twice: the tree's edges and the trace's branch
    sums name each contribution alike, in either language."""
    tree = run_cli("graph", program, "--at", at, "--lang", lang, env={"COLUMNS": "200"}).stdout
    trace = run_cli("trace", program, "--at", at, "--lang", lang, env={"COLUMNS": "200"}).stdout
    in_tree = sorted((words, value) for words, value in re.findall(contribution, tree))
    in_trace = sorted((words, value.strip("()")) for value, words in re.findall(via, trace))  # a negative term: (-1)
    assert in_tree and in_tree == in_trace


@pytest.mark.parametrize("choose", [["--lang", "ja"], []], ids=["--lang ja", "GRADCLI_LANG=ja"])
def test_the_tree_speaks_japanese(choose):
    env = None if choose else {"GRADCLI_LANG": "ja"}
    branch = run_cli("graph", "--file", str(REPO / "examples" / "cs224n-branch.grad"), "--at", "x=1,y=2,z=0",
                     *choose, env=env)
    assert branch.code == 0
    assert english_words(branch.stdout, {"max"}) == set()
    assert "a 経由の寄与 = 2" in branch.stdout and "（上を参照）" in branch.stdout and "分岐ノード" in branch.stdout
    twice = run_cli("graph", "x*x", "--at", "x=3", *choose, env=env).stdout
    assert "f の入力 2 経由の寄与 = 3" in twice and english_words(twice, set()) == set()
    chain = "; ".join(["q0 = x"] + [f"q{k} = sin(q{k - 1})" for k in range(1, 12)])
    narrow = run_cli("graph", chain, "--at", "x=1", *choose, env={**(env or {}), "COLUMNS": "40"}).stdout
    assert "（入力は下に続く）" in narrow and "（続き）" in narrow and english_words(narrow, {"sin"}) == set()
    for columns in ("40", "60"):  # Japanese is two columns a character
        assert_fits(run_cli("graph", "--file", str(REPO / "examples" / "softmax-xent.grad"), "--at",
                            "z1=1,z2=2,z3=0.5,y1=0,y2=1,y3=0", *choose, env={**(env or {}), "COLUMNS": columns}).stdout,
                    int(columns))
    deep = "; ".join(["q0 = x"] + [f"q{k} = sin(q{k - 1})" for k in range(1, 400)])
    cut = run_cli("graph", deep, *choose, env=env).stdout
    assert "打ち切り" in cut and english_words(cut, {"sin", "format", "dot", "mermaid"}) == set()
    mermaid = run_cli("graph", "x*y", "--format", "mermaid", *choose, env=env).stdout
    assert english_words(mermaid, {"flowchart", "LR", "gradcli", "br"}) == set()


def test_the_english_tree_has_the_words_the_japanese_test_looks_for():
    # So the test above can fail: the same outputs in English are full of English words.
    text = graph_output("--file", str(REPO / "examples" / "cs224n-branch.grad"), "--at", "x=1,y=2,z=0")
    assert {"contribution", "via", "see", "above"} <= english_words(text, {"max"})


# ----- narrow terminals (issue 11, item 6) -----

def assert_fits(stdout: str, columns: int) -> None:
    """No line wider than the terminal, and no number parted from the `=` or `+` before it."""
    for line in stdout.splitlines():
        assert cell_len(line) <= columns, line
        assert not re.search(r"[=+]\s*$", line), line


WIDE_EXAMPLES = [e for e in SEEDS if e["name"] in ("softmax-xent", "binary-xent", "branch-y", "neuron-sigmoid-gate")]


@pytest.mark.parametrize("columns", [40, 60, 80, 120])
@pytest.mark.parametrize("example", WIDE_EXAMPLES, ids=[e["name"] for e in WIDE_EXAMPLES])
def test_the_tree_reads_at_every_width(example, columns):
    at = at_option(example["at"])
    output = run_cli("grad", example["expression"], "--at", at, "--json").json()["output"]
    stdout = run_tree(example["expression"], "--at", at, env={"COLUMNS": str(columns)})
    assert_fits(stdout, columns)
    text = words(stdout)
    shown = gradients_in_tree(text, output)
    for name, gradient in example["gradient"].items():
        total, terms = shown[name]
        assert total == pytest.approx(gradient, rel=1e-5, abs=1e-9)
        if terms:
            assert sum(terms) == pytest.approx(total, rel=1e-5, abs=1e-6)
    # Every gradient of every node whole, next to its name: digit for digit the trace's number.
    backward = run_cli("trace", example["expression"], "--at", at, "--json").json()["trace"]["backward"]
    grads = {row["node"]: row["grad"] for row in backward}
    tree = text.partition("Σ: ")[0]  # not the legend's ∂f/∂node
    totals = gradient_matches(tree, output)
    assert len(totals) == tree.count(f"∂{output}/∂") and {name for name, _, _ in totals} == set(grads)
    for name, total, _ in totals:
        assert total == format_value(grads[name], 6), name
    for name, expected in example.get("branches", {}).items():
        assert contributions_in_tree(text, name) == expected
    assert text.count("(inputs below)") == text.count("(continued)")


def test_a_deep_chain_at_40_columns_continues_below_instead_of_crushing():
    chain = "; ".join(["q0 = x"] + [f"q{k} = sin(q{k - 1})" for k in range(1, 20)])
    stdout = run_tree(chain, "--at", "x=1", env={"COLUMNS": "40"})
    assert_fits(stdout, 40)
    text = words(stdout)
    for k in range(1, 20):  # every node once with its whole formula
        assert len(re.findall(rf"\bq{k} = sin\(q{k - 1}\) -?\d", text)) == 1
    assert math.isclose(gradients_in_tree(text, "q19")["x"][0],
                        finite_difference(chain, {"x": 1.0}, "x"), rel_tol=1e-5)
