"""The forward pass and the reverse sweep: one loop each over the node list.

Both passes take the array namespace `xp` (gradcli.scalar for one point, numpy for many) and
read every rule from the op table, so a batch of points runs the very same code.
"""

from __future__ import annotations

import itertools
from math import isfinite
from typing import Iterable, NamedTuple

from . import scalar
from .errors import MathError
from .graph import Graph, apply_text
from .formatting import format_value


class Edge(NamedTuple):
    """One step of the reverse sweep: `contribution = upstream × local` flows from consumer to input."""

    consumer: int
    slot: int  # which input of the consumer
    input: int
    upstream: float
    local: float
    contribution: float


# The text of each kind of note, written once: diagnose() fills them in, and the trace
# translates the same templates (gradcli.i18n) before filling them in.
KINK_NOTE = "{op} is not differentiable here; convention: {convention}"
NONFINITE_NOTE = "a local partial of {op} is infinite or undefined here (or too large for a double)"
OVERFLOW_NOTE = "the gradient overflows a double: every local partial on the way is finite, but their product is not"


class Note(NamedTuple):
    """Something a user should know about a result (a kink, an infinite partial)."""

    node: int
    kind: str  # "kink", "nonfinite" (a partial), or "overflow" (a gradient, from finite partials)
    message: str
    convention: str | None = None  # a kink's convention, as the op table states it


def forward(graph: Graph, leaves: list, xp=scalar) -> list:
    """Values of every node, given `leaves` (a list with the leaf values filled in).

    The hot loop of a million-node program: one- and two-input ops (nearly all) are called
    with their arguments directly, and leaves (op None, no inputs) are passed over cheaply.
    """
    values = leaves
    node = -1
    for op, node_inputs in zip(graph.ops, graph.inputs):
        node += 1
        if op is None:
            continue
        if len(node_inputs) == 2:
            a, b = node_inputs
            values[node] = op.forward(xp, values[a], values[b])
        elif len(node_inputs) == 1:
            values[node] = op.forward(xp, values[node_inputs[0]])
        else:
            values[node] = op.forward(xp, *[values[j] for j in node_inputs])
    return values


def leaf_values(graph: Graph, at: dict[str, float]) -> list:
    """A value list with variables and constants filled in, ready for `forward`."""
    values: list = [0.0] * len(graph.ops)
    for name, node in graph.variables.items():
        values[node] = at[name]
    for node, (value, _) in graph.constants.items():
        values[node] = value
    return values


def check_finite(graph: Graph, values: list[float]) -> None:
    """Raise MathError at the first node whose value is not a finite real number."""
    if all(map(isfinite, values)):
        return
    node = next(i for i, v in enumerate(values) if not isfinite(v))
    raise math_error(graph, node, [values[j] for j in graph.inputs[node]])


def math_error(graph: Graph, node: int, arguments: list[float]) -> MathError:
    """The error for a node without a finite value, with the op's own reason."""
    op = graph.ops[node]
    reason = op.domain(*arguments) if op.domain else None
    if reason is None:
        reason = f"{apply_text(op, [format_value(a) for a in arguments])} overflows a double"
    return MathError(f"math error in {op.symbol}: {reason}", graph.span(node), graph.source)


def needs_gradient(graph: Graph, sources: Iterable[int] | None = None) -> bytearray:
    """1 for nodes that depend on one of `sources`; partials into the others are never computed.

    By default the sources are every variable and named intermediate. A named intermediate
    counts even when its value is constant (`a = 2`): the user named it, so ∂f/∂a may be asked
    for (--wrt a). Data (--data) and, with --wrt, everything not asked for are left out, so no
    partial is taken on a path that leads only to them.
    """
    if sources is None:
        if not graph.constants:  # every leaf is a variable, and every op has an input: all nodes depend on one
            return bytearray(b"\x01") * len(graph.ops)
        sources = itertools.chain(graph.variables.values(), graph.intermediates.values())
    needs = bytearray(len(graph.ops))
    for node in sources:
        needs[node] = 1
    node = -1
    for node_inputs in graph.inputs:  # leaves have no inputs: a source keeps its 1, any other leaf its 0
        node += 1
        if len(node_inputs) == 2:
            a, b = node_inputs
            if needs[a] or needs[b]:
                needs[node] = 1
        elif len(node_inputs) == 1:
            if needs[node_inputs[0]]:
                needs[node] = 1
        else:
            for j in node_inputs:
                if needs[j]:
                    needs[node] = 1
                    break
    return needs


def backward(graph: Graph, values: list, xp=scalar, record: bool = False, notes: bool = True,
             reported: list[int] | None = None, sources: list[int] | None = None):
    """Reverse sweep: adjoints of every node (∂output/∂node), plus edges and notes if asked.

    Returns (grads, edges, notes). Only nodes that reach the output and inputs that depend on
    a variable are visited, so x^2 at x = -3 never evaluates ln(-3) for the constant exponent.
    `reported` are the nodes whose gradients the caller shows (default: the variables): notes
    about infinite or undefined partials concern those alone. `sources` are the nodes whose
    gradients are wanted (see needs_gradient); others may be left at 0.
    """
    n = len(graph.ops)
    grads: list = [0.0] * n
    needs = needs_gradient(graph, sources)
    live = bytearray(n)  # reaches the output and depends on a variable
    grads[graph.output] = 1.0
    live[graph.output] = needs[graph.output]
    edges: list[Edge] = []
    _sweep(graph, values, grads, needs, live, xp, edges if record else None)
    found = diagnose(graph, values, grads, needs, live, reported, xp) if notes else []
    return grads, edges, found


def _sweep(graph: Graph, values: list, grads: list, needs: bytearray, live: bytearray, xp, edges: list | None) -> None:
    """The reverse sweep: `grads[input] += upstream × local`, from the output back.

    One Edge per step is appended to `edges` unless it is None (traces and checks ask for them).
    One- and two-input ops (nearly all of them) are unrolled: this loop is the hot path.
    """
    record = edges is not None
    ops = graph.ops
    inputs = graph.inputs
    for node in range(len(ops) - 1, -1, -1):
        if not live[node]:
            continue
        op = ops[node]
        if op is None:
            continue
        upstream = grads[node]
        out = values[node]
        node_inputs = inputs[node]
        partials = op.partials
        if len(node_inputs) == 2 and op.arity == 2:
            j, k = node_inputs
            a, b = values[j], values[k]
            if needs[j]:
                local = partials[0](xp, out, a, b)
                contribution = upstream * local
                grads[j] += contribution
                live[j] = 1
                if record:
                    edges.append(Edge(node, 0, j, upstream, local, contribution))
            if needs[k]:
                local = partials[1](xp, out, a, b)
                contribution = upstream * local
                grads[k] += contribution
                live[k] = 1
                if record:
                    edges.append(Edge(node, 1, k, upstream, local, contribution))
        elif len(node_inputs) == 1:
            j = node_inputs[0]
            if needs[j]:  # not so for `a = sin(2)`, live only because it is named
                local = partials[0](xp, out, values[j])
                contribution = upstream * local
                grads[j] += contribution
                live[j] = 1
                if record:
                    edges.append(Edge(node, 0, j, upstream, local, contribution))
        else:
            arguments = [values[j] for j in node_inputs]
            for slot, j in enumerate(node_inputs):
                if needs[j]:
                    local = op.local(xp, slot, out, arguments)
                    contribution = upstream * local
                    grads[j] += contribution
                    live[j] = 1
                    if record:
                        edges.append(Edge(node, slot, j, upstream, local, contribution))


def diagnose(graph: Graph, values: list, grads: list, needs: bytearray, live: bytearray,
             reported: list[int] | None = None, xp=scalar) -> list[Note]:
    """Notes for the nodes the sweep took a partial at, at a kink or with an infinite/undefined partial.

    A separate pass, so the sweep itself stays lean: it visits only ops with a declared kink,
    and looks for non-finite partials only when a reported gradient came out non-finite.
    """
    ops = graph.ops
    inputs = graph.inputs
    # Only what is reported counts: a constant named by the user (`p = 2` in x^p at x = -3) has an
    # undefined gradient that no one asked for, unless --wrt p asks.
    reported = graph.variables.values() if reported is None else reported
    any_nonfinite = not all(isfinite(grads[node]) for node in reported)
    if not any_nonfinite and not any(op is not None and op.kinks for op in set(ops)):
        return []  # nothing to look at: the common case, decided from the distinct ops alone
    found: list[Note] = []
    nonfinite_partials = False  # some partial taken on the way is itself infinite or undefined
    for node, op in enumerate(ops):
        if op is None or not live[node] or (not op.kinks and not any_nonfinite):
            continue
        slots = [slot for slot, j in enumerate(inputs[node]) if needs[j]]
        if not slots:  # every input is a constant (`a = relu(0)`): no partial is taken here
            continue
        arguments = [values[j] for j in inputs[node]]
        finite = not any_nonfinite or all(isfinite(op.local(xp, slot, values[node], arguments)) for slot in slots)
        nonfinite_partials = nonfinite_partials or not finite
        kink = op.kink_at(_distinct_arguments(op, inputs[node], values), slots) if op.kinks else None
        if kink is not None:
            found.append(Note(node, "kink", KINK_NOTE.format(op=op.symbol, convention=kink.convention),
                              kink.convention))
        elif not finite:
            found.append(Note(node, "nonfinite", NONFINITE_NOTE.format(op=op.symbol)))
    if any_nonfinite and not nonfinite_partials:  # then the products of finite partials overflowed
        found.extend(Note(node, "overflow", OVERFLOW_NOTE) for node in reported if not isfinite(grads[node]))
    return found


def _distinct_arguments(op, node_inputs: tuple[int, ...], values: list) -> list:
    """The arguments a kink is judged on: one per distinct input node of a variadic op, since
    max(x, x) is x (differentiable), while max(x, y) at x = y is a tie."""
    if op.arity is not None:
        return [values[j] for j in node_inputs]
    return [values[j] for j in dict.fromkeys(node_inputs)]
