"""Checking a gradient: reverse mode against SymPy and finite differences, and against a
student's own numbers.

Verdicts for each variable x:
  ok                  every witness that applies agrees with reverse mode
  mismatch            a witness disagrees (exit status 1)
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
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from . import engine
from .api import Result, differentiate, node_named
from .engine import Edge, Note
from .errors import BindingError, LimitError
from .graph import Graph
from .formatting import format_value
from .witness import (
    DEFAULT_TIMEOUT, SymbolicProcess, SymbolicRun, finite_differences, job_for, one_sided_derivatives, whole_guard,
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
    def ok(self) -> bool:
        return (
            all(v.verdict != MISMATCH for v in self.variables)
            and not self.local_mismatches
            and all(e.ok for e in self.expectations)
        )


# ----- the check -----


def check_gradient(result: Result, tolerances: Tolerances = Tolerances(), timeout: float = DEFAULT_TIMEOUT,
                   expectations: list[Expectation] | None = None) -> CheckReport:
    """Cross-check a result's gradient with SymPy and finite differences; compare expectations."""
    graph, values = result.graph, result.values
    grads, edges, notes = result.grads, result.edges, result.notes
    if not edges:  # not recorded by differentiate(..., record=True): one more sweep, recording
        grads, edges, notes = engine.backward(graph, values, record=True)
    requests = [(e.consumer, e.slot, tuple(values[j] for j in graph.inputs[e.consumer])) for e in edges]
    guard = whole_guard(graph)
    process = None
    not_started = None
    if requests:
        job = job_for(graph, "check", point=result.at, whole=guard is None, local_requests=requests)
        try:
            process = SymbolicProcess(job, timeout)
        except ImportError:
            not_started = "SymPy is not installed"
        except OSError as error:
            not_started = f"could not start the SymPy process ({error.strerror or error})"
    noted = _notes_by_variable(graph, notes)
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
    for name, node in graph.variables.items():
        report.variables.append(_verdict(name, grads[node], sympy_gradient.get(name), estimates.get(name),
                                         noted.get(name), tolerances, one_sided.get(name)))
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
        if (op.kink is not None and op.kink.concerns((edge.slot,))
                and op.kink.at(*[values[j] for j in graph.inputs[edge.consumer]])):
            continue
        report.local_checked += 1
        if not close(edge.local, theirs, tolerances.rtol, tolerances.atol):
            report.local_mismatches.append(LocalMismatch(edge, theirs))


def _notes_by_variable(graph: Graph, notes: list[Note]) -> dict[str, Note]:
    """For each variable upstream of a noted node (kink, infinite partial), the nearest such note."""
    mark = _note_marks(graph, notes)
    return {name: notes[mark[node]] for name, node in graph.variables.items() if mark[node] >= 0}


def _note_marks(graph: Graph, notes: list[Note]) -> list[int]:
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


def _verdict(name: str, ad: float, sympy: float | None, estimate, note: Note | None,
             tolerances: Tolerances, one_sided: tuple[float, float] | None = None) -> VariableCheck:
    fd = estimate.central if estimate is not None and math.isfinite(estimate.central) else None
    check = VariableCheck(name, ad, sympy, fd, OK)
    rtol, atol = tolerances.fd_rtol, tolerances.fd_atol
    kinked = estimate is not None and estimate.one_sided_differ(rtol, atol)
    fd_slack = 0.0 if estimate is None else 2 * estimate.error + estimate.noise
    fd_agrees = fd is None or kinked or close(ad, fd, rtol, atol, fd_slack)
    if note is not None:  # an op is at a kink or has an infinite partial upstream of x
        if one_sided is not None:
            check.left, check.right = (None if math.isnan(d) else d for d in one_sided)
        if math.isnan(ad) and check.left is None and check.right is None:
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


# ----- symbolic derivatives (gradcli diff) -----


@dataclass
class Derivative:
    name: str
    plain: str
    latex: str
    pretty: str
    value: float | None = None
    latex_left: str = ""  # the LaTeX of ∂f/∂x
    simplified: bool = False


@dataclass
class DiffResult:
    graph: Graph
    derivatives: list[Derivative]
    result: Result | None  # the point, when --at was given
    notes: list[str] = field(default_factory=list)


def symbolic_derivatives(graph: Graph, wrt: list[str] | None = None, at: dict | None = None,
                         timeout: float = DEFAULT_TIMEOUT) -> DiffResult:
    """Each ∂f/∂name as a simplified SymPy formula (and its value at `at`), under a time limit."""
    names = wrt if wrt is not None else list(graph.variables)
    nodes = {name: resolve_node(graph, name) for name in names}
    result = differentiate(graph, at, wrt=names) if at is not None else None
    guard = whole_guard(graph)
    if guard is not None:
        raise LimitError(f"too big for a symbolic derivative: {guard}; `gradcli grad` gives the numbers")
    cut_values = {}
    if result is not None:
        cut_values = {name: result.values[node] for name, node in nodes.items() if name not in graph.variables}
    job = job_for(graph, "diff", point=result.at if result else {}, wrt=nodes, cut_values=cut_values)
    run = SymbolicProcess(job, timeout).collect()
    found: dict[str, Derivative] = {}
    failure = run.stopped
    for message in run.messages:
        if message[0] == "derivative":
            found[message[1]] = Derivative(*message[1:])
        elif message[0] == "simplified":
            derivative = found[message[1]]
            derivative.plain, derivative.latex, derivative.pretty = message[2:]
            derivative.simplified = True
        else:
            failure = message[2]
    missing = [name for name in names if name not in found]
    if missing:
        raise LimitError(f"SymPy did not differentiate with respect to {', '.join(missing)}: {failure}")
    diff = DiffResult(graph, [found[name] for name in names], result)
    if not all(d.simplified for d in diff.derivatives):
        diff.notes.append(f"shown as SymPy derived it, not simplified: simplification {failure}")
    if result is not None:
        diff.notes += kink_warnings(result, diff.derivatives, nodes)
    return diff


def kink_warnings(result: Result, derivatives: list[Derivative], nodes: dict[str, int]) -> list[str]:
    """At a kink, why `diff --at` and `grad` may give different numbers for the same partial.

    SymPy's formula has its own value there (Heaviside(0) = 1/2 for relu), `grad` follows the op
    table's convention (relu'(0) = 0): neither is a derivative, and a learner comparing the two
    commands must be told so rather than left with a contradiction.
    """
    graph = result.graph
    kinks = [note for note in result.notes if note.kind == "kink"]
    if not kinks:
        return []
    mark = _note_marks(graph, kinks)
    labels = graph.labels()
    out = result.output
    variables = [d.name for d in derivatives if d.name in graph.variables and mark[nodes[d.name]] >= 0]
    estimates = finite_differences(graph, result.at, result.value) if variables else {}
    warnings = []
    for d in derivatives:
        k = mark[nodes[d.name]]
        if k < 0:
            continue
        node = kinks[k].node
        op = graph.ops[node]
        where = f"{op.symbol} is not differentiable at {labels[node]} = {graph.formula(node, labels)}"
        estimate = estimates.get(d.name)
        if estimate is None:  # an intermediate: no finite differences in it to tell
            head = f"{where}, so {out} may not be differentiable in {d.name} here"
        elif estimate.one_sided_differ(FD_RTOL, FD_ATOL):
            head = f"{out} is not differentiable in {d.name} here: {where}"
        else:
            head = f"{where} (though {out} itself looks differentiable in {d.name} here)"
        sympy = "no finite real value" if d.value is None else format_value(d.value)
        warnings.append(f"∂{out}/∂{d.name}: {head}; SymPy's formula gives {sympy}, while `gradcli grad` gives "
                        f"{format_value(result.grads[nodes[d.name]])} (convention: {op.kink.convention})")
    return warnings
