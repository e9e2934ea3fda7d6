"""gradcli's speed targets (issue 6), measured side by side in one run.

    .venv/bin/python tests/benchmarks/run.py            # a few minutes
    .venv/bin/python tests/benchmarks/run.py --quick    # fewer runs, sizes up to 10^5

Each line gives medians of several runs, the ratio to its reference and the target; the exit
status is 1 if a target is missed. Whole processes are timed with subprocess + perf_counter,
with the interpreter running this script. Not collected by pytest (the file is not test_*.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from benchmarks import tape  # noqa: E402

PYTHON = sys.executable
ENVIRONMENT = {**os.environ, "PYTHONPATH": str(REPO)}
CIRCUIT = ["grad", "(x+y)*z", "--at", "x=-2,y=5,z=-4"]
NEURON = "sigmoid(w0*x0 + w1*x1 + w2)"
SIZES = (10**4, 10**5, 10**6)
missed: list[str] = []


def run(arguments: list[str], stdin: bytes | None = None) -> float:
    """Seconds for one whole process; it must succeed."""
    start = time.perf_counter()
    done = subprocess.run(arguments, input=stdin, capture_output=True, env=ENVIRONMENT, cwd=REPO)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(arguments)[:200]} failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return elapsed


def medians(commands: dict[str, list[str]], repeat: int) -> dict[str, float]:
    """Median time of each command, the commands interleaved so that drifts in load hit them alike."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for name, command in commands.items():  # warm the file cache
        run(command)
    for _ in range(repeat):
        for name, command in commands.items():
            times[name].append(run(command))
    return {name: statistics.median(values) for name, values in times.items()}


def median_of(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def report(label: str, measured: str, reference: str, ratio: float, target: float | None, unit: str = "×") -> None:
    """One line: what, the measurement, the reference, the ratio and the target (None: for information)."""
    if target is None:
        verdict = "(the target applies at 10^6 ops)"
    elif ratio <= target:
        verdict = f"target ≤{target:g}{unit}  ok"
    else:
        verdict = f"target ≤{target:g}{unit}  MISSED"
        missed.append(" ".join(label.split()))
    print(f"{label:<36} {measured:>12}  vs {reference:<32} {ratio:7.2f}{unit}  {verdict}", flush=True)


def milliseconds(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f} ms"


def startup(repeat: int) -> None:
    # What users run: the `gradcli` script installed next to this interpreter (else `python -m
    # gradcli`, which also pays for runpy). PYTHONPATH makes either run this checkout's code.
    script = Path(PYTHON).with_name("gradcli")
    module = [str(script)] if script.exists() else [PYTHON, "-m", "gradcli"]
    times = medians({
        "json": [*module, *CIRCUIT, "--json"],
        "table": [*module, *CIRCUIT],
        "click": [PYTHON, "-c", "import click"],
        "rich": [PYTHON, "-c", "import click, rich.table, rich.console"],
    }, repeat)
    report("start-up: grad --json", milliseconds(times["json"]), f"import click {milliseconds(times['click'])}",
           times["json"] / times["click"], 1.3)
    report("start-up: grad (Rich table)", milliseconds(times["table"]),
           f"import click, rich {milliseconds(times['rich'])}", times["table"] / times["rich"], 1.3)


def scale(shape: str, sizes: tuple[int, ...], repeat: int) -> dict[int, float]:
    """End-to-end CLI time per size against the reference tape; checks that both give the same value."""
    at = ",".join(f"{name}={value!r}" for name, value in tape.point(shape).items())
    command = [PYTHON, "-m", "gradcli", "grad", "-", "--at", at, "--json"]
    seconds = {}
    for ops in sizes:
        source = tape.program(shape, ops).encode()
        done = subprocess.run(command, input=source, capture_output=True, env=ENVIRONMENT, cwd=REPO)
        expected_value, expected_gradient = tape.reference(shape, ops)
        if done.returncode or json.loads(done.stdout)["value"] != expected_value:
            raise SystemExit(f"{shape} at {ops:,} ops: gradcli disagrees with the tape: {done.stderr.decode()[-500:]}")
        runs = repeat if ops < 10**6 else max(3, repeat // 2)
        cli = statistics.median(run(command, source) for _ in range(runs))
        reference = median_of(lambda: tape.reference(shape, ops), runs)
        seconds[ops] = cli
        report(f"{shape} {ops:>9,} ops, stdin → --json", milliseconds(cli),
               f"plain-Python tape {milliseconds(reference)}", cli / reference, 3 if ops >= 10**6 else None)
    for smaller, larger in zip(sizes, sizes[1:]):
        growth = seconds[larger] / seconds[smaller]
        report(f"{shape} linearity {smaller:.0e} → {larger:.0e} ops", f"×{growth:.1f} time",
               f"×{larger // smaller} ops (ratio: time/ops growth)", growth / (larger / smaller), 1.25)
    return seconds


def peak_memory(shape: str, ops: int) -> None:
    """Peak RSS of the gradcli process alone: a fresh parent reports its only child's maxrss."""
    at = ",".join(f"{name}={value!r}" for name, value in tape.point(shape).items())
    probe = (
        "import resource, subprocess, sys\n"
        f"subprocess.run([sys.executable, '-m', 'gradcli', 'grad', '-', '--at', {at!r}, '--json'],"
        " stdin=sys.stdin, stdout=subprocess.DEVNULL, check=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    done = subprocess.run([PYTHON, "-c", probe], input=tape.program(shape, ops).encode(), capture_output=True,
                          env=ENVIRONMENT, cwd=REPO, check=True)
    megabytes = int(done.stdout) / 1024  # ru_maxrss is in KiB on Linux
    report(f"peak memory: {shape} {ops:,} ops", f"{megabytes:,.0f} MB", "the limit 600 MB", megabytes, 600, " MB")


def batch_throughput(rows: int, repeat: int) -> None:
    import numpy as np

    from gradcli.batch import gradients

    random = np.random.default_rng(231)
    columns = {name: random.normal(size=rows) for name in ("w0", "x0", "w1", "x1", "w2")}

    def by_hand(w0, x0, w1, x1, w2):
        f = 1.0 / (1.0 + np.exp(-(w0 * x0 + w1 * x1 + w2)))
        local = (1.0 - f) * f
        return f, {"w0": x0 * local, "x0": w0 * local, "w1": x1 * local, "x1": w1 * local, "w2": local}

    ours = gradients(NEURON, columns)
    value, gradient = by_hand(**columns)
    if not (np.allclose(ours.value, value, rtol=1e-12) and all(np.allclose(ours.gradient[k], gradient[k], rtol=1e-9)
                                                               for k in gradient)):
        raise SystemExit("batch: gradcli.batch.gradients disagrees with the hand-written NumPy gradient")
    hand = median_of(lambda: by_hand(**columns), repeat)
    api = median_of(lambda: gradients(NEURON, columns), repeat)
    report(f"batch: neuron at {rows:,} points", milliseconds(api), f"hand-written NumPy {milliseconds(hand)}",
           api / hand, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs; programs up to 10^5 operations")
    parser.add_argument("--repeat", type=int, help="runs per measurement (default 15 for start-up, 5 otherwise)")
    options = parser.parse_args()
    repeat = options.repeat or (5 if options.quick else 15)
    sizes = SIZES[:2] if options.quick else SIZES
    print(f"gradcli benchmark — Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; medians of runs", flush=True)
    startup(repeat)
    for shape in ("chain", "wide"):
        scale(shape, sizes, max(3, repeat // 3))
    for shape in ("chain", "wide"):
        peak_memory(shape, sizes[-1])
    batch_throughput(10**6, max(5, repeat // 2))
    if missed:
        print(f"missed: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
