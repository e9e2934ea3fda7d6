"""Rich views and JSON objects of a check (`check`, `grad --check`).

User text (names, formulas built from names) goes into Rich only as Text, never as markup.
Every human text goes through i18n (tr for our own words, message for the English details
and notes the check writes), so the view speaks the chosen language.
"""

from __future__ import annotations

import math

from rich import box
from rich.console import Console, ConsoleOptions, Group
from rich.measure import Measurement
from rich.padding import Padding
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from ..check import (
    CONVENTION, LOCAL, MISMATCH, NOT_DIFFERENTIABLE, OK, UNAVAILABLE, UNCHECKED, UNDEFINED, WHOLE, CheckReport,
    VariableCheck,
)
from ..formatting import format_value, json_value
from ..i18n import message, tr, translator
from ..shapes import element_text
from ..trace import edge_formula
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
    WHOLE: "SymPy differentiated the whole expression (evaluated to {digits} digits)",
    LOCAL: "SymPy checked each node's local partials (local mode)",
    UNAVAILABLE: "SymPy unavailable: finite differences only",
}
_COMPONENTWISE_TEXT = "SymPy differentiated the whole expression, one symbol per entry (evaluated to {digits} digits)"


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


def number_or_dash(value: float | None, precision: int) -> str:
    """A number, or — where a witness gave none."""
    return "—" if value is None else format_value(value, precision)


def _gap(ours: float, theirs: float | None) -> str:
    if theirs is None or ours == theirs:
        return "—" if theirs is None else "0"
    return format_value(abs(ours - theirs), 2)


class FirstThatFits:
    """The first of several layouts whose natural width fits the console; else the last one.

    A check table has seven columns: at 60 columns it drops the Δ columns (they are the
    differences of the ones shown), at 40 it stacks each variable's numbers under its name.
    """

    def __init__(self, *layouts):
        self.layouts = layouts

    def chosen(self, console: Console, options: ConsoleOptions):
        unlimited = options.update_width(1_000_000)
        for layout in self.layouts[:-1]:
            if Measurement.get(console, unlimited, layout).maximum <= options.max_width:
                return layout
        return self.layouts[-1]

    def __rich_console__(self, console: Console, options: ConsoleOptions):
        yield self.chosen(console, options)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.chosen(console, options))


def check_view(report: CheckReport, precision: int = 12) -> Trimmed:
    """The witnesses table, explanations of kinks, local mismatches, the user's numbers, the verdict."""
    result = report.result
    graph = result.graph
    labels = graph.labels()
    if not report.variables and not report.expectations:
        return Trimmed(Text(tr("Nothing to check: the program has no variables.")))
    on_arrays = result.shapes is not None
    mode = _COMPONENTWISE_TEXT if on_arrays and report.mode == WHOLE else _MODE_TEXT[report.mode]
    parts: list = [Text.assemble((tr("Check"), "bold"), " — ", tr(mode, digits=DIGITS)),
                   _witness_layouts(report, precision)]
    if on_arrays:
        parts.append(Text(tr("each row: the entry farthest from its witnesses; entries: checked / in all"),
                          style="dim"))
    for v in report.variables:
        if v.detail is None and v.verdict == OK:
            continue
        line = Text.assemble((_row_label(v), "bold"))
        if v.element is not None and v.verdicts:  # an entry of an array: how many entries are like it
            line.append(tr(" ({count} of {checked} entries)", count=f"{v.verdicts[v.verdict]:,}",
                           checked=f"{v.entries_checked:,}"))
        line.append(": " + tr(_VERDICT_TEXT[v.verdict]))
        if v.verdict != OK and (v.left is not None or v.right is not None):
            line.append("; " + tr("one-sided derivatives: left {left}, right {right}",
                                  left=_one_sided(v.left, precision), right=_one_sided(v.right, precision)))
        if v.detail:
            line.append("; ")
            line.append(message(v.detail))
        parts.append(line)
    if report.mode != UNAVAILABLE and report.local_checked:
        confirmed = report.local_checked - len(report.local_mismatches)
        parts.append(Text(tr("SymPy's derivative of each op confirms {confirmed} of {checked} local partials",
                             confirmed=f"{confirmed:,}", checked=f"{report.local_checked:,}")))
    if report.local_mismatches:
        parts.append(_local_mismatch_table(report, labels, precision))
    if report.expectations:
        parts.append(_expectation_table(report, precision))
    if report.first_wrong is not None:
        parts.append(_first_wrong_view(report, labels, precision))
    for note in report.notes:
        parts.append(Text(message(note), style="dim"))
    parts.append(_conclusion(report))
    return Trimmed(Group(*parts))


_COLUMNS = (("reverse mode", "right"), ("SymPy", "right"), ("finite diff.", "right"), ("Δ SymPy", "right"),
            ("Δ FD", "right"), ("verdict", "left"))
_ENTRIES_COLUMN = ("entries", "right")  # vectors and matrices: entries checked / entries, before the verdict


def _row_label(v: VariableCheck) -> str:
    """The variable, or on vectors and matrices the entry its numbers are of (`W[1, 2]`)."""
    if v.entries is None:
        return v.name
    if v.element is None:  # array_check.DIRECTION
        return tr("{name} along a random direction", name=v.name)
    return element_text(v.name, v.element)


def _witness_layouts(report: CheckReport, precision: int) -> FirstThatFits:
    """The witnesses of each variable: a table with the differences, without them, or stacked."""
    out = report.result.output
    on_arrays = report.result.shapes is not None
    columns = (*_COLUMNS[:5], _ENTRIES_COLUMN, _COLUMNS[5]) if on_arrays else _COLUMNS
    rows = []
    for v in report.variables:
        verdict, style = _VERDICT_STYLE[v.verdict]
        entries = (f"{v.entries_checked:,}/{v.entries:,}",) if on_arrays else ()
        rows.append((Text(_row_label(v)), format_value(v.ad, precision), number_or_dash(v.sympy, precision),
                     number_or_dash(v.fd, min(precision, _FD_DIGITS)), _gap(v.ad, v.sympy), _gap(v.ad, v.fd),
                     *entries, Text(tr(verdict), style=style)))
    layouts = []
    every = range(len(columns))
    for shown, gap in ((every, 1), ([k for k in every if k not in (3, 4)], 0)):  # without the Δ columns, closer
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 0, 0, gap))
        table.add_column(Text(f"∂{out}/∂"), no_wrap=True)
        for k in shown:
            header, justify = columns[k]
            table.add_column(tr(header), justify=justify, no_wrap=True)
        for row in rows:
            table.add_row(row[0], *[row[1 + k] for k in shown])
        layouts.append(table)
    stacked = []
    for row in rows:
        stacked.append(Text.assemble((f"∂{out}/∂", ""), (row[0].plain, "bold"), "  ", row[-1]))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True)
        grid.add_column(justify="right", no_wrap=True)
        for k in range(len(columns) - 1):
            grid.add_row(tr(columns[k][0]), row[1 + k])
        stacked.append(Padding(grid, (0, 0, 0, 2), expand=False))
    layouts.append(Group(*stacked))
    return FirstThatFits(*layouts)


def _witness_disagrees(report: CheckReport) -> bool:
    return not report.witnesses_agree


def _conclusion(report: CheckReport) -> Text:
    """The last line: it says "agree" only when every witness gave the same number."""
    if _witness_disagrees(report):
        return Text(tr("✗ a witness disagrees with reverse mode"), style="bold red")
    all_agree = all(v.verdict == OK for v in report.variables)
    if not report.expectations_match:
        if all_agree:
            return Text(tr("✗ some of your numbers are wrong (the witnesses agree with each other)"), style="bold red")
        return Text(tr("✗ some of your numbers are wrong (no witness contradicts reverse mode)"), style="bold red")
    if all_agree:
        text = "✓ the witnesses agree and so do your numbers" if report.expectations else "✓ the witnesses agree"
        return Text(tr(text), style="bold green")
    names = ", ".join(v.name for v in report.variables if v.verdict != OK)
    text = ("✓ no witness contradicts reverse mode, and your numbers match; for {names} see above"
            if report.expectations else "✓ no witness contradicts reverse mode; for {names} see above")
    return Text(tr(text, names=names), style="bold green")


def _one_sided(value: float | None, precision: int) -> str:
    if value is None:
        return tr("undefined")
    if math.isinf(value):  # the difference quotients diverge: no step-size artefact as a number
        return tr("{infinity} (unbounded)", infinity="+inf" if value > 0 else "-inf")
    return format_value(value, min(precision, 8))


def _local_mismatch_table(report: CheckReport, labels: list[str], precision: int) -> Table:
    graph, values, t = report.result.graph, report.result.values, translator()
    table = Table(title=tr("Local partials that SymPy does not confirm"), box=box.SIMPLE_HEAD, show_edge=False)
    for header in ("step", "partial"):
        table.add_column(tr(header), overflow="fold")
    for header in ("op table", "SymPy"):
        table.add_column(tr(header), justify="right", no_wrap=True)
    for mismatch in report.local_mismatches:
        edge = mismatch.edge
        partial = edge_formula(graph, labels, edge.consumer, edge.slot, values, t)
        table.add_row(Text(f"{labels[edge.consumer]} = {graph.formula(edge.consumer, labels)}"),
                      Text(f"∂{labels[edge.consumer]}/∂{labels[edge.input]} = {partial}"),
                      format_value(edge.local, precision), format_value(mismatch.sympy, precision))
    return table


def _expectation_table(report: CheckReport, precision: int) -> Table:
    """Your numbers as you typed them (-0.20 stays -0.20), the right ones, and a verdict for each."""
    out = report.result.output
    doubt = (tr("reverse mode failed its check, so the right column is in doubt")
             if _witness_disagrees(report) else None)
    table = Table(title=tr("Your numbers"), caption=doubt, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  padding=(0, 0, 0, 1))
    table.add_column(Text(f"∂{out}/∂"), overflow="fold")
    for header, justify in (("yours", "right"), ("right", "right"), ("verdict", "left")):
        table.add_column(tr(header), justify=justify, no_wrap=True)
    for e in report.expectations:
        yours = e.typed.strip() if e.typed else format_value(e.expected, precision)
        table.add_row(Text(e.name), Text(yours), format_value(e.right, precision),
                      Text("✓", style="green") if e.ok else Text(tr("✗ wrong"), style="bold red"))
    return table


def _first_wrong_view(report: CheckReport, labels: list[str], precision: int) -> Group:
    """The first wrong number in backward order, and the steps that give its right value, as the trace shows them."""
    graph, values, t = report.result.graph, report.result.values, translator()
    first = report.first_wrong
    out = report.result.output
    name = labels[first.node]
    yours = first.typed.strip() if first.typed else format_value(first.expected, precision)
    lines = [Text.assemble((tr("First wrong step"), "bold red"), tr(" (in backward order): "),
                           (f"∂{out}/∂{name}", "bold"),
                           tr(" is {right}, not {yours}", right=format_value(first.right, precision), yours=yours))]
    if first.node == graph.output:
        lines.append(Text("  " + tr("the output's gradient with respect to itself is 1 by definition")))
    for edge in report.first_wrong_edges:
        consumer = labels[edge.consumer]
        local = format_value(edge.local, precision)
        formula = edge_formula(graph, labels, edge.consumer, edge.slot, values, t)
        local_text = local if formula == local else f"{formula} = {local}"  # "1", not "1 = 1"
        lines.append(Text("  " + tr(
            "via {step}: upstream {upstream} × local {local} → {contribution}",
            step=f"{consumer} = {graph.formula(edge.consumer, labels)}",
            upstream=f"∂{out}/∂{consumer} = {format_value(edge.upstream, precision)}",
            local=f"∂{consumer}/∂{name} = {local_text}", contribution=format_value(edge.contribution, precision))))
    if len(report.first_wrong_edges) > 1:
        lines.append(Text("  " + tr("{name} is a branch node: the sum of the contributions is {total}",
                                    name=name, total=format_value(first.right, precision))))
    return Group(*lines)


def check_object(report: CheckReport) -> dict:
    """The "check" member of `grad --check --json` and `check --json`."""
    graph, values = report.result.graph, report.result.values
    labels = graph.labels()
    tolerances = report.tolerances
    variables = {}
    for v in report.variables:
        entry = {"ad": json_value(v.ad), "sympy": _json_or_none(v.sympy), "fd": _json_or_none(v.fd),
                 "verdict": v.verdict}
        if v.verdict in (NOT_DIFFERENTIABLE, CONVENTION, UNDEFINED) or v.left is not None or v.right is not None:
            entry["one_sided"] = {"left": _json_or_none(v.left), "right": _json_or_none(v.right)}
        if v.detail:
            entry["detail"] = v.detail
        if v.entries is not None:  # vectors and matrices: the entry the numbers are of (None: the random direction)
            entry.update(element=None if v.element is None else list(v.element), entries=v.entries,
                         entries_checked=v.entries_checked, verdicts=v.verdicts)
        variables[v.name] = entry
    document = {
        "ok": report.ok,
        "witnesses_agree": report.witnesses_agree,
        "expectations_match": report.expectations_match,
        "mode": report.mode,
        "tolerances": {"sympy": {"rtol": tolerances.rtol, "atol": tolerances.atol},
                       "fd": {"rtol": tolerances.fd_rtol, "atol": tolerances.fd_atol}},
        "variables": variables,
        "locals": {
            "checked": report.local_checked,
            "mismatches": [{"node": labels[m.edge.consumer], "formula": graph.formula(m.edge.consumer, labels),
                            "input": labels[m.edge.input],
                            "partial": edge_formula(graph, labels, m.edge.consumer, m.edge.slot, values),
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
                       "local_formula": edge_formula(graph, labels, e.consumer, e.slot, values),
                       "contribution": json_value(e.contribution)} for e in report.first_wrong_edges],
        }
    return document


def _json_or_none(value: float | None):
    return None if value is None else json_value(value)
