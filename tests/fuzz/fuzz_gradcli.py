"""Coverage-guided fuzzing of the parser and the command line (issue 7, property 7), with atheris.

    .venv/bin/pip install atheris
    .venv/bin/python tests/fuzz/fuzz_gradcli.py -max_total_time=600

Further arguments go to libFuzzer (-jobs, -max_len, -runs ...). The working corpus is
.fuzz-corpus/ (git-ignored), seeded with the course examples and the token dictionary next to
this file; a failing input is written to crash-* / timeout-* in the current directory and can
be replayed with `.venv/bin/python tests/fuzz/fuzz_gradcli.py crash-<hash>`.

Each input is one run of `gradcli.cli.main` in this process. Its layout, chosen so that seeds
and crashes are readable: one flag byte, then the program, then optionally NUL and a second
text. The flag byte's bits: 0 eval instead of grad, 1 --json, 2 --cse, 3 the program on stdin,
4-5 the mode, 6-7 which values a default point uses. The modes: 0 the second text is the --at
option; 1 and 2 it is a CSV or JSON Lines file of points on stdin (`--points -`); 3 it is the
--wrt option. Without a second text every variable of the program gets a value, so inputs that
parse go on to the forward and reverse passes (and the points modes get a file of a few rows).
The program reaches gradcli as the operating system would hand it over: argv text decoded with
surrogateescape, or raw bytes on stdin.

Every run must end with exit status 0, 2 or 3, no traceback, within DEADLINE seconds; anything
else (an internal error, exit 70, a hang) is a crash. Not collected by pytest (not test_*.py).
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

import atheris

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

with atheris.instrument_imports(include=["gradcli"]):
    import gradcli.api
    import gradcli.cli
    import gradcli.engine
    import gradcli.render.json
    import gradcli.render.text
    import gradcli.report
    import gradcli.scalar
    from gradcli.errors import GradcliError
    from gradcli.parse import parse


DEADLINE = 5.0  # seconds per input; inputs are at most a few kilobytes
COMMANDS = ("grad", "eval")
VALUES = ("0.5", "-1.5", "2", "0", "-3", "1e-300", "1e300", "pi/4")
SEEDS = (
    b"(x+y)*z\0x=-2,y=5,z=-4",
    b"q = x + y; f = q * z\0x=-2,y=5,z=-4",
    b"sigmoid(w0*x0 + w1*x1 + w2)",
    b"a = x*y\nf = a + log(a, 2) - sqrt(abs(a)) + max(x, y, 1)",
    b"x^y + atan2(y, x) + relu(x) - min(x, 2x)",
    "θ² + 2·θ − ｘ÷3".encode(),
    b"-(-x)^-2 ** 3 # comment",
)


AT, CSV_POINTS, JSON_POINTS, WRT = range(4)


def invocation(raw: bytes) -> tuple[list[str], bytes | None]:
    """The argv and stdin bytes an input stands for (layout in the module docstring)."""
    if not raw:
        return ["grad", ""], None
    flags, body = raw[0], raw[1:]
    mode, choice = flags >> 4 & 3, flags >> 6
    program_bytes, _, second_bytes = body.partition(b"\0")
    program_text = program_bytes.decode("utf-8", "surrogateescape")
    second = second_bytes.decode("utf-8", "surrogateescape")
    names = variables(program_text)
    args = ["grad" if mode in (CSV_POINTS, JSON_POINTS) else COMMANDS[flags & 1]]
    if flags & 2:
        args.append("--json")
    if flags & 4:
        args.append("--cse")
    stdin = None
    if mode in (CSV_POINTS, JSON_POINTS):
        stdin = second_bytes if second else default_points(names, mode, choice)
        args += ["--points", "-"]
    elif second and mode == AT:
        args += ["--at", second]
    else:
        args += default_point(names, choice)
        if mode == WRT and second:
            args += ["--wrt", second]
    if flags & 8 and stdin is None:
        args.append("-")
        stdin = program_bytes
    else:
        args.extend(["--", program_text])
    return args, stdin


def variables(program: str) -> list[str]:
    """The program's variables, when it parses."""
    try:
        return list(parse(program).variables)
    except GradcliError:
        return []


def default_point(names: list[str], choice: int) -> list[str]:
    """`--at` binding every variable (no option for a program without variables)."""
    if not names:
        return []
    return ["--at", ",".join(f"{name}={VALUES[(choice + k) % len(VALUES)]}" for k, name in enumerate(names))]


def default_points(names: list[str], mode: int, choice: int) -> bytes:
    """A small CSV or JSON Lines file with a row per value, the variables as its columns."""
    rows = [[VALUES[(choice + row + k) % len(VALUES)] for k in range(len(names))] for row in range(3)]
    if mode == CSV_POINTS:
        lines = [",".join(names)] + [",".join(row) for row in rows]
    else:
        lines = ["{" + ", ".join(f'"{name}": "{value}"' for name, value in zip(names, row)) + "}" for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")


class Streams:
    """stdin, stdout and stderr of the runs, made once and emptied for each run.

    Not click's CliRunner: click caches a wrapper per stream object, so fresh streams for each
    of a million runs would grow the process by a kilobyte a run (as in pytest, where it is harmless).
    """

    def __init__(self):
        self.buffers = [io.BytesIO() for _ in range(3)]
        self.stdin, self.stdout, self.stderr = (
            io.TextIOWrapper(buffer, encoding="utf-8", errors=errors)
            for buffer, errors in zip(self.buffers, ("strict", "strict", "backslashreplace"))
        )

    def run(self, args: list[str], stdin: bytes | None) -> tuple[int, str, str]:
        for buffer in self.buffers:
            buffer.seek(0)
            buffer.truncate()
        self.buffers[0].write(stdin or b"")
        self.buffers[0].seek(0)
        saved = sys.stdin, sys.stdout, sys.stderr
        sys.stdin, sys.stdout, sys.stderr = self.stdin, self.stdout, self.stderr
        try:
            code = gradcli.cli.main(args)
        finally:
            self.stdout.flush()
            self.stderr.flush()
            sys.stdin, sys.stdout, sys.stderr = saved
        out, err = (buffer.getvalue().decode("utf-8", "replace") for buffer in self.buffers[1:])
        return int(code), out, err


STREAMS = Streams()


def check_total(args: list[str], stdin: bytes | None) -> None:
    """Property 7: exit 0, 2 or 3, no traceback, an answer in time, and JSON that parses."""
    import json

    start = time.perf_counter()
    code, out, err = STREAMS.run(args, stdin)
    elapsed = time.perf_counter() - start
    where = f"gradcli {args!r} (stdin {stdin!r:.200})"
    assert code in (0, 2, 3), f"{where}: exit {code}\n{err}"
    assert "Traceback" not in err, f"{where}: traceback\n{err}"
    assert elapsed < DEADLINE, f"{where}: took {elapsed:.1f} s"
    if code == 0 and "--points" not in args:  # (a file of points may have no rows: then there is no output)
        assert out, f"{where}: exit 0 without output"
        if "--json" in args:
            json.loads(out)
    elif code == 0:
        for line in out.splitlines() if "--json" in args else ():
            json.loads(line)
    else:
        assert err.strip(), f"{where}: exit {code} without a message"
        assert not out or "--points" in args, f"{where}: exit {code} after printing a result"


def test_one_input(raw: bytes) -> None:
    check_total(*invocation(raw))


def seed_corpus(directory: Path) -> None:
    """The course examples and a few programs touching every part of the grammar."""
    directory.mkdir(exist_ok=True)
    if any(directory.iterdir()):
        return
    programs = list(SEEDS) + [path.read_bytes() for path in sorted((REPO / "examples").glob("*.grad"))]
    for number, program in enumerate(programs):
        for flags in (0, 1, 2, 8, 0x10, 0x20, 0x30):  # grad, eval, --json, stdin, the points and --wrt modes
            (directory / f"seed-{number}-{flags}").write_bytes(bytes([flags]) + program)


def main() -> None:
    arguments = list(sys.argv)
    if not any(not a.startswith("-") for a in arguments[1:]):  # no corpus or input file named
        corpus = REPO / ".fuzz-corpus"
        seed_corpus(corpus)
        arguments.append(str(corpus))
    if not any(a.startswith("-dict=") for a in arguments):
        arguments.append(f"-dict={Path(__file__).with_name('gradcli.dict')}")
    if not any(a.startswith("-timeout=") for a in arguments):
        arguments.append(f"-timeout={int(DEADLINE * 4)}")
    os.environ.setdefault("COLUMNS", "100")
    atheris.Setup(arguments, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
