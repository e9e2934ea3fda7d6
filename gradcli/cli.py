"""The command line: parse options, call the API, hand the result to a renderer.

Heavy modules (Rich, SymPy, NumPy) are imported inside the commands that use them, so that a
plain `grad --json` starts as fast as click itself.
"""

from __future__ import annotations

import os
import re
import sys

import click

from . import __version__
from .errors import BindingError, ExitStatus, GradcliError
from .parse import MAX_SOURCE_CHARS, normalize

_IDENTIFIER = re.compile(r"[^\W\d]\w*")

EXAMPLES = """\b
Examples:
  gradcli grad "(x+y)*z" --at x=-2,y=5,z=-4
  gradcli grad "q = x + y; f = q * z" --at x=-2,y=5,z=-4 --json
  gradcli grad "sigmoid(w0*x0 + w1*x1 + w2)" --at w0=2,x0=-1,w1=-3,x1=-2,w2=-3
  echo "x^2 + sin(x)" | gradcli grad - --at x=pi/4
  gradcli eval "log(x, 2)" --at x=8

\b
Exit codes: 0 ok, 1 a check disagrees, 2 bad input or usage,
3 a math error at the point, 70 an internal error, 130 interrupted.
"""


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses, so `x=max(1,2),y=3` is two bindings."""
    parts, depth, current = [], 0, []
    for char in text:
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        depth += (char == "(") - (char == ")")
        current.append(char)
    parts.append("".join(current))
    return parts


class PointType(click.ParamType):
    """`x=-2,y=5,z=pi/4` → [(name, value), ...]; a value may be a constant expression."""

    name = "point"

    def convert(self, value, param, ctx):
        from .api import constant

        if isinstance(value, list):
            return value
        bindings = []
        for part in _split_top_level(value):
            name, equals, text = part.partition("=")
            name = normalize(name.strip())[0]
            if not equals:
                self.fail(f"{part.strip()!r} is not name=value (example: --at x=-2,y=5)", param, ctx)
            if not _IDENTIFIER.fullmatch(name):
                self.fail(f"{name!r} in {part.strip()!r} is not a variable name", param, ctx)
            if not text.strip():
                self.fail(f"no value after {name}=", param, ctx)
            try:
                bindings.append((name, constant(text)))
            except GradcliError as error:
                self.fail(f"{name}={text.strip()}: not a number or a constant expression ({error.message})", param, ctx)
        return bindings


def _merge_points(groups: tuple[list, ...]) -> dict[str, float]:
    at: dict[str, float] = {}
    for group in groups:
        for name, value in group:
            if name in at:
                raise BindingError(f"{name} is given twice in --at")
            at[name] = value
    return at


def _read_program(expression: str | None, path: str | None) -> str:
    if expression is not None and path is not None:
        raise click.UsageError("give the program either as EXPR or with --file, not both")
    if path is None and expression is None:
        raise click.UsageError("missing the program: give EXPR, '-' for standard input, or --file PATH")
    if path is None and expression != "-":
        return expression
    try:
        if path is None or path == "-":
            data = sys.stdin.buffer.read(4 * MAX_SOURCE_CHARS + 1)
        else:
            with open(path, "rb") as stream:
                data = stream.read(4 * MAX_SOURCE_CHARS + 1)
    except OSError as error:
        raise BindingError(f"cannot read {path}: {error.strerror}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BindingError(f"the program is not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start})") from None


def _names(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [normalize(name.strip())[0] for name in text.split(",") if name.strip()]


def _warn(message: str) -> None:
    _write_stderr(f"gradcli: warning: {message}")


def _write_stderr(text: str) -> None:
    encoding = getattr(sys.stderr, "encoding", None) or "utf-8"
    click.echo(text.encode(encoding, "backslashreplace").decode(encoding), err=True)


def program_options(command):
    """The options every command that evaluates a program shares."""
    decorators = [
        click.argument("expression", required=False, metavar="EXPR"),
        click.option("--at", "points", multiple=True, type=PointType(), metavar="NAME=VALUE,...",
                     help="The point: x=-2,y=5 (repeatable; values may be constant expressions like pi/4)."),
        click.option("--file", "path", type=click.Path(dir_okay=False, allow_dash=True),
                     help="Read the program from a file ('-' for standard input)."),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout."),
        click.option("--precision", type=click.IntRange(1, 17), default=12, show_default=True,
                     help="Significant digits in human output."),
        click.option("--cse", is_flag=True, help="Merge identical subexpressions before differentiating."),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


@click.group(epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="gradcli", message="%(prog)s %(version)s")
@click.option("--traceback", is_flag=True, help="Show a Python traceback on errors (for debugging).")
def cli(traceback: bool) -> None:
    """Differentiate expressions: value, gradient and step-by-step backprop."""


@cli.command(epilog=EXAMPLES)
@program_options
@click.option("--wrt", metavar="NAME,...", help="Only these partials (variables or named intermediates).")
def grad(expression, points, path, as_json, precision, cse, wrt):
    """Value and gradient of EXPR at a point (reverse-mode AD)."""
    from .api import differentiate, node_named
    from .parse import parse

    graph = parse(_read_program(expression, path), cse=cse)
    result = differentiate(graph, _merge_points(points))
    wrt_names = _names(wrt)
    for name in wrt_names or ():
        node_named(graph, name)
    if as_json:
        from .render.json import dumps, gradient_object

        document = gradient_object(result, wrt_names)
        for message in document["warnings"]:
            _warn(message)
        click.echo(dumps(document))
        return ExitStatus.OK
    from .render.json import notes_text
    from .render.text import gradient_table

    for message in result.warnings + notes_text(result):
        _warn(message)
    _console().print(gradient_table(result, wrt_names, precision))
    return ExitStatus.OK


@cli.command("eval", epilog=EXAMPLES)
@program_options
def eval_command(expression, points, path, as_json, precision, cse):
    """The value of EXPR at a point."""
    from .api import value_at
    from .numbers import fmt, json_number
    from .parse import parse

    graph = parse(_read_program(expression, path), cse=cse)
    value, at, warnings = value_at(graph, _merge_points(points))
    for message in warnings:
        _warn(message)
    if as_json:
        from .render.json import dumps

        document = {"expression": graph.source, "output": graph.output_name,
                    "at": {k: json_number(v) for k, v in at.items()}, "value": json_number(value)}
        click.echo(dumps(document))
    else:
        click.echo(fmt(value, precision))
    return ExitStatus.OK


def _console():
    from rich.console import Console

    return Console(highlight=False)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; map every outcome to a documented exit code."""
    argv = sys.argv[1:] if argv is None else argv
    show_traceback = "--traceback" in argv
    try:
        status = cli.main(args=argv, prog_name="gradcli", standalone_mode=False)
        sys.stdout.flush()
        return int(status or 0) if isinstance(status, int) else 0
    except GradcliError as error:
        if show_traceback:
            raise
        from .report import format_error

        _write_stderr(format_error(error))
        return error.exit_status
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as error:
        error.show()
        return ExitStatus.BAD_INPUT if error.exit_code == 2 else error.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        _write_stderr("gradcli: interrupted")
        return ExitStatus.INTERRUPTED
    except BrokenPipeError:
        # The reader (e.g. `head -1`) has gone: stop quietly, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return ExitStatus.OK
    except Exception as error:  # noqa: BLE001 - the last line of defence: never a bare traceback
        if show_traceback:
            raise
        _write_stderr(f"gradcli: internal error: {type(error).__name__}: {error} (run with --traceback for details)")
        return ExitStatus.INTERNAL


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
