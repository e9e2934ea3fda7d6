"""Views of the computational graph: a Rich tree, Graphviz DOT and Mermaid text.

With a point, every node carries its value and its gradient, CS231n style (value above,
gradient below), and every edge the contribution that flows back along it. DOT and Mermaid
are plain text (no Graphviz binary needed); every label is escaped for its language.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from rich.tree import Tree

from ..api import Result
from ..graph import Graph
from ..formatting import format_value
from ..trace import program_title

MAX_TREE_DEPTH = 48  # deeper levels are summarised (a 10 000-deep chain would print megabytes of guides)
_MAX_TITLE = 200


class GraphPicture:
    """What every view draws: nodes with their texts, edges, and (with a point) numbers on both."""

    __slots__ = ("graph", "labels", "result", "reached", "contributions", "precision")

    def __init__(self, graph: Graph, result: Result | None = None, precision: int = 6):
        self.graph = graph
        self.labels = graph.labels()
        self.result = result
        self.precision = precision
        self.reached: set[int] = set()
        self.contributions: dict[tuple[int, int], float] = {}  # (consumer, slot) -> contribution
        if result is not None:
            # The nodes the sweep passed gradient to, and the output (as the trace's backward rows).
            self.reached = {edge.input for edge in result.edges}
            if result.edges or graph.is_variable(graph.output):
                self.reached.add(graph.output)
            for edge in result.edges:
                self.contributions[edge.consumer, edge.slot] = edge.contribution

    @property
    def output(self) -> str:
        return self.graph.output_name

    def node_lines(self, node: int) -> list[str]:
        """`t1 = x + y`, then with a point the value, then ∂f/∂t1 (when the sweep reached the node)."""
        label = self.labels[node]
        if self.graph.ops[node] is None:
            lines = [label]
        else:
            formula = self.graph.formula(node, self.labels)
            lines = [f"{label} = {formula}" if len(formula) <= 60 else f"{label} = {formula[:59]}…"]
        if self.result is not None:
            lines.append(format_value(self.result.values[node], self.precision))
            if node in self.reached:
                lines.append(f"∂{self.output}/∂{label} = {format_value(self.result.grads[node], self.precision)}")
        return lines

    def edge_label(self, consumer: int, slot: int) -> str | None:
        contribution = self.contributions.get((consumer, slot))
        return None if contribution is None else format_value(contribution, self.precision)

    def source_line(self) -> str:
        """The program on one line, without comments (they are notes to self, not part of the graph)."""
        source = program_title(self.graph.source, _MAX_TITLE)
        return source if len(source) <= _MAX_TITLE else source[: _MAX_TITLE - 1] + "…"


# ----- the terminal: a Rich tree from the output down -----


def tree_view(picture: GraphPicture) -> Group:
    """The output at the root, each node's inputs below it; a node met again is a back-reference."""
    graph = picture.graph

    def label(node: int, again: bool) -> Text:
        lines = picture.node_lines(node)
        text = Text(lines[0], style="bold" if node == graph.output else "")
        if again:
            text.append(" (see above)", style="dim")
            return text
        if len(lines) > 1:
            text.append("   ")
            text.append(lines[1], style="cyan")
        if len(lines) > 2:
            text.append("   ")
            text.append(lines[2], style="magenta")
        return text

    root = Tree(label(graph.output, False), guide_style="dim")
    expanded = {graph.output}
    stack: list[tuple[int, Tree, int]] = [(j, root, 1) for j in reversed(graph.inputs[graph.output])]
    cut = 0
    while stack:
        node, parent, depth = stack.pop()
        again = node in expanded and graph.ops[node] is not None
        branch = parent.add(label(node, again))
        if again or graph.ops[node] is None:
            continue
        expanded.add(node)
        if depth >= MAX_TREE_DEPTH:
            branch.add(Text("…", style="dim"))
            cut += 1
            continue
        stack.extend((j, branch, depth + 1) for j in reversed(graph.inputs[node]))
    parts = [root]
    if cut:
        parts.append(Text(f"(the tree is cut at depth {MAX_TREE_DEPTH}; --format dot or mermaid shows "
                          f"all {len(graph.ops):,} nodes)", style="dim"))
    return Group(*parts)


# ----- Graphviz DOT -----


def dot_quote(text: str) -> str:
    """A DOT double-quoted string: backslash and quote escaped, no raw line breaks."""
    text = "".join(c if c.isprintable() else " " for c in text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_label(lines: list[str]) -> str:
    # Each line escaped on its own, joined with DOT's own line break escape.
    return "\\n".join(dot_quote(line)[1:-1] for line in lines).join('""')


def dot_text(picture: GraphPicture) -> str:
    """`digraph` with one statement per node and per edge, inputs on the left, the output on the right."""
    graph = picture.graph
    out = [
        "digraph gradcli {",
        "  rankdir=LR;",
        f"  label={dot_quote(picture.source_line())};",
        "  labelloc=t;",
        '  node [shape=box, fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontcolor="firebrick"];',
    ]
    for node, op in enumerate(graph.ops):
        attributes = [f"label={_dot_label(picture.node_lines(node))}"]
        if op is None:
            attributes.append("shape=plaintext" if node in graph.constants else "shape=ellipse")
        if node == graph.output:
            attributes.append("peripheries=2")
        out.append(f"  n{node} [{', '.join(attributes)}];")
    for node, node_inputs in enumerate(graph.inputs):
        for slot, j in enumerate(node_inputs):
            label = picture.edge_label(node, slot)
            out.append(f"  n{j} -> n{node}" + (f" [label={dot_quote(label)}]" if label is not None else "") + ";")
    out.append("}")
    return "\n".join(out) + "\n"


# ----- Mermaid -----


def mermaid_escape(text: str) -> str:
    """Text for a quoted Mermaid label or a comment: `#`, quotes, angle brackets, `&` and braces as entity codes.

    (Braces in a `%%` comment could be read as a directive, so they are escaped there too.)
    """
    text = "".join(c if c.isprintable() else " " for c in text)
    text = text.replace("#", "#35;")
    for char, code in (('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("&", "#38;"), ("{", "#123;"), ("}", "#125;")):
        text = text.replace(char, code)
    return text


def mermaid_text(picture: GraphPicture) -> str:
    """A `flowchart LR` with one line per node and per edge; labels are quoted and escaped."""
    graph = picture.graph
    out = ["flowchart LR", f"  %% gradcli graph of: {mermaid_escape(picture.source_line())}"]
    for node in range(len(graph.ops)):
        label = "<br/>".join(mermaid_escape(line) for line in picture.node_lines(node))
        if graph.ops[node] is None and node not in graph.constants:
            out.append(f'  n{node}(["{label}"])')  # a variable: a stadium shape
        else:
            out.append(f'  n{node}["{label}"]')
    for node, node_inputs in enumerate(graph.inputs):
        for slot, j in enumerate(node_inputs):
            label = picture.edge_label(node, slot)
            arrow = "-->" if label is None else f'-->|"{mermaid_escape(label)}"|'
            out.append(f"  n{j} {arrow} n{node}")
    return "\n".join(out) + "\n"
