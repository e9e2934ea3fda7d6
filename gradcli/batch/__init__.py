"""Value and gradient of one program at many points, over NumPy arrays: the Python API.

    >>> from gradcli.batch import gradients
    >>> b = gradients("x*y", x=[1, 2, 3], y=10)
    >>> b.value.tolist(), b.gradient["x"].tolist()
    ([10.0, 20.0, 30.0], [10.0, 10.0, 10.0])

The modules: chunk (the maths of one chunk of rows), pointfile (reading and writing points
files), run (`grad --points`, chunk by chunk from a file); the progress bar and the summary
are rendered by gradcli.render.progress. NumPy is imported only when something is computed.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Mapping

from ..errors import BindingError
from ..graph import Graph
from ..parse import parse
from .chunk import differentiate_chunk, make_plan, rows_per_chunk

SCALAR_ROWS_ONLY = ("--points runs scalar programs row by row; vector and matrix values are not supported with "
                    "--points yet")


@dataclass
class Batch:
    """Value and gradient of a program at many points; rows with an error hold nan."""

    graph: Graph
    at: dict[str, object]  # each variable's column (an array), or its one value for every row (a float)
    value: object  # ndarray, one entry per row
    gradient: dict[str, object]  # name -> ndarray of ∂output/∂name
    errors: dict[int, str] = field(default_factory=dict)  # row -> why it has no result
    notes: dict[int, list[str]] = field(default_factory=dict)  # row -> what `grad` warns there (kinks, ...)
    warnings: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return self.graph.output_name


def gradients(source: str, at: Mapping[str, object] | None = None, /, **columns: object) -> Batch:
    """Value and gradient at many points: `gradients("x*y", x=[1, 2], y=3)`.

    Each variable gets a sequence or array (one value per row) or a number (the same on every
    row); names that cannot be keywords go in the mapping `at`, as for gradcli.grad.
    """
    return differentiate_many(parse(source), {**(at or {}), **columns})


def differentiate_many(graph: Graph, columns: Mapping[str, object], wrt: list[str] | None = None,
                       chunk_rows: int | None = None) -> Batch:
    """Value and gradient of a parsed program at every row of `columns`, chunk by chunk
    (`chunk_rows` rows at a time: fewer use less memory). A column is one number per row, so a
    program on vectors and matrices is refused, as `grad --points` refuses it."""
    import numpy as np

    if graph.uses_arrays:
        raise BindingError(SCALAR_ROWS_ONLY)
    at: dict[str, object] = {}
    arrays: dict[str, object] = {}
    for name, given in columns.items():
        try:
            column = np.asarray(given, dtype=np.float64)
        except (TypeError, ValueError):
            raise BindingError(f"the values of {name} must be numbers") from None
        if column.ndim == 0:
            at[name] = given if isinstance(given, (int, float)) else column.item()
        elif column.ndim == 1:
            arrays[name] = column
        else:
            raise BindingError(f"the values of {name} must be one-dimensional, not of shape {column.shape}")
    lengths = {len(column) for column in arrays.values()}
    if len(lengths) > 1:
        shapes = ", ".join(f"{name}: {len(column)}" for name, column in arrays.items())
        raise BindingError(f"the columns have different lengths: {shapes}")
    rows = lengths.pop() if lengths else 1
    plan, warnings = make_plan(graph, at, arrays, wrt)
    step = chunk_rows or rows_per_chunk(graph)
    table = np.empty((1 + len(plan.partials), rows))  # one block: far fewer page faults than one array each
    value, *partials = table
    errors: dict[int, str] = {}
    notes: dict[int, list[str]] = {}
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        chunk = differentiate_chunk(plan, {name: arrays[name][start:stop] for name in plan.columns}, stop - start)
        value[start:stop] = chunk.value
        for whole, part in zip(partials, chunk.partials):
            whole[start:stop] = part
        for row, message in itertools.chain(chunk.math_errors.items(), chunk.input_errors.items()):
            errors[start + row] = message
        notes.update((start + row, texts) for row, texts in chunk.notes.items())
    if errors:
        failed = np.fromiter(errors, dtype=np.intp, count=len(errors))
        for column in (value, *partials):
            column[failed] = np.nan
    point = {name: arrays[name] if name in arrays else plan.at[name] for name in graph.variables}
    return Batch(graph, point, value, dict(zip(plan.partials, partials)), dict(sorted(errors.items())), notes,
                 warnings)
