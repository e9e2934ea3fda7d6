"""Rich views and JSON objects of a check (`check`, `grad --check`) and of symbolic derivatives (`diff`).

User text (names, formulas built from names) goes into Rich only as Text, never as markup.
"""

from __future__ import annotations

import math

from rich import box
from rich.console import Console, ConsoleOptions, Group
from rich.measure import Measurement
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from ..check import (
    CONVENTION, LOCAL, MISMATCH, NOT_DIFFERENTIABLE, OK, UNAVAILABLE, UNCHECKED, UNDEFINED, WHOLE, CheckReport,
    DiffResult,
)
from ..formatting import format_value, json_value
from ..trace import edge_formula
from .json import all_warnings
from ..witness import DIGITS

# Short words for the table cell; the lines under the table say it in full.
_VERDICT_STYLE = {
    OK: ("✓", "green"),
    MISMATCH: ("✗ mismatch", "bold red"),
    NOT_DIFFERENTIABLE: ("no derivative", "yellow"),
    CONVENTION: ("convention", "yellow"),
    UNDEFINED: ("undefined", "yellow"),
    UNCHECKED: ("unchecked", "yellow"),
}

_VERDICT_TEXT = {
    OK: "the witnesses agree",
    MISMATCH: "a witness disagrees with reverse mode",
    NOT_DIFFERENTIABLE: "not differentiable at this point",
    CONVENTION: "f is differentiable here, but reverse mode applies a kink's convention",
    UNDEFINED: "the derivative is undefined here",
    UNCHECKED: "no witness applies here",
}

# Finite differences are good to about 10 digits; more would print their noise.
_FD_DIGITS = 9

_MODE_TEXT = {
    WHOLE: f"SymPy differentiated the whole expression (evaluated to {DIGITS} digits)",
    LOCAL: "SymPy checked each node's local partials (local mode)",
    UNAVAILABLE: "SymPy unavailable: finite differences only",
}


class Trimmed:
    """A renderable with the blanks Rich pads its lines with on the right taken off.

    Rich pads every cell (and a centred title) to its column's width; Table has no option to
    leave the last column ragged, so a pipe or a file would get trailing spaces on every row.
    """

    def __init__(self, renderable):
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions):
        newline = Segment.line()
        for line in console.render_lines(self.renderable, options, pad=False):
            end = len(line)
            while end and _blank(line[end - 1]):
                end -= 1
            if end and _plain(line[end - 1]):
                text, style, control = line[end - 1]
                line[end - 1] = Segment(text.rstrip(" "), style, control)
            yield from line[:end]
            yield newline

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.renderable)


def _plain(segment: Segment) -> bool:
    """Spaces that show nothing: no background, no underline or reverse video to draw."""
    style = segment.style
    return not segment.control and (style is None or (style.bgcolor is None and not style.underline
                                                      and not style.reverse))


def _blank(segment: Segment) -> bool:
    return _plain(segment) and not segment.text.strip(" ")


def _number(value: float | None, precision: int) -> str:
    return "—" if value is None else format_value(value, precision)


def _gap(ours: float, theirs: float | None) -> str:
    if theirs is None or ours == theirs:
        return "—" if theirs is None else "0"
    return format_value(abs(ours - theirs), 2)


def check_view(report: CheckReport, precision: int = 12) -> Group:
    """The witnesses table, explanations of kinks, local mismatches, the user's numbers, the verdict."""
    result = report.result
    graph = result.graph
    labels = graph.labels()
    out = result.output
    if not report.variables and not report.expectations:
        return Group(Text("Nothing to check: the program has no variables."))
    parts: list = [Text.assemble(("Check", "bold"), " — ", _MODE_TEXT[report.mode])]
    # Seven columns in 80: one space of padding on the right only.
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
    for header, justify in ((Text(f"∂{out}/∂"), "left"), ("reverse mode", "right"), ("SymPy", "right"),
                            ("finite diff.", "right"), ("Δ SymPy", "right"), ("Δ FD", "right"), ("verdict", "left")):
        table.add_column(header, justify=justify, no_wrap=True)
    for v in report.variables:
        verdict, style = _VERDICT_STYLE[v.verdict]
        table.add_row(Text(v.name), format_value(v.ad, precision), _number(v.sympy, precision),
                      _number(v.fd, min(precision, _FD_DIGITS)), _gap(v.ad, v.sympy), _gap(v.ad, v.fd),
                      Text(verdict, style=style))
    parts.append(Trimmed(table))
    for v in report.variables:
        if v.detail is None and v.verdict == OK:
            continue
        line = Text.assemble((v.name, "bold"), ": ", _VERDICT_TEXT[v.verdict])
        if v.verdict in (NOT_DIFFERENTIABLE, CONVENTION, UNDEFINED) and (v.left is not None or v.right is not None):
            line.append(f"; one-sided derivatives: left {_one_sided(v.left, precision)}, "
                        f"right {_one_sided(v.right, precision)}")
        if v.detail:
            line.append("; ")
            line.append(v.detail)
        parts.append(line)
    if report.mode != UNAVAILABLE and report.local_checked:
        confirmed = report.local_checked - len(report.local_mismatches)
        parts.append(Text(f"SymPy's derivative of each op confirms {confirmed:,} of {report.local_checked:,} "
                          "local partials"))
    if report.local_mismatches:
        parts.append(Trimmed(_local_mismatch_table(report, labels, precision)))
    if report.expectations:
        parts.append(Trimmed(_expectation_table(report, precision)))
    if report.first_wrong is not None:
        parts.append(_first_wrong_view(report, labels, precision))
    for note in report.notes:
        parts.append(Text(note, style="dim"))
    parts.append(_conclusion(report))
    return Group(*parts)


def _witness_disagrees(report: CheckReport) -> bool:
    return any(v.verdict == MISMATCH for v in report.variables) or bool(report.local_mismatches)


def _conclusion(report: CheckReport) -> Text:
    if _witness_disagrees(report):
        return Text("✗ a witness disagrees with reverse mode", style="bold red")
    if not report.ok:
        return Text("✗ some of your numbers are wrong (the witnesses agree with each other)", style="bold red")
    return Text("✓ the witnesses agree" + (" and so do your numbers" if report.expectations else ""),
                style="bold green")


def _one_sided(value: float | None, precision: int) -> str:
    if value is None:
        return "undefined"
    if math.isinf(value):  # the difference quotients diverge: no step-size artefact as a number
        return ("+inf" if value > 0 else "-inf") + " (unbounded)"
    return format_value(value, min(precision, 8))


def _local_mismatch_table(report: CheckReport, labels: list[str], precision: int) -> Table:
    graph = report.result.graph
    table = Table(title="Local partials that SymPy does not confirm", box=box.SIMPLE_HEAD, show_edge=False)
    for header in ("step", "partial", "op table", "SymPy"):
        table.add_column(header)
    for mismatch in report.local_mismatches:
        edge = mismatch.edge
        partial = edge_formula(graph, labels, edge.consumer, edge.slot)
        table.add_row(Text(f"{labels[edge.consumer]} = {graph.formula(edge.consumer, labels)}"),
                      Text(f"∂{labels[edge.consumer]}/∂{labels[edge.input]} = {partial}"),
                      format_value(edge.local, precision), format_value(mismatch.sympy, precision))
    return table


def _expectation_table(report: CheckReport, precision: int) -> Table:
    out = report.result.output
    doubt = "reverse mode failed its check, so the right column is in doubt" if _witness_disagrees(report) else None
    table = Table(title="Your numbers", caption=doubt, box=box.SIMPLE_HEAD, show_edge=False)
    for header, justify in ((Text(f"∂{out}/∂"), "left"), ("yours", "right"), ("right", "right"), ("", "left")):
        table.add_column(header, justify=justify)
    for e in report.expectations:
        table.add_row(Text(e.name), format_value(e.expected, precision), format_value(e.right, precision),
                      Text("✓", style="green") if e.ok else Text("✗ wrong", style="bold red"))
    return table


def _first_wrong_view(report: CheckReport, labels: list[str], precision: int) -> Group:
    graph = report.result.graph
    first = report.first_wrong
    out = report.result.output
    name = labels[first.node]
    lines = [Text.assemble(("First wrong step", "bold red"), " (in backward order): ", (f"∂{out}/∂{name}", "bold"),
                           f" is {format_value(first.right, precision)}, not {format_value(first.expected, precision)}")]
    if first.node == graph.output:
        lines.append(Text("  the output's gradient with respect to itself is 1 by definition"))
    for edge in report.first_wrong_edges:
        consumer = labels[edge.consumer]
        local = format_value(edge.local, precision)
        formula = edge_formula(graph, labels, edge.consumer, edge.slot)
        local_text = local if formula == local else f"{formula} = {local}"  # "1", not "1 = 1"
        lines.append(Text(
            f"  via {consumer} = {graph.formula(edge.consumer, labels)}: upstream ∂{out}/∂{consumer} = "
            f"{format_value(edge.upstream, precision)} × local ∂{consumer}/∂{name} = {local_text} "
            f"→ {format_value(edge.contribution, precision)}"))
    if len(report.first_wrong_edges) > 1:
        lines.append(Text(f"  {name} is a branch node: the sum of the contributions is {format_value(first.right, precision)}"))
    return Group(*lines)


def check_object(report: CheckReport) -> dict:
    """The "check" member of `grad --check --json` and `check --json`."""
    graph = report.result.graph
    labels = graph.labels()
    tolerances = report.tolerances
    variables = {}
    for v in report.variables:
        entry = {"ad": json_value(v.ad), "sympy": _json_or_none(v.sympy), "fd": _json_or_none(v.fd),
                 "verdict": v.verdict}
        if v.verdict in (NOT_DIFFERENTIABLE, CONVENTION, UNDEFINED):
            entry["one_sided"] = {"left": _json_or_none(v.left), "right": _json_or_none(v.right)}
        if v.detail:
            entry["detail"] = v.detail
        variables[v.name] = entry
    document = {
        "ok": report.ok,
        "mode": report.mode,
        "tolerances": {"sympy": {"rtol": tolerances.rtol, "atol": tolerances.atol},
                       "fd": {"rtol": tolerances.fd_rtol, "atol": tolerances.fd_atol}},
        "variables": variables,
        "locals": {
            "checked": report.local_checked,
            "mismatches": [{"node": labels[m.edge.consumer], "formula": graph.formula(m.edge.consumer, labels),
                            "input": labels[m.edge.input], "partial": edge_formula(graph, labels, m.edge.consumer, m.edge.slot),
                            "ad": json_value(m.edge.local), "sympy": json_value(m.sympy)}
                           for m in report.local_mismatches],
        },
        "notes": list(report.notes),
    }
    if report.expectations:
        document["expect"] = {e.name: {"expected": json_value(e.expected), "right": json_value(e.right), "ok": e.ok}
                              for e in report.expectations}
    if report.first_wrong is not None:
        first = report.first_wrong
        document["first_wrong"] = {
            "name": first.name, "expected": json_value(first.expected), "right": json_value(first.right),
            "steps": [{"via": labels[e.consumer], "formula": graph.formula(e.consumer, labels),
                       "upstream": json_value(e.upstream), "local": json_value(e.local),
                       "local_formula": edge_formula(graph, labels, e.consumer, e.slot),
                       "contribution": json_value(e.contribution)} for e in report.first_wrong_edges],
        }
    return document


def _json_or_none(value: float | None):
    return None if value is None else json_value(value)


# ----- gradcli diff -----


def diff_view(diff: DiffResult, precision: int = 12) -> Trimmed:
    """∂f/∂x with SymPy's pretty formula (and its value at the point)."""
    out = diff.graph.output_name
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("formula", no_wrap=True)
    if diff.result is not None:
        table.add_column("value", justify="right", style="cyan")
    for d in diff.derivatives:
        row = [Text(f"∂{out}/∂{d.name}"), Text(d.pretty)]
        if diff.result is not None:
            row.append(_number(d.value, precision))
        table.add_row(*row)
    return Trimmed(table)


def diff_lines(diff: DiffResult, latex: bool = False, precision: int = 12) -> list[str]:
    """One line per derivative: `df/dx = z` (with --at `df/dx = z = 3`), or LaTeX."""
    out = diff.graph.output_name
    lines = []
    for d in diff.derivatives:
        if latex:
            line = f"{d.latex_left} = {d.latex}"
        else:
            line = f"d{out}/d{d.name} = {d.plain}"
        if diff.result is not None:
            line += f" = {_number(d.value, precision)}"
        lines.append(line)
    return lines


def diff_object(diff: DiffResult) -> dict:
    """{"expression", "output", "derivatives": {name: formula}, ["at", "values"], "warnings"}."""
    document = {"expression": diff.graph.source, "output": diff.graph.output_name,
                "derivatives": {d.name: d.plain for d in diff.derivatives}}
    if diff.result is not None:
        document["at"] = {name: json_value(v) for name, v in diff.result.at.items()}
        document["values"] = {d.name: _json_or_none(d.value) for d in diff.derivatives}
    document["warnings"] = (all_warnings(diff.result) if diff.result else []) + diff.notes
    return document


def value_line(result, precision: int = 12) -> Text:
    """`f = -12`: the main result of `check`, printed before the (slower) check."""
    return Text.assemble((result.output, "bold"), " = ", (format_value(result.value, precision), "bold cyan"))
