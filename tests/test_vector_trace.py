"""The backprop trace on vectors and matrices (issue 13): `gradcli trace`, `grad --trace`, JSON and text.

Witnesses are independent of the code under test: a small NumPy interpreter written here for
every forward value, each VJP written here from its textbook formula (the outer product δ xᵀ,
Wᵀ δ, the explicit softmax Jacobian diag(a) − a aᵀ, sums over broadcast axes), central finite
differences for every local Jacobian, the seed cases' published gradients, and the arithmetic of
the trace itself (a branch node's gradient is the sum of its terms). The text is read from a
fixed-width Rich Console.
"""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
from conftest import DATA, run_cli
from rich.console import Console

from gradcli.api import differentiate
from gradcli.array_engine import backward_arrays, infer_shapes, values_at
from gradcli.array_trace import build_array_trace
from gradcli.i18n import choose, translator
from gradcli.parse import parse
from gradcli.render.array_trace import array_trace_view

with open(DATA / "seed-vectors.jsonl", encoding="utf-8") as _stream:
    SEEDS = [json.loads(line) for line in _stream if line.strip()]
SEED = {example["name"]: example for example in SEEDS}
WINDOW = SEED["cs224n-window-score"]
SOFTMAX = SEED["softmax-xent-vector"]
BRANCH = ("h = tanh(x); L = sum(h*h) + dot(h, u)", {"x": [0.5, -1.0, 2.0], "u": [1.0, 2.0, 3.0]})


# ----- independent witnesses -----


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


FORWARD = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "neg": np.negative,
    "log": np.log, "exp": np.exp, "tanh": np.tanh, "sigmoid": lambda a: 1 / (1 + np.exp(-a)),
    "copy": lambda a: a, "sum": np.sum, "matmul": np.matmul, "softmax": _softmax,
    "log_softmax": lambda z: np.log(_softmax(z)),
}


def independent_values(forward: list[dict], at: dict) -> dict[str, np.ndarray]:
    """Every node's value from the forward rows' structure, with NumPy."""
    values: dict[str, np.ndarray] = {}
    for row in forward:
        if row["op"] == "var":
            values[row["node"]] = np.asarray(at[row["node"]], dtype=float)
        elif row["op"] == "const":
            values[row["node"]] = np.asarray(float(row["node"]))
        else:
            values[row["node"]] = np.asarray(FORWARD[row["op"]](*[values[name] for name in row["inputs"]]), dtype=float)
    return values


def unbroadcast(g, shape):
    """g summed back to `shape` (written here, not imported)."""
    g = np.asarray(g, dtype=float)
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


def softmax_jacobian(a):
    return np.diag(a) - np.outer(a, a)


def independent_vjp(op: str, slot: int, g, inputs: list, out):
    """The contribution to input `slot` of a node, from the textbook formula of its VJP."""
    g = np.asarray(g, dtype=float)
    if op == "matmul":
        a, b = inputs
        if a.ndim == 1 and b.ndim == 1:
            return g * (b if slot == 0 else a)
        if b.ndim == 1:
            return np.outer(g, b) if slot == 0 else a.T @ g
        if a.ndim == 1:
            return b @ g if slot == 0 else np.outer(a, g)
        return g @ b.T if slot == 0 else a.T @ g
    if op == "sum":
        return np.full(inputs[0].shape, float(g))
    if op == "softmax":
        return g @ softmax_jacobian(out)
    if op == "log_softmax":
        rows = [row_g @ (np.eye(len(row)) - np.outer(np.ones(len(row)), _softmax(row)))
                for row_g, row in zip(np.atleast_2d(g), np.atleast_2d(inputs[0]))]
        return np.reshape(rows, inputs[0].shape)
    a = inputs[0]
    b = inputs[1] if len(inputs) > 1 else None
    local = {
        "add": lambda: 1.0, "copy": lambda: 1.0, "neg": lambda: -1.0,
        "sub": lambda: 1.0 if slot == 0 else -1.0,
        "mul": lambda: b if slot == 0 else a,
        "div": lambda: 1 / b if slot == 0 else -a / b**2,
        "log": lambda: 1 / a, "exp": lambda: np.exp(a), "tanh": lambda: 1 - np.tanh(a) ** 2,
        "sigmoid": lambda: out * (1 - out),
    }[op]()
    return unbroadcast(g * local, inputs[slot].shape)


def finite_difference_jacobian(op: str, inputs: list, slot: int) -> np.ndarray:
    """∂out/∂inputs[slot] by central differences: rows the output's entries, columns the input's."""
    x = inputs[slot]
    columns = []
    for i in range(x.size):
        h = 1e-6 * max(1.0, abs(x.flat[i]))
        up, down = x.copy(), x.copy()
        up.flat[i] += h
        down.flat[i] -= h
        plus = FORWARD[op](*[up if k == slot else v for k, v in enumerate(inputs)])
        minus = FORWARD[op](*[down if k == slot else v for k, v in enumerate(inputs)])
        columns.append(np.ravel((np.asarray(plus) - np.asarray(minus)) / (2 * h)))
    return np.array(columns).T


def at_text(at: dict) -> str:
    return ",".join(f"{name}={json.dumps(value, separators=(',', ':'))}" for name, value in at.items())


def trace_json(source: str, at: dict, *options: str) -> dict:
    run = run_cli("trace", source, "--at", at_text(at), "--json", *options)
    assert run.code == 0, run.stderr
    return run.json()


def console_text(source: str, at: dict, lang: str = "en", width: int = 80, jacobians: bool = False,
                 max_rows: int | None = None, full: bool = False) -> str:
    """The vector trace as printed on a fixed-width Console without colour."""
    result = differentiate(parse(source), at)
    choose(lang)  # summaries of large values speak the chosen language, as on the command line
    t = translator(lang)
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False)
    console.print(array_trace_view(build_array_trace(result, jacobians, t), t, 6, max_rows, width, full))
    choose("en")
    return console.file.getvalue()


def close(a, b, rel=1e-9, abs_=1e-12) -> bool:
    return np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=rel, atol=abs_)


# ----- the numbers of every seed case -----


@pytest.mark.parametrize("example", SEEDS, ids=[e["name"] for e in SEEDS])
def test_every_contribution_is_the_textbook_vjp_and_has_its_inputs_shape(example):
    document = trace_json(example["expression"], example["at"])
    trace = document["trace"]
    forward = {row["node"]: row for row in trace["forward"]}
    values = independent_values(trace["forward"], example["at"])
    for row in trace["forward"]:
        assert close(row["value"], values[row["node"]]), row["node"]
        assert row["shape"] == list(values[row["node"]].shape)
    grad_of = {row["node"]: np.asarray(row["grad"], dtype=float) for row in trace["backward"]}
    received: dict[str, list] = {}
    edges = 0
    for row in trace["backward"]:
        node = forward[row["node"]]
        assert list(np.shape(row["grad"])) == row["shape"] == node["shape"]  # the shape convention
        for edge in row["edges"]:
            edges += 1
            inputs = [values[name] for name in node["inputs"]]
            expected = independent_vjp(node["op"], edge["slot"], row["grad"], inputs, values[row["node"]])
            assert close(edge["contribution"], expected), (row["node"], edge["input"])
            assert edge["shape_check"] is True
            assert edge["shape"] == edge["input_shape"] == forward[edge["input"]]["shape"]
            assert edge["shapes"].endswith("= " + ("×".join(map(str, edge["shape"])) or "scalar")) \
                or edge["shapes"].endswith("→ " + ("×".join(map(str, edge["shape"])) or "scalar")) \
                or edge["shapes"] == ("×".join(map(str, edge["shape"])) or "scalar")
            received.setdefault(edge["input"], []).append(np.asarray(edge["contribution"], dtype=float))
    assert edges > 0
    for name, contributions in received.items():
        assert close(grad_of[name], sum(contributions)), name
    for name, expected in example["gradient"].items():
        assert close(grad_of[name], expected), name
        assert close(document["gradient"][name], expected)


def test_the_window_score_reads_like_cs224n():
    """∂s/∂W = δ xᵀ with 2×1 · 1×3 = 2×3, ∂s/∂x = Wᵀ δ, and the Hadamard product for the sigmoid."""
    text = console_text(WINDOW["expression"], WINDOW["at"])
    assert all(len(line) <= 80 for line in text.splitlines())
    assert re.search(r"→ W\s+∂s/∂W = δ xᵀ\s+2×1 · 1×3 = 2×3: the shape of W ✓", text)
    assert re.search(r"→ x\s+∂s/∂x = Wᵀ δ\s+3×2 · 2 = 3: the shape of x ✓", text)
    assert re.search(r"∂s/∂z = δ ⊙ σ\(z\)·\(1 - σ\(z\)\)\s+2 ⊙ 2 = 2: the shape of z ✓", text)
    assert "its Jacobian is diagonal" in text
    assert "shape convention" in text
    document = trace_json(WINDOW["expression"], WINDOW["at"])
    rules = {(row["node"], edge["input"]): edge for row in document["trace"]["backward"] for edge in row["edges"]}
    assert rules[("t1", "W")]["rule"] == "matmul" and rules[("t1", "W")]["shapes"] == "2×1 · 1×3 = 2×3"
    assert rules[("h", "z")]["rule"] == "elementwise" and rules[("h", "z")]["formula"] == "δ ⊙ σ(z)·(1 - σ(z))"


def test_a_broadcast_input_is_a_sum_backward():
    example = SEED["dlfs-affine-softmax-with-loss"]
    document = trace_json(example["expression"], example["at"])
    (edge,) = [edge for row in document["trace"]["backward"] for edge in row["edges"] if edge["input"] == "b"]
    assert edge["summed_axes"] == [0] and edge["formula"] == "sum over axis 0 of δ"
    assert np.shape(edge["unreduced"]) == (2, 3) and close(edge["contribution"], np.sum(edge["unreduced"], axis=0))
    assert "a broadcast forward is a sum backward" in console_text(example["expression"], example["at"])


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("example", SEEDS, ids=[e["name"] for e in SEEDS])
def test_every_shape_check_is_printed_true_and_fits_the_width(example, width):
    text = console_text(example["expression"], example["at"], width=width)
    assert all(len(line) <= width for line in text.splitlines())
    document = trace_json(example["expression"], example["at"])
    edges = sum(len(row["edges"]) for row in document["trace"]["backward"])
    assert len(re.findall(r": the shape of \S+ ✓", text)) == edges
    assert "✗" not in text


# ----- softmax with cross-entropy: ∂L/∂z = a − y -----


def test_softmax_xent_shows_that_the_gradient_is_a_minus_y():
    document = trace_json(SOFTMAX["expression"], SOFTMAX["at"], "--data", "y")
    (edge,) = [edge for row in document["trace"]["backward"] if row["node"] == "a" for edge in row["edges"]]
    a = _softmax(np.array(SOFTMAX["at"]["z"]))
    assert edge["identity"] == "a - y"
    assert close(edge["contribution"], a - np.array(SOFTMAX["at"]["y"]))
    text = console_text(SOFTMAX["expression"], SOFTMAX["at"], jacobians=True)
    assert "∂L/∂z = a - y ✓" in text
    assert "diag(a) − a aᵀ" in text
    for j in range(3):  # each z collects a term from every a
        assert re.search(rf"∂L/∂z\[{j}\] = \S+ \+ \S+ \+ \S+ = ", text)


def test_the_batch_softmax_with_loss_is_softmax_minus_t_over_the_batch():
    example = SEED["dlfs-affine-softmax-with-loss"]
    document = trace_json(example["expression"], example["at"])
    (edge,) = [edge for row in document["trace"]["backward"] if row["node"] == "t2" for edge in row["edges"]]
    assert edge["identity"] == "(softmax(Y) - T)/2"
    Y = np.array(example["at"]["X"]) @ np.array(example["at"]["W"]) + np.array(example["at"]["b"])
    assert close(edge["contribution"], (_softmax(Y) - np.array(example["at"]["T"])) / 2)


# ----- --jacobians -----


@pytest.mark.parametrize("example", SEEDS, ids=[e["name"] for e in SEEDS])
def test_each_jacobian_is_the_finite_difference_one_and_delta_times_it_is_the_contribution(example):
    document = trace_json(example["expression"], example["at"], "--jacobians")
    trace = document["trace"]
    forward = {row["node"]: row for row in trace["forward"]}
    values = independent_values(trace["forward"], example["at"])
    built = 0
    for row in trace["backward"]:
        node = forward[row["node"]]
        for edge in row["edges"]:
            inputs = [values[name] for name in node["inputs"]]
            jacobian = edge["jacobian"]
            small = values[row["node"]].size <= 6 and inputs[edge["slot"]].size <= 6
            assert (jacobian is not None) == small
            if jacobian is None:
                continue
            built += 1
            witness = finite_difference_jacobian(node["op"], inputs, edge["slot"])
            assert np.allclose(jacobian["matrix"], witness, rtol=1e-6, atol=1e-7), (row["node"], edge["input"])
            product = np.ravel(row["grad"]) @ np.array(jacobian["matrix"])
            assert close(product, np.ravel(edge["contribution"]))
            assert jacobian["equals_contribution"] is True
    assert built > 0


def test_without_the_flag_no_jacobian_is_built(monkeypatch):
    import gradcli.array_trace as array_trace

    def refuse(*arguments):
        raise AssertionError("a Jacobian was built")

    monkeypatch.setattr(array_trace, "local_jacobian", refuse)
    document = trace_json(WINDOW["expression"], WINDOW["at"])
    assert all("jacobian" not in edge for row in document["trace"]["backward"] for edge in row["edges"])
    assert "Jacobian ∂" not in console_text(WINDOW["expression"], WINDOW["at"])


def test_an_elementwise_jacobian_is_printed_diagonal():
    text = console_text(WINDOW["expression"], WINDOW["at"], jacobians=True)
    assert "local Jacobian ∂h/∂z (2×2, diagonal)" in text
    assert "δ (as a row, 1×2) · J (2×6) = the contribution ✓" in text  # W: 2 outputs, 6 entries


# ----- branch nodes with arrays -----


def test_a_vector_used_three_times_sums_its_three_contributions():
    source, at = BRANCH
    document = trace_json(source, at)
    (branch,) = document["trace"]["branches"]
    h = np.tanh(at["x"])
    assert branch["node"] == "h" and branch["shape"] == [3]
    assert [(term["from"], term["slot"]) for term in branch["terms"]] == [("t1", 0), ("t1", 1), ("t3", 0)]
    assert close(branch["terms"][0]["contribution"], h) and close(branch["terms"][2]["contribution"], at["u"])
    assert close(sum(np.array(term["contribution"]) for term in branch["terms"]), branch["total"])
    assert close(branch["total"], 2 * h + np.array(at["u"]))
    text = console_text(source, at)
    assert "Branch nodes" in text and "(via t1, input 2)" in text and "(via t3)" in text
    assert re.search(r"h = tanh\(x\)\s+δ = ∂L/∂h = \[.*\]  \(3\)  Σ", text)


# ----- Japanese, long values, the CLI -----


def test_japanese_headings_and_terms():
    text = console_text(WINDOW["expression"], WINDOW["at"], lang="ja", jacobians=True)
    for term in ("順伝播", "逆伝播", "形状（Shape Convention）", "アダマール積", "ヤコビ行列", "対角行列", "転置", "の形 ✓"):
        assert term in text, term
    assert "分岐ノード" in console_text(*BRANCH, lang="ja")
    run = run_cli("trace", WINDOW["expression"], "--at", at_text(WINDOW["at"]), "--lang", "ja")
    assert run.code == 0 and "逆伝播" in run.stdout and "Backward pass" not in run.stdout


def test_a_value_too_wide_for_its_line_is_summarised_and_full_prints_it_whole():
    at = {"W": np.arange(100.0).reshape(10, 10).tolist(), "x": [1.0] * 10}
    text = console_text("L = sum(W @ x)", at)
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "10×10 matrix: [0, 0] = 0 … [9, 9] = 99, norm" in text
    whole = console_text("L = sum(W @ x)", at, full=True)
    assert "[90, 91, 92, 93, 94, 95, 96, 97, 98, 99]]" in whole.replace("  ", " ")


def test_max_rows_leaves_out_the_middle_of_a_long_trace():
    source = "; ".join(f"a{k + 1} = tanh(a{k}) * w" for k in range(10)) + "; L = sum(a10)"
    text = console_text(source, {"a0": [0.1, 0.2], "w": [1.0, -1.0]}, max_rows=4)
    assert "forward steps left out" in text and "backward rows left out" in text


def test_grad_trace_on_vectors_is_no_longer_refused():
    run = run_cli("grad", WINDOW["expression"], "--at", at_text(WINDOW["at"]), "--trace")
    assert run.code == 0, run.stderr
    assert "∂s/∂W = δ xᵀ" in run.stdout and "∂s/∂W  (2×3, W's shape)" in run.stdout
    document = json.loads(run_cli("grad", WINDOW["expression"], "--at", at_text(WINDOW["at"]), "--trace",
                                  "--json").stdout)
    assert document["trace"]["backward"][0]["node"] == "s"


def test_wrt_prunes_the_vector_trace():
    document = trace_json(WINDOW["expression"], WINDOW["at"], "--wrt", "b")
    inputs = {edge["input"] for row in document["trace"]["backward"] for edge in row["edges"]}
    assert "b" in inputs and not inputs & {"W", "x", "u"}


def test_a_scalar_trace_is_the_same_with_the_new_options():
    plain = run_cli("trace", "(x+y)*z", "--at", "x=-2,y=5,z=-4")
    assert run_cli("trace", "(x+y)*z", "--at", "x=-2,y=5,z=-4", "--jacobians", "--full").stdout == plain.stdout


# ----- the recording sweep -----


def test_recording_changes_no_gradient_and_keeps_no_copy():
    graph = parse(WINDOW["expression"])
    point = {name: np.asarray(WINDOW["at"][name]) for name in graph.variables}
    shapes = infer_shapes(graph, point)
    values = values_at(graph, point, shapes)
    every = range(len(graph.ops))
    records: list = []
    plain = backward_arrays(graph, values, shapes, keep=every)
    recorded = backward_arrays(graph, values, shapes, keep=every, record=records)
    assert all(np.array_equal(a, b) for a, b in zip(plain, recorded) if a is not None)
    assert len(records) == sum(len(inputs) for inputs in graph.inputs)
    for record in records:
        assert record.upstream is recorded[record.consumer]  # a reference to the gradient, not a copy
        assert record.unreduced is None  # no input of this program is broadcast
