"""The Jacobian of a program's output with respect to its variables (`gradcli jacobian`).

Shape: the output's shape followed by the variable's (JAX's convention), so ∂a/∂z of a = softmax(z)
with z of 3 is 3×3, and of a scalar output it is the gradient, in the variable's shape. It is
built by reverse mode, one sweep of array_engine.backward_arrays per output entry seeded with that
entry's one-hot array, over values computed once; a scalar output needs one sweep, which is
exactly `grad`'s (so the two agree to the bit). Nothing is printed here (render/jacobian.py does).

NumPy is imported inside the functions, so that `import gradcli` stays light.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping

from .errors import LimitError
from .graph import Graph

MAX_OUTPUT_ENTRIES = 10_000  # one reverse sweep each
MAX_JACOBIAN_ENTRIES = 10**7  # 80 MB of float64 in all, before any JSON of it

TOO_MANY_ROWS = ("{out} is {shape}: its Jacobian takes one reverse sweep per entry, and the limit is {limit} "
                 "entries; take the gradient of a reduction instead (gradcli grad \"sum(...)\"), or of one "
                 "entry ({entry})")
TOO_MANY_ENTRIES = ("the Jacobians of {out} ({shape}) with respect to {names} have {count} entries in all, and the "
                    "limit is {limit}; choose fewer variables with --wrt, or take the gradient of a reduction "
                    "instead (gradcli grad \"sum(...)\")")


class JacobianResult:
    """The value of a program at a point and the Jacobian of its output with respect to each name.

    `jacobian[name]` has the output's shape followed by the name's (a float when both are
    scalars, else a read-only float64 array); `shapes` holds every node's shape, as
    api.Result.shapes does on the array path; `notes` are the kinks met on the way.
    """

    __slots__ = ("graph", "at", "value", "jacobian", "shapes", "notes", "warnings", "data")

    def __init__(self, graph: Graph, at: dict, value, jacobian: dict, shapes: list[tuple[int, ...]],
                 notes: list = (), warnings: list[str] = (), data: list[str] = ()):
        self.graph, self.at, self.value, self.jacobian, self.shapes = graph, at, value, jacobian, shapes
        self.notes = list(notes)
        self.warnings = list(warnings)
        self.data = list(data)  # variables marked as data: they get no Jacobian

    @property
    def output(self) -> str:
        return self.graph.output_name

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.shapes[self.graph.output]

    def shape_of(self, name: str) -> tuple[int, ...]:
        """The shape of a variable or named intermediate."""
        from .api import node_named

        return self.shapes[node_named(self.graph, name)]


def jacobian_of(graph: Graph, at: Mapping[str, object], wrt: list[str] | None = None,
                data: Iterable[str] = ()) -> JacobianResult:
    """The Jacobian of a parsed program's output at a point, with respect to `wrt`'s names (default:
    every variable that is not data); `wrt` limits what is computed, not only what is shown.

    Errors as `grad` has them: a shape mismatch or an output too large for a Jacobian (exit 2),
    a math error naming the entry (exit 3).
    """
    import numpy as np

    from .api import bind, differentiate, node_named, shown_names
    from .array_engine import at_the_boundary, backward_arrays, diagnose_arrays, infer_shapes, values_at

    data = list(dict.fromkeys(data))
    shown = shown_names(graph, wrt, data)
    point, warnings = bind(graph, at)
    shapes = infer_shapes(graph, point)
    out_shape = shapes[graph.output]
    if not out_shape:  # a scalar output: its Jacobian is its gradient, computed as `grad` computes it
        result = differentiate(graph, point, wrt=wrt, data=data)
        return JacobianResult(graph, point, result.value, result.gradient, shapes, result.notes, warnings, data)
    nodes = [node_named(graph, name) for name in shown]
    _refuse_too_large(graph, shapes, shown, nodes)
    values = values_at(graph, point, shapes)
    jacobians = {name: np.zeros(out_shape + shapes[node]) for name, node in zip(shown, nodes)}
    notes = []
    if nodes:
        with np.errstate(all="ignore"):  # an infinite partial gives inf or nan, as on grad's array path
            for index in np.ndindex(out_shape):
                seed = np.zeros(out_shape)
                seed[index] = 1.0
                grads = backward_arrays(graph, values, shapes, nodes, keep=nodes, seed=seed)
                for name, node in zip(shown, nodes):
                    if grads[node] is not None:  # None: this entry does not depend on it
                        jacobians[name][index] = grads[node]
            notes = diagnose_arrays(graph, values, shapes, nodes)
    jacobian = {name: at_the_boundary(array, array.shape) for name, array in jacobians.items()}
    value = at_the_boundary(values[graph.output], out_shape)
    return JacobianResult(graph, point, value, jacobian, shapes, notes, warnings, data)


def _refuse_too_large(graph: Graph, shapes: list, shown: list[str], nodes: list[int]) -> None:
    """LimitError (exit 2) before any number is computed when the Jacobian would take too many
    sweeps or too much memory."""
    from .shapes import element_text, shape_words

    out, out_shape = graph.output_name, shapes[graph.output]
    rows = math.prod(out_shape)
    if rows > MAX_OUTPUT_ENTRIES:
        message = TOO_MANY_ROWS.format(out=out, shape=shape_words(out_shape), limit=f"{MAX_OUTPUT_ENTRIES:,}",
                                       entry=element_text(out, (0,) * len(out_shape)))
    else:
        entries = rows * sum(math.prod(shapes[node]) for node in nodes)
        if entries <= MAX_JACOBIAN_ENTRIES:
            return
        message = TOO_MANY_ENTRIES.format(out=out, shape=shape_words(out_shape), names=", ".join(shown),
                                          count=f"{entries:,}", limit=f"{MAX_JACOBIAN_ENTRIES:,}")
    raise LimitError(message, graph.span(graph.output), graph.source)


def jacobian(source: str, at: Mapping[str, object] | None = None, /, **bindings) -> JacobianResult:
    """The value and Jacobians of a program: `jacobian("softmax(z)", z=[2, 1, 0.1]).jacobian["z"]`
    is diag(a) − a aᵀ, a 3×3 array. Names that cannot be keyword arguments go in the mapping `at`."""
    from .parse import parse

    return jacobian_of(parse(source), {**(at or {}), **bindings})
