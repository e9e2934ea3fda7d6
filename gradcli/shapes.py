"""Shapes of values, and the rules that give an op's output shape from its inputs' shapes.

A shape is a tuple of sizes, as NumPy's: () a scalar, (3,) a vector, (2, 3) a matrix. Pure
Python without NumPy: the op table imports this module on every start-up, and shapes are
inferred before any number is computed, so a mismatch is reported before any work is done.
The rules raise ShapeMismatch with the message alone; the engine adds where in the program.
"""

from __future__ import annotations

Shape = tuple[int, ...]


class ShapeMismatch(Exception):
    """Operands whose shapes do not fit an op; the message names both shapes in words."""

    def text(self, operand: str) -> str:
        """The message. `operand` is how the program writes the op's first input (`z`), for the
        rules whose message names an element of it."""
        return str(self)


class OutsideValue(ShapeMismatch):
    """An index the value does not have. The message names the element as the program writes it
    (`z[3]`), which only the engine can spell: the rule sees shapes, not names."""

    def __init__(self, template: str, index: tuple[int, ...], **fields):
        super().__init__(template)
        self.index, self.fields = index, fields

    def text(self, operand: str) -> str:
        return self.args[0].format(element=element_text(operand, self.index), **self.fields)


def shape_words(shape: Shape) -> str:
    """'a scalar', 'a vector of 3', 'a 2×3 matrix', 'an array of shape 2×3×4'."""
    if not shape:
        return "a scalar"
    if len(shape) == 1:
        return f"a vector of {shape[0]}"
    if len(shape) == 2:
        return f"a {shape_text(shape)} matrix"
    return f"an array of shape {shape_text(shape)}"


def shape_text(shape: Shape) -> str:
    """'scalar', '3', '2×3': a shape as a table column shows it."""
    return "×".join(map(str, shape)) if shape else "scalar"


def element_text(label: str, index: tuple[int, ...]) -> str:
    """'z[1]', 'W[1, 0]': one element of a value, 0-based as NumPy counts (a scalar: its label)."""
    return f"{label}[{', '.join(map(str, index))}]" if index else label


# The error of each elementwise op whose inputs do not broadcast: "cannot add a vector of 3 and a vector of 2: ...".
_MISMATCHES = {
    "add": "cannot add {a} and {b}: sizes {m} and {n} differ",
    "sub": "cannot subtract {b} from {a}: sizes {m} and {n} differ",
    "mul": "cannot multiply {a} and {b} elementwise: sizes {m} and {n} differ",
    "div": "cannot divide {a} by {b} elementwise: sizes {m} and {n} differ",
    "pow": "cannot raise {a} to the power {b} elementwise: sizes {m} and {n} differ",
}
_GENERIC_MISMATCH = "cannot combine {a} and {b} in {op}: sizes {m} and {n} differ"
_FROM_THE_RIGHT = " (NumPy lines shapes up from the last axis)"


def broadcast_shape(op_name: str, op_symbol: str, *shapes: Shape) -> Shape:
    """The shape elementwise inputs broadcast to (NumPy's rule), else ShapeMismatch naming two of them."""
    first = shapes[0]
    if all(shape == first for shape in shapes):  # the common case
        return first
    width = max(map(len, shapes))
    sizes = [1] * width
    for i, shape in enumerate(shapes):
        for k, n in enumerate(shape, width - len(shape)):
            if n != 1 and sizes[k] != n:
                if sizes[k] != 1:
                    raise _mismatch(op_name, op_symbol, shapes[:i], shape, k - width, sizes[k])
                sizes[k] = n
    return tuple(sizes)


def _mismatch(op_name: str, op_symbol: str, earlier: tuple[Shape, ...], shape: Shape, axis: int,
              size: int) -> ShapeMismatch:
    """The error for `shape`, whose size at `axis` (counted from the end) differs from `size`, an
    earlier input's size there."""
    other = next(s for s in earlier if len(s) >= -axis and s[axis] == size)
    message = _MISMATCHES.get(op_name, _GENERIC_MISMATCH).format(
        a=shape_words(other), b=shape_words(shape), op=op_symbol, m=size, n=shape[axis])
    return ShapeMismatch(message + (_FROM_THE_RIGHT if max(len(other), len(shape)) >= 2 else ""))


def normal_axis(axis: int, shape: Shape, op_symbol: str) -> int:
    """The axis counted from 0 (-1 is the last); ShapeMismatch if the shape has no such axis."""
    ndim = len(shape)
    if not -ndim <= axis < ndim:
        if not ndim:
            raise ShapeMismatch(f"{op_symbol}(..., axis={axis}): a scalar has no axes")
        raise ShapeMismatch(f"{op_symbol}(..., axis={axis}): {shape_words(shape)} has axes 0 to {ndim - 1} "
                            f"(or -1 to -{ndim} from the end)")
    return axis % ndim


def matmul_shape(a: Shape, b: Shape) -> Shape:
    """NumPy's matmul for vectors and matrices: (n)(n) → (), (m,n)(n) → (m), (n)(n,p) → (p), (m,n)(n,p) → (m,p)."""
    if not a or not b:
        raise ShapeMismatch(f"cannot multiply {shape_words(a)} by {shape_words(b)} with @: "
                            f"@ takes vectors and matrices; for a scalar factor, use *")
    if len(a) > 2 or len(b) > 2:
        raise ShapeMismatch(f"cannot multiply {shape_words(a)} by {shape_words(b)} with @: "
                            f"@ takes vectors and matrices, not arrays of more than 2 axes")
    if a[-1] != b[0]:
        raise ShapeMismatch(f"cannot multiply {shape_words(a)} by {shape_words(b)}: "
                            f"inner sizes {a[-1]} and {b[0]} differ")
    return a[:-1] + b[1:]


def reduction(op_symbol: str):
    """The shape rule of a reduction (sum, mean): the axis dropped, or every axis (axis None) → ()."""

    def rule(a: Shape, axis: int | None = None) -> Shape:
        if axis is None:
            return ()
        axis = normal_axis(axis, a, op_symbol)
        return a[:axis] + a[axis + 1:]

    return rule


def along_axis(op_symbol: str):
    """The shape rule of an op that normalises along one axis (softmax, log_softmax): the same shape."""

    def rule(a: Shape, axis: int = -1) -> Shape:
        _needs_an_axis(a, op_symbol)
        normal_axis(axis, a, op_symbol)
        return a

    return rule


def across_axis(op_symbol: str):
    """The shape rule of a reduction over one axis by default the last (logsumexp): that axis dropped."""

    def rule(a: Shape, axis: int = -1) -> Shape:
        _needs_an_axis(a, op_symbol)
        axis = normal_axis(axis, a, op_symbol)
        return a[:axis] + a[axis + 1:]

    return rule


def _needs_an_axis(a: Shape, op_symbol: str) -> None:
    if not a:
        raise ShapeMismatch(f"{op_symbol} needs a vector or a matrix, not a scalar (it works along an axis)")


def extreme(op_symbol: str):
    """The shape rule of max(X) and min(X) of one argument: a reduction (sum's rule), but not of
    a scalar. `max(x)` of a number is almost always a forgotten second argument, as in max(x, 0)."""
    reduce = reduction(op_symbol)

    def rule(a: Shape, axis: int | None = None) -> Shape:
        if not a and axis is None:
            raise ShapeMismatch(f"{op_symbol}() of one argument reduces a vector or a matrix, but its argument "
                                f"is a scalar; to compare numbers, give two or more arguments: {op_symbol}(a, b)")
        return reduce(a, axis)

    return rule


def outer_shape(a: Shape, b: Shape) -> Shape:
    """outer(u, v) of two vectors: (m), (n) → (m, n)."""
    if len(a) != 1 or len(b) != 1:
        raise ShapeMismatch(f"outer takes two vectors, not {shape_words(a)} and {shape_words(b)}")
    return a + b


def norm_shape(a: Shape) -> Shape:
    """norm(X), Euclidean for a vector, Frobenius for a matrix (of a scalar: its absolute value): a number."""
    return ()


def transpose_shape(a: Shape) -> Shape:
    """A.T: the axes reversed, as NumPy's transpose (a vector's transpose is itself)."""
    return a[::-1]


def stack_shape(*shapes: Shape) -> Shape:
    """A list [a, b, c] of values of one shape s: (k, *s). A list of numbers is a vector, a list
    of vectors a matrix (each element one row)."""
    first = shapes[0]
    for k, shape in enumerate(shapes):
        if shape != first:
            raise ShapeMismatch(f"element {k} of the list is {shape_words(shape)}, but element 0 is "
                                f"{shape_words(first)}: a list's elements must all have the same shape")
    return (len(shapes), *first)


def index_shape(a: Shape, index: tuple[int, ...]) -> Shape:
    """z[2], X[1, 0], X[-1]: one integer per leading axis, each in [-n, n); what remains is
    the shape of the axes not indexed (X[1] of a 2×3 matrix is a vector of 3)."""
    if len(index) > len(a):
        if not a:
            raise OutsideValue("{element}: a scalar has no elements to index", index)
        axes = "1 axis" if len(a) == 1 else f"{len(a)} axes"
        raise OutsideValue("{element} has {count} indices, but {shape} has {axes}", index,
                           count=len(index), shape=shape_words(a), axes=axes)
    for axis, (k, n) in enumerate(zip(index, a)):
        if not -n <= k < n:
            if len(a) == 1:
                template = ("{element} is outside {shape} (from the end, indices are -1 to -{size})" if k < 0 else
                            "{element} is outside {shape} (indices are 0-based: 0 to {last})")
            else:
                template = ("{element} is outside {shape} (from the end, indices on axis {axis} are -1 to -{size})"
                            if k < 0 else "{element} is outside {shape} (indices on axis {axis} are 0-based: 0 to {last})")
            raise OutsideValue(template, index, shape=shape_words(a), axis=axis, last=n - 1, size=n)
    return a[len(index):]
