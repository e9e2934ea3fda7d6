"""Views of the computational graph: a Rich tree, Graphviz DOT and Mermaid text, and a JSON object.

With a point, every node carries its value and its gradient, CS231n style (value above,
gradient below), and every edge the contribution that flows back along it. The tree marks a
node used more than once with Σ, as the trace does: each use shows the contribution along its
edge, and the node's gradient (their sum) stands once, at its first use. DOT and Mermaid are
plain text (no Graphviz binary needed); every label is escaped for its language.

On vectors and matrices each node also shows its shape (`shape 2×3`), which the point gives
(without one, no shape is shown: a variable's is not known). Labels stay short: an array of at
most SHOWN_ENTRIES entries is shown whole, a larger one by its norm (`‖W‖ = 0.787`); JSON has
every entry. The array sweep records no edges, so on arrays no edge carries a contribution, and
a node used more than once shows its gradient (the sum) without its terms.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Group
from rich.text import Text
from rich.tree import Tree

from ..api import Result
from ..engine import Edge, needs_gradient
from ..formatting import format_value, json_value
from ..graph import Graph, reaching_output
from ..i18n import tr, translator
from ..shapes import Shape, shape_text
from ..trace import Branch, build_trace, program_title
from .trace import via_text

MAX_TREE_DEPTH = 48  # deeper levels are summarised (a 10 000-deep chain would print megabytes of guides)
MIN_LINE_CELLS = 28  # a tree line gets at least this many columns: deeper levels continue in a tree below
_GUIDE_CELLS = 4  # Rich's `├── ` per level
_MAX_TITLE = 200
_MAX_SUMMED_TERMS = 4  # a branch sum longer than this is given as its total and its count of terms
_GAP = "   "  # between the pieces of a tree line
SHOWN_ENTRIES = 4  # an array of at most this many entries is shown whole in a label; a larger one by its norm


class GraphPicture:
    """What every view draws: nodes with their texts, edges, and (with a point) numbers on both.

    The numbers on edges are the reverse sweep's own records (result.edges), so every view shows
    what was computed, and a branch node's terms are the trace's (gradcli.trace.Branch).
    """

    __slots__ = ("graph", "labels", "result", "grads", "shapes", "reached", "edges", "branches", "shared",
                 "precision")

    def __init__(self, graph: Graph, result: Result | None = None, precision: int = 6):
        self.graph = graph
        self.labels = graph.labels()
        self.result = result
        self.precision = precision
        self.grads: list = []  # ∂output/∂node, None where no gradient flows
        self.shapes: list[Shape] | None = None  # on the array path only
        self.reached: set[int] = set()  # the nodes the sweep passed gradient to, and the output
        self.edges: dict[tuple[int, int], Edge] = {}  # (consumer, slot) -> the sweep's step along it
        self.branches: dict[int, Branch] = {}  # nodes whose gradient is shown as the sum of their edges' terms
        if result is None:
            self.shared = used_more_than_once(graph)  # the Σ mark needs no numbers
        elif result.shapes is None:  # the scalar path: the trace's own branch sums
            trace = build_trace(result)
            self.grads, self.reached, self.branches = result.grads, trace.reached, trace.branch_of
            self.shared = set(self.branches)
        else:
            self.shapes = result.shapes
            self.grads = every_gradient(result)
            self.reached = {node for node, gradient in enumerate(self.grads) if gradient is not None}
            self.shared = used_more_than_once(graph, result.sources)
        if result is not None:
            self.edges = {(edge.consumer, edge.slot): edge for edge in result.edges}

    @property
    def output(self) -> str:
        return self.graph.output_name

    def head(self, node: int, limit: int = 60) -> str:
        """`t1 = x + y` (cut with … past `limit` characters), or the leaf's name."""
        label = self.labels[node]
        if self.graph.ops[node] is None:
            return label
        line = f"{label} = {self.graph.formula(node, self.labels)}"
        return line if len(line) <= limit else line[: max(limit - 1, len(label) + 3)] + "…"

    def number_text(self, value, name: str = "·") -> str:
        """A value as a label shows it: whole, or an array of more than SHOWN_ENTRIES entries as
        `‖name‖ = its norm` (the shape stands beside it)."""
        if shown_whole(value):
            return format_value(value, self.precision)
        import numpy as np

        return f"‖{name}‖ = {format_value(float(np.linalg.norm(value.ravel())), self.precision)}"

    def value_text(self, node: int) -> str:
        return self.number_text(self.result.values[node], self.labels[node])

    def gradient_text(self, node: int) -> str:
        """`∂f/∂x = [1, 2]`, or for a larger array `‖∂f/∂W‖ = 1.12`."""
        partial, gradient = f"∂{self.output}/∂{self.labels[node]}", self.grads[node]
        if shown_whole(gradient):
            return f"{partial} = {self.number_text(gradient)}"
        return self.number_text(gradient, partial)

    def shape_label(self, node: int) -> str | None:
        """`shape 2×3` or `scalar` on the array path; None for a number (it is plainly one), on the
        scalar path and without a point."""
        if self.shapes is None or node in self.graph.constants:
            return None
        shape = self.shapes[node]
        return tr("shape {shape}", shape=shape_text(shape)) if shape else tr("scalar")

    def node_lines(self, node: int) -> list[str]:
        """`t1 = x + y`, its shape where known, then with a point the value, then ∂f/∂t1 (when the
        sweep reached the node)."""
        lines = [self.head(node)]
        shape = self.shape_label(node)
        if shape is not None:
            lines.append(shape)
        if self.result is not None:
            lines.append(self.value_text(node))
            if node in self.reached:
                lines.append(self.gradient_text(node))
        return lines

    def edge_label(self, consumer: int, slot: int) -> str | None:
        edge = self.edges.get((consumer, slot))
        return None if edge is None else self.number_text(edge.contribution)

    def source_line(self) -> str:
        """The program on one line, without comments (they are notes to self, not part of the graph)."""
        source = program_title(self.graph.source, _MAX_TITLE)
        return source if len(source) <= _MAX_TITLE else source[: _MAX_TITLE - 1] + "…"

    def wires(self):
        """(input, consumer, slot) of every edge, consumers in evaluation order."""
        for consumer, node_inputs in enumerate(self.graph.inputs):
            for slot, node in enumerate(node_inputs):
                yield node, consumer, slot

    # ----- the pieces of a tree line -----

    def contribution_text(self, edge: Edge) -> str:
        """`contribution via a = 2`, worded as the trace's branch sums word it."""
        return tr("contribution {via} = {value}", via=via_text(self.graph, self.labels, edge, translator()),
                  value=self.number_text(edge.contribution))

    def branch_sum_text(self, node: int) -> str:
        """`∂f/∂y = 2 + 3 = 5`: the node's gradient as the sum of what each edge brings."""
        branch = self.branches[node]
        if len(branch.terms) > _MAX_SUMMED_TERMS:
            return f"{self.gradient_text(node)} " + tr("(the sum of {count} contributions)", count=len(branch.terms))
        terms = [format_value(edge.contribution, self.precision) for edge in branch.terms]
        summed = " + ".join(term if k == 0 or not term.startswith("-") else f"({term})" for k, term in enumerate(terms))
        return f"∂{self.output}/∂{self.labels[node]} = {summed} = {format_value(branch.total, self.precision)}"

    def tree_pieces(self, node: int, edge: tuple[int, int] | None, again: bool, cells: int) -> list[tuple[str, str]]:
        """(text, style) pieces of one tree line: the node, then with a point its numbers.

        `edge` is the (consumer, slot) the node hangs from (None at the root); `again` when the
        node's line was printed above, so that its gradient stands once.
        """
        shared = node in self.shared
        head = self.head(node, max(cells - (2 if shared else 0), 8)) + (" Σ" if shared else "")
        pieces = [(head, "bold" if node == self.graph.output else "")]
        shape = self.shape_label(node)
        if again:
            pieces.append((tr("(see above)"), "dim"))
        elif shape is not None:
            pieces.append((shape, "dim"))
        if not again and self.result is not None:
            pieces.append((self.value_text(node), "cyan"))
        swept = self.edges.get(edge) if edge is not None else None
        if shared and swept is not None:
            pieces.append((self.contribution_text(swept), "yellow"))
        if not again and node in self.reached:
            summed = node in self.branches
            pieces.append((self.branch_sum_text(node) if summed else self.gradient_text(node), "magenta"))
        return pieces

    def shared_note(self) -> str:
        """What Σ means in this view: with the branch sums, without a point, or on arrays (no terms)."""
        if self.branches:
            return tr("Σ: a node used more than once. Each use shows the contribution along its edge; "
                      "∂{out}/∂node, their sum, stands at its first use.", out=self.output)
        if self.result is None:
            return tr("Σ: a node used more than once (a branch node); with --at, ∂{out}/∂node is the sum of what "
                      "flows back along each use.", out=self.output)
        return tr("Σ: a node used more than once; ∂{out}/∂node, the sum of what flows back along each use, "
                  "stands at its first use.", out=self.output)


def shown_whole(value) -> bool:
    """Whether a label shows a value entry by entry: a number, or an array of at most SHOWN_ENTRIES entries."""
    return type(value) is float or value.size <= SHOWN_ENTRIES


def used_more_than_once(graph: Graph, sources: list[int] | None = None) -> set[int]:
    """The nodes that feed more than one edge on the way to the output (branch nodes), leaving out
    those the sweep passes no gradient to (constants; with --wrt or --data, what they prune)."""
    needs = needs_gradient(graph, sources)
    reaches = reaching_output(graph.inputs, graph.output)
    uses = [0] * len(graph.ops)
    for consumer, node_inputs in enumerate(graph.inputs):
        if reaches[consumer]:
            for j in node_inputs:
                uses[j] += needs[j]
    return {node for node, count in enumerate(uses) if count > 1}


def every_gradient(result: Result) -> list:
    """∂output/∂node for every node of an array-path result (None where no gradient flows): the
    result keeps only the variables' and names' gradients, and a graph shows every node's."""
    import numpy as np

    from ..array_engine import at_the_boundary, backward_arrays

    graph = result.graph
    with np.errstate(all="ignore"):  # an infinite partial gives inf or nan, as in grad
        grads = backward_arrays(graph, result.values, result.shapes, result.sources, keep=range(len(graph.ops)))
    return [None if gradient is None else at_the_boundary(gradient, shape)
            for gradient, shape in zip(grads, result.shapes)]


# ----- the terminal: a Rich tree from the output down -----

_INDENT = "  "  # of a tree line's second and later lines


def _atoms(text: str) -> list[str]:
    """The words of a piece, with `=` and `+` kept on the line of the number they lead to:
    `∂f/∂y = 2 + 3 = 5` breaks only as `∂f/∂y = 2` / `+ 3 = 5`."""
    atoms: list[str] = []
    for word in text.split(" "):
        if atoms and (word == "=" or atoms[-1].endswith(("=", "+"))):
            atoms[-1] += " " + word
        else:
            atoms.append(word)
    return atoms


def _fitted(pieces: list[tuple[str, str]], cells: int) -> Text:
    """The pieces on one line if they fit in `cells` columns, else each piece that does not fit
    on a line of its own (indented), broken between its atoms only when it is wider than a line:
    no number is cut, nor parted from its `=`. The first piece (the node) stays whole."""
    text = Text()
    used = 0
    for k, (piece, style) in enumerate(pieces):
        if k == 0:
            text.append(piece, style=style)
            used = cell_len(piece)
            continue
        if used + len(_GAP) + cell_len(piece) <= cells:
            text.append(_GAP)
            used += len(_GAP)
        else:
            text.append("\n" + _INDENT)
            used = len(_INDENT)
        for j, atom in enumerate(_atoms(piece)):
            if j > 0 and used + 1 + cell_len(atom) > cells:
                text.append("\n" + _INDENT * 2)
                used = 2 * len(_INDENT)
            elif j > 0:
                text.append(" ", style=style)
                used += 1
            text.append(atom, style=style)
            used += cell_len(atom)
    return text


def tree_view(picture: GraphPicture, width: int = 80) -> Group:
    """The output at the root, each node's inputs below it; a node met again refers back to its first line.

    On a narrow terminal a line's pieces stack, and inputs deeper than the width allows continue
    in a tree of their own below (so each line keeps MIN_LINE_CELLS columns).
    """
    graph = picture.graph
    # Guide levels a tree may take on this width: a line keeps room for a gradient of `precision` digits.
    levels = max(2, (width - max(MIN_LINE_CELLS, picture.precision + 22)) // _GUIDE_CELLS)
    printed: set[int] = set()  # nodes whose line (with its numbers) is on the screen
    roots: list[tuple[int, int]] = [(graph.output, 0)]  # (node, depth in the whole graph) of each tree drawn
    parts: list = []
    cut = False
    for root, root_depth in roots:  # grows while it is read: a node whose inputs continue below
        if root_depth == 0:
            printed.add(root)
            tree = Tree(_fitted(picture.tree_pieces(root, None, False, width), width), guide_style="dim")
        else:
            parts.append(Text())
            tree = Tree(Text.assemble((picture.head(root, width), "bold"), " ", (tr("(continued)"), "dim")),
                        guide_style="dim")
        stack = [(j, (root, slot), tree, 1) for slot, j in reversed(list(enumerate(graph.inputs[root])))]
        while stack:
            node, edge, parent, depth = stack.pop()
            cells = width - _GUIDE_CELLS * depth
            again = node in printed and (graph.ops[node] is not None or node in picture.shared)
            pieces = picture.tree_pieces(node, edge, again, cells)
            expands = graph.ops[node] is not None and not again
            continues = expands and depth >= levels and root_depth + depth < MAX_TREE_DEPTH
            if continues:
                pieces.append((tr("(inputs below)"), "dim"))
            branch = parent.add(_fitted(pieces, cells))
            printed.add(node)
            if not expands:
                continue
            if root_depth + depth >= MAX_TREE_DEPTH:
                branch.add(Text("…", style="dim"))
                cut = True
            elif continues:
                roots.append((node, root_depth + depth))
            else:
                stack.extend((j, (node, slot), branch, depth + 1)
                             for slot, j in reversed(list(enumerate(graph.inputs[node]))))
        parts.append(tree)
    if cut:
        parts.append(Text(tr("(the tree is cut at depth {depth}; --format dot or mermaid shows all {count} nodes)",
                             depth=MAX_TREE_DEPTH, count=f"{len(graph.ops):,}"), style="dim"))
    if printed & picture.shared:
        parts.append(Text(picture.shared_note(), style="dim"))
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
    for j, node, slot in picture.wires():
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
    title = tr("gradcli graph of: {program}", program=picture.source_line())
    out = ["flowchart LR", f"  %% {mermaid_escape(title)}"]
    for node in range(len(graph.ops)):
        label = "<br/>".join(mermaid_escape(line) for line in picture.node_lines(node))
        if graph.ops[node] is None and node not in graph.constants:
            out.append(f'  n{node}(["{label}"])')  # a variable: a stadium shape
        else:
            out.append(f'  n{node}["{label}"]')
    for j, node, slot in picture.wires():
        label = picture.edge_label(node, slot)
        arrow = "-->" if label is None else f'-->|"{mermaid_escape(label)}"|'
        out.append(f"  n{j} {arrow} n{node}")
    return "\n".join(out) + "\n"


# ----- JSON -----


def graph_object(picture: GraphPicture) -> dict:
    """`graph --json`: the program's object (with a point, `grad --json`'s) plus "nodes" and "edges".

    Nodes are named n0, n1, ... as in DOT and Mermaid (labels repeat: two constants `2`). With a
    point each node has its "shape" (a list of sizes, [] for a number), "value" and "grad" (nested
    lists for arrays; null where no gradient flows, as into a constant) and each edge the
    "contribution" that flowed back along it (null on arrays, whose sweep records no edges).
    """
    from .json import SCHEMA_VERSION, gradient_object, program_fields

    graph, result = picture.graph, picture.result
    if result is None:
        document = {"version": SCHEMA_VERSION, **program_fields(graph.source), "output": graph.output_name}
    else:
        document = gradient_object(result)
    nodes = []
    for node, node_inputs in enumerate(graph.inputs):
        entry = {"id": f"n{node}", "label": picture.labels[node], "op": graph.op_name(node),
                 "inputs": [f"n{j}" for j in node_inputs]}
        if result is not None:
            entry["shape"] = [] if picture.shapes is None else list(picture.shapes[node])  # scalar path: numbers
            entry["value"] = json_value(result.values[node])
            entry["grad"] = json_value(picture.grads[node]) if node in picture.reached else None
        nodes.append(entry)
    edges = []
    for j, node, slot in picture.wires():
        entry = {"input": f"n{j}", "consumer": f"n{node}", "slot": slot}
        if result is not None:
            swept = picture.edges.get((node, slot))
            entry["contribution"] = None if swept is None else json_value(swept.contribution)
        edges.append(entry)
    document["nodes"] = nodes
    document["edges"] = edges
    return document
