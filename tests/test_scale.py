"""Full-size programs: 10^6 operations read from stdin give the numbers of an independent tape.

The witness is the plain-Python tape in tests/benchmarks/tape.py (parallel lists, no parser,
no op table), which records the same function node for node.
"""

from __future__ import annotations

import pytest

from benchmarks import tape
from conftest import run_process


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["chain", "wide"])
def test_a_million_op_program_matches_the_reference_tape(shape):
    at = ",".join(f"{name}={value!r}" for name, value in tape.point(shape).items())
    run = run_process("grad", "-", "--at", at, "--json", input=tape.program(shape, 10**6), timeout=600)
    assert run.code == 0, run.stderr[-2000:]
    document = run.json()
    value, gradient = tape.reference(shape, 10**6)
    assert document["value"] == value  # the same operations in the same order: the same bits
    assert document["gradient"].keys() == gradient.keys()
    for name, expected in gradient.items():  # sums of 250 000 contributions: allow for their order
        assert document["gradient"][name] == pytest.approx(expected, rel=1e-12), name
