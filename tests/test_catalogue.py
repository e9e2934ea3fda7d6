"""The bad-input catalogue (issue 7): each bad input or fault, its exit status and a fragment of its message.

The first table runs gradcli's main() in this process; the second runs real processes, for
what only a process has: pipes, signals, terminals and the environment. Cases marked
"found-by-fuzzing" or "found-by-properties" are regressions of bugs those found.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO, run_cli, run_process

OK, BAD, MATH, INTERRUPTED = 0, 2, 3, 130


def nested_parentheses(depth: int) -> str:
    return "(" * depth + "x" + ")" * depth


def unary_minuses(count: int) -> str:
    return "-" * count + "x"


def power_chain(length: int, base: str = "x") -> str:
    return "^".join([base] * length)


class Case:
    """One catalogue entry: argv (and stdin), the exit status, a fragment its output must contain."""

    def __init__(self, id, args, code, fragment, stdin=None, stream="stderr"):
        self.id, self.args, self.code, self.fragment, self.stdin, self.stream = id, args, code, fragment, stdin, stream

    def param(self):
        return pytest.param(self, id=self.id)


def grad(program: str, *options: str) -> list[str]:
    return ["grad", *options, "--", program]


def json_grad(program: str, at: str) -> list[str]:
    return ["grad", "--json", "--at", at, "--", program]


CASES = [
    # ----- empty and blank programs -----
    Case("empty", grad(""), BAD, "the program is empty"),
    Case("blank", grad("   \t "), BAD, "the program is empty"),
    Case("blank-lines", grad("\n\n;\n"), BAD, "the program is empty"),
    Case("only-a-comment", grad("# nothing here"), BAD, "the program is empty"),
    Case("empty-stdin", ["grad", "-"], BAD, "the program is empty", stdin=b""),
    Case("no-program-at-all", ["grad"], BAD, "missing the program"),
    # ----- dangling operators and unbalanced parentheses, with the column -----
    Case("dangling-plus", grad("x +", "--at", "x=1"), BAD, "'+' needs an operand after it (column 3)"),
    Case("dangling-power", grad("x ^ (y *", "--at", "x=1,y=2"), BAD, "'*' needs an operand after it (column 8)"),
    Case("leading-times", grad("* x", "--at", "x=1"), BAD, "(column 1)"),
    Case("unclosed-parenthesis", grad("2*(x+1", "--at", "x=1"), BAD, "unclosed '(': no matching ')' (column 3)"),
    Case("unbalanced-close", grad("x+1)", "--at", "x=1"), BAD, "unbalanced ')': there is no '(' to close (column 4)"),
    Case("unclosed-call", grad("1 + sin(x", "--at", "x=1"), BAD, "unclosed call of sin(: no matching ')' (column 5)"),
    Case("empty-parentheses", grad("x * ()", "--at", "x=1"), BAD, "empty parentheses (column 5)"),
    Case("column-on-line-2", grad("q = x\nf = q +* 2", "--at", "x=1"), BAD, "found '*' (line 2, column 8)"),
    Case("missing-operator", grad("x y", "--at", "x=1,y=2"), BAD, "missing operator before 'y' (write * to multiply)"),
    Case("lone-dot-found-by-fuzzing", grad("x + .", "--at", "x=1"), BAD, "unexpected character '.' (column 5)"),
    Case("nul-character", grad("x\x00", "--at", "x=1"), BAD, "unexpected character U+0000"),
    # ----- unknown functions and wrong arities -----
    Case("unknown-function", grad("foo(x)", "--at", "x=1"), BAD, "unknown function foo()"),
    Case("near-miss-function", grad("sine(x)", "--at", "x=1"), BAD, "unknown function sine(); did you mean sin?"),
    Case("too-many-arguments", grad("sin(x, y)", "--at", "x=1,y=2"), BAD, "sin() takes 1 argument, 2 given"),
    Case("too-few-arguments", grad("max(x)", "--at", "x=1"), BAD, "max() of one argument reduces a vector or a matrix"),
    Case("no-arguments", grad("exp()"), BAD, "exp() takes 1 argument, none given"),
    Case("log-three-arguments", grad("log(x, 2, 3)", "--at", "x=1"), BAD, "log() takes 1 or 2 arguments, 3 given"),
    Case("function-without-call", grad("sin + 1"), BAD, "sin is a function: call it as sin(...)"),
    Case("variable-called", grad("x + x(2)", "--at", "x=1"), BAD, "x is not a function; to multiply write x*(...)"),
    # ----- names reused -----
    Case("assigned-twice", grad("q = x; q = 2*x", "--at", "x=1"), BAD, "q is assigned twice (first on line 1)"),
    Case("assigned-after-use", grad("y = x + 1; x = 2; y", "--at", "x=1"), BAD, "x is already used as a variable"),
    Case("constant-name-assigned", grad("pi = 3; pi"), OK, "pi = … on line 1 hides the constant pi"),
    Case("function-assigned", grad("exp = 3; exp"), BAD, "exp is a function name and cannot be assigned"),
    Case("unused-statement", grad("x + 1; x * 2", "--at", "x=1"), BAD, "this expression's value is never used"),
    # ----- --at values that are not numbers -----
    Case("at-abc", grad("x*2", "--at", "x=abc"), BAD, "--at x=abc: abc is not a number"),
    Case("at-grouped-digits", grad("x*2", "--at", "x=1_0"), BAD, "digits may not be grouped with '_'"),
    Case("at-no-value", grad("x*2", "--at", "x="), BAD, "no value after x="),
    Case("at-no-equals", grad("x*2", "--at", "x"), BAD, "--at x: not name=value"),
    Case("at-bad-name", grad("x*2", "--at", "1x=2"), BAD, "is not a variable name"),
    Case("at-arabic-indic-digits", grad("x*2", "--at", "x=١٢"), BAD, "unexpected character '١'"),
    Case("at-full-width-digits-accepted", json_grad("x*2", "x=１２"), OK, '"at": {"x": 12.0}', stream="stdout"),
    Case("at-given-twice", grad("x*2", "--at", "x=1,x=2"), BAD, "x is given twice (--at, --data)"),
    Case("at-given-twice-across-options", grad("x*2", "--at", "x=1", "--at", "x=2"), BAD, "x is given twice"),
    Case("at-nan", grad("x*2", "--at", "x=nan"), BAD, "nan is not allowed: a value must be a finite number"),
    Case("at-inf", grad("x*2", "--at", "x=inf"), BAD, "inf is not allowed: a value must be a finite number"),
    Case("at-minus-infinity", grad("x*2", "--at", "x=-Infinity"), BAD, "Infinity is not allowed"),
    Case("at-too-large", grad("x*2", "--at", "x=1e400"), BAD, "too large for a double"),
    Case("at-overflowing-expression", grad("x*2", "--at", "x=exp(1000)"), BAD, "exp(1000) overflows a double"),
    Case("at-missing-variable", grad("x*y", "--at", "x=1"), BAD, "no value for y"),
    Case("at-constant", grad("x*pi", "--at", "x=1,pi=3"), BAD, "pi is a constant"),
    Case("at-intermediate", grad("q = x*2; q + 1", "--at", "x=1,q=2"), BAD, "q is computed by the program"),
    Case("at-unused-name-warns", json_grad("x*2", "x=1,u=3"), OK, "u is not used by the program"),
    Case("wrt-unknown", grad("x*2", "--at", "x=1", "--wrt", "nope"), BAD, "no variable or named intermediate 'nope'"),
    # ----- maths without a real value at the point -----
    Case("division-by-zero", grad("x/y", "--at", "x=1,y=0"), MATH, "division by zero (1 / 0)"),
    Case("zero-over-zero", grad("x/y", "--at", "x=0,y=0"), MATH, "division by zero (0 / 0)"),
    Case("log-of-negative", grad("log(x)", "--at", "x=-1"), MATH,
         "the logarithm of a negative number (-1) is not real"),
    Case("log-of-zero", grad("log(x)", "--at", "x=0"), MATH, "the logarithm of 0 is -infinity"),
    Case("log-base-zero-found-by-properties", grad("log(x, 0)", "--at", "x=2"), MATH,
         "base must be positive and not 1 (base 0)"),
    Case("log-base-one", grad("log(x, 1)", "--at", "x=2"), MATH, "base must be positive and not 1 (base 1)"),
    Case("sqrt-of-negative", grad("sqrt(x)", "--at", "x=-4"), MATH, "square root of a negative number (-4)"),
    Case("asin-outside", grad("asin(x)", "--at", "x=2"), MATH, "asin needs an argument in [-1, 1], got 2"),
    Case("cube-root-of-negative", grad("(-8)^(1/3)"), MATH, "not real ((-8)^0.333333333333)"),
    Case("zero-to-minus-one", grad("0^-1"), MATH, "zero to a negative power divides by zero (0^-1)"),
    Case("math-error-caret", grad("z = x + 1; f = log(z - 4)", "--at", "x=1"), MATH, "(column 16)"),
    # ----- x^y at x = 0 and x < 0: the documented ∂/∂y -----
    Case("power-at-zero-base", json_grad("x^y", "x=0,y=2"), OK, '"gradient": {"x": 0.0, "y": 0.0}', stream="stdout"),
    Case("power-at-negative-base", json_grad("x^y", "x=-2,y=2"), OK, '"gradient": {"x": -4.0, "y": "nan"}',
         stream="stdout"),
    Case("power-at-negative-base-warns", json_grad("x^y", "x=-2,y=2"), OK,
         "a local partial of ^ is infinite or undefined"),
    # ----- overflow: raised by Python or silent in IEEE arithmetic, reported alike -----
    Case("tower-9-9-9", grad("9^9^9"), MATH, "math error in ^: 9 ^ 387420489 overflows a double"),
    Case("power-of-power", grad("((9^9)^9999)^9999"), MATH, "387420489 ^ 9999 overflows a double (column 2)"),
    Case("exp-1000", grad("exp(1000)"), MATH, "math error in exp: exp(1000) overflows a double"),
    Case("times-overflow", grad("1e308*10"), MATH, "math error in *: 1e+308 * 10 overflows a double"),
    Case("overflow-inside-cos-found-by-fuzzing", grad("cos(x*1e308*10)", "--at", "x=1"), MATH,
         "1e+308 * 10 overflows a double"),
    Case("overflow-via-variable", grad("exp(x)", "--at", "x=1000"), MATH, "exp(1000) overflows a double"),
    # ----- numbers a double cannot hold -----
    Case("5000-digit-literal", grad("1" * 5000 + " * x", "--at", "x=1"), BAD,
         "the number 11111111…11111111 (5000 characters) is too large for a double"),
    Case("5000-digit-fraction-rounds", json_grad("0." + "3" * 5000 + " * x", "x=1"), OK, '"value": 0.3333333333333333',
         stream="stdout"),
    Case("1e400", grad("1e400"), BAD, "the number 1e400 is too large for a double"),
    Case("1e-400-underflows-to-zero", json_grad("x + 1e-400", "x=1"), OK, '"value": 1.0', stream="stdout"),
    # ----- very deep and very long programs, on standard input -----
    Case("100000-nested-parentheses", ["grad", "-", "--json", "--at", "x=3"], OK, '"gradient": {"x": 1.0}',
         stdin=nested_parentheses(100_000).encode(), stream="stdout"),
    Case("100000-unary-minuses", ["grad", "-", "--json", "--at", "x=3"], OK, '"value": 3.0, "gradient": {"x": 1.0}',
         stdin=unary_minuses(100_000).encode(), stream="stdout"),
    Case("100001-unary-minuses", ["grad", "-", "--json", "--at", "x=3"], OK, '"value": -3.0, "gradient": {"x": -1.0}',
         stdin=unary_minuses(100_001).encode(), stream="stdout"),
    Case("100000-long-power-chain", ["grad", "-", "--json", "--at", "x=1"], OK, '"value": 1.0, "gradient": {"x": 1.0}',
         stdin=power_chain(100_000).encode(), stream="stdout"),
    Case("100000-long-power-chain-overflows", ["grad", "-"], MATH, "overflows a double",
         stdin=power_chain(100_000, "2").encode()),
    # ----- bytes and text that are not what they seem -----
    Case("undecodable-stdin", ["grad", "-", "--at", "x=1"], BAD, "not valid UTF-8 (byte 0xff at offset 1)",
         stdin=b"x\xff"),
    Case("undecodable-argument-found-by-fuzzing", grad("x # \udce4", "--at", "x=1", "--json"), BAD,
         "not valid UTF-8 (byte 0xe4 at offset 4)"),
    Case("points-bare-carriage-return-found-by-fuzzing", grad("x*2", "--points", "-"), BAD,
         "standard input, line 1: not valid CSV", stdin=b"x\r1\n2\n"),
    Case("byte-order-mark", ["grad", "-", "--json", "--at", "x=2"], OK, '"value": 4.0', stdin="\ufeffx*2".encode(),
         stream="stdout"),
    Case("rich-markup-in-a-message", grad("x + [bold red]y[/]", "--at", "x=1"), BAD, "x + [bold red]y[/]"),
    Case("rich-markup-in-a-wrt-name", grad("x*2", "--at", "x=1", "--wrt", "[bold]x"), BAD, "'[bold]x'"),
    Case("terminal-escape-in-program", grad("x + \x1b[31m", "--at", "x=1"), BAD, "unexpected character U+001B"),
    # ----- usage -----
    Case("program-starting-with-minus", ["grad", "-log(p)", "--at", "p=0.5"], BAD,
         "goes last, after '--', with the options before it: gradcli grad --at ... -- '-log(p)'"),
    Case("at-value-with-an-assignment", grad("x", "--at", "x=q=1"), BAD, "--at x=q=1: q=1 is not a value"),
    Case("tolerance-nan", ["check", "x*y", "--at", "x=1,y=2", "--rtol", "nan", "--json"], BAD,
         "'nan' is not a finite number"),
    Case("tolerance-inf", ["grad", "x*y", "--at", "x=1,y=2", "--check", "--atol", "inf"], BAD,
         "'inf' is not a finite number"),
    Case("timeout-beyond-the-clock", ["check", "x*y", "--at", "x=1,y=2", "--check-timeout", "1e10"], BAD,
         "is not in the range 0<x<=1000000"),
    Case("timeout-nan", ["diff", "x*y", "--timeout", "nan"], BAD, "'nan' is not a finite number"),
    Case("unknown-option", ["grad", "x", "--frobnicate"], BAD, "No such option"),
    Case("precision-out-of-range", ["grad", "x", "--at", "x=1", "--precision", "0"], BAD, "--precision"),
    Case("program-twice", ["grad", "x", "--file", "p.grad"], BAD, "either as EXPR or with --file, not both"),
    Case("missing-file", ["grad", "--file", "/nonexistent/p.grad"], BAD, "cannot read /nonexistent/p.grad"),
]


@pytest.mark.parametrize("case", [case.param() for case in CASES])
def test_catalogue(case):
    run = run_cli(*case.args, input=case.stdin)
    output = run.stderr if case.stream == "stderr" else run.stdout
    assert run.code == case.code, run.stderr
    assert case.fragment in output, output
    assert "Traceback" not in run.stderr
    if case.code != OK:
        assert run.stdout == ""  # errors go to stderr only: a script's pipe gets nothing half-done
    if "--json" in case.args and case.code == OK:
        json.loads(run.stdout)


def test_the_catalogue_has_at_least_40_cases_with_unique_names():
    assert len(CASES) + len(PROCESS_CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)


# ----- faults only a real process has -----


def wide_program(variables: int) -> tuple[str, str]:
    names = [f"v{k}" for k in range(variables)]
    return " + ".join(names), ",".join(f"{name}=1" for name in names)


def test_output_piped_into_head_stops_quietly():
    """`gradcli grad ... | head -1`: the reader leaves after one line; no BrokenPipeError, exit 0."""
    program, at = wide_program(5000)  # a table far bigger than a pipe's buffer
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    shell = f"{sys.executable} -m gradcli grad - --at {at} 2>err.txt | head -1; echo ${{PIPESTATUS[0]}} > status.txt"
    done = subprocess.run(["bash", "-c", shell], input=program.encode(), capture_output=True, env=env, timeout=120,
                          cwd=_scratch())
    assert done.stdout.decode() == "f = 5000\n"
    assert (_scratch() / "status.txt").read_text().strip() == "0"
    assert (_scratch() / "err.txt").read_text() == ""


def _scratch():
    import tempfile
    from pathlib import Path

    path = Path(tempfile.gettempdir()) / f"gradcli-catalogue-{os.getpid()}"
    path.mkdir(exist_ok=True)
    return path


def test_ctrl_c_during_a_long_run_exits_130_with_one_line(tmp_path):
    """SIGINT while a two-million-node program is being differentiated."""
    program = tmp_path / "long.grad"
    program.write_text("".join(f"a{k + 1} = sin(a{k})*x + a{k}*y\n" for k in range(500_000)))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(program, "rb") as stdin:
        process = subprocess.Popen([sys.executable, "-m", "gradcli", "grad", "-", "--at", "a0=0.5,x=0.6,y=0.3"],
                                   stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    time.sleep(1.5)  # well inside the parse and the sweeps, which take several seconds
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == INTERRUPTED
    assert err.decode() == "gradcli: interrupted\n"
    assert out == b""


def _run_with_terminal(env: dict) -> str:
    run = run_process("grad", "w*x/3 + y", "--at", "w=2,x=-1.234567,y=5", env=env)
    assert run.code == OK, run.stderr
    return run.stdout


NUMBERS = ("4.17695533333", "-0.411522333333", "0.666666666667", "-1.234567")
COLOUR = re.compile(r"\x1b\[(?:\d+;)*(?:3\d|9\d|38;)")


@pytest.mark.parametrize("env, colour", [
    ({"FORCE_COLOR": "1"}, True),  # the witness: colour does show when forced
    ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
    ({"FORCE_COLOR": "1", "TERM": "dumb"}, False),
    ({"TERM": "dumb"}, False),
    ({"NO_COLOR": "1"}, False),
], ids=["forced-colour", "NO_COLOR", "TERM=dumb-forced", "TERM=dumb", "NO_COLOR-plain"])
def test_colour_follows_no_color_and_term(env, colour):
    output = _run_with_terminal(env)
    assert bool(COLOUR.search(output)) == colour, repr(output)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output)
    for number in NUMBERS:
        assert number in plain


@pytest.mark.parametrize("columns", ["20", "1"])
def test_a_narrow_terminal_wraps_lines_but_never_cuts_a_number(columns):
    output = _run_with_terminal({"COLUMNS": columns})
    assert "…" not in output
    for number in NUMBERS:
        assert number in output


def test_a_long_name_does_not_push_the_numbers_out_of_an_80_column_table():
    name = "a" * 70
    run = run_process("grad", f"{name}*x/3", "--at", f"{name}=2,x=-1.234567", env={"COLUMNS": "80"})
    assert run.code == OK
    assert "…" not in run.stdout and "-0.411522333333" in run.stdout and "0.666666666667" in run.stdout


@pytest.mark.slow
def test_a_10_mb_program_on_standard_input():
    """About 1.1 million nodes in 10 MB: read, differentiated and printed as one JSON object."""
    statements, size, lines = [], 0, 0
    while size < 10 * 1024 * 1024:
        statements.append(f"a{lines + 1} = sin(a{lines})*x + a{lines}*y\n")
        size += len(statements[-1])
        lines += 1
    program = "".join(statements).encode()
    run = run_process("grad", "-", "--at", "a0=0.5,x=0.6,y=0.3", "--json", input=program, timeout=300)
    assert run.code == OK, run.stderr[-2000:]
    document = run.json()
    assert document["output"] == f"a{lines}"
    assert all(isinstance(document["gradient"][name], float) for name in ("a0", "x", "y"))


PROCESS_CASES = ["head-1", "ctrl-c", "NO_COLOR", "TERM=dumb", "COLUMNS=20", "10-MB-stdin", "long-name-80-columns"]
