"""Vector and matrix values in: nested lists, NumPy arrays and `--at` text such as `[[1, 2], [3, 4]]`.

The one validator for every way a value comes in (`--at`, files, the Python API). It names a bad
element by its position as NumPy counts (`W[0, 2]`), walks the lists with a loop (a deeply
nested value cannot exhaust the stack), and gives float64 arrays that no rule can write to.
Imported only when a value is not a plain number, since it imports NumPy.
"""

from __future__ import annotations

import json
import numbers
import re

import numpy as np

from .errors import BindingError, GradcliError
from .shapes import element_text

MAX_DIMENSIONS = 32  # NumPy's own limit is 64; no course value comes close
_JSON_NUMBERS = re.compile(r"[0-9.eE+\-,\[\] \t]*")  # text json.loads can read as nested lists of numbers
_NUMBER_KINDS = "iuf"  # integer, unsigned, floating: the array kinds that are real numbers


def as_value(name: str, value) -> float | np.ndarray:
    """A checked value: a float for a number or anything of shape (), else a read-only float64 array."""
    if isinstance(value, (list, tuple)):
        array = as_array(name, value)
    else:
        array = _from_array(name, value)
    if array.ndim == 0:
        return float(array)
    return array


def as_array(name: str, nested) -> np.ndarray:
    """Nested lists (or tuples) of numbers as a read-only float64 array; BindingError naming the
    first bad position: ragged rows, an empty list, a list where a number belongs or the reverse,
    something that is not a number, nan or inf."""
    shape = _leading_shape(name, nested)
    rows = _checked_rows(name, nested, shape)
    try:
        array = np.array(nested, dtype=np.float64) if shape else np.float64(_number(name, (), nested))
    except OverflowError:  # an int beyond a double's range
        raise BindingError(f"{_too_large(name, rows) if shape else name} is too large for a double") from None
    return _finished(name, np.asarray(array))


def array_from_text(name: str, text: str) -> np.ndarray:
    """`[2, 1, 0.1]` or `[[pi/4, 2^-1], [0, 1]]` (as --at gives it) as a checked array.

    Plain numbers are read by json.loads; anything else, element by element as constant
    expressions, so `pi/4` reads as it does for a scalar.
    """
    stripped = text.strip()
    if _JSON_NUMBERS.fullmatch(stripped) and len(stripped) - len(stripped.lstrip("[")) <= MAX_DIMENSIONS:
        try:
            return as_array(name, json.loads(stripped))
        except (ValueError, RecursionError):
            pass  # `.5`, `1.` or `+1`: not JSON, but numbers all the same
    return as_array(name, _scan(name, stripped))


def _scan(name: str, text: str) -> list:
    """The nested lists of `[...]` text, each element read with api.constant; a loop, not recursion."""
    from .api import constant

    if not text.startswith("["):
        raise BindingError(f"{name}={text}: a vector starts with '['")
    root: list = []
    lists = [root]  # the lists open at this point, outermost first
    element: list[str] = []  # the characters of the element being read
    parentheses = 0  # inside `max(1, 2)` a comma belongs to the element
    after_list = False  # an inner list has just closed: only ',' or ']' may follow
    for offset, char in enumerate(text[1:], 1):
        if not lists:
            raise BindingError(f"{name}={text}: text after the closing ']': {text[offset:].strip()!r}")
        if parentheses:
            parentheses += (char == "(") - (char == ")")
            element.append(char)
        elif char == "[":
            if after_list or "".join(element).strip():
                raise BindingError(f"{name}={text}: '[' where ',' or ']' was expected")
            inner: list = []
            lists[-1].append(inner)
            lists.append(inner)
            if len(lists) > MAX_DIMENSIONS + 1:
                raise BindingError(f"{name} has more than {MAX_DIMENSIONS} levels of nested lists")
        elif char in ",]":
            item = "".join(element).strip()
            element.clear()
            if item:
                try:
                    lists[-1].append(constant(item))
                except GradcliError as error:
                    raise BindingError(f"{element_text(name, _position(lists))} = {item}: {error.message}") from None
            elif not after_list and (char == "," or lists[-1]):  # `[1,,2]`, `[1,2,]`; `[]` is left to as_array
                raise BindingError(f"{element_text(name, _position(lists))} has no value (two commas in a row?)")
            after_list = char == "]"
            if after_list:
                lists.pop()
        elif after_list and not char.isspace():
            raise BindingError(f"{name}={text}: {char!r} after ']' where ',' or ']' was expected")
        else:
            parentheses += char == "("
            element.append(char)
    if lists:
        raise BindingError(f"{name}={text}: a '[' is not closed by ']'")
    return root


def _position(lists: list[list]) -> tuple[int, ...]:
    """The index of the element being read: each open list is the last element of the one around it."""
    return (*(len(outer) - 1 for outer in lists[:-1]), len(lists[-1]))


def _leading_shape(name: str, nested) -> tuple[int, ...]:
    """The shape read along the first elements; the other elements are checked against it later."""
    shape: list[int] = []
    item = nested
    while _is_list(item):
        if len(item) == 0:
            where = element_text(name, (0,) * len(shape))
            raise BindingError(f"{where} = []: an empty list has no value")
        if len(shape) == MAX_DIMENSIONS:
            raise BindingError(f"{name} has more than {MAX_DIMENSIONS} levels of nested lists")
        shape.append(len(item))
        item = item[0]
    return tuple(shape)


def _checked_rows(name: str, nested, shape: tuple[int, ...]) -> list[tuple[tuple[int, ...], list]]:
    """Every innermost list, with its index, after checking the structure against `shape`."""
    if not shape:
        return []
    rows = []
    pending = [((), nested)]  # (index, list) still to check; a stack, so a loop and no recursion
    while pending:
        index, item = pending.pop()
        depth = len(index)
        if not _is_list(item):
            raise BindingError(f"{element_text(name, index)} is a number where a list was expected "
                               f"({element_text(name, (0,) * depth)} is a list of {shape[depth]})")
        if len(item) != shape[depth]:
            rule = ("a matrix's rows must all have the same length" if len(shape) == 2
                    else "the lists at each depth must all have the same length")
            raise BindingError(f"{element_text(name, index)} has {len(item)} element{'s' * (len(item) != 1)}, but "
                               f"{element_text(name, (0,) * depth)} has {shape[depth]}: {rule}")
        if depth + 1 == len(shape):
            rows.append((index, item))
            if not all(type(element) is float or type(element) is int for element in item):
                for k, element in enumerate(item):
                    _number(name, (*index, k), element)
        else:
            pending.extend(((*index, k), inner) for k, inner in reversed(list(enumerate(item))))
    return rows


def _number(name: str, index: tuple[int, ...], item) -> numbers.Real:
    """One element, checked to be a real number (booleans are not numbers)."""
    if _is_list(item):
        raise BindingError(f"{element_text(name, index)} is a list where a number was expected")
    if isinstance(item, numbers.Real) and not isinstance(item, (bool, np.bool_)):
        return item
    if isinstance(item, np.bool_):
        item = bool(item)
    shown = json.dumps(item, ensure_ascii=False) if isinstance(item, (str, bool, type(None))) else repr(item)
    raise BindingError(f"{element_text(name, index)} is {shown}, not a number")


def _is_list(item) -> bool:
    return isinstance(item, (list, tuple)) or (isinstance(item, np.ndarray) and item.ndim > 0)


def _too_large(name: str, rows: list[tuple[tuple[int, ...], list]]) -> str:
    """The position of the first element that float() cannot hold."""
    for index, row in rows:
        for k, element in enumerate(row):
            try:
                float(element)
            except OverflowError:
                return element_text(name, (*index, k))
    return name


def _from_array(name: str, value) -> np.ndarray:
    """A NumPy array (or a NumPy number, or anything with __array__) checked like nested lists."""
    if isinstance(value, (bool, np.bool_)):
        raise BindingError(f"the value of {name} must be a number, not {value!r}")
    array = np.asarray(value)
    refuse_non_numbers(name, array.dtype)
    if array.dtype.kind in "OUS":  # objects or text: element by element, so the message names the bad one
        return as_array(name, array.tolist())
    if array.size == 0:
        raise BindingError(f"{name} has shape {array.shape}: an empty array has no value")
    if array.ndim > MAX_DIMENSIONS:
        raise BindingError(f"{name} has {array.ndim} dimensions; the limit is {MAX_DIMENSIONS}")
    return _finished(name, np.asarray(array, dtype=np.float64, order="C"))


def refuse_non_numbers(name: str, dtype: np.dtype) -> None:
    """BindingError for an array type that cannot hold real numbers (booleans, complex numbers,
    dates, records). Objects and text pass: as_array reads them element by element."""
    kind = dtype.kind
    if kind == "b":
        raise BindingError(f"{name} holds booleans, not numbers")
    if kind == "c":
        raise BindingError(f"{name} holds complex numbers; gradcli works with real numbers")
    if kind not in _NUMBER_KINDS and kind not in "OUS":
        raise BindingError(f"{name} holds values of type {dtype}, not numbers")


def _finished(name: str, array: np.ndarray) -> np.ndarray:
    """The array checked to be finite, as a read-only view (the caller's own array stays writable)."""
    finite = np.isfinite(array)
    if not finite.all():
        index = tuple(int(k) for k in np.unravel_index(int(np.flatnonzero(~finite)[0]), array.shape))
        bad = float(array[index])
        where = element_text(name, index) if index else f"the value of {name}"
        raise BindingError(f"{where} must be finite, not {bad}")
    view = array.view()
    view.setflags(write=False)
    return view
