"""How numbers are shown, in one place, so the screen, JSON and messages agree.

A value is a float, or (for vectors and matrices) a NumPy array; floats are tested first, so the
scalar path never touches NumPy.
"""

from __future__ import annotations

import math

DEFAULT_PRECISION = 12
MAX_GRID_ENTRIES = 64  # an array of at most this many entries (and at most 2 axes) prints in full


def format_value(value, precision: int = DEFAULT_PRECISION) -> str:
    """Up to `precision` significant digits: 100*2*1.1 shows as 220, -0.0 as 0; an array as
    format_array shows it."""
    if type(value) is not float and hasattr(value, "ndim"):
        return format_array(value, precision)
    if value != value:
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = format(value, f".{precision}g")
    return "0" if text == "-0" else text


def is_grid(array) -> bool:
    """Whether an array prints in full: at most MAX_GRID_ENTRIES entries and at most 2 axes."""
    return array.size <= MAX_GRID_ENTRIES and array.ndim <= 2


def format_array(array, precision: int = DEFAULT_PRECISION, full: bool = False) -> str:
    """`[[0.235, 0.47], [-0.393, 0.786]]` for a small array (or any, with `full`); a larger one as
    its shape, its first and last entries and its norm:
    `2048×2048 matrix: [0, 0] = 0.0123 … [2047, 2047] = -0.31, norm 12.5`."""
    if array.ndim == 0:
        return format_value(float(array), precision)
    if full or is_grid(array):
        return "".join(grid_lines(array, precision))
    return array_summary(array, precision)


def grid_lines(array, precision: int = DEFAULT_PRECISION, align: bool = False) -> list[str]:
    """An array (of at least one axis) as nested lists: one line, or with `align` one line per
    innermost list with the entries of each column right-aligned, as NumPy prints a matrix."""
    import numpy as np

    rows = [[format_value(x, precision) for x in row] for row in array.reshape(-1, array.shape[-1]).tolist()]
    if align:
        widths = [max(len(row[j]) for row in rows) for j in range(array.shape[-1])]
        rows = [[entry.rjust(width) for entry, width in zip(row, widths)] for row in rows]
    lead = array.ndim - 1  # brackets that open before a row and close after it
    lines = []
    for k, row in enumerate(rows):
        index = np.unravel_index(k, array.shape[:-1]) if lead else ()
        opening = _edges(index, array.shape, lambda k, n: k == 0)  # lists this row starts
        closing = _edges(index, array.shape, lambda k, n: k == n - 1)  # lists it ends
        text = " " * (lead - opening) + "[" * (opening + 1) + ", ".join(row) + "]" * (closing + 1)
        lines.append(text + ("," if k < len(rows) - 1 else ""))
    return lines if align else [" ".join(line.strip() for line in lines)]


def _edges(index, shape, at_edge) -> int:
    """How many of the innermost axes of a row's `index` are at an edge (the row starts or ends that many lists)."""
    count = 0
    for k, n in zip(reversed(index), reversed(shape[:-1])):
        if not at_edge(k, n):
            break
        count += 1
    return count


def array_summary(array, precision: int = DEFAULT_PRECISION) -> str:
    """`2048×2048 matrix: [0, 0] = 0.0123 … [2047, 2047] = -0.31, norm 12.5`."""
    import numpy as np

    from .i18n import tr
    from .shapes import shape_text

    kinds = {1: tr("vector of {n}", n=array.shape[0]), 2: tr("{shape} matrix", shape=shape_text(array.shape))}
    kind = kinds.get(array.ndim) or tr("{shape} array", shape=shape_text(array.shape))
    first = (0,) * array.ndim
    last = tuple(n - 1 for n in array.shape)
    finite = np.isfinite(array).all()
    norm = format_value(float(np.linalg.norm(array.ravel())) if finite else math.nan, precision)
    return tr("{kind}: {first} = {a} … {last} = {b}, norm {norm}", kind=kind,
              first=f"[{', '.join(map(str, first))}]", a=format_value(float(array[first]), precision),
              last=f"[{', '.join(map(str, last))}]", b=format_value(float(array[last]), precision), norm=norm)


def json_value(value):
    """A JSON-safe number (RFC 8259 has no inf or nan, so those become strings); an array as nested
    lists of them, and anything of shape () as a plain number."""
    if type(value) is not float and hasattr(value, "ndim"):
        import numpy as np

        if value.ndim == 0:
            return json_value(float(value))
        finite = np.isfinite(value)
        if finite.all():
            return value.tolist()
        entries = value.astype(object)
        entries[np.isnan(value)] = "nan"
        entries[np.isposinf(value)] = "inf"
        entries[np.isneginf(value)] = "-inf"
        return entries.tolist()
    if value != value:
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value
