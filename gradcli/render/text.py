"""Rich renderables for the terminal. User text always goes in as Text, never as markup."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..api import Result, node_named
from ..formatting import format_value


def gradient_table(result: Result, wrt: list[str] | None = None, precision: int = 12) -> Group:
    """The value line and a table: variable, value at the point, ∂f/∂variable."""
    out = result.output
    names = wrt if wrt is not None else list(result.graph.variables)
    value_line = Text.assemble((out, "bold"), " = ", (format_value(result.value, precision), "bold cyan"))
    if not names:
        return Group(value_line, Text("no variables: the value is a constant, and there is no gradient", style="dim"))
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("variable", no_wrap=True)
    table.add_column("value", justify="right")
    table.add_column(Text(f"∂{out}/∂variable"), justify="right", style="cyan")
    for name in names:
        node = node_named(result.graph, name)
        table.add_row(Text(name), format_value(result.values[node], precision), format_value(result.grads[node], precision))
    return Group(value_line, table)
