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
