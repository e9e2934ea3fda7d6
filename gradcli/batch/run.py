"""`grad EXPR --points FILE`: read the points file chunk by chunk, compute, write, summarise."""

from __future__ import annotations

import os
import stat
import sys
from typing import Callable, Mapping

from ..errors import BindingError, ExitStatus, standard_input
from ..graph import Graph
from ..render.progress import PROGRESS_AFTER_SECONDS, Progress, Summary
from . import SCALAR_ROWS_ONLY
from .chunk import Plan, differentiate_chunk, make_plan, rows_per_chunk
from .pointfile import CsvWriter, JsonLinesWriter, Lines, open_points, output_columns, result_rows


def run_points(graph: Graph, at: Mapping[str, float], points_file: str, output_format: str = "csv",
               wrt: list[str] | None = None, *, warn: Callable[[str], None], say: Callable[[str], None],
               quiet: bool = False, terminal: bool | None = None, stdout=None, stderr=None,
               progress_after: float = PROGRESS_AFTER_SECONDS, chunk_rows: int | None = None,
               given_by: Mapping[str, str] | None = None) -> ExitStatus:
    """One output row per point of `points_file` ('-': standard input), `at` fixing variables for
    every row; errors and notes per row, a summary through `say`. `given_by` names the option
    that gave each of `at`'s values (--at, --at-file or --data; --at by default), for warnings.

    Exit status: 0, or 2 if some row's input is unusable, else 3 if some row has a math error
    (notes do not change it). `terminal` overrides whether stderr counts as a terminal (for the progress bar).
    """
    if graph.uses_arrays or any(getattr(value, "ndim", 0) for value in at.values()):
        raise BindingError(SCALAR_ROWS_ONLY)
    import numpy  # noqa: F401 - before any output: an installation without NumPy writes no half a file

    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    source_name = "standard input" if points_file == "-" else points_file
    stream, total_bytes = _open(points_file)
    try:
        lines = Lines(stream)
        points = open_points(lines, source_name)
        fixed_by = _fixed_by(graph, at, given_by or {})
        plan = _plan_for(graph, at, points.names, wrt, source_name, warn, fixed_by)
        writer = (CsvWriter if output_format == "csv" else JsonLinesWriter)(stdout, output_columns(plan))
        if terminal is None:
            terminal = stderr.isatty()
        progress = Progress(terminal and not quiet, total_bytes, stderr, progress_after)
        summary = Summary(source_name)
        try:
            ignored_key = _ignored_key_warner(fixed_by, warn)
            for inputs in points.chunks(plan.columns, chunk_rows or rows_per_chunk(graph), ignored_key):
                result = differentiate_chunk(plan, inputs.columns, inputs.rows)
                output, input_errors, math_errors = result_rows(plan, inputs, result)
                writer.write(output)
                summary.add(inputs.lines, input_errors, math_errors, result.notes)
                progress.update(summary.rows, lines.bytes)
        finally:
            progress.close()
    finally:
        if points_file != "-":
            stream.close()
    if summary.failed or summary.noted_rows:
        say(summary.text())
    if summary.input_failures:
        return ExitStatus.BAD_INPUT
    return ExitStatus.MATH_ERROR if summary.math_failures else ExitStatus.OK


def _open(points_file: str):
    if points_file == "-":
        return standard_input(), None
    try:
        stream = open(points_file, "rb")  # noqa: SIM115 - closed by run_points
    except OSError as error:
        raise BindingError(f"cannot read {points_file}: {error.strerror}") from None
    status = os.fstat(stream.fileno())
    return stream, status.st_size if stat.S_ISREG(status.st_mode) and status.st_size else None


def _fixed_by(graph: Graph, at: Mapping[str, float], given_by: Mapping[str, str]) -> dict[str, str]:
    """The variables that have one value for every row, each with the option that gave it."""
    return {name: given_by.get(name, "--at") for name in at if name in graph.variables}


def _ignored_key_warner(fixed_by: Mapping[str, str], warn: Callable[[str], None]) -> Callable[[str], None]:
    """What a JSON Lines file's reader calls with each key that names no column: a warning saying why."""
    def ignored_key(name: str) -> None:
        if name in fixed_by:
            warn(f"key {name!r} is ignored: {fixed_by[name]} gives {name} for every row")
        else:
            warn(f"key {name!r} is ignored: it is not a variable of the program")
    return ignored_key


def _plan_for(graph: Graph, at: Mapping[str, float], names: list[str] | None, wrt: list[str] | None,
              source_name: str, warn: Callable[[str], None], fixed_by: Mapping[str, str]) -> Plan:
    """The plan of a run; a header (CSV) must give every variable that --at does not."""
    variables = graph.variables
    if names is None:  # JSON Lines: each line must give the variables; a missing one is that row's error
        columns = [name for name in variables if name not in at]
    else:
        missing = [name for name in variables if name not in at and name not in names]
        if missing:
            raise BindingError(
                f"{source_name} has no column for {', '.join(missing)} (its columns: {', '.join(names) or 'none'}); "
                f"add the column or fix the value with --at {missing[0]}=VALUE"
            )
        for name in names:
            if name in fixed_by:
                warn(f"column {name!r} is ignored: {fixed_by[name]} gives {name} for every row")
            elif name not in variables:
                warn(f"column {name!r} is not a variable of the program; it is ignored")
        columns = [name for name in names if name in variables]
    plan, warnings = make_plan(graph, at, columns, wrt)
    for text in warnings:
        warn(text)
    return plan
