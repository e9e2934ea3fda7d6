"""Checking a gradient: reverse mode against SymPy and finite differences, and against a
student's own numbers.

Verdicts for each variable x:
  ok                  every witness that applies agrees with reverse mode
  mismatch            a witness disagrees (exit status 1); also where f has a finite (perhaps
                      one-sided) derivative and reverse mode gives nan or ±inf, as x·√x at 0
                      (0 × sqrt'(0) = 0 × ∞): the detail names the step where it broke
  not differentiable  an op has a kink or an infinite partial at the point and the one-sided
                      derivatives of f in x differ: reverse mode gives the op's convention
  kink convention     an op has a kink at the point, yet f is differentiable in x (as in
                      relu(x) - relu(-x)): the convention gives a different value than the
                      derivative; reported, not failed
  undefined           ∂f/∂x has no real value (∂(a^b)/∂b with a < 0)
  unchecked           no witness applies (SymPy unavailable and f not smooth within 2h)

Tolerances: reverse mode vs SymPy |a - b| <= atol + rtol·max(|a|, |b|) with rtol 1e-8 and
atol 1e-10; vs finite differences rtol 1e-5 and atol 1e-7, plus the difference's own error
estimate (steps h and 2h compared, and f's rounding error over h).

Vectors and matrices (a Result with shapes) go to array_check.py, which gives each entry of a
variable these verdicts and reports each variable by its worst entry.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from . import engine
from .api import Result, node_named
from .engine import Edge, Note
from .errors import BindingError
from .graph import Graph
from .formatting import format_value
from .witness import (
    DEFAULT_TIMEOUT, SymbolicProcess, SymbolicRun, check_messages, finite_differences, job_for, one_sided_derivatives,
    whole_guard,
)

SYMPY_RTOL, SYMPY_ATOL = 1e-8, 1e-10
FD_RTOL, FD_ATOL = 1e-5, 1e-7

OK = "ok"
MISMATCH = "mismatch"
NOT_DIFFERENTIABLE = "not differentiable"
CONVENTION = "kink convention"
UNDEFINED = "undefined"
UNCHECKED = "unchecked"

WHOLE, LOCAL, UNAVAILABLE = "whole", "local", "unavailable"


@dataclass(frozen=True)
class Tolerances:
    """--rtol/--atol set the SymPy pair; finite differences are never held tighter than their own."""

    rtol: float = SYMPY_RTOL
    atol: float = SYMPY_ATOL

    @property
    def fd_rtol(self) -> float:
        return max(FD_RTOL, self.rtol)

    @property
    def fd_atol(self) -> float:
        return max(FD_ATOL, self.atol)


def close(ours: float, theirs: float, rtol: float, atol: float, slack: float = 0.0) -> bool:
    """Symmetric closeness; equal infinities agree, nan never does."""
    if ours == theirs:
        return True
    if not (math.isfinite(ours) and math.isfinite(theirs)):
        return False
    return abs(ours - theirs) <= atol + rtol * max(abs(ours), abs(theirs)) + slack


@dataclass
class VariableCheck:
    name: str
    ad: float
    sympy: float | None  # None: SymPy gave no finite real value, or did not run
    fd: float | None  # the central difference, None where f is undefined near the point
    verdict: str
    left: float | None = None  # one-sided derivatives, given when they matter (kinks): a number,
    right: float | None = None  # ±inf where the difference quotients diverge, None where undefined
    detail: str | None = None
    # Vectors and matrices (array_check): the numbers above are of one entry, `element` (the one
    # that disagrees, else the worst; None: a random direction through every entry); a witness
    # checked `entries_checked` of the `entries`, and `verdicts` counts their own verdicts. None
    # for a program of scalars.
    element: tuple[int, ...] | None = None
    entries: int | None = None
    entries_checked: int | None = None
    verdicts: dict[str, int] | None = None


@dataclass
class LocalMismatch:
    """A local partial of the op table that SymPy's derivative of the op does not confirm."""

    edge: Edge
    sympy: float


@dataclass
class Expectation:
    """A number the user expects for ∂f/∂name; `half_unit` is the precision they typed (0.39 → 0.005)."""

    name: str
    expected: float
    half_unit: float | None = None
    typed: str = ""  # the number as the user typed it (-0.20), echoed in the table
    node: int = -1
    right: float = math.nan
    ok: bool = False


@dataclass
class CheckReport:
    result: Result
    mode: str
    tolerances: Tolerances
    variables: list[VariableCheck]
    local_checked: int = 0
    local_mismatches: list[LocalMismatch] = field(default_factory=list)
    expectations: list[Expectation] = field(default_factory=list)
    first_wrong: Expectation | None = None
    first_wrong_edges: list[Edge] = field(default_factory=list)  # the local steps that give its right value
    notes: list[str] = field(default_factory=list)

    @property
    def witnesses_agree(self) -> bool:
        """No witness contradicts reverse mode (a kink's convention is no contradiction: its verdict says so)."""
        return all(v.verdict != MISMATCH for v in self.variables) and not self.local_mismatches

    @property
    def expectations_match(self) -> bool:
        """Every number of --expect and --expect-node is right (true when none was given)."""
        return all(e.ok for e in self.expectations)

    @property
    def ok(self) -> bool:
        return self.witnesses_agree and self.expectations_match


# ----- the check -----


def check_gradient(result: Result, tolerances: Tolerances = Tolerances(), timeout: float = DEFAULT_TIMEOUT,
                   expectations: list[Expectation] | None = None) -> CheckReport:
    """Cross-check a result's gradient with SymPy and finite differences; compare expectations."""
    if result.shapes is not None:  # vectors and matrices: entry by entry
        from .array_check import check_arrays

        return check_arrays(result, tolerances, timeout, expectations)
    graph, values = result.graph, result.values
    grads, edges, notes = result.grads, result.edges, result.notes
    if not edges:  # not recorded by differentiate(..., record=True): one more sweep, recording
        grads, edges, notes = engine.backward(graph, values, record=True)
    requests = [(e.consumer, e.slot, tuple(values[j] for j in graph.inputs[e.consumer])) for e in edges]
    guard = whole_guard(graph)
    process = not_started = None
    if requests:
        job = job_for(graph, point=result.at, whole=guard is None, local_requests=requests)
        process, not_started = start_symbolic(job, timeout)
    noted = notes_by_variable(graph, notes)
    checked = {name: node for name, node in graph.variables.items() if name not in result.data}  # data has no gradient
    breaks = {name: reverse_mode_breakdown(graph, edges, node, grads[node], result.output)
              for name, node in checked.items() if not math.isfinite(grads[node])}
    try:  # finite differences meanwhile, in this process
        estimates = finite_differences(graph, result.at, result.value) if graph.variables else {}
        one_sided = one_sided_derivatives(graph, result.at, result.value,
                                          {name: estimates[name] for name in noted if name in estimates})
    except BaseException:
        if process:
            process.stop()
        raise
    run = process.collect() if process else SymbolicRun([], not_started)
    phases = {message[0]: message[1] for message in run.messages if message[0] != "error"}
    failures = {message[1]: message[2] for message in run.messages if message[0] == "error"}
    report = CheckReport(result, UNAVAILABLE, tolerances, [])
    local = phases.get("local")
    sympy_gradient = _symbolic_gradient(graph, edges, local, phases.get("whole"), report, guard, failures, run)
    if local is not None:
        _compare_locals(graph, values, edges, local, tolerances, report)
    for name, node in checked.items():
        report.variables.append(verdict(name, grads[node], sympy_gradient.get(name), estimates.get(name),
                                         noted.get(name), tolerances, one_sided.get(name), breaks.get(name)))
    if expectations:
        compare_expectations(graph, grads, edges, expectations, tolerances, report)
    return report


def _symbolic_gradient(graph: Graph, edges: list[Edge], local, whole, report: CheckReport, guard, failures,
                       run: SymbolicRun) -> dict[str, float | None]:
    """SymPy's ∂f/∂x per variable: the whole program's, else the chain of SymPy's local partials."""
    if whole is not None:
        report.mode = WHOLE
        return whole
    if local is None:
        if edges:
            reason = failures.get("local") or run.stopped or "no result"
            report.notes.append(f"symbolic check unavailable: {reason}; only finite differences were compared")
        return {}
    report.mode = LOCAL
    reason = guard or failures.get("whole") or run.stopped
    report.notes.append(f"symbolic check unavailable for the whole expression: {reason}; SymPy checked every "
                        "node's local partials instead, and the gradient column chains them")
    chained = [0.0] * len(graph.ops)
    chained[graph.output] = 1.0
    for edge, theirs in zip(edges, local):  # edges are in backward order: each upstream is complete
        chained[edge.input] += chained[edge.consumer] * (math.nan if theirs is None else theirs)
    return {name: chained[node] if math.isfinite(chained[node]) else None for name, node in graph.variables.items()}


def _compare_locals(graph: Graph, values: list, edges: list[Edge], local: list, tolerances: Tolerances,
                    report: CheckReport) -> None:
    """Each local partial against SymPy's; kinks (conventions) and SymPy's non-finite values are skipped."""
    for edge, theirs in zip(edges, local):
        if theirs is None:
            continue
        op = graph.ops[edge.consumer]
        if op.kink_at([values[j] for j in graph.inputs[edge.consumer]], (edge.slot,)) is not None:
            continue
        report.local_checked += 1
        if not close(edge.local, theirs, tolerances.rtol, tolerances.atol):
            report.local_mismatches.append(LocalMismatch(edge, theirs))


def start_symbolic(job, timeout: float, work=check_messages) -> tuple[SymbolicProcess | None, str | None]:
    """The SymPy process at work on `job`, or None and why it could not start."""
    try:
        return SymbolicProcess(job, timeout, work), None
    except ImportError:
        return None, "SymPy is not installed"
    except OSError as error:
        return None, f"could not start the SymPy process ({error.strerror or error})"


def notes_by_variable(graph: Graph, notes: list[Note]) -> dict[str, Note]:
    """For each variable upstream of a noted node (kink, infinite partial), the nearest such note."""
    mark = note_marks(graph, notes)
    return {name: notes[mark[node]] for name, node in graph.variables.items() if mark[node] >= 0}


def note_marks(graph: Graph, notes: list[Note]) -> list[int]:
    """For each node, the index in `notes` of the nearest noted node it feeds, or -1.

    A noted node is not marked by its own note: ∂f/∂q of q = relu(x) does not pass through relu.
    """
    own = [-1] * len(graph.ops)
    for k, note in enumerate(notes):
        if own[note.node] < 0:
            own[note.node] = k
    mark = [-1] * len(graph.ops)
    inputs = graph.inputs
    for node in range(len(mark) - 1, -1, -1):  # consumers come after their inputs: one reverse loop
        k = own[node] if own[node] >= 0 else mark[node]
        if k >= 0:
            for j in inputs[node]:
                if mark[j] < 0:
                    mark[j] = k
    return mark


def verdict(name: str, ad: float, sympy: float | None, estimate, note: Note | None,
            tolerances: Tolerances, one_sided: tuple[float, float] | None = None,
            breakdown: str | None = None) -> VariableCheck:
    """The verdict on one partial (of a variable, or of one entry of a vector) from its witnesses."""
    fd = estimate.central if estimate is not None and math.isfinite(estimate.central) else None
    check = VariableCheck(name, ad, sympy, fd, OK)
    rtol, atol = tolerances.fd_rtol, tolerances.fd_atol
    kinked = estimate is not None and estimate.one_sided_differ(rtol, atol)
    fd_slack = 0.0 if estimate is None else 2 * estimate.error + estimate.noise
    fd_agrees = fd is None or kinked or close(ad, fd, rtol, atol, fd_slack)
    if note is not None:  # an op is at a kink or has an infinite partial upstream of x
        if one_sided is not None:
            check.left, check.right = (None if math.isnan(d) else d for d in one_sided)
        sides = [d for d in (check.left, check.right) if d is not None]
        one_derivative = bool(sides) and all(math.isfinite(d) for d in sides) and (
            len(sides) == 1 or close(sides[0], sides[1], rtol, atol, 4 * estimate.noise))
        if not math.isfinite(ad) and (one_derivative or (one_sided is None and sympy is not None)):
            # f has a finite (perhaps one-sided) derivative, and reverse mode gives nan or ±inf:
            # as for x·√x at 0, where the chain rule multiplies 0 by sqrt'(0) = +inf.
            check.verdict = MISMATCH
            check.detail = breakdown or "reverse mode gives no finite number"
            if sympy is not None:
                check.detail += f"; SymPy's derivative is {format_value(sympy)}"
        elif math.isnan(ad) and check.left is None and check.right is None:
            check.verdict, check.detail = UNDEFINED, note.message
        elif kinked or not math.isfinite(ad):
            check.verdict, check.detail = NOT_DIFFERENTIABLE, note.message
        elif not fd_agrees:
            check.verdict, check.detail = CONVENTION, note.message
        return check
    sympy_agrees = sympy is None or close(ad, sympy, tolerances.rtol, tolerances.atol)
    if not (sympy_agrees and fd_agrees):
        check.verdict = MISMATCH
    elif kinked and sympy is None:
        check.verdict = UNCHECKED
        check.detail = "f is not smooth or not defined within 2h of the point, so finite differences do not apply"
    elif kinked:
        check.detail = "finite differences not used: f is not smooth or not defined within 2h of the point"
    return check


BREAKDOWN_PRODUCT = ("reverse mode cannot apply the chain rule here: 0 × ∞ on the edge from {step} to {input} "
                     "(upstream {upstream}, local {local})")
BREAKDOWN_INFINITE = "reverse mode meets an infinite local partial on the edge from {step} to {input}: {local}"
BREAKDOWN_SUM = "reverse mode cannot apply the chain rule here: ∞ − ∞ where the contributions to {gradient} are summed"


def reverse_mode_breakdown(graph: Graph, edges: list[Edge], node: int, gradient: float, out: str) -> str | None:
    """Where the reverse sweep turns finite numbers into the `gradient` of `node`, nan or ±inf.

    The first such step in backward order: a product 0 × ∞ on an edge or a sum ∞ − ∞ of
    contributions for nan; an infinite local partial for ±inf. None when no step explains it.
    """
    infinite = math.isinf(gradient)
    depends = engine.needs_gradient(graph, (node,))  # 1 for `node` and the nodes on its paths to the output
    labels = graph.labels()
    for edge in edges:  # in backward order: every edge into a node comes before the edges out of it
        if not depends[edge.input]:
            continue
        if math.isnan(edge.upstream):  # the edges into the consumer were finite or infinite: their sum was ∞ − ∞
            return BREAKDOWN_SUM.format(gradient=f"∂{out}/∂{labels[edge.consumer]}")
        if math.isnan(edge.contribution) or (infinite and math.isinf(edge.local) and math.isfinite(edge.upstream)):
            consumer, name = labels[edge.consumer], labels[edge.input]
            return (BREAKDOWN_PRODUCT if math.isnan(edge.contribution) else BREAKDOWN_INFINITE).format(
                step=f"{consumer} = {graph.formula(edge.consumer, labels)}", input=name,
                upstream=f"∂{out}/∂{consumer} = {format_value(edge.upstream)}",
                local=f"∂{consumer}/∂{name} = {format_value(edge.local)}")
    if math.isnan(gradient) and any(math.isinf(edge.contribution) for edge in edges if edge.input == node):
        return BREAKDOWN_SUM.format(gradient=f"∂{out}/∂{labels[node]}")
    return None


# ----- the user's own numbers -----

_DECIMAL = re.compile(r"\s*[-+]?[0-9]*\.([0-9]*)(?:[eE]([-+]?[0-9]+))?\s*")


def typed_half_unit(text: str) -> float | None:
    """Half a unit in the last digit typed, for a decimal number (0.39 → 0.005); None: exact."""
    match = _DECIMAL.fullmatch(text)
    if match is None or not any(c.isdigit() for c in text):
        return None
    return 0.5 * 10.0 ** (int(match.group(2) or 0) - len(match.group(1)))


def resolve_node(graph: Graph, name: str) -> int:
    """A variable, a named intermediate, or an unnamed step by its label in traces (t1, t2, ...)."""
    try:
        return node_named(graph, name)
    except BindingError:
        for node, label in enumerate(graph.labels()):
            if label == name and graph.ops[node] is not None:
                return node
        raise


def compare_expectations(graph: Graph, grads: list, edges: list[Edge], expectations: list[Expectation],
                         tolerances: Tolerances, report: CheckReport) -> None:
    """Each expected ∂f/∂name against reverse mode; the first wrong one in backward order explained."""
    for expectation in expectations:
        expectation.node = resolve_node(graph, expectation.name)
        right = expectation.right = grads[expectation.node]
        if expectation.half_unit is not None:
            expectation.ok = abs(right - expectation.expected) <= expectation.half_unit * (1 + 1e-9) + tolerances.atol
        else:
            expectation.ok = close(expectation.expected, right, tolerances.rtol, tolerances.atol)
        report.expectations.append(expectation)
    wrong = [e for e in report.expectations if not e.ok]
    if wrong:
        first = report.first_wrong = max(wrong, key=lambda e: e.node)  # the reverse sweep meets it first
        report.first_wrong_edges = [edge for edge in edges if edge.input == first.node]
