"""Conformance: the shared seed examples (course worked examples with independently computed values).

Every case of tests/data/seed-examples.jsonl goes through the command line (`grad --json`, in
process) and through the Python API, and must give the published value and gradient to 1e-9
relative. The reference numbers come from the file, never from gradcli's own output. The same
holds for the vector and matrix cases of tests/data/seed-vectors.jsonl, whose gradients must
also have their variables' shapes, and which the shared conformance tool runs too.
"""

from __future__ import annotations

import filecmp
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, REPO, at_option, run_cli, seed_examples

import gradcli

SHARED = Path("/work/shared/conformance/seed-examples.jsonl")
SHARED_VECTORS = SHARED.with_name("seed-vectors.jsonl")
CONFORMANCE_TOOL = Path("/work/shared/tools/conformance.py")
REL = 1e-9

EXAMPLES = seed_examples()
with open(DATA / "seed-vectors.jsonl", encoding="utf-8") as stream:
    VECTOR_EXAMPLES = [json.loads(line) for line in stream if line.strip()]


def close(actual: float, expected: float) -> bool:
    """1e-9 relative; an expected 0 must be exactly 0 (relative to 0 allows nothing else)."""
    return isinstance(actual, float) and math.isclose(actual, expected, rel_tol=REL, abs_tol=0.0)


def assert_matches(value, gradient, example):
    assert close(value, example["value"]), (example["name"], value, example["value"])
    assert set(gradient) == set(example["gradient"]), (example["name"], list(gradient))
    for name, expected in example["gradient"].items():
        assert close(gradient[name], expected), (example["name"], name, gradient[name], expected)


def output_name(program: str) -> str:
    """The output named by the last statement (`total = ...` → total), `f` for a bare expression."""
    last = [s for s in re.split(r"[;\n]", program) if s.strip()][-1]
    match = re.match(r"\s*([^\W\d]\w*)\s*=(?!=)", last)
    return match.group(1) if match else "f"


def example_id(example):
    return example["name"]


def test_the_seed_file_is_not_empty_and_names_are_unique():
    assert len(EXAMPLES) >= 10
    names = [example["name"] for example in EXAMPLES]
    assert len(set(names)) == len(names)
    for example in EXAMPLES:
        assert {"expression", "at", "value", "gradient"} <= example.keys(), example["name"]


@pytest.mark.parametrize("shared", [SHARED, SHARED_VECTORS], ids=lambda path: path.name)
def test_the_copy_in_tests_is_identical_to_the_shared_file(shared):
    if not shared.exists():
        pytest.skip(f"{shared} is not present on this machine")
    assert filecmp.cmp(DATA / shared.name, shared, shallow=False), (
        f"tests/data/{shared.name} differs from the shared conformance file: copy it again"
    )


@pytest.mark.parametrize("example", EXAMPLES, ids=example_id)
def test_cli_json(example):
    run = run_cli("grad", "--json", "--at", at_option(example["at"]), "--", example["expression"])
    assert run.code == 0, run.stderr
    assert "Traceback" not in run.stderr
    document = run.json()
    assert document["expression"] == example["expression"]
    assert document["output"] == output_name(example["expression"])
    assert document["at"] == {name: float(value) for name, value in example["at"].items()}
    assert_matches(document["value"], document["gradient"], example)


@pytest.mark.parametrize("example", EXAMPLES, ids=example_id)
def test_cli_eval_json_gives_the_same_value(example):
    run = run_cli("eval", "--json", "--at", at_option(example["at"]), "--", example["expression"])
    assert run.code == 0, run.stderr
    document = run.json()
    assert close(document["value"], example["value"]), (document["value"], example["value"])
    assert "gradient" not in document


@pytest.mark.parametrize("example", EXAMPLES, ids=example_id)
def test_api(example):
    result = gradcli.grad(example["expression"], example["at"])
    assert result.output == output_name(example["expression"])
    assert_matches(result.value, result.gradient, example)
    assert close(gradcli.evaluate(example["expression"], example["at"]), example["value"])


@pytest.mark.parametrize("example", [e for e in EXAMPLES if "branches" in e], ids=example_id)
def test_branch_contributions(example):
    """A branch node receives one contribution per use; the published pieces add up to its gradient."""
    result = gradcli.differentiate(gradcli.parse(example["expression"]), example["at"], record=True)
    for name, pieces in example["branches"].items():
        node = result.graph.variables[name]
        received = sorted(edge.contribution for edge in result.edges if edge.input == node)
        assert len(received) == len(pieces), (name, received, pieces)
        for got, expected in zip(received, sorted(pieces)):
            assert close(got, expected), (name, received, pieces)
        assert close(result.gradient[name], math.fsum(pieces))


# ----- vectors and matrices (tests/data/seed-vectors.jsonl) -----

def vector_at_option(at: dict) -> str:
    """`z=[2.0,1.0,0.1],b=0.5`: lists compact, as the shared conformance tool writes them."""
    return ",".join(f"{name}={json.dumps(value, separators=(',', ':')) if isinstance(value, list) else repr(value)}"
                    for name, value in at.items())


def shape_of(nested) -> tuple[int, ...]:
    """The shape of nested lists (of a number: ()), read along the first elements."""
    shape = []
    while isinstance(nested, list):
        shape.append(len(nested))
        nested = nested[0]
    return tuple(shape)


def assert_close_nested(actual, expected, where):
    """Same nesting and lengths, a plain float where a number is expected, each entry at 1e-9 relative."""
    if isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), (where, actual, expected)
        for k, (a, e) in enumerate(zip(actual, expected)):
            assert_close_nested(a, e, f"{where}[{k}]")
    else:
        assert close(actual, expected), (where, actual, expected)


def test_the_vector_seed_file_covers_vectors_matrices_and_scalars():
    assert len(VECTOR_EXAMPLES) >= 4
    shapes = {shape_of(value) for example in VECTOR_EXAMPLES for value in example["at"].values()}
    assert {(), (2,), (3,), (2, 3)} <= shapes, shapes


@pytest.mark.parametrize("example", VECTOR_EXAMPLES, ids=example_id)
def test_vector_cli_json(example):
    run = run_cli("grad", example["expression"], "--at", vector_at_option(example["at"]), "--json")
    assert run.code == 0, run.stderr
    document = run.json()
    assert_close_nested(document["value"], example["value"], "value")
    assert set(document["gradient"]) == set(example["gradient"])
    for name, expected in example["gradient"].items():
        gradient = document["gradient"][name]
        assert shape_of(gradient) == shape_of(example["at"][name]), (name, gradient)  # the variable's shape
        assert_close_nested(gradient, expected, name)
    assert document["at"] == {name: value if isinstance(value, list) else float(value)
                              for name, value in example["at"].items()}
    assert {name: tuple(document["shapes"][name]) for name in example["at"]} == {
        name: shape_of(value) for name, value in example["at"].items()}
    assert document["shapes"][document["output"]] == []


@pytest.mark.parametrize("example", VECTOR_EXAMPLES, ids=example_id)
def test_vector_api(example):
    import numpy as np

    result = gradcli.grad(example["expression"], example["at"])
    assert close(result.value, example["value"])
    for name, expected in example["gradient"].items():
        gradient = result.gradient[name]
        if isinstance(expected, list):
            assert isinstance(gradient, np.ndarray) and gradient.shape == np.shape(expected), (name, gradient)
            assert_close_nested(gradient.tolist(), expected, name)
        else:
            assert type(gradient) is float, (name, gradient)
            assert close(gradient, expected), (name, gradient, expected)


def test_the_shared_conformance_tool_passes_the_vector_cases():
    """`conformance.py --cases seed-vectors.jsonl` as the issue runs it: every case as a real process."""
    if not CONFORMANCE_TOOL.exists():
        pytest.skip(f"{CONFORMANCE_TOOL} is not present on this machine")
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(CONFORMANCE_TOOL), "--python", sys.executable,
                           "--cases", str(DATA / "seed-vectors.jsonl")],
                          capture_output=True, text=True, env=environment, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == f"{len(VECTOR_EXAMPLES)} passed, 0 failed", done.stdout
