"""Value and gradient of one program at many points, chunk by chunk, over NumPy arrays.

A chunk runs the very passes a single point runs (engine.forward / engine.backward with
xp=numpy, every rule read from the op table), so a row's numbers are what `grad` gives at that
row, with the same conventions at kinks. A chunk is a pure function of its columns: nothing
carries over from one chunk to the next, so memory stays flat for any number of rows and the
chunks could be mapped over a distributed engine (Dask) unchanged.

NumPy is imported inside the functions that compute, Rich only when a progress bar is shown.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import stat
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Mapping, NamedTuple

from . import engine
from .api import bind, node_named
from .errors import BindingError, ExitStatus, standard_input
from .graph import Graph, unused_name
from .formatting import json_value
from .parse import normalize, parse

VALUES_PER_CHUNK = 1 << 22  # node values alive at once (32 MB): long programs get fewer rows per chunk
MAX_CHUNK_ROWS = 1 << 15  # small enough for the CPU caches, large enough to amortise each NumPy call
PROGRESS_AFTER_SECONDS = 1.0  # a progress bar only for runs that last longer than this
ERRORS_SHOWN = 5  # rows named in the stderr summary


def rows_per_chunk(graph: Graph) -> int:
    """Rows per chunk, so that a chunk holds at most VALUES_PER_CHUNK node values."""
    return max(1, min(MAX_CHUNK_ROWS, VALUES_PER_CHUNK // max(1, len(graph))))


# ----- one chunk -----


@dataclass(frozen=True)
class Plan:
    """What every chunk of a run shares: the program, the fixed variables and the partials reported."""

    graph: Graph
    fixed: dict[str, float]  # the same value on every row (--at)
    columns: tuple[str, ...]  # variables given per row, in program order
    partials: tuple[str, ...]  # variables or named intermediates whose partial is reported
    partial_nodes: tuple[int, ...]


def make_plan(graph: Graph, fixed: Mapping[str, float], provided: Iterable[str],
              wrt: list[str] | None = None) -> tuple[Plan, list[str]]:
    """Check that every variable gets a value (fixed or per row); return the plan and warnings.

    Names that the single-point API refuses (constants, computed names) are refused here too.
    """
    provided = [name for name in provided if name not in fixed]
    missing = [name for name in graph.variables if name not in fixed and name not in provided]
    if missing:
        raise BindingError(f"no value for {', '.join(missing)}")
    _, warnings = bind(graph, {**{name: 0.0 for name in provided}, **fixed})
    columns = tuple(name for name in graph.variables if name not in fixed)
    partials = tuple(wrt) if wrt is not None else tuple(graph.variables)
    nodes = tuple(node_named(graph, name) for name in partials)
    fixed_values = {name: float(fixed[name]) for name in graph.variables if name in fixed}
    return Plan(graph, fixed_values, columns, partials, nodes), warnings


class Chunk(NamedTuple):
    """A chunk's results; rows with an error keep whatever the arithmetic gave (callers mask them)."""

    value: object  # ndarray of the chunk's rows (possibly a read-only broadcast)
    partials: list  # one ndarray per plan.partials
    input_errors: dict[int, str]  # row -> why its input is unusable (not finite)
    math_errors: dict[int, str]  # row -> the first node without a finite value, with the op's reason


def differentiate_chunk(plan: Plan, columns: Mapping[str, object], rows: int) -> Chunk:
    """Value and partials of the plan's program on `rows` points (a pure function of its input)."""
    import numpy as np

    graph = plan.graph
    input_errors = _nonfinite_inputs(plan, columns)
    leaves = engine.leaf_values(graph, {**plan.fixed, **columns})
    with np.errstate(all="ignore"):
        values = engine.forward(graph, leaves, np)
        math_errors = _math_errors(graph, values, rows, input_errors)
        grads, _, _ = engine.backward(graph, values, np, notes=False)
    return Chunk(_full(values[graph.output], rows), [_full(grads[node], rows) for node in plan.partial_nodes],
                 input_errors, math_errors)


def _nonfinite_inputs(plan: Plan, columns: Mapping[str, object]) -> dict[int, str]:
    import numpy as np

    errors: dict[int, str] = {}
    for name in plan.columns:
        column = columns[name]
        if _surely_finite(column):
            continue
        finite = np.isfinite(column)
        for row in np.flatnonzero(~finite).tolist():
            errors.setdefault(row, f"the value of {name} must be finite, not {float(column[row])}")  # as bind() says
    return errors


def _math_errors(graph: Graph, values: list, rows: int, skip: Mapping[int, str]) -> dict[int, str]:
    """Row -> message for rows where some node has no finite value, as check_finite says for one point."""
    import numpy as np

    ops = graph.ops
    suspects = [node for node, op in enumerate(ops)
                if op is not None and not _surely_finite(values[node]) and not np.isfinite(values[node]).all()]
    if not suspects:
        return {}
    if any(np.ndim(values[node]) == 0 for node in suspects):  # a constant subexpression: every row fails
        pending = np.arange(rows)
    else:
        pending = np.unique(np.concatenate([np.flatnonzero(~np.isfinite(values[node])) for node in suspects]))
    if skip:
        pending = pending[~np.isin(pending, np.fromiter(skip, dtype=np.intp, count=len(skip)))]
    errors: dict[int, str] = {}
    for node in suspects:  # in topological order, so each row is blamed on its first failing node
        if not pending.size:
            break
        value = values[node]
        hit = pending if np.ndim(value) == 0 else pending[~np.isfinite(value[pending])]
        for row in hit.tolist():
            arguments = [_item(values[j], row) for j in graph.inputs[node]]
            errors[row] = engine.math_error(graph, node, arguments).message
        pending = np.setdiff1d(pending, hit, assume_unique=True)
    return errors


def _full(value, rows: int):
    """One entry per row: a node that depends on no per-row variable has one value for all rows."""
    if getattr(value, "shape", None) == (rows,):
        return value
    import numpy as np

    return np.broadcast_to(value, (rows,))


def _surely_finite(value) -> bool:
    """True if every entry is finite: a sum is inf or nan if any entry is (a false alarm only on overflow).

    One pass with no temporary array, cheaper than isfinite(v).all(); not np.dot, whose BLAS
    threads crawl on a busy machine.
    """
    return math.isfinite(value.sum()) if getattr(value, "ndim", 0) else math.isfinite(value)


def _item(value, row: int) -> float:
    return float(value[row]) if getattr(value, "ndim", 0) else float(value)


# ----- the Python API -----


@dataclass
class Batch:
    """Value and gradient of a program at many points; rows with an error hold nan."""

    graph: Graph
    at: dict[str, object]  # each variable's column (an array) or fixed value (a float)
    value: object  # ndarray, one entry per row
    gradient: dict[str, object]  # name -> ndarray of ∂output/∂name
    errors: dict[int, str] = field(default_factory=dict)  # row -> why it has no result
    warnings: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return self.graph.output_name


def gradients(source: str, points: Mapping[str, object] | None = None, /, **columns: object) -> Batch:
    """Value and gradient at many points: `gradients("x*y", x=[1, 2], y=3)`.

    Each variable gets an array (one value per row) or a number (the same on every row).
    """
    return differentiate_many(parse(source), {**(points or {}), **columns})


def differentiate_many(graph: Graph, points: Mapping[str, object], wrt: list[str] | None = None,
                       chunk_rows: int | None = None) -> Batch:
    """Value and gradient of a parsed program at every row of `points`, chunk by chunk."""
    import numpy as np

    fixed: dict[str, object] = {}
    arrays: dict[str, object] = {}
    for name, given in points.items():
        try:
            column = np.asarray(given, dtype=np.float64)
        except (TypeError, ValueError):
            raise BindingError(f"the values of {name} must be numbers") from None
        if column.ndim == 0:
            fixed[name] = given if isinstance(given, (int, float)) else column.item()
        elif column.ndim == 1:
            arrays[name] = column
        else:
            raise BindingError(f"the values of {name} must be one-dimensional, not of shape {column.shape}")
    lengths = {len(column) for column in arrays.values()}
    if len(lengths) > 1:
        shapes = ", ".join(f"{name}: {len(column)}" for name, column in arrays.items())
        raise BindingError(f"the columns have different lengths: {shapes}")
    rows = lengths.pop() if lengths else 1
    plan, warnings = make_plan(graph, fixed, arrays, wrt)
    step = chunk_rows or rows_per_chunk(graph)
    table = np.empty((1 + len(plan.partials), rows))  # one block: far fewer page faults than one array each
    value, *partials = table
    errors: dict[int, str] = {}
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        chunk = differentiate_chunk(plan, {name: arrays[name][start:stop] for name in plan.columns}, stop - start)
        value[start:stop] = chunk.value
        for whole, part in zip(partials, chunk.partials):
            whole[start:stop] = part
        for row, message in itertools.chain(chunk.math_errors.items(), chunk.input_errors.items()):
            errors[start + row] = message
    if errors:
        failed = np.fromiter(errors, dtype=np.intp, count=len(errors))
        for column in (value, *partials):
            column[failed] = np.nan
    at = {name: arrays[name] if name in arrays else plan.fixed[name] for name in graph.variables}
    return Batch(graph, at, value, dict(zip(plan.partials, partials)), dict(sorted(errors.items())), warnings)


# ----- reading points -----


class _Lines:
    """Decoded lines of a byte stream, counting bytes read (for the progress bar).

    Bytes that are not UTF-8 become U+FFFD, so they make that row's cell "not a number".
    """

    def __init__(self, stream):
        self.stream = stream
        self.bytes = 0

    def __iter__(self) -> Iterator[str]:
        first = True
        for raw in self.stream:
            self.bytes += len(raw)
            text = raw.decode("utf-8", "replace")
            if first:
                text = text.removeprefix("\ufeff")
                first = False
            yield text


class InputChunk(NamedTuple):
    """Rows read from a points file: a float column per variable, and what went wrong where."""

    rows: int
    columns: dict[str, object]  # name -> ndarray (nan where a row is unusable)
    lines: list[int]  # each row's line in the file, for messages
    errors: dict[int, str]  # row -> why its input is unusable
    raw: dict[int, list]  # row -> its cells as given, echoed for rows with an input error


class _ChunkBuilder:
    """Collects rows until a chunk is full."""

    def __init__(self, columns: tuple[str, ...]):
        self.columns = columns
        self._reset()

    def _reset(self) -> None:
        self.values: list[list[float]] = []
        self.lines: list[int] = []
        self.errors: dict[int, str] = {}
        self.raw: dict[int, list] = {}

    def add(self, line: int, values: list[float]) -> None:
        self.values.append(values)
        self.lines.append(line)

    def add_error(self, line: int, message: str, raw: list) -> None:
        self.errors[len(self.values)] = message
        self.raw[len(self.values)] = raw
        self.add(line, [math.nan] * len(self.columns))

    def __len__(self) -> int:
        return len(self.values)

    def take(self) -> InputChunk:
        import numpy as np

        rows = len(self.values)
        table = np.array(self.values, dtype=np.float64).reshape(rows, len(self.columns)).T.copy()
        chunk = InputChunk(rows, dict(zip(self.columns, table)), self.lines, self.errors, self.raw)
        self._reset()
        return chunk


class CsvPoints:
    """CSV with a header row naming the variables; blank lines are skipped."""

    def __init__(self, lines: Iterable[str], source_name: str):
        self.reader = csv.reader(lines)
        self.records = _records(self.reader)
        self.source_name = source_name
        header = next((row for row in self.records if row), None)
        if header is None:
            raise BindingError(f"{source_name} is empty: expected a header row naming the variables")
        if isinstance(header, csv.Error):
            raise BindingError(f"{source_name}, line {self.reader.line_num}: {_unreadable(header)}")
        self.names = [normalize(name.strip())[0] for name in header]
        repeated = sorted({name for name in self.names if self.names.count(name) > 1})
        if repeated:
            raise BindingError(f"the header of {source_name} names {', '.join(repeated)} more than once")

    def chunks(self, columns: tuple[str, ...], size: int, warn: Callable[[str], None]) -> Iterator[InputChunk]:
        index = [self.names.index(name) for name in columns]
        width = len(self.names)
        builder = _ChunkBuilder(columns)
        reader = self.reader
        for record in self.records:
            if not record:
                continue
            if isinstance(record, csv.Error):
                if not _stray_carriage_return(record):  # a field over the limit may be an unclosed quote:
                    if len(builder):  # the lines after it cannot be trusted; the rows before it are output
                        yield builder.take()
                    raise BindingError(f"{self.source_name}, line {reader.line_num}: {_unreadable(record)}")
                # a carriage return in an unquoted field spoils its own line only: one row's error
                builder.add_error(reader.line_num, _unreadable(record), [None] * len(columns))
                if len(builder) == size:
                    yield builder.take()
                continue
            try:
                if len(record) != width:
                    raise ValueError
                cells = [record[k] for k in index]
                if not _plain_numbers("".join(cells)):
                    raise ValueError
                builder.add(reader.line_num, list(map(float, cells)))
            except ValueError:
                raw = [record[k] if k < len(record) else None for k in index]
                builder.add_error(reader.line_num, _csv_row_problem(record, width, index, columns), raw)
            if len(builder) == size:
                yield builder.take()
        if len(builder):
            yield builder.take()


def _records(reader) -> Iterator[list[str] | csv.Error]:
    """The reader's rows, and in place of a line it cannot read (a bare carriage return, a field
    over the csv module's size limit) the error: the reader goes on with the next line."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield error


def _stray_carriage_return(error: csv.Error) -> bool:
    return str(error).startswith("new-line character seen in unquoted field")


def _unreadable(error: csv.Error) -> str:
    """The csv module's complaint, without its advice to Python programmers."""
    text = "a carriage return inside an unquoted field" if _stray_carriage_return(error) else str(error)
    return f"not valid CSV ({text})"


def _csv_row_problem(record: list[str], width: int, index: list[int], columns: tuple[str, ...]) -> str:
    if len(record) != width:
        return f"the row has {len(record)} field{'' if len(record) == 1 else 's'}; the header has {width}"
    for k, name in zip(index, columns):
        text = record[k].strip()
        if not text:
            return f"no value for {name}"
        try:
            if not _plain_numbers(text):
                raise ValueError
            float(text)
        except ValueError:
            return f"the value of {name} must be a number, not {text!r}"
    raise AssertionError("a row that failed to convert has a bad cell")


def _plain_numbers(text: str) -> bool:
    """Cells that float() may read as --at would: Python's float() also takes `1_000` and
    digits of other scripts (`١٢`), which gradcli's own number syntax refuses."""
    return "_" not in text and text.isascii()


class JsonLinesPoints:
    """One JSON object per line, {"x": 1.5, "y": -2}; blank lines are skipped."""

    names: list[str] | None = None  # no header: each line names its own keys

    def __init__(self, lines: Iterable[str]):
        self.lines = lines

    def chunks(self, columns: tuple[str, ...], size: int, warn: Callable[[str], None]) -> Iterator[InputChunk]:
        builder = _ChunkBuilder(columns)
        keys_of: dict[tuple, list] = {}  # the keys of a line -> the key holding each column
        ignored: set[str] = set()
        for line, text in enumerate(self.lines, 1):
            if not text.strip():
                continue
            try:
                point = json.loads(text)
            except ValueError as error:
                builder.add_error(line, f"not valid JSON ({error.args[0].split(':')[0]})", [None] * len(columns))
            else:
                if not isinstance(point, dict):
                    builder.add_error(line, 'a line must be a JSON object such as {"x": 1.5}', [None] * len(columns))
                else:
                    layout = tuple(point)
                    keys = keys_of.get(layout)
                    if keys is None:
                        keys = keys_of[layout] = self._keys(layout, columns, ignored, warn)
                        if len(keys_of) > 1024:
                            keys_of.clear()
                    if isinstance(keys, str):  # the same variable under two spellings
                        builder.add_error(line, keys, [None] * len(columns))
                    else:
                        self._add(builder, line, point, keys, columns)
            if len(builder) == size:
                yield builder.take()
        if len(builder):
            yield builder.take()

    @staticmethod
    def _keys(layout: tuple, columns: tuple[str, ...], ignored: set[str], warn: Callable[[str], None]) -> list | str:
        """The key that holds each column, or what is wrong with the keys (as a CSV header's names)."""
        named = {}
        for key in layout:
            name = normalize(key)[0]
            if name in named and name in columns:
                first, second = (json.dumps(k, ensure_ascii=False) for k in (named[name], key))
                return f"the keys {first} and {second} both name {name}"
            named.setdefault(name, key)
            if name not in columns and name not in ignored:
                ignored.add(name)
                warn(f"key {name!r} is ignored: it is not a variable of the program, or --at gives it")
        return [named.get(name) for name in columns]

    @staticmethod
    def _add(builder: _ChunkBuilder, line: int, point: dict, keys: list, columns: tuple[str, ...]) -> None:
        values = []
        for key, name in zip(keys, columns):
            given = point.get(key) if key is not None else None
            problem = None
            if key is None or given is None:
                problem = f"no value for {name}"
            elif isinstance(given, bool) or not isinstance(given, (int, float)):
                problem = f"the value of {name} must be a number, not {json.dumps(given)}"  # as the line has it
            else:
                try:
                    values.append(float(given))
                except OverflowError:
                    problem = f"the value of {name} is too large for a double"
            if problem:
                builder.add_error(line, problem, [point.get(k) if k is not None else None for k in keys])
                return
        builder.add(line, values)


def open_points(lines: _Lines, source_name: str):
    """A CSV or JSON Lines reader, chosen by the first non-blank character ('{' means JSON Lines)."""
    iterator = iter(lines)
    skipped = []
    for text in iterator:
        skipped.append(text)
        if text.strip():
            break
    restored = itertools.chain(skipped, iterator)
    if skipped and skipped[-1].lstrip().startswith("{"):
        return JsonLinesPoints(restored)
    return CsvPoints(restored, source_name)


# ----- writing results -----


def output_columns(plan: Plan) -> list[str]:
    """The inputs, the value (named like the output), ∂output/∂name for each partial, and `error`."""
    graph = plan.graph
    out = graph.output_name
    if out in graph.variables:  # the program is a variable (`x`): its value needs a column of its own
        out = unused_name(("f", "f_out"), graph.variables, graph.intermediates)
    columns = [*graph.variables, out, *(f"d{out}/d{name}" for name in plan.partials), "error"]
    clashing = sorted({name for name in columns if columns.count(name) > 1})
    if clashing:
        raise BindingError(f"the output would have two columns named {', '.join(clashing)}: rename that variable")
    return columns


def _result_rows(plan: Plan, inputs: InputChunk, result: Chunk) -> tuple[list[tuple], dict[int, str], dict[int, str]]:
    """The chunk's output rows (None for an empty cell), with its input and math errors."""
    columns = []
    for name in plan.graph.variables:
        if name in plan.fixed:
            columns.append(itertools.repeat(plan.fixed[name], inputs.rows))
        else:
            columns.append(inputs.columns[name].tolist())
    value = result.value.tolist()
    partials = [partial.tolist() for partial in result.partials]
    rows = list(zip(*columns, value, *partials, itertools.repeat(None, inputs.rows)))
    input_errors = {**result.input_errors, **inputs.errors}
    math_errors = {row: message for row, message in result.math_errors.items() if row not in input_errors}
    empty = (None,) * (1 + len(partials))
    for errors in (input_errors, math_errors):
        for row, message in errors.items():
            given = iter(inputs.raw.get(row) or [inputs.columns[name][row].item() for name in plan.columns])
            cells = [plan.fixed[name] if name in plan.fixed else next(given) for name in plan.graph.variables]
            rows[row] = (*cells, *empty, message)
    return rows, input_errors, math_errors


class CsvWriter:
    def __init__(self, stream, columns: list[str]):
        self.stream = stream
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\n")
        self.writer.writerow(columns)
        self._flush()

    def write(self, rows: list[tuple]) -> None:
        self.writer.writerows(rows)  # floats are written with repr: they read back to the same bits
        self._flush()

    def _flush(self) -> None:
        self.stream.write(self.buffer.getvalue())
        self.buffer.seek(0)
        self.buffer.truncate()


class JsonLinesWriter:
    def __init__(self, stream, columns: list[str]):
        self.stream = stream
        self.columns = columns

    def write(self, rows: list[tuple]) -> None:
        columns = self.columns
        lines = []
        for row in rows:
            try:
                lines.append(json.dumps(dict(zip(columns, row)), ensure_ascii=False, allow_nan=False))
            except ValueError:  # inf or nan: spelled as strings, like --json does
                cells = [json_value(cell) if isinstance(cell, float) else cell for cell in row]
                lines.append(json.dumps(dict(zip(columns, cells)), ensure_ascii=False))
        lines.append("")
        self.stream.write("\n".join(lines))


# ----- the command line's batch mode -----


class Progress:
    """A Rich progress bar of rows done on stderr, shown only once a run has lasted a while."""

    def __init__(self, enabled: bool, total_bytes: int | None, stream, after: float = PROGRESS_AFTER_SECONDS):
        self.enabled = enabled
        self.total = total_bytes
        self.stream = stream
        self.after = after
        self.started = time.perf_counter()
        self.bar = None

    def update(self, rows: int, bytes_read: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if time.perf_counter() - self.started < self.after:
                return
            self._start()
        self.bar.update(self.task, completed=bytes_read if self.total else rows, rows=rows)

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress as Bar, TextColumn, TimeElapsedColumn

        console = Console(file=self.stream, force_terminal=True, highlight=False)
        self.bar = Bar(BarColumn(), TextColumn("{task.fields[rows]:,} rows"), TimeElapsedColumn(), console=console)
        self.task = self.bar.add_task("points", total=self.total, rows=0)
        self.bar.start()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def run_points(graph: Graph, fixed: Mapping[str, float], source: str, output_format: str = "csv",
               wrt: list[str] | None = None, *, warn: Callable[[str], None], say: Callable[[str], None],
               quiet: bool = False, terminal: bool | None = None, stdout=None, stderr=None,
               progress_after: float = PROGRESS_AFTER_SECONDS, chunk_rows: int | None = None) -> ExitStatus:
    """`grad EXPR --points FILE`: one output row per point, errors per row, a summary on stderr.

    Exit status: 0, or 2 if some row's input is unusable, else 3 if some row has a math error.
    `terminal` overrides whether stderr counts as a terminal (for the progress bar).
    """
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    source_name = "standard input" if source == "-" else source
    stream, total_bytes = _open(source)
    try:
        lines = _Lines(stream)
        points = open_points(lines, source_name)
        plan = _plan_for(graph, fixed, points.names, wrt, source_name, warn)
        columns = output_columns(plan)
        writer = (CsvWriter if output_format == "csv" else JsonLinesWriter)(stdout, columns)
        if terminal is None:
            terminal = stderr.isatty()
        progress = Progress(terminal and not quiet, total_bytes, stderr, progress_after)
        rows = 0
        failures: list[tuple[int, str]] = []  # (line, message), the first few for the summary
        input_failures = math_failures = 0
        try:
            for inputs in points.chunks(plan.columns, chunk_rows or rows_per_chunk(graph), warn):
                result = differentiate_chunk(plan, inputs.columns, inputs.rows)
                output, input_errors, math_errors = _result_rows(plan, inputs, result)
                writer.write(output)
                input_failures += len(input_errors)
                math_failures += len(math_errors)
                if len(failures) < ERRORS_SHOWN:
                    found = sorted({**input_errors, **math_errors}.items())[:ERRORS_SHOWN - len(failures)]
                    failures.extend((inputs.lines[row], message) for row, message in found)
                rows += inputs.rows
                progress.update(rows, lines.bytes)
        finally:
            progress.close()
    finally:
        if source != "-":
            stream.close()
    if not failures:
        return ExitStatus.OK
    say(_summary(source_name, rows, input_failures, math_failures, failures))
    return ExitStatus.BAD_INPUT if input_failures else ExitStatus.MATH_ERROR


def _open(source: str):
    if source == "-":
        return standard_input(), None
    try:
        stream = open(source, "rb")  # noqa: SIM115 - closed by run_points
    except OSError as error:
        raise BindingError(f"cannot read {source}: {error.strerror}") from None
    status = os.fstat(stream.fileno())
    return stream, status.st_size if stat.S_ISREG(status.st_mode) and status.st_size else None


def _plan_for(graph: Graph, fixed: Mapping[str, float], names: list[str] | None, wrt: list[str] | None,
              source_name: str, warn: Callable[[str], None]) -> Plan:
    """The plan of a run; a header (CSV) must give every variable that --at does not fix."""
    variables = graph.variables
    if names is None:  # JSON Lines: each line must give the variables; a missing one is that row's error
        provided = [name for name in variables if name not in fixed]
    else:
        missing = [name for name in variables if name not in fixed and name not in names]
        if missing:
            raise BindingError(
                f"{source_name} has no column for {', '.join(missing)} (its columns: {', '.join(names) or 'none'}); "
                f"add the column or fix the value with --at {missing[0]}=VALUE"
            )
        for name in names:
            if name in fixed and name in variables:
                warn(f"column {name!r} is ignored: --at gives {name} for every row")
            elif name not in variables:
                warn(f"column {name!r} is not a variable of the program; it is ignored")
        provided = [name for name in names if name in variables]
    plan, warnings = make_plan(graph, fixed, provided, wrt)
    for message in warnings:
        warn(message)
    return plan


def _summary(source_name: str, rows: int, input_failures: int, math_failures: int,
             failures: list[tuple[int, str]]) -> str:
    failed = input_failures + math_failures
    kinds = []
    if input_failures:
        kinds.append(f"{input_failures:,} with unusable input")
    if math_failures:
        kinds.append(f"{math_failures:,} with a math error")
    lines = [f"gradcli: error: {failed:,} of {rows:,} points in {source_name} have no result ({', '.join(kinds)})"]
    lines.extend(f"  line {line}: {message}" for line, message in failures)
    if failed > len(failures):
        lines.append(f"  … and {failed - len(failures):,} more (see the error column)")
    return "\n".join(lines)
