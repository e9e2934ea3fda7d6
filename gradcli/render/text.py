"""Text laid out for the terminal: lines and aligned columns that fit the console, and grad's table.

The layout is chosen when Rich renders (so it knows the width, inside a panel too, and whether
the stream can encode ∂): a table that is too wide drops an optional column, then hangs its last
column under its second or wraps inside its cells, and as a last resort stacks its cells. A word
(a number above all) is never cut, so no digit is lost at 40 columns or in a pipe. User text only
ever goes in as plain text, so markup in it prints literally.
"""

from __future__ import annotations

import re
from typing import Callable

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group
from rich.control import strip_control_codes
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from ..api import Result, node_named
from ..formatting import format_value
from ..i18n import translator

HEADING = "bold"
LEGEND = "dim"
VALUE = "cyan"
GRAD = "magenta"

GAP = 2  # spaces between two columns
HANG = 4  # how far a stacked cell is indented under its row

# Our own symbols, spelled in ASCII for a stream that cannot encode them (PYTHONIOENCODING=ascii): `df/dx`,
# not `\u2202f/\u2202x`, whose six characters per symbol would break every column. Other text (a θ in a
# name) prints as the backslash escape the stream would write, and is measured as such.
ASCII_SYMBOLS = str.maketrans({
    "∂": "d", "Σ": "S", "→": "->", "×": "*", "·": "*", "²": "^2", "³": "^3", "⚠": "!", "…": "...",
    "⋮": ":", "–": "-", "½": "1/2", "─": "-", "↓": "v",
})

Piece = tuple[str, str]  # (text, style)


def _plain(piece: Piece | str) -> Piece:
    text, style = (piece, "") if isinstance(piece, str) else piece
    return (text if text.isprintable() else strip_control_codes(text)), style


class _Measure:
    """The width of a text as this console prints it (an ASCII stream gets ASCII symbols and escapes)."""

    def __init__(self, console: Console):
        encoding = console.encoding.replace("-", "").replace("_", "")
        self.ascii = not encoding.startswith("utf")

    def text(self, text: str) -> str:
        if self.ascii and not text.isascii():
            return text.translate(ASCII_SYMBOLS).encode("ascii", "backslashreplace").decode("ascii")
        return text

    def width(self, text: str) -> int:
        return len(text) if text.isascii() else cell_len(text)


def _wrap(text: str, width: int, measure: _Measure) -> list[str]:
    """`text` in lines of at most `width` cells, broken at spaces; a word wider than that is folded."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if measure.width(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        while measure.width(word) > width and not _NUMBER.match(word):  # a long name or Japanese text is folded
            cut = max(1, width)
            while measure.width(word[:cut]) > width and cut > 1:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    lines.append(current)
    return lines


_NUMBER = re.compile(r"[(\-+]*(\d|inf|nan)[\w.+\-]*[),]*$")  # a number as printed: never folded, however narrow


def _longest_word(text: str, measure: _Measure) -> int:
    return max((measure.width(word) for word in text.split(" ")), default=0)


class Columns:
    """Rows of cells in aligned columns, and full-width lines between them, fitted to the console when printed.

    `aligns`: one of "<" ">" per column. `optional`: columns left out, first of all, when the table
    does not fit. `hang`: when it does not fit, the last cell goes on a line of its own under the
    second column (`→ x  ∂f/∂x = 2` then `1 × 2 = 2`), and narrower still every cell does, rather
    than wrapping inside the cells.
    `lead`: how many cells begin a stacked row, on a line of their own.
    """

    def __init__(self, aligns: str = "", indent: int = 0, optional: tuple[int, ...] = (), hang: bool = False,
                 lead: int = 1):
        self.aligns = aligns
        self.lead = lead
        self.indent = indent
        self.optional = optional
        self.hang = hang
        self.items: list[tuple[bool, list[Piece], int | None]] = []  # (is a row, cells or pieces, where a line breaks)

    def row(self, *cells: Piece | str) -> None:
        self.items.append((True, [_plain(cell) for cell in cells], None))

    def line(self, *pieces: Piece | str, hang: int | None = None) -> None:
        """A full-width line; too wide, it breaks before piece `hang` (else at spaces), indented 2 more."""
        self.items.append((False, [_plain(piece) for piece in pieces], hang))

    def rule(self) -> None:
        """A line under the row above (a header), as wide as that row."""
        self.items.append((False, [], None))

    # ----- layout -----

    def _widths(self, measure: _Measure, printed) -> tuple[list[int], list[int]]:
        natural = [0] * len(self.aligns)
        minimum = [0] * len(self.aligns)
        for is_row, cells, _ in self.items:
            if is_row:
                for k, (text, _) in enumerate(cells):
                    shown = printed(text)
                    natural[k] = max(natural[k], measure.width(shown))
                    minimum[k] = max(minimum[k], _longest_word(shown, measure))
        return natural, minimum

    @staticmethod
    def _fit(natural: list[int], minimum: list[int], columns: list[int], room: int) -> dict[int, int] | None:
        """Widths for `columns` within `room` cells, the widest narrowed first; None if words do not fit."""
        widths = {k: natural[k] for k in columns}
        excess = sum(widths.values()) + GAP * (len(columns) - 1) - room
        while excess > 0:
            narrowable = [k for k in columns if widths[k] > minimum[k]]
            if not narrowable:
                return None
            widest = max(narrowable, key=lambda k: widths[k])
            step = min(excess, widths[widest] - minimum[widest])
            others = [widths[k] for k in narrowable if k != widest]
            if others:  # narrow to the next widest, so that wide columns share the cut
                step = min(step, max(1, widths[widest] - max(others)))
            widths[widest] -= step
            excess -= step
        return widths

    def _plan(self, width: int, measure: _Measure, printed):
        """(the layout, column widths): "aligned" (maybe wrapping in cells), "hang", or "stack".

        A stacked row puts its `lead` cells on a line of their own and the others under them, indented,
        in aligned columns where they fit (widths under the key "rest"), else one cell a line.
        """
        natural, minimum = self._widths(measure, printed)
        room = width - self.indent
        every = list(range(len(self.aligns)))
        kept = [k for k in every if k not in self.optional]
        for columns in (every, kept):
            if sum(natural[k] for k in columns) + GAP * (len(columns) - 1) <= room:
                return "aligned", {k: natural[k] for k in columns}
        if self.hang:  # the head of each row whole, or each cell on a line of its own
            head = {k: natural[k] for k in kept[:-1]}
            if sum(head.values()) + GAP * (len(head) - 1) <= room and room - head[kept[0]] - GAP >= minimum[kept[-1]]:
                head[kept[-1]] = room - head[kept[0]] - GAP
                return "hang", head
        else:
            fitted = self._fit(natural, minimum, kept, room)
            if fitted is not None:
                return "aligned", fitted
        rest = kept[self.lead:]
        return "stack", {"lead": kept[:self.lead], "rest": self._fit(natural, minimum, rest, room - HANG) or {}}

    def _aligned_lines(self, cells: list[Piece], widths: dict[int, int], indent: int, measure: _Measure,
                       printed) -> list[list[Piece]]:
        """One row in columns of these widths, each cell wrapped inside its own."""
        wrapped = {k: [(part, measure.width(part)) for part in _wrap(printed(cells[k][0]), widths[k], measure)]
                   for k in widths}
        height = max(len(parts) for parts in wrapped.values())
        last = list(widths)[-1]
        lines = []
        for number in range(height):
            pieces: list[Piece] = [(" " * indent, "")]
            for k, parts in wrapped.items():
                text, used = parts[number] if number < len(parts) else ("", 0)
                pad = " " * (widths[k] - used)
                if self.aligns[k] == ">":
                    pieces += [(pad, ""), (text, cells[k][1])]
                else:
                    pieces += [(text, cells[k][1]), (pad if k != last else "", "")]
                if k != last:
                    pieces.append((" " * GAP, ""))
            lines.append(_rstripped(pieces))
        return lines

    def _row_lines(self, cells: list[Piece], plan: str, widths: dict, width: int, measure: _Measure,
                   printed) -> list[list[Piece]]:
        if plan == "aligned":
            return self._aligned_lines(cells, widths, self.indent, measure, printed)
        columns = list(widths)
        if plan == "hang":
            k = columns[-1]
            start = " " * (self.indent + widths[columns[0]] + GAP)
            head = self._aligned_lines(cells, {j: widths[j] for j in columns[:-1]}, self.indent, measure, printed)
            return head + [[(start, ""), (part, cells[k][1])]
                           for part in _wrap(printed(cells[k][0]), widths[k], measure)]
        lead = "  ".join(cells[k][0] for k in widths["lead"])
        lines = [[(" " * self.indent, ""), (part, cells[widths["lead"][-1]][1])]
                 for part in _wrap(printed(lead), width - self.indent, measure)]
        indent = self.indent + HANG
        if widths["rest"]:
            return lines + self._aligned_lines(cells, widths["rest"], indent, measure, printed)
        return lines + [[(" " * indent, ""), (part, style)]
                        for k in range(len(cells)) if k not in widths["lead"] and k not in self.optional
                        for text, style in [cells[k]] if text
                        for part in _wrap(printed(text), max(1, width - indent), measure)]

    def __rich_console__(self, console: Console, options: ConsoleOptions):
        width = options.max_width
        measure = _Measure(console)
        printed = measure.text
        plan, widths = self._plan(width, measure, printed) if self.aligns else ("aligned", {})
        styles: dict[str, Style] = {}
        newline = Segment.line()
        lines: list[list[Piece]] = []
        for is_row, cells, hang in self.items:
            if is_row:
                lines = self._row_lines(cells, plan, widths, width, measure, printed)
            elif not cells:  # a rule under the row above, as wide as it
                ruled = max(sum(measure.width(text) for text, _ in line) for line in lines) - self.indent
                lines = [[(" " * self.indent, ""), (printed("─") * ruled, LEGEND)]]
            else:
                lines = _line_lines([(printed(text), style) for text, style in cells], hang, width, measure)
            for line in lines:
                for text, style in line:
                    if style not in styles:
                        styles[style] = console.get_style(style) if style else Style.null()
                    yield Segment(text, styles[style])
                yield newline

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        measure = _Measure(console)
        printed = measure.text
        natural, _ = self._widths(measure, printed)
        widest = self.indent + sum(natural) + GAP * max(0, len(natural) - 1) if self.aligns else 0
        for is_row, pieces, _ in self.items:
            if not is_row:
                widest = max(widest, sum(measure.width(printed(text)) for text, _ in pieces))
        return Measurement(min(widest, 20), widest)


def _rstripped(pieces: list[Piece]) -> list[Piece]:
    while pieces and not pieces[-1][0].strip():
        pieces.pop()
    return pieces


def _line_lines(pieces: list[Piece], hang: int | None, width: int, measure: _Measure) -> list[list[Piece]]:
    """A full-width line as it fits: whole, broken before piece `hang`, or word-wrapped; the indent kept."""
    if sum(measure.width(text) for text, _ in pieces) <= width:
        return [pieces]
    first = pieces[0][0] if pieces else ""
    indent = min(len(first) - len(first.lstrip(" ")), width // 2)
    if hang:
        head = _line_lines(pieces[:hang], None, width, measure)
        tail = [(pieces[hang][0].lstrip(" "), pieces[hang][1])] + pieces[hang + 1:]
        return head + _line_lines([(" " * (indent + 2), "")] + tail, None, width, measure)
    body = [(first.lstrip(" "), pieces[0][1])] + pieces[1:]
    lines = []
    for line_number, part in enumerate(_styled_wrap(body, max(8, width - indent - 2), measure)):
        lines.append([(" " * (indent if line_number == 0 else indent + 2), "")] + part)
    return lines


def _styled_wrap(pieces: list[Piece], width: int, measure: _Measure) -> list[list[Piece]]:
    """Pieces word-wrapped to `width`, each word keeping its piece's style."""
    words: list[tuple[str, str, bool]] = []  # (word, style, a space before it)
    space = False
    for text, style in pieces:
        for k, word in enumerate(text.split(" ")):
            if k:
                space = True
            if word:
                words.append((word, style, space))
                space = False
    lines: list[list[Piece]] = [[]]
    used = 0
    for word, style, spaced in words:
        needed = measure.width(word) + (1 if spaced and used else 0)
        if used and used + needed > width:
            lines.append([])
            used, needed = 0, measure.width(word)
        parts = _wrap(word, width, measure) if measure.width(word) > width else [word]
        for index, part in enumerate(parts):
            if index:
                lines.append([])
                used = 0
            prefix = " " if spaced and used and index == 0 else ""
            lines[-1].append((prefix + part, style))
            used += measure.width(prefix + part)
    return lines


def value_line(result: Result, precision: int = 12) -> Text:
    """`f = -12`: the output's value, above the gradient."""
    return Text.assemble((result.output, HEADING), " = ", (format_value(result.value, precision), "bold " + VALUE))


def gap_line(t: Callable[[str], str], count: int, rows: str, first: str, last: str, indent: int) -> Piece:
    """The line that stands for rows --max-rows left out."""
    message = t("⋮ {count} {rows} left out ({first}–{last}); --max-rows sets how many are shown")
    if first == last:
        message = message.replace("{first}–{last}", "{first}")
    return " " * indent + message.format(count=f"{count:,}", rows=t(rows), first=first, last=last), LEGEND


def shown_rows(count: int, max_rows: int | None):
    """The indices of `count` rows to show: all of them, or a head and a tail with, between them,
    the range of the rows left out (a `range`, for the line that says so)."""
    if max_rows is None or count <= max_rows:
        yield from range(count)
        return
    head = (max_rows + 1) // 2
    tail = count - (max_rows - head)
    yield from range(head)
    if tail > head:
        yield range(head, tail)
    yield from range(tail, count)


def gradient_table(result: Result, wrt: list[str] | None = None, precision: int = 12,
                   t: Callable[[str], str] | None = None, max_rows: int | None = None) -> Group:
    """The value line and a table: variable, value at the point, ∂f/∂variable (a variable's name wraps
    on a narrow terminal; the numbers stay whole). `t`: the translator, by default the chosen language's."""
    t = t or translator()
    out = result.output
    names = wrt if wrt is not None else result.shown
    if not names:
        empty = Columns()
        empty.line((t("no variables: the value is a constant, and there is no gradient"), LEGEND))
        return Group(value_line(result, precision), empty)
    columns = Columns("<>>")
    columns.row((t("variable"), HEADING), (t("value"), HEADING), (t("∂{out}/∂variable").format(out=out), HEADING))
    columns.rule()
    for index in shown_rows(len(names), max_rows):
        if isinstance(index, range):
            columns.line(gap_line(t, len(index), "variables", names[index[0]], names[index[-1]], 0))
            continue
        node = node_named(result.graph, names[index])
        columns.row(names[index], format_value(result.values[node], precision),
                    (format_value(result.grads[node], precision), GRAD))
    return Group(value_line(result, precision), columns)
