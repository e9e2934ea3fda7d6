"""The process around the commands: main() maps every outcome to a documented exit code,
run() ends the process once the output is flushed."""

from __future__ import annotations

import itertools
import os
import signal
import sys

import click

from ..errors import ExitStatus, GradcliError
from .commands import cli
from .output import on_stderr, write_stderr


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
        write_stderr("gradcli: error: cannot write the output: standard output is closed")
        return ExitStatus.IO_ERROR
    _escape_what_the_console_cannot_encode()
    # `gradcli --traceback grad ...`: a group option, so before the command (not in a program text)
    show_traceback = "--traceback" in itertools.takewhile(lambda word: word.startswith("-"), argv)
    from .. import i18n

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
        from ..render.error import format_error

        write_stderr(format_error(error))
        return error.exit_status
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as error:
        if isinstance(error, click.NoSuchOption) and _takes_a_program(error.ctx) and error.option_name[1] != "-":
            import shlex

            program = next((word for word in argv if word.startswith(error.option_name)), error.option_name)
            error.message += (f" A program that starts with '-' goes last, after '--', with the options before it: "
                              f"gradcli {error.ctx.info_name} --at ... -- {shlex.quote(program)}")
        from ..i18n import message

        # click composes the shown text (a parameter's name, "Did you mean ...") at show time:
        # translate that text, and leave click's frame (usage line, help hint) as it is.
        shown = message(error.format_message())
        error.format_message = lambda: shown
        on_stderr(error.show)
        return ExitStatus.BAD_INPUT if error.exit_code == 2 else error.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt, Interrupted):
        from ..i18n import tr

        write_stderr(f"gradcli: {tr('interrupted')}")
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
        write_stderr(f"gradcli: error: cannot write the output: {error.strerror or error}")
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the exit's flush of what is left does not fail again
        return ExitStatus.IO_ERROR
    except MemoryError as error:  # the limits keep the largest inputs to a few gigabytes; a smaller machine ends here
        error.__traceback__ = None  # let go of the frames, and of the memory they hold, before writing
        write_stderr("gradcli: error: out of memory: the input is too large for this machine")
        return ExitStatus.BAD_INPUT
    except ModuleNotFoundError as error:
        package = (error.name or "").split(".")[0]
        if package not in DEPENDENCIES:
            return _internal_error(error, show_traceback)
        # An installation without one of gradcli's dependencies (deleted, or a partial copy):
        # the user can fix it, so it is not a bug of ours.
        write_stderr(_format_message(
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
    from ..render.error import format_error

    return format_error(GradcliError(template.format(**fields)))


def _internal_error(error: Exception, show_traceback: bool) -> int:
    if show_traceback:
        _print_traceback()
    write_stderr(f"gradcli: internal error: {type(error).__name__}: {error} (for the details, run it again "
                  f"with --traceback before the command: gradcli --traceback grad ...)")
    return ExitStatus.INTERNAL


def _print_traceback() -> None:
    """--traceback: the Python traceback of the error being handled, then the usual message and exit code."""
    import traceback

    on_stderr(traceback.print_exc)


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
