"""The click group and its commands: each reads its input, calls the API, hands the result to a renderer."""

from __future__ import annotations

import click
from click.core import ParameterSource

from .. import __version__
from ..api import shown_names
from ..errors import BindingError, ExitStatus
from . import output
from .inputs import Inputs, names
from .options import (
    MAX_TIMEOUT, TRACE_PRECISION, ExpectType, FiniteRange, check_options, epilog, expectations, full_option,
    jacobians_option, max_rows_option, program_options, wrt_option,
)

CIRCUIT = '"(x+y)*z" --at x=-2,y=5,z=-4'
GRAD_EXAMPLES = (
    f"grad {CIRCUIT}",
    'grad "q = x + y; f = q * z" --at x=-2,y=5,z=-4 --json',
    'grad "sigmoid(w0*x0 + w1*x1 + w2)" --at w0=2,x0=-1,w1=-3,x1=-2,w2=-3',
    'echo "x^2 + sin(x)" | gradcli grad - --at x=pi/4',
    f"grad {CIRCUIT} --check",
    f"grad {CIRCUIT} --trace",
    'grad --file examples/softmax-xent.grad --at z1=2,z2=1,z3=0.1 --data y1=1,y2=0,y3=0',
    """grad "a = softmax(z); L = -sum(y * log(a))" --at 'z=[2,1,0.1],y=[1,0,0]' --data y""",
    'grad "sigmoid(w0*x0 + w1*x1 + w2)" --points examples/points.csv',
)
TRACE_EXAMPLES = (
    f"trace {CIRCUIT}",
    'trace "a = x + y; b = max(y, z); f = a * b" --at x=1,y=2,z=0',
    'trace "y1 = 2*x; y2 = x^2; z = y1 + y2" --at x=3 --lang ja',
    "trace --file examples/cs224n-branch.grad --at x=1,y=2,z=0 --json",
    "trace --file examples/softmax-xent.grad --at z1=2,z2=1,z3=0.1 --data y1=1,y2=0,y3=0 --wrt z1",
    """trace "a = softmax(z); L = -sum(y * log(a))" --at 'z=[2,1,0.1],y=[1,0,0]' --data y --jacobians""",
)
GRAPH_EXAMPLES = (
    f"graph {CIRCUIT}",
    'graph "sigmoid(w0*x0 + w1*x1 + w2)" --at w0=2,x0=-1,w1=-3,x1=-2,w2=-3 --format dot',
    'graph "q = x + y; f = q * z" --format mermaid',
    "graph --file examples/cs224n-branch.grad --at x=1,y=2,z=0 --json",
    f"graph {CIRCUIT} --format svg",
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
JACOBIAN_EXAMPLES = (
    """jacobian "sigmoid(z)" --at 'z=[0.5,-1,2]'""",
    """jacobian "W @ x + b" --at 'W=[[1,2,3],[4,5,6]],x=[1,0,-1],b=[0.5,0.5]'""",
    """jacobian "softmax(z)" --at 'z=[2,1,0.1]' --json""",
    'jacobian "x*y" --at x=2,y=3',
)
WORKSHEET_EXAMPLES = (
    'worksheet "q = x + y; f = q * z" --at x=-2,y=5,z=-4 --blank backward --format md',
    "worksheet --file examples/apple.grad --random-point --seed 7 --format html --lang ja",
    f"worksheet {CIRCUIT} --blank both --format latex",
)


@click.group(
    epilog=epilog(*GRAD_EXAMPLES[:3], TRACE_EXAMPLES[0], CHECK_EXAMPLES[0], DIFF_EXAMPLES[0], GRAPH_EXAMPLES[0],
                  EVAL_EXAMPLES[0], JACOBIAN_EXAMPLES[0], WORKSHEET_EXAMPLES[0], can_disagree=True),
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, "--version", prog_name="gradcli", message="%(prog)s %(version)s")
@click.option("--traceback", is_flag=True, help="Show a Python traceback on errors (for debugging).")
def cli(traceback: bool) -> None:
    """Differentiate expressions: value, gradient and step-by-step backprop."""


def _differentiate(inputs: Inputs, record: bool = False, wrt: list[str] | None = None, scalar_only: str | None = None):
    """Parse and differentiate at the point (differentiate checks --wrt and --data before any maths).

    `scalar_only` names what needs a scalar program at scalar values (a trace, a check), refused
    with exit 2 on vectors and matrices until it learns them.
    """
    from ..api import differentiate

    graph = inputs.graph()
    if scalar_only:
        _refuse_arrays(graph, inputs.at, scalar_only)
    return differentiate(graph, inputs.at, record=record, wrt=wrt, data=inputs.data)


def _refuse_arrays(graph, at: dict, what: str) -> None:
    """Exit 2 when `what` (`trace`, `grad --check`, ...) meets a vector or matrix, which it does not handle yet."""
    from ..errors import GradcliError

    if graph.uses_arrays or any(type(value) is not float for value in at.values()):
        raise GradcliError(f"{what} does not work on vectors and matrices yet; plain `gradcli grad` gives their "
                           f"value and gradient")


def _usage_errors(*rules: tuple[bool, str]) -> None:
    """The first message whose condition holds, as a usage error (exit 2)."""
    for broken, message in rules:
        if broken:
            raise click.UsageError(message)


@cli.command(epilog=epilog(*GRAD_EXAMPLES, can_disagree=True))
@program_options
@wrt_option
@click.option("--points", "points_file", type=click.Path(dir_okay=False, allow_dash=True), metavar="FILE",
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
@click.option("--save", "save_file", type=click.Path(dir_okay=False), metavar="FILE.npz",
              help="Also write the value and the gradient to a NumPy .npz file: `value` and `grad_NAME` "
                   "for each partial shown (numpy.load(FILE)).")
@click.option("--full", is_flag=True, help="Print every entry of a large vector or matrix, not a summary.")
@check_options
@max_rows_option
def grad(inputs, as_json, precision, wrt, points_file, output_format, quiet, run_check, show_trace, save_file, full,
         rtol, atol, check_timeout, max_rows):
    """Value and gradient of EXPR at a point (reverse-mode AD)."""
    batch = points_file is not None or output_format is not None
    _usage_errors((run_check and batch, "--check checks one point (--at), not a --points file"),
                  (save_file is not None and batch, "--save writes one point's gradient (--at), not a --points file"),
                  (not run_check and (rtol, atol, check_timeout) != (None, None, None),
                   "--rtol, --atol and --check-timeout go with --check"),
                  (not show_trace and max_rows is not None, "--max-rows goes with --trace"),
                  (show_trace and batch, "--trace explains one point (--at), not a --points file"))
    if batch:
        return _grad_points(inputs, wrt, points_file, output_format, as_json, quiet)
    wrt = names(wrt)
    # The check compares every variable, so its gradients (and notes) are about every variable too.
    result = _differentiate(inputs, record=show_trace or run_check, wrt=None if run_check else wrt)
    explicit = click.get_current_context().get_parameter_source("precision") != ParameterSource.DEFAULT
    trace = _trace_printer(result, precision if explicit else TRACE_PRECISION, max_rows, full=full) if show_trace \
        else None
    check = output.checker(result, rtol, atol, check_timeout) if run_check else None
    if save_file is not None:
        output.save_npz(result, save_file, wrt)
    return output.report(result, as_json, precision, trace, check, wrt=wrt, full=full)


def _grad_points(inputs: Inputs, wrt, points_file, output_format, as_json, quiet):
    """`grad --points FILE`: the batch mode (gradcli.batch); --at fixes variables for every row."""
    from ..batch.run import run_points

    _usage_errors((points_file is None, "--format applies to --points output"),
                  (as_json and output_format == "csv", "--json asks for JSON Lines output; it contradicts --format csv"),
                  (points_file == "-" and inputs.from_stdin(),
                   "the program and --points cannot both come from standard input"),
                  (points_file == "-" and inputs.at_file == "-",
                   "--at-file and --points cannot both come from standard input"))
    output_format = output_format or ("jsonl" if as_json else "csv")
    graph = inputs.graph()
    wanted = shown_names(graph, names(wrt), inputs.data) if wrt or inputs.data else None
    return run_points(graph, inputs.at, points_file, output_format, wanted,
                      warn=lambda message: output.warn([message]), say=output.write_stderr, quiet=quiet,
                      given_by=inputs.given_by)


def _trace_printer(result, precision: int, max_rows: int | None, jacobians: bool = False, full: bool = False,
                   gradient: bool = False):
    """The trace's printer (output.trace_printer's contract): the scalar trace, or on vectors and
    matrices the one with shapes, matrix-form rules and (--jacobians) local Jacobians."""
    if result.shapes is None:
        return output.trace_printer(result, precision, max_rows)
    from ..render.array_trace import array_trace_printer

    return array_trace_printer(result, precision, max_rows, jacobians, full, gradient)


@cli.command("trace", epilog=epilog(*TRACE_EXAMPLES))
@program_options(precision=TRACE_PRECISION)
@wrt_option
@max_rows_option
@jacobians_option
@full_option
@click.option("--html", "html_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also write the trace as a step-through page (the circuit, buttons, arrow keys) to FILE.")
def trace_command(inputs, as_json, precision, wrt, max_rows, jacobians, full, html_file):
    """Step-by-step backprop of EXPR at a point: forward pass, backward pass, branch sums, gradient.

    On vectors and matrices each step gives its rule in matrix form (δ xᵀ, Wᵀ δ, δ ⊙ f′(z)) and
    checks the shapes. With --wrt, only the steps on the paths to those names. With --json, the
    `grad --json` object with a "trace" member: forward, backward and branches.
    """
    result = _differentiate(inputs, record=True, wrt=names(wrt))
    if html_file is not None:
        from ..render.graph import GraphPicture
        from ..render.html import html_page

        page = html_page(GraphPicture(result.graph, result, precision))  # before the file: a refusal leaves none
        with open(html_file, "w", encoding="utf-8") as stream:
            stream.write(page)
    if as_json:  # the same object as `grad --trace --json`
        return output.report(result, True, precision, trace=_trace_printer(result, precision, max_rows, jacobians))
    from ..i18n import translator
    from ..render.json import all_warnings
    from ..render.trace import trace_view
    from ..trace import build_trace

    output.warn(all_warnings(result))
    console = output.console()
    if result.shapes is not None:
        _trace_printer(result, precision, max_rows, jacobians, full, gradient=True)(console)
        return ExitStatus.OK
    console.print(trace_view(build_trace(result), translator(), precision, max_rows, console.width))
    return ExitStatus.OK


@cli.command("graph", epilog=epilog(*GRAPH_EXAMPLES))
@program_options(precision=TRACE_PRECISION)
@click.option("--format", "output_format", type=click.Choice(["tree", "dot", "mermaid", "svg", "html"]),
              default="tree", show_default=True,
              help="A Rich tree, Graphviz DOT or Mermaid flowchart text, the circuit as SVG, or a "
                   "step-through HTML page (with --at).")
def graph_command(inputs, as_json, precision, output_format):
    """The computational graph of EXPR; with --at each node shows its value and gradient
    (on vectors and matrices also its shape, and a large value by its norm).

    With --json, one object with "nodes" and "edges" (and with --at `grad --json`'s members).
    """
    from ..render.graph import GraphPicture, dot_text, graph_object, mermaid_text, tree_view
    from ..render.json import all_warnings

    _usage_errors((as_json and output_format != "tree",
                   f"--json prints the graph as one JSON object; it goes without --format {output_format}"))
    result = _differentiate(inputs, record=True) if inputs.has_point else None
    graph = result.graph if result else inputs.graph()
    output.warn(all_warnings(result) if result else graph.notes)
    picture = GraphPicture(graph, result, precision)
    if as_json:
        output.echo_json(graph_object(picture))
    elif output_format in ("svg", "html"):
        from ..render.html import html_page
        from ..render.svg import svg_text

        click.echo((svg_text if output_format == "svg" else html_page)(picture), nl=False)
    elif output_format != "tree":
        click.echo((dot_text if output_format == "dot" else mermaid_text)(picture), nl=False)
    else:
        console = output.console()
        console.print(tree_view(picture, console.width))
    return ExitStatus.OK


@cli.command("eval", epilog=epilog(*EVAL_EXAMPLES))
@program_options
def eval_command(inputs, as_json, precision):
    """The value of EXPR at a point."""
    from ..api import value_at
    from ..formatting import format_value

    graph = inputs.graph()
    value, at, warnings = value_at(graph, inputs.at)
    output.warn(warnings)
    if as_json:
        from ..render.json import value_object

        output.echo_json(value_object(graph, at, value))
    else:
        click.echo(format_value(value, precision))
    return ExitStatus.OK


@cli.command(epilog=epilog(*CHECK_EXAMPLES, can_disagree=True))
@program_options
@check_options
@click.option("--expect", "expect", multiple=True, type=ExpectType(), metavar="NAME=VALUE,...",
              help="Your own ∂f/∂NAME values; a decimal counts to the digits typed (0.39 matches 0.3932).")
@click.option("--expect-node", "expect_node", multiple=True, type=ExpectType(), metavar="NAME=VALUE,...",
              help="Your ∂f/∂NAME for intermediate nodes (q, or t1 as traces label it): the first wrong "
                   "step in backward order is explained.")
def check(inputs, as_json, precision, rtol, atol, check_timeout, expect, expect_node):
    """Check the gradient of EXPR: reverse mode vs SymPy vs finite differences (and your numbers)."""
    from ..check import resolve_node

    result = _differentiate(inputs, record=True)  # the scalar check reads the edges
    expected = expectations(expect + expect_node)
    for expectation in expected:  # before any output: a wrong name is a usage error
        resolve_node(result.graph, expectation.name)
        if expectation.name in inputs.data:
            raise BindingError(f"--expect {expectation.name}: {expectation.name} is data (--data), which has no gradient")
    if expected and result.shapes is not None:  # vectors and matrices: only partials that are one number
        from ..array_check import refuse_expectations

        refuse_expectations(result, expected)
    checked = output.checker(result, rtol, atol, check_timeout, expected)
    return output.report(result, as_json, precision, check=checked, gradient=False)


@cli.command(epilog=epilog(*DIFF_EXAMPLES))
@program_options
@wrt_option
@click.option("--latex", is_flag=True, help="LaTeX formulas.")
@click.option("--plain", is_flag=True, help="One plain line per partial, `df/dx = ...`, for scripts.")
@click.option("--timeout", "--check-timeout", "timeout", type=FiniteRange(min=0, min_open=True, max=MAX_TIMEOUT),
              metavar="SECONDS", help="Time limit for SymPy [default: 5]; past it, exit 2.")
def diff(inputs, as_json, precision, wrt, latex, plain, timeout):
    """Each partial derivative of EXPR as a simplified formula (SymPy); with --at also its value."""
    from ..diff import symbolic_derivatives
    from ..render.diff import diff_lines, diff_object, diff_view
    from ..witness import DEFAULT_TIMEOUT

    _usage_errors((latex and plain, "choose one of --latex and --plain"))
    graph = inputs.graph()
    _refuse_arrays(graph, inputs.at, "diff")
    wanted = shown_names(graph, names(wrt), inputs.data) if wrt or inputs.data else None
    derivatives = symbolic_derivatives(graph, wanted, inputs.at if inputs.has_point else None,
                                       DEFAULT_TIMEOUT if timeout is None else timeout)
    document = diff_object(derivatives, inputs.data)
    output.warn(document["warnings"])
    if as_json:
        output.echo_json(document)
    elif latex or plain:
        for line in diff_lines(derivatives, latex, precision):
            click.echo(line)
    else:
        # A table where it fits, else stacked; a formula wider than the terminal is not cut (the terminal wraps it).
        output.console().print(diff_view(derivatives, precision), crop=False)
    return ExitStatus.OK


@cli.command("jacobian", epilog=epilog(*JACOBIAN_EXAMPLES))
@program_options
@wrt_option
@click.option("--full", is_flag=True, help="Print every entry of a large Jacobian or value, not a summary.")
def jacobian_command(inputs, as_json, precision, wrt, full):
    """The Jacobian of EXPR's output with respect to each variable, at a point (reverse mode).

    Its shape is the output's followed by the variable's, as in JAX; the screen shows it as a
    matrix, a row per output entry. With --json, "jacobian" by name as nested lists.
    """
    from ..jacobian import jacobian_of
    from ..render.jacobian import jacobian_object, jacobian_view

    result = jacobian_of(inputs.graph(), inputs.at, wrt=names(wrt), data=inputs.data)
    if as_json:
        document = jacobian_object(result)
        output.warn(document["warnings"])
        output.echo_json(document)
    else:
        from ..render.json import all_warnings

        output.warn(all_warnings(result))
        output.print_whole(jacobian_view(result, precision, full))
    return ExitStatus.OK


@cli.command("worksheet", epilog=epilog(*WORKSHEET_EXAMPLES))
@program_options(precision=TRACE_PRECISION)
@click.option("--blank", type=click.Choice(["forward", "backward", "both"]), default="backward", show_default=True,
              help="The cells left to fill in: forward, the values; backward, the local gradients, the "
                   "contributions, the branch sums and the gradient; or both.")
@click.option("--format", "output_format", type=click.Choice(["md", "html", "latex"]), default="md",
              show_default=True, help="Markdown, a printable A4 HTML page with the circuit, or LaTeX for pdflatex.")
@click.option("--answers", "answers_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the answer key to FILE (same format) instead of after the sheet.")
@click.option("--random-point", is_flag=True,
              help="Draw the variables not given with --at: small integers or simple decimals where every value "
                   "and gradient is a short number and no kink is hit.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), metavar="N",
              help="The seed of --random-point: one seed, one point [default: a random seed, shown on the sheet].")
def worksheet_command(inputs, as_json, precision, blank, output_format, answers_file, random_point, seed):
    """A backprop exercise for EXPR: the trace's tables with blank cells, the answer key, and the
    `gradcli check` command that checks a student's numbers. Scalar programs only."""
    import random

    from ..render.worksheet import render
    from ..worksheet import build_worksheet, random_point as draw_point, refuse_arrays

    _usage_errors((as_json, "a worksheet is Markdown, HTML or LaTeX (--format), not JSON"),
                  (seed is not None and not random_point, "--seed goes with --random-point"))
    graph = inputs.graph()
    refuse_arrays(graph, inputs.at)
    if random_point:
        seed = random.SystemRandom().randrange(10_000) if seed is None else seed
        result = draw_point(graph, inputs.at, inputs.data, seed)
    else:
        result = _differentiate(inputs, record=True)
    program = ["--file", inputs.file] if inputs.file not in (None, "-") else [graph.source]
    sheet = build_worksheet(result, blank, precision, program, seed if random_point else None, inputs.cse)
    document, answers = render(sheet, output_format, answers_file is not None)
    output.warn(result.warnings)
    if answers is not None:
        _write_answers(answers_file, answers)
    click.echo(document, nl=False)
    return ExitStatus.OK


def _write_answers(path: str, text: str) -> None:
    """--answers FILE: the answer key, written before the sheet is printed (a file that cannot be written is exit 2)."""
    try:
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as error:
        raise BindingError(f"--answers {path}: cannot write it: {error.strerror or error}") from None
