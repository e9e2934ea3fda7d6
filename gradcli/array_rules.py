"""Forward rules and vector-Jacobian products of the array ops that take more than a line.

As everywhere in the op table, each rule takes the array namespace `xp` (NumPy on the array
path), so this module imports no NumPy and costs a scalar start-up nothing. A VJP rule is
vjp(xp, g, out, *inputs, **attributes): g is the upstream gradient (the output's shape), and the
result is the contribution to one input, in that input's shape. No Jacobian is ever built.
The softmax family shifts by the maximum first, so exp never overflows: at z = [1000, 0, -1000]
every value and every gradient is finite.
"""

from __future__ import annotations


# ----- a @ b, for vectors and matrices (the four cases of shapes.matmul_shape) -----


def matmul(xp, a, b):
    return xp.matmul(a, b)


def matmul_vjp_left(xp, g, out, a, b):
    """∂/∂a: δ bᵀ. Two vectors: δ·b (δ is a number); a matrix times a vector: the outer product δ bᵀ."""
    if b.ndim == 1:
        return g * b if a.ndim == 1 else xp.outer(g, b)
    return xp.matmul(g, b.T)


def matmul_vjp_right(xp, g, out, a, b):
    """∂/∂b: aᵀ δ. Two vectors: δ·a; a vector times a matrix: the outer product a δᵀ."""
    if a.ndim == 1:
        return g * a if b.ndim == 1 else xp.outer(a, g)
    return xp.matmul(a.T, g)


# ----- reductions: sum, mean (axis None: over every axis) -----


def total(xp, a, axis=None):
    return xp.sum(a, axis=axis)


def total_vjp(xp, g, out, a, axis=None):
    """Each element of a counts once in the sum: δ, copied back along the summed axes."""
    return _spread(xp, g, a, axis)


def mean(xp, a, axis=None):
    return xp.mean(a, axis=axis)


def mean_vjp(xp, g, out, a, axis=None):
    count = xp.size(a) if axis is None else xp.shape(a)[axis]
    return _spread(xp, g / count, a, axis)


def largest(xp, a, axis=None):
    return xp.max(a, axis=axis)


def smallest(xp, a, axis=None):
    return xp.min(a, axis=axis)


def extreme_vjp(xp, g, out, a, axis=None):
    """δ goes to the entries equal to the result, split evenly among ties (autograd's grad_chooser):
    max([1, 1, 0]) passes ½ δ to each 1. The same rule for max and min."""
    chosen, count = _chosen(xp, out, a, axis)
    return _spread(xp, g, a, axis) * chosen / count


def extreme_ties(xp, out, a, axis=None):
    """The entries of a that tie for the result (where max and min are not differentiable)."""
    chosen, count = _chosen(xp, out, a, axis)
    return chosen & (count > 1)


def _chosen(xp, out, a, axis):
    """Which entries of a equal the result along the reduced axes, and how many do in each group."""
    chosen = a == _spread(xp, out, a, axis)
    return chosen, xp.sum(chosen, axis=axis, keepdims=True)


def _spread(xp, g, a, axis):
    """g, reduced over `axis` of a, broadcast back to a's shape (a view: no copy is made)."""
    return xp.broadcast_to(g if axis is None else xp.expand_dims(g, axis), xp.shape(a))


# ----- products, norm, and rearranging: outer(u, v), norm(X), A.T, z[1], [a, b, c] -----


def outer(xp, a, b):
    return xp.outer(a, b)


def outer_vjp_left(xp, g, out, a, b):
    """∂/∂u of u vᵀ: δ v (each row of δ weighted by v)."""
    return xp.matmul(g, b)


def outer_vjp_right(xp, g, out, a, b):
    """∂/∂v of u vᵀ: uᵀ δ."""
    return xp.matmul(a, g)


def norm(xp, a):
    """√(Σ a²), computed as m·√(Σ (a/m)²) with m = max |a|: no square overflows (norm([1e200, 1e200])
    is 1.41e200, not inf) or underflows to 0; 0 for the zero vector."""
    top = xp.max(xp.abs(a))
    if top == 0:
        return 0.0
    scaled = a / top
    return top * xp.sqrt(xp.sum(scaled * scaled))


def norm_vjp(xp, g, out, a):
    """δ a/‖a‖ (a/‖a‖ has entries in [-1, 1], so nothing overflows); at a = 0 the gradient is 0, by
    convention (as PyTorch), where the one-sided derivatives point every way."""
    if out == 0:
        return xp.zeros(xp.shape(a))
    return g * (a / out)


def norm_at_zero(xp, out, a):
    """The kink of the norm: the zero vector (the whole value, not an entry)."""
    return out == 0


def transpose(xp, a):
    return xp.transpose(a)


def transpose_vjp(xp, g, out, a):
    return xp.transpose(g)


def entry(xp, a, index):
    return a[index]


def entry_vjp(xp, g, out, a, index):
    """δ at the indexed place, zeros everywhere else."""
    spread = xp.zeros(xp.shape(a))
    spread[index] = g
    return spread


def stack(xp, *elements):
    return xp.stack(elements)


def stack_vjp(xp, i, g, out, *elements):
    """Element i of a list gets row i of δ (variadic: one rule for every slot)."""
    return g[i]


# ----- the softmax family, along one axis (the last by default) -----


def softmax(xp, a, axis=-1):
    e = xp.exp(a - xp.max(a, axis=axis, keepdims=True))
    return e / xp.sum(e, axis=axis, keepdims=True)


def softmax_vjp(xp, g, out, a, axis=-1):
    """(diag(s) - s sᵀ) δ along the axis, without building the matrix: s ⊙ (δ - Σ δ⊙s)."""
    return out * (g - xp.sum(g * out, axis=axis, keepdims=True))


def log_softmax(xp, a, axis=-1):
    shifted = a - xp.max(a, axis=axis, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


def log_softmax_vjp(xp, g, out, a, axis=-1):
    """δ - softmax(a) Σ δ; softmax(a) is exp(out), exactly 0 where it underflows."""
    return g - xp.exp(out) * xp.sum(g, axis=axis, keepdims=True)


def logsumexp(xp, a, axis=-1):
    top = xp.max(a, axis=axis, keepdims=True)
    return xp.squeeze(top + xp.log(xp.sum(xp.exp(a - top), axis=axis, keepdims=True)), axis=axis)


def logsumexp_vjp(xp, g, out, a, axis=-1):
    """δ softmax(a): the gradient of logsumexp is the softmax, exp(a - out)."""
    return xp.expand_dims(g, axis) * xp.exp(a - xp.expand_dims(out, axis))


# ----- SymPy counterparts, for the checker's componentwise expansion -----
# Each takes NumPy object arrays whose entries are SymPy expressions and returns one (or a single
# expression), using only the arrays' own methods: this module still imports no NumPy. They are
# the mathematical definitions, without the stability shifts of the forward rules above, so that
# SymPy differentiates the function itself and never our arithmetic.


def _each(function, a):
    """function applied to every entry of an object array (exp and log are not array methods)."""
    out = a.copy()
    for k, entry in enumerate(a.flat):
        out.flat[k] = function(entry)
    return out


def softmax_symbolic(sp, a, axis=-1):
    e = _each(sp.exp, a)
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax_symbolic(sp, a, axis=-1):
    return a - _each(sp.log, _each(sp.exp, a).sum(axis=axis, keepdims=True))


def logsumexp_symbolic(sp, a, axis=-1):
    return _each(sp.log, _each(sp.exp, a).sum(axis=axis, keepdims=True)).squeeze(axis=axis)


def extreme_symbolic(function: str):
    """max(X) or min(X) as SymPy's Max or Min of the entries, over every axis or along one."""

    def rule(sp, a, axis=None):
        pick = getattr(sp, function)
        if axis is None:
            return pick(*a.flat)
        axis %= a.ndim
        moved = a.transpose([k for k in range(a.ndim) if k != axis] + [axis])  # the reduced axis last
        out = moved[..., 0].copy()
        for k, row in enumerate(moved.reshape(-1, a.shape[axis])):
            out.flat[k] = pick(*row)
        return out

    return rule


def outer_symbolic(sp, a, b):
    return a.reshape(-1, 1) * b.reshape(1, -1)


def norm_symbolic(sp, a):
    return sp.sqrt(sp.Add(*[entry * entry for entry in a.flat]))  # a 0-d array's product is no array


def stack_symbolic(sp, *elements):
    """[a, b, c]: the elements along a new first axis (each element one row)."""
    first = elements[0]
    out = first.reshape(1, *first.shape).repeat(len(elements), axis=0)
    for k, element in enumerate(elements):
        out[k, ...] = element
    return out
