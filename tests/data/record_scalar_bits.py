"""Record scalar-bits.jsonl: the exact value and partials (as repr) of scalar programs.

The file pins the scalar path bit for bit while vectors and matrices are added beside it
(test_scalar_bits.py compares every run with it). It was recorded once, before the array path
existed; record it again only for a change that is meant to alter scalar results, and say so in
the commit. Run from the repository: `python3 tests/data/record_scalar_bits.py`.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import gradcli
from gradcli.ops import OPERATIONS, Call, Infix, Prefix

DATA = Path(__file__).parent
REPO = DATA.parent.parent
# Points that avoid every domain edge and kink, one to three inputs deep.
POINTS = ((0.75, -1.25, 0.5), (-0.3, 0.7, 2.0), (1.9, 0.35, -0.8))


def programs():
    """(program, point) pairs: the course examples, the example files, and every op of the table."""
    with open(DATA / "seed-examples.jsonl", encoding="utf-8") as stream:
        for line in stream:
            case = json.loads(line)
            yield case["expression"], case["at"]
    for path in sorted((REPO / "examples").glob("*.grad")):
        command = path.read_text(encoding="utf-8").splitlines()[1].lstrip("# ")
        at = shlex.split(command)[shlex.split(command).index("--at") + 1]
        yield path.read_text(encoding="utf-8"), {k: float(v) for k, v in (pair.split("=") for pair in at.split(","))}
    for op in OPERATIONS:
        if not op.syntax:
            continue
        syntax = op.syntax[0]
        arity = op.arity or 3
        names = ["x", "y", "z"][:arity]
        if isinstance(syntax, Infix):
            inner = f"x {syntax.symbols[0]} y"
        elif isinstance(syntax, Prefix):
            inner = f"{syntax.symbol}x"
        elif isinstance(syntax, Call):
            inner = f"{syntax.names[0]}({', '.join(names)})"
        # a chain around the op, so its partials meet upstream gradients that are not 1
        source = f"u = {inner}; sin(u) * (x + 2)"
        for point in POINTS:
            at = dict(zip(names, point))
            if op.name in ("log", "log2", "log10", "sqrt", "logb"):
                at = {name: abs(value) + 0.5 for name, value in at.items()}
            if op.name in ("pow",):
                at["x"] = abs(at["x"]) + 0.25
            if op.name in ("asin", "acos"):
                at = {name: value / 2.5 for name, value in at.items()}
            yield source, at


def record() -> list[dict]:
    rows = []
    for source, at in programs():
        result = gradcli.grad(source, at)
        rows.append({"program": source, "at": at, "value": repr(result.value),
                     "gradient": {name: repr(value) for name, value in result.gradient.items()}})
    return rows


if __name__ == "__main__":
    lines = [json.dumps(row, ensure_ascii=False) for row in record()]
    (DATA / "scalar-bits.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} programs recorded")
    assert not re.search(r"nan|inf", "\n".join(lines)), "a recorded program is not differentiable at its point"
