"""`gradcli check` and `grad --check` on vectors and matrices: entry by entry (gradcli/array_check.py).

The witnesses are independent of reverse mode: SymPy differentiates the program expanded into
one symbol per entry, finite differences perturb one entry at a time, and the seed vectors carry
published reference gradients. A wrong reverse mode cannot be typed, so the disagreement path is
driven by a wrong VJP rule patched into the op table.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gradcli import array_rules
from gradcli.check import CONVENTION, MISMATCH, NOT_DIFFERENTIABLE, OK
from gradcli.errors import ExitStatus
from gradcli.ops import FUNCTIONS, OPS, Op

from conftest import DATA, run_cli

SOFTMAX_XENT = "a = softmax(z); L = -sum(y * log(a))"
NEURON = "z = W @ x + b; h = sigmoid(z); s = u @ h"
NEURON_AT = "W=[[0.1,-0.2,0.3],[0,0.5,-0.1]],x=[1,2,-1],b=[0.1,-0.1],u=[1,-2]"
AFFINE_LOSS = "Y = dot(X, W) + b; L = -sum(T * log_softmax(Y)) / 2"  # dot: the same op as @, patchable by name
WIDE = {"COLUMNS": "200"}


def seed_vectors() -> list[dict]:
    with open(DATA / "seed-vectors.jsonl", encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def compact(at: dict) -> str:
    """--at as a user types it: z=[2.0,1.0,0.1],b=0.5."""
    return ",".join(f"{name}={json.dumps(value, separators=(',', ':'))}" for name, value in at.items())


def check_json(*args: str):
    """check --json, with time for SymPy on a busy machine (its default limit is 5 s)."""
    run = run_cli("check", *args, "--json", "--check-timeout", "120")
    return run, run.json()["check"]


def replaced(op: Op, **changes) -> Op:
    return Op(**{slot: changes.get(slot, getattr(op, slot)) for slot in Op.__slots__})


def close(a: float, b: float, rel: float) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


# ----- the witnesses agree -----


@pytest.mark.parametrize("case", seed_vectors(), ids=lambda case: case["name"])
def test_every_seed_vector_passes_check_and_sympy_gives_the_published_gradient(case):
    run, check = check_json(case["expression"], "--at", compact(case["at"]))
    assert run.code == ExitStatus.OK, run.stderr
    assert check["ok"] and check["mode"] == "whole"
    for name, reference in case["gradient"].items():
        variable = check["variables"][name]
        size = int(np.size(reference))
        assert variable["verdict"] == OK and variable["verdicts"] == {OK: size}
        assert variable["entries"] == variable["entries_checked"] == size
        element = tuple(variable["element"])
        published = float(np.asarray(reference)[element])
        assert close(variable["sympy"], published, 1e-9)  # SymPy, componentwise, against the reference
        assert close(variable["fd"], published, 1e-6)


def test_the_softmax_cross_entropy_checks_with_sympy_and_finite_differences():
    run = run_cli("check", SOFTMAX_XENT, "--at", "z=[2,1,0.1],y=[1,0,0]", "--data", "y", env=WIDE)
    assert run.code == ExitStatus.OK, run.stderr
    assert "SymPy differentiated the whole expression, one symbol per entry" in run.stdout
    header = next(line for line in run.stdout.splitlines() if line.startswith("∂L/∂"))
    assert header.split() == ["∂L/∂", "reverse", "mode", "SymPy", "finite", "diff.", "Δ", "SymPy", "Δ", "FD",
                              "entries", "verdict"]
    [row] = [line for line in run.stdout.splitlines() if line.startswith("z[")]
    assert row.split()[-2:] == ["3/3", "✓"] and "—" not in row  # both witnesses gave a number
    assert run.stdout.rstrip().endswith("✓ the witnesses agree")
    _, check = check_json(SOFTMAX_XENT, "--at", "z=[2,1,0.1],y=[1,0,0]", "--data", "y")
    assert list(check["variables"]) == ["z"]  # data has no gradient to check
    a = np.exp([2, 1, 0.1]) / np.exp([2, 1, 0.1]).sum()
    z = check["variables"]["z"]
    assert close(z["sympy"], (a - [1, 0, 0])[z["element"][0]], 1e-12)  # ∂L/∂z = a − y


def test_grad_check_on_the_cs224n_neuron():
    run = run_cli("grad", NEURON, "--at", NEURON_AT, "--check", "--json")
    assert run.code == ExitStatus.OK, run.stderr
    document = run.json()
    check = document["check"]
    assert check["ok"] and check["mode"] == "whole"
    assert {name: (v["entries"], v["entries_checked"]) for name, v in check["variables"].items()} == {
        "W": (6, 6), "x": (3, 3), "b": (2, 2), "u": (2, 2)}
    assert np.shape(document["gradient"]["W"]) == (2, 3)  # the gradient itself as grad --json gives it
    human = run_cli("grad", NEURON, "--at", NEURON_AT, "--check", env=WIDE)
    assert human.code == ExitStatus.OK and "∂s/∂W  (2×3, W's shape)" in human.stdout
    assert "✓ the witnesses agree" in human.stdout


def test_the_dlfs_batch_from_a_file_checks(tmp_path):
    [case] = [c for c in seed_vectors() if c["name"] == "dlfs-affine-softmax-with-loss"]
    point = tmp_path / "batch.json"
    point.write_text(json.dumps(case["at"]))
    run, check = check_json(case["expression"], "--at-file", str(point))
    assert run.code == ExitStatus.OK and check["ok"] and check["mode"] == "whole"
    assert check["variables"]["W"]["entries"] == 6


ARRAYS_AT = ("X=[[0.3,-1.2,2.0],[1.5,0.7,-0.4]],R=[[1,-2,0.5],[0.3,0.9,-1.1]],u=[0.4,-0.8,1.3],r=[0.6,-0.2],"
             "s=[1,2,3],x=0.7,y=-1.3")


@pytest.mark.parametrize("program", [
    "sum(softmax(X, axis=0) * R) + softmax(u) @ s",
    "sum(log_softmax(X) * R)",
    "logsumexp(X, axis=0) @ s + logsumexp(u)",
    "max(X) + min(X, axis=1) @ r + max(X, axis=0) @ u",
    "sum(outer(r, s) * R)",
    "norm(X) + norm(u) + norm(x)",
    "sum(transpose(X) @ r) + sum(X.T * R.T)",
    "X[1, 0] * u[-1] + sum(X[1]) * x",
    "sum([x, y, x*y] * u) + sum([[x, y], [y, x]] @ r)",
    "mean(X, axis=0) @ u + mean(X)",
])
def test_sympy_expands_every_array_op_as_its_definition(program):
    """SymPy's componentwise derivative of each array op agrees with reverse mode (a wrong
    counterpart in the op table would disagree with both other witnesses)."""
    run, check = check_json(program, "--at", ARRAYS_AT)
    assert run.code == ExitStatus.OK, run.stdout
    assert check["mode"] == "whole"
    assert all(v["verdict"] == OK and v["sympy"] is not None for v in check["variables"].values())


def test_a_scalar_program_keeps_its_json_members():
    _, check = check_json("(x+y)*z", "--at", "x=-2,y=5,z=-4")
    assert all(set(v) == {"ad", "sympy", "fd", "verdict"} for v in check["variables"].values())


# ----- a wrong reverse mode is caught and its entry named -----


def _wrong_softmax_vjp(xp, g, out, a, axis=-1):
    """The right VJP, 30% too large in entry 1 only."""
    right = array_rules.softmax_vjp(xp, g, out, a, axis)
    return right * xp.where(xp.arange(right.shape[-1]) == 1, 1.3, 1.0)


def test_a_wrong_softmax_vjp_fails_the_check_at_its_entry(monkeypatch):
    monkeypatch.setitem(FUNCTIONS, "softmax", {1: replaced(OPS["softmax"], vjp=(_wrong_softmax_vjp,))})
    run, check = check_json(SOFTMAX_XENT, "--at", "z=[2,1,0.1],y=[1,0,0]", "--data", "y")
    assert run.code == ExitStatus.CHECK_FAILED
    z = check["variables"]["z"]
    assert z["verdict"] == MISMATCH and z["element"] == [1] and z["verdicts"] == {MISMATCH: 1, OK: 2}
    a = np.exp([2, 1, 0.1]) / np.exp([2, 1, 0.1]).sum()
    assert close(z["sympy"], a[1], 1e-12) and close(z["fd"], a[1], 1e-6)  # neither witness was fed the VJP
    assert close(z["ad"], 1.3 * a[1], 1e-12)
    human = run_cli("check", SOFTMAX_XENT, "--at", "z=[2,1,0.1],y=[1,0,0]", "--data", "y", env=WIDE)
    assert human.code == ExitStatus.CHECK_FAILED
    assert "z[1] (1 of 3 entries): a witness disagrees with reverse mode" in human.stdout
    assert human.stdout.rstrip().endswith("✗ a witness disagrees with reverse mode")


def _matmul_wrong_at(side: int, entry: tuple[int, int], by: float):
    """matmul whose VJP to one factor (0: left, 1: right) is off by `by` in one entry."""
    rules = [array_rules.matmul_vjp_left, array_rules.matmul_vjp_right]
    right_rule = rules[side]

    def wrong(xp, g, out, a, b):
        contribution = right_rule(xp, g, out, a, b).copy()
        contribution[entry] += by
        return contribution

    rules[side] = wrong
    return replaced(OPS["matmul"], vjp=tuple(rules))


def test_a_wrong_matmul_vjp_is_named_at_w_1_2(monkeypatch):
    monkeypatch.setitem(FUNCTIONS, "dot", {2: _matmul_wrong_at(1, (1, 2), 0.05)})
    [case] = [c for c in seed_vectors() if c["name"] == "dlfs-affine-softmax-with-loss"]
    run, check = check_json(AFFINE_LOSS, "--at", compact(case["at"]))
    assert run.code == ExitStatus.CHECK_FAILED
    w = check["variables"]["W"]
    assert w["verdict"] == MISMATCH and w["element"] == [1, 2] and w["verdicts"] == {MISMATCH: 1, OK: 5}
    assert close(w["sympy"], case["gradient"]["W"][1][2], 1e-9)
    assert all(check["variables"][name]["verdict"] == OK for name in ("X", "b"))
    human = run_cli("check", AFFINE_LOSS, "--at", compact(case["at"]), env=WIDE)
    assert "W[1, 2] (1 of 6 entries): a witness disagrees with reverse mode" in human.stdout


# ----- large variables: a cap, said; SymPy not run -----


def _large_point(tmp_path, n=50):
    rng = np.random.default_rng(5)
    point = tmp_path / "large.json"
    point.write_text(json.dumps({"W": rng.normal(size=(n, n)).tolist(), "x": rng.normal(size=n).tolist()}))
    return str(point)


def test_a_large_variable_is_sampled_and_says_so(tmp_path):
    run, check = check_json("L = sum(tanh(W @ x))", "--at-file", _large_point(tmp_path))
    assert run.code == ExitStatus.OK, run.stderr
    assert check["mode"] == "unavailable"
    w, x = check["variables"]["W"], check["variables"]["x"]
    assert (w["entries"], w["entries_checked"]) == (2500, 200) and (x["entries"], x["entries_checked"]) == (50, 50)
    assert w["verdicts"] == {OK: 200}  # the entries' verdicts; the random direction agreed too
    assert "SymPy not run: 2,651 scalar entries > limit 300; finite differences alone decide" in check["notes"]
    assert ("finite differences checked 200 of 2,500 entries of W (its corners, its largest partials and a seeded "
            "random sample) and one random direction through all of them") in check["notes"]
    human = run_cli("check", "L = sum(tanh(W @ x))", "--at-file", _large_point(tmp_path), env=WIDE)
    assert "200/2,500" in human.stdout and "50/50" in human.stdout


def test_the_sample_is_the_same_on_every_run(tmp_path):
    first = check_json("L = sum(tanh(W @ x))", "--at-file", _large_point(tmp_path))[1]
    second = check_json("L = sum(tanh(W @ x))", "--at-file", _large_point(tmp_path))[1]
    assert first["variables"]["W"] == second["variables"]["W"]


def test_an_error_outside_the_sample_is_caught_by_the_random_direction(monkeypatch, tmp_path):
    from gradcli.array_check import chosen_entries

    gradient = np.zeros((50, 50))
    gradient[0, 1] = 1.0  # any gradient: the largest entries are chosen, so make the wrong one small
    sampled = set(chosen_entries((50, 50), gradient))
    unsampled = next((i, j) for i in range(1, 49) for j in range(1, 49) if (i, j) not in sampled)
    monkeypatch.setitem(FUNCTIONS, "dot", {2: _matmul_wrong_at(0, unsampled, 1e-3)})
    run, check = check_json("L = sum(tanh(dot(W, x)))", "--at-file", _large_point(tmp_path))
    assert run.code == ExitStatus.CHECK_FAILED
    w = check["variables"]["W"]
    assert w["verdict"] == MISMATCH and w["element"] is None  # the direction, not an entry
    human = run_cli("check", "L = sum(tanh(dot(W, x)))", "--at-file", _large_point(tmp_path), env=WIDE)
    assert "W along a random direction: a witness disagrees with reverse mode" in human.stdout
    assert check["variables"]["W"]["verdicts"] == {OK: 200}  # every sampled entry is right


# ----- kinks, per entry -----


def test_a_kink_at_one_entry_is_reported_at_that_entry():
    run, check = check_json("sum(relu(z) * w)", "--at", "z=[0,1,-2],w=[1,2,3]")
    assert run.code == ExitStatus.OK  # a kink is not a failure
    z = check["variables"]["z"]
    assert z["verdict"] == NOT_DIFFERENTIABLE and z["element"] == [0]
    assert z["verdicts"] == {NOT_DIFFERENTIABLE: 1, OK: 2}
    assert z["one_sided"]["left"] == 0.0 and close(z["one_sided"]["right"], 1.0, 1e-9)  # relu's slopes × w[0] = 1
    assert check["variables"]["w"]["verdict"] == OK
    human = run_cli("check", "sum(relu(z) * w)", "--at", "z=[0,1,-2],w=[1,2,3]", env=WIDE)
    assert "z[0] (1 of 3 entries): not differentiable at this point" in human.stdout
    assert "relu'(0) = 0" in human.stdout


def test_a_kink_whose_convention_differs_from_the_derivative_is_reported():
    run, check = check_json("sum(relu(z) - relu(-z))", "--at", "z=[1,0,-2]")  # f = sum(z): derivative 1
    assert run.code == ExitStatus.OK
    z = check["variables"]["z"]
    assert z["verdict"] == CONVENTION and z["element"] == [1] and z["ad"] == 0.0
    assert close(z["fd"], 1.0, 1e-9) and close(z["sympy"], 1.0, 1e-12)


# ----- the user's own numbers -----

SIGMOID_XENT = "z = w @ x + b; a = sigmoid(z); L = -(y*log(a) + (1 - y)*log(1 - a))"
SIGMOID_AT = "w=[0.2,-0.4],x=[1.0,3.0],b=0.5,y=0.0"


def test_expect_works_on_scalars_of_a_vector_program():
    right = run_cli("check", SIGMOID_XENT, "--at", SIGMOID_AT, "--data", "y", "--expect", "b=0.38",
                    "--expect-node", "z=0.3775")
    assert right.code == ExitStatus.OK, right.stdout
    wrong = run_cli("check", SIGMOID_XENT, "--at", SIGMOID_AT, "--data", "y", "--expect", "b=0.5")
    assert wrong.code == ExitStatus.CHECK_FAILED
    assert "∂L/∂b is 0.377540668798, not 0.5" in wrong.stdout


@pytest.mark.parametrize("option, expect, says", [
    ("--expect", "w=0.3", "cannot compare an expected partial with ∂L/∂w: w is a vector of 2; expect the partials "
                          "of scalars"),
    ("--expect-node", "t1=0.3", "cannot compare an expected partial with ∂L/∂t1: on vectors and matrices only "
                                "variables and named steps keep their partials"),
    ("--expect", "w=[1,2]", "--expect w=[1,2]: an expected partial is a number"),
])
def test_expectations_that_are_not_one_number_are_refused(option, expect, says):
    run = run_cli("check", SIGMOID_XENT, "--at", SIGMOID_AT, "--data", "y", option, expect)
    assert run.code == ExitStatus.BAD_INPUT and says in run.stderr and run.stdout == ""


# ----- Japanese -----


def test_the_vector_check_speaks_japanese(tmp_path):
    kink = run_cli("check", "sum(relu(z) * w)", "--at", "z=[0,1,-2],w=[1,2,3]", "--lang", "ja", env=WIDE)
    assert "SymPy が式全体を要素ごとに一つの記号で展開して記号微分した" in kink.stdout
    assert "要素" in next(line for line in kink.stdout.splitlines() if line.startswith("∂f/∂"))
    assert "z[0]（検証した 3 要素のうち 1 要素）: この点では微分できない" in kink.stdout
    large = run_cli("check", "L = sum(tanh(W @ x))", "--at-file", _large_point(tmp_path), "--lang", "ja", env=WIDE)
    assert "SymPy は実行しない: スカラーの要素が 2,651 個で上限 300 を超える" in large.stdout
    assert "有限差分は W の 2,500 要素のうち 200 要素" in large.stdout
    refused = run_cli("check", SIGMOID_XENT, "--at", SIGMOID_AT, "--data", "y", "--expect", "w=0.3", "--lang", "ja")
    assert "w は長さ 2 のベクトル" in refused.stderr
