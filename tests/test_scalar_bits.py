"""Scalar programs give the same bits as before vectors and matrices were added.

tests/data/scalar-bits.jsonl was recorded from the scalar engine alone (see record_scalar_bits.py);
its values and partials are compared as repr, so not even the last bit may move.
"""

from __future__ import annotations

import json

import pytest
from conftest import DATA

import gradcli

with open(DATA / "scalar-bits.jsonl", encoding="utf-8") as stream:
    RECORDED = [json.loads(line) for line in stream if line.strip()]


def test_every_op_of_the_table_is_recorded():
    from gradcli.ops import ELEMENTWISE

    recorded = "\n".join(row["program"] for row in RECORDED)
    assert all(op.symbol in recorded for op in ELEMENTWISE if op.syntax)


@pytest.mark.parametrize("row", RECORDED, ids=range(len(RECORDED)))
def test_scalar_results_are_bit_identical(row):
    result = gradcli.grad(row["program"], row["at"])
    assert repr(result.value) == row["value"]
    assert {name: repr(value) for name, value in result.gradient.items()} == row["gradient"]
    assert type(result.value) is float and all(type(value) is float for value in result.gradient.values())
