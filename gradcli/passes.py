"""Optional rewrites of a parsed graph (kept out of the parser, which keeps what was typed)."""

from __future__ import annotations

from .graph import Graph


def merge_common_subexpressions(graph: Graph) -> Graph:
    """`--cse`: one node for each distinct (op, inputs, attributes), so `(x+y)*(x+y)` has a single
    add, and `sum(X, axis=0)` and `sum(X, axis=1)` stay two nodes.

    One pass in topological order (hash-consing). Named intermediates keep their own node and
    name; later unnamed copies of the same subexpression are merged into the first occurrence.
    """
    merged = Graph(graph.source)
    merged.columns = graph.columns
    attributes = graph.attributes
    first_of: dict[tuple, int] = {}
    remap: list[int] = []
    for node, op in enumerate(graph.ops):
        name = graph.names[node]
        node_inputs = tuple(remap[j] for j in graph.inputs[node])
        node_attributes = attributes.get(node) if attributes else None
        if op is None:
            key = ("const", graph.constants[node]) if node in graph.constants else ("var", name)
        elif node_attributes:
            key = (op.name, node_inputs, tuple(sorted(node_attributes.items())))
        else:
            key = (op.name, node_inputs)
        existing = first_of.get(key)
        if existing is not None and name is None:
            remap.append(existing)
            continue
        new_node = merged.add(op, node_inputs, graph.starts[node], graph.ends[node], name)
        if node_attributes:
            merged.attributes[new_node] = node_attributes
        if node in graph.constants:
            merged.constants[new_node] = graph.constants[node]
        elif op is None:
            merged.variables[name] = new_node
        elif name is not None:
            merged.intermediates[name] = new_node
        first_of.setdefault(key, new_node)
        remap.append(new_node)
    merged.output = remap[graph.output]
    merged.output_name = graph.output_name
    merged.notes = graph.notes
    merged.uses_arrays = graph.uses_arrays
    return merged
