"""grad's table for a program on vectors and matrices: variable | shape | value | ∂f/∂variable.

A scalar, or a vector of up to MAX_ROW_ENTRIES entries, fits on its row. A matrix small enough
to read (formatting.is_grid) goes in a block under the table, its columns aligned, headed
`∂L/∂W  (2×3, W's shape)`: the shape convention (the gradient has the variable's shape) is the
first thing a student checks. Anything larger is summarised on its row (shape, corner entries,
norm), or with `full` shown whole in a block too. Like every table of gradcli, it fits the width
without cutting a number.
"""

from __future__ import annotations

from typing import Callable

from rich.console import Group

from ..api import Result, node_named
from ..formatting import array_summary, format_value, grid_lines, is_grid
from ..i18n import translator
from ..shapes import shape_text
from .text import GRAD, HEADING, VALUE, Columns, gradient_table, value_line

MAX_ROW_ENTRIES = 8  # a vector of at most this many entries is shown on its row
BELOW = "↓ below"  # in a cell whose value is shown in a block under the table


def array_gradient_table(result: Result, wrt: list[str] | None = None, precision: int = 12,
                         t: Callable[[str], str] | None = None, full: bool = False) -> Group:
    """The value line, the table with a shape column, then a block for each matrix (its value, then
    its gradient); with `full`, a block for every value too large for its row, however large."""
    t = t or translator()
    out = result.output
    names = wrt if wrt is not None else result.shown
    if not names:
        return gradient_table(result, wrt, precision, t)
    table = Columns("<<<<")
    table.row((t("variable"), HEADING), (t("shape"), HEADING), (t("value"), HEADING),
              (t("∂{out}/∂variable").format(out=out), HEADING))
    table.rule()
    blocks = []
    for name in names:
        node = node_named(result.graph, name)
        shape = shape_text(result.shapes[node])
        value, gradient = result.values[node], result.grads[node]
        table.row(name, t(shape), _cell(value, precision, t, full),
                  (_cell(gradient, precision, t, full), GRAD))
        if _in_block(value, full):
            blocks.append(_block(f"{name}  ({shape})", value, precision, VALUE))
            heading = t("∂{out}/∂{name}  ({shape}, {name}'s shape)").format(out=out, name=name, shape=shape)
            blocks.append(_block(heading, gradient, precision, GRAD))
    return Group(value_line(result, precision), table, *blocks)


def _in_block(value, full: bool = False) -> bool:
    """Whether a value is shown in a block under the table: a matrix, or a vector too long for its
    row, that is small enough to show whole (with `full`, any size)."""
    return (type(value) is not float and (value.ndim >= 2 or value.size > MAX_ROW_ENTRIES)
            and (full or is_grid(value)))


def _cell(value, precision: int, t: Callable[[str], str], full: bool = False) -> str:
    """A value as its row shows it: whole, a pointer to its block, or a summary."""
    if type(value) is float or value.ndim == 0:
        return format_value(float(value), precision)
    if _in_block(value, full):
        return t(BELOW)
    if value.size <= MAX_ROW_ENTRIES:
        return format_value(value, precision)
    return array_summary(value, precision)


def _block(heading: str, value, precision: int, style: str) -> Columns:
    """A heading, then the grid one row a line with aligned columns (a line too wide for the terminal
    wraps after a comma, indented, rather than lose a digit)."""
    block = Columns()
    block.line("")  # a blank line between the table (or the block above) and this one
    block.line((heading, HEADING))
    for line in grid_lines(value, precision, align=True):
        block.line(("  " + line, style))
    return block

