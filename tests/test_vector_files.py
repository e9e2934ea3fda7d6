"""Vectors and matrices in files and out to files, through the command line as a user types it.

`--at-file` reads the point from a JSON object or a NumPy .npz (a path, or `-` for standard
input), and must give exactly what the same point typed with `--at` gives; every malformed
file is exit 2 naming the file and the variable (or the element). `grad --save` writes the
value and the gradient to a .npz that NumPy reads back bit for bit, and `--full` prints a large
vector whole. The reference numbers are the published ones of tests/data/seed-vectors.jsonl and
NumPy's own arrays, never gradcli's output alone.
"""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
from conftest import DATA, run_cli, run_process

import gradcli
from gradcli.batch import SCALAR_ROWS_ONLY, gradients
from gradcli.cli import inputs

with open(DATA / "seed-vectors.jsonl", encoding="utf-8") as stream:
    SEED_VECTORS = [json.loads(line) for line in stream if line.strip()]
SOFTMAX_XENT = "a = softmax(z); L = -sum(y * log(a))"


def typed_at(at: dict) -> str:
    """The point as one --at argument, as the shared conformance tool types it: `z=[2.0,1.0,0.1],b=0.5`."""
    return ",".join(f"{name}={json.dumps(value, separators=(',', ':'))}" for name, value in at.items())


def save_npz(path, **arrays):
    np.savez(path, **{name: np.asarray(value) for name, value in arrays.items()})
    return str(path)


def close(actual, expected) -> bool:
    return np.allclose(np.asarray(actual), np.asarray(expected), rtol=1e-9, atol=0)


# ----- --at-file gives what --at gives -----

@pytest.mark.parametrize("case", SEED_VECTORS, ids=lambda case: case["name"])
def test_a_seed_vector_point_from_json_and_from_npz_gives_the_json_of_at(case, tmp_path):
    typed = run_cli("grad", case["expression"], "--at", typed_at(case["at"]), "--json")
    assert typed.code == 0, typed.stderr
    point_json = tmp_path / "point.json"
    point_json.write_text(json.dumps(case["at"]), encoding="utf-8")
    point_npz = save_npz(tmp_path / "point.npz", **case["at"])
    for point in (str(point_json), point_npz):
        run = run_cli("grad", case["expression"], "--at-file", point, "--json")
        assert run.code == 0, run.stderr
        assert run.stdout == typed.stdout, point
    document = typed.json()  # and that is the published answer
    assert close(document["value"], case["value"])
    for name, expected in case["gradient"].items():
        assert np.shape(document["gradient"][name]) == np.shape(expected)
        assert close(document["gradient"][name], expected), name


def test_a_scalar_point_from_a_file_stays_on_the_scalar_path(tmp_path):
    point = tmp_path / "point.json"
    point.write_text('{"x": -2, "y": 5, "z": -4}', encoding="utf-8")
    run = run_cli("grad", "(x+y)*z", "--at-file", str(point), "--json")
    assert run.code == 0, run.stderr
    assert run.stdout == run_cli("grad", "(x+y)*z", "--at", "x=-2,y=5,z=-4", "--json").stdout
    assert "shapes" not in run.json()


def test_at_and_data_override_single_names_of_the_file(tmp_path):
    point = tmp_path / "point.json"
    point.write_text('{"z": [2, 1, 0.1], "y": [1, 0, 0]}', encoding="utf-8")
    run = run_cli("grad", SOFTMAX_XENT, "--at-file", str(point), "--at", "z=[1,2,3]", "--data", "y=[0,1,0]",
                  "--json")
    assert run.code == 0, run.stderr
    document = run.json()
    assert document["at"] == {"z": [1.0, 2.0, 3.0], "y": [0.0, 1.0, 0.0]}
    softmax = np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum()
    assert close(document["gradient"]["z"], softmax - [0, 1, 0])
    assert close(document["value"], -math.log(softmax[1]))


def test_dash_reads_the_point_from_standard_input_as_json_or_npz(tmp_path):
    at = {"z": [2.0, 1.0, 0.1], "y": [1.0, 0.0, 0.0]}
    expected = run_cli("grad", SOFTMAX_XENT, "--at", typed_at(at), "--json").stdout
    from_json = run_cli("grad", SOFTMAX_XENT, "--at-file", "-", "--json", input=json.dumps(at))
    assert (from_json.code, from_json.stdout) == (0, expected), from_json.stderr
    npz = (tmp_path / "point.npz")
    save_npz(npz, **at)
    from_npz = run_cli("grad", SOFTMAX_XENT, "--at-file", "-", "--json", input=npz.read_bytes())
    assert (from_npz.code, from_npz.stdout) == (0, expected), from_npz.stderr


def test_the_program_and_the_point_cannot_both_come_from_standard_input():
    run = run_cli("grad", "-", "--at-file", "-", input='{"x": 1}')
    assert run.code == 2
    assert "the program and --at-file cannot both come from standard input" in run.stderr


# ----- a malformed file: exit 2, naming the file and the variable or element -----

class _WritesAFileWhenUnpickled:
    """Unpickling this opens (creates) a file: the witness that a pickle was never loaded."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (self.marker, "w")


def test_a_pickled_object_array_is_refused_unread(tmp_path):
    marker = tmp_path / "unpickled"
    z = np.array([1.0, _WritesAFileWhenUnpickled(str(marker))], dtype=object)
    pickle.dumps(z)  # it does pickle: numpy.savez stores it as a pickle
    point = save_npz(tmp_path / "point.npz", z=z)
    run = run_cli("grad", "sum(z)", "--at-file", point)
    assert run.code == 2
    assert f"--at-file {point}: z holds Python objects" in run.stderr
    assert not marker.exists()


@pytest.mark.parametrize("content, position", [
    ('{"z": [1, "a", 3]}', 'z[1] is "a", not a number'),
    ('{"z": [[1, 2], [3]]}', "z[1] has 1 element, but z[0] has 2: a matrix's rows must all have the same length"),
    ('{"z": [1, NaN, 3]}', "z[1] must be finite, not nan"),
    ('{"z": [1, 2, -Infinity]}', "z[2] must be finite, not -inf"),
    ('{"z": []}', "z = []: an empty list has no value"),
    ('{"z": true}', "z must be a number, not True"),
    ('{"z": [1, 2,, 3]}', "not valid JSON: Expecting value (line 1, column 13)"),
    ('[1, 2]', "the file holds a list; a point is one JSON object of names and values"),
    ('{"a b": 1}', "'a b' is not a variable name"),
])
def test_a_malformed_json_point_names_the_file_and_the_position(tmp_path, content, position):
    point = tmp_path / "point.json"
    point.write_text(content, encoding="utf-8")
    run = run_cli("grad", "sum(z)", "--at-file", str(point))
    assert run.code == 2
    assert f"--at-file {point}: " in run.stderr and position in run.stderr, run.stderr


@pytest.mark.parametrize("array, reason", [
    (np.array([1 + 2j, 3]), "z holds complex numbers; gradcli works with real numbers"),
    (np.array(["1", "2"]), "z holds text, not numbers"),
    (np.array([True, False]), "z holds booleans, not numbers"),
    (np.array([1.0, np.inf]), "z[1] must be finite, not inf"),
    (np.zeros((2, 0)), "z has shape (2, 0): an empty array has no value"),
])
def test_an_npz_array_that_is_not_real_numbers_names_the_file_and_the_variable(tmp_path, array, reason):
    point = save_npz(tmp_path / "point.npz", z=array)
    run = run_cli("grad", "sum(z)", "--at-file", point)
    assert run.code == 2
    assert f"--at-file {point}: {reason}" in run.stderr, run.stderr


def test_an_npz_that_would_not_fit_in_memory_is_refused_from_its_header(tmp_path, monkeypatch):
    point = save_npz(tmp_path / "point.npz", b=np.ones(10), W=np.ones((100, 100)))
    monkeypatch.setattr(inputs, "max_point_bytes", lambda: 40_000)  # W alone needs 80 000 bytes
    run = run_cli("grad", "sum(W) + sum(b)", "--at-file", point)
    assert run.code == 2
    assert "W has shape (100, 100): as float64 the arrays need" in run.stderr, run.stderr


def test_a_json_point_over_the_limit_is_refused_before_it_is_read(tmp_path):
    point = tmp_path / "point.json"
    with open(point, "wb") as stream:  # sparse: no time or disk spent, and nothing a reader could parse
        stream.truncate(inputs.MAX_JSON_POINT_BYTES + 1)
    run = run_cli("grad", "sum(z)", "--at-file", str(point))
    assert run.code == 2
    assert f"--at-file {point}: 256 MiB of JSON, over the limit of 256 MiB; save large arrays as .npz" in run.stderr


def test_a_file_named_npz_that_is_not_one_says_so(tmp_path):
    point = tmp_path / "point.npz"
    point.write_text('{"z": [1, 2]}', encoding="utf-8")
    run = run_cli("grad", "sum(z)", "--at-file", str(point))
    assert run.code == 2
    assert "not a .npz file" in run.stderr


# ----- grad --save -----

def test_save_writes_the_value_and_each_gradient_as_the_json_gives_them(tmp_path):
    case = next(case for case in SEED_VECTORS if case["name"] == "cs224n-window-score")
    saved = tmp_path / "gradient"  # no suffix: NumPy must not add `.npz`
    run = run_cli("grad", case["expression"], "--at", typed_at(case["at"]), "--json", "--save", str(saved))
    assert run.code == 0, run.stderr
    document = run.json()
    with np.load(saved) as arrays:
        assert sorted(arrays.files) == sorted(["value", *(f"grad_{name}" for name in case["gradient"])])
        assert arrays["value"].shape == () and arrays["value"] == document["value"]
        for name, gradient in document["gradient"].items():
            assert np.array_equal(arrays[f"grad_{name}"], np.array(gradient)), name
            assert close(arrays[f"grad_{name}"], case["gradient"][name]), name
    assert [path.name for path in tmp_path.iterdir()] == ["gradient"]


def test_save_keeps_scalar_gradients_as_arrays_of_shape_nothing_and_wrt_limits_it(tmp_path):
    case = next(case for case in SEED_VECTORS if case["name"] == "sigmoid-xent-vector")
    saved = tmp_path / "gradient.npz"
    run = run_cli("grad", case["expression"], "--at", typed_at(case["at"]), "--wrt", "b,w", "--save", str(saved))
    assert run.code == 0, run.stderr
    assert "∂L/∂" in run.stdout  # the table is printed as usual
    with np.load(saved) as arrays:
        assert sorted(arrays.files) == ["grad_b", "grad_w", "value"]
        assert arrays["grad_b"].shape == () and close(arrays["grad_b"], case["gradient"]["b"])
        assert close(arrays["grad_w"], case["gradient"]["w"])


def test_save_goes_with_one_point_not_points(tmp_path):
    points = tmp_path / "points.csv"
    points.write_text("x,y\n1,2\n", encoding="utf-8")
    run = run_cli("grad", "x*y", "--points", str(points), "--save", str(tmp_path / "out.npz"))
    assert run.code == 2
    assert "--save writes one point's gradient (--at), not a --points file" in run.stderr
    assert not (tmp_path / "out.npz").exists()


def test_save_to_a_missing_directory_is_exit_2_naming_the_file(tmp_path):
    target = tmp_path / "missing" / "out.npz"
    run = run_cli("grad", "x*y", "--at", "x=1,y=2", "--save", str(target))
    assert run.code == 2
    assert f"--save {target}: cannot write it" in run.stderr


# ----- human output: --full, and an ASCII stream -----

def test_full_prints_every_entry_of_a_long_vector(tmp_path):
    point = tmp_path / "point.json"
    point.write_text(json.dumps({"z": list(range(100))}), encoding="utf-8")
    summary = run_cli("grad", "sum(z*z)", "--at-file", str(point))
    assert summary.code == 0, summary.stderr
    assert "norm" in summary.stdout and "196" not in summary.stdout  # a summary shows the first and last entries
    full = run_cli("grad", "sum(z*z)", "--at-file", str(point), "--full")
    assert full.code == 0, full.stderr
    gradient_block = full.stdout.split("∂f/∂z  (100, z's shape)")[1]
    assert [int(entry) for entry in gradient_block.replace("[", " ").replace("]", " ").replace(",", " ").split()] \
        == [2 * k for k in range(100)]


def test_an_ascii_stream_shows_the_block_marker_in_ascii():
    run = run_process("grad", "sum(W*W)", "--at", "W=[[1,2],[3,4]]", env={"PYTHONIOENCODING": "ascii"})
    assert run.code == 0, run.stderr
    assert "v below" in run.stdout
    assert "\\u2193" not in run.stdout


# ----- the Python API -----

def test_the_batch_api_refuses_a_program_on_vectors_as_grad_points_does(tmp_path):
    with pytest.raises(gradcli.BindingError) as raised:
        gradients("z = W @ x; sum(z)", W=[1.0, 2.0], x=[3.0, 4.0])  # without the refusal: W·x row by row
    assert raised.value.message == SCALAR_ROWS_ONLY
    points = tmp_path / "points.csv"
    points.write_text("W,x\n1,3\n2,4\n", encoding="utf-8")
    run = run_cli("grad", "z = W @ x; sum(z)", "--points", str(points))
    assert run.code == 2 and SCALAR_ROWS_ONLY in run.stderr


def test_shape_errors_are_exported():
    with pytest.raises(gradcli.ShapeError):
        gradcli.grad("sum(W @ x)", W=[[1, 2], [3, 4]], x=[1, 2, 3])
