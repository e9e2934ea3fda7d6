"""What a command reads: the program (EXPR, --file or standard input) and the point (--at,
--at-file, --data), as the user typed them."""

from __future__ import annotations

import math
import os
import re

import click

from ..errors import BindingError, LimitError, standard_input
from ..graph import Graph
from ..parse import MAX_SOURCE_CHARS, normalize, parse

IDENTIFIER = re.compile(r"[^\W\d]\w*")  # a variable's name, as --at and --at-file take it
MAX_JSON_POINT_BYTES = 256 * 2**20  # json.load needs several times a file's size; arrays this large belong in .npz
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # how a .npz (a zip archive; the second: an empty one) starts
NPY_MAGIC = b"\x93NUMPY"


class Inputs:
    """The program and the point of one command: EXPR or --file, --at, --at-file, --data and --cse.

    `at` holds every value given (the file's, then --at and --data NAME=VALUE, which override
    single names of the file), and `given_by` the option that gave each (for messages that name
    it); `data` names the variables that are data, which get no gradient.
    """

    def __init__(self, expression: str | None, file: str | None, at: tuple[list, ...], data: tuple[list, ...],
                 cse: bool, at_file: str | None = None):
        self.expression, self.file, self.cse, self.at_file = expression, file, cse, at_file
        if at_file == "-" and self.from_stdin():
            raise click.UsageError("the program and --at-file cannot both come from standard input")
        self.data = list(dict.fromkeys(name for group in data for name, _ in group))
        valued_data = [[(name, value) for name, value in group if value is not None] for group in data]
        given = merge_at((*at, *valued_data))
        self.at = {**read_at_file(at_file), **given} if at_file is not None else given
        self.given_by = dict.fromkeys(self.at, "--at-file")  # unless --at or --data gave the name
        self.given_by.update((name, "--at") for group in at for name, _ in group)
        self.given_by.update((name, "--data") for group in valued_data for name, _ in group)
        self.has_point = (bool(at) or at_file is not None
                          or any(value is not None for group in data for _, value in group))

    def graph(self) -> Graph:
        """The parsed program."""
        return parse(read_program(self.expression, self.file), cse=self.cse)

    def from_stdin(self) -> bool:
        return "-" in (self.expression, self.file)


def merge_at(groups) -> dict[str, float]:
    """The values of every --at (and --data NAME=VALUE), each name once."""
    at: dict[str, float] = {}
    for group in groups:
        for name, value in group:
            if name in at:
                raise BindingError(f"{name} is given twice (--at, --data)")
            at[name] = value
    return at


def read_at_file(path: str) -> dict[str, object]:
    """The point in a JSON object (name → number or nested lists) or a NumPy .npz file ('-':
    standard input), each value checked by values.as_value; BindingError naming the file (and
    the name, the element) for anything else."""
    where = "standard input" if path == "-" else path
    try:
        if path == "-":
            return _point_in(standard_input(), where)
        with open(path, "rb") as stream:
            return _point_in(stream, where)
    except BindingError as error:
        raise BindingError(f"--at-file {where}: {error.message}") from None
    except OSError as error:
        raise BindingError(f"--at-file {where}: cannot read it: {error.strerror or error}") from None


def _point_in(stream, where: str) -> dict[str, object]:
    """The values of an open file: .npz by its first bytes, else JSON, the size checked before
    the data is read. A pipe is read into memory first, since np.load needs to seek."""
    import io

    head = stream.read(len(NPY_MAGIC))
    if head.startswith(NPY_MAGIC):
        raise BindingError("a .npy file holds one array without its name; save the point with "
                           "numpy.savez(file, W=W, x=x)")
    size = _regular_file_size(stream)
    if head[:4] in ZIP_MAGIC:
        if size is not None:
            stream.seek(0)
            return _npz_point(stream)
        limit = max_point_bytes()
        data = head + stream.read(limit + 1 - len(head))
        if len(data) > limit:
            raise BindingError(f"more than {_bytes_text(limit)} of .npz, half the available memory")
        return _npz_point(io.BytesIO(data))
    if where.lower().endswith(".npz"):
        raise BindingError("not a .npz file: it does not start as a zip archive (numpy.savez writes one)")
    if (size or 0) > MAX_JSON_POINT_BYTES:
        raise BindingError(f"{_bytes_text(size)} of JSON, over the limit of {_bytes_text(MAX_JSON_POINT_BYTES)}; "
                           f"save large arrays as .npz (numpy.savez)")
    data = head + stream.read(MAX_JSON_POINT_BYTES + 1 - len(head))
    if len(data) > MAX_JSON_POINT_BYTES:
        raise BindingError(f"more than {_bytes_text(MAX_JSON_POINT_BYTES)} of JSON; save large arrays as .npz "
                           f"(numpy.savez)")
    return _json_point(data)


def _regular_file_size(stream) -> int | None:
    """The size of a regular file; None for a pipe, a terminal or an in-memory stream."""
    import stat

    try:
        status = os.fstat(stream.fileno())
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None


def _json_point(data: bytes) -> dict[str, object]:
    """A JSON object's members as checked values; NaN and Infinity are read, then refused with their position."""
    import json

    from ..values import as_value

    try:
        document = json.loads(data, parse_constant=float)
    except json.JSONDecodeError as error:
        raise BindingError(f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})") from None
    except UnicodeDecodeError:
        raise BindingError("not valid JSON: it is not UTF-8 text") from None
    except RecursionError:
        raise BindingError("not valid JSON for a point: lists nested too deeply") from None
    if not isinstance(document, dict):
        kind = "a list" if isinstance(document, list) else "a single value"
        raise BindingError(f"the file holds {kind}; a point is one JSON object of names and values")
    return {name: as_value(name, value) for name, value in _named(document.items())}


def _npz_point(stream) -> dict[str, object]:
    """The arrays of a .npz file as checked values. Each member's .npy header is read first:
    an array that does not hold real numbers, or that would not fit in memory as float64, is
    refused before a byte of its data is read (and pickles never are: allow_pickle=False)."""
    import zipfile

    import numpy as np

    from ..values import as_value, refuse_non_numbers

    try:
        archive = np.load(stream, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, EOFError) as error:
        raise BindingError(f"not a valid .npz file ({error})") from None
    limit, total = max_point_bytes(), 0
    with archive:
        members = set(archive.zip.namelist())
        keys = dict(_named((key, key) for key in archive.files))  # name → the key it was saved under
        for name, key in keys.items():
            if key + ".npy" not in members:
                raise BindingError(f"{name} is not a NumPy array (numpy.savez writes each array as NAME.npy)")
            shape, dtype = _npy_header(archive, name, key)
            if dtype.kind == "O":
                raise BindingError(f"{name} holds Python objects, which can only be read with pickle; save it "
                                   f"as numbers (numpy.asarray({name}, dtype=float)) with allow_pickle=False")
            if dtype.kind in "US":
                raise BindingError(f"{name} holds text, not numbers")
            refuse_non_numbers(name, dtype)
            total += math.prod(shape) * 8
            if total > limit:
                raise BindingError(f"{name} has shape {shape}: as float64 the arrays need {_bytes_text(total)}, "
                                   f"more than half the available memory ({_bytes_text(limit)})")
        return {name: as_value(name, archive[key]) for name, key in keys.items()}


def _npy_header(archive, name: str, key: str):
    """The shape and dtype of one member of a .npz, from its header alone."""
    from numpy.lib import format as npy

    with archive.zip.open(key + ".npy") as member:
        try:
            version = npy.read_magic(member)
            if version not in ((1, 0), (2, 0)):
                raise BindingError(f"{name} is in .npy format version {version[0]}.{version[1]}, which gradcli "
                                   f"does not read")
            read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, _, dtype = read_header(member)
        except ValueError as error:
            raise BindingError(f"{name} is not a valid .npy array ({error})") from None
    return shape, dtype


def _named(members):
    """(name, value) for each (key, value) of a file: the key read as --at reads a name (NFKC), checked to be one."""
    for key, value in members:
        name = normalize(key)[0]
        if not IDENTIFIER.fullmatch(name):
            raise BindingError(f"{key!r} is not a variable name")
        yield name, value


def max_point_bytes() -> int:
    """The most a file's arrays may take as float64: half the memory available now (4 GiB where that is unknown)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return 4 * 2**30


def _bytes_text(size: int) -> str:
    """`300 MiB`, `3.1 GiB`."""
    return f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size / 2**20:.0f} MiB"


def read_program(expression: str | None, file: str | None) -> str:
    """The program's text from EXPR, --file or standard input ('-'), checked to be UTF-8."""
    if expression is not None and file is not None:
        raise click.UsageError("give the program either as EXPR or with --file, not both")
    if file is None and expression is None:
        raise click.UsageError("missing the program: give EXPR, '-' for standard input, or --file PATH")
    if file is None and expression != "-":
        # Undecodable argv bytes arrive as lone surrogates (surrogateescape): back to bytes, and
        # through the same UTF-8 check as a file, instead of failing later when output echoes them.
        try:
            data = expression.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            data = expression.encode("utf-8", "surrogatepass")
    else:
        try:
            if file is None or file == "-":
                data = standard_input().read(4 * MAX_SOURCE_CHARS + 1)
            else:
                with open(file, "rb") as stream:
                    data = stream.read(4 * MAX_SOURCE_CHARS + 1)
        except OSError as error:
            raise BindingError(f"cannot read {file}: {error.strerror}") from None
    if len(data) > 4 * MAX_SOURCE_CHARS:  # even at 4 bytes a character, over the limit (and maybe cut mid-character)
        raise LimitError(f"the program has more than {4 * MAX_SOURCE_CHARS:,} bytes; the limit is "
                         f"{MAX_SOURCE_CHARS:,} characters")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BindingError(f"the program is not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start})") from None


def names(groups: tuple[str, ...]) -> list[str] | None:
    """The names of every --wrt, in order, each once; None without --wrt."""
    if not groups:
        return None
    text = as_typed(",".join(groups))
    found = list(dict.fromkeys(normalize(name.strip())[0] for name in text.split(",") if name.strip()))
    if not found:
        raise BindingError("--wrt: no names given (example: --wrt x,q)")
    return found


def as_typed(word: str) -> str:
    """Names and values on the command line as typed: under an ASCII locale (LC_ALL=C without
    UTF-8 mode) Python decodes `θ` as two surrogate escapes; bytes that are UTF-8 are read as
    UTF-8, others stay escaped. Not for paths, which the file system takes back as bytes."""
    try:
        word.encode("utf-8")  # no surrogate escape in it: as typed
        return word
    except UnicodeEncodeError:
        pass
    try:
        return os.fsencode(word).decode("utf-8")
    except UnicodeError:
        return word
