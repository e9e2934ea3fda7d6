"""The options the commands share, and the types that read them as typed."""

from __future__ import annotations

import functools

import click

from ..errors import BindingError, GradcliError
from ..parse import normalize
from .inputs import IDENTIFIER, Inputs, as_typed
from .output import warn

MAX_TIMEOUT = 1e6  # seconds (eleven days); far more than any use, and below what the clocks can hold
TRACE_PRECISION = 6  # significant digits in a trace, so that its rows fit in 80 columns


def epilog(*examples: str, can_disagree: bool = False) -> str:
    """A command's help epilog: its examples (`grad ...` runs as `gradcli grad ...`), then its exit codes."""
    import textwrap

    codes = ["0 ok", *(["1 a check disagrees"] if can_disagree else []), "2 bad input or usage",
             "3 a math error at the point", "74 the output could not be written", "70 an internal error",
             "130 interrupted."]
    lines = "\n".join(f"  {'' if example.startswith('echo') else 'gradcli '}{example}" for example in examples)
    return f"\b\nExamples:\n{lines}\n\n\b\n" + textwrap.fill("Exit codes: " + ", ".join(codes), 72) + "\n"


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses and brackets, so `x=max(1,2),z=[1,2],y=3` is three bindings."""
    parts, depth, current = [], 0, []
    for char in text:
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        depth += (char in "([") - (char in ")]")
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


class AtType(click.ParamType):
    """`x=-2,y=5,z=pi/4` → [(name, value), ...]; a value may be a constant expression, or a vector or
    matrix in brackets, `z=[1,2,3]`, `W=[[1,2],[3,4]]`, whose elements may be constant expressions too."""

    name = "point"
    bare_names = False  # whether a name without a value is allowed (--data y1,y2)

    def convert(self, value, param, ctx):
        """Errors are BindingErrors (exit 2), printed as one `gradcli: error: --at ...` line like any other."""
        if isinstance(value, list):
            return value
        return [(name, number) for name, number, _ in self.bindings(value, param)]

    def bindings(self, value: str, param) -> list[tuple[str, float | None, str]]:
        """(name, value, the value's text) for each `name=value` of the option.

        The whole text is normalised first, as a program is (NFKC), so that what a Japanese
        keyboard types, `りんご＝１００，個数＝２`, reads as `りんご=100,個数=2`.
        """
        from ..api import constant

        option = param.opts[0] if param is not None else "--at"
        bindings = []
        for part in _split_top_level(normalize(as_typed(value))[0]):
            if not part.strip():
                continue  # `x=1,` or `x=1,,y=2`: a stray comma
            name, equals, text = part.partition("=")
            name = name.strip()
            if not equals and not self.bare_names:
                raise BindingError(f"{option} {part.strip()}: not name=value (example: {option} x=-2,y=5)")
            if not IDENTIFIER.fullmatch(name):
                raise BindingError(f"{option} {part.strip()}: {name!r} is not a variable name")
            if not equals:
                bindings.append((name, None, ""))
                continue
            if not text.strip():
                raise BindingError(f"{option} {part.strip()}: no value after {name}=")
            if text.lstrip().startswith("["):
                from ..values import array_from_text  # NumPy, only for a vector or matrix

                try:
                    bindings.append((name, array_from_text(name, text), text))
                except BindingError as error:  # it names the element: `z[1] is a list where a number was expected`
                    raise BindingError(f"{option}: {error.message}") from None
                continue
            try:
                bindings.append((name, constant(text), text))
            except GradcliError as error:
                raise BindingError(f"{option} {name}={text.strip()}: {error.message}") from None
        return bindings


class DataType(AtType):
    """`--data y1,y2` (values from --at) or `--data y1=0,y2=1`: [(name, value or None), ...]."""

    name = "data"
    bare_names = True


class ExpectType(AtType):
    """Like --at, keeping the precision each number was typed with: 0.39 stands for 0.385..0.395."""

    name = "expect"

    def convert(self, value, param, ctx):
        from ..check import typed_half_unit

        if isinstance(value, list):
            return value
        found = self.bindings(value, param)
        for name, number, text in found:
            if type(number) is not float:
                raise BindingError(f"{param.opts[0] if param is not None else '--expect'} {name}={text.strip()}: "
                                   f"an expected partial is a number (vectors and matrices are not supported here yet)")
        return [(name, number, typed_half_unit(text), text.strip()) for name, number, text in found]


def expectations(groups: tuple[list, ...]) -> list:
    """The --expect and --expect-node values, each name once."""
    from ..check import Expectation

    seen = set()
    found = []
    for group in groups:
        for name, value, half_unit, typed in group:
            if name in seen:
                raise BindingError(f"{name} is expected twice")
            seen.add(name)
            found.append(Expectation(name, value, half_unit, typed))
    return found


def _choose_language(ctx, param, lang: str | None) -> None:
    """--lang (eager, so before any other option is converted): the language of all output.

    Without --lang, GRADCLI_LANG decides (main() chose it already); a value gradcli does not
    speak is warned about once.
    """
    from .. import i18n

    chosen, warning = i18n.language(lang)
    if warning and not ctx.resilient_parsing:
        warn([warning])
    i18n.choose(chosen)


def _apply(command, decorators):
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def program_options(command=None, *, precision: int = 12):
    """The options of every command that reads a program; the command gets them as one Inputs."""
    if command is None:
        return lambda command: program_options(command, precision=precision)

    @functools.wraps(command)
    def with_inputs(expression, file, at, at_file, data, cse, **options):
        return command(Inputs(expression, file, at, data, cse, at_file), **options)

    return _apply(with_inputs, [
        click.argument("expression", required=False, metavar="EXPR"),
        click.option("--at", "at", multiple=True, type=AtType(), metavar="NAME=VALUE,...",
                     help="The point: x=-2,y=5 (repeatable; values may be constant expressions like pi/4); "
                          "vectors and matrices in brackets, quoted: 'z=[1,2,3],W=[[1,2],[3,4]]'."),
        click.option("--at-file", "at_file", type=click.Path(dir_okay=False, allow_dash=True), metavar="FILE",
                     help="The point from a file ('-' for standard input): a JSON object of names and values "
                          "(numbers or nested lists), or a NumPy .npz (numpy.savez(FILE, W=W, x=x)). "
                          "--at and --data NAME=VALUE override single names."),
        click.option("--data", "data", multiple=True, type=DataType(), metavar="NAME[=VALUE],...",
                     help="Variables that are data, such as labels: no gradient is computed or shown for them "
                          "(values from --at, or given here)."),
        click.option("--file", "file", type=click.Path(dir_okay=False, allow_dash=True),
                     help="Read the program from a file ('-' for standard input)."),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout."),
        click.option("--precision", type=click.IntRange(1, 17), default=precision, show_default=True,
                     help="Significant digits in human output."),
        click.option("--cse", is_flag=True, help="Merge identical subexpressions first (one node each)."),
        click.option("--lang", type=click.Choice(["en", "ja"], case_sensitive=False), is_eager=True,
                     expose_value=False, callback=_choose_language,
                     help="Language of the output and the messages [default: $GRADCLI_LANG, else en]."),
    ])


def wrt_option(command):
    return click.option("--wrt", metavar="NAME,...", multiple=True,
                        help="Only these partials (variables or named intermediates); may be repeated.")(command)


def check_options(command):
    """The tolerances and the time limit of the cross-check (`check`, `grad --check`)."""
    return _apply(command, [
        click.option("--rtol", type=FiniteRange(min=0), metavar="R",
                     help="Relative tolerance of reverse mode vs SymPy [default: 1e-8]; finite differences "
                          "use at least 1e-5."),
        click.option("--atol", type=FiniteRange(min=0), metavar="A",
                     help="Absolute tolerance of reverse mode vs SymPy [default: 1e-10]; finite differences "
                          "use at least 1e-7."),
        click.option("--check-timeout", type=FiniteRange(min=0, min_open=True, max=MAX_TIMEOUT), metavar="SECONDS",
                     help="Time limit of the symbolic check [default: 5]; past it only the local or "
                          "finite-difference checks remain."),
    ])


def max_rows_option(command):
    """--max-rows, shared by `trace` and `grad --trace`."""
    return click.option("--max-rows", type=click.IntRange(min=1), metavar="N",
                        help="Show at most N rows of each part of the trace (first and last ones; it says what "
                             "was left out). The JSON is always complete.")(command)


def jacobians_option(command):
    """--jacobians of `trace`: the explicit local Jacobians of a trace on vectors and matrices."""
    return click.option("--jacobians", is_flag=True,
                        help="On vectors and matrices, also print each step's local Jacobian where it has at most "
                             "6 rows and 6 columns, and check that δ times it gives the contribution.")(command)


def full_option(command):
    """--full: large vectors and matrices printed whole."""
    return click.option("--full", is_flag=True,
                        help="Print every entry of a large vector or matrix, not a summary.")(command)
