"""A backprop trace as an exercise: the cells a student fills in, their answers, and a point fit for hand work.

The tables are built from gradcli.trace's data (forward steps, backward rows, branch sums), so
the answer key is the trace's numbers formatted by the same code; render/worksheet.py only lays
them out as Markdown, HTML or LaTeX. A cell is one number or text, blank or given, so that the
sheet and its key are the same tables with the blanks filled in.
"""

from __future__ import annotations

import math
import random
import shlex
from typing import Mapping, NamedTuple

from .api import Result, differentiate
from .errors import BindingError, MathError
from .formatting import format_value
from .graph import Graph
from .i18n import tr, translator
from .trace import Trace, build_trace, edge_formula, program_title

PLACEHOLDER = "___"  # what a student replaces in the printed check command
NAMES_PER_LINE = 5  # of its --expect-node options, so that the sheet and the key break the command alike

# Where a random point's coordinates come from: small integers but 0 first (a zero makes many gradients 0, a
# dull exercise), then with 0, wider ones and simple decimals (exp, log and sigmoid are short only at 0 or 1).
POOLS = (
    (-3, -2, -1, 1, 2, 3),
    (*range(-5, 6), -1.5, -0.5, 0.5, 1.5),
    (*range(-9, 10), -2.5, -1.5, -0.5, -0.25, 0.25, 0.5, 1.5, 2.5),
)
MAX_TRIES = 1000
TRY_BUDGET = 200_000  # nodes evaluated over all the tries: a large program gets fewer of them
SHORT_DIGITS = 4  # a number fit for hand work has at most this many significant digits (rounded to 6)
SHORT_LIMIT = 1000.0  # ... and is smaller than this
_TITLE_LIMIT = 200  # characters of the program in a sheet's title


class Cell(NamedTuple):
    """One cell of a table: its text as the answer key shows it, and whether the sheet leaves it empty."""

    text: str
    blank: bool = False


class Table(NamedTuple):
    title: str
    legend: str
    headings: list[str]
    numeric: list[bool]  # per column: right-aligned (numbers)
    rows: list[list[Cell]]


class Worksheet(NamedTuple):
    """Everything a sheet shows; `answers` maps each name of the check command to its ∂f/∂name."""

    source: str  # the program on one line, as typed
    point: str
    seed: int | None  # the --seed of a random point, None for a point given with --at
    instructions: str
    tables: list[Table]
    answers: dict[str, str]
    program: list[str]  # the check command's program arguments (EXPR, or --file PATH)
    options: list[str]  # its point arguments: --at, --data, --cse
    blank: str
    output: str  # the f of ∂f/∂name
    result: Result  # for the circuit picture
    precision: int

    def check_lines(self, filled: bool = False) -> list[str]:
        """The command that checks a sheet's gradients, broken into shell lines ending in `\\`;
        with `filled`, the answer key's numbers in place of the placeholders."""
        if self.blank == "forward":  # values: the forward pass of `trace` shows them all
            return [shlex.join(["gradcli", "trace", *self.program, *self.options])]  # one line: no placeholders
        lines = [shlex.join(["gradcli", "check", *self.program])] + ([shlex.join(self.options)] if self.options else [])
        expected = [f"{name}={answer if filled else PLACEHOLDER}" for name, answer in self.answers.items()]
        for start in range(0, len(expected), NAMES_PER_LINE):
            lines.append(shlex.join(["--expect-node", ",".join(expected[start:start + NAMES_PER_LINE])]))
        return [("  " if k else "") + line + (" \\" if k < len(lines) - 1 else "") for k, line in enumerate(lines)]

    def check_intro(self) -> str:
        if self.blank == "forward":
            return tr("Check your values against the forward pass that this command prints:")
        return tr("Check your gradients: replace each {placeholder} with your ∂{out}/∂NAME and run:",
                  placeholder=PLACEHOLDER, out=self.output)


# ----- the point -----


def is_short(value: float) -> bool:
    """Whether a number is easy to write by hand: at most SHORT_DIGITS significant digits once rounded to
    6, and smaller than SHORT_LIMIT (0.25, -12, 0.5; not 0.333333, 1e-05 or 2048)."""
    if not math.isfinite(value) or abs(value) >= SHORT_LIMIT:
        return False
    text = format(value, ".6g")
    if "e" in text:
        return value == 0
    digits = text.lstrip("-").replace(".", "").lstrip("0")
    return len(digits) <= SHORT_DIGITS


def fit_for_hand(result: Result, trace: Trace) -> bool:
    """No kink or infinite partial noted, and every value, local gradient, contribution and gradient short."""
    if result.notes:
        return False
    constants = result.graph.constants
    values = result.values
    return (all(is_short(values[node]) for node in range(len(values)) if node not in constants)
            and all(is_short(result.grads[node]) for node in trace.reached)
            and all(is_short(edge.local) and is_short(edge.contribution) for edge in result.edges))


def random_point(graph: Graph, fixed: Mapping[str, float], data: list[str], seed: int) -> Result:
    """The program differentiated at a point fit for hand work: the variables not in `fixed` drawn
    from POOLS with random.Random(seed), so one seed always gives one point.

    BindingError (exit 2) when no try gives one: the tries are bounded by MAX_TRIES and TRY_BUDGET.
    """
    rng = random.Random(seed)
    free = [name for name in graph.variables if name not in fixed]
    tries = max(20, min(MAX_TRIES, TRY_BUDGET // max(1, len(graph.ops)))) if free else 1
    for attempt in range(tries):
        pool = POOLS[attempt * len(POOLS) // tries]
        at = {**fixed, **{name: float(rng.choice(pool)) for name in free}}
        try:
            result = differentiate(graph, at, record=True, data=data)
        except MathError:
            continue
        if fit_for_hand(result, build_trace(result)):
            return result
    raise BindingError(f"--random-point: no point fit for hand work after {tries} tries with --seed {seed} (each "
                       f"hit a kink, a math error, or a number of more than {SHORT_DIGITS} digits); try another "
                       f"--seed, or give the point with --at")


def refuse_arrays(graph: Graph, at: Mapping[str, object]) -> None:
    """Exit 2 on vectors and matrices: a worksheet's cells hold one number each."""
    if graph.uses_arrays or any(type(value) is not float for value in at.values()):
        raise BindingError("worksheets are for scalar programs; on vectors and matrices `gradcli trace` shows "
                           "every step")


# ----- the tables -----


class _Builder:
    """The sheet's tables from one trace; `forward` and `backward` say which cells are blank."""

    def __init__(self, trace: Trace, blank: str, precision: int):
        self.trace = trace
        self.precision = precision
        self.forward = blank in ("forward", "both")
        self.backward = blank in ("backward", "both")
        self.t = translator()
        self.out = trace.output

    def number(self, value: float, blank: bool = False) -> Cell:
        return Cell(format_value(value, self.precision), blank)

    def forward_table(self) -> Table:
        """A row per step as the trace numbers them (a constant is no step); a variable's value is given."""
        trace, t = self.trace, self.t
        graph, labels, values = trace.graph, trace.labels, trace.result.values
        rows = []
        steps = [node for node in range(len(graph.ops)) if node not in graph.constants or node == graph.output]
        for step, node in enumerate(steps, 1):
            computed = graph.ops[node] is not None
            operation = graph.formula(node, labels) if computed else t("constant" if node in graph.constants
                                                                          else "variable")
            rows.append([Cell(str(step)), Cell(labels[node]), Cell(operation),
                         self.number(values[node], computed and self.forward)])
        return Table(t("Forward pass"), t("each node's value, inputs first"),
                     [t("step"), t("node"), t("operation"), t("value")], [True, False, False, True], rows)

    def backward_table(self) -> Table:
        """A row per edge from the output back: the node and its upstream gradient (on its first edge),
        the local partial, its rule and value, and the contribution upstream × local."""
        trace, t, out = self.trace, self.t, self.out
        graph, labels, values = trace.graph, trace.labels, trace.result.values
        rows = []
        for row in trace.backward:
            name = labels[row.node]
            for k, edge in enumerate(row.edges):
                first = k == 0
                upstream = (self.number(row.grad, self.backward and row.node != graph.output) if first
                            else Cell(""))
                rows.append([
                    Cell(name if first else ""), upstream, Cell(f"∂{name}/∂{labels[edge.input]}"),
                    Cell(edge_formula(graph, labels, row.node, edge.slot, values, t), self.backward),
                    self.number(edge.local, self.backward), self.number(edge.contribution, self.backward),
                ])
        return Table(t("Backward pass"), t("from the output back: contribution = upstream × local"),
                     [t("node"), tr("upstream ∂{out}/∂node", out=out), tr("local partial"), tr("rule"),
                      tr("local gradient"), t("contribution")],
                     [False, True, False, False, True, True], rows)

    def branch_table(self) -> Table | None:
        """For each branch node, a row per contribution (the path it came by) and a row for their sum."""
        trace, t, out = self.trace, self.t, self.out
        if not trace.branches:
            return None
        from .render.trace import via_text

        rows = []
        for branch in trace.branches:
            name = trace.labels[branch.node]
            for edge in branch.terms:
                rows.append([Cell(name), Cell(via_text(trace.graph, trace.labels, edge, t)),
                             self.number(edge.contribution, self.backward)])
            rows.append([Cell(name), Cell(f"Σ = ∂{out}/∂{name}"), self.number(branch.total, self.backward)])
        return Table(t("Branch nodes"), t("a node used in several places sums the contributions from every path"),
                     [t("node"), tr("path"), t("contribution")], [False, False, True], rows)

    def gradient_table(self) -> Table:
        """∂f/∂variable for every variable but data, whose values are given."""
        result, t = self.trace.result, self.t
        rows = []
        for name in result.shown:
            node = result.graph.variables[name]
            rows.append([Cell(name), self.number(result.values[node]),
                         self.number(result.grads[node], self.backward)])
        return Table(t("Gradient"), "", [t("variable"), t("value"), t("∂{out}/∂variable").format(out=self.out)],
                     [False, True, True], rows)

    def answers(self) -> dict[str, str]:
        """∂f/∂name for every node whose gradient the sheet asks for, from the output back: the
        names `check --expect-node` takes (a variable, a named intermediate, t1)."""
        trace = self.trace
        graph, result = trace.graph, trace.result
        answers = {}
        for row in trace.backward:
            node = row.node
            name = trace.labels[node]
            if node == graph.output or node in graph.constants or name in result.data:
                continue
            answers[name] = format_value(row.grad, self.precision)
        return answers


def build_worksheet(result: Result, blank: str, precision: int, program: list[str], seed: int | None = None,
                    cse: bool = False) -> Worksheet:
    """The worksheet of a scalar result differentiated with record=True. `program` is how the check
    command names the program (`EXPR` or `--file PATH`); `seed` the --seed of a random point."""
    trace = build_trace(result)
    builder = _Builder(trace, blank, precision)
    tables = [builder.forward_table(), builder.backward_table()]
    branches = builder.branch_table()
    if branches is not None:
        tables.append(branches)
    tables.append(builder.gradient_table())
    if not any(cell.blank for table in tables for row in table.rows for cell in row):
        raise BindingError(f"nothing to fill in: {program_title(result.graph.source, _TITLE_LIMIT)} has no "
                           f"{blank} step to work out (--blank forward, backward or both)")
    instructions = {
        "forward": tr("Fill in each empty cell: the value of every node, inputs first."),
        "backward": tr("Fill in each empty cell, from the output back: the local gradients (their rule and "
                       "value), the contributions upstream × local, the branch sums and the gradient."),
        "both": tr("Fill in each empty cell: first every node's value, then, from the output back, the local "
                   "gradients, the contributions upstream × local, the branch sums and the gradient."),
    }[blank]
    at = result.at
    options = ["--at", ",".join(f"{name}={exact_text(value)}" for name, value in at.items())] if at else []
    if result.data:
        options += ["--data", ",".join(result.data)]
    if cse:
        options.append("--cse")
    point = ", ".join(f"{name} = {format_value(value, precision)}" for name, value in at.items())
    return Worksheet(program_title(result.graph.source, _TITLE_LIMIT), point, seed, instructions, tables,
                     builder.answers(), program, options, blank, trace.output, result, precision)


def exact_text(value: float) -> str:
    """A number as --at reads it back to the same double: -2, 0.5, 0.7853981633974483."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text
