"""IEEE-754 scalar math with NumPy's names and NumPy's behaviour at the edges.

The op table's rules take an array namespace `xp`; this module is the one for single floats.
Like NumPy (and unlike `math`), nothing here raises: a domain error gives nan, a pole gives
±inf and an overflow gives ±inf. The evaluator then finds the first non-finite value and
reports it with the op's own message, so the scalar and the batch paths share one mechanism.
"""

from __future__ import annotations

import math

inf = math.inf
nan = math.nan
pi = math.pi
e = math.e
isfinite = math.isfinite


def divide(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or a != a:
            return nan
        return math.copysign(inf, a) * math.copysign(1.0, b)


def pow(a: float, b: float) -> float:  # noqa: A001 - NumPy's name
    try:
        return math.pow(a, b)
    except OverflowError:
        odd_integer = b == int(b) and int(b) % 2 == 1
        return -inf if a < 0 and odd_integer else inf
    except ValueError:  # 0 to a negative power is a pole, a negative base a non-real result
        if a == 0:
            odd_integer = b == int(b) and int(b) % 2 == 1
            return math.copysign(inf, a) if odd_integer else inf
        return nan


def exp(a: float) -> float:
    try:
        return math.exp(a)
    except OverflowError:
        return inf


def _logarithm(f):
    """A log that, like NumPy's, gives -inf at 0 and nan below."""

    def log(a: float) -> float:
        if a > 0:
            return f(a)
        return -inf if a == 0 else nan

    log.__name__ = f.__name__
    return log


log = _logarithm(math.log)
log2 = _logarithm(math.log2)
log10 = _logarithm(math.log10)


def log1p(a: float) -> float:
    if a > -1:
        return math.log1p(a)
    return -inf if a == -1 else nan


def sqrt(a: float) -> float:
    return math.sqrt(a) if a >= 0 else nan


def asin(a: float) -> float:
    return math.asin(a) if -1 <= a <= 1 else nan


def acos(a: float) -> float:
    return math.acos(a) if -1 <= a <= 1 else nan


def sinh(a: float) -> float:
    try:
        return math.sinh(a)
    except OverflowError:
        return math.copysign(inf, a)


def cosh(a: float) -> float:
    try:
        return math.cosh(a)
    except OverflowError:
        return inf


def sign(a: float) -> float:
    return 1.0 if a > 0 else -1.0 if a < 0 else 0.0 if a == 0 else nan


def where(condition, if_true: float, if_false: float) -> float:
    return if_true if condition else if_false


# As NumPy's: nan if either is nan, and b when they are equal (so max(-0.0, 0.0) is 0.0).
def maximum(a: float, b: float) -> float:
    return a if a > b or a != a else b


def minimum(a: float, b: float) -> float:
    return a if a < b or a != a else b


def _periodic(f):
    """A sine, cosine or tangent that, like NumPy's, gives nan at ±inf where `math` raises."""

    def periodic(a: float) -> float:
        try:
            return f(a)
        except ValueError:
            return nan

    periodic.__name__ = f.__name__
    return periodic


sin = _periodic(math.sin)
cos = _periodic(math.cos)
tan = _periodic(math.tan)
atan = math.atan
atan2 = math.atan2
hypot = math.hypot
tanh = math.tanh
abs = math.fabs  # noqa: A001 - NumPy's name
