"""A worksheet (gradcli.worksheet) as Markdown, printable HTML (A4) or LaTeX for a plain pdflatex.

Each format renders the same list of blocks (headings, paragraphs, tables, a command), once for
the sheet, with its blank cells empty, and once for the answer key, with them filled in (and
marked): so the key is the sheet's own tables. The HTML page also shows the circuit of
render/svg.py, with the numbers the sheet asks for replaced by lines to write on.
"""

from __future__ import annotations

import unicodedata
from html import escape
from typing import NamedTuple
from xml.etree import ElementTree

from ..errors import BindingError, LimitError
from ..i18n import current, tr
from ..worksheet import Cell, Worksheet

BLANK_MD = r"\_\_\_\_\_\_"  # a blank cell in Markdown: a line to write on, never an empty cell
SVG_NS = "http://www.w3.org/2000/svg"


class Block(NamedTuple):
    kind: str  # title, heading, text, legend, table, code, figure: the name of the method that renders it
    content: object
    key: bool  # a block of the answer key


def blocks(sheet: Worksheet, key: bool) -> list[Block]:
    """The sheet (or with `key`, its answer key) from top to bottom, in no format yet."""
    title = tr("Answer key: {program}" if key else "Backprop worksheet: {program}", program=sheet.source)
    point = tr("at {point}").format(point=sheet.point)
    if sheet.seed is not None:
        point += " " + tr("(a random point: --random-point --seed {seed})", seed=sheet.seed)
    parts = [Block("title", title, key), Block("text", point, key)]
    if not key:
        parts.append(Block("text", sheet.instructions, key))
    parts.append(Block("figure", sheet, key))
    for table in sheet.tables:
        parts.append(Block("heading", table.title, key))
        if table.legend:
            parts.append(Block("legend", table.legend, key))
        parts.append(Block("table", table, key))
    parts.append(Block("heading", tr("Check your answers"), key))
    if key and sheet.blank != "forward":
        parts.append(Block("text", tr("With the answer key's numbers the check passes (exit status 0):"), key))
    else:
        parts.append(Block("text", sheet.check_intro(), key))
    parts.append(Block("code", sheet.check_lines(filled=key), key))
    return parts


def render(sheet: Worksheet, output_format: str, key_apart: bool) -> tuple[str, str | None]:
    """The sheet's document, and the answer key's as a second document when `key_apart` (--answers);
    else the key is the second part of the sheet's document."""
    renderer = {"md": Markdown, "html": Html, "latex": Latex}[output_format]()
    if key_apart:
        return renderer.document([blocks(sheet, False)]), renderer.document([blocks(sheet, True)])
    return renderer.document([blocks(sheet, False), blocks(sheet, True)]), None


class _Renderer:
    """One format: a method per kind of block, each returning its text."""

    separator = ""  # between the sheet and the key in one document

    def document(self, parts: list[list[Block]]) -> str:
        return self.separator.join("".join(getattr(self, block.kind)(block) for block in part) for part in parts)

    def figure(self, block: Block) -> str:
        return ""  # only the HTML page draws the circuit


class Markdown(_Renderer):
    separator = "\n---\n\n"

    def title(self, block: Block) -> str:
        return f"# {md_escape(block.content)}\n\n"

    def heading(self, block: Block) -> str:
        return f"## {md_escape(block.content)}\n\n"

    def text(self, block: Block) -> str:
        return md_escape(block.content) + "\n\n"

    def legend(self, block: Block) -> str:
        return f"*{md_escape(block.content)}*\n\n"

    def code(self, block: Block) -> str:
        return "```sh\n" + "\n".join(block.content) + "\n```\n"

    def table(self, block: Block) -> str:
        table = block.content
        lines = ["| " + " | ".join(md_escape(heading) for heading in table.headings) + " |",
                 "|" + "|".join("---:" if numeric else ":---" for numeric in table.numeric) + "|"]
        for row in table.rows:
            lines.append("| " + " | ".join(self.cell(cell, block.key) for cell in row) + " |")
        return "\n".join(lines) + "\n\n"

    @staticmethod
    def cell(cell: Cell, key: bool) -> str:
        if not cell.blank:
            return md_escape(cell.text)
        return f"**{md_escape(cell.text)}**" if key else BLANK_MD


def md_escape(text: str) -> str:
    """Text that Markdown shows as it is: its punctuation escaped (the pipe too, for table cells)."""
    return "".join("\\" + c if c in "\\`*_[]<>|#" else c for c in text)


# ----- HTML -----

PAGE_STYLE = """
@page { size: A4; margin: 15mm; }
body { font-family: system-ui, sans-serif; color: #111; max-width: 180mm; margin: 1rem auto; font-size: 11pt; }
h1 { font-size: 15pt; margin: 0 0 .3rem; }
h2 { font-size: 12pt; margin: 1.2rem 0 .3rem; }
.legend { color: #555; font-style: italic; margin: 0 0 .3rem; }
table { border-collapse: collapse; margin: .2rem 0 .6rem; page-break-inside: auto; }
tr { page-break-inside: avoid; }
th, td { border: 1px solid #999; padding: .25rem .6rem; text-align: left; }
th { background: #eee; }
.num { text-align: right; }
td.blank { min-width: 6em; height: 1.5em; background: #fff; }
td.answer { font-weight: bold; background: #f3f3f3; }
figure { margin: .5rem 0; }
figure svg { max-width: 100%; height: auto; }
pre { background: #f5f5f5; padding: .6rem; white-space: pre-wrap; font-size: 9.5pt; }
.key { break-before: page; page-break-before: always; }
@media print { body { margin: 0; max-width: none; } }
"""


class Html(_Renderer):
    def document(self, parts: list[list[Block]]) -> str:
        sections = []
        for part in parts:
            css = ' class="key"' if part[0].key else ""
            sections.append(f"<section{css}>\n" + "".join(getattr(self, b.kind)(b) for b in part) + "</section>\n")
        title = parts[0][0].content
        return ("<!DOCTYPE html>\n"
                f'<html lang="{current()}">\n<head><meta charset="utf-8">'
                '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
                f"<title>{escape(title)}</title>\n<style>{PAGE_STYLE}</style>\n</head>\n<body>\n"
                + "".join(sections) + "</body>\n</html>\n")

    def title(self, block: Block) -> str:
        return f"<h1>{escape(block.content)}</h1>\n"

    def heading(self, block: Block) -> str:
        return f"<h2>{escape(block.content)}</h2>\n"

    def text(self, block: Block) -> str:
        return f"<p>{escape(block.content)}</p>\n"

    def legend(self, block: Block) -> str:
        return f'<p class="legend">{escape(block.content)}</p>\n'

    def code(self, block: Block) -> str:
        return "<pre><code>" + escape("\n".join(block.content)) + "</code></pre>\n"

    def table(self, block: Block) -> str:
        table = block.content
        classes = [' class="num"' if numeric else "" for numeric in table.numeric]
        lines = ["<table>", "<thead><tr>" + "".join(f"<th{css}>{escape(heading)}</th>"
                                                    for css, heading in zip(classes, table.headings)) + "</tr></thead>",
                 "<tbody>"]
        for row in table.rows:
            cells = []
            for numeric, cell in zip(table.numeric, row):
                kind = ["num"] if numeric else []
                if cell.blank:
                    kind.append("answer" if block.key else "blank")
                css = f' class="{" ".join(kind)}"' if kind else ""
                cells.append(f"<td{css}>{escape(cell.text) if block.key or not cell.blank else ''}</td>")
            lines.append("<tr>" + "".join(cells) + "</tr>")
        return "\n".join(lines + ["</tbody>", "</table>"]) + "\n"

    def figure(self, block: Block) -> str:
        svg = circuit_svg(block.content, blanked=not block.key)
        return "" if svg is None else f"<figure>{svg}</figure>\n"


def circuit_svg(sheet: Worksheet, blanked: bool) -> str | None:
    """render/svg.py's circuit at the sheet's point; `blanked`: the numbers the sheet asks for replaced
    by a line to write on (found by the classes and ids svg.py gives them). Ids are dropped, as the
    page holds two pictures. None when the program is too large to draw."""
    from .graph import GraphPicture
    from .svg import svg_element

    result = sheet.result
    try:
        text = svg_element(GraphPicture(result.graph, result, sheet.precision))
    except LimitError:
        return None
    ElementTree.register_namespace("", SVG_NS)
    root = ElementTree.fromstring(text)
    ops = result.graph.ops
    forward = sheet.blank in ("forward", "both")
    backward = sheet.blank in ("backward", "both")
    for group in root.iter(f"{{{SVG_NS}}}g"):
        for text_element in group.findall(f"{{{SVG_NS}}}text"):
            css = text_element.get("class")
            if blanked and _asked(css, group, ops, forward, backward):
                shown = text_element.text or ""
                # Keep the marker (▸, ◂) or the partial (Σ ∂f/∂y =); the number after it becomes a line.
                kept = shown[: shown.index(" = ") + 3] if css == "sum" else shown[:2]
                text_element.text = kept + "_" * max(4, len(shown) - len(kept))
                text_element.attrib.pop("data-number", None)
    for element in root.iter():
        element.attrib.pop("id", None)
    return ElementTree.tostring(root, encoding="unicode")


def _asked(css: str | None, group, ops, forward: bool, backward: bool) -> bool:
    """Whether a text of the picture is a number the sheet asks for: a computed node's value (forward),
    a gradient other than the output's 1, a branch sum (backward)."""
    if css == "value":
        return forward and ops[int(group.get("data-source")[1:])] is not None
    if css == "grad":
        return backward and group.get("data-target") != "out"
    return css == "sum" and backward


# ----- LaTeX -----

_TEX_SPECIAL = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#", "%": r"\%",
    "_": r"\_", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}", "-": "-{}", "<": r"\textless{}",
    ">": r"\textgreater{}", "|": r"\textbar{}", '"': r"\textquotedbl{}", "'": r"\textquotesingle{}",
    "`": r"\textasciigrave{}",
}
_TEX_SYMBOLS = {
    "∂": r"$\partial$", "×": r"$\times$", "Σ": r"$\Sigma$", "·": r"$\cdot$", "²": r"\textsuperscript{2}",
    "³": r"\textsuperscript{3}", "½": r"$\frac{1}{2}$", "→": r"$\rightarrow$", "−": "$-$", "…": r"\dots{}",
    "√": r"$\surd$", "±": r"$\pm$", "π": r"$\pi$", "σ": r"$\sigma$", "δ": r"$\delta$", "‖": r"$\|$",
    "⊙": r"$\odot$", "ᵀ": r"\textsuperscript{T}", "≤": r"$\leq$", "≥": r"$\geq$", "≠": r"$\neq$",
    "∞": r"$\infty$", "⁻": r"\textsuperscript{-}", "¹": r"\textsuperscript{1}",
}
LATEX_PREAMBLE = r"""\documentclass[a4paper,11pt]{article}
\usepackage[T1]{fontenc}
\usepackage[utf8]{inputenc}
\usepackage{textcomp}
\usepackage{longtable}
\setlength{\textwidth}{170mm}
\setlength{\oddsidemargin}{-5mm}
\setlength{\textheight}{240mm}
\setlength{\topmargin}{-15mm}
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.5em}
\renewcommand{\arraystretch}{1.5}
\newcommand{\blank}{\rule[-0.4em]{6em}{0.4pt}}
\pagestyle{empty}
\begin{document}
"""


def tex_escape(text: str) -> str:
    """Text for LaTeX's text mode with only the standard packages above: TeX's special characters
    escaped, the trace's mathematical symbols as math, Latin-1 letters (é, ü) as they are (inputenc).
    BindingError (exit 2) for a character pdflatex cannot typeset, naming it."""
    pieces = []
    for character in text:
        if character in _TEX_SPECIAL:
            pieces.append(_TEX_SPECIAL[character])
        elif character in _TEX_SYMBOLS:
            pieces.append(_TEX_SYMBOLS[character])
        elif character == "\n":
            pieces.append("\\\\\n")
        elif " " <= character <= "~" or ("\u00c0" <= character <= "\u00ff" and character.isalpha()):
            pieces.append(character)
        else:
            name = unicodedata.name(character, f"U+{ord(character):04X}")
            raise BindingError(f"--format latex: pdflatex cannot typeset {character} ({name}) in {text}; "
                               f"--format md or html can")
    return "".join(pieces)


class Latex(_Renderer):
    def document(self, parts: list[list[Block]]) -> str:
        if current() == "ja":
            raise BindingError("--format latex: pdflatex cannot typeset Japanese; with --lang ja use --format md "
                               "or html (a printable A4 page)")
        body = "\n\\newpage\n".join("".join(getattr(self, b.kind)(b) for b in part) for part in parts)
        return LATEX_PREAMBLE + body + "\\end{document}\n"

    def title(self, block: Block) -> str:
        return f"\\section*{{{tex_escape(block.content)}}}\n"

    def heading(self, block: Block) -> str:
        return f"\\subsection*{{{tex_escape(block.content)}}}\n"

    def text(self, block: Block) -> str:
        return tex_escape(block.content) + "\n\n"

    def legend(self, block: Block) -> str:
        return f"\\emph{{{tex_escape(block.content)}}}\n\n"

    def code(self, block: Block) -> str:
        lines = [("\\hspace*{2em}" if k else "") + tex_escape(line.strip()) for k, line in enumerate(block.content)]
        return "{\\small\\ttfamily\n" + "\\\\\n".join(lines) + "\\par}\n"

    def table(self, block: Block) -> str:
        table = block.content
        spec = "|" + "|".join("r" if numeric else "l" for numeric in table.numeric) + "|"
        lines = [f"\\begin{{longtable}}{{{spec}}}", "\\hline",
                 " & ".join(f"\\textbf{{{tex_escape(heading)}}}" for heading in table.headings) + " \\\\",
                 "\\hline", "\\endhead"]
        for row in table.rows:
            lines.append(" & ".join(self.cell(cell, block.key) for cell in row) + " \\\\ \\hline")
        return "\n".join(lines + ["\\end{longtable}"]) + "\n"

    @staticmethod
    def cell(cell: Cell, key: bool) -> str:
        if not cell.blank:
            return tex_escape(cell.text)
        return f"\\textbf{{{tex_escape(cell.text)}}}" if key else "\\blank"
