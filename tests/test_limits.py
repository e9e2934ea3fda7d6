"""The documented limits (issue 7): each has its own exit-2 error, just above it, and works just below it.

The limits are lowered with monkeypatch, so the tests need no huge inputs; a few tests check that
the real values hold at full size, that a limit stops the work early instead of after building
everything, and that nothing reaches a RecursionError or a MemoryError traceback.
"""

from __future__ import annotations

import importlib
import os
import resource
import subprocess
import sys
import time

import pytest
from conftest import REPO, run_cli

import gradcli.cli.inputs
from gradcli.errors import LimitError
from gradcli.parse import parse

parse_module = importlib.import_module("gradcli.parse")  # not gradcli.parse: the package exports parse() by that name


@pytest.fixture
def limits(monkeypatch):
    """Set small limits: limits(chars=100, nodes=50, depth=10)."""

    def lower(chars: int | None = None, nodes: int | None = None, depth: int | None = None) -> None:
        if chars is not None:
            monkeypatch.setattr(parse_module, "MAX_SOURCE_CHARS", chars)
            monkeypatch.setattr(gradcli.cli.inputs, "MAX_SOURCE_CHARS", chars)
        if nodes is not None:
            monkeypatch.setattr(parse_module, "MAX_NODES", nodes)
        if depth is not None:
            monkeypatch.setattr(parse_module, "MAX_DEPTH", depth)

    return lower


def test_the_documented_values():
    """The README's numbers: 64 MiB of program text, 5 million nodes, 1 million levels of nesting."""
    assert parse_module.MAX_SOURCE_CHARS == 64 * 1024 * 1024
    assert parse_module.MAX_NODES == 5_000_000
    assert parse_module.MAX_DEPTH == 1_000_000


# ----- program size in characters -----


def padded(length: int) -> str:
    """`x` followed by spaces: a program of exactly `length` characters and one node."""
    return "x" + " " * (length - 1)


@pytest.mark.parametrize("how", ["argument", "stdin", "file"])
def test_source_characters_just_below_and_just_above(limits, how, tmp_path):
    limits(chars=100)
    for length, code in ((100, 0), (101, 2)):
        program = padded(length)
        if how == "argument":
            run = run_cli("grad", program, "--at", "x=1")
        elif how == "stdin":
            run = run_cli("grad", "-", "--at", "x=1", input=program.encode())
        else:
            path = tmp_path / "program.grad"
            path.write_text(program)
            run = run_cli("grad", "--file", str(path), "--at", "x=1")
        assert run.code == code, run.stderr
        if code:
            assert run.stderr.startswith("gradcli: error: the program has 101 characters; the limit is 100")


def test_source_characters_count_characters_not_bytes(limits):
    limits(chars=100)
    assert run_cli("grad", "-", "--at", "θ=1", input=("θ" + " " * 99).encode()).code == 0  # 101 bytes, 100 characters


def test_more_bytes_than_any_program_within_the_limit_is_a_limit_error_not_a_decoding_one(limits):
    """Standard input is read up to 4 bytes a character: past that the cut may split a character."""
    limits(chars=100)
    run = run_cli("grad", "-", input="θ".encode() * 201)  # 402 bytes: more than 4 × 100
    assert run.code == 2
    assert "the program has more than 400 bytes; the limit is 100 characters" in run.stderr
    assert "UTF-8" not in run.stderr


def test_the_api_checks_the_length_too(limits):
    limits(chars=10)
    parse("x" + " " * 9)
    with pytest.raises(LimitError, match="the program has 11 characters; the limit is 10"):
        parse("x" + " " * 10)


# ----- nodes -----


def sum_of(terms: int) -> str:
    """x + x + ... : `terms` leaves of which only the first is a node, so terms nodes in all."""
    return " + ".join(["x"] * terms)


@pytest.mark.parametrize("shape, program", [
    ("one statement", lambda nodes: sum_of(nodes)),
    ("many statements", lambda nodes: "a1 = x\n" + "".join(f"a{k} = a{k - 1} + 1\n" for k in range(2, nodes // 2 + 1))
     + ("" if nodes % 2 == 0 else "a_last = -x\n")),
    ("unary minuses", lambda nodes: "-" * (nodes - 1) + "x"),
    ("calls", lambda nodes: "exp(" * (nodes - 1) + "x" + ")" * (nodes - 1)),
], ids=["one-statement", "many-statements", "unary-minuses", "calls"])
def test_nodes_just_below_and_just_above(limits, shape, program):
    limits(nodes=50)
    assert len(parse(program(50))) == 50
    with pytest.raises(LimitError, match="the program has more than 50 nodes, the limit"):
        parse(program(51))
    run = run_cli("grad", "-", "--at", "x=0.5", input=program(51).encode())
    assert run.code == 2 and "more than 50 nodes" in run.stderr


def test_the_node_limit_stops_a_huge_statement_early(limits):
    """A million-term sum with a limit of 1 000 nodes: the caret is near the 1 000th node, not at the end."""
    limits(nodes=1000)
    with pytest.raises(LimitError) as caught:
        parse(sum_of(1_000_000))
    start, _ = caught.value.span
    assert start < 10 * 1000  # "x + " is 4 characters a node


# ----- nesting depth -----


@pytest.mark.parametrize("program", [
    lambda depth: "(" * depth + "x" + ")" * depth,
    lambda depth: "-" * depth + "x",
    lambda depth: "^".join(["x"] * (depth + 1)),  # right-associative: every ^ waits for its right side
    lambda depth: "sin(" * depth + "x" + ")" * depth,
    lambda depth: "(-" * (depth // 2) + "x" + ")" * (depth // 2),
], ids=["parentheses", "unary-minuses", "power-chain", "calls", "mixed"])
def test_depth_just_below_and_just_above(limits, program):
    limits(depth=100)
    parse(program(100))
    with pytest.raises(LimitError, match="the expression nests more than 100 levels deep"):
        parse(program(102))  # 102: the mixed shape nests in steps of two
    run = run_cli("grad", "-", "--at", "x=1", input=program(102).encode())
    assert run.code == 2 and "nests more than 100 levels deep" in run.stderr
    assert "(column " in run.stderr  # with a caret where it happened


def test_a_long_left_associative_sum_is_not_deep(limits):
    limits(depth=10)
    assert len(parse(sum_of(1000))) == 1000


# ----- full size -----


@pytest.mark.slow
def test_a_million_levels_of_parentheses_parse_and_one_more_is_refused():
    depth = parse_module.MAX_DEPTH
    graph = parse("(" * depth + "x" + ")" * depth)
    assert len(graph) == 1
    with pytest.raises(LimitError, match="nests more than 1,000,000 levels"):
        parse("(" * (depth + 1) + "x" + ")" * (depth + 1))


def run_limited(args: list[str], stdin: bytes, memory: int | None = None, timeout: float = 120):
    """gradcli in a process of its own, optionally with its address space capped (bytes)."""

    def cap():
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "gradcli", *args], input=stdin, capture_output=True, env=env,
                          timeout=timeout, preexec_fn=cap)
    return done.returncode, done.stderr.decode(errors="replace"), time.perf_counter() - start


def test_a_program_too_big_for_the_machine_ends_with_exit_2_not_a_memory_error_traceback():
    """Under a 400 MB address-space cap, a 2-million-node program runs out of memory: a clear message."""
    program = ("x*y + " * 1_000_000 + "x").encode()
    code, stderr, _ = run_limited(["grad", "-", "--at", "x=1,y=2", "--json"], program, memory=400 * 1024 * 1024)
    assert code == 2, stderr
    assert stderr == "gradcli: error: out of memory: the input is too large for this machine\n"


@pytest.mark.slow
@pytest.mark.parametrize("program, message", [
    (b"-" * (20 * 1024 * 1024) + b"x", "nests more than 1,000,000 levels deep"),
    (b"(" * (20 * 1024 * 1024), "nests more than 1,000,000 levels deep"),
    (("x+" * (8 * 1024 * 1024)).encode() + b"x", "more than 5,000,000 nodes"),
], ids=["20-MB-of-minuses", "20-MB-of-parentheses", "16-MB-sum"])
def test_a_limit_stops_the_work_early_in_bounded_memory(program, message):
    """Past a limit the error comes without building the rest: under 1.5 GB (measured: 0.3 to 1 GB)."""
    code, stderr, elapsed = run_limited(["grad", "-", "--at", "x=1"], program, memory=1536 * 1024 * 1024)
    assert code == 2, stderr[-1000:]
    assert message in stderr
    assert elapsed < 60


# ----- no recursion anywhere -----


def test_deep_programs_need_no_recursion():
    """With Python's recursion limit just above the test's own depth, 100 000-deep programs still run."""
    depth = 0
    frame = sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back
    deep = {
        "parentheses": "(" * 100_000 + "x" + ")" * 100_000,
        "minuses": "-" * 100_000 + "x",
        "power chain": "^".join(["x"] * 100_000),
        "calls": "sin(" * 100_000 + "x" + ")" * 100_000,
    }
    graphs = {name: parse(text) for name, text in deep.items()}  # parsed before the limit is lowered
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + 120)  # room for click, Rich and gradcli's own calls, not for a walk down a tree
    try:
        for name, text in deep.items():
            for options in ([], ["--json"]):
                run = run_cli("grad", "-", "--at", "x=0.5", *options, input=text.encode())
                assert run.code == 0, (name, run.stderr[-500:])
            graph = graphs[name]
            assert parse(graph.program()).program() == graph.program()
            graph.expression()
            str(graph)
    finally:
        sys.setrecursionlimit(old)
