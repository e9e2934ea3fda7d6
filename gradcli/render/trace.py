"""The backprop trace for the terminal: forward pass, backward pass, branch sums, gradient.

Laid out by hand as Text lines in aligned columns (not a Rich Table): notes such as a gate's
name or a kink span the row, the layout stays readable at 80 columns, and thousands of rows
render in linear time. User text only ever goes in as Text, so markup in it prints literally.
"""

from __future__ import annotations

from typing import Callable

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group
from rich.control import strip_control_codes
from rich.measure import Measurement
from rich.panel import Panel
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from ..engine import KINK_NOTE, NONFINITE_NOTE, OVERFLOW_NOTE
from ..formatting import format_value
from ..trace import Trace, local_formula, program_title

# Semantic styles (NO_COLOR and a pipe drop the colours; Rich handles both).
HEADING = "bold"
LEGEND = "dim"
VALUE = "cyan"
GRAD = "magenta"
GATE = "italic dim"
KINK = "yellow"
SUM = "bold magenta"

_MAX_CELL = 40  # a longer formula or input list is cut with … (the JSON has it all)
_MAX_SOURCE = 160  # characters of the program shown in the heading


def _cut(text: str, limit: int = _MAX_CELL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _factor(text: str) -> str:
    """A second factor or term in parentheses when negative: `-4 × (-1)`, `2 + (-3)`."""
    return f"({text})" if text.startswith("-") else text


def _shown(count: int, max_rows: int | None):
    """The indices of `count` rows to show: all of them, or a head and a tail with, between them,
    the range of the rows left out (a `range`, for the line that says so)."""
    if max_rows is None or count <= max_rows:
        yield from range(count)
        return
    head = (max_rows + 1) // 2
    tail = count - (max_rows - head)
    yield from range(head)
    if tail > head:
        yield range(head, tail)
    yield from range(tail, count)


def _cells(text: str) -> int:
    return len(text) if text.isascii() else cell_len(text)


class Lines:
    """Lines of (text, style) pieces, written straight out as segments (the fast path for long traces).

    A line wider than the console is word-wrapped through Text, so nothing is cut off.
    """

    def __init__(self):
        self.lines: list[list[tuple[str, str]]] = []
        self.widths: list[int] = []

    def add(self, *pieces: tuple[str, str] | str) -> None:
        line = []
        for piece in pieces:
            text, style = (piece, "") if isinstance(piece, str) else piece
            if not text.isprintable():
                text = strip_control_codes(text)
            line.append((text, style))
        self.lines.append(line)
        self.widths.append(sum(_cells(text) for text, _ in line))

    def extend(self, other: Lines) -> None:
        self.lines += other.lines
        self.widths += other.widths

    def __rich_console__(self, console: Console, options: ConsoleOptions):
        width = options.max_width
        styles: dict[str, Style] = {}
        newline = Segment.line()
        for line, line_width in zip(self.lines, self.widths):
            if line_width > width:
                yield from _wrapped(console, line, width)
                continue
            for text, style in line:
                if style not in styles:
                    styles[style] = console.get_style(style) if style else Style.null()
                yield Segment(text, styles[style])
            yield newline

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        widest = max(self.widths, default=0)
        return Measurement(min(widest, 20), widest)


def _wrapped(console: Console, line: list[tuple[str, str]], width: int):
    """A line wider than the console, word-wrapped with its indent kept (and two more on continuation lines)."""
    first = line[0][0] if line else ""
    indent = min(len(first) - len(first.lstrip(" ")), max(0, width // 2))
    pieces = [(first.lstrip(" "), line[0][1])] + line[1:] if line else []
    text = Text.assemble(*pieces)
    for number, part in enumerate(text.wrap(console, max(8, width - indent - 2))):
        part.rstrip()
        yield Segment(" " * (indent if number == 0 else indent + 2))
        yield from part.render(console)
        yield Segment.line()


class _Columns:
    """Rows of (text, style) cells, padded to a common width per column (capped), and full-width lines."""

    def __init__(self, aligns: str, indent: int = 0, width: int | None = None):
        self.aligns = aligns  # one of "<" ">" per column
        self.indent = indent
        self.width = width  # a row wider than this puts its last cell on a line of its own
        self.rows: list[list[tuple[str, str]]] = []
        self.is_line: list[bool] = []

    def add(self, *cells: tuple[str, str] | str) -> None:
        self.rows.append([cell if isinstance(cell, tuple) else (cell, "") for cell in cells])
        self.is_line.append(False)

    def add_line(self, *pieces: tuple[str, str] | str) -> None:
        """A full-width line between rows (a note, a gap marker)."""
        self.rows.append([piece if isinstance(piece, tuple) else (piece, "") for piece in pieces])
        self.is_line.append(True)

    def lines(self) -> Lines:
        widths = [0] * len(self.aligns)
        for row, is_line in zip(self.rows, self.is_line):
            if not is_line:
                for k, (cell, _) in enumerate(row):
                    widths[k] = max(widths[k], min(_cells(cell), _MAX_CELL))
        out = Lines()
        indent = " " * self.indent
        for row, is_line in zip(self.rows, self.is_line):
            if is_line:
                out.add(*row)
                continue
            pieces: list[tuple[str, str]] = [(indent, "")] if indent else []
            last = len(row) - 1
            column = self.indent  # where the last cell starts
            for k, (cell, style) in enumerate(row):
                pad = " " * max(0, widths[k] - _cells(cell))
                if self.aligns[k] == ">":
                    pieces.append((pad, ""))
                    pieces.append((cell, style))
                else:
                    pieces.append((cell, style))
                    if k != last:
                        pieces.append((pad, ""))
                if k != last:
                    pieces.append(("  ", ""))
                    column += max(widths[k], _cells(cell)) + 2
            last_width = _cells(row[-1][0])
            if self.width is not None and last and column + last_width > self.width:
                # Too wide: the last cell goes under its column (or as far right as it fits) on the next line.
                head = pieces[:-2 if self.aligns[-1] == ">" else -1]
                while head and not head[-1][0].strip():
                    head.pop()
                out.add(*head)
                start = max(self.indent + 4, min(column, self.width - last_width))
                out.add(" " * start, row[-1])
                continue
            out.add(*pieces)
        return out


def _gap_line(t: Callable[[str], str], count: int, rows: str, first: str, last: str, indent: int) -> tuple[str, str]:
    message = t("⋮ {count} {rows} left out ({first}–{last}); --max-rows sets how many are shown")
    if first == last:
        message = message.replace("{first}–{last}", "{first}")
    return " " * indent + message.format(count=f"{count:,}", rows=t(rows), first=first, last=last), LEGEND


def _heading(title: str, legend: str) -> Text:
    text = Text(title, style=HEADING)
    if legend:
        text.append("\n")
        text.append(legend, style=LEGEND)
    return text


def trace_heading(trace: Trace, t: Callable[[str], str], precision: int) -> Text:
    """`Backprop trace of (x+y)*z` and the point."""
    source = program_title(trace.graph.source, _MAX_SOURCE)
    heading = Text(t("Backprop trace of {expression}").format(expression=_cut(source, _MAX_SOURCE)), style=HEADING)
    point = trace.result.at
    if point:
        shown = ", ".join(f"{name} = {format_value(value, precision)}" for name, value in list(point.items())[:24])
        if len(point) > 24:
            shown += ", …"
        heading.append("\n")
        heading.append(t("at {point}").format(point=shown))
    return heading


def forward_view(trace: Trace, t: Callable[[str], str], precision: int, max_rows: int | None = None,
                 width: int | None = None) -> Lines:
    """One row per node in evaluation order: step, node, operation, inputs, value."""
    graph = trace.graph
    labels = trace.labels
    values = trace.result.values
    ops = graph.ops
    columns = _Columns("><<<>", indent=1, width=width)
    columns.add((t("step"), HEADING), (t("node"), HEADING), (t("operation"), HEADING), (t("input values"), HEADING),
                (t("value"), HEADING))
    for node in _shown(len(ops), max_rows):
        if isinstance(node, range):
            columns.add_line(_gap_line(t, len(node), "forward steps", str(node[0] + 1), str(node[-1] + 1), 1))
            continue
        if ops[node] is None:
            operation = t("constant") if node in graph.constants else t("variable")
            inputs = ""
        else:
            operation = _cut(graph.formula(node, labels))
            node_inputs = graph.inputs[node]
            inputs = _cut(", ".join(format_value(values[j], precision) for j in node_inputs[:8]))
            if len(node_inputs) > 8:
                inputs = _cut(inputs + ", …")
        columns.add(str(node + 1), labels[node], operation, inputs, (format_value(values[node], precision), VALUE))
    return columns.lines()


def _note_text(trace: Trace, node: int, kind: str, t: Callable[[str], str]) -> str:
    op = trace.graph.ops[node]
    if kind == "overflow":
        return t(OVERFLOW_NOTE)
    if kind == "kink" and op.kink is not None:
        return t(KINK_NOTE).format(op=op.symbol, convention=t(op.kink.convention))
    return t(NONFINITE_NOTE).format(op=op.symbol)


def backward_view(trace: Trace, t: Callable[[str], str], precision: int, max_rows: int | None = None,
                  width: int | None = None):
    """From the output back: each node's upstream gradient, then one row per edge into its inputs."""
    graph = trace.graph
    labels = trace.labels
    out = trace.output
    branch_nodes = trace.branch_nodes
    branch_of = {branch.node: branch for branch in trace.branches}
    rows = [row for row in trace.backward if row.edges]
    columns = _Columns("<<<", indent=2, width=width)
    if not rows:
        return Text(t("no backward steps: the output is a variable itself, or depends on none"), style=LEGEND)
    for index in _shown(len(rows), max_rows):
        if isinstance(index, range):
            columns.add_line(_gap_line(t, len(index), "backward rows", labels[rows[index[0]].node],
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
        columns.add_line((name, HEADING), " = " + _cut(trace.formula(node)),
                         "    " + t("upstream") + f" ∂{out}/∂{name} = " + summed, (upstream, GRAD),
                         ("  Σ" if node in branch_nodes else "", SUM))
        if op.gate:
            columns.add_line(("  " + t(op.gate), GATE))
        kinked = False
        for note in row.notes:
            kinked = True
            columns.add_line(("  ⚠ " + _note_text(trace, node, note.kind, t), KINK))
        operands = [labels[j] for j in graph.inputs[node]]
        for edge in row.edges:
            input_name = labels[edge.input]
            local = format_value(edge.local, precision)
            shown = local_formula(op, edge.slot, operands, t(op.shown(edge.slot)))
            formula = local if shown == local else f"{shown} = {local}"
            contribution = format_value(edge.contribution, precision)
            columns.add(
                "→ " + input_name + (" Σ" if edge.input in branch_nodes else ""),
                f"∂{name}/∂{input_name} = {formula}",
                (f"{upstream} × {_factor(local)} = {contribution}" + (" ⚠" if kinked else ""), GRAD),
            )
    for row in trace.backward:  # a variable's own note (its gradient overflowed) has no step to sit under
        for note in row.notes if not row.edges else ():
            columns.add_line((f"⚠ {labels[row.node]}: " + _note_text(trace, row.node, note.kind, t), KINK))
    return columns.lines()


def branch_lines(trace: Trace, t: Callable[[str], str], precision: int, max_rows: int | None = None,
                 width: int = 80) -> Lines:
    """`∂f/∂y = 2 (via a) + 3 (via b) = 5` for every node that feeds more than one consumer."""
    labels = trace.labels
    out = trace.output
    lines = Lines()
    for index in _shown(len(trace.branches), max_rows):
        if isinstance(index, range):
            lines.add(_gap_line(t, len(index), "branch nodes", labels[trace.branches[index[0]].node],
                                labels[trace.branches[index[-1]].node], 0))
            continue
        branch = trace.branches[index]
        name = labels[branch.node]
        total = format_value(branch.total, precision)
        uses: dict[int, int] = {}
        for edge in branch.terms:
            uses[edge.consumer] = uses.get(edge.consumer, 0) + 1
        terms = []
        for edge in branch.terms:
            consumer = labels[edge.consumer]
            via = (t("via {consumer}, input {slot}").format(consumer=consumer, slot=edge.slot + 1)
                   if uses[edge.consumer] > 1 else t("via {consumer}").format(consumer=consumer))
            terms.append((format_value(edge.contribution, precision), via))
        line = f"∂{out}/∂{name} = " + " + ".join(
            f"{value if k == 0 else _factor(value)} ({via})" for k, (value, via) in enumerate(terms)
        ) + f" = {total}"
        if len(terms) <= 6 and _cells(line) <= width - 4:
            lines.add((line, SUM))
            continue
        # Too long for one line: the total first, then one row per path.
        lines.add((f"∂{out}/∂{name} = {total}", SUM),
                  ("  " + t("sum of the {count} contributions below").format(count=len(terms)), LEGEND))
        for j in _shown(len(terms), max_rows):
            if isinstance(j, range):
                lines.add(_gap_line(t, len(j), "contributions", str(j[0] + 1), str(j[-1] + 1), 4))
                continue
            value, via = terms[j]
            lines.add((f"    {'+' if j else ' '} {value if j == 0 else _factor(value)}", GRAD), f"  ({via})")
    return lines


def branch_view(trace: Trace, t: Callable[[str], str], precision: int, max_rows: int | None = None,
                width: int = 80):
    """The branch sums in a panel, so they stand out: the heart of the trace."""
    if not trace.branches:
        return Text(t("no branch nodes: every node is used once"), style=LEGEND)
    body = Group(
        Text(t("a node used in several places sums the contributions from every path"), style=LEGEND),
        branch_lines(trace, t, precision, max_rows, width),
    )
    return Panel(body, title=Text(t("Branch nodes"), style=HEADING), title_align="left", expand=False)


def gradient_view(trace: Trace, t: Callable[[str], str], precision: int, max_rows: int | None = None) -> Group:
    """The value of the output and ∂f/∂variable for every variable (the table of `grad`)."""
    result = trace.result
    out = trace.output
    columns = _Columns("<>>")
    columns.add((t("variable"), HEADING), (t("value"), HEADING), (t("∂{out}/∂variable").format(out=out), HEADING))
    variables = list(result.graph.variables.items())
    for index in _shown(len(variables), max_rows):
        if isinstance(index, range):
            columns.add_line(_gap_line(t, len(index), "variables", variables[index[0]][0], variables[index[-1]][0], 0))
            continue
        name, node = variables[index]
        columns.add(name, format_value(result.values[node], precision), (format_value(result.grads[node], precision), GRAD))
    return Group(Text.assemble((out, HEADING), " = ", (format_value(result.value, precision), "bold " + VALUE)), columns.lines())


def trace_view(trace: Trace, t: Callable[[str], str], precision: int = 12, max_rows: int | None = None,
               width: int = 80, gradient: bool = True) -> Group:
    """The whole trace: heading, forward pass, backward pass, branch sums, and (optionally) the gradient."""
    parts = [
        trace_heading(trace, t, precision),
        Text(),
        _heading(t("Forward pass"), t("each node's value, inputs first")),
        forward_view(trace, t, precision, max_rows, width),
        Text(),
        _heading(t("Backward pass"), t("from the output back: contribution = upstream × local")),
    ]
    if trace.branches:
        parts.append(Text(t("Σ marks a branch node: its contributions are summed under Branch nodes"), style=LEGEND))
    parts += [backward_view(trace, t, precision, max_rows, width), Text()]
    parts.append(branch_view(trace, t, precision, max_rows, width))
    if gradient:
        parts += [Text(), Text(t("Gradient"), style=HEADING), gradient_view(trace, t, precision, max_rows)]
    return Group(*parts)
