"""One chunk of rows: the value, the partials, each row's errors and notes, over NumPy arrays.

A chunk runs the very passes a single point runs (engine.forward / engine.backward with
xp=numpy, every rule read from the op table), so a row's numbers are what `grad` gives at that
row, with the same conventions at kinks. A chunk is a pure function of its columns: nothing
carries over from one chunk to the next, so memory stays flat for any number of rows.
"""

from __future__ import annotations

from typing import Iterable, Mapping, NamedTuple

from .. import engine
from ..api import bind, differentiate, node_named
from ..errors import BindingError, MathError
from ..graph import Graph

VALUES_PER_CHUNK = 1 << 22  # node values alive at once (32 MB): long programs get fewer rows per chunk
MAX_CHUNK_ROWS = 1 << 15  # small enough for the CPU caches, large enough to amortise each NumPy call


def rows_per_chunk(graph: Graph) -> int:
    """Rows per chunk, so that a chunk holds at most VALUES_PER_CHUNK node values."""
    return max(1, min(MAX_CHUNK_ROWS, VALUES_PER_CHUNK // max(1, len(graph))))


class Plan(NamedTuple):
    """What every chunk of a run shares: the program, the values --at gives and the partials reported."""

    graph: Graph
    at: dict[str, float]  # the variables with one value for every row (--at, or a number in the API)
    columns: tuple[str, ...]  # the variables with a value per row, in program order
    partials: tuple[str, ...]  # variables or named intermediates whose partial is reported
    partial_nodes: tuple[int, ...]
    wrt: list[str] | None  # as given: None reports every variable


def make_plan(graph: Graph, at: Mapping[str, float], columns: Iterable[str],
              wrt: list[str] | None = None) -> tuple[Plan, list[str]]:
    """Check that every variable gets a value (from `at` or per row); return the plan and warnings.

    Names that the single-point API refuses (constants, computed names) are refused here too.
    """
    columns = [name for name in columns if name not in at]
    missing = [name for name in graph.variables if name not in at and name not in columns]
    if missing:
        raise BindingError(f"no value for {', '.join(missing)}")
    _, warnings = bind(graph, {**{name: 0.0 for name in columns}, **at})
    partials = tuple(wrt) if wrt is not None else tuple(graph.variables)
    nodes = tuple(node_named(graph, name) for name in partials)
    return Plan(graph, {name: float(at[name]) for name in graph.variables if name in at},
                tuple(name for name in graph.variables if name not in at), partials, nodes, wrt), warnings


class Chunk(NamedTuple):
    """A chunk's results; rows with an error keep whatever the arithmetic gave (callers mask them)."""

    value: object  # ndarray of the chunk's rows (possibly a read-only broadcast)
    partials: list  # one ndarray per plan.partials
    input_errors: dict[int, str]  # row -> why its input is unusable (not finite)
    math_errors: dict[int, str]  # row -> the first node without a finite value, with the op's reason
    notes: dict[int, list[str]]  # row -> what `grad` warns at that point (a kink, an undefined partial)


def differentiate_chunk(plan: Plan, columns: Mapping[str, object], rows: int) -> Chunk:
    """Value, partials and notes of the plan's program on `rows` points (a pure function of its input)."""
    import numpy as np

    graph = plan.graph
    input_errors = _nonfinite_inputs(plan, columns)
    leaves = engine.leaf_values(graph, {**plan.at, **columns})
    with np.errstate(all="ignore"):
        values = engine.forward(graph, leaves, np)
        math_errors = _math_errors(graph, values, rows, input_errors)
        grads, _, _ = engine.backward(graph, values, np, notes=False)
        partials = [_full(grads[node], rows) for node in plan.partial_nodes]
        kinks, nonfinite = _rows_to_note(graph, values, partials, rows)
    notes = _notes(plan, columns, kinks, nonfinite, skip={**input_errors, **math_errors})
    return Chunk(_full(values[graph.output], rows), partials, input_errors, math_errors, notes)


def _nonfinite_inputs(plan: Plan, columns: Mapping[str, object]) -> dict[int, str]:
    import numpy as np

    from ..array_engine import surely_finite

    errors: dict[int, str] = {}
    for name in plan.columns:
        column = columns[name]
        if surely_finite(column):
            continue
        finite = np.isfinite(column)
        for row in np.flatnonzero(~finite).tolist():
            errors.setdefault(row, f"the value of {name} must be finite, not {float(column[row])}")  # as bind() says
    return errors


def _math_errors(graph: Graph, values: list, rows: int, skip: Mapping[int, str]) -> dict[int, str]:
    """Row -> message for rows where some node has no finite value, as check_finite says for one point."""
    import numpy as np

    from ..array_engine import surely_finite

    ops = graph.ops
    suspects = [node for node, op in enumerate(ops)
                if op is not None and not surely_finite(values[node]) and not np.isfinite(values[node]).all()]
    if not suspects:
        return {}
    if any(np.ndim(values[node]) == 0 for node in suspects):  # a constant subexpression: every row fails
        pending = np.arange(rows)
    else:
        pending = np.unique(np.concatenate([np.flatnonzero(~np.isfinite(values[node])) for node in suspects]))
    if skip:
        pending = pending[~np.isin(pending, np.fromiter(skip, dtype=np.intp, count=len(skip)))]
    errors: dict[int, str] = {}
    for node in suspects:  # in topological order, so each row is blamed on its first failing node
        if not pending.size:
            break
        value = values[node]
        hit = pending if np.ndim(value) == 0 else pending[~np.isfinite(value[pending])]
        for row in hit.tolist():
            arguments = [_item(values[j], row) for j in graph.inputs[node]]
            errors[row] = engine.math_error(graph, node, arguments).message
        pending = np.setdiff1d(pending, hit, assume_unique=True)
    return errors


def _rows_to_note(graph: Graph, values: list, partials: list, rows: int) -> tuple[dict[int, list], set[int]]:
    """Where `grad` may have a note: the kinks that hold at each row (row -> [(node, the shape of
    its inputs)]), and the rows with a reported partial that is not finite. Cheap when neither can
    occur (no kink op, every partial finite): the common case costs one sum per partial.

    Every kink of the op table lies where an input is 0 or two inputs tie (tests/test_batch.py
    checks the table), so only those rows are asked `Kink.at`, one by one.
    """
    import numpy as np

    from ..array_engine import surely_finite

    nonfinite = set()
    for partial in partials:
        if not surely_finite(partial):
            nonfinite.update(np.flatnonzero(~np.isfinite(partial)).tolist())
    kinks: dict[int, list] = {}
    for node, op in enumerate(graph.ops):
        if op is None or not op.kinks:
            continue
        arguments = [values[j] for j in graph.inputs[node]]
        special = np.zeros(rows, dtype=bool)
        for k, argument in enumerate(arguments):
            special |= argument == 0
            for other in arguments[k + 1:]:
                special |= argument == other
        for row in np.flatnonzero(special).tolist():
            given = [_item(argument, row) for argument in arguments]
            if op.kink_at(given) is not None:
                kinks.setdefault(row, []).append((node, _shape_of(given)))
    return kinks, nonfinite


def _shape_of(inputs: list[float]) -> tuple[bool, ...]:
    """Which inputs are 0 and which tie: all a kink's note may depend on (max of three with two tied
    is not max of three all tied)."""
    return (*(a == 0 for a in inputs), *(a == b for k, a in enumerate(inputs) for b in inputs[k + 1:]))


def _notes(plan: Plan, columns: Mapping[str, object], kinks: dict[int, list], nonfinite: set[int],
           skip: Mapping[int, str]) -> dict[int, list[str]]:
    """Row -> the notes the single-point path gives there (api.differentiate, with the same --wrt),
    worded as `grad` warns them.

    Where every reported partial is finite, the notes depend only on which kinks hold (engine.diagnose),
    so rows with the same kinks, their inputs alike in shape, share the first one's notes: a million
    rows at relu(0) cost one call.
    """
    from ..render.json import notes_text

    notes = {}
    known: dict[tuple, list[str]] = {}  # the kinks that hold -> their notes
    for row in sorted(kinks.keys() | nonfinite):
        if row in skip:
            continue
        key = None if row in nonfinite else tuple(kinks[row])
        if key in known:
            texts = known[key]
        else:
            point = {**plan.at, **{name: _item(columns[name], row) for name in plan.columns}}
            try:
                texts = notes_text(differentiate(plan.graph, point, wrt=plan.wrt))
            except MathError:  # NumPy's and math's last bits disagree on whether the point has a value
                continue
            if key is not None:
                known[key] = texts
        if texts:
            notes[row] = texts
    return notes


def _full(value, rows: int):
    """One entry per row: a node that depends on no per-row variable has one value for all rows."""
    if getattr(value, "shape", None) == (rows,):
        return value
    import numpy as np

    return np.broadcast_to(value, (rows,))


def _item(value, row: int) -> float:
    return float(value[row]) if getattr(value, "ndim", 0) else float(value)
