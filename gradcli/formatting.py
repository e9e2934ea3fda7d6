"""How numbers are shown, in one place, so the screen, JSON and messages agree."""

from __future__ import annotations

import math

DEFAULT_PRECISION = 12


def format_value(value: float, precision: int = DEFAULT_PRECISION) -> str:
    """Up to `precision` significant digits: 100*2*1.1 shows as 220, -0.0 as 0."""
    if value != value:
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = format(value, f".{precision}g")
    return "0" if text == "-0" else text


def json_value(value: float) -> float | str:
    """A JSON-safe number (RFC 8259 has no inf or nan, so those become strings)."""
    if value != value:
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value
