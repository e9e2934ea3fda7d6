"""THE table of operations: every op is declared once, and every pass reads it from here.

Fields of an `Op` (in the spirit of PyTorch's derivatives.yaml):
  name      the op's stable name (JSON, DOT, tests)
  arity     number of inputs; None means "two or more" (max, min)
  syntax    how the parser recognises it: Infix(symbols, left_bp, right_bp), Prefix(symbol,
            right_bp) or Call(names); binding powers follow matklad's scheme, l < r for
            left-associative operators and l > r for right-associative ones
  forward   forward(xp, *inputs) -> out, where xp is an array namespace: gradcli.scalar for
            one point, numpy for many; rules must use only names both provide
  partials  one local partial ∂out/∂input per input, each partial(xp, out, *inputs), so `out`
            (the forward result) is in scope as in the textbooks; a variadic op gives one
            rule partial(xp, i, out, *inputs) instead
  show      how the trace prints each local partial (a, b: the inputs; out: the result); for
            an array op, each VJP in matrix form (δ: the upstream gradient)
  sympy     sympy(sp, *inputs): the op's SymPy counterpart, forward only; the checker
            differentiates it independently, it is never fed our partials; an array op's
            sympy(sp, *object_arrays, **attributes) works on NumPy object arrays of SymPy
            expressions (the check's componentwise expansion, one symbol per entry)
  domain    domain(*inputs) -> reason or None, consulted when a value is not finite, so a
            math error can say why ("log of a negative number") instead of just "nan"
  kinks     Kink(at(*inputs) -> bool, convention, inputs): where the op is not differentiable in
            the given input slots and which value the partials give there; the formulas
            implement it, this names it. pow has two: one in its base, one in its exponent.
            An array op's at(xp, out, *inputs, **attributes) marks the entries of its first
            input at the kink (amax: the ties), or is one truth value for the whole (norm at 0)
  gate      the gate pattern a trace mentions (CS231n: add distributes, mul swaps, max routes)
  shape     shape(*input_shapes, **attributes) -> output shape, for array ops (matmul, sum, ...);
            None: elementwise, the inputs broadcast as NumPy's do
  vjp       array ops only: one rule per input, vjp(xp, g, out, *inputs, **attributes) -> the
            contribution to that input (g is the upstream gradient, in the output's shape);
            elementwise ops have none: their contribution is g × partial, summed back to the
            input's shape (a broadcast forward is a sum backward); a variadic op (stack) gives
            one rule vjp(xp, i, g, out, *inputs) instead
  keywords  the keyword arguments a call takes, with their defaults ({"axis": None})

Conventions at non-differentiable points (also in the README): relu'(0) = 0, abs'(0) = 0,
max/min ties split the gradient evenly among the tied inputs (and max(X)/min(X) among the tied
entries), sqrt'(0) = +inf, norm'(0) = 0, and ∂(a^b)/∂b is 0 at a = 0 and nan (undefined) for a < 0.
"""

from __future__ import annotations

import functools
from typing import Callable

from . import array_rules, shapes
from .formatting import format_value


class Infix:
    """A binary operator written between its operands."""

    __slots__ = ("symbols", "left_bp", "right_bp")

    def __init__(self, symbols: tuple[str, ...], left_bp: int, right_bp: int):
        self.symbols, self.left_bp, self.right_bp = symbols, left_bp, right_bp


class Prefix:
    """A unary operator written before its operand."""

    __slots__ = ("symbol", "right_bp")

    def __init__(self, symbol: str, right_bp: int):
        self.symbol, self.right_bp = symbol, right_bp


class Postfix:
    """An operator written after its operand: `A.T`."""

    __slots__ = ("symbol",)

    def __init__(self, symbol: str):
        self.symbol = symbol


class Call:
    """A function call `name(a, b, ...)`."""

    __slots__ = ("names",)

    def __init__(self, names: tuple[str, ...]):
        self.names = names


class Kink:
    """Where an op is not differentiable, and the convention its partials follow there.

    `inputs`: the input slots whose partials the kink is about (None: all of them). atan2's
    jump across the negative x-axis is a jump in y: with y a constant there is nothing to say.
    """

    __slots__ = ("at", "convention", "inputs")

    def __init__(self, at: Callable[..., bool], convention: str, inputs: tuple[int, ...] | None = None):
        self.at, self.convention, self.inputs = at, convention, inputs

    def concerns(self, slots) -> bool:
        """Whether a partial with respect to one of these input slots is at stake."""
        return self.inputs is None or any(slot in self.inputs for slot in slots)


class Op:
    """One operation of the table (fields described at the top of this module).

    A plain slotted class rather than a dataclass: this module is on every start-up path.
    """

    __slots__ = ("name", "arity", "syntax", "forward", "partials", "show", "sympy", "domain", "kinks", "gate",
                 "shape", "vjp", "keywords")

    def __init__(
        self,
        name: str,
        arity: int | None,
        syntax: tuple[Infix | Prefix | Postfix | Call, ...],
        forward: Callable,
        partials: tuple[Callable, ...],
        show: tuple[str, ...],
        sympy: Callable | None,
        domain: Callable[..., str | None] | None = None,
        kinks: tuple[Kink, ...] = (),
        gate: str | None = None,
        shape: Callable | None = None,
        vjp: tuple[Callable, ...] | None = None,
        keywords: dict[str, object] | None = None,
    ):
        self.name, self.arity, self.syntax = name, arity, syntax
        self.forward, self.partials, self.show, self.sympy = forward, partials, show, sympy
        self.domain, self.kinks, self.gate = domain, kinks, gate
        self.shape, self.vjp, self.keywords = shape, vjp, keywords

    def __repr__(self) -> str:
        return f"Op({self.name!r})"

    @property
    def symbol(self) -> str:
        """The text the user typed for this op: '+', '-', 'sin', ..."""
        if not self.syntax:
            return self.name
        syntax = self.syntax[0]
        if isinstance(syntax, Infix):
            return syntax.symbols[0]
        if isinstance(syntax, (Prefix, Postfix)):
            return syntax.symbol
        return syntax.names[0]

    @property
    def elementwise(self) -> bool:
        """Whether the op applies to each element (its partials are per element): no VJP rule."""
        return self.vjp is None

    def local(self, xp, i: int, out, inputs):
        """∂out/∂inputs[i] at this point."""
        if self.arity is None:
            return self.partials[0](xp, i, out, *inputs)
        return self.partials[i](xp, out, *inputs)

    def kink_at(self, arguments, slots=None) -> Kink | None:
        """The kink these arguments are at, for the partials with respect to `slots` (default:
        any); None where those partials exist."""
        for kink in self.kinks:
            if (slots is None or kink.concerns(slots)) and kink.at(*arguments):
                return kink
        return None

    def shown(self, i: int) -> str:
        """The formula of ∂out/∂inputs[i], for the trace."""
        return self.show[0 if self.arity is None else i]


# ----- helpers for rules longer than one line -----


def _sigmoid(xp, a):
    # exp of -|a| never overflows; both branches are then safe to evaluate eagerly.
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _sigmoid_slope(xp, out, a):
    # (½·sech(a/2))², as σ(a)·(1 - σ(a)) is, but that form cancels where σ(a) rounds to 1 (it
    # gives 0 at a = 40, where the slope is 4.2e-18). A product, not ** 2: NumPy squares exactly.
    half_sech = xp.divide(0.5, xp.cosh(0.5 * a))
    return half_sech * half_sech


def _tanh_slope(xp, out, a):
    # sech²(a), as 1 - tanh(a)² is, but that form gives 0 wherever tanh(a) rounds to ±1 (a = 20).
    sech = xp.divide(1.0, xp.cosh(a))
    return sech * sech


def _softplus(xp, a):
    return xp.log1p(xp.exp(-xp.abs(a))) + xp.where(a > 0, a, 0.0)


def _pow_base_partial(xp, out, a, b):
    # b·a^(b-1); a^0 is constant, so its partial is 0 even at a = 0 (where 0·inf would be nan).
    return xp.where(b == 0, 0.0, b * xp.pow(a, b - 1.0))


def _pow_exponent_partial(xp, out, a, b):
    # a^b·ln a; at a = 0 the function is 0 for every b > 0, so the partial is 0; a < 0 has none.
    return xp.where(a > 0, out * xp.log(xp.where(a > 0, a, 1.0)), xp.where(a == 0, 0.0, xp.nan))


def _extreme_partial(xp, i, out, *inputs):
    # Ties share the gradient evenly (½ each for two), as PyTorch's maximum and tinygrad's MAX.
    ties = sum(xp.where(a == out, 1.0, 0.0) for a in inputs)
    return xp.where(inputs[i] == out, 1.0 / ties, 0.0)


def _is_integer(b: float) -> bool:
    return b == int(b)


def _pow_domain(a, b):
    if a < 0 and not _is_integer(b):
        return f"a negative number to a non-integer power is not real (({format_value(a)})^{format_value(b)})"
    if a == 0 and b < 0:
        return f"zero to a negative power divides by zero (0^{format_value(b)})"
    return None


def _log_domain(a):
    if a == 0:
        return "the logarithm of 0 is -infinity"
    if a < 0:
        return f"the logarithm of a negative number ({format_value(a)}) is not real"
    return None


def _log_base_domain(a, b):
    if b <= 0 or b == 1:
        return f"a logarithm's base must be positive and not 1 (base {format_value(b)})"
    return _log_domain(a)


def _unit_interval_domain(name):
    def domain(a):
        return None if -1 <= a <= 1 else f"{name} needs an argument in [-1, 1], got {format_value(a)}"

    return domain


def _is_max_tie(*inputs) -> bool:
    return inputs.count(max(inputs)) > 1


def _is_min_tie(*inputs) -> bool:
    return inputs.count(min(inputs)) > 1


def _reduce(combine):
    return lambda xp, *inputs: functools.reduce(getattr(xp, combine), inputs)


# ----- the table -----
# Binding powers, loosest first: + - (5, 6); * / (7, 8); unary - (9); ^ ** (12, 11).
# Unary minus is looser than ^ on its right, so -x^2 is -(x^2), and 2^-1 still parses.

ADD_BP, MUL_BP, NEG_BP, POW_BP = (5, 6), (7, 8), 9, (12, 11)

_TIE = "the gradient is split evenly among the tied inputs (½ each for two)"
_TIED_ENTRIES = "the gradient is split evenly among the tied entries (½ each for two)"
_ATAN2_CUT = ("atan2(y, x) jumps by 2π across y = 0 for x < 0: the partials there are those of either side "
              "(they agree); at (0, 0) they are nan")

OPERATIONS = (
    # ----- arithmetic -----
    Op("add", 2, (Infix(("+",), *ADD_BP),),
       forward=lambda xp, a, b: a + b,
       partials=(lambda xp, out, a, b: 1.0, lambda xp, out, a, b: 1.0),
       show=("1", "1"),
       sympy=lambda sp, a, b: a + b,
       gate="add gate: distributes the gradient unchanged to every input"),
    Op("sub", 2, (Infix(("-",), *ADD_BP),),
       forward=lambda xp, a, b: a - b,
       partials=(lambda xp, out, a, b: 1.0, lambda xp, out, a, b: -1.0),
       show=("1", "-1"),
       sympy=lambda sp, a, b: a - b),
    Op("mul", 2, (Infix(("*",), *MUL_BP),),
       forward=lambda xp, a, b: a * b,
       partials=(lambda xp, out, a, b: b, lambda xp, out, a, b: a),
       show=("b", "a"),  # the gate line says why: mul swaps its inputs
       sympy=lambda sp, a, b: a * b,
       gate="mul gate: swaps the inputs, each gets upstream × the other"),
    Op("div", 2, (Infix(("/",), *MUL_BP),),
       forward=lambda xp, a, b: xp.divide(a, b),
       partials=(lambda xp, out, a, b: xp.divide(1.0, b), lambda xp, out, a, b: -xp.divide(out, b)),
       show=("1/b", "-a/b²"),
       sympy=lambda sp, a, b: a / b,
       domain=lambda a, b: f"division by zero ({format_value(a)} / 0)" if b == 0 else None),
    Op("neg", 1, (Prefix("-", NEG_BP),),
       forward=lambda xp, a: -a,
       partials=(lambda xp, out, a: -1.0,),
       show=("-1",),
       sympy=lambda sp, a: -a),
    # ----- powers and logarithms -----
    Op("pow", 2, (Infix(("^", "**"), *POW_BP), Call(("pow",))),
       forward=lambda xp, a, b: xp.pow(a, b),
       partials=(_pow_base_partial, _pow_exponent_partial),
       show=("b·a^(b-1)", "a^b·ln a"),
       sympy=lambda sp, a, b: a**b,
       domain=_pow_domain,
       kinks=(Kink(lambda a, b: a == 0 and 0 < b < 1, "a^b at a = 0, 0 < b < 1: ∂/∂a = +inf (one-sided)",
                   inputs=(0,)),
              Kink(lambda a, b: a == 0 and b == 0, "0^b at b = 0: ∂/∂b = 0 (0^b is 0 for b > 0, but 0^0 = 1)",
                   inputs=(1,)))),
    Op("exp", 1, (Call(("exp",)),),
       forward=lambda xp, a: xp.exp(a),
       partials=(lambda xp, out, a: out,),
       show=("exp(a)",),
       sympy=lambda sp, a: sp.exp(a)),
    Op("log", 1, (Call(("log", "ln")),),
       forward=lambda xp, a: xp.log(a),
       partials=(lambda xp, out, a: xp.divide(1.0, a),),
       show=("1/a",),
       sympy=lambda sp, a: sp.log(a),
       domain=_log_domain),
    Op("logb", 2, (Call(("log",)),),
       # log(0) is -inf, and log(a)/-inf a quiet ±0: a base of 0 must give nan (no value) instead.
       forward=lambda xp, a, b: xp.where(b > 0, xp.divide(xp.log(a), xp.log(b)), xp.nan),
       partials=(lambda xp, out, a, b: xp.divide(1.0, a * xp.log(b)),
                 lambda xp, out, a, b: -xp.divide(out, b * xp.log(b))),
       show=("1/(a·ln b)", "-log(a, b)/(b·ln b)"),
       sympy=lambda sp, a, b: sp.log(a) / sp.log(b),
       domain=_log_base_domain),
    Op("log2", 1, (Call(("log2",)),),
       forward=lambda xp, a: xp.log2(a),
       partials=(lambda xp, out, a: xp.divide(1.0, a * 0.6931471805599453),),
       show=("1/(a·ln 2)",),
       sympy=lambda sp, a: sp.log(a) / sp.log(2),
       domain=_log_domain),
    Op("log10", 1, (Call(("log10",)),),
       forward=lambda xp, a: xp.log10(a),
       partials=(lambda xp, out, a: xp.divide(1.0, a * 2.302585092994046),),
       show=("1/(a·ln 10)",),
       sympy=lambda sp, a: sp.log(a) / sp.log(10),
       domain=_log_domain),
    Op("sqrt", 1, (Call(("sqrt",)),),
       forward=lambda xp, a: xp.sqrt(a),
       partials=(lambda xp, out, a: xp.divide(0.5, xp.abs(out)),),  # sqrt(-0.0) is -0.0: still +inf
       show=("1/(2·sqrt(a))",),
       sympy=lambda sp, a: sp.sqrt(a),
       domain=lambda a: f"square root of a negative number ({format_value(a)})" if a < 0 else None,
       kinks=(Kink(lambda a: a == 0, "sqrt'(0) = +inf (the one-sided derivative)"),)),
    # ----- trigonometry -----
    Op("sin", 1, (Call(("sin",)),),
       forward=lambda xp, a: xp.sin(a),
       partials=(lambda xp, out, a: xp.cos(a),),
       show=("cos(a)",),
       sympy=lambda sp, a: sp.sin(a)),
    Op("cos", 1, (Call(("cos",)),),
       forward=lambda xp, a: xp.cos(a),
       partials=(lambda xp, out, a: -xp.sin(a),),
       show=("-sin(a)",),
       sympy=lambda sp, a: sp.cos(a)),
    Op("tan", 1, (Call(("tan",)),),
       forward=lambda xp, a: xp.tan(a),
       partials=(lambda xp, out, a: 1.0 + out * out,),
       show=("1 + tan(a)²",),
       sympy=lambda sp, a: sp.tan(a)),
    Op("asin", 1, (Call(("asin",)),),
       forward=lambda xp, a: xp.asin(a),
       partials=(lambda xp, out, a: xp.divide(1.0, xp.sqrt((1.0 - a) * (1.0 + a))),),  # no cancellation near ±1
       show=("1/sqrt(1 - a²)",),
       sympy=lambda sp, a: sp.asin(a),
       domain=_unit_interval_domain("asin")),
    Op("acos", 1, (Call(("acos",)),),
       forward=lambda xp, a: xp.acos(a),
       partials=(lambda xp, out, a: -xp.divide(1.0, xp.sqrt((1.0 - a) * (1.0 + a))),),
       show=("-1/sqrt(1 - a²)",),
       sympy=lambda sp, a: sp.acos(a),
       domain=_unit_interval_domain("acos")),
    Op("atan", 1, (Call(("atan",)),),
       forward=lambda xp, a: xp.atan(a),
       partials=(lambda xp, out, a: 1.0 / (1.0 + a * a),),
       show=("1/(1 + a²)",),
       sympy=lambda sp, a: sp.atan(a)),
    Op("atan2", 2, (Call(("atan2",)),),
       forward=lambda xp, a, b: xp.atan2(a, b),
       # (b/h)/h with h = hypot(a, b): a² + b² would overflow or underflow far sooner
       partials=(lambda xp, out, a, b: xp.divide(xp.divide(b, xp.hypot(a, b)), xp.hypot(a, b)),
                 lambda xp, out, a, b: xp.divide(xp.divide(-a, xp.hypot(a, b)), xp.hypot(a, b))),
       show=("b/(a² + b²)", "-a/(a² + b²)"),
       sympy=lambda sp, a, b: sp.atan2(a, b),
       kinks=(Kink(lambda a, b: a == 0 and b <= 0, _ATAN2_CUT, inputs=(0,)),)),  # at (0, 0) ∂/∂x is nan: noted as such
    Op("sinh", 1, (Call(("sinh",)),),
       forward=lambda xp, a: xp.sinh(a),
       partials=(lambda xp, out, a: xp.cosh(a),),
       show=("cosh(a)",),
       sympy=lambda sp, a: sp.sinh(a)),
    Op("cosh", 1, (Call(("cosh",)),),
       forward=lambda xp, a: xp.cosh(a),
       partials=(lambda xp, out, a: xp.sinh(a),),
       show=("sinh(a)",),
       sympy=lambda sp, a: sp.cosh(a)),
    Op("tanh", 1, (Call(("tanh",)),),
       forward=lambda xp, a: xp.tanh(a),
       partials=(_tanh_slope,),
       show=("1 - tanh(a)²",),
       sympy=lambda sp, a: sp.tanh(a)),
    # ----- activations -----
    Op("sigmoid", 1, (Call(("sigmoid",)),),
       forward=_sigmoid,
       partials=(_sigmoid_slope,),
       show=("σ(a)·(1 - σ(a))",),
       sympy=lambda sp, a: 1 / (1 + sp.exp(-a))),
    Op("relu", 1, (Call(("relu",)),),
       forward=lambda xp, a: xp.where(a > 0, a, 0.0),
       partials=(lambda xp, out, a: xp.where(a > 0, 1.0, 0.0),),
       show=("1 if a > 0 else 0",),
       sympy=lambda sp, a: sp.Max(a, 0),
       kinks=(Kink(lambda a: a == 0, "relu'(0) = 0 (as PyTorch and micrograd)"),),
       gate="relu gate: passes the gradient where its input is positive, blocks it elsewhere"),
    Op("softplus", 1, (Call(("softplus",)),),
       forward=_softplus,
       partials=(lambda xp, out, a: _sigmoid(xp, a),),
       show=("σ(a)",),
       sympy=lambda sp, a: sp.log(1 + sp.exp(a))),
    # ----- non-smooth -----
    Op("abs", 1, (Call(("abs",)),),
       forward=lambda xp, a: xp.abs(a),
       partials=(lambda xp, out, a: xp.sign(a),),
       show=("sign(a)",),
       sympy=lambda sp, a: sp.Abs(a),
       kinks=(Kink(lambda a: a == 0, "abs'(0) = 0 (as PyTorch)"),)),
    Op("max", None, (Call(("max",)),),
       forward=_reduce("maximum"),
       partials=(_extreme_partial,),
       show=("1 if a is the largest else 0",),
       sympy=lambda sp, *inputs: sp.Max(*inputs),
       kinks=(Kink(_is_max_tie, _TIE),),
       gate="max gate: routes the gradient to the largest input"),
    Op("min", None, (Call(("min",)),),
       forward=_reduce("minimum"),
       partials=(_extreme_partial,),
       show=("1 if a is the smallest else 0",),
       sympy=lambda sp, *inputs: sp.Min(*inputs),
       kinks=(Kink(_is_min_tie, _TIE),),
       gate="min gate: routes the gradient to the smallest input"),
    # ----- vectors and matrices: array ops, each with a shape rule and one VJP per input -----
    Op("matmul", 2, (Infix(("@",), *MUL_BP), Call(("dot",))),  # dot agrees with matmul on vectors and matrices
       forward=array_rules.matmul,
       partials=(),
       show=("δ bᵀ", "aᵀ δ"),
       sympy=lambda sp, a, b: a @ b,
       shape=shapes.matmul_shape,
       vjp=(array_rules.matmul_vjp_left, array_rules.matmul_vjp_right)),
    Op("sum", 1, (Call(("sum",)),),
       forward=array_rules.total,
       partials=(),
       show=("δ, broadcast to a's shape",),
       sympy=lambda sp, a, axis=None: a.sum(axis=axis),
       shape=shapes.reduction("sum"),
       vjp=(array_rules.total_vjp,),
       keywords={"axis": None}),
    Op("mean", 1, (Call(("mean",)),),
       forward=array_rules.mean,
       partials=(),
       show=("δ/n, broadcast to a's shape",),
       sympy=lambda sp, a, axis=None: a.mean(axis=axis),
       shape=shapes.reduction("mean"),
       vjp=(array_rules.mean_vjp,),
       keywords={"axis": None}),
    Op("softmax", 1, (Call(("softmax",)),),
       forward=array_rules.softmax,
       partials=(),
       show=("out ⊙ (δ - Σ δ⊙out)",),
       sympy=array_rules.softmax_symbolic,
       shape=shapes.along_axis("softmax"),
       vjp=(array_rules.softmax_vjp,),
       keywords={"axis": -1}),
    Op("log_softmax", 1, (Call(("log_softmax",)),),
       forward=array_rules.log_softmax,
       partials=(),
       show=("δ - exp(out) Σ δ",),
       sympy=array_rules.log_softmax_symbolic,
       shape=shapes.along_axis("log_softmax"),
       vjp=(array_rules.log_softmax_vjp,),
       keywords={"axis": -1}),
    Op("logsumexp", 1, (Call(("logsumexp",)),),
       forward=array_rules.logsumexp,
       partials=(),
       show=("δ softmax(a)",),
       sympy=array_rules.logsumexp_symbolic,
       shape=shapes.across_axis("logsumexp"),
       vjp=(array_rules.logsumexp_vjp,),
       keywords={"axis": -1}),
    Op("amax", 1, (Call(("max",)),),  # max(X) of one argument; max(a, b, ...) is the elementwise max above
       forward=array_rules.largest,
       partials=(),
       show=("δ to the largest entries, split among ties",),
       sympy=array_rules.extreme_symbolic("Max"),
       kinks=(Kink(array_rules.extreme_ties, _TIED_ENTRIES),),
       shape=shapes.extreme("max"),
       vjp=(array_rules.extreme_vjp,),
       keywords={"axis": None}),
    Op("amin", 1, (Call(("min",)),),
       forward=array_rules.smallest,
       partials=(),
       show=("δ to the smallest entries, split among ties",),
       sympy=array_rules.extreme_symbolic("Min"),
       kinks=(Kink(array_rules.extreme_ties, _TIED_ENTRIES),),
       shape=shapes.extreme("min"),
       vjp=(array_rules.extreme_vjp,),
       keywords={"axis": None}),
    Op("outer", 2, (Call(("outer",)),),
       forward=array_rules.outer,
       partials=(),
       show=("δ b", "aᵀ δ"),
       sympy=array_rules.outer_symbolic,
       shape=shapes.outer_shape,
       vjp=(array_rules.outer_vjp_left, array_rules.outer_vjp_right)),
    Op("norm", 1, (Call(("norm",)),),
       forward=array_rules.norm,
       partials=(),
       show=("δ a/‖a‖",),
       sympy=array_rules.norm_symbolic,
       kinks=(Kink(array_rules.norm_at_zero, "norm'(0) = 0: the gradient at the zero vector is 0 (as PyTorch)"),),
       shape=shapes.norm_shape,
       vjp=(array_rules.norm_vjp,)),
    Op("transpose", 1, (Call(("transpose",)), Postfix(".T")),
       forward=array_rules.transpose,
       partials=(),
       show=("δᵀ",),
       sympy=lambda sp, a: a.T,
       shape=shapes.transpose_shape,
       vjp=(array_rules.transpose_vjp,)),
    # The parser makes these two from `z[1]` and `[a, b, c]`: no syntax of their own in the table.
    Op("index", 1, (),
       forward=array_rules.entry,
       partials=(),
       show=("δ at the index, 0 elsewhere",),
       sympy=lambda sp, a, index: a[index],
       shape=shapes.index_shape,
       vjp=(array_rules.entry_vjp,)),
    Op("stack", None, (),
       forward=array_rules.stack,
       partials=(),
       show=("row i of δ",),
       sympy=array_rules.stack_symbolic,
       shape=shapes.stack_shape,
       vjp=(array_rules.stack_vjp,)),
    # ----- naming -----
    Op("copy", 1, (),  # `q = x` gives the name q a node of its own
       forward=lambda xp, a: a,
       partials=(lambda xp, out, a: 1.0,),
       show=("1",),
       sympy=lambda sp, a: a),
)

OPS: dict[str, Op] = {op.name: op for op in OPERATIONS}
assert len(OPS) == len(OPERATIONS), "op names must be unique"
assert all(op.arity is None or len(op.partials) == op.arity for op in OPERATIONS if op.elementwise), \
    "one partial per input"
ELEMENTWISE = tuple(op for op in OPERATIONS if op.elementwise)  # the ops with scalar semantics

# Leaves of the graph: they have no rule and are given their value, not computed.
VARIABLE = "var"
CONSTANT = "const"
CONSTANTS = {"pi": 3.141592653589793, "e": 2.718281828459045}

# The parser's lookups, derived from the table: adding a function is one entry above.
INFIX: dict[str, tuple[Op, Infix]] = {}
PREFIX: dict[str, tuple[Op, Prefix]] = {}
POSTFIX: dict[str, Op] = {}
FUNCTIONS: dict[str, dict[int | None, Op]] = {}
for _op in OPERATIONS:
    for _syntax in _op.syntax:
        if isinstance(_syntax, Infix):
            INFIX.update((symbol, (_op, _syntax)) for symbol in _syntax.symbols)
        elif isinstance(_syntax, Prefix):
            PREFIX[_syntax.symbol] = (_op, _syntax)
        elif isinstance(_syntax, Postfix):
            POSTFIX[_syntax.symbol] = _op
        else:
            for _name in _syntax.names:
                FUNCTIONS.setdefault(_name, {})[_op.arity] = _op
del _op, _syntax, _name


def arity_text(name: str) -> str:
    """'1 argument', '1 or 2 arguments', '2 or more arguments' for a function name; for one that
    also takes any number (max, min) '1 argument, or 2 or more'."""
    counts = FUNCTIONS[name]
    fixed = " or ".join(str(n) for n in sorted(n for n in counts if n is not None))
    text = f"{fixed} {'argument' if fixed == '1' else 'arguments'}"
    if None not in counts:
        return text
    return f"{text}, or 2 or more" if fixed else "2 or more arguments"
