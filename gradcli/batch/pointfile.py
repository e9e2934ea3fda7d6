"""Points files (`grad --points FILE`): reading CSV or JSON Lines in chunks, writing the result rows.

Each input cell is kept as typed and echoed so (`1` stays `1`, `2.50` stays `2.50`), so that
an output row can be matched with its input line by a script; only the computed columns are
numbers that gradcli wrote.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import re
from typing import Callable, Iterable, Iterator, NamedTuple

from ..errors import BindingError
from ..formatting import json_value
from ..graph import unused_name
from ..parse import normalize
from .chunk import Chunk, Plan

NOTE_SEPARATOR = " | "  # between the notes of one row in a CSV cell (no note or formula contains `|`)


class Lines:
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
    """Rows read from a points file: a float column per variable, the cells as typed, and what went wrong where."""

    rows: int
    columns: dict[str, object]  # name -> ndarray (nan where a row is unusable)
    typed: list[str | None]  # the cells as typed (None: absent), row after row, one per variable
    lines: list[int]  # each row's line in the file, for messages
    errors: dict[int, str]  # row -> why its input is unusable
    json: bool  # whether `typed` holds JSON texts (from JSON Lines) rather than CSV cells


class _ChunkBuilder:
    """Collects rows until a chunk is full."""

    def __init__(self, columns: tuple[str, ...], json_texts: bool):
        self.columns = columns
        self.json = json_texts
        self._reset()

    def _reset(self) -> None:
        # flat, row after row: no list per row for the garbage collector to go through again and again
        self.values: list[float] = []
        self.typed: list[str | None] = []
        self.lines: list[int] = []
        self.errors: dict[int, str] = {}

    def add(self, line: int, values: list[float], typed: list[str | None]) -> None:
        self.values.extend(values)
        self.typed.extend(typed)
        self.lines.append(line)

    def add_error(self, line: int, message: str, typed: list[str | None]) -> None:
        self.errors[len(self.lines)] = message
        self.add(line, [math.nan] * len(self.columns), typed)

    def __len__(self) -> int:
        return len(self.lines)

    def take(self) -> InputChunk:
        import numpy as np

        rows = len(self.lines)
        table = np.array(self.values, dtype=np.float64).reshape(rows, len(self.columns)).T.copy()
        chunk = InputChunk(rows, dict(zip(self.columns, table)), self.typed, self.lines, self.errors, self.json)
        self._reset()
        return chunk


# ----- reading -----


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

    def chunks(self, columns: tuple[str, ...], size: int, ignored_key: Callable[[str], None]) -> Iterator[InputChunk]:
        """The rows, `size` at a time (the header's ignored columns were warned of when it was read: `ignored_key`
        is for JSON Lines, whose every line names its own keys)."""
        index = [self.names.index(name) for name in columns]
        width = len(self.names)
        builder = _ChunkBuilder(columns, json_texts=False)
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
            typed = [record[k] if k < len(record) else None for k in index]
            try:
                if len(record) != width or not _plain_numbers("".join(typed)):
                    raise ValueError
                builder.add(reader.line_num, list(map(float, typed)), typed)
            except ValueError:
                builder.add_error(reader.line_num, _csv_row_problem(record, width, index, columns), typed)
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


class _Number(str):
    """A JSON number as typed (`2.50`, `1E+3`): json.loads hands its text over, so it is echoed as is."""



_NUMBERS_AS_TEXT = json.JSONDecoder(parse_float=str, parse_int=str)  # as fast as plain json.loads
_NUMBERS_MARKED = json.JSONDecoder(parse_float=_Number, parse_int=_Number)  # three times slower


class JsonLinesPoints:
    """One JSON object per line, {"x": 1.5, "y": -2}; blank lines are skipped."""

    names: list[str] | None = None  # no header: each line names its own keys

    def __init__(self, lines: Iterable[str]):
        self.lines = lines

    def chunks(self, columns: tuple[str, ...], size: int, ignored_key: Callable[[str], None]) -> Iterator[InputChunk]:
        """The rows, `size` at a time; `ignored_key` is told once of each key that names no column."""
        builder = _ChunkBuilder(columns, json_texts=True)
        keys_of: dict[tuple, list] = {}  # the keys of a line -> the key holding each column
        ignored: set[str] = set()
        absent = [None] * len(columns)
        for line, text in enumerate(self.lines, 1):
            if not text.strip():
                continue
            try:
                point = _NUMBERS_AS_TEXT.decode(text)
            except ValueError as error:
                builder.add_error(line, f"not valid JSON ({error.args[0].split(':')[0]})", absent)
            except RecursionError:  # arrays in arrays, thousands deep
                builder.add_error(line, "not valid JSON (nested too deeply)", absent)
            else:
                if not isinstance(point, dict):
                    builder.add_error(line, 'a line must be a JSON object such as {"x": 1.5}', absent)
                else:
                    layout = tuple(point)
                    keys = keys_of.get(layout)
                    if keys is None:
                        keys = keys_of[layout] = self._keys(layout, columns, ignored, ignored_key)
                        if len(keys_of) > 1024:
                            keys_of.clear()
                    if isinstance(keys, str):  # the same variable under two spellings
                        builder.add_error(line, keys, absent)
                    else:
                        self._add(builder, line, text, point, keys, columns)
            if len(builder) == size:
                yield builder.take()
        if len(builder):
            yield builder.take()

    @staticmethod
    def _keys(layout: tuple, columns: tuple[str, ...], ignored: set[str],
              ignored_key: Callable[[str], None]) -> list | str:
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
                ignored_key(name)
        return [named.get(name) for name in columns]

    @staticmethod
    def _add(builder: _ChunkBuilder, line: int, text: str, point: dict, keys: list, columns: tuple[str, ...]) -> None:
        """One line's row. `point` has every number as its text: if the line has no quotes but its
        keys', no value is a JSON string, so each text is a number (the common case, and fast)."""
        given = list(map(point.get, keys))  # a key None (the line has no such key) gives None
        if text.count('"') == 2 * len(point) and set(map(type, given)) <= {str}:
            values = list(map(float, given))
            if math.isfinite(sum(values)):  # else some number overflowed (or their sum did): see below
                builder.add(line, values, given)
                return
        point = _NUMBERS_MARKED.decode(text)  # tell the numbers from the strings
        given = list(map(point.get, keys))
        if any(isinstance(value, (list, dict)) for value in given):  # numbers in them were read as text:
            plain = json.loads(text)  # read the line again as plain JSON, to write them back as numbers
            given = [plain[key] if isinstance(value, (list, dict)) else value for key, value in zip(keys, given)]
        typed = [_json_text(value, key is not None) for value, key in zip(given, keys)]
        values = []
        for value, name in zip(given, columns):
            if value is None:
                problem = f"no value for {name}"
            elif isinstance(value, _Number):
                number = float(value)
                if math.isfinite(number):
                    values.append(number)
                    continue
                problem = f"the value of {name} is too large for a double"  # JSON has no inf: it overflowed
            elif isinstance(value, float):  # NaN, Infinity: Python's extensions of JSON
                problem = f"the value of {name} must be finite, not {value}"
            else:  # true, false, a string, a list, an object: not a number, whatever Python makes of it
                problem = f"the value of {name} must be a number, not {json.dumps(value, ensure_ascii=False)}"
            builder.add_error(line, problem, typed)
            return
        builder.add(line, values, typed)


def _json_text(value, present: bool) -> str | None:
    """A JSON value as it was typed: a number's own text, anything else written back as JSON."""
    if isinstance(value, _Number):
        return str(value)
    if isinstance(value, float):
        return json.dumps(json_value(value))
    return json.dumps(value, ensure_ascii=False) if present else None


def open_points(lines: Lines, source_name: str):
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


# ----- writing -----


def output_columns(plan: Plan) -> list[str]:
    """The inputs, the value (named like the output), ∂output/∂name for each partial, `error` and `notes`."""
    graph = plan.graph
    out = graph.output_name
    if out in graph.variables:  # the program is a variable (`x`): its value needs a column of its own
        out = unused_name(("f", "f_out"), graph.variables, graph.intermediates)
    columns = [*graph.variables, out, *(f"d{out}/d{name}" for name in plan.partials), "error", "notes"]
    clashing = sorted({name for name in columns if columns.count(name) > 1})
    if clashing:
        raise BindingError(f"the output would have two columns named {', '.join(clashing)}: rename that variable")
    return columns


class ResultRows(NamedTuple):
    """A chunk's output: per row the inputs as typed, the numbers (None on an error row), the error and the notes."""

    typed: list[tuple[str | None, ...]]  # one entry per variable of the program
    numbers: list[tuple]  # the value and the partials
    errors: list[str | None]
    notes: list[list[str]]
    json: bool  # whether `typed` holds JSON texts


def result_rows(plan: Plan, inputs: InputChunk, result: Chunk) -> tuple[ResultRows, dict[int, str], dict[int, str]]:
    """The chunk's output rows, with its input and math errors."""
    width = len(plan.columns)
    position = {name: k for k, name in enumerate(plan.columns)}
    columns = [[repr(plan.at[name])] * inputs.rows if name in plan.at else inputs.typed[position[name]::width]
               for name in plan.graph.variables]
    typed = list(zip(*columns)) if columns else [()] * inputs.rows
    numbers = list(zip(result.value.tolist(), *(partial.tolist() for partial in result.partials)))
    errors: list[str | None] = [None] * inputs.rows
    input_errors = {**result.input_errors, **inputs.errors}
    math_errors = {row: message for row, message in result.math_errors.items() if row not in input_errors}
    empty = (None,) * (1 + len(result.partials))
    for failures in (input_errors, math_errors):
        for row, message in failures.items():
            numbers[row] = empty
            errors[row] = message
    notes: list[list[str]] = [[]] * inputs.rows
    for row, texts in result.notes.items():
        notes[row] = texts
    return ResultRows(typed, numbers, errors, notes, inputs.json), input_errors, math_errors


class CsvWriter:
    """CSV, the inputs as typed; a row's notes in one cell, separated by NOTE_SEPARATOR."""

    def __init__(self, stream, columns: list[str]):
        self.stream = stream
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\n")
        self.writer.writerow(columns)
        self._flush()

    def write(self, rows: ResultRows) -> None:
        self.writer.writerows(  # floats are written with repr: they read back to the same bits
            (*typed, *numbers, error, NOTE_SEPARATOR.join(notes))
            for typed, numbers, error, notes in zip(rows.typed, rows.numbers, rows.errors, rows.notes))
        self._flush()

    def _flush(self) -> None:
        self.stream.write(self.buffer.getvalue())
        self.buffer.seek(0)
        self.buffer.truncate()


_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?\Z")


class JsonLinesWriter:
    """One JSON object per row, the inputs as typed when that is JSON (`2.50`, `true`); `notes` is a list."""

    def __init__(self, stream, columns: list[str]):
        self.stream = stream
        self.columns = columns
        self.keys = [json.dumps(column, ensure_ascii=False) + ": " for column in columns]

    def write(self, rows: ResultRows) -> None:
        if not rows.typed:
            return
        inputs = len(rows.typed[0])
        keys, computed = self.keys[:inputs], self.columns[inputs:]
        as_json = _json_of_text if rows.json else _json_of_cell
        lines = []
        for typed, numbers, error, notes in zip(rows.typed, rows.numbers, rows.errors, rows.notes):
            results = dict(zip(computed, (*numbers, error, notes)))
            try:  # the computed columns by the json module (fast); the inputs as typed
                written = json.dumps(results, ensure_ascii=False, allow_nan=False)
            except ValueError:  # inf or nan: spelled as strings, like --json does
                written = json.dumps({key: json_value(cell) if isinstance(cell, float) else cell
                                      for key, cell in results.items()}, ensure_ascii=False)
            lines.append("{" + ", ".join([*map(str.__add__, keys, map(as_json, typed)), written[1:-1]]) + "}")
        lines.append("")
        self.stream.write("\n".join(lines))


def _json_of_text(text: str | None) -> str:
    """A JSON Lines input value as typed."""
    return "null" if text is None else text


def _json_of_cell(text: str | None) -> str:
    """A CSV cell in a JSON Lines row: its own text if that is a JSON number, else the number it
    reads as (` 1`, `+1`, `.5`), else (a row that could not be read) the text as a JSON string."""
    if text is None:
        return "null"
    if _JSON_NUMBER.match(text):
        return text
    if _plain_numbers(text):
        try:
            return json.dumps(json_value(float(text)))
        except ValueError:
            pass
    return json.dumps(text, ensure_ascii=False)
