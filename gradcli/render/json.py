"""The stable `--json` schema of a gradient result."""

from __future__ import annotations

import json

from ..api import Result
from ..formatting import json_value


def gradient_object(result: Result, wrt: list[str] | None = None) -> dict:
    """{"expression", "output", "at", "value", "gradient", "warnings"} for one point."""
    names = wrt if wrt is not None else list(result.graph.variables)
    return {
        "expression": result.graph.source,
        "output": result.output,
        "at": {name: json_value(v) for name, v in result.at.items()},
        "value": json_value(result.value),
        "gradient": {name: json_value(result.gradient_of(name)) for name in names},
        "warnings": all_warnings(result),
    }


def all_warnings(result: Result) -> list[str]:
    """What stderr says about a result: the input's warnings, then the notes (kinks, infinite partials)."""
    return result.warnings + notes_text(result)


def notes_text(result: Result) -> list[str]:
    """Each note about a node, naming the node by its label."""
    if not result.notes:
        return []
    graph = result.graph
    labels = graph.labels()
    return [f"{labels[note.node]} = {graph.formula(note.node, labels)}: {note.message}"
            if graph.ops[note.node] is not None else f"{labels[note.node]}: {note.message}"  # a variable's own note
            for note in result.notes]


def dumps(document: dict) -> str:
    return json.dumps(document, ensure_ascii=False, allow_nan=False)
