"""The output of `gradcli diff`: a table of pretty formulas, plain or LaTeX lines, or a JSON object.

User text (names, formulas built from names) goes into Rich only as Text, never as markup.
"""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..diff import DiffResult
from ..formatting import json_value
from ..i18n import tr
from .check import FirstThatFits, Trimmed, number_or_dash
from .json import SCHEMA_VERSION, all_warnings, program_fields

STEP_EXPLAINED = "{step}(x) is the Heaviside step function: 0 for x < 0, 1 for x > 0, ½ at x = 0 (SymPy's value)"


def _step_note(diff: DiffResult) -> str | None:
    """The one line under the result that says what the step function's name means, if it occurs."""
    return tr(STEP_EXPLAINED, step=diff.step_name) if any(d.has_step for d in diff.derivatives) else None


def diff_view(diff: DiffResult, precision: int = 12) -> Group:
    """∂f/∂x with SymPy's pretty formula (and its value at the point): a table where it fits,
    else each partial's name (and value) above its formula. A 2-D formula is never folded: a
    line wider than the terminal is left for the terminal to wrap."""
    out = diff.graph.output_name
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column(tr("formula"), no_wrap=True)
    if diff.result is not None:
        table.add_column(tr("value"), justify="right", style="cyan", no_wrap=True)
    stacked = []
    for d in diff.derivatives:
        row = [Text(f"∂{out}/∂{d.name}"), Text(d.pretty)]
        heading = Text(f"∂{out}/∂{d.name}", style="bold")
        if diff.result is not None:
            row.append(number_or_dash(d.value, precision))
            heading.append(" = ")
            heading.append(number_or_dash(d.value, precision), style="cyan")
        table.add_row(*row)
        stacked.append(heading)
        stacked.append(Text("\n".join(("  " + line).rstrip() for line in d.pretty.splitlines()), no_wrap=True,
                            overflow="ignore"))
    parts = [FirstThatFits(Trimmed(table), Group(*stacked))]
    note = _step_note(diff)
    if note:
        parts.append(Trimmed(Text(note, style="dim")))
    return Group(*parts)


def diff_lines(diff: DiffResult, latex: bool = False, precision: int = 12) -> list[str]:
    """One line per derivative: `df/dx = z` (with --at `df/dx = z = 3`), or LaTeX (where a
    comment line under the formulas says what the step function's name means)."""
    out = diff.graph.output_name
    lines = []
    for d in diff.derivatives:
        if latex:
            line = f"{d.latex_left} = {d.latex}"
        else:
            line = f"d{out}/d{d.name} = {d.plain}"
        if diff.result is not None:
            line += f" = {number_or_dash(d.value, precision)}"
        lines.append(line)
    note = _step_note(diff)
    if latex and note:
        lines.append(f"% {note}")
    return lines


def diff_object(diff: DiffResult, data: list[str] = ()) -> dict:
    """{"version", "expression", "output", ["data"], "derivatives": {name: formula}, ["at", "values"], "warnings"}.

    The formulas are SymPy's own text (Heaviside(x) for the step function), which SymPy reads back.
    """
    document = {"version": SCHEMA_VERSION, **program_fields(diff.graph.source), "output": diff.graph.output_name}
    if data:
        document["data"] = list(data)
    document["derivatives"] = {d.name: d.plain for d in diff.derivatives}
    if diff.result is not None:
        document["at"] = {name: json_value(v) for name, v in diff.result.at.items()}
        document["values"] = {d.name: None if d.value is None else json_value(d.value) for d in diff.derivatives}
    document["warnings"] = (all_warnings(diff.result) if diff.result else list(diff.graph.notes)) + diff.notes
    return document
