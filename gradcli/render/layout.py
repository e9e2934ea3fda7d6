"""A layered (Sugiyama-style) layout, left to right, in pure Python: no Graphviz, no NumPy.

The steps of Sugiyama, Tagawa and Toda (1981), each a loop:
  1. layers: a node's column is its longest path from the sources, doubled, so that the odd
     columns between two node columns hold the wires' labels; a `floating` source (a constant)
     sits just before its first consumer instead of far left;
  2. every edge longer than one column is cut into a chain of dummy elements, one per column it
     crosses; the one just before the consumer carries the edge's label box, so that labels are
     laid out like nodes and cannot overlap them (or each other);
  3. order within a column: barycentre sweeps, down and up, keeping the order with the fewest
     crossings, then adjacent swaps while they remove crossings (small drawings only);
  4. coordinates: columns side by side; within a column each element goes where the mean of its
     neighbours' wires asks, its order kept and boxes apart (isotonic regression by pool adjacent
     violators, linear per column).
Every wire is then horizontal inside a column and slanted only in the gap between two columns,
so wires cross only in those gaps, where `crossings` counts them.
"""

from __future__ import annotations

from typing import NamedTuple

COLUMN_GAP = 30.0  # between two columns, where the wires slant
ROW_GAP = 10.0  # between two boxes of one column
DUMMY_HEIGHT = 6.0  # a wire passing through a column keeps this far from its neighbours
MAX_ELEMENTS = 30_000  # nodes plus wire pieces: beyond this a drawing is too big to read (and to sweep)
_SWEEPS = 6  # down-and-up barycentre passes
_SWAP_LIMIT = 1_500  # elements up to which adjacent swaps refine the order (their cost grows with degree²)
_PLACE_ROUNDS = 4  # down-and-up passes of the coordinate step


class Size(NamedTuple):
    """A box to place: `anchor` is how far below its top its wires attach."""

    width: float
    height: float
    anchor: float


class Layout(NamedTuple):
    """Where everything goes. Boxes by their top-left corner; a route is the wire's points, left to right."""

    boxes: list[tuple[float, float]]  # node -> (left, top)
    labels: list[tuple[float, float] | None]  # edge -> (left, top) of its label box
    routes: list[list[tuple[float, float]]]  # edge -> points from the source's wire to the target's
    columns: list[tuple[float, float]]  # column -> (left, right)
    width: float
    height: float


class TooLarge(Exception):
    """The drawing would need more than MAX_ELEMENTS elements: `count` says how many."""

    def __init__(self, count: int):
        super().__init__(count)
        self.count = count


def _columns(node_count: int, edges: list[tuple[int, int]], floating: set[int]) -> list[int]:
    """Each node's column: twice its longest path from a source (edges go from lower to higher
    node numbers, as in the graph's topological order); a floating source two columns before its
    first consumer."""
    into: list[list[int]] = [[] for _ in range(node_count)]
    for source, target in edges:
        into[target].append(source)
    column = [0] * node_count
    for node in range(node_count):
        fixed = [column[j] for j in into[node] if j not in floating]
        column[node] = max(fixed) + 2 if fixed else (2 if into[node] else 0)
    first_use: dict[int, int] = {}
    for source, target in edges:
        if source in floating:
            first_use[source] = min(first_use.get(source, column[target]), column[target])
    for source, use in first_use.items():
        column[source] = use - 2
    return column


def _crossings_between(upper: list[int], position: list[int], down: list[list[int]]) -> int:
    """Crossings of the wires from one column to the next: inversions of their far ends, by a Fenwick tree."""
    ends = [position[target] for element in upper for target in sorted(down[element], key=position.__getitem__)]
    if not ends:
        return 0
    size = max(ends) + 1
    tree = [0] * (size + 1)
    crossings = 0
    for count, end in enumerate(ends):
        # wires seen so far that end below this one's end
        k = end + 1
        at_most = 0
        while k > 0:
            at_most += tree[k]
            k -= k & -k
        crossings += count - at_most
        k = end + 1
        while k <= size:
            tree[k] += 1
            k += k & -k
    return crossings


def _total_crossings(columns: list[list[int]], position: list[int], down: list[list[int]]) -> int:
    return sum(_crossings_between(column, position, down) for column in columns[:-1])


def _sort_by_barycentre(column: list[int], position: list[int], neighbours: list[list[int]]) -> None:
    """Order one column by the mean position of each element's neighbours in the column swept from;
    an element with none keeps its place."""
    keys = {}
    for element in column:
        near = neighbours[element]
        keys[element] = sum(position[j] for j in near) / len(near) if near else position[element]
    column.sort(key=lambda element: (keys[element], position[element]))
    for index, element in enumerate(column):
        position[element] = index


def _pair_crossings(first: int, second: int, position: list[int], neighbours: list[list[int]]) -> int:
    """Crossings between the wires of two neighbours of a column, `first` above `second`."""
    return sum(1 for a in neighbours[first] for b in neighbours[second] if position[a] > position[b])


def _swap_while_better(columns: list[list[int]], position: list[int], up: list[list[int]],
                       down: list[list[int]]) -> None:
    """Adjacent swaps that remove crossings, column by column, until none does (or a few rounds)."""
    for _ in range(8):
        improved = False
        for column in columns:
            for k in range(len(column) - 1):
                first, second = column[k], column[k + 1]
                now = _pair_crossings(first, second, position, up) + _pair_crossings(first, second, position, down)
                swapped = _pair_crossings(second, first, position, up) + _pair_crossings(second, first, position, down)
                if swapped < now:
                    column[k], column[k + 1] = second, first
                    position[first], position[second] = k + 1, k
                    improved = True
        if not improved:
            return


def _order(columns: list[list[int]], up: list[list[int]], down: list[list[int]], element_total: int) -> None:
    """Barycentre sweeps, keeping the best order seen; then adjacent swaps on small drawings."""
    position = [0] * element_total
    for column in columns:
        for index, element in enumerate(column):
            position[element] = index
    best = [list(column) for column in columns]
    fewest = _total_crossings(columns, position, down)
    for sweep in range(_SWEEPS):
        if fewest == 0:
            break
        for column in columns[1:]:
            _sort_by_barycentre(column, position, up)
        for column in reversed(columns[:-1]):
            _sort_by_barycentre(column, position, down)
        crossings = _total_crossings(columns, position, down)
        if crossings < fewest:
            fewest, best = crossings, [list(column) for column in columns]
    for index, column in enumerate(best):
        columns[index][:] = column
        for place, element in enumerate(column):
            position[element] = place
    if fewest and element_total <= _SWAP_LIMIT:
        _swap_while_better(columns, position, up, down)


def _settle(column: list[int], wanted: list[float], sizes: list[Size], anchor_y: list[float]) -> None:
    """Anchors as near `wanted` as the order and the boxes' separation allow (least squares, by pool
    adjacent violators on the anchors shifted by the separations before them)."""
    offsets = [0.0]
    for above, below in zip(column, column[1:]):
        offsets.append(offsets[-1] + sizes[above].height - sizes[above].anchor + ROW_GAP + sizes[below].anchor)
    blocks: list[list[float]] = []  # [mean, count]
    for index, element in enumerate(column):
        mean, count = wanted[element] - offsets[index], 1.0
        while blocks and blocks[-1][0] >= mean:
            previous_mean, previous_count = blocks.pop()
            mean = (previous_mean * previous_count + mean * count) / (previous_count + count)
            count += previous_count
        blocks.append([mean, count])
    index = 0
    for mean, count in blocks:
        for _ in range(int(count)):
            anchor_y[column[index]] = mean + offsets[index]
            index += 1


def _place(columns: list[list[int]], up: list[list[int]], down: list[list[int]], sizes: list[Size]) -> list[float]:
    """Each element's anchor height: stacked first, then pulled toward its neighbours' wires."""
    anchor_y = [0.0] * len(sizes)
    for column in columns:
        _settle(column, [0.0] * len(sizes), sizes, anchor_y)
    for _ in range(_PLACE_ROUNDS):
        for sweep, near in ((columns[1:], up), (list(reversed(columns[:-1])), down)):
            for column in sweep:
                wanted = list(anchor_y)
                for element in column:
                    if near[element]:
                        wanted[element] = sum(anchor_y[j] for j in near[element]) / len(near[element])
                _settle(column, wanted, sizes, anchor_y)
    return anchor_y


def layered_layout(sizes: list[Size], edges: list[tuple[int, int]], label_sizes: list[Size],
                   floating: set[int] = frozenset(), flush_right: set[int] = frozenset(),
                   margin: float = 10.0) -> Layout:
    """Lay out nodes `sizes` joined by `edges` (source < target), each edge with a label box of `label_sizes`.

    Boxes are centred in their column, but those of `flush_right` (a name at the start of its wire) end at its right.
    TooLarge when the drawing would have more than MAX_ELEMENTS elements.
    """
    node_count = len(sizes)
    column_of = _columns(node_count, edges, floating)
    total = node_count + sum(column_of[target] - column_of[source] - 1 for source, target in edges)
    if total > MAX_ELEMENTS:
        raise TooLarge(total)
    elements = list(sizes)
    element_column = list(column_of)
    up: list[list[int]] = [[] for _ in range(node_count)]
    down: list[list[int]] = [[] for _ in range(node_count)]
    chains: list[list[int]] = []  # edge -> its dummies, left to right
    for edge, (source, target) in enumerate(edges):
        chain = []
        previous = source
        for column in range(column_of[source] + 1, column_of[target]):
            dummy = len(elements)
            carries_label = column == column_of[target] - 1
            elements.append(label_sizes[edge] if carries_label else Size(0.0, DUMMY_HEIGHT, DUMMY_HEIGHT / 2))
            element_column.append(column)
            up.append([previous])
            down.append([])
            down[previous].append(dummy)
            chain.append(dummy)
            previous = dummy
        down[previous].append(target)
        up[target].append(previous)
        chains.append(chain)
    column_count = max(element_column, default=0) + 1
    columns: list[list[int]] = [[] for _ in range(column_count)]
    for element, column in enumerate(element_column):  # nodes in program order, then wire pieces by edge
        columns[column].append(element)

    _order(columns, up, down, len(elements))
    anchor_y = _place(columns, up, down, elements)

    top = min((anchor_y[e] - elements[e].anchor for e in range(len(elements))), default=0.0)
    bottom = max((anchor_y[e] - elements[e].anchor + elements[e].height for e in range(len(elements))), default=0.0)
    shift = margin - top
    bounds: list[tuple[float, float]] = []
    left = margin
    for column in columns:
        width = max((elements[e].width for e in column), default=0.0)
        bounds.append((left, left + width))
        left += width + COLUMN_GAP

    def box(element: int) -> tuple[float, float]:
        column_left, column_right = bounds[element_column[element]]
        width = elements[element].width
        left = column_right - width if element in flush_right else (column_left + column_right - width) / 2
        return left, anchor_y[element] - elements[element].anchor + shift

    routes = []
    labels: list[tuple[float, float] | None] = []
    for edge, (source, target) in enumerate(edges):
        points = [(bounds[column_of[source]][1], anchor_y[source] + shift)]
        for dummy in chains[edge]:
            column_left, column_right = bounds[element_column[dummy]]
            points += [(column_left, anchor_y[dummy] + shift), (column_right, anchor_y[dummy] + shift)]
        points.append((bounds[column_of[target]][0], anchor_y[target] + shift))
        routes.append(points)
        labels.append(box(chains[edge][-1]) if chains[edge] else None)
    return Layout([box(node) for node in range(node_count)], labels, routes, bounds,
                  left - COLUMN_GAP + margin, bottom - top + 2 * margin)


def crossings(layout: Layout) -> int:
    """Pairs of wires that cross, read from the coordinates alone: slanted pieces in the same gap
    whose ends are in opposite orders (pieces that share an end do not cross)."""
    pieces: dict[float, list[tuple[float, float]]] = {}
    for route in layout.routes:
        for (x0, y0), (x1, y1) in zip(route, route[1:]):
            if x1 > x0 and x1 - x0 <= COLUMN_GAP + 1e-9:  # a gap between two columns
                pieces.setdefault(round(x0, 6), []).append((y0, y1))
    count = 0
    for gap in pieces.values():
        unique = sorted(set(gap))
        for k, (a0, a1) in enumerate(unique):
            for b0, b1 in unique[k + 1:]:
                if (a0 - b0) * (a1 - b1) < 0:
                    count += 1
    return count
