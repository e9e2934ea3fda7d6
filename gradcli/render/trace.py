"""The backprop trace for the terminal: forward pass, backward pass, branch sums, gradient.

Laid out by hand as Text lines in aligned columns (not a Rich Table): notes such as a gate's
name or a kink span the row, the layout stays readable at 80 columns, and thousands of rows
render in linear time. User text only ever goes in as Text, so markup in it prints literally.
"""

from __future__ import annotations

from typing import Callable

from rich.cells import cell_len
from rich.console import Group
from rich.panel import Panel
from rich.text import Text

from ..engine import KINK_NOTE, NONFINITE_NOTE, OVERFLOW_NOTE, Edge, Note
from ..formatting import format_value
from ..graph import Graph
from ..trace import Trace, edge_formula, program_title
from .text import GRAD, HEADING, LEGEND, VALUE, Columns, gap_line, gradient_table, shown_rows

# Semantic styles (NO_COLOR and a pipe drop the colours; Rich handles both).
GATE = "italic dim"
KINK = "yellow"
SUM = "bold magenta"

_MAX_CELL = 40  # a longer formula or input list is cut with … (the JSON has it all)
_MAX_SOURCE = 160  # characters of the program shown in the heading, at most
_MAX_POINT = 24  # variables of the point shown in the heading


def _cut(text: str, limit: int = _MAX_CELL) -> str:
    """`text` in at most `limit` terminal cells, ending in … when it is cut."""
    if len(text) <= limit and (text.isascii() or cell_len(text) <= limit):
        return text
    kept = ""
    for character in text:
        if cell_len(kept + character) > limit - 1:
            break
        kept += character
    return kept + "…"


def _factor(text: str) -> str:
    """A second factor or term in parentheses when negative: `-4 × (-1)`, `2 + (-3)`."""
    return f"({text})" if text.startswith("-") else text


def _flowed(words: list[str], first: str, width: int, indent: int) -> list[str]:
    """`first` then the words, as many on each line as fit `width`; a word is never split."""
    lines = [first]
    for word in words:
        if lines[-1].strip() not in ("", first.strip()) and cell_len(lines[-1]) + 1 + cell_len(word) > width:
            lines[-1] = lines[-1].rstrip()
            lines.append(" " * indent)
        lines[-1] += word if not lines[-1].strip() or lines[-1].endswith(" ") else " " + word
    return lines


def _heading(title: str, legend: str) -> Columns:
    lines = Columns()
    if title:
        lines.line((title, HEADING))
    if legend:
        lines.line((legend, LEGEND))
    return lines


def trace_heading(trace: Trace, t: Callable[[str], str], precision: int, width: int = 80) -> Columns:
    """`Backprop trace of (x+y)*z`, shortened with … to one line, and the point, broken between variables."""
    template = t("Backprop trace of {expression}")
    room = max(10, min(_MAX_SOURCE, width - cell_len(template.replace("{expression}", ""))))
    heading = _heading(template.format(expression=_cut(program_title(trace.graph.source, room), room)), "")
    point = trace.result.at
    if point:
        bindings = [f"{name} = {format_value(value, precision)}" for name, value in list(point.items())[:_MAX_POINT]]
        if len(point) > _MAX_POINT:
            bindings.append("…")
        words = [binding + ("," if k < len(bindings) - 1 else "") for k, binding in enumerate(bindings)]
        before, _, after = t("at {point}").partition("{point}")
        lines = _flowed(words, before, width - cell_len(after), 3)
        lines[-1] += after
        for line in lines:
            heading.line(line)
    return heading


def forward_view(trace: Trace, t: Callable[[str], str], precision: int, max_rows: int | None = None) -> Columns:
    """One row per step in evaluation order: step, node, operation, inputs, value.

    A constant is no step: a number shows in the operations that use it, and a named constant's
    value (pi = 3.14159) is given once, under the table. On a narrow terminal the input values (each
    the value of an earlier row) are left out first.
    """
    graph = trace.graph
    labels = trace.labels
    values = trace.result.values
    ops = graph.ops
    steps = [node for node in range(len(ops)) if node not in graph.constants or node == graph.output]
    columns = Columns("><<<>", indent=1, optional=(3,), lead=2)
    columns.row((t("step"), HEADING), (t("node"), HEADING), (t("operation"), HEADING), (t("input values"), HEADING),
                (t("value"), HEADING))
    for index in shown_rows(len(steps), max_rows):
        if isinstance(index, range):
            columns.line(gap_line(t, len(index), "forward steps", str(index[0] + 1), str(index[-1] + 1), 1))
            continue
        node = steps[index]
        if ops[node] is None:
            operation = t("constant") if node in graph.constants else t("variable")
            inputs = ""
        else:
            operation = _cut(graph.formula(node, labels))
            node_inputs = graph.inputs[node]
            inputs = ", ".join(format_value(values[j], precision) for j in node_inputs[:8])
            inputs = _cut(inputs + (", …" if len(node_inputs) > 8 else ""))
        columns.row(str(index + 1), labels[node], operation, inputs, (format_value(values[node], precision), VALUE))
    named = {}
    for node, (value, text) in graph.constants.items():
        if not _is_number(text):
            named.setdefault(text, f"{text} = {format_value(value, precision)}")
    if named:
        columns.line((" " + t("constants: {constants}").format(constants=", ".join(named.values())), LEGEND))
    return columns


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _note_text(trace: Trace, note: Note, t: Callable[[str], str]) -> str:
    op = trace.graph.ops[note.node]
    if note.kind == "overflow":
        return t(OVERFLOW_NOTE)
    if note.kind == "kink":
        return t(KINK_NOTE).format(op=op.symbol, convention=t(note.convention))
    return t(NONFINITE_NOTE).format(op=op.symbol)


def backward_view(trace: Trace, t: Callable[[str], str], precision: int, max_rows: int | None = None):
    """From the output back: each node's upstream gradient, then one row per edge into its inputs."""
    graph = trace.graph
    labels = trace.labels
    values = trace.result.values
    out = trace.output
    branch_of = trace.branch_of
    rows = [row for row in trace.backward if row.edges]
    columns = Columns("<<<", indent=2, hang=True)
    if not rows:
        columns.line((t("no backward steps: the output is a variable itself, or depends on none"), LEGEND))
        return columns
    for index in shown_rows(len(rows), max_rows):
        if isinstance(index, range):
            columns.line(gap_line(t, len(index), "backward rows", labels[rows[index[0]].node],
                                  labels[rows[index[-1]].node], 0))
            continue
        row = rows[index]
        node = row.node
        op = graph.ops[node]
        name = labels[node]
        upstream = format_value(row.grad, precision)
        summed = ""
        if node in branch_of and len(branch_of[node].terms) <= 4:  # a branch node: its sum, where it happens
            terms = [format_value(edge.contribution, precision) for edge in branch_of[node].terms]
            summed = " + ".join(term if k == 0 else _factor(term) for k, term in enumerate(terms)) + " = "
        columns.line((name, HEADING), " = " + _cut(trace.formula(node)),
                     "    " + t("upstream") + f" ∂{out}/∂{name} = " + summed, (upstream, GRAD),
                     ("  Σ" if node in branch_of else "", SUM), hang=2)
        if op.gate:
            columns.line(("  " + t(op.gate), GATE))
        kinked = False
        for note in row.notes:
            kinked = True
            columns.line(("  ⚠ " + _note_text(trace, note, t), KINK))
        for edge in row.edges:
            input_name = labels[edge.input]
            local = format_value(edge.local, precision)
            shown = edge_formula(graph, labels, node, edge.slot, values, t)
            formula = local if shown == local else f"{shown} = {local}"
            contribution = format_value(edge.contribution, precision)
            columns.row(
                "→ " + input_name + (" Σ" if edge.input in branch_of else ""),
                f"∂{name}/∂{input_name} = {formula}",
                (f"{upstream} × {_factor(local)} = {contribution}" + (" ⚠" if kinked else ""), GRAD),
            )
    for row in trace.backward:  # a variable's own note (its gradient overflowed) has no step to sit under
        for note in row.notes if not row.edges else ():
            columns.line((f"⚠ {labels[row.node]}: " + _note_text(trace, note, t), KINK))
    return columns


def via_text(graph: Graph, labels: list[str], edge: Edge, t: Callable[[str], str]) -> str:
    """Where a contribution comes from: `via a`, or `via t1, input 2` when the consumer takes the node
    in more than one input (x*x), so that each of its terms says which."""
    consumer = labels[edge.consumer]
    if graph.inputs[edge.consumer].count(edge.input) > 1:
        return t("via {consumer}, input {slot}").format(consumer=consumer, slot=edge.slot + 1)
    return t("via {consumer}").format(consumer=consumer)


def branch_lines(trace: Trace, t: Callable[[str], str], precision: int, max_rows: int | None = None,
                 width: int = 80) -> Columns:
    """`∂f/∂y = 2 (via a) + 3 (via b) = 5` for every node that feeds more than one consumer."""
    labels = trace.labels
    out = trace.output
    lines = Columns()
    for index in shown_rows(len(trace.branches), max_rows):
        if isinstance(index, range):
            lines.line(gap_line(t, len(index), "branch nodes", labels[trace.branches[index[0]].node],
                                labels[trace.branches[index[-1]].node], 0))
            continue
        branch = trace.branches[index]
        name = labels[branch.node]
        total = format_value(branch.total, precision)
        terms = [(format_value(edge.contribution, precision), via_text(trace.graph, labels, edge, t))
                 for edge in branch.terms]
        line = f"∂{out}/∂{name} = " + " + ".join(
            f"{value if k == 0 else _factor(value)} ({via})" for k, (value, via) in enumerate(terms)
        ) + f" = {total}"
        if len(terms) <= 6 and cell_len(line) <= width - 4:  # the panel's border and padding take 4
            lines.line((line, SUM))
            continue
        # Too long for one line: the total first, then one row per path.
        lines.line((f"∂{out}/∂{name} = {total}", SUM),
                   ("  " + t("sum of the {count} contributions below").format(count=len(terms)), LEGEND), hang=1)
        for j in shown_rows(len(terms), max_rows):
            if isinstance(j, range):
                lines.line(gap_line(t, len(j), "contributions", str(j[0] + 1), str(j[-1] + 1), 4))
                continue
            value, via = terms[j]
            lines.line((f"    {'+' if j else ' '} {value if j == 0 else _factor(value)}", GRAD), f"  ({via})")
    return lines


def branch_view(trace: Trace, t: Callable[[str], str], precision: int, max_rows: int | None = None,
                width: int = 80):
    """The branch sums in a panel, so they stand out: the heart of the trace."""
    if not trace.branches:
        return _heading("", t("no branch nodes: every node is used once"))
    body = Group(
        _heading("", t("a node used in several places sums the contributions from every path")),
        branch_lines(trace, t, precision, max_rows, width),
    )
    return Panel(body, title=Text(t("Branch nodes"), style=HEADING), title_align="left", expand=False)


def trace_view(trace: Trace, t: Callable[[str], str], precision: int = 12, max_rows: int | None = None,
               width: int = 80, gradient: bool = True) -> Group:
    """The whole trace: heading, forward pass, backward pass, branch sums, and (optionally) the gradient."""
    backward_legend = t("from the output back: contribution = upstream × local")
    parts = [
        trace_heading(trace, t, precision, width),
        Text(),
        _heading(t("Forward pass"), t("each node's value, inputs first")),
        forward_view(trace, t, precision, max_rows),
        Text(),
        _heading(t("Backward pass"), backward_legend),
    ]
    if trace.branches:
        parts.append(_heading("", t("Σ marks a branch node: its contributions are summed under Branch nodes")))
    parts += [backward_view(trace, t, precision, max_rows), Text()]
    parts.append(branch_view(trace, t, precision, max_rows, width))
    if gradient:
        parts += [Text(), Text(t("Gradient"), style=HEADING), gradient_table(trace.result, None, precision, t, max_rows)]
    return Group(*parts)
