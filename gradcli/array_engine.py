"""The array path: programs whose values are vectors and matrices, forward and reverse.

A second forward loop and a second reverse sweep beside engine.py's scalar ones, reading the
same op table: the scalar path stays exactly as fast and gives exactly the same bits, and only a
program with array ops or array values comes here (api.differentiate decides), which is also the
only place NumPy is imported for a single point.

Shapes come first, in one loop over the graph (`infer_shapes`), so a mismatch is reported
before any number is computed. In the sweep an elementwise op contributes g × its partial (the
same partial rules the scalar path uses), summed back to its input's shape where the input was
broadcast; an array op contributes through its own VJP rule. No Jacobian is ever built.
"""

from __future__ import annotations

import math

import numpy as np

from .engine import leaf_values, math_error, needs_gradient
from .errors import MathError, ShapeError
from .graph import Graph
from .shapes import Shape, ShapeMismatch, broadcast_shape, element_text, shape_words

NOT_SCALAR = ("grad needs a scalar output, but {name} is {shape}: use 'gradcli jacobian', "
              "or reduce it with sum(...) or mean(...)")
AT_ELEMENT = "{error}, at {element}"


def infer_shapes(graph: Graph, point: dict) -> list[Shape]:
    """The shape of every node at this point (variables' shapes come from their values);
    ShapeError at the first op whose inputs do not fit it."""
    shapes: list[Shape] = [()] * len(graph.ops)  # constants are numbers
    for name, node in graph.variables.items():
        shapes[node] = np.shape(point[name])
    attributes = graph.attributes
    for node, (op, node_inputs) in enumerate(zip(graph.ops, graph.inputs)):
        if op is None:
            continue
        input_shapes = [shapes[j] for j in node_inputs]
        try:
            if op.shape is None:
                shapes[node] = broadcast_shape(op.name, op.symbol, *input_shapes)
            else:
                shapes[node] = op.shape(*input_shapes, **attributes.get(node, {}))
        except ShapeMismatch as mismatch:
            raise ShapeError(str(mismatch), graph.span(node), graph.source) from None
    return shapes


def forward_arrays(graph: Graph, leaves: list) -> list:
    """Values of every node with NumPy (a domain error gives nan, as on the scalar path: no warning)."""
    values = leaves
    attributes = graph.attributes
    with np.errstate(all="ignore"):
        for node, (op, node_inputs) in enumerate(zip(graph.ops, graph.inputs)):
            if op is None:
                continue
            arguments = [values[j] for j in node_inputs]
            keywords = attributes.get(node)
            values[node] = op.forward(np, *arguments, **keywords) if keywords else op.forward(np, *arguments)
    return values


def surely_finite(value) -> bool:
    """True if every entry is finite: a sum is inf or nan if any entry is (a false alarm only on
    overflow, which the caller then rules out element by element)."""
    return math.isfinite(value.sum()) if getattr(value, "ndim", 0) else math.isfinite(value)


def check_finite_arrays(graph: Graph, values: list, shapes: list[Shape]) -> None:
    """Raise MathError at the first node with an entry that is not a finite real number,
    naming that entry (`z[1]`) and, for an elementwise op, the reason its arguments give."""
    with np.errstate(all="ignore"):  # the sum of finite entries may overflow: isfinite then decides
        for node, value in enumerate(values):
            if surely_finite(value) or np.isfinite(value).all():
                continue
            raise _element_error(graph, node, values, shapes)


def _element_error(graph: Graph, node: int, values: list, shapes: list[Shape]) -> MathError:
    shape = shapes[node]
    index = np.unravel_index(np.flatnonzero(~np.isfinite(values[node]))[0], shape) if shape else ()
    index = tuple(int(k) for k in index)
    op = graph.ops[node]
    node_inputs = graph.inputs[node]
    labels = graph.labels()
    if op.elementwise:  # the element's own arguments, so the op's domain rule can say why
        error = math_error(graph, node, [float(np.broadcast_to(values[j], shape)[index]) for j in node_inputs])
    else:
        error = MathError(f"math error in {op.symbol}: {graph.formula(node, labels)} overflows a double",
                          graph.span(node), graph.source)
    if not shape:
        return error
    # The element as the user knows it: of a named input of the same shape (z[1]), else of the node (t2[1]).
    named = [j for j in node_inputs if graph.names[j] is not None and shapes[j] == shape]
    element = element_text(labels[named[0]] if named else labels[node], index)
    return MathError(AT_ELEMENT.format(error=error.message, element=element), error.span, error.source)


def sum_to(contribution, shape: Shape):
    """A contribution summed back to an input's shape: over the leading axes the input lacks and
    the axes where it has size 1 (a broadcast forward is a sum backward; autograd's unbroadcast)."""
    given = np.shape(contribution)
    if given == shape:
        return contribution
    lead = len(given) - len(shape)
    axes = (*range(lead), *(lead + k for k, n in enumerate(shape) if n == 1 and given[lead + k] != 1))
    return np.sum(contribution, axis=axes, keepdims=True).reshape(shape)


def backward_arrays(graph: Graph, values: list, shapes: list[Shape], sources: list[int] | None = None,
                    keep=(), seed=1.0) -> list:
    """Reverse sweep: ∂output/∂node for the nodes in `keep`, None for the others.

    The gradient of a node that is not kept is dropped as soon as it has been passed on, so
    memory holds the values plus the gradients in flight. `sources` limit what is computed as
    in engine.needs_gradient. Contributions are added out of place: add hands the same array to
    both of its inputs.
    """
    n = len(graph.ops)
    needs = needs_gradient(graph, sources)
    kept = bytearray(n)
    for node in keep:
        kept[node] = 1
    grads: list = [None] * n
    grads[graph.output] = seed
    ops, inputs, attributes = graph.ops, graph.inputs, graph.attributes
    for node in range(graph.output, -1, -1):
        g = grads[node]
        op = ops[node]
        if g is None or op is None:
            continue
        out = values[node]
        node_inputs = inputs[node]
        arguments = [values[j] for j in node_inputs]
        rules = op.vjp
        keywords = attributes.get(node) if rules is not None else None
        for slot, j in enumerate(node_inputs):
            if not needs[j]:
                continue
            if rules is None:
                local = op.local(np, slot, out, arguments)
                if type(local) is float and (local == 1.0 or local == -1.0):
                    contribution = g if local == 1.0 else -g
                else:
                    contribution = g * local
                if shapes[j] != shapes[node]:
                    contribution = sum_to(contribution, shapes[j])
            elif keywords:
                contribution = rules[slot](np, g, out, *arguments, **keywords)
            else:
                contribution = rules[slot](np, g, out, *arguments)
            grads[j] = contribution if grads[j] is None else grads[j] + contribution
        if not kept[node]:
            grads[node] = None
    return grads


def at_the_boundary(value, shape: Shape):
    """What leaves the engine: a Python float for shape (), else a read-only C-contiguous float64 array."""
    if not shape:
        return float(value)
    array = np.ascontiguousarray(value, dtype=np.float64)
    array.flags.writeable = False
    return array


def scalar_output_shapes(graph: Graph, point: dict) -> list[Shape]:
    """The shapes at this point, for a command that needs a scalar output (grad, check)."""
    shapes = infer_shapes(graph, point)
    shape = shapes[graph.output]
    if shape:
        raise ShapeError(NOT_SCALAR.format(name=graph.output_name, shape=shape_words(shape)),
                         graph.span(graph.output), graph.source)
    return shapes


def values_at(graph: Graph, point: dict, shapes: list[Shape]) -> list:
    """The checked values of every node; those of shape () as Python floats."""
    values = forward_arrays(graph, leaf_values(graph, point))
    check_finite_arrays(graph, values, shapes)
    for node, shape in enumerate(shapes):
        if not shape:
            values[node] = float(values[node])
    return values


def differentiate_arrays(graph: Graph, point: dict, warnings: list[str], shown: list[str],
                         sources: list[int] | None, data: list[str]):
    """api.differentiate on the array path: a Result whose gradients have their nodes' shapes."""
    from .api import Result

    shapes = scalar_output_shapes(graph, point)
    values = values_at(graph, point, shapes)
    keep = sources if sources is not None else [*graph.variables.values(), *graph.intermediates.values()]
    with np.errstate(all="ignore"):  # an infinite partial gives inf or nan, as on the scalar path
        grads = backward_arrays(graph, values, shapes, sources, keep)
    for node in keep:
        gradient = grads[node]
        if gradient is None:  # the output does not depend on it
            gradient = np.zeros(shapes[node])
        grads[node] = at_the_boundary(gradient, shapes[node])
    return Result(graph, point, values, grads, (), (), warnings, shown, data, shapes, sources)


def value_of_arrays(graph: Graph, point: dict):
    """api.value_at on the array path: the output's value, a float or an array of its shape."""
    shapes = infer_shapes(graph, point)
    values = values_at(graph, point, shapes)
    return at_the_boundary(values[graph.output], shapes[graph.output])
