"""Checking the gradient of a program of vectors and matrices, entry by entry.

The same witnesses and the same verdicts as for scalars (check.py), applied to each entry of
each variable as if it were a variable of its own (`W[1, 2]`):
  finite differences  central ones per entry, perturbing one entry at a time and running the
                      array forward pass; at most MAX_FD_ENTRIES entries of a variable, chosen
                      reproducibly (its corners, its largest partials, a seeded random sample),
                      plus one random direction through all of its entries
  SymPy               the program expanded componentwise, one symbol per entry, built from the
                      graph through each op's `sympy` rule on NumPy object arrays, differentiated
                      with respect to every entry in the child process of witness.py; only while
                      the nodes the output depends on hold at most MAX_SYMBOLIC_ENTRIES numbers
Kinks (array_engine's notes) are judged per entry as check.verdict judges a variable: an entry
whose one-sided differences differ is not differentiable, the others of the same variable are
checked as usual. Each variable is then summarised by its worst entry.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from .array_engine import forward_arrays
from .check import (
    CONVENTION, MISMATCH, NOT_DIFFERENTIABLE, OK, UNAVAILABLE, UNCHECKED, UNDEFINED, WHOLE, CheckReport, Expectation,
    Tolerances, VariableCheck, close, compare_expectations, notes_by_variable, start_symbolic, verdict,
)
from .engine import leaf_values
from .errors import BindingError
from .graph import Graph, reaching_output
from .ops import OPS
from .shapes import element_text, shape_words
from .witness import (
    MAX_WHOLE_NODES, SymbolicJob, describe_failure, difference_estimates, job_for, one_sided_limits, real_float,
    sympy_at, sympy_expression, sympy_number, whole_guard,
)

MAX_FD_ENTRIES = 200  # entries of one variable checked by finite differences (4 forward passes each)
LARGEST_PARTIALS = 8  # of a larger variable, the entries with the largest |∂f/∂x| are always among them
# SymPy expands the program into one expression per entry: as many nodes as the scalar program
# of the same size, so the scalar whole-expression limit applies to the count of entries.
MAX_SYMBOLIC_ENTRIES = MAX_WHOLE_NODES
SAMPLE_SEED = 12  # the sample and the direction are the same on every run

# The order in which an entry's verdict speaks for its variable: the most serious first.
SEVERITY = (MISMATCH, UNDEFINED, NOT_DIFFERENTIABLE, CONVENTION, UNCHECKED, OK)

DIRECTION = None  # the element of the random-direction check, in place of an index

SYMPY_TOO_LARGE = "SymPy not run: {count} scalar entries > limit {limit}; finite differences alone decide"
SYMPY_GUARDED = "SymPy not run: {reason}; finite differences alone decide"
SYMPY_FAILED = "symbolic check unavailable: {reason}; only finite differences were compared"
SAMPLED = ("finite differences checked {checked} of {total} entries of {name} (its corners, its largest partials "
           "and a seeded random sample) and one random direction through all of them")
SAMPLED_NO_DIRECTION = ("finite differences checked {checked} of {total} entries of {name} (its corners, its "
                        "largest partials and a seeded random sample)")
NOT_A_SCALAR = ("cannot compare an expected partial with ∂{output}/∂{name}: {name} is {shape}; expect the partials "
                "of scalars (the witnesses check every entry of a vector or matrix)")
NOT_KEPT = ("cannot compare an expected partial with ∂{output}/∂{name}: on vectors and matrices only variables "
            "and named steps keep their partials (name the step: q = ...)")


# ----- the check -----


def check_arrays(result, tolerances: Tolerances, timeout: float,
                 expectations: list[Expectation] | None = None) -> CheckReport:
    """check.check_gradient for a Result of the array path (shapes, gradients as arrays, no edges)."""
    graph, shapes = result.graph, result.shapes
    if expectations:
        refuse_expectations(result, expectations)
    checked = {name: node for name, node in graph.variables.items() if name not in result.data}
    report = CheckReport(result, UNAVAILABLE, tolerances, [])
    process = None
    if checked:
        entries = symbolic_entries(graph, shapes)
        guard = whole_guard(graph)
        if entries > MAX_SYMBOLIC_ENTRIES:
            report.notes.append(SYMPY_TOO_LARGE.format(count=f"{entries:,}", limit=MAX_SYMBOLIC_ENTRIES))
        elif guard is not None:
            report.notes.append(SYMPY_GUARDED.format(reason=guard))
        else:
            job = job_for(graph, ComponentwiseJob, point=result.at, whole=True, attributes=graph.attributes,
                          checked=list(checked))
            process, not_started = start_symbolic(job, timeout, componentwise_messages)
            if not_started:
                report.notes.append(SYMPY_FAILED.format(reason=not_started))
    try:  # finite differences meanwhile, in this process
        differences = _EntryDifferences(graph, result, checked)
    except BaseException:
        if process:
            process.stop()
        raise
    symbolic = {}
    if process:
        run = process.collect()
        phases = {message[0]: message[1:] for message in run.messages}
        if "whole" in phases:
            report.mode, symbolic = WHOLE, phases["whole"][0]
        else:
            reason = phases["error"][1] if "error" in phases else run.stopped or "no result"
            report.notes.append(SYMPY_FAILED.format(reason=reason))
    noted = notes_by_variable(graph, result.notes)
    for name, node in checked.items():
        report.variables.append(differences.judge(name, np.asarray(result.grads[node]), symbolic.get(name),
                                                  noted.get(name), tolerances, report.notes))
    if expectations:
        compare_expectations(graph, result.grads, [], expectations, tolerances, report)
    return report


def refuse_expectations(result, expectations: list[Expectation]) -> None:
    """Exit 2 for an expectation the array path cannot compare: a partial that is not one number,
    or one of an unnamed step (the array sweep keeps only variables' and names' gradients)."""
    graph = result.graph
    for expectation in expectations:
        node = graph.variables.get(expectation.name, graph.intermediates.get(expectation.name))
        if node is None:
            raise BindingError(NOT_KEPT.format(output=result.output, name=expectation.name))
        if result.shapes[node]:
            raise BindingError(NOT_A_SCALAR.format(output=result.output, name=expectation.name,
                                                   shape=shape_words(result.shapes[node])))


def symbolic_entries(graph: Graph, shapes: list) -> int:
    """How many numbers the nodes the output depends on hold: the size of the componentwise expansion."""
    reaches = reaching_output(graph.inputs, graph.output)
    return sum(math.prod(shape) for node, shape in enumerate(shapes) if reaches[node])


# ----- finite differences, entry by entry -----


class _EntryDifferences:
    """Central differences of f in the chosen entries of each checked variable (and one random
    direction for a variable with more entries than are chosen), computed at construction."""

    def __init__(self, graph: Graph, result, checked: dict[str, int]):
        self.graph, self.point, self.value = graph, result.at, result.value
        self.base = leaf_values(graph, self.point)
        self.writable: dict[str, np.ndarray] = {}
        self.chosen: dict[str, list] = {}
        self.directions: dict[str, np.ndarray] = {}
        coordinates = []
        for name, node in checked.items():
            x = np.asarray(self.point[name])
            chosen = self.chosen[name] = chosen_entries(x.shape, np.asarray(result.grads[node]))
            coordinates.extend(((name, index), float(x[index])) for index in chosen)
            if len(chosen) < x.size:  # t·v through every entry, each scaled as its own step would be
                signs = np.random.default_rng(SAMPLE_SEED).choice((-1.0, 1.0), size=x.shape)
                self.directions[name] = signs * np.maximum(1.0, np.abs(x))
                coordinates.append(((name, DIRECTION), 0.0))
        self.coordinates = dict(coordinates)
        self.estimates = difference_estimates(coordinates, self.value, self.outputs_at)

    def outputs_at(self, shifted: list) -> list[float]:
        """f where one entry of one variable is moved ((name, index), x), or the point moved along
        the variable's direction ((name, DIRECTION), t)."""
        graph = self.graph
        outputs = []
        for (name, element), x in shifted:
            leaves = list(self.base)
            node = graph.variables[name]
            if element is DIRECTION:
                leaves[node] = self.point[name] + x * self.directions[name]
            elif not element:  # a scalar variable
                leaves[node] = x
            else:  # one writable copy per variable, each entry put back after its pass
                entries = self.writable.get(name)
                if entries is None:
                    entries = self.writable[name] = np.array(self.point[name])
                entries[element] = x
                leaves[node] = entries
            outputs.append(float(forward_arrays(graph, leaves)[graph.output]))
            if element:
                entries[element] = self.point[name][element]
        return outputs

    def judge(self, name: str, gradient: np.ndarray, symbolic: list | None, note, tolerances: Tolerances,
              notes: list[str]) -> VariableCheck:
        """Each entry's verdict (check.verdict), summarised by the worst entry."""
        indices = list(np.ndindex(*gradient.shape)) if symbolic is not None else self.chosen[name]
        wanted = {}  # one-sided derivatives, where a kink may be at stake
        for index in indices:
            key = (name, index)
            estimate = self.estimates.get(key)
            if note is not None and estimate is not None and _at_stake(float(gradient[index]), estimate, tolerances):
                wanted[key] = estimate
        one_sided = one_sided_limits(self.coordinates, self.value, wanted, self.outputs_at)
        judged = []
        for index in indices:
            key = (name, index)
            sympy = symbolic[np.ravel_multi_index(index, gradient.shape) if index else 0] if symbolic else None
            judged.append((index, verdict(element_text(name, index), float(gradient[index]), sympy,
                                          self.estimates.get(key), note, tolerances, one_sided.get(key))))
        direction = self.directions.get(name)
        if direction is not None:
            notes.append((SAMPLED if note is None else SAMPLED_NO_DIRECTION).format(
                checked=f"{len(self.chosen[name]):,}", total=f"{gradient.size:,}", name=name))
            if note is None:  # along a direction through a kink, f need not be differentiable at all
                along = float(np.sum(gradient * direction))
                judged.append((DIRECTION, verdict(name, along, None,
                                                  self.estimates[(name, DIRECTION)], None, tolerances)))
        return summary(name, judged, gradient.size, len(indices), tolerances)


def chosen_entries(shape: tuple[int, ...], gradient: np.ndarray) -> list[tuple[int, ...]]:
    """The entries finite differences check: all of them, or for a larger variable its corners,
    its LARGEST_PARTIALS largest |∂f/∂x| and a seeded random sample, MAX_FD_ENTRIES in all."""
    size = math.prod(shape)
    if size <= MAX_FD_ENTRIES:
        return list(np.ndindex(*shape))
    corners = [np.ravel_multi_index(corner, shape) for corner in
               itertools.islice(itertools.product(*[(0, n - 1) for n in shape]), MAX_FD_ENTRIES // 4)]
    largest = np.argpartition(-np.abs(gradient).ravel(), LARGEST_PARTIALS)[:LARGEST_PARTIALS]
    chosen = dict.fromkeys(int(k) for k in (*corners, *largest))
    sample = np.random.default_rng(SAMPLE_SEED).choice(size, MAX_FD_ENTRIES, replace=False)
    for k in sample.tolist():
        if len(chosen) == MAX_FD_ENTRIES:
            break
        chosen.setdefault(k)
    return [tuple(int(i) for i in np.unravel_index(k, shape)) for k in sorted(chosen)]


def _at_stake(ad: float, estimate, tolerances: Tolerances) -> bool:
    """Whether an entry below a kink needs its one-sided derivatives: it is not plainly smooth
    (reverse mode not finite, one-sided differences apart, or the central one disagreeing)."""
    if not math.isfinite(ad) or estimate.one_sided_differ(tolerances.fd_rtol, tolerances.fd_atol):
        return True
    return not close(ad, estimate.central, tolerances.fd_rtol, tolerances.fd_atol, 2 * estimate.error + estimate.noise)


def summary(name: str, judged: list, entries: int, entries_checked: int, tolerances: Tolerances) -> VariableCheck:
    """The variable's check: the numbers and verdict of its most serious entry or direction (of
    those, the one farthest from its witnesses), with the count of each verdict among the entries."""
    counts = Counter(check.verdict for element, check in judged if element is not DIRECTION)
    worst = min((check.verdict for _, check in judged), key=SEVERITY.index)
    element, check = max(((element, check) for element, check in judged if check.verdict == worst),
                         key=lambda pair: _distance(pair[1], tolerances))
    return replace(check, name=name, element=element, entries=entries, entries_checked=entries_checked,
                   verdicts=dict(counts))


def _distance(check: VariableCheck, tolerances: Tolerances) -> float:
    """How far reverse mode is from its witnesses, in units of their tolerances (inf: not finite)."""
    if not math.isfinite(check.ad):
        return math.inf
    gaps = [0.0]
    for theirs, rtol, atol in ((check.sympy, tolerances.rtol, tolerances.atol),
                               (check.fd, tolerances.fd_rtol, tolerances.fd_atol)):
        if theirs is not None:
            gaps.append(abs(check.ad - theirs) / (atol + rtol * max(abs(check.ad), abs(theirs))))
    return max(gaps)


# ----- SymPy, componentwise (in the child process) -----


@dataclass
class ComponentwiseJob(SymbolicJob):
    """The check's job on vectors and matrices (the point's arrays give the shapes): the ops' attributes too."""

    attributes: dict = field(default_factory=dict)  # node -> {"axis": 0}, {"index": (1, 0)}
    checked: list = field(default_factory=list)  # the variables whose gradient SymPy gives


def componentwise_messages(sp, job: ComponentwiseJob, send) -> None:
    """The child's work: ("whole", {name: [∂f/∂entry, flat, C order]}) or ("error", "whole", why)."""
    try:
        send(("whole", _componentwise_gradient(sp, job)))
    except BaseException as error:  # noqa: BLE001 - reported, finite differences still decide
        send(("error", "whole", describe_failure(error)))


def _componentwise_gradient(sp, job: ComponentwiseJob) -> dict:
    """SymPy's ∂f/∂entry for every entry of the checked variables, at the point.

    Data (the variables not checked) enters as exact numbers: it is never differentiated, and
    a one-hot label then removes all but one term of a cross-entropy before SymPy differentiates.
    """
    leaves = {name: _entries(name, np.asarray(job.point[name]),
                             lambda label, x: sp.Symbol(label, real=True) if name in job.checked
                             else sympy_number(sp, x, repr(x)))
              for name in job.variables}
    output = _objects(sympy_expression(sp, job, leaves, apply=_apply_to_arrays))[()]
    point = {symbol: x for name in job.checked for symbol, x in zip(leaves[name].flat, np.asarray(job.point[name]).flat)}
    return {name: [real_float(sp, sympy_at(sp, sp.diff(output, symbol), point)) for symbol in leaves[name].flat]
            for name in job.checked}


def _entries(name: str, values: np.ndarray, leaf) -> np.ndarray:
    """An object array of leaf(label, value) per entry; the label is the check's (`W[1, 2]`; a scalar: its name)."""
    entries = np.empty(values.shape, dtype=object)
    for index in np.ndindex(*values.shape):
        entries[index] = leaf(element_text(name, index), float(values[index]))
    return entries


def _objects(value) -> np.ndarray:
    """A value as an object array: a single expression (a sum, a constant) becomes one of shape ()."""
    if isinstance(value, np.ndarray):
        return value
    array = np.empty((), dtype=object)
    array[()] = value
    return array


def _apply_to_arrays(sp, job: ComponentwiseJob, node: int, arguments: list):
    """An op on arrays of expressions: elementwise ops entry by entry with NumPy's broadcasting,
    array ops through their own rule with the node's attributes."""
    op = OPS[job.op_names[node]]
    arguments = [_objects(argument) for argument in arguments]
    if op.elementwise:
        return np.frompyfunc(functools.partial(op.sympy, sp), len(arguments), 1)(*arguments)
    return op.sympy(sp, *arguments, **job.attributes.get(node, {}))
