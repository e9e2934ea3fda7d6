"""The Python API the command line calls: parse, bind the point, run both passes."""

from __future__ import annotations

import math
from typing import Iterable, Mapping

from .engine import Edge, Note, backward, check_finite, forward, leaf_values, needs_gradient
from .errors import BindingError
from .graph import Graph
from .ops import CONSTANTS
from .parse import parse, plain_number


class Result:
    """Value and gradient of a program at a point, with everything a renderer may show.

    On the array path (vectors and matrices) `shapes` holds every node's shape, and whatever has
    shape () is a Python float: the value, and each gradient of a scalar variable; any other
    gradient is a read-only float64 array of its variable's shape. `shapes` is None on the
    scalar path, where every value and gradient is a float.
    """

    __slots__ = ("graph", "at", "values", "grads", "edges", "notes", "warnings", "shown", "data", "shapes", "sources")

    def __init__(
        self,
        graph: Graph,
        at: dict[str, float],
        values: list[float],
        grads: list[float],
        edges: list[Edge] = (),
        notes: list[Note] = (),
        warnings: list[str] = (),
        shown: list[str] | None = None,
        data: list[str] = (),
        shapes: list[tuple[int, ...]] | None = None,
        sources: list[int] | None = None,
    ):
        self.graph, self.at, self.values, self.grads = graph, at, values, grads
        self.shapes = shapes  # each node's shape, on the array path only
        self.edges = list(edges)  # every step of the reverse sweep, when recorded
        self.notes = list(notes)  # kinks and non-finite partials met on the way
        self.warnings = list(warnings)  # about the input, not the maths
        self.data = list(data)  # variables marked as data: they get no gradient
        # the partials to report: --wrt's names, else every variable that is not data
        self.shown = list(graph.variables) if shown is None else list(shown)
        self.sources = sources  # the nodes whose gradients were asked for (None: every variable and name)

    @property
    def value(self) -> float:
        return self.values[self.graph.output]

    @property
    def output(self) -> str:
        return self.graph.output_name

    @property
    def gradient(self) -> dict[str, float]:
        """∂output/∂name for each reported name (every variable but data, in order of first appearance)."""
        return {name: self.grads[node_named(self.graph, name)] for name in self.shown}

    def gradient_of(self, name: str) -> float:
        """∂output/∂name for a variable or a named intermediate; BindingError for one that --wrt
        or --data left out (its partials were never taken, so there is no number to give)."""
        node = node_named(self.graph, name)
        if self.sources is not None and name not in self.shown and not needs_gradient(self.graph, self.sources)[node]:
            raise BindingError(f"∂{self.output}/∂{name} was not computed: only the partials on paths to "
                               f"{', '.join(self.shown) or 'nothing'} were taken (--wrt, --data)")
        return self.grads[node]


def node_named(graph: Graph, name: str) -> int:
    """The node of a variable or named intermediate; BindingError if there is none."""
    node = graph.variables.get(name, graph.intermediates.get(name))
    if node is not None:
        return node
    known = ", ".join(n for n in graph.names if n) or "none"
    raise BindingError(f"the program has no variable or named intermediate {name!r} (it has: {known})")


def bind(graph: Graph, at: Mapping[str, float]) -> tuple[dict[str, float], list[str]]:
    """Check a point against a program: every variable has a finite value, and no constant does.

    A value is a number, or a vector or matrix (nested lists, a NumPy array: values.as_value
    checks it, and gives a float for one of shape ()). Returns the point in the program's
    variable order and warnings about unused names.
    """
    warnings = list(graph.notes)
    point: dict[str, float] = {}
    given: dict[str, float] = {}
    for name, value in at.items():
        if name in CONSTANTS and name not in graph.intermediates:
            raise BindingError(f"{name} is a constant ({CONSTANTS[name]}) and cannot be given a value")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                value = float(value)
            except OverflowError:
                raise BindingError(f"the value of {name} is too large for a double") from None
            if not math.isfinite(value):
                raise BindingError(f"the value of {name} must be finite, not {value}")
        elif isinstance(value, (list, tuple)) or hasattr(value, "__array__"):
            from .values import as_value  # NumPy, only for a value that is not a number

            value = as_value(name, value)
        else:
            raise BindingError(f"the value of {name} must be a number, not {value!r}")
        given[name] = value
        if name not in graph.variables:
            if name in graph.names:
                raise BindingError(f"{name} is computed by the program and cannot be given a value")
            warnings.append(f"{name} is not used by the program; its value is ignored")
    missing = [name for name in graph.variables if name not in at]
    if missing:
        raise BindingError(f"no value for {', '.join(missing)}")
    for name in graph.variables:
        point[name] = given[name]
    return point, warnings


def _on_arrays(graph: Graph, point: dict) -> bool:
    """Whether the program needs the array path here: it has an array op, or a value is an array."""
    return graph.uses_arrays or any(type(value) is not float for value in point.values())


def differentiate(graph: Graph, at: Mapping[str, float], record: bool = False,
                  wrt: list[str] | None = None, data: Iterable[str] = ()) -> Result:
    """Value and reverse-mode gradient of a parsed program at a point.

    `wrt` names the partials that will be shown (default: every variable's); `data` names
    variables that are data, such as the labels of a loss. Partials are taken only on paths
    that lead to what is shown (and to every named intermediate, without `wrt`), and the notes
    about undefined partials are about those.
    """
    data = list(dict.fromkeys(data))
    shown = shown_names(graph, wrt, data)
    reported = sources = None
    if wrt is not None or data:
        reported = [node_named(graph, name) for name in shown]
        sources = reported if wrt is not None else [*reported, *graph.intermediates.values()]
    point, warnings = bind(graph, at)
    if _on_arrays(graph, point):
        from .array_engine import differentiate_arrays  # NumPy is imported here, and only here

        return differentiate_arrays(graph, point, warnings, shown, sources, data)
    values = forward(graph, leaf_values(graph, point))
    check_finite(graph, values)
    grads, edges, notes = backward(graph, values, record=record, reported=reported, sources=sources)
    return Result(graph, point, values, grads, edges, notes, warnings, shown, data, sources=sources)


def shown_names(graph: Graph, wrt: list[str] | None, data: list[str]) -> list[str]:
    """The partials to report: `wrt`'s names, else every variable that is not data; each name
    checked before any maths (an unknown name, a --wrt name that is data)."""
    for name in data:
        if name not in graph.variables:
            raise BindingError(f"--data {name}: the program has no variable {name!r} "
                               f"(its variables: {', '.join(graph.variables) or 'none'})")
    for name in wrt or ():
        node_named(graph, name)
        if name in data:
            raise BindingError(f"--wrt {name}: {name} is data (--data), which has no gradient")
    return list(wrt) if wrt is not None else [name for name in graph.variables if name not in data]


def value_at(graph: Graph, at: Mapping[str, float]) -> tuple[float, dict[str, float], list[str]]:
    """The output's value alone (no reverse sweep): a float, or an array on the array path."""
    point, warnings = bind(graph, at)
    if _on_arrays(graph, point):
        from .array_engine import value_of_arrays

        return value_of_arrays(graph, point), point, warnings
    values = forward(graph, leaf_values(graph, point))
    check_finite(graph, values)
    return values[graph.output], point, warnings


def grad(source: str, at: Mapping[str, float] | None = None, /, **bindings: float) -> Result:
    """Value and gradient of a program: `grad("(x+y)*z", x=-2, y=5, z=-4)`, or with vectors and
    matrices (lists or NumPy arrays): `grad("sum(W @ x)", W=[[1, 2], [3, 4]], x=[0.5, -1])`.

    Names that cannot be keyword arguments (`θ=3` works, a Python keyword such as `lambda` does
    not) go in the mapping `at`.
    """
    return differentiate(parse(source), {**(at or {}), **bindings})


def evaluate(source: str, at: Mapping[str, float] | None = None, /, **bindings: float) -> float:
    """The program's value at a point."""
    return value_at(parse(source), {**(at or {}), **bindings})[0]


def constant(text: str) -> float:
    """The value of a constant expression such as `-2`, `pi/4` or `2^-1` (used for --at).

    A plain number (`-2`, `0.5`, `1e-3`), the common value, is read as a number, not parsed,
    built and evaluated as a program.
    """
    number = plain_number(text)
    if number is not None:
        return number
    graph = parse(text)
    if graph.variables:
        name = next(iter(graph.variables))
        if name.lower() in ("nan", "inf", "infinity"):
            raise BindingError(f"{name} is not allowed: a value must be a finite number")
        if text.strip() == name:
            raise BindingError(f"{name} is not a number (a value is a number or a constant expression such as pi/4)")
        raise BindingError(f"{text.strip()} uses {name}: a value is a number or a constant expression such as pi/4")
    if graph.intermediates:  # `--at x=q=1`, `--at "x=a=1;a"`: a program, not a value
        raise BindingError(f"{text.strip()} is not a value: a value is a number or a constant expression such as "
                           f"pi/4, without '=' or ';'")
    return value_at(graph, {})[0]
