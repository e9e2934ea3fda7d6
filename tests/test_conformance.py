"""Conformance: the shared seed examples (course worked examples with independently computed values).

Every case of tests/data/seed-examples.jsonl goes through the command line (`grad --json`, in
process) and through the Python API, and must give the published value and gradient to 1e-9
relative. The reference numbers come from the file, never from gradcli's own output.
"""

from __future__ import annotations

import filecmp
import math
import re
from pathlib import Path

import pytest
from conftest import DATA, at_option, run_cli, seed_examples

import gradcli

SHARED = Path("/work/shared/conformance/seed-examples.jsonl")
REL = 1e-9

EXAMPLES = seed_examples()


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


def test_the_copy_in_tests_is_identical_to_the_shared_file():
    if not SHARED.exists():
        pytest.skip(f"{SHARED} is not present on this machine")
    assert filecmp.cmp(DATA / "seed-examples.jsonl", SHARED, shallow=False), (
        "tests/data/seed-examples.jsonl differs from the shared conformance file: copy it again"
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
