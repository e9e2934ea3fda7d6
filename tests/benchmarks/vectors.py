"""Speed targets of vectors and matrices (issue 12), each a whole process against its reference.

    .venv/bin/python tests/benchmarks/vectors.py            # a few minutes
    .venv/bin/python tests/benchmarks/vectors.py --quick    # smaller sizes, fewer runs

- MLP: a 3-layer perceptron over a batch of 2048 with 2048-wide layers, the point read from an
  .npz and the weights' and biases' gradients saved with --save, against a hand-written NumPy
  forward and backward script doing the same (same file in, same arrays out): time ≤ 1.10×,
  peak memory ≤ 1.5×. The two outputs are compared, so a fast wrong answer cannot pass.
- Chain: 5 000 lines of `a = tanh(a)*w + a*u` on vectors of 8, against HIPS autograd computing
  the same gradient: time ≤ 0.5× (at least twice as fast). Needs `pip install autograd`.

Medians of interleaved runs; the exit status is 1 if a target is missed. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
ENVIRONMENT = {**os.environ, "PYTHONPATH": str(REPO)}
GRADCLI = [sys.executable, "-m", "gradcli"]
missed: list[str] = []

MLP_PROGRAM = """\
H1 = relu(X @ W1 + b1)
H2 = relu(H1 @ W2 + b2)
S = H2 @ W3 + b3
L = -sum(T * log_softmax(S)) / {batch}
"""

MLP_BY_HAND = """\
import sys
import numpy as np

point = np.load(sys.argv[1])
X, T = point["X"], point["T"]
W1, b1, W2, b2, W3, b3 = (point[name] for name in ("W1", "b1", "W2", "b2", "W3", "b3"))
Z1 = X @ W1 + b1; H1 = np.maximum(Z1, 0)
Z2 = H1 @ W2 + b2; H2 = np.maximum(Z2, 0)
S = H2 @ W3 + b3
shifted = S - S.max(axis=1, keepdims=True)
log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
n = X.shape[0]
L = -(T * log_softmax).sum() / n
dS = (np.exp(log_softmax) * T.sum(axis=1, keepdims=True) - T) / n
dW3 = H2.T @ dS; db3 = dS.sum(axis=0)
dZ2 = (dS @ W3.T) * (Z2 > 0)
dW2 = H1.T @ dZ2; db2 = dZ2.sum(axis=0)
dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
dW1 = X.T @ dZ1; db1 = dZ1.sum(axis=0)
with open(sys.argv[2], "wb") as stream:
    np.savez(stream, value=L, grad_W1=dW1, grad_b1=db1, grad_W2=dW2, grad_b2=db2, grad_W3=dW3, grad_b3=db3)
"""

CHAIN_BY_AUTOGRAD = """\
import sys
import autograd.numpy as anp
from autograd import grad
import numpy as np

lines = int(sys.argv[1])
rng = np.random.default_rng(0)
a0, w, u = (rng.uniform(-1, 1, 8) for _ in range(3))

def f(a0, w, u):
    a = a0
    for _ in range(lines):
        a = anp.tanh(a) * w + a * u
    return anp.sum(a)

gradient = grad(f, argnum=(0, 1, 2))(a0, w, u)
print(float(np.sum(gradient[0])))
"""


def measure(command: list[str]) -> tuple[float, int]:
    """Time and peak memory of `command`, the memory read by a small parent that waits for it alone."""
    probe = textwrap.dedent("""
        import os, subprocess, sys, time
        start = time.perf_counter()
        child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        print(time.perf_counter() - start, usage.ru_maxrss * 1024, os.waitstatus_to_exitcode(status))
    """)
    done = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, env=ENVIRONMENT, cwd=REPO,
                          text=True)
    seconds, peak, code = done.stdout.split()
    if int(code) != 0:
        raise SystemExit(f"{' '.join(command)[:200]} failed ({code}): {done.stderr[-2000:]}")
    return float(seconds), int(peak)


def medians(commands: dict[str, list[str]], repeat: int) -> dict[str, tuple[float, int]]:
    """Median time and largest peak memory of each command, interleaved so that drifts in load hit them alike."""
    runs: dict[str, list[tuple[float, int]]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            runs[name].append(measure(command))
    return {name: (statistics.median(t for t, _ in found), max(m for _, m in found)) for name, found in runs.items()}


def verdict(what: str, ours: float, reference: float, target: float, unit: str = "s") -> None:
    ratio = ours / reference
    ok = ratio <= target
    if not ok:
        missed.append(what)
    scale = (1, "s") if unit == "s" else (1 / 2**20, "MB")
    print(f"{what:<44} {ours * scale[0]:>9.3f} {scale[1]} vs {reference * scale[0]:>9.3f} {scale[1]}"
          f"  {ratio:5.2f}×  target ≤ {target}×  {'ok' if ok else 'MISSED'}")


def mlp(batch: int, width: int, repeat: int) -> None:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        labels = np.zeros((batch, width))
        labels[np.arange(batch), rng.integers(0, width, batch)] = 1.0
        point = {"X": rng.standard_normal((batch, width)), "T": labels}
        for k in (1, 2, 3):
            point[f"W{k}"] = rng.standard_normal((width, width)) / np.sqrt(width)
            point[f"b{k}"] = rng.standard_normal(width) * 0.1
        np.savez(folder / "point.npz", **point)
        (folder / "mlp.grad").write_text(MLP_PROGRAM.format(batch=batch))
        (folder / "by_hand.py").write_text(MLP_BY_HAND)
        commands = {
            "gradcli": [*GRADCLI, "grad", "--file", str(folder / "mlp.grad"), "--at-file", str(folder / "point.npz"),
                        "--data", "X,T", "--save", str(folder / "ours.npz")],  # no --json: 12 M entries as text
            "numpy": [sys.executable, str(folder / "by_hand.py"), str(folder / "point.npz"), str(folder / "theirs.npz")],
        }
        found = medians(commands, repeat)
        ours, theirs = np.load(folder / "ours.npz"), np.load(folder / "theirs.npz")
        for key in theirs.files:
            np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-9, atol=1e-12, err_msg=key)
    what = f"MLP {batch}×{width}, 3 layers, npz in, --save out"
    verdict(what + " (time)", found["gradcli"][0], found["numpy"][0], 1.10)
    verdict(what + " (peak memory)", found["gradcli"][1], found["numpy"][1], 1.5, unit="MB")


def chain(lines: int, repeat: int) -> None:
    try:
        import autograd  # noqa: F401
    except ImportError:
        print("chain: autograd is not installed (pip install autograd); skipped")
        return
    rng = np.random.default_rng(0)
    a0, w, u = (rng.uniform(-1, 1, 8) for _ in range(3))
    program = "\n".join(f"a{k + 1} = tanh(a{k})*w + a{k}*u" for k in range(lines)) + f"\nsum(a{lines})\n"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "chain.grad"
        path.write_text(program)
        vector = lambda v: "[" + ",".join(repr(float(x)) for x in v) + "]"  # noqa: E731
        at = f"a0={vector(a0)},w={vector(w)},u={vector(u)}"
        commands = {
            "gradcli": [*GRADCLI, "grad", "--file", str(path), "--at", at, "--json"],
            "autograd": [sys.executable, "-c", CHAIN_BY_AUTOGRAD, str(lines)],
        }
        found = medians(commands, repeat)
    verdict(f"chain of {lines} lines on vectors of 8 vs autograd", found["gradcli"][0], found["autograd"][0], 0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer runs")
    options = parser.parse_args()
    repeat = 3 if options.quick else 5
    chain(1000 if options.quick else 5000, repeat)
    mlp(*((512, 512) if options.quick else (2048, 2048)), repeat)
    if missed:
        print(f"missed: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
