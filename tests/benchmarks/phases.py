"""Where the time of a scale-benchmark program goes, phase by phase, inside one process.

    .venv/bin/python tests/benchmarks/phases.py chain 1000000
    .venv/bin/python tests/benchmarks/phases.py wide 1000000 --repeat 5

Prints the least CPU time (time.process_time) over the runs of each phase of `grad - --json`
after start-up: decoding, parsing, binding the point, forward, the finiteness check, the
reverse sweep (with its needs-gradient pass, and the kink diagnosis), the JSON text. Least
CPU time rather than wall time, so that other load on a shared machine shows less.
Complements run.py, which times whole processes against the reference tape.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from benchmarks import tape  # noqa: E402

parse_module = importlib.import_module("gradcli.parse")  # gradcli.parse is also the name of a function
from gradcli import api, engine  # noqa: E402
from gradcli.render import json as render_json  # noqa: E402


def phases(source: bytes, at: dict[str, float]) -> dict[str, float]:
    seconds: dict[str, float] = {}
    clock = [time.process_time()]

    def lap(name: str) -> None:
        now = time.process_time()
        seconds[name] = now - clock[0]
        clock[0] = now

    text = source.decode("utf-8-sig")
    lap("decode")
    graph = parse_module.parse(text)
    lap("parse")
    point, warnings = api.bind(graph, at)
    leaves = engine.leaf_values(graph, point)
    lap("bind + leaf values")
    values = engine.forward(graph, leaves)
    lap("forward")
    engine.check_finite(graph, values)
    lap("check finite")
    engine.needs_gradient(graph)
    lap("(needs_gradient alone)")
    grads, edges, notes = engine.backward(graph, values)
    lap("backward (needs, sweep, diagnose)")
    result = api.Result(graph, point, values, grads, edges, notes, warnings)
    render_json.dumps(render_json.gradient_object(result))
    lap("JSON")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shape", choices=["chain", "wide"])
    parser.add_argument("ops", type=int, nargs="?", default=10**6)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    source = tape.program(options.shape, options.ops).encode()
    best: dict[str, float] = {}
    for _ in range(options.repeat):
        for name, value in phases(source, tape.point(options.shape)).items():
            best[name] = min(best.get(name, value), value)
        gc.collect()
    started = time.process_time()
    built, _ = tape.build(options.shape, options.ops)
    forward = time.process_time() - started
    built.backward()
    backward = time.process_time() - started - forward
    print(f"{options.shape}, {options.ops:,} ops: least CPU time of {options.repeat} runs")
    for name, value in best.items():
        print(f"  {name:<36} {value * 1e3:8.1f} ms")
    total = sum(value for name, value in best.items() if not name.startswith("("))
    print(f"  {'total after start-up':<36} {total * 1e3:8.1f} ms")
    print(f"  {'reference tape: build+forward, backward':<36} {forward * 1e3:8.1f} ms, {backward * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
