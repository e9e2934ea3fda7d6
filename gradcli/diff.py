"""Symbolic derivatives (`gradcli diff`): each ∂f/∂name as a SymPy formula, and its value at a point.

The parent builds a job and reads the child's messages (symbolic_derivatives); the child
(diff_messages, run by witness.symbolic_worker under a time limit) differentiates, evaluates
and prints each formula. SymPy sees the graph structurally, never the user's text.

The relu derivative is SymPy's Heaviside step, whose stock printers write θ(x) (pretty) and
\\theta\\left(x\\right) (LaTeX): read as a variable named θ, or θ times x. It is printed under a
name no program name takes (H, else step, else Heaviside), explained once under the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .api import Result, differentiate
from .check import FD_ATOL, FD_RTOL, close, note_marks, resolve_node
from .errors import LimitError
from .formatting import format_value
from .graph import Graph
from .witness import (
    DEFAULT_TIMEOUT, SymbolicJob, SymbolicProcess, describe_failure, finite_differences, job_for, real_float,
    sympy_at, sympy_expression, sympy_symbols, whole_guard,
)

STEP_NAMES = ("H", "step", "Heaviside")  # the step function's printed name: the first no program name takes


@dataclass
class Derivative:
    name: str
    plain: str
    latex: str
    pretty: str
    value: float | None = None
    latex_left: str = ""  # the LaTeX of ∂f/∂x
    simplified: bool = False
    has_step: bool = False  # the formula contains the step function (relu's derivative)


@dataclass
class DiffResult:
    graph: Graph
    derivatives: list[Derivative]
    result: Result | None  # the point, when --at was given
    notes: list[str] = field(default_factory=list)
    step_name: str = STEP_NAMES[0]


@dataclass
class DiffJob(SymbolicJob):
    """A SymbolicJob for `diff`: which partials, and the names it prints."""

    wrt: dict = field(default_factory=dict)  # name -> node (a variable or an intermediate)
    cut_values: dict = field(default_factory=dict)  # intermediate name -> its value at the point
    step_name: str = STEP_NAMES[0]


def step_name(graph: Graph) -> str:
    """The step function's name in the formulas: one that no name of the program takes."""
    taken = {*graph.variables, *graph.intermediates, graph.output_name}
    return next((name for name in STEP_NAMES if name not in taken), STEP_NAMES[-1])


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
    step = step_name(graph)
    job = job_for(graph, DiffJob, point=result.at if result else {}, wrt=nodes, cut_values=cut_values,
                  step_name=step)
    run = SymbolicProcess(job, timeout, diff_messages).collect()
    found: dict[str, Derivative] = {}
    failure = run.stopped
    for message in run.messages:
        if message[0] == "derivative":
            found[message[1]] = Derivative(*message[1:])
        elif message[0] == "simplified":
            derivative = found[message[1]]
            derivative.plain, derivative.latex, derivative.pretty, derivative.has_step = message[2:]
            derivative.simplified = True
        else:
            failure = message[2]
    missing = [name for name in names if name not in found]
    if missing:
        raise LimitError(f"SymPy did not differentiate with respect to {', '.join(missing)}: {failure}")
    diff = DiffResult(graph, [found[name] for name in names], result, step_name=step)
    if not all(d.simplified for d in diff.derivatives):
        diff.notes.append(f"shown as SymPy derived it, not simplified: simplification {failure}")
    if result is not None:
        diff.notes += kink_warnings(result, diff.derivatives, nodes)
    return diff


KINK_DIFFERS = "∂{out}/∂{name}: {head}; SymPy's formula gives {sympy}, while `gradcli grad` gives {ours} (convention: {convention})"
KINK_AGREES = ("∂{out}/∂{name}: {head}; SymPy's formula and `gradcli grad` both give {ours} here "
               "(convention: {convention})")


def kink_warnings(result: Result, derivatives: list[Derivative], nodes: dict[str, int]) -> list[str]:
    """At a kink, why `diff --at` and `grad` may give different numbers for the same partial.

    SymPy's formula has its own value there (Heaviside(0) = 1/2 for relu), `grad` follows the op
    table's convention (relu'(0) = 0): neither is a derivative, and a learner comparing the two
    commands must be told so rather than left with a contradiction. Where the two numbers are the
    same (a max tie: ½ each), the warning says so instead of claiming a difference.
    """
    graph = result.graph
    kinks = [note for note in result.notes if note.kind == "kink"]
    if not kinks:
        return []
    mark = note_marks(graph, kinks)
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
        ours = result.grads[nodes[d.name]]
        same = d.value is not None and close(d.value, ours, FD_RTOL, FD_ATOL)
        warnings.append((KINK_AGREES if same else KINK_DIFFERS).format(
            out=out, name=d.name, head=head, ours=format_value(ours), convention=kinks[k].convention,
            sympy="no finite real value" if d.value is None else format_value(d.value)))
    return warnings


# ----- in the child process -----


def diff_messages(sp, job: DiffJob, send) -> None:
    """Each ∂f/∂name as raw derivative (with its value), then simplified, sent as it is ready."""
    try:
        symbols = sympy_symbols(sp, job.variables)
        point = {symbols[name]: value for name, value in job.point.items()}
        derivatives = {}
        output_latex = sp.latex(sp.Symbol(job.output_name))
        for name, node in job.wrt.items():
            if name in symbols:
                derivative = sp.diff(sympy_expression(sp, job, symbols), symbols[name])
                at = point
            else:  # an intermediate: f as a function of a symbol standing for it, at the symbol's value
                stand_in = sp.Symbol(name, real=True)
                derivative = sp.diff(sympy_expression(sp, job, symbols, {node: stand_in}), stand_in)
                at = {**point, stand_in: job.cut_values[name]} if job.point else {}
            value = real_float(sp, sympy_at(sp, derivative, at)) if job.point else None
            derivatives[name] = derivative
            left_side = rf"\frac{{\partial {output_latex}}}{{\partial {sp.latex(sp.Symbol(name))}}}"
            plain, latex, pretty, has_step = _derivative_texts(sp, derivative, job.step_name)
            send(("derivative", name, plain, latex, pretty, value, left_side, False, has_step))
        for name, derivative in derivatives.items():
            send(("simplified", name, *_derivative_texts(sp, _simplify_in_kind(sp, derivative), job.step_name)))
    except BaseException as error:  # noqa: BLE001 - reported to the parent, which decides
        send(("error", "diff", describe_failure(error)))


def _simplify_in_kind(sp, expression):
    """SymPy's simplify, kept to the functions the derivative already uses.

    Left alone, simplify writes σ'(wx)·x as x/(4·cosh²(wx/2)): shorter, but not what a learner
    derived. A function it would bring in costs more than any formula is worth.
    """
    own = {type(f) for f in expression.atoms(sp.Function)}

    def measure(candidate):
        return sp.count_ops(candidate) + 1000 * len({type(f) for f in candidate.atoms(sp.Function)} - own)

    return sp.simplify(expression, measure=measure)


def _derivative_texts(sp, expression, step: str) -> tuple[str, str, str, bool]:
    """A formula as (plain, LaTeX, pretty) text, and whether it contains the step function.

    Plain text is SymPy's own (Heaviside(x), which SymPy reads back); LaTeX and the pretty form
    write the step function as `step`, never θ.
    """
    from sympy.printing.latex import LatexPrinter
    from sympy.printing.pretty.pretty import PrettyPrinter
    from sympy.printing.pretty.stringpict import prettyForm

    class StepLatex(LatexPrinter):
        def _print_Heaviside(self, e, exp=None):
            tex = r"%s\left(%s\right)" % (self._hprint_Function(step), ", ".join(self._print(a) for a in e.pargs))
            return tex if exp is None else r"\left(%s\right)^{%s}" % (tex, exp)

    class VerbatimPretty(PrettyPrinter):
        """SymPy's 2-D pretty form, but with every name as the user typed it.

        The stock printer turns `beta` into β and `lambda_1` into λ₁: fine in LaTeX, where the user
        asked for typesetting, but on the terminal the formula must use the program's own names.
        """

        def _print_Symbol(self, e, bold_name=False):
            return prettyForm(e.name)

        def _print_Heaviside(self, e):
            return self._helper_print_function(e.func, e.pargs, func_name=step)

    pretty = VerbatimPretty({"use_unicode": True, "num_columns": 10**6}).doprint(expression)
    return str(expression), StepLatex().doprint(expression), pretty, expression.has(sp.Heaviside)
