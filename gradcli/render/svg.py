"""The CS231n circuit as SVG text: gates as circles, wires left to right, values above, gradients below.

With a point, each wire carries its source's value above it (green, ▸) and below it the
gradient that flowed back along it (red, italic, ◂): position and marker tell them apart in
black and white too. A branch node (used by several gates) shows under it the sum of its
wires' contributions, as the trace's branch sums do. The numbers are the reverse sweep's own
records, read through GraphPicture, so the picture and `trace` agree.

Text widths are estimated, not measured (no font files here): the text is monospace, one cell
per character and two for a wide (CJK) one, and every box is sized from that estimate.
"""

from __future__ import annotations

import unicodedata
from typing import NamedTuple
from xml.sax.saxutils import escape, quoteattr

from ..errors import BindingError, LimitError
from ..formatting import format_value
from ..i18n import tr
from .graph import GraphPicture
from .layout import MAX_ELEMENTS, Layout, Size, TooLarge, layered_layout

FONT_SIZE = 13.0
CELL = 8.0  # px per monospace cell at FONT_SIZE (0.6 em, rounded up)
LINE = 18.0  # one line of text: a 13 px font's box is about 16 px tall
RADIUS = 17.0  # of a gate's circle, grown for a longer operator (sigmoid)
VALUE_MARK, GRADIENT_MARK = "▸", "◂"  # forward to the right, backward to the left
_PAD = 6.0
_HEADER = 2 * LINE + 8  # the program and the legend above the circuit
FONTS = "'DejaVu Sans Mono', Menlo, Consolas, 'Noto Sans Mono CJK JP', monospace"

STYLE = f"""
text {{ font-family: {FONTS}; font-size: {FONT_SIZE:g}px; fill: #222; }}
.title {{ font-weight: bold; }}
.legend {{ fill: #555; }}
.wire {{ fill: none; stroke: #555; stroke-width: 1.5; }}
.gate circle {{ fill: #fff; stroke: #222; stroke-width: 1.5; }}
.gate .op {{ font-weight: bold; }}
.name {{ fill: #333; }}
.temporary {{ fill: #888; font-style: italic; }}
.constant {{ fill: #777; }}
.variable {{ font-weight: bold; }}
.value {{ fill: #1b7f2a; }}
.grad {{ fill: #c62828; font-style: italic; }}
.sum {{ fill: #c62828; font-weight: bold; }}
"""


def text_width(text: str) -> float:
    """The estimated width in px of `text` in the monospace font: wide characters take two cells."""
    cells = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return cells * CELL


class Wire(NamedTuple):
    """One edge of the drawing: from `source` into input `slot` of `target` (`target` None: the output's own wire)."""

    source: int
    target: int | None
    slot: int
    value: str | None  # the source's value, above the wire
    gradient: str | None  # what flowed back along the wire, below it


class Circuit:
    """The picture's pieces before drawing: node texts, wires and their numbers; shared by the SVG and the page."""

    def __init__(self, picture: GraphPicture):
        self.picture = picture
        graph = picture.graph
        result = picture.result
        if graph.uses_arrays or (result is not None and result.shapes is not None):
            raise BindingError("the circuit picture (--format svg or html, trace --html) draws programs of "
                               "numbers; vectors and matrices are not drawn yet")
        self.count = len(graph.ops)  # node `count` is the end of the output's wire
        self.wires: list[Wire] = []
        for source, target, slot in picture.wires():
            swept = picture.edges.get((target, slot))
            self.wires.append(Wire(source, target, slot, self.value(source),
                                   None if swept is None else format_value(swept.contribution, picture.precision)))
        output = graph.output
        gradient = self.number(result.grads[output]) if result is not None and output in picture.reached else None
        self.wires.append(Wire(output, None, 0, self.value(output), gradient))

    def number(self, value: float) -> str:
        return format_value(value, self.picture.precision)

    def value(self, node: int) -> str | None:
        result = self.picture.result
        return None if result is None else self.number(result.values[node])

    def gate_text(self, node: int) -> str:
        """The operator as the op table shows it: `*`, `+`, `max`, `exp`."""
        return self.picture.graph.ops[node].symbol

    def sum_text(self, node: int) -> str | None:
        """`Σ ∂f/∂y = 2 + 3 = 5` under a branch node, None elsewhere."""
        if node not in self.picture.branches or node not in self.picture.reached:
            return None
        return "Σ " + self.picture.branch_sum_text(node)

    def radius(self, node: int) -> float:
        return max(RADIUS, text_width(self.gate_text(node)) / 2 + 5)

    def node_size(self, node: int) -> Size:
        """A leaf: its name on one line. A gate: its name above a circle with the operator. A branch
        node adds its sum below."""
        graph = self.picture.graph
        label = self.picture.labels[node]
        below = self.sum_text(node)
        extra = LINE if below else 0.0
        width = max(text_width(label), text_width(below or "")) + _PAD
        if graph.ops[node] is None:
            return Size(width, LINE + extra, LINE / 2)
        radius = self.radius(node)
        return Size(max(width, 2 * radius + _PAD), LINE + 2 * radius + 4 + extra, LINE + radius)

    def label_size(self, wire: Wire) -> Size:
        """Room above the wire for its value and below it for its gradient (a marker and a space each)."""
        texts = [f"{VALUE_MARK} {wire.value}" if wire.value is not None else "",
                 f"{GRADIENT_MARK} {wire.gradient}" if wire.gradient is not None else ""]
        if not any(texts):
            return Size(0.0, 8.0, 4.0)
        return Size(max(map(text_width, texts)) + _PAD, 2 * LINE, LINE)

    def leaves(self) -> set[int]:
        return {node for node, op in enumerate(self.picture.graph.ops) if op is None}

    def lay_out(self) -> Layout:
        """The layered layout; LimitError when the drawing would be too big to read."""
        graph = self.picture.graph
        sizes = [self.node_size(node) for node in range(self.count)] + [Size(0.0, 8.0, 4.0)]
        edges = [(wire.source, self.count if wire.target is None else wire.target) for wire in self.wires]
        try:
            return layered_layout(sizes, edges, [self.label_size(wire) for wire in self.wires],
                                  floating=set(graph.constants), flush_right=self.leaves())
        except TooLarge as error:
            raise LimitError(f"the picture would have {error.count:,} pieces (nodes and pieces of wires); it draws at "
                             f"most {MAX_ELEMENTS:,}: --format dot, mermaid or the tree show every node") from None


def _text(x: float, y: float, text: str, css: str, anchor: str = "middle", **attributes: str) -> str:
    extra = "".join(f" {name.replace('_', '-')}={quoteattr(value)}" for name, value in attributes.items())
    return (f'<text x="{x:.1f}" y="{y:.1f}" class="{css}" text-anchor="{anchor}"{extra}>'
            f"{escape(text)}</text>")


def svg_parts(circuit: Circuit, layout: Layout, top: float) -> list[str]:
    """The circuit's SVG elements, shifted down by `top`: wires first, so the gates' white circles cover their ends.

    Ids the page's script uses: wire k is `w{k}` with its texts `v{k}` (value) and `g{k}`
    (gradient); node n is `n{n}` and its branch sum `s{n}`.
    """
    picture = circuit.picture
    graph = picture.graph
    labels = picture.labels
    parts: list[str] = []
    for k, wire in enumerate(circuit.wires):
        points = list(layout.routes[k])
        left, _ = layout.boxes[wire.source]
        size = circuit.node_size(wire.source)
        if graph.ops[wire.source] is None:
            points.insert(0, (left + size.width - 2, points[0][1]))
        else:
            points.insert(0, (left + size.width / 2, points[0][1]))
        if wire.target is not None:
            target_left, _ = layout.boxes[wire.target]
            points.append((target_left + circuit.node_size(wire.target).width / 2, points[-1][1]))
        path = " ".join(f"{x:.1f},{y + top:.1f}" for x, y in points)
        target = "out" if wire.target is None else f"n{wire.target}"
        parts.append(f'<g id="w{k}" class="edge" data-source="n{wire.source}" data-target="{target}" '
                     f'data-slot="{wire.slot}"><polyline class="wire" points="{path}"/>')
        if layout.labels[k] is not None:
            label_left, label_top = layout.labels[k]
            centre = label_left + circuit.label_size(wire).width / 2
            wire_y = label_top + LINE + top
            if wire.value is not None:
                parts.append(_text(centre, wire_y - 5, f"{VALUE_MARK} {wire.value}", "value", id=f"v{k}",
                                   data_number=wire.value))
            if wire.gradient is not None:
                parts.append(_text(centre, wire_y + 14, f"{GRADIENT_MARK} {wire.gradient}", "grad", id=f"g{k}",
                                   data_number=wire.gradient))
        parts.append("</g>")
    for node in range(circuit.count):
        left, box_top = layout.boxes[node]
        size = circuit.node_size(node)
        centre = left + size.width / 2
        box_top += top
        label = labels[node]
        if graph.ops[node] is None:
            kind = "constant" if node in graph.constants else "variable"
            parts.append(f'<g id="n{node}" class="node leaf" data-label={quoteattr(label)}>')
            parts.append(_text(left + size.width - 4, box_top + 13, label, kind, anchor="end"))
            below = box_top + LINE
        else:
            radius = circuit.radius(node)
            cy = box_top + LINE + radius
            named = graph.names[node] is not None or node == graph.output
            parts.append(f'<g id="n{node}" class="node gate" data-label={quoteattr(label)}>')
            parts.append(_text(centre, box_top + 13, label, "name" if named else "temporary"))
            parts.append(f'<circle cx="{centre:.1f}" cy="{cy:.1f}" r="{radius:g}"/>')
            parts.append(_text(centre, cy + 4.5, circuit.gate_text(node), "op"))
            below = cy + radius + 4
        summed = circuit.sum_text(node)
        if summed is not None:
            leaf = graph.ops[node] is None
            parts.append(_text(left + size.width - 4 if leaf else centre, below + 13, summed, "sum",
                               anchor="end" if leaf else "middle", id=f"s{node}"))
        parts.append("</g>")
    return parts


def header_parts(circuit: Circuit) -> tuple[list[str], float]:
    """The program above the circuit and, with a point, the legend; their width."""
    title = tr("gradcli graph of: {program}", program=circuit.picture.source_line())
    parts = [_text(10, 18, title, "title", anchor="start")]
    width = text_width(title)
    if circuit.picture.result is not None:
        legend = tr("{value} value, above the wire (green)    {gradient} gradient flowing back, below it (red)",
                    value=VALUE_MARK, gradient=GRADIENT_MARK)
        parts.append(_text(10, 18 + LINE, legend, "legend", anchor="start"))
        width = max(width, text_width(legend))
    return parts, width + 20


def svg_element(picture: GraphPicture) -> str:
    """The `<svg>` element alone, to stand in a page (render/html.py) or a file."""
    circuit = Circuit(picture)
    layout = circuit.lay_out()
    header, header_width = header_parts(circuit)
    width = max(layout.width, header_width)
    height = layout.height + _HEADER
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img">',
        f"<title>{escape(picture.source_line())}</title>",
        f"<style>{STYLE}</style>",
        '<rect width="100%" height="100%" fill="#fff"/>',
        *header,
        *svg_parts(circuit, layout, _HEADER),
        "</svg>",
    ])


def svg_text(picture: GraphPicture) -> str:
    """`graph --format svg`: a standalone SVG document (UTF-8)."""
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + svg_element(picture) + "\n"
