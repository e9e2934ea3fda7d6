"""The independent witnesses of a gradient: SymPy's symbolic derivatives and finite differences.

SymPy never sees our partials. The graph becomes a SymPy expression structurally, one loop over
the nodes through each op's `sympy(sp, *inputs)` counterpart (never from text), and SymPy
differentiates it on its own. Its work runs in a child process that is killed at the time
limit, because SymPy can stay inside one long computation for minutes.

Two symbolic modes:
  whole  SymPy differentiates the whole program and evaluates each ∂f/∂x at the point with
         30 significant digits; its cost grows fast with the program's size and depth.
  local  SymPy differentiates each op's counterpart with respect to fresh symbols and
         evaluates it at the node's input values: a witness of every local partial of the op
         table, linear in the program's size. Chaining those partials gives a gradient too.

Finite differences (central, step ∛eps·max(1, |x|), plus one-sided ones to see kinks) run
here in the calling process through engine.forward. Programs of vectors and matrices reuse all
of this from array_check.py: a coordinate is then one entry of a variable, and SymPy's
expression is built on arrays of symbols through the `apply` of sympy_expression.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction

from . import engine, scalar
from .graph import Graph, reaching_output
from .formatting import format_value
from .ops import CONSTANTS, OPS

DIGITS = 30  # significant digits of every SymPy evaluation
DEFAULT_TIMEOUT = 5.0  # seconds for the symbolic work (--check-timeout)

# Beyond these SymPy's whole-program derivative is not even tried (measured: a chain 100
# deep overflows SymPy's recursion, and 8 steps of `a = sin(a)*x + a*y` already take 7 s).
MAX_WHOLE_NODES = 300
MAX_WHOLE_DEPTH = 60
_CHILD_RECURSION_LIMIT = 10_000

# Linux forks: the child starts at once with SymPy loaded. Elsewhere a fresh interpreter is
# spawned (fork is unsafe on macOS and absent on Windows), which is why a job is plain data.
START_METHOD = "fork" if sys.platform.startswith("linux") else "spawn"

_EPS = sys.float_info.epsilon


# ----- the graph as plain data, so it can go to a child process -----


@dataclass
class SymbolicJob:
    """What the SymPy process needs: the graph by op names (picklable), and what to compute."""

    op_names: list  # op name per node, None for leaves
    inputs: list
    constants: dict  # node -> (value, text)
    variables: dict  # name -> node
    output: int
    output_name: str
    point: dict = field(default_factory=dict)  # variable -> value (empty: no point)
    whole: bool = False  # check: also differentiate the whole program
    local_requests: list = field(default_factory=list)  # check: (node, slot, input values)


def job_for(graph: Graph, job_class: type = SymbolicJob, **fields) -> SymbolicJob:
    """The job of `graph` (a SymbolicJob, or a subclass of it with more fields)."""
    return job_class(
        [None if op is None else op.name for op in graph.ops],
        graph.inputs,
        graph.constants,
        graph.variables,
        graph.output,
        graph.output_name,
        **fields,
    )


def program_size(graph: Graph) -> tuple[int, int]:
    """(operations the output depends on, longest chain of operations from a leaf to the output)."""
    reaches = reaching_output(graph.inputs, graph.output)
    depth = [0] * len(graph.ops)
    count = 0
    for node, op in enumerate(graph.ops):
        if op is None or not reaches[node]:
            continue
        count += 1
        depth[node] = 1 + max(depth[j] for j in graph.inputs[node])
    return count, depth[graph.output]


def whole_guard(graph: Graph) -> str | None:
    """Why SymPy should not even try the whole program, or None."""
    count, depth = program_size(graph)
    if count > MAX_WHOLE_NODES:
        return f"the program has {count:,} operations (the whole-expression limit is {MAX_WHOLE_NODES})"
    if depth > MAX_WHOLE_DEPTH:
        return f"the program is nested {depth:,} deep (the whole-expression limit is {MAX_WHOLE_DEPTH})"
    return None


# ----- SymPy, built structurally (these run in the child process) -----


def sympy_number(sp, value: float, text: str):
    """A constant as SymPy sees it: pi and e exact, small integers and short decimals as
    Integers and Rationals (nice formulas: 1.1 is 11/10), anything else a 30-digit Float.

    Never a huge Integer: 1e300 and 1e-300 stay Floats, so SymPy has no exact giant to expand.
    """
    if text in CONSTANTS:
        return sp.pi if text == "pi" else sp.E
    if value == math.floor(value) and abs(value) <= 2**53:
        return sp.Integer(int(value))
    fraction = Fraction(repr(value))  # the shortest decimal that gives this double
    if fraction.denominator <= 10**9 and abs(fraction.numerator) <= 10**15:
        return sp.Rational(fraction.numerator, fraction.denominator)
    return sp.Float(value, DIGITS)


def sympy_symbols(sp, names) -> dict:
    return {name: sp.Symbol(name, real=True) for name in names}


def apply_op(sp, job: SymbolicJob, node: int, arguments: list):
    """A node's op on its inputs' SymPy expressions."""
    return OPS[job.op_names[node]].sympy(sp, *arguments)


def sympy_expression(sp, job: SymbolicJob, symbols: dict, cut: dict | None = None, apply=apply_op):
    """The output as a SymPy expression: one loop over the nodes, in topological order.

    `cut` maps nodes to symbols that stand for them (∂f/∂q of an intermediate q); `apply`
    computes an op node from its inputs' expressions (the check's componentwise expansion
    gives one that works on arrays of expressions).
    """
    cut = cut or {}
    reaches = reaching_output(job.inputs, job.output)
    node_symbol = {node: symbols[name] for name, node in job.variables.items()}
    expressions: list = [None] * len(job.op_names)
    for node, name in enumerate(job.op_names):
        if not reaches[node]:
            continue
        if node in cut:
            expressions[node] = cut[node]
        elif name is None:
            if node in job.constants:
                expressions[node] = sympy_number(sp, *job.constants[node])
            else:
                expressions[node] = node_symbol[node]
        else:
            expressions[node] = apply(sp, job, node, [expressions[j] for j in job.inputs[node]])
    return expressions[job.output]


def sympy_at(sp, expression, point: dict):
    """An expression's value at a point, with DIGITS significant digits (mpmath underneath).

    The point goes in as DIGITS-digit Floats (each double exactly) and SymPy simplifies before
    evalf sees the expression: evalf(subs=...) misses exact cancellations (1/sqrt(1 - x²) at
    x = 1 came out as 1.8e75 instead of a pole), and poles become zoo instead of raising.
    Not Rationals: x^n at n = 1e5 would be expanded exactly.
    """
    point_floats = {symbol: sp.Float(value, DIGITS) for symbol, value in point.items()}
    try:
        return expression.xreplace(point_floats).evalf(DIGITS)
    except (ZeroDivisionError, ValueError, OverflowError):
        return None


def real_float(sp, value) -> float | None:
    """A SymPy number as a double, or None when it is not a finite real number."""
    if value is None or not value.is_number:
        return None
    if value.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
        return None
    real, imaginary = value.as_real_imag()
    try:
        imaginary_part = float(imaginary)
        result = float(real)
    except (TypeError, ValueError):
        return None
    scale = max(abs(result), 1e-300)
    if abs(imaginary_part) > 1e-25 * scale:
        return None
    return result if math.isfinite(result) else None


def _whole_gradient(sp, job: SymbolicJob) -> dict:
    """∂f/∂x by SymPy for every variable, at the point: {name: float or None}."""
    symbols = sympy_symbols(sp, job.variables)
    output = sympy_expression(sp, job, symbols)
    point = {symbols[name]: value for name, value in job.point.items()}
    return {name: real_float(sp, sympy_at(sp, sp.diff(output, symbols[name]), point)) for name in job.variables}


def _mpmath_number(mpmath, value) -> float | None:
    if isinstance(value, mpmath.mpc):
        if value.imag != 0:
            return None
        value = value.real
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def _local_partials(sp, job: SymbolicJob) -> list:
    """SymPy's ∂out/∂input for each requested (node, slot, input values): float or None."""
    import mpmath

    mpmath.mp.dps = DIGITS
    derivatives: dict = {}  # (op name, arity, slot) -> function of the inputs
    results = []
    for node, slot, arguments in job.local_requests:
        name = job.op_names[node]
        key = (name, len(arguments), slot)
        function = derivatives.get(key)
        if function is None:
            # Fresh symbols a0, a1, ...: the generated evaluator contains no user text.
            fresh = [sp.Symbol(f"a{i}", real=True) for i in range(len(arguments))]
            partial = sp.diff(OPS[name].sympy(sp, *fresh), fresh[slot])
            function = derivatives[key] = sp.lambdify(fresh, partial, modules="mpmath")
        try:
            value = function(*[mpmath.mpf(a) for a in arguments])
        except (ZeroDivisionError, ValueError, OverflowError, TypeError):
            value = None
        results.append(None if value is None else _mpmath_number(mpmath, value))
    return results


def describe_failure(error: BaseException) -> str:
    """A SymPy failure in a few words, for the parent to report."""
    if isinstance(error, RecursionError):
        return "the expression is nested too deeply for SymPy (recursion limit)"
    if isinstance(error, MemoryError):
        return "SymPy ran out of memory"
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"SymPy failed ({type(error).__name__}{': ' + text[:200] if text else ''})"


def check_messages(sp, job: SymbolicJob, send) -> None:
    """The check's symbolic work, phase by phase: local partials, then the whole gradient."""
    for phase, compute, wanted in (("local", _local_partials, bool(job.local_requests)),
                                   ("whole", _whole_gradient, job.whole)):
        if not wanted:
            continue
        try:
            send((phase, compute(sp, job)))
        except BaseException as error:  # noqa: BLE001 - the other phase may still succeed
            send(("error", phase, describe_failure(error)))


def symbolic_worker(job: SymbolicJob, work, connection) -> None:
    """The child process: work(sp, job, send) sends each result as it is ready, then "done"."""
    import warnings

    warnings.simplefilter("ignore")
    sys.setrecursionlimit(_CHILD_RECURSION_LIMIT)
    try:
        import sympy as sp

        work(sp, job, connection.send)
        connection.send(("done",))
    finally:
        connection.close()


@dataclass
class SymbolicRun:
    messages: list
    stopped: str | None  # why the child stopped before it was done (time limit, crash), or None


class SymbolicProcess:
    """symbolic_worker(job, work) in a child process, started at once and collected with a deadline.

    The child is killed at the limit, so a SymPy computation stuck in C or in a long pure
    Python loop cannot hold the command. Meanwhile the caller is free to work (finite
    differences run while SymPy thinks).
    """

    def __init__(self, job: SymbolicJob, timeout: float, work=check_messages):
        import multiprocessing

        import sympy  # noqa: F401 - imported before the fork, so the child starts with it loaded

        context = multiprocessing.get_context(START_METHOD)
        self.timeout = timeout
        self.receiver, sender = context.Pipe(duplex=False)
        self.process = context.Process(target=symbolic_worker, args=(job, work, sender), daemon=True)
        self.deadline = time.monotonic() + timeout
        self.process.start()
        sender.close()

    def collect(self) -> SymbolicRun:
        """Every message the child sent before it finished or the deadline passed."""
        messages: list = []
        stopped = None
        try:
            while True:
                # Past the deadline, still take what was sent while this process was busy.
                remaining = max(0.0, self.deadline - time.monotonic())
                if not self.receiver.poll(remaining):
                    stopped = f"timed out after {format_value(self.timeout)} s"
                    break
                try:
                    message = self.receiver.recv()
                except EOFError:
                    stopped = "the SymPy process ended unexpectedly"
                    break
                if message[0] == "done":
                    break
                messages.append(message)
        finally:
            self.stop()
        return SymbolicRun(messages, stopped)

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.receiver.close()


# ----- finite differences (in this process; plain floats through engine.forward) -----


@dataclass
class FiniteDifference:
    """Estimates of ∂f/∂x from values of f near the point."""

    central: float  # (f(x+h) - f(x-h)) / 2h; nan where f is undefined
    error: float  # |central(h) - central(2h)|, an estimate of the central difference's error
    left: float  # one-sided, second order: from f(x), f(x-h), f(x-2h)
    right: float  # from f(x), f(x+h), f(x+2h)
    noise: float  # the rounding error of f divided by h

    def one_sided_differ(self, rtol: float, atol: float) -> bool:
        """Do the one-sided derivatives disagree (a kink, an edge of the domain, a pole)?"""
        if not (math.isfinite(self.left) and math.isfinite(self.right)):
            return True
        gap = abs(self.left - self.right)
        return gap > atol + rtol * max(abs(self.left), abs(self.right)) + 4 * self.noise


def finite_difference_step(x: float) -> float:
    """The step of every finite difference at x: ∛eps·max(1, |x|), rounded so that x + h is exact.

    ∛eps balances a central difference's truncation error (h²) against f's rounding error (eps/h).
    """
    return (x + _EPS ** (1 / 3) * max(1.0, abs(x))) - x


def finite_differences(graph: Graph, point: dict[str, float], value: float) -> dict[str, FiniteDifference]:
    """Central and one-sided differences of the output for every variable.

    Evaluates f at x ± h and x ± 2h for each variable: with NumPy all at once, one batched
    forward pass; without it, one scalar forward pass per perturbed point.
    """
    return difference_estimates([(name, point[name]) for name in graph.variables], value,
                                lambda shifted: _outputs_at(graph, point, shifted))


def difference_estimates(coordinates: list[tuple[object, float]], value: float, outputs_at) -> dict:
    """Central and one-sided differences of f in each coordinate (key, x), step h = finite_difference_step(x).

    A key names what is perturbed: a variable, or one entry of a vector (the check of arrays).
    `outputs_at([(key, perturbed x), ...])` gives f at each point that differs in that one place.
    """
    steps = []
    shifted = []  # (key, perturbed value), 4 per coordinate: +h, -h, +2h, -2h
    for key, x in coordinates:
        h = finite_difference_step(x)
        steps.append(h)
        shifted.extend([(key, x + h), (key, x - h), (key, x + 2 * h), (key, x - 2 * h)])
    outputs = outputs_at(shifted)
    estimates = {}
    for k, (key, _) in enumerate(coordinates):
        h = steps[k]
        plus, minus, plus2, minus2 = outputs[4 * k: 4 * k + 4]
        central = (plus - minus) / (2 * h)
        wide = (plus2 - minus2) / (4 * h)
        magnitude = max([abs(value)] + [abs(v) for v in (plus, minus, plus2, minus2) if math.isfinite(v)])
        estimates[key] = FiniteDifference(
            central=central,
            error=abs(central - wide),
            left=(3 * value - 4 * minus + minus2) / (2 * h),
            right=(-3 * value + 4 * plus - plus2) / (2 * h),
            noise=4 * _EPS * magnitude / h,
        )
    return estimates


_SHRINK = (16.0, 256.0)  # the one-sided differences are taken again at h/16 and h/256
_GROWTH = 1.25  # a difference that grows by more than this at each shrink diverges (h^-0.08 or faster)


def one_sided_derivatives(graph: Graph, point: dict[str, float], value: float,
                          estimates: dict[str, FiniteDifference]) -> dict[str, tuple[float, float]]:
    """(left, right) derivative of f in each variable of `estimates`: a number, ±inf or nan (undefined)."""
    return one_sided_limits({name: point[name] for name in estimates}, value, estimates,
                            lambda shifted: _outputs_at(graph, point, shifted))


def one_sided_limits(coordinates: dict, value: float, estimates: dict, outputs_at) -> dict:
    """(left, right) derivative of f in each coordinate of `estimates` (key -> x in `coordinates`,
    f evaluated by outputs_at as for difference_estimates): a number, ±inf or nan (undefined).

    One step gives a finite quotient even where the derivative is infinite (1/√h at sqrt's 0,
    1/h at a jump): a step-size artefact. So the quotient is taken again at h/16 and h/256; if it
    keeps growing with one sign, far above rounding noise, it is ±inf. Asked for at kinks only.
    """
    shifted = []
    steps = []
    for key in estimates:
        x = coordinates[key]
        h = finite_difference_step(x)
        for shrink in _SHRINK:
            small = (x + h / shrink) - x  # exact, as x + small is
            steps.append(small)
            shifted.extend([(key, x + small), (key, x + 2 * small), (key, x - small), (key, x - 2 * small)])
    outputs = outputs_at(shifted) if shifted else []
    limits = {}
    for k, (key, estimate) in enumerate(estimates.items()):
        rights, lefts, noises = [estimate.right], [estimate.left], [estimate.noise]
        for j in range(len(_SHRINK)):
            small = steps[k * len(_SHRINK) + j]
            plus, plus2, minus, minus2 = outputs[4 * (k * len(_SHRINK) + j): 4 * (k * len(_SHRINK) + j) + 4]
            rights.append((-3 * value + 4 * plus - plus2) / (2 * small))
            lefts.append((3 * value - 4 * minus + minus2) / (2 * small))
            finite = [abs(v) for v in (value, plus, plus2, minus, minus2) if math.isfinite(v)]
            noises.append(4 * _EPS * max(finite) / small)
        limits[key] = (_limit(lefts, noises), _limit(rights, noises))
    return limits


def _limit(differences: list[float], noises: list[float]) -> float:
    """The limit of the differences at shrinking steps: ±inf when they keep growing, the
    extrapolated limit when they converge slowly (like h^p with p < 2), else the first one.

    Slow convergence is another step-size artefact: x·√x at 0 has the right derivative 0, but
    its difference quotients are 0.59·√h, 0.0014 at the first step. Each shrink by 16 changes
    them by a constant factor, so Aitken's extrapolation of the three finds the limit.
    """
    first = differences[0]
    if not all(math.isfinite(d) for d in differences):
        return first
    grows = all(d != 0 and math.copysign(1.0, d) == math.copysign(1.0, first) for d in differences) and all(
        abs(later) > _GROWTH * abs(earlier) for earlier, later in zip(differences, differences[1:]))
    if grows and abs(differences[-1]) > 100 * noises[-1] + 1.0:
        return math.copysign(math.inf, first)
    coarse, middle, fine = differences[-3:]
    change, next_change = middle - coarse, fine - middle
    converges = (abs(change) > 100 * noises[-1] and next_change * change > 0
                 and abs(change) > _GROWTH * abs(next_change))
    if not converges:
        return first
    limit = fine - next_change * next_change / (next_change - change)
    return 0.0 if abs(limit) <= 100 * noises[-1] + 1e-12 * abs(first) else limit


def _outputs_at(graph: Graph, point: dict[str, float], shifted: list[tuple[str, float]]) -> list[float]:
    """f at each point that differs from `point` in one variable."""
    try:
        import numpy
    except ImportError:
        numpy = None
    if numpy is None:
        outputs = []
        for name, x in shifted:
            values = engine.forward(graph, engine.leaf_values(graph, {**point, name: x}), scalar)
            outputs.append(values[graph.output])
        return [v if isinstance(v, float) else float(v) for v in outputs]
    outputs = []
    # Each chunk holds a column per node: keep chunk × nodes near 4 million doubles (32 MB).
    chunk = max(16, min(1024, 4_000_000 // max(1, len(graph.ops))))
    for start in range(0, len(shifted), chunk):
        part = shifted[start: start + chunk]
        leaves = engine.leaf_values(graph, point)
        for name, node in graph.variables.items():
            leaves[node] = numpy.full(len(part), point[name])
        for row, (name, x) in enumerate(part):
            leaves[graph.variables[name]][row] = x
        with numpy.errstate(all="ignore"):
            values = engine.forward(graph, leaves, numpy)
        outputs.extend(numpy.broadcast_to(numpy.asarray(values[graph.output], dtype=float), (len(part),)).tolist())
    return outputs
