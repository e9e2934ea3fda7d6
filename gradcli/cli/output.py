"""stdout and stderr: warnings, consoles, and a result printed with its trace and check."""

from __future__ import annotations

import contextlib
import os
import sys

import click

from ..errors import ExitStatus


def warn(messages: list[str]) -> None:
    """Warnings on stderr, in the chosen language."""
    if messages:
        from ..i18n import message, tr

        for text in messages:
            write_stderr(f"gradcli: {tr('warning')}: {message(text)}")


def write_stderr(text: str) -> None:
    """A line on stderr (see on_stderr)."""

    def write():
        encoding = getattr(sys.stderr, "encoding", None) or "utf-8"
        click.echo(text.encode(encoding, "backslashreplace").decode(encoding), err=True)

    on_stderr(write)


def on_stderr(write) -> None:
    """write() to stderr if stderr can take it. When it cannot (closed, a full disk) the exit code
    still says what happened, and a failed warning must not change it; with stderr closed,
    click and traceback would write to stdout instead, so nothing is written."""
    if sys.stderr is None:
        return
    try:
        write()
    except OSError:
        pass


def console():
    from rich.console import Console

    return Console(highlight=False)


def print_whole(renderable) -> None:
    """Print one of gradcli's tables, which fit themselves to the width (COLUMNS, a pipe's 80): they
    wrap and stack rather than cut a number to `-0…`; nothing is cropped, and a line of text (the
    value line) is not folded, however narrow the terminal."""
    console().print(renderable, crop=False, soft_wrap=True)


def echo_json(document: dict) -> None:
    from ..render.json import dumps

    click.echo(dumps(document))


def trace_printer(result, precision: int, max_rows: int | None):
    """A function that prints the trace on a console, or (given None) returns its JSON member."""
    from ..trace import build_trace

    trace = build_trace(result)

    def emit(screen):
        if screen is None:
            from ..trace import trace_object

            return trace_object(trace)
        from ..i18n import translator
        from ..render.trace import trace_view

        screen.print(trace_view(trace, translator(), precision, max_rows, screen.width, gradient=False))
        screen.print()
        return None

    return emit


def checker(result, rtol, atol, check_timeout, expectations=None):
    """A function that cross-checks `result` when called (so that the main result prints first)."""
    from ..check import Tolerances, check_gradient
    from ..witness import DEFAULT_TIMEOUT

    tolerances = Tolerances(**{key: value for key, value in (("rtol", rtol), ("atol", atol)) if value is not None})
    timeout = DEFAULT_TIMEOUT if check_timeout is None else check_timeout
    return lambda: check_gradient(result, tolerances, timeout, expectations)


def save_npz(result, path: str, wrt: list[str] | None = None) -> None:
    """`grad --save`: the value as `value` and each partial shown as `grad_NAME`, in a NumPy .npz
    (a number as an array of shape ()). Written through a file object, so that NumPy keeps the
    name as given instead of adding `.npz`; a file that cannot be opened is exit 2, and a failed
    write (a full disk) leaves no half a file."""
    import numpy as np

    from ..errors import BindingError

    arrays = {"value": result.value, **{f"grad_{name}": result.gradient_of(name) for name in wrt or result.shown}}
    try:
        stream = open(path, "wb")
    except OSError as error:
        raise BindingError(f"--save {path}: cannot write it: {error.strerror or error}") from None
    try:
        with stream:
            np.savez(stream, **{key: np.asarray(value, dtype=np.float64) for key, value in arrays.items()})
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


def report(result, as_json: bool, precision: int, trace=None, check=None, gradient: bool = True,
           wrt: list[str] | None = None, full: bool = False) -> int:
    """Print a result as one JSON object or as tables, with the trace and the check when asked.

    `trace` comes from trace_printer, `check` from checker; `wrt` names the partials shown when
    the result has more (a check needs every variable's); `full` prints large vectors and
    matrices whole. The exit status is 1 when a witness or an expectation disagrees.
    """
    checked = None
    if as_json:
        from ..render.json import gradient_object

        document = gradient_object(result, wrt)
        warn(document["warnings"])
        if trace is not None:
            document["trace"] = trace(None)
        if check is not None:
            from ..render.check import check_object

            checked = check()
            document["check"] = check_object(checked)
        echo_json(document)
    else:
        from ..render.json import all_warnings
        from ..render.text import gradient_table, value_line

        warn(all_warnings(result) if gradient else result.warnings)
        if trace is not None:
            trace(console())
        if not gradient:
            print_whole(value_line(result, precision))
        elif result.shapes is not None:  # vectors and matrices: a shape column, and blocks for matrices
            from ..render.arrays import array_gradient_table

            print_whole(array_gradient_table(result, wrt, precision, full=full))
        else:
            print_whole(gradient_table(result, wrt, precision))
        if check is not None:
            from ..render.check import check_view

            checked = check()
            console().print(check_view(checked, precision))  # it fits itself to the width (COLUMNS)
    return ExitStatus.OK if checked is None or checked.ok else ExitStatus.CHECK_FAILED
