"""The backprop trace of a program on vectors and matrices, as plain data (nothing is printed here).

What CS224N lecture 3 and Deep Learning from Scratch 5.6–5.7 teach, step by step: each node's
gradient δ = ∂L/∂node has the node's shape (the shape convention), and each edge passes on a
contribution computed by a rule in matrix form, `δ xᵀ` for the left factor of a product, `Wᵀ δ`
for the right one, `δ ⊙ f′(z)` for an elementwise f (whose Jacobian is diagonal), a sum over the
axes an input was broadcast along. Each step carries its dimension analysis (`2×1 · 1×3 = 2×3`)
and the check that the contribution has its input's shape.

The steps come from the array sweep itself, run once more with a record (array_engine), so the
numbers shown are the numbers computed. A local Jacobian is built only when asked
(`jacobians=True`), by applying the step's VJP rule to each basis vector of the output's shape.
"""

from __future__ import annotations

import re
from typing import Callable, NamedTuple

import numpy as np

from .api import Result
from .array_engine import ArrayEdge, array_vjp, backward_arrays, sum_to, summed_axes
from .engine import Note
from .graph import Graph
from .shapes import Shape, shape_text
from .trace import Trace, edge_formula, local_formula

MAX_JACOBIAN_SIDE = 6  # a local Jacobian is built for at most this many output and input entries
SHAPE_CONVENTION = ("shape convention: ∂{out}/∂X has the shape of X (its entry [i, j] is ∂{out}/∂X[i, j]), "
                    "so each contribution is checked against its input's shape")

# Why a rule looks as it does: shown under the first step that uses it (English; the renderer translates).
WHY = {
    "elementwise": "⊙ is the Hadamard (entrywise) product: {formula} works entry by entry, so its Jacobian is "
                   "diagonal, and δ times a diagonal matrix is δ ⊙ its diagonal",
    "broadcast": "{input} was broadcast from {small} to {large}: a broadcast forward is a sum backward",
    "matmul": "ᵀ (transpose): each entry of one factor meets a row or column of the other, and the transpose "
              "lines them up so that the gradient has the factor's shape",
    "sum": "every entry counts once in the sum, so each receives δ",
    "mean": "every entry counts 1/n in the mean, so each receives δ/n",
    "softmax": "softmax's Jacobian is diag({node}) − {node} {node}ᵀ (each output depends on every input); "
               "the rule applies it to δ without building it",
    "log_softmax": "log_softmax's Jacobian is I − 1 softmax({input})ᵀ (each output depends on every input); "
                   "the rule applies it to δ without building it",
    "transpose": "transposing δ puts each entry back where it came from",
    "index": "only the indexed entry was used: it receives δ, every other entry 0",
    "stack": "element {slot} of the list is row {slot} of {node}: it receives row {slot} of δ",
}
SUMMED = {"one": "sum over axis {axes} of {term}", "several": "sum over axes {axes} of {term}",
          "all": "sum of all entries of {term}"}
CROSS_ENTROPY = ("({function} then the cross-entropy: each entry collects a term from every output, and the "
                 "terms sum to this)")


class ForwardRow(NamedTuple):
    node: int
    label: str
    formula: str  # `W @ x`; the label itself for a leaf
    shape: Shape
    value: object


class LocalJacobian(NamedTuple):
    """∂output/∂input of one step, rows the output's entries and columns the input's (C order)."""

    matrix: np.ndarray
    product: np.ndarray  # the upstream, as a row, times the matrix: in the input's shape
    agrees: bool  # whether that product is the step's contribution (to rounding)


class Identity(NamedTuple):
    """What a step's contribution was checked to equal, in the program's names: `a - y`."""

    formula: str
    target: str  # the y of a - y


class Step(NamedTuple):
    """One edge of the backward pass: the rule, its dimension analysis and its numbers."""

    edge: TracedEdge
    rule: str  # "elementwise", or the array op's name ("matmul", "sum", "softmax", ...)
    formula: str  # the contribution in matrix form: `δ xᵀ`, `δ ⊙ σ(z)·(1 - σ(z))`, `sum over axis 0 of δ`
    product: str  # the shapes multiplied, ending with the contribution's: `2×1 · 1×3 = 2×3`
    summed: tuple[int, ...]  # the axes summed back to a broadcast input's shape
    why: tuple[str, str, dict] | None  # (key, English template, fields): why the rule looks so
    identity: Identity | None  # what the contribution turns out to be, checked numerically
    jacobian: LocalJacobian | None

    @property
    def shape_ok(self) -> bool:
        return np.shape(self.edge.contribution) == self.input_shape

    @property
    def input_shape(self) -> Shape:
        return self.edge.input_shape


class BackwardRow(NamedTuple):
    node: int
    grad: object  # δ, the node's gradient, in the node's shape
    steps: list[Step]  # in input-slot order
    notes: list[Note]


class Branch(NamedTuple):
    node: int
    terms: list[TracedEdge]  # consumers in evaluation order
    total: object  # the node's gradient: the sum of the terms


class ArrayTrace(Trace):
    """Everything the vector trace shows (the scalar Trace's fields, then the forward rows and shapes)."""

    __slots__ = ("forward", "shapes", "jacobians")

    def __init__(self, result: Result, labels: list[str], forward: list[ForwardRow], backward: list[BackwardRow],
                 branches: list[Branch], jacobians: bool = False):
        super().__init__(result, labels, backward, branches)
        self.forward, self.shapes = forward, result.shapes
        self.jacobians = jacobians  # whether local Jacobians were asked for (each step's is None when too large)


class TracedEdge(NamedTuple):
    """An ArrayEdge and its input's shape: what a Step stands on (its fields read like engine.Edge's)."""

    consumer: int
    slot: int
    input: int
    upstream: object
    local: object
    contribution: object
    unreduced: object
    input_shape: Shape


def build_array_trace(result: Result, jacobians: bool = False,
                      translate: Callable[[str], str] | None = None) -> ArrayTrace:
    """The trace of a result on the array path. The sweep runs again with a record, keeping every
    node's gradient; `translate` gives the op table's words in the chosen language."""
    graph, values, shapes = result.graph, result.values, result.shapes
    translate = translate or (lambda text: text)
    n = len(graph.ops)
    records: list[ArrayEdge] = []
    with np.errstate(all="ignore"):
        grads = backward_arrays(graph, values, shapes, result.sources, keep=range(n), record=records)
    labels = graph.labels()
    forward = [ForwardRow(node, labels[node], labels[node] if graph.ops[node] is None else graph.formula(node, labels),
                          shapes[node], values[node]) for node in range(n)]
    notes_at: dict[int, list[Note]] = {}
    for note in result.notes:
        notes_at.setdefault(note.node, []).append(note)
    steps_of: dict[int, list[Step]] = {}
    incoming = [0] * n
    consumers = _consumers(graph)
    for record in records:
        edge = TracedEdge(*record, input_shape=shapes[record.input])
        incoming[edge.input] += 1
        step = _step(graph, labels, values, shapes, edge, consumers, translate)
        if jacobians:
            step = step._replace(jacobian=local_jacobian(graph, values, shapes, edge))
        steps_of.setdefault(edge.consumer, []).append(step)
    output = graph.output
    with_output = bool(steps_of) or graph.is_variable(output)
    backward = [BackwardRow(node, grads[node], steps_of.get(node, []), notes_at.get(node, []))
                for node in range(n - 1, -1, -1) if incoming[node] or (node == output and with_output)]
    terms: dict[int, list[TracedEdge]] = {}
    for node in range(n):  # consumers in evaluation order
        for step in steps_of.get(node, ()):
            if incoming[step.edge.input] > 1:
                terms.setdefault(step.edge.input, []).append(step.edge)
    branches = [Branch(node, terms[node], grads[node]) for node in sorted(terms)]
    return ArrayTrace(result, labels, forward, backward, branches, jacobians)


def _consumers(graph: Graph) -> list[list[int]]:
    found: list[list[int]] = [[] for _ in graph.ops]
    for node, node_inputs in enumerate(graph.inputs):
        for j in node_inputs:
            found[j].append(node)
    return found


def _step(graph: Graph, labels: list[str], values: list, shapes: list[Shape], edge: TracedEdge,
          consumers: list[list[int]], translate: Callable[[str], str]) -> Step:
    op = graph.ops[edge.consumer]
    if op.elementwise:
        return _elementwise_step(graph, labels, shapes, edge, translate)
    node, slot = edge.consumer, edge.slot
    operands = [labels[j] for j in graph.inputs[node]]
    fields = {"node": labels[node], "input": labels[edge.input], "slot": slot}
    why = (op.name, WHY[op.name], fields) if op.name in WHY else None
    if op.name == "matmul":
        formula, product = _matmul_rule(slot, operands, shapes[graph.inputs[node][0]], shapes[graph.inputs[node][1]])
        why = why if "ᵀ" in formula else None
    else:
        formula = local_formula(op, slot, operands, translate(op.shown(slot)))
        formula = re.sub(r"(?<![A-Za-z0-9_])out(?![A-Za-z0-9_])", labels[node], formula)
        if op.name == "stack":
            formula = formula.replace(" i ", f" {slot} ")
        product = f"{shape_text(shapes[node])} → {shape_text(np.shape(edge.contribution))}"
    identity = _cross_entropy(graph, labels, values, edge, consumers) if op.name in ("softmax", "log_softmax") else None
    return Step(edge, op.name, formula, _words(product, translate), (), why, identity, None)


def _words(product: str, translate: Callable[[str], str]) -> str:
    """A dimension analysis in the chosen language (`scalar` is its one word)."""
    return product.replace("scalar", translate("scalar"))


def _elementwise_step(graph: Graph, labels: list[str], shapes: list[Shape], edge: TracedEdge,
                      translate: Callable[[str], str]) -> Step:
    """`δ ⊙ f′(z)`: the Hadamard product with the diagonal of the Jacobian, summed over broadcast axes."""
    node, local = edge.consumer, edge.local
    op = graph.ops[node]
    unit = type(local) is float and local in (1.0, -1.0)
    shown = edge_formula(graph, labels, node, edge.slot, None, translate)
    upstream_shape, local_shape = shapes[node], np.shape(local)
    arrays = bool(upstream_shape) and bool(local_shape)
    if unit:
        term = "δ" if local == 1.0 else "-δ"
        product = shape_text(upstream_shape)
    else:
        term = f"δ {'⊙' if arrays else '×'} {_grouped(shown)}"
        product = f"{shape_text(upstream_shape)} {'⊙' if arrays else '×'} {shape_text(local_shape)}"
    unreduced_shape = np.shape(edge.contribution if edge.unreduced is None else edge.unreduced)
    if not unit:
        product += f" = {shape_text(unreduced_shape)}"
    summed: tuple[int, ...] = ()
    why = None if unit or not arrays else ("elementwise", WHY["elementwise"],
                                           {"formula": graph.formula(node, labels)})
    if edge.unreduced is not None:
        summed = summed_axes(unreduced_shape, edge.input_shape)
        key = "all" if not edge.input_shape else "one" if len(summed) == 1 else "several"
        term = translate(SUMMED[key]).format(axes=", ".join(map(str, summed)), term=term)
        product += f", Σ → {shape_text(edge.input_shape)}"
        why = ("broadcast", WHY["broadcast"], {"input": labels[edge.input], "small": shape_text(edge.input_shape),
                                               "large": shape_text(unreduced_shape)})
    return Step(edge, "elementwise", term, _words(product, translate), summed, why, None, None)


def _grouped(text: str) -> str:
    """A factor in parentheses when it has a space outside any: `(1 if z > 0 else 0)`, not `σ(z)·(1 - σ(z))`."""
    depth = 0
    for character in text:
        depth += (character == "(") - (character == ")")
        if character == " " and depth == 0:
            return f"({text})"
    return text


def _matmul_rule(slot: int, operands: list[str], a: Shape, b: Shape) -> tuple[str, str]:
    """The matrix form and the dimension analysis of a @ b's gradient with respect to one factor,
    for the four cases of NumPy's matmul on vectors and matrices (δ has the product's shape)."""
    A, B = operands
    if len(a) == 1 and len(b) == 1:  # u @ h, a number: δ times the other vector
        (n,) = a
        return (f"δ {B}", f"scalar · {n} = {n}") if slot == 0 else (f"δ {A}", f"scalar · {n} = {n}")
    if len(b) == 1:  # W @ x: δ has W's rows
        m, n = a
        return (f"δ {B}ᵀ", f"{m}×1 · 1×{n} = {m}×{n}") if slot == 0 else (f"{A}ᵀ δ", f"{n}×{m} · {m} = {n}")
    if len(a) == 1:  # x @ W: δ has W's columns
        n, p = b
        return (f"{B} δ", f"{n}×{p} · {p} = {n}") if slot == 0 else (f"{A} δᵀ", f"{n}×1 · 1×{p} = {n}×{p}")
    (m, n), (_, p) = a, b
    return (f"δ {B}ᵀ", f"{m}×{p} · {p}×{n} = {m}×{n}") if slot == 0 else (f"{A}ᵀ δ", f"{n}×{m} · {m}×{p} = {n}×{p}")


def _cross_entropy(graph: Graph, labels: list[str], values: list, edge: TracedEdge,
                   consumers: list[list[int]]) -> Identity | None:
    """`a - y` (or `(softmax(Y) - T)/2`) when a softmax or log_softmax feeds `y * log(...)` and the
    contribution is that, to rounding: where ∂L/∂z = a − y comes from in the cross-entropy."""
    node = edge.consumer
    op = graph.ops[node]
    probabilities, text = (values[node], labels[node]) if op.name == "softmax" else \
        (np.exp(values[node]), f"softmax({labels[edge.input]})")
    logs = [c for c in consumers[node] if graph.ops[c].name == "log"] if op.name == "softmax" else [node]
    for log_node in logs:
        for product in consumers[log_node]:
            if graph.ops[product].name != "mul":
                continue
            other = next(j for j in graph.inputs[product] if j != log_node) if len(set(graph.inputs[product])) == 2 \
                else None
            if other is None:
                continue
            difference = probabilities - values[other]
            scale = _common_scale(edge.contribution, difference)
            if scale is None:
                continue
            core = f"{text} - {labels[other]}"
            inverse = 1 / scale
            if scale == 1:
                formula = core
            elif abs(inverse - round(inverse)) < 1e-9 * abs(inverse):
                formula = f"({core})/{round(inverse)}"
            else:
                formula = f"{scale:.6g}·({core})"
            return Identity(formula, labels[other])
    return None


def _common_scale(contribution, difference) -> float | None:
    """c with contribution = c · difference entry by entry (to rounding), else None."""
    difference = np.broadcast_to(difference, np.shape(contribution))
    largest = np.max(np.abs(difference))
    if largest == 0:
        return None
    pivot = np.unravel_index(np.argmax(np.abs(difference)), np.shape(difference))
    scale = float(np.asarray(contribution)[pivot] / difference[pivot])
    if not np.allclose(contribution, scale * difference, rtol=1e-9, atol=1e-12 * largest * abs(scale)):
        return None
    return 1.0 if abs(scale - 1) < 1e-12 else scale


def local_jacobian(graph: Graph, values: list, shapes: list[Shape], edge) -> LocalJacobian | None:
    """The explicit ∂output/∂input of a step (None above MAX_JACOBIAN_SIDE entries a side): its VJP
    rule applied to each basis vector of the output's shape gives one row."""
    node, slot = edge.consumer, edge.slot
    out_shape, in_shape = shapes[node], shapes[edge.input]
    rows, columns = int(np.prod(out_shape)), int(np.prod(in_shape))
    if rows > MAX_JACOBIAN_SIDE or columns > MAX_JACOBIAN_SIDE:
        return None
    op = graph.ops[node]
    arguments = [values[j] for j in graph.inputs[node]]
    keywords = graph.attributes.get(node)
    matrix = np.empty((rows, columns))
    for k in range(rows):
        basis = np.zeros(out_shape)
        basis.flat[k] = 1.0
        if not out_shape:
            basis = 1.0
        if op.elementwise:
            row = sum_to(basis * edge.local, in_shape)
        else:
            row = array_vjp(op, slot, basis, values[node], arguments, keywords)
        matrix[k] = np.ravel(row)
    product = (np.ravel(edge.upstream) @ matrix).reshape(in_shape)
    contribution = np.asarray(edge.contribution, dtype=float)
    scale = max(1.0, float(np.max(np.abs(contribution), initial=0.0)))
    agrees = bool(np.allclose(product, contribution, rtol=1e-10, atol=1e-13 * scale))
    return LocalJacobian(matrix, product, agrees)
