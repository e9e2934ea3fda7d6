"""The step-by-step backprop trace as plain data: forward steps, backward rows, branch sums.

Built from a Result differentiated with `record=True` (whose edges the reverse sweep wrote),
in one loop over the nodes and one over the edges. Renderers (render/trace.py, and the JSON
object below) only read it, so the screen and the JSON always tell the same story.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Callable, NamedTuple

from .api import Result
from .engine import Edge, Note
from .graph import Graph
from .formatting import format_value, json_value
from .ops import Op


class BackwardRow(NamedTuple):
    """One node of the backward pass: its gradient (the upstream it passes on) and one edge per input.

    Variables the sweep reached have a row too, with no edges: their gradient is final there.
    """

    node: int
    grad: float
    edges: list[Edge]  # in input-slot order
    notes: list[Note]  # a kink or an infinite partial at this node


class Branch(NamedTuple):
    """A node that receives gradient along several edges: one term per edge, and their total."""

    node: int
    terms: list[Edge]  # consumers in evaluation order, then input slots
    total: float  # the node's gradient, as the reverse sweep accumulated it


class Trace:
    """Everything a trace shows, indexed by node; labels are the names the trace prints."""

    __slots__ = ("result", "labels", "backward", "branches", "branch_of", "reached")

    def __init__(self, result: Result, labels: list[str], backward: list[BackwardRow], branches: list[Branch]):
        self.result = result
        self.labels = labels
        self.backward = backward  # from the output back
        self.branches = branches  # in evaluation order
        self.branch_of = {branch.node: branch for branch in branches}
        # The nodes the sweep passed gradient to (each has a backward row): graph.reaching_output narrowed
        # to the partials taken (--wrt, --data), so these are the nodes whose ∂f/∂node is shown.
        self.reached = {row.node for row in backward}

    @property
    def graph(self) -> Graph:
        return self.result.graph

    @property
    def output(self) -> str:
        """The name of the output, the `f` of ∂f/∂node."""
        return self.result.output

    def formula(self, node: int) -> str:
        """`t1 * z` for an operation node, the label itself for a leaf."""
        if self.graph.ops[node] is None:
            return self.labels[node]
        return self.graph.formula(node, self.labels)


_PLACEHOLDER = re.compile(r"(?<![A-Za-z0-9_])[ab](?![A-Za-z0-9_])")  # not the b of `abs`; `b²` is b


def local_formula(op: Op, slot: int, operands: list[str], shown: str | None = None) -> str:
    """The op table's formula of ∂out/∂input `slot` in the program's names: `z (the other input)`, not `b (...)`.

    a and b are the first and second inputs; for max and min, a is the input in question.
    `shown` is the formula already translated (--lang), else the table's own.
    """
    if shown is None:
        shown = op.shown(slot)
    names = {"a": operands[slot]} if op.arity is None else dict(zip("ab", operands))
    return _PLACEHOLDER.sub(lambda match: names.get(match.group(0), match.group(0)), shown)


# At a max/min tie the partial is not the table's "1 if a is the largest else 0" but the share each tied input
# gets: the formula shown must give the number beside it. Also max(x, x), whose two inputs are one node.
TIE_SHARE = {"max": "{share} ({count} inputs equal the largest)", "min": "{share} ({count} inputs equal the smallest)"}
_SUPERSCRIPTS = {2: "²", 3: "³"}


def power_rule(base: str, exponent_text: str, exponent: float) -> str:
    """∂(a^b)/∂a = b·a^(b-1) with the constant b put in, as a student writes it: 2·x, 3·x², 1, 0.5·x^-0.5."""
    if exponent in (0, 1):
        return format_value(exponent)
    power = exponent - 1
    if power == 1:
        term = base
    elif power in _SUPERSCRIPTS:
        term = base + _SUPERSCRIPTS[power]
    else:
        term = f"{base}^{format_value(power)}"
    return f"{exponent_text}·{term}"


def _number(graph: Graph, labels: list[str], node: int) -> tuple[str, float] | None:
    """A node's text and value when it is a number as typed: a constant, or minus one (the -1 of x^-1)."""
    if node in graph.constants:
        return labels[node], graph.constants[node][0]
    op = graph.ops[node]
    if op is not None and op.name == "neg" and graph.inputs[node][0] in graph.constants:
        value, text = graph.constants[graph.inputs[node][0]]
        return "-" + text, -value
    return None


def edge_formula(graph: Graph, labels: list[str], consumer: int, slot: int, values: list[float] | None = None,
                 translate: Callable[[str], str] | None = None) -> str:
    """The local partial of one edge as it holds here, by the labels traces print: a constant exponent put
    in (`2·x`, not `b·a^(b-1)`), and, given the values, a max/min tie's share (`½ (2 inputs equal the largest)`).

    `translate` gives the op table's words in the chosen language.
    """
    op = graph.ops[consumer]
    inputs = graph.inputs[consumer]
    translate = translate or (lambda text: text)
    exponent = _number(graph, labels, inputs[1]) if op.name == "pow" and slot == 0 else None
    if exponent is not None:
        return power_rule(labels[inputs[0]], *exponent)
    if op.name in TIE_SHARE and values is not None and values[inputs[slot]] == values[consumer]:
        count = sum(values[j] == values[consumer] for j in inputs)
        if count > 1:
            share = "½" if count == 2 else f"1/{count}"
            return translate(TIE_SHARE[op.name]).format(share=share, count=count)
    return local_formula(op, slot, [labels[j] for j in inputs], translate(op.shown(slot)))


_STATEMENT_PIECES = re.compile(r"#[^\n]*|[();\n]|[^#();\n]+")
_SPACES = re.compile(r"\s+")


def program_title(source: str, limit: int) -> str:
    """The program as typed, on one line for a title: comments dropped, statements joined by `; `.

    The learner's own text reads better than Graph.program()'s fully parenthesised canon. A newline
    inside parentheses continues a statement, as in the parser. Stops past `limit` characters
    (the caller cuts there), so a huge program costs no more than a short one.
    """
    kinds = {"#": "#", "(": "(", ")": ")", ";": ";", "\n": "\n"}
    pieces = _STATEMENT_PIECES
    if not source.isascii():  # a full-width ＃ or （ counts as the parser sees it, after NFKC (and is kept as typed)
        for c in set(source):
            if not c.isascii() and unicodedata.normalize("NFKC", c) in ("#", "(", ")", ";"):
                kinds[c] = unicodedata.normalize("NFKC", c)
        special = re.escape("".join(c for c in kinds if c != "\n"))
        comment = re.escape("".join(c for c, kind in kinds.items() if kind == "#"))
        pieces = re.compile(f"[{comment}][^\\n]*|[{special}\\n]|[^{special}\\n]+")
    statements: list[str] = []
    current = ""  # the statement so far, runs of white space made one space
    depth = 0
    length = 0  # of the statements kept
    for match in pieces.finditer(source):
        piece = match.group(0)
        kind = kinds.get(piece[0])
        if kind == "#":
            continue
        if kind == ";" or (kind == "\n" and depth == 0):
            current = current.strip()
            if current:
                statements.append(current)
                length += len(current) + 2
            current = ""
            if length > limit:
                break
            continue
        if kind == "(":
            depth += 1
        elif kind == ")":
            depth = max(0, depth - 1)
        piece = _SPACES.sub(" ", piece)
        if piece.startswith(" ") and (not current or current.endswith(" ")):
            piece = piece[1:]
        current += piece
        if length + len(current) > limit:
            statements.append(current.strip())
            break
    else:
        if current.strip():
            statements.append(current.strip())
    title = "; ".join(statements)
    return "".join(c if c.isprintable() else " " for c in title)


def build_trace(result: Result) -> Trace:
    """The trace of a result computed with `differentiate(..., record=True)`."""
    graph = result.graph
    n = len(graph.ops)
    notes_at: dict[int, list[Note]] = {}
    for note in result.notes:
        notes_at.setdefault(note.node, []).append(note)

    # The sweep wrote each consumer's edges together, consumers from the output back.
    edges_of: dict[int, list[Edge]] = {}
    incoming = [0] * n
    for edge in result.edges:
        incoming[edge.input] += 1
        edges_of.setdefault(edge.consumer, []).append(edge)

    # A row for each node the sweep passed gradient to, and for the output when it passed any (or is a variable).
    output = graph.output
    output_row = bool(edges_of) or graph.is_variable(output)
    backward: list[BackwardRow] = []
    grads = result.grads
    for node in range(n - 1, -1, -1):
        if incoming[node] or (node == output and output_row):
            backward.append(BackwardRow(node, grads[node], edges_of.get(node, []), notes_at.get(node, [])))

    branch_terms: dict[int, list[Edge]] = {}
    for node in range(n):  # consumers in evaluation order, so `2 (via a) + 3 (via b)`
        for edge in edges_of.get(node, ()):
            if incoming[edge.input] > 1:
                branch_terms.setdefault(edge.input, []).append(edge)
    branches = [Branch(node, branch_terms[node], grads[node]) for node in sorted(branch_terms)]
    return Trace(result, graph.labels(), backward, branches)


def trace_object(trace: Trace) -> dict:
    """The `"trace"` member of `grad --trace --json`: forward, backward and branches."""
    graph = trace.graph
    labels = trace.labels
    values = trace.result.values
    return {
        "forward": [
            {"node": labels[node], "op": graph.op_name(node), "inputs": [labels[j] for j in graph.inputs[node]],
             "value": json_value(values[node])}
            for node in range(len(graph.ops))
        ],
        "backward": [
            {
                "node": labels[row.node],
                "grad": json_value(row.grad),
                "edges": [
                    {"input": labels[edge.input], "local": json_value(edge.local),
                     "contribution": json_value(edge.contribution)}
                    for edge in row.edges
                ],
            }
            for row in trace.backward
        ],
        "branches": [
            {
                "node": labels[branch.node],
                "terms": [{"from": labels[edge.consumer], "contribution": json_value(edge.contribution)}
                          for edge in branch.terms],
                "total": json_value(branch.total),
            }
            for branch in trace.branches
        ],
    }
