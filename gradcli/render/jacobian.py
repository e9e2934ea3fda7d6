"""`gradcli jacobian`: the value, then each Jacobian as a matrix with labelled rows and columns.

Rows are the output's entries (a[0], a[1], ...), columns the variable's (z[0], z[1], ...); a
Jacobian of higher rank is flattened to that matrix in C order, and says so. The scalar
variables share one matrix, a column each, so that a scalar output's Jacobian reads as what it
is: the gradient as a 1×n row. Where it is true and cheap to see, a line says what a student
should notice: a diagonal Jacobian (an elementwise map), the identity. A matrix too large to read
is summarised as formatting.array_summary does, unless `full`.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

from rich.console import Group
from rich.text import Text

from ..formatting import array_summary, format_array, format_value, is_grid, json_value
from ..jacobian import JacobianResult
from ..shapes import element_text, shape_text
from .json import all_warnings, shapes_object, value_object
from .text import GRAD, HEADING, LEGEND, VALUE, Columns


def jacobian_object(result: JacobianResult) -> dict:
    """`jacobian --json`: eval's value object (the value as nested lists) with "shapes" (every
    variable, named intermediate and the output), "jacobian" by name (output axes first) and
    "warnings" (kink notes included), as `grad --json` has them."""
    document = value_object(result.graph, result.at, result.value)
    document["shapes"] = shapes_object(result)
    if result.data:
        document["data"] = result.data
    document["jacobian"] = {name: json_value(matrix) for name, matrix in result.jacobian.items()}
    document["warnings"] = all_warnings(result)
    return document


class _Matrix(NamedTuple):
    """One block of the view: the Jacobian with respect to `names` as rows × columns."""

    names: list[str]
    matrix: object  # a 2-D ndarray
    whole: object  # the same in its own shape (output's + variable's), as a summary names its entries
    shape: tuple[int, ...]  # the variable's (of one name; () for the scalars together)
    columns: list[str]  # the labels of the columns


def jacobian_view(result: JacobianResult, precision: int = 12, full: bool = False,
                  t: Callable[[str], str] | None = None) -> Group:
    """The value line, then a block per array variable and one for the scalar variables together."""
    from ..i18n import translator

    t = t or translator()
    blocks = [_value_line(result, precision, full, t)]
    if not result.jacobian:
        empty = Columns()
        empty.line((t("no variables: the value is a constant, and there is no Jacobian"), LEGEND))
        blocks.append(empty)
    for matrix in _matrices(result):
        blocks.append(_block(result, matrix, precision, full, t))
    return Group(*blocks)


def _value_line(result: JacobianResult, precision: int, full: bool, t: Callable[[str], str]) -> Text:
    """`a = [0.622, 0.269, 0.881]  (3)`: the output's value and its shape."""
    value = result.value
    shown = format_value(value, precision) if type(value) is float else format_array(value, precision, full)
    return Text.assemble((result.output, HEADING), " = ", (shown, "bold " + VALUE),
                         (f"  ({t(shape_text(result.output_shape))})", LEGEND))


def _matrices(result: JacobianResult) -> list[_Matrix]:
    """Each array variable's Jacobian as a matrix, and the scalar variables' side by side, in one
    matrix placed where the first of them comes."""
    import numpy as np

    rows = math.prod(result.output_shape)
    matrices: list[_Matrix] = []
    scalars = [name for name in result.jacobian if not result.shape_of(name)]
    for name, jacobian in result.jacobian.items():
        shape = result.shape_of(name)
        if shape:
            columns = [element_text(name, index) for index in np.ndindex(shape)]
            matrices.append(_Matrix([name], np.reshape(jacobian, (rows, -1)), jacobian, shape, columns))
        elif name == scalars[0]:
            matrix = np.column_stack([np.reshape(result.jacobian[scalar], rows) for scalar in scalars])
            matrices.append(_Matrix(scalars, matrix, matrix, (), scalars))
    return matrices


def _block(result: JacobianResult, block: _Matrix, precision: int, full: bool, t: Callable[[str], str]) -> Columns:
    """A heading with the matrix's size and where it comes from, the matrix (or its summary), and
    what is worth noticing about it."""
    import numpy as np

    out, out_shape = result.output, result.output_shape
    matrix = block.matrix
    count, columns = matrix.shape
    wrt = block.names[0] if len(block.names) == 1 else f"({', '.join(block.names)})"
    view = Columns("<" + ">" * columns, indent=2)
    view.line("")  # a blank line between the value (or the block above) and this one
    if len(block.names) == 1:
        heading = t("∂{out}/∂{name}  ({rows} × {columns}: output {out_shape}, {name} {shape})").format(
            out=out, name=wrt, rows=count, columns=columns, out_shape=t(shape_text(out_shape)),
            shape=t(shape_text(block.shape)))
    else:
        heading = t("∂{out}/∂{names}  ({rows} × {columns}: output {out_shape}, {count} scalar variables)").format(
            out=out, names=wrt, rows=count, columns=columns, out_shape=t(shape_text(out_shape)), count=columns)
    view.line((heading, HEADING))
    if len(out_shape) > 1 or len(block.shape) > 1:
        view.line(("  " + t("flattened: a row per entry of {out}, a column per entry of {name}, in C order "
                            "(the last index varies fastest)").format(out=out, name=wrt), LEGEND))
    if full or is_grid(matrix):
        view.row("", *((label, HEADING) for label in block.columns))
        for index, row in zip(np.ndindex(out_shape), matrix.tolist()):
            view.row((element_text(out, index), HEADING), *((format_value(entry, precision), GRAD) for entry in row))
    else:
        view.line(("  " + array_summary(np.asarray(block.whole), precision), GRAD),
                  ("  " + t("(--full prints every entry)"), LEGEND))
    notice = _notice(matrix)
    if notice:
        view.line(("  " + t(notice).format(out=out, name=wrt), LEGEND))
    return view


def _notice(matrix) -> str | None:
    """What a square Jacobian shows at a glance, when it is exactly so: the identity, or a
    diagonal matrix (each output entry moves with its own input entry only)."""
    import numpy as np

    rows, columns = matrix.shape
    if rows != columns or rows < 2:
        return None
    if np.array_equal(matrix, np.eye(rows)):
        return "the identity: ∂{out}/∂{name} = I ({out} moves exactly as {name} does)"
    if not np.count_nonzero(matrix[~np.eye(rows, dtype=bool)]):  # nan counts as not 0
        return "diagonal: each entry of {out} depends only on the matching entry of {name} (elementwise)"
    return None
