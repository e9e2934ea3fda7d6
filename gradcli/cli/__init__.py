"""The command line, as thin as it can be: each command reads its input, calls the Python API
and hands the result to a renderer.

- commands.py: the click group and its commands;
- options.py: the options the commands share, and their types (--at, --data, --expect, ...);
- inputs.py: the program (EXPR, --file, standard input) and the point, read as typed;
- output.py: stdout and stderr: warnings, consoles, a result with its trace and check;
- process.py: main() and run(): every outcome mapped to a documented exit code.

Heavy modules (Rich, SymPy, NumPy) are imported inside the commands that use them, so that a
plain `grad --json` starts as fast as click itself.
"""

from .process import main, run

__all__ = ["main", "run"]
