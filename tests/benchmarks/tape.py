"""The scale benchmark's reference: the two program shapes, and a plain-Python tape that computes them.

The tape is what a careful hand-written reverse-mode AD does with no parser and no op table:
parallel lists of op codes and input indices, built and evaluated in one pass, then one reverse
sweep. gradcli's end-to-end time (start-up, reading, parsing, both passes, JSON out) is measured
against it, and its numbers are the witness for the full-size correctness test.
"""

from __future__ import annotations

import math

CHAIN_AT = {"a0": 0.5, "x": 0.6, "y": 0.3}  # |cos(a)·x + y| < 1: the recurrence stays bounded
WIDE_AT = {"x": 0.5, "y": -0.3}
CHAIN_OPS_PER_LINE = 4  # sin, *, *, +
WIDE_OPS_PER_TERM = 6  # c*x, *y, x*c, exp, + inside the term, + joining the terms

_LEAF, _SIN, _EXP, _MUL, _ADD = range(5)


def chain_lines(ops: int) -> int:
    return ops // CHAIN_OPS_PER_LINE


def wide_terms(ops: int) -> int:
    return ops // WIDE_OPS_PER_TERM


def coefficient(term: int) -> str:
    """The constant of a wide term, varied so that the terms are not all alike."""
    return f"0.{(term % 89) + 10}"


def chain_program(lines: int) -> str:
    """`a1 = sin(a0)*x + a0*y`, one line per step; x and y are branch nodes used on every line."""
    return "\n".join(f"a{k + 1} = sin(a{k})*x + a{k}*y" for k in range(lines)) + "\n"


def wide_program(terms: int) -> str:
    """One sum of `c*x*y + exp(x*c)` terms."""
    return " + ".join(f"{coefficient(k)}*x*y + exp(x*{coefficient(k)})" for k in range(terms)) + "\n"


class Tape:
    """Nodes in parallel lists; each op computes its value as it is recorded (build + forward)."""

    def __init__(self):
        self.codes: list[int] = []
        self.first: list[int] = []
        self.second: list[int] = []
        self.values: list[float] = []

    def _push(self, code: int, a: int, b: int, value: float) -> int:
        self.codes.append(code)
        self.first.append(a)
        self.second.append(b)
        self.values.append(value)
        return len(self.codes) - 1

    def leaf(self, value: float) -> int:
        return self._push(_LEAF, -1, -1, value)

    def sin(self, a: int) -> int:
        return self._push(_SIN, a, -1, math.sin(self.values[a]))

    def exp(self, a: int) -> int:
        return self._push(_EXP, a, -1, math.exp(self.values[a]))

    def mul(self, a: int, b: int) -> int:
        return self._push(_MUL, a, b, self.values[a] * self.values[b])

    def add(self, a: int, b: int) -> int:
        return self._push(_ADD, a, b, self.values[a] + self.values[b])

    def backward(self) -> list[float]:
        """One reverse sweep from the last node: the adjoint of every node."""
        codes, first, second, values = self.codes, self.first, self.second, self.values
        grads = [0.0] * len(codes)
        grads[-1] = 1.0
        for node in range(len(codes) - 1, -1, -1):
            code = codes[node]
            if code == _LEAF:
                continue
            upstream = grads[node]
            a = first[node]
            if code == _ADD:
                grads[a] += upstream
                grads[second[node]] += upstream
            elif code == _MUL:
                b = second[node]
                grads[a] += upstream * values[b]
                grads[b] += upstream * values[a]
            elif code == _SIN:
                grads[a] += upstream * math.cos(values[a])
            else:  # _EXP
                grads[a] += upstream * values[node]
        return grads


def chain_tape(lines: int, at: dict[str, float] = CHAIN_AT) -> tuple[Tape, dict[str, int]]:
    """The chain, recorded op by op in the order the parser creates its nodes."""
    tape = Tape()
    leaves = {name: tape.leaf(at[name]) for name in ("a0", "x", "y")}
    a, x, y = leaves["a0"], leaves["x"], leaves["y"]
    for _ in range(lines):
        a = tape.add(tape.mul(tape.sin(a), x), tape.mul(a, y))
    return tape, leaves


def wide_tape(terms: int, at: dict[str, float] = WIDE_AT) -> tuple[Tape, dict[str, int]]:
    """The wide sum ((c*x*y + exp(x*c)) + c*x*y) + ..., recorded in the parser's node order."""
    tape = Tape()
    leaves = {name: tape.leaf(at[name]) for name in ("x", "y")}
    x, y = leaves["x"], leaves["y"]
    total = None
    for k in range(terms):
        product = tape.mul(tape.mul(tape.leaf(float(coefficient(k))), x), y)
        total = product if total is None else tape.add(total, product)
        total = tape.add(total, tape.exp(tape.mul(x, tape.leaf(float(coefficient(k))))))
    return tape, leaves


def reference(shape: str, ops: int) -> tuple[float, dict[str, float]]:
    """Value and gradient of the `shape` program of about `ops` operations, by the tape."""
    tape, leaves = build(shape, ops)
    grads = tape.backward()
    return tape.values[-1], {name: grads[node] for name, node in leaves.items()}


def build(shape: str, ops: int) -> tuple[Tape, dict[str, int]]:
    """Build and evaluate the `shape` program of about `ops` operations on a tape."""
    return chain_tape(chain_lines(ops)) if shape == "chain" else wide_tape(wide_terms(ops))


def program(shape: str, ops: int) -> str:
    return chain_program(chain_lines(ops)) if shape == "chain" else wide_program(wide_terms(ops))


def point(shape: str) -> dict[str, float]:
    return CHAIN_AT if shape == "chain" else WIDE_AT
