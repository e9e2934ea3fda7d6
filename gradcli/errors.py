"""Typed errors and the exit codes they map to; the core raises these and never exits itself."""

from __future__ import annotations

import sys
from enum import IntEnum


class ExitStatus(IntEnum):
    """Documented process exit codes (README, `gradcli --help`)."""

    OK = 0
    CHECK_FAILED = 1
    BAD_INPUT = 2
    MATH_ERROR = 3
    INTERNAL = 70
    IO_ERROR = 74  # the output could not be written (a full disk), as sysexits' EX_IOERR
    INTERRUPTED = 130


class GradcliError(Exception):
    """An error in what the user gave us, with the source span it concerns (if any)."""

    exit_status = ExitStatus.BAD_INPUT

    def __init__(self, message: str, span: tuple[int, int] | None = None, source: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.source = source


class ParseError(GradcliError):
    """The program text is not a valid gradcli program."""


class BindingError(GradcliError):
    """A value given with --at (or the API's keywords) is missing, malformed or not allowed."""


class ShapeError(GradcliError):
    """Operands whose shapes do not fit the operation (a 2×2 matrix times a vector of 3)."""


class LimitError(GradcliError):
    """The input is larger than a documented limit."""


class MathError(GradcliError):
    """The program has no real value at the given point (log of a negative, 1/0, overflow)."""

    exit_status = ExitStatus.MATH_ERROR


def standard_input():
    """The binary standard input; BindingError if the process was started with it closed (`<&-`)."""
    if sys.stdin is None:
        raise BindingError("cannot read standard input: it is closed")
    return sys.stdin.buffer
