"""The stable `--json` schema of a gradient result."""

from __future__ import annotations

import json
import re

from ..api import Result
from ..graph import Graph
from ..formatting import json_value


SCHEMA_VERSION = 1  # goes up when a field changes its meaning or is removed; new fields do not change it
MAX_ECHOED_PROGRAM = 10_000  # characters; a longer program is named by its size and hash


def value_object(graph: Graph, at: dict, value) -> dict:
    """`eval --json`: {"version", "expression", "output", "at", "value"}; a vector or matrix as nested lists."""
    return {
        "version": SCHEMA_VERSION,
        **program_fields(graph.source),
        "output": graph.output_name,
        "at": {name: json_value(v) for name, v in at.items()},
        "value": json_value(value),
    }


def gradient_object(result: Result, wrt: list[str] | None = None) -> dict:
    """The value object of one point plus "gradient" (the reported partials) and "warnings"."""
    names = wrt if wrt is not None else result.shown
    document = value_object(result.graph, result.at, result.value)
    if result.shapes is not None:
        document["shapes"] = shapes_object(result)
    if result.data:
        document["data"] = result.data
    document["gradient"] = {name: json_value(result.gradient_of(name)) for name in names}
    document["warnings"] = all_warnings(result)
    return document


def shapes_object(result: Result) -> dict[str, list[int]]:
    """"shapes" (on the array path only, so a scalar program's JSON is as before): the sizes of
    every variable, every named intermediate and the output, by name ([] for a scalar)."""
    graph = result.graph
    named = {**graph.variables, **graph.intermediates}
    named.setdefault(graph.output_name, graph.output)
    return {name: list(result.shapes[node]) for name, node in named.items()}


_COMMENT = re.compile(r"[ \t]*#[^\n]*")


def program_fields(source: str) -> dict:
    """"expression": the program without its comments and blank lines, so that a file's notes do
    not fill every JSON object; over MAX_ECHOED_PROGRAM characters it is null, and
    "expression_summary" gives its size and SHA-256 instead (of the text as given)."""
    if len(source) > MAX_ECHOED_PROGRAM:
        import hashlib

        digest = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
        return {"expression": None, "expression_summary": {"characters": len(source), "sha256": digest}}
    lines = (line.rstrip() for line in _COMMENT.sub("", source).splitlines())
    return {"expression": "\n".join(line for line in lines if line)}


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
