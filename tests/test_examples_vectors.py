"""The course examples in vector form (examples/*.grad with their point files), run as their
header says, against the textbook's own formulas written out in NumPy here.

Each example's second comment line is the command that runs it; the test runs exactly that
command (with --json added) and compares the value and every gradient with the hand-written
backward pass of the course (a − y, δ xᵀ, Xᵀ dY, db = the sum of dY over the batch, ...). Where a
shared seed vector (tests/data/seed-vectors.jsonl) has the same program at the same point, its
published numbers are a second witness.
"""

from __future__ import annotations

import json
import shlex

import numpy as np
import pytest
from conftest import DATA, REPO, run_cli

EXAMPLES = REPO / "examples"
with open(DATA / "seed-vectors.jsonl", encoding="utf-8") as stream:
    SEEDS = {case["name"]: case for case in map(json.loads, filter(str.strip, stream))}


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax_rows(y):
    e = np.exp(y - y.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_cross_entropy(z, y):
    """∂L/∂z = a − y."""
    a = softmax_rows(z)
    return -np.sum(y * np.log(a)), {"z": a - y}


def sigmoid_unit(w, x, b, y):
    """δ = a − y; ∂L/∂w = δ x, ∂L/∂b = δ."""
    a = sigmoid(w @ x + b)
    delta = a - y
    return -(y * np.log(a) + (1 - y) * np.log(1 - a)), {"w": delta * x, "b": delta}


def window_score(W, x, b, u):
    """CS224N lecture 3: δ = u ⊙ f′(z); ∂s/∂W = δ xᵀ, ∂s/∂b = δ, ∂s/∂x = Wᵀ δ, ∂s/∂u = h."""
    h = sigmoid(W @ x + b)
    delta = u * h * (1 - h)
    return u @ h, {"W": np.outer(delta, x), "x": W.T @ delta, "b": delta, "u": h}


def affine_softmax_with_loss(X, W, b, T, N):
    """Deep Learning from Scratch 5.6–5.7: dY = (softmax(Y) − T) / N; dW = Xᵀ dY, db = Σ_batch dY, dX = dY Wᵀ."""
    P = softmax_rows(X @ W + b)
    dY = (P - T) / N
    return -np.sum(T * np.log(P)) / N, {"X": dY @ W.T, "W": X.T @ dY, "b": dY.sum(axis=0)}


# example file → (its point as the header's command gives it, the textbook's computation, the seed with the same point)
CASES = {
    "softmax-xent-vector": ({"z": [2, 1, 0.1], "y": [1, 0, 0]}, softmax_cross_entropy, "softmax-xent-vector"),
    "sigmoid-unit": ({"w": [0.2, -0.4], "x": [1, 3], "b": 0.5, "y": 0}, sigmoid_unit, "sigmoid-xent-vector"),
    "cs224n-window": ("window.json", window_score, None),
    "dlfs-affine-softmax": ("batch.json", affine_softmax_with_loss, "dlfs-affine-softmax-with-loss"),
}


def header(path) -> list[str]:
    """The first two lines of an example: where it comes from, and the command that runs it."""
    with open(path, encoding="utf-8") as stream:
        return [stream.readline().rstrip("\n") for _ in range(2)]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.grad")), ids=lambda path: path.name)
def test_every_example_says_where_it_comes_from_and_how_to_run_it(path):
    origin, command = header(path)
    assert origin.startswith("# ") and len(origin) > 20
    assert command.startswith("# gradcli ") and f"--file examples/{path.name}" in command


@pytest.mark.parametrize("name", CASES)
def test_the_example_runs_as_its_header_says_and_matches_the_textbook(name, monkeypatch):
    point, textbook, seed = CASES[name]
    command = shlex.split(header(EXAMPLES / f"{name}.grad")[1][2:])
    assert command[:2] == ["gradcli", "grad"]
    if isinstance(point, str):  # the header reads the point from this file
        assert command[command.index("--at-file") + 1] == f"examples/{point}"
        point = json.loads((EXAMPLES / point).read_text(encoding="utf-8"))
    monkeypatch.chdir(REPO)
    run = run_cli(*command[1:], "--json")
    assert run.code == 0, run.stderr
    out = run.json()
    assert out["at"] == {key: np.asarray(value, dtype=float).tolist() for key, value in point.items()}

    value, gradient = textbook(**{key: np.asarray(value, dtype=float) for key, value in point.items()})
    assert out["value"] == pytest.approx(float(value), rel=1e-12)
    assert set(out["gradient"]) == set(gradient)  # --data leaves the labels (and N) out
    for variable, expected in gradient.items():
        got = np.array(out["gradient"][variable])
        assert got.shape == np.shape(point[variable])  # the shape convention: ∂L/∂W has W's shape
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    if seed is not None:  # the published numbers at the same point
        assert out["value"] == pytest.approx(SEEDS[seed]["value"], rel=1e-9)
        for variable, got in out["gradient"].items():
            np.testing.assert_allclose(got, SEEDS[seed]["gradient"][variable], rtol=1e-9, atol=1e-12)


def test_the_window_is_five_word_vectors_concatenated():
    """The point file gives what the comment says: x of 5 words × 2 entries, W of 3×10, b and u of 3."""
    point = json.loads((EXAMPLES / "window.json").read_text(encoding="utf-8"))
    assert {name: np.shape(value) for name, value in point.items()} == {"x": (10,), "W": (3, 10), "b": (3,), "u": (3,)}
