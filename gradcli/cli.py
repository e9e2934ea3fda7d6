"""The command line: parse options, call the API, hand the result to a renderer.

Heavy modules (Rich, SymPy, NumPy) are imported inside the commands that use them, so that a
plain `grad --json` starts as fast as click itself.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import sys

import click
from click.core import ParameterSource

from . import __version__
from .errors import BindingError, ExitStatus, GradcliError, LimitError, standard_input
from .parse import MAX_SOURCE_CHARS, normalize

_IDENTIFIER = re.compile(r"[^\W\d]\w*")

def _epilog(*examples: str, can_disagree: bool = False) -> str:
    """A command's help epilog: its examples (`grad ...` runs as `gradcli grad ...`), then its exit codes."""
    import textwrap

    codes = ["0 ok", *(["1 a check disagrees"] if can_disagree else []), "2 bad input or usage",
             "3 a math error at the point", "74 the output could not be written", "70 an internal error",
             "130 interrupted."]
    lines = "\n".join(f"  {'' if example.startswith('echo') else 'gradcli '}{example}" for example in examples)
    return f"\b\nExamples:\n{lines}\n\n\b\n" + textwrap.fill("Exit codes: " + ", ".join(codes), 72) + "\n"


CIRCUIT = '"(x+y)*z" --at x=-2,y=5,z=-4'
GRAD_EXAMPLES = (
    f"grad {CIRCUIT}",
    'grad "q = x + y; f = q * z" --at x=-2,y=5,z=-4 --json',
    'grad "sigmoid(w0*x0 + w1*x1 + w2)" --at w0=2,x0=-1,w1=-3,x1=-2,w2=-3',
    'echo "x^2 + sin(x)" | gradcli grad - --at x=pi/4',
    f"grad {CIRCUIT} --check",
    f"grad {CIRCUIT} --trace",
    'grad "sigmoid(w0*x0 + w1*x1 + w2)" --points examples/points.csv',
)
TRACE_EXAMPLES = (
    f"trace {CIRCUIT}",
    'trace "a = x + y; b = max(y, z); f = a * b" --at x=1,y=2,z=0',
    'trace "y1 = 2*x; y2 = x^2; z = y1 + y2" --at x=3 --lang ja',
    "trace --file examples/cs224n-branch.grad --at x=1,y=2,z=0 --json",
)
GRAPH_EXAMPLES = (
    f"graph {CIRCUIT}",
    'graph "sigmoid(w0*x0 + w1*x1 + w2)" --at w0=2,x0=-1,w1=-3,x1=-2,w2=-3 --format dot',
    'graph "q = x + y; f = q * z" --format mermaid',
    "graph --file examples/cs224n-branch.grad --at x=1,y=2,z=0 --json",
)
CHECK_EXAMPLES = (
    'check "1/(1+exp(-(w0*x0+w1*x1+w2)))" --at w0=2,x0=-1,w1=-3,x1=-2,w2=-3',
    f"check {CIRCUIT} --expect x=-4,y=-4,z=3",
    'check "q = x + y; f = q * z" --at x=-2,y=5,z=-4 --expect-node q=4',
)
DIFF_EXAMPLES = (
    'diff "(x+y)*z"',
    'diff "sigmoid(w*x)" --wrt w --latex',
    'diff "x^2 * sin(x)" --plain --at x=pi/4',
)
EVAL_EXAMPLES = ('eval "log(x, 2)" --at x=8', 'eval "q = x + y; f = q * z" --at x=-2,y=5,z=-4 --json')


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


class FiniteRange(click.FloatRange):
    """A FloatRange that also refuses nan and inf (a comparison with a bound lets nan through)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if number != number or number in (float("inf"), float("-inf")):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


MAX_TIMEOUT = 1e6  # seconds (eleven days); far more than any use, and below what the clocks can hold


class PointType(click.ParamType):
    """`x=-2,y=5,z=pi/4` → [(name, value), ...]; a value may be a constant expression."""

    name = "point"

    def convert(self, value, param, ctx):
        """Errors are BindingErrors (exit 2), printed as one `gradcli: error: --at ...` line like any other."""
        if isinstance(value, list):
            return value
        return [(name, number) for name, number, _ in self.bindings(value, param)]

    def bindings(self, value: str, param) -> list[tuple[str, float, str]]:
        """(name, value, the value's text) for each `name=value` of the option.

        The whole text is normalised first, as a program is (NFKC), so that what a Japanese
        keyboard types, `りんご＝１００，個数＝２`, reads as `りんご=100,個数=2`.
        """
        from .api import constant

        option = param.opts[0] if param is not None else "--at"
        bindings = []
        for part in _split_top_level(normalize(_as_typed(value))[0]):
            if not part.strip():
                continue  # `x=1,` or `x=1,,y=2`: a stray comma
            name, equals, text = part.partition("=")
            name = name.strip()
            if not equals:
                raise BindingError(f"{option} {part.strip()}: not name=value (example: {option} x=-2,y=5)")
            if not _IDENTIFIER.fullmatch(name):
                raise BindingError(f"{option} {part.strip()}: {name!r} is not a variable name")
            if not text.strip():
                raise BindingError(f"{option} {part.strip()}: no value after {name}=")
            try:
                bindings.append((name, constant(text), text))
            except GradcliError as error:
                raise BindingError(f"{option} {name}={text.strip()}: {error.message}") from None
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
        # Undecodable argv bytes arrive as lone surrogates (surrogateescape): back to bytes, and
        # through the same UTF-8 check as a file, instead of failing later when output echoes them.
        try:
            data = expression.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            data = expression.encode("utf-8", "surrogatepass")
    else:
        try:
            if path is None or path == "-":
                data = standard_input().read(4 * MAX_SOURCE_CHARS + 1)
            else:
                with open(path, "rb") as stream:
                    data = stream.read(4 * MAX_SOURCE_CHARS + 1)
        except OSError as error:
            raise BindingError(f"cannot read {path}: {error.strerror}") from None
    if len(data) > 4 * MAX_SOURCE_CHARS:  # even at 4 bytes a character, over the limit (and maybe cut mid-character)
        raise LimitError(f"the program has more than {4 * MAX_SOURCE_CHARS:,} bytes; the limit is "
                         f"{MAX_SOURCE_CHARS:,} characters")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BindingError(f"the program is not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start})") from None


def _names(groups: tuple[str, ...]) -> list[str] | None:
    """The names of every --wrt, in order, each once; None without --wrt."""
    if not groups:
        return None
    text = _as_typed(",".join(groups))
    names = list(dict.fromkeys(normalize(name.strip())[0] for name in text.split(",") if name.strip()))
    if not names:
        raise BindingError("--wrt: no names given (example: --wrt x,q)")
    return names


def _choose_language(ctx, param, lang: str | None) -> None:
    """--lang (eager, so before any other option is converted): the language of all output.

    Without --lang, GRADCLI_LANG decides (main() chose it already); a value gradcli does not
    speak is warned about once.
    """
    from . import i18n

    chosen, warning = i18n.language(lang)
    if warning and not ctx.resilient_parsing:
        _warn([warning])
    i18n.choose(chosen)


def _warn(messages: list[str]) -> None:
    """Warnings on stderr, in the chosen language."""
    if messages:
        from .i18n import message, tr

        for text in messages:
            _write_stderr(f"gradcli: {tr('warning')}: {message(text)}")


def _write_stderr(text: str) -> None:
    """A line on stderr (see _on_stderr)."""

    def write():
        encoding = getattr(sys.stderr, "encoding", None) or "utf-8"
        click.echo(text.encode(encoding, "backslashreplace").decode(encoding), err=True)

    _on_stderr(write)


def _on_stderr(write) -> None:
    """write() to stderr if stderr can take it. When it cannot (closed, a full disk) the exit code
    still says what happened, and a failed warning must not change it; with stderr closed,
    click and traceback would write to stdout instead, so nothing is written."""
    if sys.stderr is None:
        return
    try:
        write()
    except OSError:
        pass


LANG_OPTION = click.option(
    "--lang", type=click.Choice(["en", "ja"], case_sensitive=False), is_eager=True, expose_value=False,
    callback=_choose_language, help="Language of the output and the messages [default: $GRADCLI_LANG, else en].")


def program_options(command=None, *, precision: int = 12, json_option: bool = True):
    """The options every command that evaluates a program shares."""
    if command is None:
        return lambda command: program_options(command, precision=precision, json_option=json_option)
    decorators = [
        click.argument("expression", required=False, metavar="EXPR"),
        click.option("--at", "points", multiple=True, type=PointType(), metavar="NAME=VALUE,...",
                     help="The point: x=-2,y=5 (repeatable; values may be constant expressions like pi/4)."),
        click.option("--file", "path", type=click.Path(dir_okay=False, allow_dash=True),
                     help="Read the program from a file ('-' for standard input)."),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout."),
        click.option("--precision", type=click.IntRange(1, 17), default=precision, show_default=True,
                     help="Significant digits in human output."),
        click.option("--cse", is_flag=True, help="Merge identical subexpressions first (one node each)."),
        LANG_OPTION,
    ]
    if not json_option:
        del decorators[3]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


class ExpectType(PointType):
    """Like --at, keeping the precision each number was typed with: 0.39 stands for 0.385..0.395."""

    name = "expect"

    def convert(self, value, param, ctx):
        from .check import typed_half_unit

        if isinstance(value, list):
            return value
        return [(name, number, typed_half_unit(text), text.strip()) for name, number, text in self.bindings(value, param)]


def _merge_expectations(groups: tuple[list, ...]) -> list:
    from .check import Expectation

    seen = set()
    expectations = []
    for group in groups:
        for name, value, half_unit, typed in group:
            if name in seen:
                raise BindingError(f"{name} is expected twice")
            seen.add(name)
            expectations.append(Expectation(name, value, half_unit, typed))
    return expectations


def check_options(command):
    """The tolerances and the time limit of the cross-check (`check`, `grad --check`)."""
    decorators = [
        click.option("--rtol", type=FiniteRange(min=0), metavar="R",
                     help="Relative tolerance of reverse mode vs SymPy [default: 1e-8]; finite differences "
                          "use at least 1e-5."),
        click.option("--atol", type=FiniteRange(min=0), metavar="A",
                     help="Absolute tolerance of reverse mode vs SymPy [default: 1e-10]; finite differences "
                          "use at least 1e-7."),
        click.option("--check-timeout", type=FiniteRange(min=0, min_open=True, max=MAX_TIMEOUT), metavar="SECONDS",
                     help="Time limit of the symbolic check [default: 5]; past it only the local or "
                          "finite-difference checks remain."),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


TRACE_PRECISION = 6  # significant digits in a trace, so that its rows fit in 80 columns


def trace_options(command):
    """--max-rows, shared by `trace` and `grad --trace`."""
    decorators = [
        click.option("--max-rows", type=click.IntRange(min=1), metavar="N",
                     help="Show at most N rows of each part of the trace (first and last ones; it says what "
                          "was left out). The JSON is always complete."),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def _trace_printer(result, precision, max_rows):
    """A function that prints the trace on a console, or (given None) returns its JSON member."""
    from .trace import build_trace

    trace = build_trace(result)

    def emit(console):
        if console is None:
            from .trace import trace_object

            return trace_object(trace)
        from .i18n import translator
        from .render.trace import trace_view

        view = trace_view(trace, translator(), precision, max_rows, console.width, gradient=False)
        console.print(view)
        console.print()
        return None

    return emit


def _checked(result, rtol, atol, check_timeout, expectations=None):
    """A function that cross-checks `result` when called (so that the main result prints first)."""
    from .check import Tolerances, check_gradient
    from .witness import DEFAULT_TIMEOUT

    tolerances = Tolerances(**{key: value for key, value in (("rtol", rtol), ("atol", atol)) if value is not None})
    timeout = DEFAULT_TIMEOUT if check_timeout is None else check_timeout
    return lambda: check_gradient(result, tolerances, timeout, expectations)


def _report(result, wrt_names, as_json, precision, trace=None, check=None, gradient=True) -> int:
    """Print a result as one JSON object or as tables, with the trace and the check when asked.

    `trace` comes from _trace_printer, `check` from _checked. The exit status is 1 when a
    witness or an expectation disagrees.
    """
    report = None
    if as_json:
        from .render.json import dumps, gradient_object

        document = gradient_object(result, wrt_names)
        _warn(document["warnings"])
        if trace is not None:
            document["trace"] = trace(None)
        if check is not None:
            from .render.check import check_object

            report = check()
            document["check"] = check_object(report)
        click.echo(dumps(document))
    else:
        from .render.json import all_warnings
        from .render.text import gradient_table

        _warn(all_warnings(result) if gradient else result.warnings)
        if trace is not None:
            trace(_console())
        if gradient:
            _print_whole(gradient_table(result, wrt_names, precision))
        else:
            from .render.check import value_line

            _console().print(value_line(result, precision))
        if check is not None:
            from .render.check import check_view

            report = check()
            _console().print(check_view(report, precision))  # it fits itself to the width (COLUMNS)
    return ExitStatus.OK if report is None or report.ok else ExitStatus.CHECK_FAILED


@click.group(
    epilog=_epilog(*GRAD_EXAMPLES[:3], TRACE_EXAMPLES[0], CHECK_EXAMPLES[0], DIFF_EXAMPLES[0], GRAPH_EXAMPLES[0],
                   EVAL_EXAMPLES[0], can_disagree=True),
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, "--version", prog_name="gradcli", message="%(prog)s %(version)s")
@click.option("--traceback", is_flag=True, help="Show a Python traceback on errors (for debugging).")
def cli(traceback: bool) -> None:
    """Differentiate expressions: value, gradient and step-by-step backprop."""


@cli.command(epilog=_epilog(*GRAD_EXAMPLES, can_disagree=True))
@program_options
@click.option("--wrt", metavar="NAME,...", multiple=True,
              help="Only these partials (variables or named intermediates); may be repeated.")
@click.option("--points", "points_path", type=click.Path(dir_okay=False, allow_dash=True), metavar="FILE",
              help="Value and gradient at every row of FILE: CSV with a header naming the variables, "
                   "or JSON Lines ('-' for standard input).")
@click.option("--format", "output_format", type=click.Choice(["csv", "jsonl"]),
              help="Output of --points: csv (the default) or jsonl (the default with --json).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar on stderr (with --points).")
@click.option("--check", "run_check", is_flag=True,
              help="Cross-check the gradient with SymPy and finite differences (exit 1 if they disagree).")
@click.option("--trace", "show_trace", is_flag=True,
              help="Add the step-by-step backprop trace (as `gradcli trace`, 6 significant digits unless "
                   "--precision is given; with --json a \"trace\" member).")
@check_options
@trace_options
def grad(expression, points, path, as_json, precision, cse, wrt, points_path, output_format, quiet,
         run_check, show_trace, rtol, atol, check_timeout, max_rows):
    """Value and gradient of EXPR at a point (reverse-mode AD)."""
    from .api import differentiate, node_named
    from .parse import parse

    if run_check and points_path is not None:
        raise click.UsageError("--check checks one point (--at), not a --points file")
    if not run_check and (rtol, atol, check_timeout) != (None, None, None):
        raise click.UsageError("--rtol, --atol and --check-timeout go with --check")
    if not show_trace and max_rows is not None:
        raise click.UsageError("--max-rows goes with --trace")
    if show_trace and (points_path is not None or output_format is not None):
        raise click.UsageError("--trace explains one point (--at), not a --points file")
    if points_path is not None or output_format is not None:
        return _grad_points(expression, path, cse, points, wrt, points_path, output_format, as_json, quiet)
    graph = parse(_read_program(expression, path), cse=cse)
    wrt_names = _names(wrt)
    for name in wrt_names or ():  # an unknown name is bad input, found before any maths
        node_named(graph, name)
    # The check compares every variable, so its notes are about every variable too.
    result = differentiate(graph, _merge_points(points), record=show_trace or run_check,
                           wrt=None if run_check else wrt_names)
    trace = None
    if show_trace:
        explicit = click.get_current_context().get_parameter_source("precision") != ParameterSource.DEFAULT
        trace = _trace_printer(result, precision if explicit else TRACE_PRECISION, max_rows)
    check = _checked(result, rtol, atol, check_timeout) if run_check else None
    return _report(result, wrt_names, as_json, precision, trace, check)


def _grad_points(expression, path, cse, at, wrt, points_file, output_format, as_json, quiet):
    """`grad --points FILE`: the batch mode (gradcli.batch); `at` (--at) fixes variables for every row."""
    from .batch.run import run_points
    from .parse import parse

    if points_file is None:
        raise click.UsageError("--format applies to --points output")
    if as_json and output_format == "csv":
        raise click.UsageError("--json asks for JSON Lines output; it contradicts --format csv")
    if points_file == "-" and "-" in (expression, path):
        raise click.UsageError("the program and --points cannot both come from standard input")
    graph = parse(_read_program(expression, path), cse=cse)
    output_format = output_format or ("jsonl" if as_json else "csv")
    return run_points(graph, _merge_points(at), points_file, output_format, _names(wrt),
                      warn=lambda message: _warn([message]), say=_write_stderr, quiet=quiet)




@cli.command("trace", epilog=_epilog(*TRACE_EXAMPLES))
@program_options(precision=TRACE_PRECISION)
@trace_options
def trace_command(expression, points, path, as_json, precision, cse, max_rows):
    """Step-by-step backprop of EXPR at a point: forward pass, backward pass, branch sums, gradient.

    With --json, the `grad --json` object with a "trace" member: forward, backward and branches.
    """
    from .api import differentiate
    from .parse import parse
    from .render.json import all_warnings

    graph = parse(_read_program(expression, path), cse=cse)
    result = differentiate(graph, _merge_points(points), record=True)
    if as_json:  # the same object as `grad --trace --json`
        return _report(result, None, True, precision, trace=_trace_printer(result, precision, max_rows))
    from .i18n import translator
    from .render.trace import trace_view
    from .trace import build_trace

    _warn(all_warnings(result))
    console = _console()
    console.print(trace_view(build_trace(result), translator(), precision, max_rows, console.width))
    return ExitStatus.OK


@cli.command("graph", epilog=_epilog(*GRAPH_EXAMPLES))
@program_options(precision=TRACE_PRECISION)
@click.option("--format", "output_format", type=click.Choice(["tree", "dot", "mermaid"]), default="tree",
              show_default=True, help="A Rich tree, Graphviz DOT or Mermaid flowchart text.")
def graph_command(expression, points, path, as_json, precision, cse, output_format):
    """The computational graph of EXPR; with --at each node shows its value and gradient.

    With --json, one object with "nodes" and "edges" (and with --at `grad --json`'s members).
    """
    from .parse import parse
    from .render.graph import GraphPicture, dot_text, graph_object, mermaid_text, tree_view

    if as_json and output_format != "tree":
        raise click.UsageError(f"--json prints the graph as one JSON object; it goes without --format {output_format}")
    graph = parse(_read_program(expression, path), cse=cse)
    result = None
    if points:
        from .api import differentiate
        from .render.json import all_warnings

        result = differentiate(graph, _merge_points(points), record=True)
        _warn(all_warnings(result))
    else:
        _warn(graph.notes)
    picture = GraphPicture(graph, result, precision)
    if as_json:
        from .render.json import dumps

        click.echo(dumps(graph_object(picture)))
    elif output_format != "tree":
        click.echo((dot_text if output_format == "dot" else mermaid_text)(picture), nl=False)
    else:
        console = _console()
        console.print(tree_view(picture, console.width))
    return ExitStatus.OK


@cli.command("eval", epilog=_epilog(*EVAL_EXAMPLES))
@program_options
def eval_command(expression, points, path, as_json, precision, cse):
    """The value of EXPR at a point."""
    from .api import value_at
    from .formatting import format_value
    from .parse import parse

    graph = parse(_read_program(expression, path), cse=cse)
    value, at, warnings = value_at(graph, _merge_points(points))
    _warn(warnings)
    if as_json:
        from .render.json import dumps, value_object

        click.echo(dumps(value_object(graph, at, value)))
    else:
        click.echo(format_value(value, precision))
    return ExitStatus.OK




@cli.command(epilog=_epilog(*CHECK_EXAMPLES, can_disagree=True))
@program_options
@check_options
@click.option("--expect", "expect", multiple=True, type=ExpectType(), metavar="NAME=VALUE,...",
              help="Your own ∂f/∂NAME values; a decimal counts to the digits typed (0.39 matches 0.3932).")
@click.option("--expect-node", "expect_node", multiple=True, type=ExpectType(), metavar="NAME=VALUE,...",
              help="Your ∂f/∂NAME for intermediate nodes (q, or t1 as traces label it): the first wrong "
                   "step in backward order is explained.")
def check(expression, points, path, as_json, precision, cse, rtol, atol, check_timeout, expect, expect_node):
    """Check the gradient of EXPR: reverse mode vs SymPy vs finite differences (and your numbers)."""
    from .api import differentiate
    from .check import resolve_node
    from .parse import parse

    graph = parse(_read_program(expression, path), cse=cse)
    result = differentiate(graph, _merge_points(points), record=True)  # the check reads the edges
    expectations = _merge_expectations(expect + expect_node)
    for expectation in expectations:  # before any output: a wrong name is a usage error
        resolve_node(graph, expectation.name)
    check = _checked(result, rtol, atol, check_timeout, expectations)
    return _report(result, None, as_json, precision, check=check, gradient=False)


@cli.command(epilog=_epilog(*DIFF_EXAMPLES))
@program_options
@click.option("--wrt", metavar="NAME,...", multiple=True,
              help="Only these partials (variables or named intermediates); may be repeated.")
@click.option("--latex", is_flag=True, help="LaTeX formulas.")
@click.option("--plain", is_flag=True, help="One plain line per partial, `df/dx = ...`, for scripts.")
@click.option("--timeout", "--check-timeout", "timeout", type=FiniteRange(min=0, min_open=True, max=MAX_TIMEOUT),
              metavar="SECONDS", help="Time limit for SymPy [default: 5]; past it, exit 2.")
def diff(expression, points, path, as_json, precision, cse, wrt, latex, plain, timeout):
    """Each partial derivative of EXPR as a simplified formula (SymPy); with --at also its value."""
    from .diff import symbolic_derivatives
    from .parse import parse
    from .witness import DEFAULT_TIMEOUT

    if latex and plain:
        raise click.UsageError("choose one of --latex and --plain")
    graph = parse(_read_program(expression, path), cse=cse)
    at = _merge_points(points)
    derivatives = symbolic_derivatives(graph, _names(wrt), at if points else None,
                                       DEFAULT_TIMEOUT if timeout is None else timeout)
    from .render.diff import diff_lines, diff_object, diff_view

    document = diff_object(derivatives)
    _warn(document["warnings"])
    if as_json:
        from .render.json import dumps

        click.echo(dumps(document))
    elif latex or plain:
        for line in diff_lines(derivatives, latex, precision):
            click.echo(line)
    else:
        # A table where it fits, else stacked; a formula wider than the terminal is not cut (the terminal wraps it).
        _console().print(diff_view(derivatives, precision), crop=False)
    return ExitStatus.OK


def _console():
    from rich.console import Console

    return Console(highlight=False)


def _print_whole(renderable) -> None:
    """Print one of gradcli's tables, which fit themselves to the width (COLUMNS, a pipe's 80): they
    wrap and stack rather than cut a number to `-0…`; nothing is cropped, and a line of text (the
    value line) is not folded, however narrow the terminal."""
    _console().print(renderable, crop=False, soft_wrap=True)


def _takes_a_program(ctx) -> bool:
    return ctx is not None and any(parameter.name == "expression" for parameter in ctx.command.params)


class Interrupted(BaseException):
    """Ctrl-C. Not KeyboardInterrupt, which click meets first and answers with a blank line of its own."""


def _interrupt(signal_number, frame):
    raise Interrupted


def _escape_what_the_console_cannot_encode() -> None:
    """On a stdout or stderr that is not UTF-8 (latin-1, ascii, a cp1252 console), print ∂ or θ
    as a backslash escape instead of failing: `\u03b8` is also what JSON itself would write."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "utf-8").lower().replace("-", "").replace("_", "")
        if not encoding.startswith("utf") and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; map every outcome to a documented exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if sys.stdout is None:  # started with standard output closed (`>&-`): nowhere to put a result
        _write_stderr("gradcli: error: cannot write the output: standard output is closed")
        return ExitStatus.IO_ERROR
    _escape_what_the_console_cannot_encode()
    # `gradcli --traceback grad ...`: a group option, so before the command (not in a program text)
    show_traceback = "--traceback" in itertools.takewhile(lambda word: word.startswith("-"), argv)
    from . import i18n

    i18n.choose(i18n.language(None)[0])  # GRADCLI_LANG; a command's --lang may change it
    try:
        previous_handler = signal.signal(signal.SIGINT, _interrupt)
    except ValueError:  # not the main thread (an embedding application): Ctrl-C stays as it is
        previous_handler = None
    try:
        status = cli.main(args=argv, prog_name="gradcli", standalone_mode=False)
        sys.stdout.flush()
        return int(status or 0) if isinstance(status, int) else 0
    except GradcliError as error:
        if show_traceback:
            _print_traceback()
        from .render.error import format_error

        _write_stderr(format_error(error))
        return error.exit_status
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as error:
        if isinstance(error, click.NoSuchOption) and _takes_a_program(error.ctx) and error.option_name[1] != "-":
            import shlex

            program = next((word for word in argv if word.startswith(error.option_name)), error.option_name)
            error.message += (f" A program that starts with '-' goes last, after '--', with the options before it: "
                              f"gradcli {error.ctx.info_name} --at ... -- {shlex.quote(program)}")
        from .i18n import message

        error.message = message(error.message)
        _on_stderr(error.show)
        return ExitStatus.BAD_INPUT if error.exit_code == 2 else error.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt, Interrupted):
        from .i18n import tr

        _write_stderr(f"gradcli: {tr('interrupted')}")
        return ExitStatus.INTERRUPTED
    except (BrokenPipeError, SystemExit) as stop:
        # The reader (e.g. `head -1`) has gone. Click (on EPIPE) and Rich (Console.on_broken_pipe)
        # answer that with SystemExit(1), nothing else here raises SystemExit, and 1 means "a
        # check disagrees": stop quietly with 0 instead, and keep Python from complaining at exit.
        if isinstance(stop, SystemExit) and stop.code != 1:
            raise
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return ExitStatus.OK
    except OSError as error:  # not a bug of ours: the system could not take the output (ENOSPC, EIO)
        _write_stderr(f"gradcli: error: cannot write the output: {error.strerror or error}")
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the exit's flush of what is left does not fail again
        return ExitStatus.IO_ERROR
    except MemoryError as error:  # the limits keep the largest inputs to a few gigabytes; a smaller machine ends here
        error.__traceback__ = None  # let go of the frames, and of the memory they hold, before writing
        _write_stderr("gradcli: error: out of memory: the input is too large for this machine")
        return ExitStatus.BAD_INPUT
    except ModuleNotFoundError as error:
        package = (error.name or "").split(".")[0]
        if package not in DEPENDENCIES:
            return _internal_error(error, show_traceback)
        # An installation without one of gradcli's dependencies (deleted, or a partial copy):
        # the user can fix it, so it is not a bug of ours.
        _write_stderr(_format_message(
            "gradcli needs the Python package {package}, which is not installed: python3 -m pip install {package}",
            package=package))
        return ExitStatus.BAD_INPUT
    except Exception as error:  # noqa: BLE001 - the last line of defence: never a bare traceback
        return _internal_error(error, show_traceback)
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGINT, previous_handler)


DEPENDENCIES = ("numpy", "sympy", "rich", "mpmath", "click")  # their import names are their package names


def _format_message(template: str, **fields) -> str:
    """`gradcli: error: ...` in the chosen language."""
    from .render.error import format_error

    return format_error(GradcliError(template.format(**fields)))


def _internal_error(error: Exception, show_traceback: bool) -> int:
    if show_traceback:
        _print_traceback()
    _write_stderr(f"gradcli: internal error: {type(error).__name__}: {error} (for the details, run it again "
                  f"with --traceback before the command: gradcli --traceback grad ...)")
    return ExitStatus.INTERNAL


def _as_typed(word: str) -> str:
    """Names and values on the command line as typed: under an ASCII locale (LC_ALL=C without
    UTF-8 mode) Python decodes `θ` as two surrogate escapes; bytes that are UTF-8 are read as
    UTF-8, others stay escaped. Not for paths, which the file system takes back as bytes."""
    try:
        word.encode("utf-8")  # no surrogate escape in it: as typed
        return word
    except UnicodeEncodeError:
        pass
    try:
        return os.fsencode(word).decode("utf-8")
    except UnicodeError:
        return word


def _print_traceback() -> None:
    """--traceback: the Python traceback of the error being handled, then the usual message and exit code."""
    import traceback

    _on_stderr(traceback.print_exc)


def run() -> None:
    """Console-script entry point: run, flush, and end the process at once.

    os._exit skips the interpreter's finalization, which frees every object one by one and
    costs a tenth of a small command's time (start-up is part of the product). Nothing is lost:
    gradcli registers no exit handler, the SymPy child has been joined, and the output is
    flushed here.
    """
    status = main()
    try:
        if sys.stdout is not None:
            sys.stdout.flush()  # main() has flushed it (or pointed it at /dev/null): nothing should be left
    except (OSError, ValueError):
        status = status or ExitStatus.IO_ERROR
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
    except (OSError, ValueError):
        pass  # as in _write_stderr: the exit code says what happened
    os._exit(status)
