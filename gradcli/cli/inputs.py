"""What a command reads: the program (EXPR, --file or standard input) and the point (--at,
--data), as the user typed them."""

from __future__ import annotations

import os

import click

from ..errors import BindingError, LimitError, standard_input
from ..graph import Graph
from ..parse import MAX_SOURCE_CHARS, normalize, parse


class Inputs:
    """The program and the point of one command: EXPR or --file, --at, --data and --cse.

    `at` holds every value given (--at, and --data NAME=VALUE); `data` names the variables
    that are data, which get no gradient.
    """

    def __init__(self, expression: str | None, file: str | None, at: tuple[list, ...], data: tuple[list, ...],
                 cse: bool):
        self.expression, self.file, self.cse = expression, file, cse
        self.data = list(dict.fromkeys(name for group in data for name, _ in group))
        self.at = merge_at((*at, *([(name, value) for name, value in group if value is not None] for group in data)))
        self.has_point = bool(at) or any(value is not None for group in data for _, value in group)

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
