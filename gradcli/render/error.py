"""Plain-text messages for stderr: an error with its source line and a caret under the span."""

from __future__ import annotations

import unicodedata

from ..errors import GradcliError
from ..i18n import message, tr

_WINDOW = 72  # columns of a long line shown around the error


def _width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _printable(char: str) -> str:
    if char == "\t":
        return " "
    return char if char.isprintable() else "?"


def format_error(error: GradcliError) -> str:
    """`gradcli: error: …` plus, when the error has a span, the line and a caret under it."""
    lines = [f"gradcli: {tr('error')}: {message(error.message)}"]
    if error.span is None or error.source is None:
        return "\n".join(lines)
    source = error.source
    start, end = error.span
    start = max(0, min(start, len(source)))
    end = max(start + 1, min(end, len(source)))
    line_start = source.rfind("\n", 0, start) + 1
    line_end = source.find("\n", start)
    line_end = len(source) if line_end == -1 else line_end
    if line_end > start and source[line_end - 1] == "\r":  # a CRLF line ending is not part of the line
        line_end -= 1
    line_number = source.count("\n", 0, start) + 1
    # Show at most a window of the line around the error (a 10 MB one-line program stays readable).
    shown_start = max(line_start, start - _WINDOW // 2)
    shown_end = min(line_end, max(start + _WINDOW // 2, shown_start + _WINDOW))
    text = "".join(_printable(c) for c in source[shown_start:shown_end])
    prefix = "…" if shown_start > line_start else ""
    suffix = "…" if shown_end < line_end else ""
    caret_pad = sum(_width(c) for c in source[shown_start:start]) + len(prefix)
    caret_len = max(1, sum(_width(c) for c in source[start : min(end, shown_end)]))
    gutter = "  " + tr("line {line}", line=line_number) + " | " if "\n" in source else "  | "
    lines.append(f"{gutter}{prefix}{text}{suffix}")
    lines.append(" " * (sum(map(_width, gutter)) - 2) + "| " + " " * caret_pad + "^" * caret_len)
    column = start - line_start + 1
    lines[0] += (tr(" (line {line}, column {column})", line=line_number, column=column) if "\n" in source
                 else tr(" (column {column})", column=column))
    return "\n".join(lines)
