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
from typing import NamedTuple

import numpy as np

from .engine import KINK_NOTE, Note, leaf_values, math_error, needs_gradient
from .errors import MathError, ShapeError
from .graph import Graph, reaching_output
from .shapes import Shape, ShapeMismatch, broadcast_shape, element_text, shape_words

NOT_SCALAR = ("grad needs a scalar output, but {name} is {shape}: use 'gradcli jacobian', "
              "or reduce it with sum(...) or mean(...)")
AT_ELEMENT = "{error}, at {element}"
KINK_AT = KINK_NOTE + " (at {elements})"  # the entries at the kink: "(at z[0], z[3], z[4] and 12 more)"
ELEMENTS_SHOWN = 3


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
            operand = _operand_text(graph, node_inputs[0]) if node_inputs else ""
            raise ShapeError(mismatch.text(operand), graph.operator_span(node), graph.source) from None
    return shapes


def _operand_text(graph: Graph, node: int) -> str:
    """How the program writes a node, to name one of its elements: `z`, `softmax(q)`, or `(A @ B)`
    with parentheses where an operator outside brackets would otherwise bind the index."""
    name = graph.names[node]
    if name is not None:
        return name
    start, end = graph.span(node)
    text = graph.source[start:end]
    depth = 0
    for character in text:
        if character in "([":
            depth += 1
        elif character in ")]":
            depth -= 1
        elif not depth and not (character.isalnum() or character in "_."):
            return f"({text})"
    return text


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
    overflow, which the caller then rules out element by element).

    One pass with no temporary array, cheaper than isfinite(v).all(); not np.dot, whose BLAS
    threads crawl on a busy machine. The batch's chunks use it too.
    """
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
    element = element_text(_owner(graph, node, shapes, labels), index)
    return MathError(AT_ELEMENT.format(error=error.message, element=element), error.span, error.source)


def _owner(graph: Graph, node: int, shapes: list[Shape], labels: list[str]) -> str:
    """Whose elements an elementwise node's elements are, as the user knows them: a named input
    of the same shape (z[1] for log(z)), else the node itself (t2[1])."""
    named = [j for j in graph.inputs[node] if graph.names[j] is not None and shapes[j] == shapes[node]]
    return labels[named[0]] if named else labels[node]


def sum_to(contribution, shape: Shape):
    """A contribution summed back to an input's shape: over the leading axes the input lacks and
    the axes where it has size 1 (a broadcast forward is a sum backward; autograd's unbroadcast)."""
    given = np.shape(contribution)
    if given == shape:
        return contribution
    return np.sum(contribution, axis=summed_axes(given, shape), keepdims=True).reshape(shape)


def summed_axes(given: Shape, shape: Shape) -> tuple[int, ...]:
    """The axes of a `given`-shaped contribution that sum_to adds up to reach `shape`: the leading
    ones `shape` lacks, and those where it has size 1."""
    lead = len(given) - len(shape)
    return (*range(lead), *(lead + k for k, n in enumerate(shape) if n == 1 and given[lead + k] != 1))


class ArrayEdge(NamedTuple):
    """One step of the array sweep, as the trace shows it (engine.Edge's fields, then one more).

    `local` is an elementwise op's partial f′ (None for an array op, whose rule is its VJP);
    `unreduced` is g ⊙ f′ before it was summed back to a broadcast input's shape (None when no
    sum was needed: it would be `contribution` again).
    """

    consumer: int
    slot: int
    input: int
    upstream: object  # g, the consumer's gradient, in the consumer's shape
    local: object
    contribution: object  # in the input's shape
    unreduced: object = None


def array_vjp(op, slot: int, g, out, arguments: list, keywords: dict | None):
    """An array op's contribution to its input `slot`: its VJP rule applied to the upstream g."""
    rules = op.vjp
    if keywords:
        return rules[slot](np, g, out, *arguments, **keywords)
    if op.arity is None:  # variadic (stack): one rule, told the slot
        return rules[0](np, slot, g, out, *arguments)
    return rules[slot](np, g, out, *arguments)


def backward_arrays(graph: Graph, values: list, shapes: list[Shape], sources: list[int] | None = None,
                    keep=(), seed=1.0, record: list | None = None) -> list:
    """Reverse sweep: ∂output/∂node for the nodes in `keep`, None for the others.

    The gradient of a node that is not kept is dropped as soon as it has been passed on, so
    memory holds the values plus the gradients in flight. `sources` limit what is computed as
    in engine.needs_gradient. Contributions are added out of place: add hands the same array to
    both of its inputs, and a recorded upstream is never changed afterwards. Given a list,
    `record` gets one ArrayEdge per step (for the trace), holding references, not copies.
    """
    n = len(graph.ops)
    needs = needs_gradient(graph, sources)
    kept = bytearray(n)
    for node in keep:
        kept[node] = 1
    grads: list = [None] * n
    grads[graph.output] = seed
    ops, inputs, attributes = graph.ops, graph.inputs, graph.attributes
    recording = record is not None
    for node in range(graph.output, -1, -1):
        g = grads[node]
        op = ops[node]
        if g is None or op is None:
            continue
        out = values[node]
        node_inputs = inputs[node]
        arguments = [values[j] for j in node_inputs]
        elementwise = op.vjp is None
        keywords = None if elementwise else attributes.get(node)
        for slot, j in enumerate(node_inputs):
            if not needs[j]:
                continue
            if elementwise:
                local = op.local(np, slot, out, arguments)
                if type(local) is float and (local == 1.0 or local == -1.0):
                    contribution = g if local == 1.0 else -g
                else:
                    contribution = g * local
                if shapes[j] != shapes[node]:
                    reduced = sum_to(contribution, shapes[j])
                    if recording:
                        record.append(ArrayEdge(node, slot, j, g, local, reduced, contribution))
                    contribution = reduced
                elif recording:
                    record.append(ArrayEdge(node, slot, j, g, local, contribution))
            else:
                contribution = array_vjp(op, slot, g, out, arguments, keywords)
                if recording:
                    record.append(ArrayEdge(node, slot, j, g, None, contribution))
            grads[j] = contribution if grads[j] is None else grads[j] + contribution
        if not kept[node]:
            grads[node] = None
    return grads


def diagnose_arrays(graph: Graph, values: list, shapes: list[Shape], sources: list[int] | None = None) -> list[Note]:
    """Notes for the nodes the sweep took a partial at where the op is not differentiable, naming
    the entries at the kink: `relu(z)` at z = [0, 1] notes z[0]; `max(z)` at [1, 1, 0] z[0], z[1].

    Only ops with a declared kink are visited, and of an elementwise op only the entries where an
    argument is 0 or two tie (where every kink of the table lies) are judged one by one.
    """
    ops, inputs = graph.ops, graph.inputs
    if not any(op is not None and op.kinks for op in set(ops)):
        return []  # the common case, decided from the distinct ops alone
    needs = needs_gradient(graph, sources)
    reaches = reaching_output(inputs, graph.output)
    labels = graph.labels()
    found: list[Note] = []
    for node, op in enumerate(ops):
        if op is None or not op.kinks or not reaches[node]:
            continue
        slots = [slot for slot, j in enumerate(inputs[node]) if needs[j]]
        if not slots:  # every input is a constant (`a = relu(0)`): no partial is taken here
            continue
        if op.elementwise:
            entries = _elementwise_kinks(graph, node, values, shapes, slots)
            owner = _owner(graph, node, shapes, labels)
        else:
            entries = _array_kinks(graph, node, values)
            owner = labels[inputs[node][0]]
        for kink, indices in entries.items():
            if indices[0]:  # entries of an array; a scalar's kink, or the norm's, is of the whole value
                message = KINK_AT.format(op=op.symbol, convention=kink.convention,
                                         elements=_elements_text(owner, indices))
            else:
                message = KINK_NOTE.format(op=op.symbol, convention=kink.convention)
            found.append(Note(node, "kink", message, kink.convention))
    return found


def _elementwise_kinks(graph: Graph, node: int, values: list, shapes: list[Shape], slots: list[int]) -> dict:
    """Each kink of an elementwise node's op, with the indices (in its output) of the entries at it."""
    op = graph.ops[node]
    shape = shapes[node]
    distinct = graph.inputs[node] if op.arity is not None else dict.fromkeys(graph.inputs[node])  # max(x, x) is x
    arguments = [np.broadcast_to(values[j], shape) for j in distinct]
    candidates = np.zeros(shape, dtype=bool)
    for k, a in enumerate(arguments):
        candidates |= a == 0
        for b in arguments[k + 1:]:
            candidates |= a == b
    entries: dict = {}
    for index in map(tuple, np.argwhere(candidates).tolist()):
        kink = op.kink_at([float(a[index]) for a in arguments], slots)
        if kink is not None:
            entries.setdefault(kink, []).append(index)
    return entries


def _array_kinks(graph: Graph, node: int, values: list) -> dict:
    """Each kink of an array node's op, with the indices of its first input's entries at it
    (one empty index when the kink is of the whole value, as the norm's at 0)."""
    op = graph.ops[node]
    arguments = [values[j] for j in graph.inputs[node]]
    keywords = graph.attributes.get(node, {})
    entries: dict = {}
    for kink in op.kinks:
        at = np.asarray(kink.at(np, values[node], *arguments, **keywords))
        if at.any():
            entries[kink] = [tuple(index) for index in np.argwhere(at).tolist()] if at.ndim else [()]
    return entries


def _elements_text(owner: str, indices: list[tuple[int, ...]]) -> str:
    """'z[0], z[3], z[4] and 12 more'."""
    if len(indices) <= ELEMENTS_SHOWN + 1:  # "and 1 more" would be no shorter
        return ", ".join(element_text(owner, index) for index in indices)
    text = ", ".join(element_text(owner, index) for index in indices[:ELEMENTS_SHOWN])
    return f"{text} and {len(indices) - ELEMENTS_SHOWN} more"


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
        notes = diagnose_arrays(graph, values, shapes, sources)
    for node in keep:
        gradient = grads[node]
        if gradient is None:  # the output does not depend on it
            gradient = np.zeros(shapes[node])
        grads[node] = at_the_boundary(gradient, shapes[node])
    return Result(graph, point, values, grads, (), notes, warnings, shown, data, shapes, sources)


def value_of_arrays(graph: Graph, point: dict):
    """api.value_at on the array path: the output's value, a float or an array of its shape."""
    shapes = infer_shapes(graph, point)
    values = values_at(graph, point, shapes)
    return at_the_boundary(values[graph.output], shapes[graph.output])
