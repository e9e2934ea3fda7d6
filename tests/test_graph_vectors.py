"""`gradcli graph` on vectors and matrices (issue 13, "Also"), and the Σ mark without a point.

Every number is checked against NumPy written out here (the CS224N window score's backward pass
by its textbook formulas), never against gradcli's own output; DOT and Mermaid are read back by
the grammar-based readers of test_graph_views.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from conftest import REPO, run_cli
from test_graph_views import parse_dot, parse_mermaid, words

from gradcli.formatting import format_value

WINDOW = "z = W @ x + b; h = sigmoid(z); s = u @ h"
W = np.array([[0.1, -0.2, 0.3], [0.0, 0.5, -0.1]])
X = np.array([1.0, 2.0, -1.0])
B = np.array([0.1, -0.1])
U = np.array([1.0, -2.0])
WINDOW_AT = "W=[[0.1,-0.2,0.3],[0,0.5,-0.1]],x=[1,2,-1],b=[0.1,-0.1],u=[1,-2]"


def window_nodes() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each node of WINDOW by its label: (value, ∂s/∂node) by CS224N's formulas: δ = u ⊙ f′(z),
    ∂s/∂W = δ xᵀ, ∂s/∂x = Wᵀ δ, ∂s/∂b = δ, ∂s/∂h = u, ∂s/∂u = h."""
    t1 = W @ X
    z = t1 + B
    h = 1 / (1 + np.exp(-z))
    delta = U * h * (1 - h)
    return {"W": (W, np.outer(delta, X)), "x": (X, W.T @ delta), "t1": (t1, delta), "b": (B, delta),
            "z": (z, delta), "h": (h, U), "u": (U, h), "s": (U @ h, np.float64(1.0))}


def graph(*args: str, columns: int = 200) -> str:
    run = run_cli("graph", *args, env={"COLUMNS": str(columns)})
    assert run.code == 0, run.stderr
    return run.stdout


def test_json_gives_every_node_its_shape_value_and_gradient():
    document = json.loads(graph(WINDOW, "--at", WINDOW_AT, "--json"))
    expected = window_nodes()
    nodes = {node["label"]: node for node in document["nodes"]}
    assert set(nodes) == set(expected)
    for label, (value, gradient) in expected.items():
        node = nodes[label]
        assert node["shape"] == list(np.shape(value))  # the shape convention: ∂s/∂node has node's shape
        assert np.shape(node["grad"]) == np.shape(value)
        np.testing.assert_allclose(node["value"], value, rtol=1e-12)
        np.testing.assert_allclose(node["grad"], gradient, rtol=1e-12, atol=1e-15)
    assert type(nodes["s"]["value"]) is float and type(nodes["s"]["grad"]) is float  # scalars stay plain numbers
    assert all(edge["contribution"] is None for edge in document["edges"])  # the array sweep records no edges


def norm_text(array: np.ndarray) -> str:
    return format_value(float(np.linalg.norm(array)), 6)


def test_labels_show_the_shape_and_a_small_array_whole_a_larger_one_by_its_norm():
    nodes = window_nodes()
    dot = parse_dot(graph(WINDOW, "--at", WINDOW_AT, "--format", "dot"))
    mermaid = parse_mermaid(graph(WINDOW, "--at", WINDOW_AT, "--format", "mermaid"))
    for labels in ({node: attrs["label"] for node, attrs in dot["nodes"].items()}, mermaid["nodes"]):
        by_name = {label.split("\n")[0].split(" = ")[0]: label.split("\n")[1:] for label in labels.values()}
        value, gradient = nodes["W"]  # 6 entries: its norm
        assert by_name["W"] == ["shape 2×3", f"‖W‖ = {norm_text(value)}", f"‖∂s/∂W‖ = {norm_text(gradient)}"]
        value, gradient = nodes["x"]  # 3 entries: whole
        assert by_name["x"] == ["shape 3", format_value(value, 6), f"∂s/∂x = {format_value(gradient, 6)}"]
        assert by_name["s"][0] == "scalar"


def test_the_tree_shows_each_node_with_its_shape_and_numbers():
    tree = words(graph(WINDOW, "--at", WINDOW_AT))
    value, gradient = window_nodes()["W"]
    assert f"W shape 2×3 ‖W‖ = {norm_text(value)} ‖∂s/∂W‖ = {norm_text(gradient)}" in tree
    value, gradient = window_nodes()["z"]
    assert f"z = t1 + b shape 2 {format_value(value, 6)} ∂s/∂z = {format_value(gradient, 6)}" in tree


def test_the_tree_speaks_japanese():
    run = run_cli("graph", WINDOW, "--at", WINDOW_AT, "--lang", "ja", env={"COLUMNS": "200"})
    assert "W   形 2×3" in run.stdout and "s = u @ h   スカラー" in run.stdout


def test_a_branch_node_of_vectors_is_marked_and_its_gradient_is_the_sum_of_its_uses():
    """h in sum(h*h) + dot(h, u): ∂s/∂h = 2h + u, the two uses' terms added."""
    x, u = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    h = 1 / (1 + np.exp(-x))
    program, at = "h = sigmoid(x); s = sum(h*h) + dot(h, u)", "x=[1,2],u=[3,4]"
    nodes = {node["label"]: node for node in json.loads(graph(program, "--at", at, "--json"))["nodes"]}
    np.testing.assert_allclose(nodes["h"]["grad"], 2 * h + u, rtol=1e-12)
    np.testing.assert_allclose(nodes["x"]["grad"], (2 * h + u) * h * (1 - h), rtol=1e-12)
    tree = graph(program, "--at", at)
    assert tree.count("h = sigmoid(x) Σ") == 3 and tree.count("(see above)") == 2
    assert "Σ: a node used more than once" in tree


def test_the_batch_example_sums_the_bias_gradient_over_the_batch():
    """DLFS 5.6: db is dY summed over the batch axis, while ∂L/∂Y keeps the batch's shape."""
    point = json.loads((REPO / "examples" / "batch.json").read_text(encoding="utf-8"))
    X, W, b, T, N = (np.array(point[name], dtype=float) for name in "XWbTN")
    Y = X @ W + b
    P = np.exp(Y) / np.exp(Y).sum(axis=1, keepdims=True)
    run = run_cli("graph", "--file", str(REPO / "examples" / "dlfs-affine-softmax.grad"),
                  "--at-file", str(REPO / "examples" / "batch.json"), "--data", "T,N", "--json")
    nodes = {node["label"]: node for node in json.loads(run.stdout)["nodes"]}
    assert nodes["Y"]["shape"] == [2, 3] and nodes["b"]["shape"] == [3]
    np.testing.assert_allclose(nodes["Y"]["grad"], (P - T) / N, rtol=1e-12)
    np.testing.assert_allclose(nodes["b"]["grad"], ((P - T) / N).sum(axis=0), rtol=1e-12)
    assert nodes["T"]["grad"] is None and nodes["N"]["grad"] is None  # data: no gradient flows to them


def test_without_a_point_a_vector_program_is_drawn_as_its_structure_alone():
    """No shape is invented: a variable's shape comes with its value."""
    document = json.loads(graph(WINDOW, "--json"))
    assert all(set(node) == {"id", "label", "op", "inputs"} for node in document["nodes"])
    structure = graph(WINDOW)
    assert "shape" not in structure and "scalar" not in structure and "∂" not in structure


def test_with_a_point_a_scalar_program_gives_every_node_the_shape_of_a_number():
    document = json.loads(graph("(x+y)*z", "--at", "x=-2,y=5,z=-4", "--json"))
    assert [node["shape"] for node in document["nodes"]] == [[]] * 5
    assert "shape" not in graph("(x+y)*z", "--at", "x=-2,y=5,z=-4")  # the scalar tree is as before


def test_a_shared_node_is_marked_without_a_point_too():
    """The Σ mark needs no numbers: y feeds a and b in CS224N's branch example."""
    tree = graph("--file", str(REPO / "examples" / "cs224n-branch.grad"))
    assert re.search(r"└── y Σ$", tree, re.M) and re.search(r"y Σ   \(see above\)$", tree, re.M)
    assert "x Σ" not in tree and "z Σ" not in tree
    assert "Σ: a node used more than once (a branch node); with --at, ∂f/∂node is the sum" in words(tree)


def test_a_number_used_twice_is_no_branch_node():
    """Constants get no gradient, so the sweep has no sum to make for them: no Σ, with or without a point."""
    for args in ((), ("--at", "x=3")):
        tree = graph("y = 2*x + 2", *args, "--cse")
        assert "Σ" not in tree


def test_a_vector_output_is_refused_with_the_way_out():
    run = run_cli("graph", "a = softmax(z)", "--at", "z=[1,2]")
    assert run.code == 2 and "gradcli jacobian" in run.stderr


@pytest.mark.parametrize("fmt", ["dot", "mermaid"])
def test_dot_and_mermaid_of_a_vector_program_read_back_with_every_edge(fmt):
    text = graph(WINDOW, "--at", WINDOW_AT, "--format", fmt)
    read = (parse_dot if fmt == "dot" else parse_mermaid)(text)
    assert len(read["edges"]) == 7 and len(read["nodes"]) == 8
