"""gradcli: differentiate expressions, with every backprop step explained.

    >>> import gradcli
    >>> r = gradcli.grad("(x+y)*z", x=-2, y=5, z=-4)
    >>> r.value, r.gradient
    (-12.0, {'x': -4.0, 'y': -4.0, 'z': 3.0})

Importing gradcli loads neither SymPy, NumPy nor Rich.
"""

__version__ = "0.1.0"

from .api import Result, differentiate, evaluate, grad  # noqa: E402
from .errors import BindingError, ExitStatus, GradcliError, LimitError, MathError, ParseError, ShapeError  # noqa: E402
from .jacobian import JacobianResult, jacobian  # noqa: E402
from .parse import parse  # noqa: E402

__all__ = [
    "BindingError",
    "ExitStatus",
    "GradcliError",
    "JacobianResult",
    "LimitError",
    "MathError",
    "ParseError",
    "Result",
    "ShapeError",
    "differentiate",
    "evaluate",
    "grad",
    "jacobian",
    "parse",
]
