"""The step-by-step backprop trace as plain data: forward steps, backward rows, branch sums.

Built from a Result differentiated with `record=True` (whose edges the reverse sweep wrote),
in one loop over the nodes and one over the edges. Renderers (render/trace.py, and the JSON
object below) only read it, so the screen and the JSON always tell the same story.
"""

from __future__ import annotations

from typing import NamedTuple

from .api import Result
from .engine import Edge, Note
from .graph import Graph
from .numbers import json_number
from .ops import CONSTANT, VARIABLE


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

    __slots__ = ("result", "labels", "backward", "branches", "branch_nodes")

    def __init__(self, result: Result, labels: list[str], backward: list[BackwardRow], branches: list[Branch]):
        self.result = result
        self.labels = labels
        self.backward = backward  # from the output back
        self.branches = branches  # in evaluation order
        self.branch_nodes = {branch.node for branch in branches}

    @property
    def graph(self) -> Graph:
        return self.result.graph

    @property
    def output(self) -> str:
        """The name of the output, the `f` of ∂f/∂node."""
        return self.result.output

    def op_name(self, node: int) -> str:
        """The op's stable name, or `var`/`const` for a leaf."""
        op = self.graph.ops[node]
        if op is not None:
            return op.name
        return CONSTANT if node in self.graph.constants else VARIABLE

    def formula(self, node: int) -> str:
        """`t1 * z` for an operation node, the label itself for a leaf."""
        if self.graph.ops[node] is None:
            return self.labels[node]
        return self.graph.formula(node, self.labels)


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

    reached = bytearray(n)  # the sweep passed gradient to it (or it is the output)
    output = graph.output
    reached[output] = bool(edges_of) or graph.is_variable(output)
    for node in range(n):
        if incoming[node]:
            reached[node] = 1
    backward: list[BackwardRow] = []
    grads = result.grads
    for node in range(n - 1, -1, -1):
        if reached[node]:
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
            {"node": labels[node], "op": trace.op_name(node), "inputs": [labels[j] for j in graph.inputs[node]],
             "value": json_number(values[node])}
            for node in range(len(graph.ops))
        ],
        "backward": [
            {
                "node": labels[row.node],
                "grad": json_number(row.grad),
                "edges": [
                    {"input": labels[edge.input], "local": json_number(edge.local),
                     "contribution": json_number(edge.contribution)}
                    for edge in row.edges
                ],
            }
            for row in trace.backward
        ],
        "branches": [
            {
                "node": labels[branch.node],
                "terms": [{"from": labels[edge.consumer], "contribution": json_number(edge.contribution)}
                          for edge in branch.terms],
                "total": json_number(branch.total),
            }
            for branch in trace.branches
        ],
    }
