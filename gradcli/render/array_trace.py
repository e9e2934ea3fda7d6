"""The backprop trace of vectors and matrices for the terminal, and its JSON.

The text reads like CS224N lecture 3: the shape convention stated once, then the forward pass
with each node's shape, then from the output back each node's upstream gradient δ and, per edge,
the rule in matrix form, its dimension analysis (`2×1 · 1×3 = 2×3: the shape of W ✓`) and its
numbers; why a rule looks as it does (⊙ and a diagonal Jacobian, a transpose, a broadcast's sum)
is said under the first step that uses it. A value too wide for the line is summarised (shape,
corner entries, norm), never wrapped into a wall of digits; `full` prints it whole in a block.

JSON (`trace --json`, `grad --trace --json` on vectors and matrices): the scalar trace's "trace"
member, extended. Values are numbers for shape () and nested lists otherwise; shapes are lists
of sizes ([] for a number).
  shape_convention  the sentence that says ∂L/∂X has X's shape
  forward   [{node, op, inputs, shape, value}] every node in evaluation order
  backward  [{node, shape, grad, edges}] from the output back; grad is δ = ∂L/∂node; each edge
            {input, slot, rule ("elementwise" or the array op's name: "matmul", "sum", ...),
             formula (matrix form, δ the node's grad: "δ xᵀ", "δ ⊙ σ(z)·(1 - σ(z))"),
             shapes (the dimension analysis, "2×1 · 1×3 = 2×3"), shape, input_shape,
             shape_check (shape == input_shape), local (an elementwise op's f′, else null),
             unreduced (δ ⊙ f′ before the sum over a broadcast input's axes, else null),
             summed_axes, contribution, why (null or a sentence), identity (null, or what the
             contribution was checked to equal: "a - y")}
            and with --jacobians "jacobian": null (more than 6 entries a side) or
            {matrix (rows: the output's entries, columns: the input's, C order),
             upstream_times_jacobian (in the input's shape), equals_contribution}
  branches  [{node, shape, terms: [{from, slot, contribution}], total}] nodes used more than once
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from rich.cells import cell_len
from rich.console import Group
from rich.panel import Panel
from rich.text import Text

from ..array_trace import CROSS_ENTROPY, SHAPE_CONVENTION, ArrayTrace, BackwardRow, Step, build_array_trace
from ..formatting import array_summary, format_array, format_value, grid_lines, json_value
from ..i18n import message, translator
from ..shapes import element_text, shape_text
from .arrays import _block, array_gradient_table
from .text import GRAD, HEADING, LEGEND, VALUE, Columns, gap_line, shown_rows
from .trace import GATE, KINK, SUM, _cut, _heading, branch_lines, trace_heading

STEP_INDENT = 7  # where a step's second and later lines start, under its formula
MAX_EXPANDED = 4  # a softmax Jacobian of at most this many rows is also shown summed entry by entry
BELOW = "↓ below"

DERIVATIONS = {  # where ∂L/∂z = a − y comes from, entry by entry (shown with --jacobians)
    "softmax": "Σᵢ δ[i] {a}[i] (1[i = j] − {a}[j]) with δ[i] = −{y}[i]/{a}[i]: −{y}[j] + {a}[j] Σᵢ {y}[i] "
               "= {a}[j] − {y}[j], as Σ {y} = 1",
    "log_softmax": "Σᵢ δ[i] (1[i = j] − softmax({z})[j]) = δ[j] − softmax({z})[j] Σᵢ δ[i]: with δ "
                   "proportional to −{y} and Σ {y} = 1 per row, softmax({z}) − {y} (times the scale)",
}


def array_trace_printer(result, precision: int, max_rows: int | None, jacobians: bool = False, full: bool = False,
                        gradient: bool = False):
    """A function that prints the vector trace on a console, or (given None) returns its JSON
    member: cli.output.trace_printer's contract, for a result on the array path."""

    def emit(screen):
        if screen is None:
            return array_trace_object(build_array_trace(result, jacobians))
        t = translator()
        trace = build_array_trace(result, jacobians, t)
        screen.print(array_trace_view(trace, t, precision, max_rows, screen.width, full, gradient))
        if not gradient:
            screen.print()
        return None

    return emit


# ----- text -----


def array_trace_view(trace: ArrayTrace, t: Callable[[str], str], precision: int = 6, max_rows: int | None = None,
                     width: int = 80, full: bool = False, gradient: bool = True) -> Group:
    """The whole trace: heading, shape convention, forward pass, backward pass, branch sums, gradient."""
    parts = [
        trace_heading(trace, t, precision, width),
        Text(),
        _heading("", t(SHAPE_CONVENTION).format(out=trace.output)),
        Text(),
        _heading(t("Forward pass"), t("each node's shape and value, inputs first")),
        *forward_view(trace, t, precision, max_rows, width, full),
        Text(),
        _heading(t("Backward pass"), t("from the output back: δ = ∂{out}/∂node, the upstream gradient, in the "
                                       "node's shape; each edge applies its rule to δ").format(out=trace.output)),
    ]
    if trace.branches:
        parts.append(_heading("", t("Σ marks a branch node: its contributions are summed under Branch nodes")))
    parts += [backward_view(trace, t, precision, max_rows, width, full), Text(), branch_view(trace, t, precision,
                                                                                             max_rows, width)]
    if gradient:
        parts += [Text(), Text(t("Gradient"), style=HEADING),
                  array_gradient_table(trace.result, None, precision, t, full)]
    return Group(*parts)


def _fitted(value, precision: int, room: int, full: bool = False) -> str | None:
    """A value as one line of at most `room` cells: whole, else summarised; None when `full` asks
    for it whole and it does not fit (the caller prints it in a block)."""
    text = format_array(value, precision, full) if type(value) is not float else format_value(value, precision)
    if cell_len(text) <= room or type(value) is float or value.ndim == 0:
        return text
    if full:
        return None
    summary = array_summary(value, precision)
    return summary if cell_len(summary) <= room else _compact(value, precision)


def _compact(value, precision: int) -> str:
    """`[0, 0] = 0.1 … [9, 9] = -2, ‖ ‖ = 12.5`: the corners and the norm, for a narrow cell whose
    row already gives the shape."""
    first, last = (0,) * value.ndim, tuple(n - 1 for n in value.shape)
    norm = float(np.linalg.norm(value.ravel())) if np.isfinite(value).all() else float("nan")
    return (f"[{', '.join(map(str, first))}] = {format_value(float(value[first]), precision)} … "
            f"[{', '.join(map(str, last))}] = {format_value(float(value[last]), precision)}, "
            f"‖ ‖ = {format_value(norm, precision)}")


def forward_view(trace: ArrayTrace, t: Callable[[str], str], precision: int, max_rows: int | None, width: int,
                 full: bool) -> list:
    """One row per step: step, node, operation, shape, value (a value too wide is summarised)."""
    graph = trace.graph
    steps = [row for row in trace.forward if row.node not in graph.constants or row.node == graph.output]
    cells = []
    for row in steps:
        operation = (t("constant") if row.node in graph.constants else t("variable")) if graph.ops[row.node] is None \
            else _cut(row.formula)
        cells.append((row, operation, t(shape_text(row.shape))))
    headings = [t("step"), t("node"), t("operation"), t("shape"), t("value")]
    widths = [max(cell_len(headings[0]), len(str(len(steps)))),
              *(max(cell_len(cell) for cell in [heading, *column]) for heading, column in zip(
                  headings[1:4], ([row.label for row, _, _ in cells], [op for _, op, _ in cells],
                                  [shape for _, _, shape in cells])))]
    room = max(20, width - 1 - sum(widths) - 2 * len(widths))  # the value's: after the other columns and gaps
    columns = Columns("><<<<", indent=1, lead=2)
    columns.row(*((heading, HEADING) for heading in headings))
    blocks = []
    for index in shown_rows(len(cells), max_rows):
        if isinstance(index, range):
            columns.line(gap_line(t, len(index), "forward steps", str(index[0] + 1), str(index[-1] + 1), 1))
            continue
        row, operation, shape = cells[index]
        value = _fitted(row.value, precision, room, full)
        if value is None:
            blocks.append(_block(f"{row.label}  ({shape_text(row.shape)})", row.value, precision, VALUE))
            value = t(BELOW)
        columns.row(str(index + 1), row.label, operation, shape, (value, VALUE))
    return [columns, *blocks]


def backward_view(trace: ArrayTrace, t: Callable[[str], str], precision: int, max_rows: int | None, width: int,
                  full: bool) -> Columns:
    """From the output back: each node's δ, then for each edge its rule, its shapes and its numbers."""
    labels = trace.labels
    rows = [row for row in trace.backward if row.steps]
    lines = Columns()
    if not rows:
        lines.line((t("no backward steps: the output is a variable itself, or depends on none"), LEGEND))
        return lines
    explained: set[str] = set()
    for index in shown_rows(len(rows), max_rows):
        if isinstance(index, range):
            lines.line(gap_line(t, len(index), "backward rows", labels[rows[index[0]].node],
                                labels[rows[index[-1]].node], 0))
            continue
        _node_lines(lines, trace, rows[index], t, precision, width, full, explained)
    return lines


def _node_lines(lines: Columns, trace: ArrayTrace, row: BackwardRow, t: Callable[[str], str], precision: int,
                width: int, full: bool, explained: set[str]) -> None:
    labels = trace.labels
    node = row.node
    name = labels[node]
    op = trace.graph.ops[node]
    shape = shape_text(trace.shapes[node])
    head = f"{name} = {_cut(trace.forward[node].formula)}"
    delta = f"    δ = ∂{trace.output}/∂{name}"
    shape_note = f"  ({t(shape)})"
    value = format_value(row.grad, precision)
    if cell_len(head + delta + " = " + value + shape_note) <= width:
        lines.line((name, HEADING), head[len(name):], delta + " = ", (value, GRAD), shape_note,
                   ("  Σ" if node in trace.branch_of else "", SUM))
    else:  # δ on a line of its own, under the steps' formulas
        lines.line((name, HEADING), head[len(name):], delta + shape_note, ("  Σ" if node in trace.branch_of else "", SUM),
                   hang=2)
        _value_lines(lines, row.grad, precision, width, full, "δ = ")
    if op.gate and op.elementwise:
        lines.line(("  " + t(op.gate), GATE))
    for note in row.notes:
        lines.line(("  ⚠ " + message(note.message), KINK))
    for step in row.steps:
        _step_lines(lines, trace, step, t, precision, width, full, explained)


def _step_lines(lines: Columns, trace: ArrayTrace, step: Step, t: Callable[[str], str], precision: int, width: int,
                full: bool, explained: set[str]) -> None:
    """`→ W  ∂s/∂W = δ xᵀ`, its shapes with the check, its numbers, and (once per rule) why."""
    edge = step.edge
    out = trace.output
    labels = trace.labels
    name = labels[edge.input]
    pad = " " * STEP_INDENT
    marker = " Σ" if edge.input in trace.branch_of else ""
    check = (t("the shape of {name}").format(name=name) + " ✓") if step.shape_ok else \
        ("✗ " + t("not the shape of {name} ({shape})").format(name=name, shape=shape_text(step.input_shape)))
    lines.line(f"  → {name}{marker}  ", f"∂{out}/∂{name} = {step.formula}", f"    {step.product}: ",
               (check, LEGEND if step.shape_ok else KINK), hang=2)
    numbers = None if full else _numbers(step, precision)
    if numbers is not None and cell_len(numbers) <= width - STEP_INDENT - 2:
        lines.line((pad + "= " + numbers, GRAD), hang=1)
    else:
        _value_lines(lines, edge.contribution, precision, width, full, "= ")
    if step.identity is not None:
        function = trace.graph.ops[edge.consumer].symbol
        lines.line(pad, (f"∂{out}/∂{name} = {step.identity.formula} ✓ ", SUM),
                   (t(CROSS_ENTROPY).format(function=function), LEGEND))
    if step.why is not None and step.why[0] not in explained:
        explained.add(step.why[0])
        key, template, fields = step.why
        lines.line((pad + t(template).format(**fields), LEGEND))
    if step.jacobian is not None and step.jacobian.matrix.size > 1:  # a 1×1 Jacobian is the local partial above
        _jacobian_lines(lines, trace, step, t, precision)


def _numbers(step: Step, precision: int) -> str | None:
    """`[1, -2] ⊙ [0.235, 0.197] = [0.235, -0.393]` for an elementwise step, then `, Σ → ...` for
    a broadcast input; None for any other step (only its contribution is shown)."""
    edge = step.edge
    if step.rule != "elementwise":
        return None
    contribution = format_value(edge.contribution, precision)
    summed = "" if edge.unreduced is None else f", Σ → {contribution}"
    if type(edge.local) is float and edge.local in (1.0, -1.0):
        return None if edge.unreduced is None else format_value(edge.unreduced, precision) + summed
    times = "⊙" if "⊙" in step.formula else "×"
    product = f"{format_value(edge.upstream, precision)} {times} {format_value(edge.local, precision)}"
    if edge.unreduced is None:
        return f"{product} = {contribution}"
    return f"{product} = {format_value(edge.unreduced, precision)}{summed}"


def _value_lines(lines: Columns, value, precision: int, width: int, full: bool, lead: str) -> None:
    """`= value` under a step: on one line, else summarised, or (`full`) whole as an aligned grid."""
    pad = " " * STEP_INDENT
    shown = _fitted(value, precision, width - STEP_INDENT - len(lead), full)
    lines.line((pad + lead + (shown or ""), GRAD))
    if shown is None:
        _grid(lines, value, precision, STEP_INDENT + 2, GRAD)


def _grid(lines: Columns, value, precision: int, indent: int, style: str) -> None:
    for line in grid_lines(value, precision, align=True):
        lines.line((" " * indent + line, style))


def _jacobian_lines(lines: Columns, trace: ArrayTrace, step: Step, t: Callable[[str], str], precision: int) -> None:
    """The explicit local Jacobian, the check δ · J = contribution, and for the softmax family each
    entry's sum over every output (where ∂L/∂z = a − y comes from)."""
    edge = step.edge
    jacobian = step.jacobian
    labels = trace.labels
    node, name = labels[edge.consumer], labels[edge.input]
    pad = " " * STEP_INDENT
    matrix = jacobian.matrix
    rows, columns = matrix.shape
    kind = ""
    if rows == columns and rows > 1 and not (matrix - np.diag(matrix.diagonal())).any():
        kind = ", " + t("diagonal")
    elif step.rule == "softmax":
        kind = f", diag({node}) − {node} {node}ᵀ"
    lines.line((pad + t("local Jacobian ∂{node}/∂{name}").format(node=node, name=name) + f" ({rows}×{columns}{kind})",
                HEADING))
    _grid(lines, matrix, precision, STEP_INDENT + 2, VALUE)
    verdict = t("δ (as a row, 1×{rows}) · J ({rows}×{columns}) = the contribution").format(rows=rows, columns=columns)
    lines.line((pad + verdict, GRAD), (" ✓" if jacobian.agrees else " ✗", LEGEND if jacobian.agrees else KINK))
    if step.rule in DERIVATIONS and rows <= MAX_EXPANDED:  # every entry collects a term from every output
        upstream = np.ravel(edge.upstream)
        lines.line((pad + t("each entry sums a term from every output: ∂{out}/∂{name}[j] = Σᵢ δ[i] J[i, j]").format(
            out=trace.output, name=name), LEGEND))
        for j in range(columns):
            index = tuple(int(k) for k in np.unravel_index(j, step.input_shape))
            terms = " + ".join(f"{format_value(float(upstream[i]), 3)}·({format_value(float(matrix[i, j]), 3)})"
                               for i in range(rows))
            lines.line(pad + f"∂{trace.output}/∂{element_text(name, index)} = ", terms + " = ",
                       (format_value(float(jacobian.product.flat[j]), precision), GRAD), hang=1)
    if step.rule in DERIVATIONS and step.identity is not None:
        lines.line((pad + t(DERIVATIONS[step.rule]).format(a=node, y=step.identity.target, z=name), LEGEND))


def branch_view(trace: ArrayTrace, t: Callable[[str], str], precision: int, max_rows: int | None, width: int):
    """The branch sums in a panel (as the scalar trace's), each term in the node's shape."""
    if not trace.branches:
        return _heading("", t("no branch nodes: every node is used once"))
    body = Group(
        _heading("", t("a node used in several places sums the contributions from every path; each has the "
                       "node's shape")),
        branch_lines(trace, t, precision, max_rows, width),
    )
    return Panel(body, title=Text(t("Branch nodes"), style=HEADING), title_align="left", expand=False)


# ----- JSON -----


def _shape(value) -> list[int]:
    return list(getattr(value, "shape", ()))


def array_trace_object(trace: ArrayTrace) -> dict:
    """The `"trace"` member of `trace --json` on vectors and matrices (the schema is in the module docstring)."""
    graph = trace.graph
    labels = trace.labels
    shapes = trace.shapes
    return {
        "shape_convention": SHAPE_CONVENTION.format(out=trace.output),
        "forward": [{"node": row.label, "op": graph.op_name(row.node), "inputs": [labels[j] for j in graph.inputs[row.node]],
                     "shape": list(row.shape), "value": json_value(row.value)} for row in trace.forward],
        "backward": [{"node": labels[row.node], "shape": list(shapes[row.node]), "grad": json_value(row.grad),
                      "edges": [_step_object(trace, step) for step in row.steps]} for row in trace.backward],
        "branches": [{"node": labels[branch.node], "shape": list(shapes[branch.node]),
                      "terms": [{"from": labels[edge.consumer], "slot": edge.slot,
                                 "contribution": json_value(edge.contribution)} for edge in branch.terms],
                      "total": json_value(branch.total)} for branch in trace.branches],
    }


def _step_object(trace: ArrayTrace, step: Step) -> dict:
    edge = step.edge
    document = {
        "input": trace.labels[edge.input], "slot": edge.slot, "rule": step.rule, "formula": step.formula,
        "shapes": step.product, "shape": _shape(edge.contribution), "input_shape": list(step.input_shape),
        "shape_check": step.shape_ok,
        "local": None if edge.local is None else json_value(edge.local),
        "unreduced": None if edge.unreduced is None else json_value(edge.unreduced),
        "summed_axes": list(step.summed), "contribution": json_value(edge.contribution),
        "why": None if step.why is None else step.why[1].format(**step.why[2]), "identity": None if step.identity is None else step.identity.formula,
    }
    if trace.jacobians:
        document["jacobian"] = None if step.jacobian is None else {
            "matrix": step.jacobian.matrix.tolist(), "upstream_times_jacobian": json_value(step.jacobian.product),
            "equals_contribution": step.jacobian.agrees}
    return document
