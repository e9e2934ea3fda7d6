"""The command line: exit codes, error messages and their carets, input sources, options, JSON.

Expected columns are computed from the input string (where the culprit is), expected numbers
come from closed forms, Python floats or the course notes; nothing is copied from gradcli's own
output. Every run also checks that no traceback reached the user.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import subprocess
import sys
import tomllib
import unicodedata

import pytest
from conftest import REPO, Run, run_cli, run_process

import gradcli
from gradcli import ExitStatus

CIRCUIT = "(x+y)*z"
CIRCUIT_AT = "x=-2,y=5,z=-4"


def cli(*args: str, input: str | bytes | None = None, env: dict | None = None) -> Run:
    run = run_cli(*args, input=input, env=env)
    assert "Traceback" not in run.stderr, run.stderr
    assert "Traceback" not in run.stdout
    return run


def reject_constant(name):
    raise ValueError(f"{name} is not RFC 8259 JSON")


def one_json_object(stdout: str) -> dict:
    """Exactly one RFC 8259 object on stdout (no NaN/Infinity literals, nothing after it but a newline)."""
    decoder = json.JSONDecoder(parse_constant=reject_constant)
    document, end = decoder.raw_decode(stdout)
    assert stdout[end:] == "\n", repr(stdout[end:])
    assert isinstance(document, dict)
    return document


# ----- exit codes -----


def test_exit_0_ok():
    run = cli("grad", CIRCUIT, "--at", CIRCUIT_AT)
    assert run.code == ExitStatus.OK == 0
    assert run.stderr == ""


def test_exit_1_when_an_expected_value_is_wrong():
    run = cli("check", CIRCUIT, "--at", CIRCUIT_AT, "--expect", "x=4")  # ∂f/∂x is z = -4
    assert run.code == ExitStatus.CHECK_FAILED == 1
    right = cli("check", CIRCUIT, "--at", CIRCUIT_AT, "--expect", "x=-4,y=-4,z=3")  # the CS231n numbers
    assert right.code == 0


@pytest.mark.parametrize("args, fragment", [
    (["grad", "x", "--frobnicate"], "No such option"),  # usage
    (["grad", "x", "--at", "x=1", "--precision", "0"], "--precision"),  # usage: out of range
    (["frobnicate"], "No such command"),  # usage
    (["grad"], "missing the program"),  # usage
    (["grad", "x +* y", "--at", "x=1,y=2"], "found '*'"),  # parse
    (["grad", "x y", "--at", "x=1,y=2"], "missing operator"),  # parse
    (["grad", "x*y", "--at", "x=1"], "no value for y"),  # binding
    (["grad", "x*pi", "--at", "x=1,pi=3"], "pi is a constant"),  # binding
    (["grad", "x", "--at", "x=abc"], "--at x=abc: abc is not a number"),  # binding
    (["grad", "x", "--at", "x=1", "--wrt", "nope"], "'nope'"),  # binding
    (["eval", "x y", "--at", "x=1,y=2"], "missing operator"),
], ids=lambda value: value if isinstance(value, str) else " ".join(value)[:40])
def test_exit_2_usage_parse_and_binding(args, fragment):
    run = cli(*args)
    assert run.code == ExitStatus.BAD_INPUT == 2, run.stderr
    assert fragment in run.stderr
    assert run.stdout == ""


@pytest.mark.parametrize("program, at, fragment", [
    ("log(x)", "x=-1", "math error in log"),
    ("x/y", "x=1,y=0", "division by zero"),
    ("x^0.5", "x=-2", "not real"),
    ("exp(x)", "x=1000", "overflows a double"),
    ("sqrt(x)", "x=-4", "square root of a negative number"),
])
@pytest.mark.parametrize("as_json", [False, True], ids=["human", "json"])
def test_exit_3_math_error(program, at, fragment, as_json):
    run = cli("grad", program, "--at", at, *(["--json"] if as_json else []))
    assert run.code == ExitStatus.MATH_ERROR == 3
    assert fragment in run.stderr
    assert run.stdout == ""  # no half-written JSON for a script to trip on


def test_exit_70_on_an_internal_error_without_a_traceback(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("planted fault")

    monkeypatch.setattr(gradcli.api, "differentiate", broken)
    run = cli("grad", CIRCUIT, "--at", CIRCUIT_AT)
    assert run.code == ExitStatus.INTERNAL == 70
    assert "internal error: RuntimeError: planted fault" in run.stderr
    assert "gradcli --traceback grad" in run.stderr  # where the option goes
    debugging = run_cli("--traceback", "grad", CIRCUIT, "--at", CIRCUIT_AT)
    assert debugging.code == 70
    assert "Traceback (most recent call last)" in debugging.stderr and "planted fault" in debugging.stderr


@pytest.mark.parametrize("args, code", [
    (["grad", "log(x)", "--at", "x=-1"], 3),
    (["grad", "x +", "--at", "x=1"], 2),
])
def test_traceback_keeps_the_exit_code(args, code):
    run = run_cli("--traceback", *args)
    assert run.code == code
    assert "Traceback (most recent call last)" in run.stderr and "gradcli: error:" in run.stderr


# ----- error messages: one message, the line, a caret under the column -----


def display_width(text: str) -> int:
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def caret_of(stderr: str) -> tuple[str, str, int, int]:
    """(the echoed source line, the message line, caret offset in cells, caret length) from an error."""
    lines = stderr.rstrip("\n").split("\n")
    assert len(lines) == 3, lines  # message, source line, caret line
    message, echoed, carets = lines
    gutter = carets.index("| ") + 2
    assert echoed.index("| ") + 2 == gutter
    start = carets.index("^")
    assert set(carets[start:]) == {"^"}
    return echoed[gutter:], message, display_width(carets[gutter:start]), len(carets) - start


@pytest.mark.parametrize("program, at, culprit, message", [
    ("x +* y", "x=1,y=2", "*", "expected a number, a name or '(' but found '*'"),
    ("  sin(x, y)", "x=1,y=2", "sin(x, y)", "sin() takes 1 argument, 2 given"),
    ("z = x + 1; f = log(z - 4)", "x=1", "log(z - 4)", "math error in log: the logarithm of a negative number (-2)"),
    ("1 + sine(x)", "x=1", "sine", "unknown function sine(); did you mean sin?"),
    ("x / (y - y)", "x=1,y=2", "x / (y - y)", "math error in /: division by zero (1 / 0)"),
    ("2 * sqrt(x - 5)", "x=1", "sqrt(x - 5)", "square root of a negative number (-4)"),
    ("q = x; q = 2*x", "x=1", "q", "q is assigned twice"),
    ("(x + 1", "x=1", "(", "unclosed '('"),
    ("x + 1)", "x=1", ")", "unbalanced ')'"),
    ("x y", "x=1,y=2", "y", "missing operator before 'y'"),
    ("ｘ＋＊ｙ", "x=1,y=2", "＊", "found '*'"),  # full-width: the caret is two cells wide
    ("θ + φ(2)", "θ=1", "φ", "unknown function φ()"),
])
def test_the_caret_is_under_the_culprit(program, at, culprit, message):
    run = cli("grad", "--at", at, "--", program)
    assert run.code in (2, 3)
    echoed, first_line, offset, length = caret_of(run.stderr)
    position = program.rindex(culprit) if culprit == "q" else program.index(culprit)
    assert first_line.startswith("gradcli: error: ") and message in first_line
    assert first_line.endswith(f"(column {position + 1})")
    assert echoed == program
    assert offset == display_width(program[:position])
    assert length >= display_width(culprit) if len(culprit) == 1 else length == display_width(culprit)


@pytest.mark.parametrize("program, culprit_line, culprit", [
    ("q = x\nf = log(q - 4)", 2, "log(q - 4)"),
    ("a = x\n\n  b = a +\n", 3, "+"),
    ("# comment\nq = x +* 2", 2, "*"),
])
def test_on_a_later_line_the_message_names_line_and_column(program, culprit_line, culprit):
    run = cli("grad", "-", "--at", "x=1", input=program)
    assert run.code in (2, 3)
    echoed, first_line, offset, length = caret_of(run.stderr)
    line = program.split("\n")[culprit_line - 1]
    column = line.index(culprit) + 1
    assert first_line.endswith(f"(line {culprit_line}, column {column})"), first_line
    assert echoed == line
    assert offset == column - 1


@pytest.mark.parametrize("program", [
    " + ".join(f"x{k}" for k in range(60)) + " +* 1",
    "ｘ＋" * 60 + "＊1",
], ids=["ascii", "full-width"])
def test_on_a_long_line_the_caret_is_under_the_culprit_in_the_shown_window(program):
    run = cli("grad", "--", program)
    assert run.code == 2
    echoed, first_line, offset, _ = caret_of(run.stderr)
    assert first_line.endswith(f"(column {program.index('*' if '*' in program else '＊') + 1})")
    assert echoed.startswith("…") and len(echoed) < len(program)
    cells = 0
    for char in echoed:  # the character under the caret's first cell
        if cells >= offset:
            break
        cells += display_width(char)
    assert cells == offset and char in "*＊"


def test_a_crlf_program_shows_its_line_without_the_carriage_return():
    run = cli("grad", "-", "--at", "x=-2,y=1", input=b"q = x + y\r\nf = log(q)\r\n")
    assert run.code == 3
    echoed, first_line, offset, length = caret_of(run.stderr)
    assert first_line.endswith("(line 2, column 5)")
    assert echoed == "f = log(q)"


def test_json_warnings_repeat_what_stderr_says():
    run = cli("grad", "relu(x) + u", "--at", "x=0,u=1,w=2", "--json")
    assert run.code == 0
    document = one_json_object(run.stdout)
    printed = [line.removeprefix("gradcli: warning: ") for line in run.stderr.splitlines()]
    assert printed == document["warnings"]
    assert any("w is not used" in w for w in printed) and any("relu'(0) = 0" in w for w in printed)


def test_a_binding_error_is_one_line():
    run = cli("grad", "x*y*z")
    assert run.code == 2
    assert run.stderr == "gradcli: error: no value for x, y, z\n"


# ----- where the program comes from -----


def test_dash_reads_the_program_from_stdin():
    document = one_json_object(cli("grad", "-", "--at", "x=3", "--json", input="x^2").stdout)
    assert document["value"] == 9.0 and document["gradient"] == {"x": 6.0}
    assert document["expression"] == "x^2"


def test_file_reads_the_program_from_a_file(tmp_path):
    text = "# the CS231n circuit\nq = x + y\nf = q * z\n"
    path = tmp_path / "circuit.grad"
    path.write_text(text, encoding="utf-8")
    run = cli("grad", "--file", str(path), "--at", CIRCUIT_AT, "--json")
    document = one_json_object(run.stdout)
    assert document["value"] == -12.0 and document["gradient"] == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert document["expression"] == "q = x + y\nf = q * z"  # the statements, not the file's comments


def test_json_echoes_the_program_without_comments_and_names_a_long_one_by_its_hash(tmp_path):
    commented = "# softmax of two classes\n\nz = exp(a)   # the numerator\nz / (z + exp(b))\n"
    document = cli("eval", commented, "--at", "a=1,b=2", "--json").json()
    assert document["version"] == 1
    assert document["expression"] == "z = exp(a)\nz / (z + exp(b))"
    assert gradcli.parse(document["expression"]).program() == gradcli.parse(commented).program()
    long_program = "\n".join(f"a{k} = x * {k}" for k in range(2000)) + "\na1999"
    path = tmp_path / "long.grad"
    path.write_text(long_program, encoding="utf-8")
    document = cli("grad", "--file", str(path), "--at", "x=1", "--json").json()
    assert document["expression"] is None
    import hashlib

    assert document["expression_summary"] == {"characters": len(long_program),
                                              "sha256": hashlib.sha256(long_program.encode()).hexdigest()}


def test_file_dash_is_stdin():
    run = cli("grad", "--file", "-", "--at", CIRCUIT_AT, "--json", input=CIRCUIT)
    assert one_json_object(run.stdout)["value"] == -12.0


def test_a_program_from_the_argument_stdin_and_a_file_give_the_same_bytes(tmp_path):
    path = tmp_path / "p.grad"
    path.write_text(CIRCUIT, encoding="utf-8")
    outputs = {
        cli("grad", CIRCUIT, "--at", CIRCUIT_AT).stdout,
        cli("grad", "-", "--at", CIRCUIT_AT, input=CIRCUIT).stdout,
        cli("grad", "--file", str(path), "--at", CIRCUIT_AT).stdout,
    }
    assert len(outputs) == 1


# ----- --at -----


def test_at_repeated_is_the_same_as_at_with_commas():
    one = cli("grad", CIRCUIT, "--at", CIRCUIT_AT, "--json").stdout
    three = cli("grad", CIRCUIT, "--at", "x=-2", "--at", "y=5", "--at", "z=-4", "--json").stdout
    assert one == three


@pytest.mark.parametrize("text, value", [
    ("pi/4", math.pi / 4),
    ("2^-1", 0.5),
    ("max(1,2)", 2.0),
    ("-3e-2", -0.03),
    ("1/3", 1 / 3),
    ("2pi", 2 * math.pi),
])
def test_at_values_may_be_constant_expressions(text, value):
    document = one_json_object(cli("grad", "x^2", "--at", f"x={text}", "--json").stdout)
    assert document["at"] == {"x": value}
    assert document["gradient"] == {"x": pytest.approx(2 * value, rel=1e-15)}


def test_every_missing_variable_is_named_at_once():
    run = cli("grad", "a*b + c*d", "--at", "b=1")
    assert run.code == 2
    assert "no value for a, c, d" in run.stderr


def test_an_unused_binding_is_a_warning_not_an_error():
    run = cli("grad", "x*2", "--at", "x=1,u=3", "--json")
    assert run.code == 0
    assert "gradcli: warning: u is not used by the program" in run.stderr
    document = one_json_object(run.stdout)
    assert document["gradient"] == {"x": 2.0}
    assert any("u is not used" in warning for warning in document["warnings"])
    human = cli("grad", "x*2", "--at", "x=1,u=3")
    assert human.code == 0 and "u is not used by the program" in human.stderr


# ----- --wrt and --precision -----


def test_wrt_limits_the_partials_in_the_order_given():
    document = one_json_object(cli("grad", CIRCUIT, "--at", CIRCUIT_AT, "--wrt", "z,x", "--json").stdout)
    assert list(document["gradient"].items()) == [("z", 3.0), ("x", -4.0)]


def test_non_ascii_names_on_the_command_line_of_an_ascii_locale():
    """LC_ALL=C without UTF-8 mode: Python decodes θ's bytes as surrogate escapes; gradcli reads them as UTF-8."""
    run = run_process("grad", "θ*x", "--at", "θ=2,x=1", "--wrt", "θ", "--json", env={"PYTHONUTF8": "0", "LC_ALL": "C"})
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout)["gradient"] == {"θ": 1.0}


def test_a_non_ascii_file_name_in_an_ascii_locale(tmp_path):
    path = tmp_path / "café.grad"
    path.write_text("x^2")
    run = run_process("grad", "--file", str(path), "--at", "x=3", "--json", env={"PYTHONUTF8": "0", "LC_ALL": "C"})
    assert run.code == 0 and json.loads(run.stdout)["gradient"] == {"x": 6.0}, run.stderr


def test_wrt_may_be_repeated_like_at():
    document = one_json_object(cli("grad", CIRCUIT, "--at", CIRCUIT_AT, "--wrt", "z", "--wrt", "x,z", "--json").stdout)
    assert list(document["gradient"]) == ["z", "x"]


def test_wrt_a_named_intermediate():
    """CS231n: with q = x + y and f = q·z, ∂f/∂q = z = -4."""
    document = one_json_object(cli("grad", "q = x + y; f = q * z", "--at", CIRCUIT_AT, "--wrt", "q", "--json").stdout)
    assert document["gradient"] == {"q": -4.0}


def test_wrt_a_named_intermediate_with_a_constant_value():
    document = one_json_object(cli("grad", "a = 2; f = a*x", "--at", "x=3", "--wrt", "a,x", "--json").stdout)
    assert document["gradient"] == {"a": 3.0, "x": 2.0}


def test_wrt_in_the_human_table():
    run = cli("grad", CIRCUIT, "--at", CIRCUIT_AT, "--wrt", "y")
    rows = table_rows(run.stdout)
    assert list(rows) == ["y"]
    assert rows["y"] == ("5", "-4")


def table_rows(stdout: str) -> dict[str, tuple[str, ...]]:
    """name -> (value, partial) from the human table (the lines after the rule)."""
    lines = stdout.splitlines()
    rule = next(k for k, line in enumerate(lines) if line and set(line.strip()) == {"─"})
    return {parts[0]: tuple(parts[1:]) for parts in (line.split() for line in lines[rule + 1:] if line.strip())}


def test_the_human_table_shows_the_published_numbers():
    run = cli("grad", CIRCUIT, "--at", CIRCUIT_AT)
    assert run.stdout.splitlines()[0] == "f = -12"
    assert table_rows(run.stdout) == {"x": ("-2", "-4"), "y": ("5", "-4"), "z": ("-4", "3")}


def test_precision_default_shows_12_digits_and_n_shows_n():
    exact = 100 * 2 * 1.1  # 220.00000000000003 in doubles
    assert exact != 220
    default = cli("grad", "100*2*1.1*x", "--at", "x=1")
    assert table_rows(default.stdout)["x"] == ("1", "220")
    full = cli("grad", "100*2*1.1*x", "--at", "x=1", "--precision", "17")
    assert table_rows(full.stdout)["x"] == ("1", repr(exact))
    three = cli("grad", "pi*x", "--at", "x=1", "--precision", "3")
    assert table_rows(three.stdout)["x"] == ("1", "3.14")
    assert three.stdout.splitlines()[0] == "f = 3.14"


def test_eval_precision():
    assert cli("eval", "100*2*1.1").stdout == "220\n"
    assert cli("eval", "100*2*1.1", "--precision", "17").stdout == repr(100 * 2 * 1.1) + "\n"
    assert cli("eval", "pi", "--precision", "5").stdout == "3.1416\n"


def test_json_ignores_precision():
    document = one_json_object(cli("grad", "100*2*1.1*x", "--at", "x=1", "--precision", "3", "--json").stdout)
    assert document["gradient"]["x"] == 100 * 2 * 1.1  # the double, every bit


# ----- the JSON shape -----


def test_json_shape():
    run = cli("grad", CIRCUIT, "--at", CIRCUIT_AT, "--json")
    document = one_json_object(run.stdout)
    assert list(document) == ["version", "expression", "output", "at", "value", "gradient", "warnings"]
    assert document == {"version": 1, "expression": CIRCUIT, "output": "f", "at": {"x": -2.0, "y": 5.0, "z": -4.0},
                        "value": -12.0, "gradient": {"x": -4.0, "y": -4.0, "z": 3.0}, "warnings": []}
    assert run.stdout.count("\n") == 1


def test_eval_json_has_no_gradient():
    document = one_json_object(cli("eval", "log(x, 2)", "--at", "x=8", "--json").stdout)
    assert document == {"version": 1, "expression": "log(x, 2)", "output": "f", "at": {"x": 8.0}, "value": 3.0}
    assert cli("eval", "log(x, 2)", "--at", "x=8").stdout == "3\n"


@pytest.mark.parametrize("program, at, expected", [
    ("sqrt(x)", "x=0", {"x": "inf"}),
    ("-sqrt(x)", "x=0", {"x": "-inf"}),
    ("x^y", "x=-2,y=2", {"x": -4.0, "y": "nan"}),  # ∂(a^b)/∂b at a < 0 is nan (README)
    ("atan2(y, x)", "x=0,y=0", {"y": "nan", "x": "nan"}),
    ("asin(x) + acos(y)", "x=1,y=-1", {"x": "inf", "y": "-inf"}),  # 1/sqrt(1 - a²) at a = ±1
])
def test_json_non_finite_numbers_are_strings(program, at, expected):
    run = cli("grad", "--json", "--at", at, "--", program)
    assert run.code == 0
    document = one_json_object(run.stdout)
    assert document["gradient"] == expected
    assert document["warnings"] and "warning" in run.stderr


def first_appearance(program: str) -> list[str]:
    """Variables in order of first appearance: names that are not called, assigned or constants."""
    assigned = set(re.findall(r"(?m)(?:^|;)\s*([^\W\d]\w*)\s*=", program))
    names = []
    for match in re.finditer(r"[^\W\d]\w*(?!\w)(\s*\()?", program):
        name = match.group(0).rstrip("( \t")
        if match.group(1) or name in assigned or name in ("pi", "e") or name in names:
            continue
        names.append(name)
    return names


@pytest.mark.parametrize("program", [
    "z*y + x",
    "q = b + a; f = q*c + a",
    "sigmoid(w0*x0 + w1*x1 + w2)",
    "zeta + alpha*exp(beta) - log(gamma)",
    "t = m*v; u = t + pi*k; f = u*e + m",
])
def test_json_gradient_keys_in_order_of_first_appearance(program):
    names = first_appearance(program)
    at = ",".join(f"{name}={k + 1}" for k, name in reversed(list(enumerate(names))))  # --at in the other order
    document = one_json_object(cli("grad", "--json", "--at", at, "--", program).stdout)
    assert list(document["gradient"]) == names
    assert set(document["at"]) == set(names)


# ----- version, help -----


def test_version():
    with open(REPO / "pyproject.toml", "rb") as stream:
        version = tomllib.load(stream)["project"]["version"]
    run = cli("--version")
    assert run.code == 0
    assert run.stdout == f"gradcli {version}\n"


COMMANDS = ["grad", "eval", "trace", "check", "diff", "graph", "jacobian", "worksheet"]
DOCUMENTED_EXIT_CODES = {"0", "1", "2", "3", "70", "74", "130"}


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS)], ids=["gradcli", *COMMANDS])
def test_help_has_examples_of_the_command_and_its_exit_codes(command):
    run = cli(*command, "--help")
    assert run.code == 0
    examples = help_examples(*command)
    assert examples and all(f"gradcli {command[0]} " in example for example in examples) if command else examples
    codes = " ".join(run.stdout.split("Exit codes:")[1].split())
    listed = set(re.findall(r"(\d+) [a-z]", codes))
    assert listed <= DOCUMENTED_EXIT_CODES and {"0", "2", "70"} <= listed
    assert ("1" in listed) == (not command or command[0] in ("grad", "check"))  # only a check can disagree


def help_examples(*command: str) -> list[str]:
    lines = run_cli(*command, "--help").stdout.splitlines()
    start = next(k for k, line in enumerate(lines) if line.strip() == "Examples:")
    examples = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        examples.append(line.strip())
    return examples


@pytest.mark.parametrize("example", sorted({e for c in [(), *((c,) for c in COMMANDS)] for e in help_examples(*c)}))
def test_every_example_in_the_help_runs(example, monkeypatch):
    monkeypatch.chdir(REPO)  # examples may name files under examples/
    stdin = None
    if example.startswith("echo "):
        head, _, example = example.partition("|")
        stdin = shlex.split(head)[1] + "\n"
    words = shlex.split(example)
    assert words[0] == "gradcli"
    run = cli(*words[1:], input=stdin)
    wrong_on_purpose = "q=4" in example  # shows how a wrong hand derivation is explained: exit 1
    assert run.code == (1 if wrong_on_purpose else 0), (example, run.stderr)
    assert run.stdout.strip()


# ----- no traceback, no markup -----


@pytest.mark.parametrize("args, stdin", [
    (["grad", "x + (", "--at", "x=1"], None),
    (["grad", "-", "--at", "x=1"], b"\xff\xfe"),
    (["grad", "--file", "/nonexistent/dir/p.grad"], None),
    (["grad", "log(x)", "--at", "x=0"], None),
    (["grad", "x", "--at", "x=1e999"], None),
    (["grad", "x", "--at", "=1"], None),
    (["grad", "x", "--at", "x=1", "--wrt", ""], None),
    (["grad", "(" * 50_000], None),
    (["eval", "1/0"], None),
    (["grad", "x", "--at", "x=1", "--precision", "abc"], None),
])
def test_no_traceback_ever(args, stdin):
    run = cli(*args, input=stdin)  # cli() asserts there is no traceback
    assert run.code in (0, 2, 3)
    assert run.stderr.startswith("gradcli: error: ") or run.stderr.startswith("Usage:") or run.code == 0


@pytest.mark.parametrize("args, stdin, code", [
    (["grad", "-", "--at", "x=1"], b"x\xff", 2),
    (["grad", "log(x)", "--at", "x=0"], None, 3),
    (["grad", "x", "--nope"], None, 2),
    (["grad", "-", "--at", "x=1"], ("(" * 100_000 + "x").encode(), 2),
])
def test_no_traceback_from_a_real_process(args, stdin, code):
    run = run_process(*args, input=stdin)
    assert run.code == code
    assert "Traceback" not in run.stderr and run.stdout == ""


def test_markup_is_printed_literally():
    run = cli("grad", "[bold]x", "--at", "x=1")
    assert run.code == 2
    assert "| [bold]x" in run.stderr
    wrt = cli("grad", "x*2", "--at", "x=1", "--wrt", "[bold]x")
    assert wrt.code == 2 and "'[bold]x'" in wrt.stderr
    comment = cli("grad", "[red]x[/red]*2", "--at", "x=1")
    assert comment.code == 2 and "| [red]x[/red]*2" in comment.stderr


def test_the_human_table_never_interprets_markup_in_names():
    """Names are identifiers, so markup cannot reach the table through them; a Rich-looking name prints as typed."""
    run = cli("grad", "bold*x + red", "--at", "bold=2,x=3,red=1")
    assert table_rows(run.stdout) == {"bold": ("2", "3"), "x": ("3", "2"), "red": ("1", "1")}
    assert "\x1b[" not in run.stdout


# ----- a terminal that is not UTF-8 -----


def test_json_on_an_ascii_stdout_is_still_valid():
    run = run_process("grad", "θ*2", "--at", "θ=1", "--json", env={"PYTHONIOENCODING": "ascii"})
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout)["gradient"] == {"θ": 2.0}


@pytest.mark.parametrize("encoding, args", [
    ("ascii", ["grad", CIRCUIT, "--at", CIRCUIT_AT]),
    ("latin-1", ["grad", CIRCUIT, "--at", CIRCUIT_AT]),
    ("latin-1", ["grad", "θ*2", "--at", "θ=1", "--json"]),
], ids=["table-ascii", "table-latin-1", "json-latin-1"])
def test_a_stdout_that_is_not_utf8_is_no_internal_error(encoding, args):
    run = run_process(*args, env={"PYTHONIOENCODING": encoding})
    assert "internal error" not in run.stderr
    assert run.code == 0, run.stderr
    if "--json" in args:
        assert json.loads(run.stdout)["gradient"] == {"θ": 2.0}


# ----- import discipline: a plain `grad --json` loads neither SymPy, NumPy nor Rich -----

HEAVY = {"sympy", "numpy", "rich", "mpmath"}

WRAPPER = """
import json, os, runpy, sys
heavy = set(json.loads(sys.argv[2]))
os._exit = sys.exit  # gradcli's run() ends the process with os._exit: here the report comes first
sys.argv = ["gradcli", *json.loads(sys.argv[1])]
code = None
try:
    runpy.run_module("gradcli", run_name="__main__", alter_sys=True)
except SystemExit as done:
    code = done.code
loaded = sorted({name.split(".")[0] for name in sys.modules} & heavy)
sys.stderr.write("\\nLOADED " + json.dumps({"code": code, "loaded": loaded}) + "\\n")
"""


def loaded_heavy_modules(*args: str) -> tuple[int, set[str], str]:
    environment = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", WRAPPER, json.dumps(list(args)), json.dumps(sorted(HEAVY))],
                          capture_output=True, text=True, env=environment, timeout=120)
    report = json.loads(done.stderr.rsplit("LOADED ", 1)[1])
    return report["code"], set(report["loaded"]), done.stdout


def imported_by_importtime(*args: str) -> set[str]:
    environment = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "gradcli", *args], capture_output=True,
                          text=True, env=environment, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return {line.rsplit("|", 1)[1].strip().split(".")[0] for line in done.stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


def test_a_plain_grad_json_loads_no_heavy_module():
    code, loaded, stdout = loaded_heavy_modules("grad", CIRCUIT, "--at", CIRCUIT_AT, "--json")
    assert code in (0, None)
    assert json.loads(stdout)["gradient"] == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert loaded == set(), loaded
    imported = imported_by_importtime("grad", CIRCUIT, "--at", CIRCUIT_AT, "--json")
    assert "gradcli" in imported and "click" in imported  # the witness does see imports
    assert imported & HEAVY == set(), imported & HEAVY


@pytest.mark.parametrize("args, code", [
    (["eval", "log(x, 2)", "--at", "x=8", "--json"], 0),
    (["eval", "log(x, 2)", "--at", "x=8"], 0),
    (["grad", "sqrt(x)", "--at", "x=0,u=1", "--json"], 0),  # with warnings
    (["grad", "x y", "--at", "x=1,y=2", "--json"], 2),  # a parse error with its caret
    (["grad", "log(x)", "--at", "x=-1"], 3),
    (["--version"], 0),
], ids=lambda value: " ".join(value)[:30] if isinstance(value, list) else str(value))
def test_other_plain_runs_load_no_heavy_module(args, code):
    got, loaded, _ = loaded_heavy_modules(*args)
    assert (got or 0) == code
    assert loaded == set(), loaded


def test_the_import_witness_can_see_heavy_modules():
    """Control: the human table does load Rich, so the test above could fail."""
    code, loaded, _ = loaded_heavy_modules("grad", CIRCUIT, "--at", CIRCUIT_AT)
    assert code in (0, None)
    assert "rich" in loaded


# ----- the output side: a reader that leaves early, a disk that is full -----


@pytest.mark.parametrize("args", [
    ["check", CIRCUIT, "--at", CIRCUIT_AT],  # its first table is printed before SymPy has finished
    ["trace", CIRCUIT, "--at", CIRCUIT_AT],
    ["graph", CIRCUIT, "--format", "dot"],
], ids=["check", "trace", "graph"])
def test_a_reader_that_leaves_at_once_is_no_check_failure(args):
    """`gradcli check ... | true`: every write meets a closed pipe; click and Rich would say exit 1."""
    command = " ".join(shlex.quote(word) for word in [sys.executable, "-m", "gradcli", *args])
    done = subprocess.run(["bash", "-c", f"{command} | true; echo ${{PIPESTATUS[0]}}"], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.stdout.strip() == "0", done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("args, code, size", [
    (["trace", "-", "--at", "x=0.5,y=0.25"], 0, 100_000),  # a long table: more than a pipe holds
    (["check", "-", "--at", "x=0.5,y=0.25", "--expect", "x=1000"], 1, 100),  # a status other than 0
], ids=["trace", "check"])
def test_a_process_ends_with_all_its_output_and_its_status(tmp_path, args, code, size):
    """The process ends with os._exit (no interpreter finalization): the output is flushed first."""
    program = "a0 = x\n" + "".join(f"a{k + 1} = sin(a{k})*x + a{k}*y\n" for k in range(2000))
    with open(tmp_path / "out", "wb") as out:
        done = subprocess.run([sys.executable, "-m", "gradcli", *args], input=program.encode(), stdout=out,
                              stderr=subprocess.PIPE, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == code, done.stderr
    in_process = run_cli(*args, input=program)
    assert in_process.code == code
    assert (tmp_path / "out").read_text(encoding="utf-8") == in_process.stdout
    assert len(in_process.stdout) > size


def with_redirection(arguments: list[str], redirection: str) -> subprocess.CompletedProcess:
    """`python -m gradcli ARGUMENTS REDIRECTION` run by bash (for `>&-`, `<&-`, `2>/dev/full`)."""
    command = " ".join(shlex.quote(word) for word in [sys.executable, "-m", "gradcli", *arguments])
    return subprocess.run(["bash", "-c", f"{command} {redirection}"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def test_a_closed_stdout_is_an_io_error_and_a_closed_stdin_bad_input():
    closed_output = with_redirection(["grad", CIRCUIT, "--at", CIRCUIT_AT, "--json"], ">&-")
    assert (closed_output.returncode, closed_output.stderr) == (
        74, "gradcli: error: cannot write the output: standard output is closed\n")
    for arguments in (["grad", "-", "--at", "x=1"], ["grad", "x", "--points", "-"]):
        closed_input = with_redirection(arguments, "<&-")
        assert (closed_input.returncode, closed_input.stderr) == (2, "gradcli: error: cannot read standard input: "
                                                                     "it is closed\n")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("arguments, code", [
    (["grad", "log(x)", "--at", "x=-1", "--json"], 3),
    (["grad", "x", "--at", "x=1,y=2", "--json"], 0),  # a warning that cannot be written
    (["--traceback", "grad", "log(x)", "--at", "x=-1", "--json"], 3),
    (["grad", "--bogus", "x"], 2),  # click's usage message
], ids=["math-error", "warning", "traceback", "usage"])
def test_an_unwritable_stderr_leaves_the_result_and_the_exit_code(arguments, code):
    """Nor does anything meant for stderr reach stdout (click and traceback would fall back to it)."""
    with_stderr = with_redirection(arguments, "")
    for redirection in ("2>/dev/full", "2>&-"):
        without = with_redirection(arguments, redirection)
        assert (without.returncode, without.stdout) == (code, with_stderr.stdout), redirection
    assert with_redirection(arguments, "2>&- >&-").returncode == 74  # with nowhere to say so


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_is_an_io_error_not_a_bug():
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "gradcli", "grad", CIRCUIT, "--at", CIRCUIT_AT], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 74
    assert done.stderr == "gradcli: error: cannot write the output: No space left on device\n"


def test_a_stray_comma_in_at_is_ignored():
    assert cli("grad", CIRCUIT, "--at", CIRCUIT_AT + ",", "--json").json()["gradient"] == {"x": -4.0, "y": -4.0, "z": 3.0}


def test_a_constant_program_says_it_has_no_gradient_instead_of_an_empty_table():
    run = cli("grad", "1+2")
    assert run.code == 0 and run.stdout.splitlines() == ["f = 3", "no variables: the value is a constant, and there "
                                                         "is no gradient"]


def test_wrt_names_each_partial_once():
    run = cli("grad", "x*y", "--at", "x=2,y=3", "--wrt", "y,x,y", "--json")
    assert list(run.json()["gradient"].items()) == [("y", 2.0), ("x", 3.0)]


def test_traceback_is_a_group_option_not_a_word_in_the_program():
    run = cli("eval", "--at", "x=1", "--", "--traceback")
    assert run.code == 2 and "Traceback" not in run.stderr


def test_trace_json_is_the_grad_trace_json():
    assert cli("trace", CIRCUIT, "--at", CIRCUIT_AT, "--json").json() == \
        cli("grad", CIRCUIT, "--at", CIRCUIT_AT, "--trace", "--json").json()


def test_numpy_is_a_dependency_of_the_plain_install():
    """`pip install .` alone must be enough for --points (it used to need the batch extra)."""
    with open(REPO / "pyproject.toml", "rb") as stream:
        project = tomllib.load(stream)["project"]
    assert any(re.match(r"numpy\b", requirement) for requirement in project["dependencies"])


@pytest.mark.parametrize("missing, args", [
    ("numpy", ["grad", "sigmoid(w0*x0 + w1*x1 + w2)", "--points", str(REPO / "examples" / "points.csv")]),
    ("sympy", ["diff", CIRCUIT]),  # check goes on without SymPy, saying so; diff cannot
    ("rich", ["grad", CIRCUIT, "--at", CIRCUIT_AT]),
])
def test_a_missing_dependency_is_not_an_internal_error(missing, args):
    code = (f"import sys; sys.modules[{missing!r}] = None\n"  # import of it fails as if it were not installed
            f"from gradcli.cli import main; sys.exit(main({args!r}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == ExitStatus.BAD_INPUT, done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert f"pip install {missing}" in done.stderr
    assert done.stdout == ""  # not a CSV header and then nothing


# ----- --data and trace --wrt: no gradient for what nobody asked about -----

SOFTMAX = REPO / "examples" / "softmax-xent.grad"
LOGITS = {"z1": 2.0, "z2": 1.0, "z3": 0.1}
LABELS = {"y1": 1.0, "y2": 0.0, "y3": 0.0}


def _assignments(values: dict) -> str:
    return ",".join(f"{name}={value!r}" for name, value in values.items())


def _softmax_minus_labels() -> dict:
    exps = {name: math.exp(value) for name, value in LOGITS.items()}
    total = math.fsum(exps.values())
    return {f"z{k}": exps[f"z{k}"] / total - LABELS[f"y{k}"] for k in (1, 2, 3)}


@pytest.mark.parametrize("data_options", [
    ["--data", _assignments(LABELS)],  # the values given with --data
    ["--at", _assignments(LABELS), "--data", "y1,y2", "--data", "y3"],  # values from --at, names repeated
])
def test_data_gets_no_gradient(data_options):
    run = cli("grad", "--file", str(SOFTMAX), "--at", _assignments(LOGITS), *data_options, "--json")
    document = run.json()
    assert run.code == 0 and document["data"] == ["y1", "y2", "y3"]
    assert document["gradient"] == pytest.approx(_softmax_minus_labels(), rel=1e-12)  # ∂L/∂z = a − y
    assert document["at"] == {**LOGITS, **LABELS}
    table = cli("grad", "--file", str(SOFTMAX), "--at", _assignments(LOGITS), *data_options).stdout
    assert "z1" in table and "y1" not in table


def _on_a_path_to(graph, names: set[str]) -> set[str]:
    """Labels of the nodes from which one of `names` can be reached by following inputs (a walk per node)."""
    labels = graph.labels()
    targets = {node for node, label in enumerate(labels) if label in names}
    found = set()
    for node in range(len(graph.ops)):
        stack, seen = [node], set()
        while stack:
            j = stack.pop()
            if j in targets:
                found.add(labels[node])
                break
            if j not in seen:
                seen.add(j)
                stack.extend(graph.inputs[j])
    return found


@pytest.mark.parametrize("extra, wanted", [
    (["--data", "y1,y2,y3"], {"z1", "z2", "z3"}),
    (["--wrt", "z1"], {"z1"}),
    (["--wrt", "s"], {"s"}),  # a named intermediate
])
def test_trace_shows_only_the_steps_on_paths_to_what_is_asked(extra, wanted):
    at = _assignments({**LOGITS, **LABELS})
    full = cli("trace", "--file", str(SOFTMAX), "--at", at, "--json").json()["trace"]
    pruned = cli("trace", "--file", str(SOFTMAX), "--at", at, *extra, "--json")
    assert pruned.code == 0
    graph = gradcli.parse(SOFTMAX.read_text())
    on_path = _on_a_path_to(graph, wanted)
    edges = lambda trace: {(row["node"], edge["input"]) for row in trace["backward"] for edge in row["edges"]}  # noqa: E731
    assert edges(pruned.json()["trace"]) == {edge for edge in edges(full) if edge[1] in on_path}
    assert set(pruned.json()["gradient"]) == wanted


def test_check_diff_and_points_leave_data_out():
    at = ["--at", _assignments(LOGITS), "--data", _assignments(LABELS)]
    checked = cli("check", "--file", str(SOFTMAX), *at, "--json")
    assert checked.code == 0 and set(checked.json()["check"]["variables"]) == set(LOGITS)
    differentiated = cli("diff", "--file", str(SOFTMAX), "--json", "--data", "y1,y2,y3")
    assert differentiated.code == 0 and set(differentiated.json()["derivatives"]) == set(LOGITS)
    points = cli("grad", "--file", str(SOFTMAX), "--points", "-", "--data", _assignments(LABELS),
                 input="z1,z2,z3\n2,1,0.1\n")
    header, row = points.stdout.splitlines()
    assert header.split(",")[:7] == ["z1", "z2", "z3", "y1", "y2", "y3", "L"]
    assert [column for column in header.split(",") if column.startswith("dL/d")] == ["dL/dz1", "dL/dz2", "dL/dz3"]


@pytest.mark.parametrize("args, message", [
    (["--data", "w"], "no variable 'w'"),
    (["--data", "y1", "--wrt", "y1"], "y1 is data"),
    (["--data", "y1=1", "--at", "y1=1"], "y1 is given twice"),
    (["--data", "y1=", ], "no value after y1="),
])
def test_data_mistakes_are_bad_input(args, message):
    at = _assignments({**LOGITS, **LABELS})
    run = cli("grad", "--file", str(SOFTMAX), "--at", at if "y1=1" not in args else _assignments(LOGITS), *args)
    assert run.code == 2 and message in run.stderr, run.stderr


JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.mark.parametrize("args", [
    ["grad", "x", "--foo"], ["grad", "x", "--dat"], ["grad", "x", "--precision", "abc"],
    ["grad", "x", "--precision", "40"], ["nope"], ["grad", "x", "--at"], ["grad", "x", "--lang", "fr"],
    ["grad", "--at", "x=1", "-x"], ["grad", "x", "--check", "--points", "a"], ["grad", "x", "--at", "x=1_0"],
    ["grad", "x*y", "--at", "x=1"], ["grad", "log(x)", "--at", "x=-1"], ["grad", "x", "--at", "x=1", "--data", "w"],
])
def test_usage_and_input_errors_speak_japanese(args):
    english = cli(*args)
    japanese = cli(*args, env={"GRADCLI_LANG": "ja"})
    assert english.code == japanese.code and english.code in (ExitStatus.BAD_INPUT, ExitStatus.MATH_ERROR)
    message = [line for line in japanese.stderr.splitlines() if "rror" in line or "エラー" in line][-1]
    assert JAPANESE.search(message), japanese.stderr
    carets = lambda run: [line for line in run.stderr.splitlines() if line.strip().startswith("|")]  # noqa: E731
    assert carets(english) == carets(japanese)  # the program line and the caret under it are the same


def test_what_data_and_wrt_leave_out_is_refused_everywhere_not_given_as_zero():
    """A partial that --wrt or --data left out was never taken: no command shows it, the API refuses it."""
    program, at = "x*y", ["--at", "x=1,y=2"]
    for args in (["grad", program, *at, "--data", "y", "--wrt", "y"], ["diff", program, "--data", "y", "--wrt", "y"],
                 ["grad", program, "--points", "-", "--data", "y", "--wrt", "y"], ["diff", program, "--data", "z"],
                 ["grad", program, "--points", "-", "--data", "z"], ["check", program, *at, "--data", "y", "--expect", "y=1"]):
        run = cli(*args, input="x,y\n1,2\n")
        assert run.code == 2 and ("is data" in run.stderr or "no variable 'z'" in run.stderr), (args, run.stderr)
    assert cli("diff", program, "--data", "y", "--json").json()["data"] == ["y"]
    pruned = gradcli.differentiate(gradcli.parse(program), {"x": 1, "y": 2}, wrt=["x"])
    assert pruned.gradient_of("x") == 2.0
    with pytest.raises(gradcli.BindingError, match="not computed"):
        pruned.gradient_of("y")  # it would be 1, and was never computed: not a silent 0
