"""The graph IR: nodes in topological order (a Wengert list), inputs by index.

Nodes live in parallel lists rather than objects, so a million-node program stays small and
every pass is a plain loop over indices. Leaves (variables and constants) have op None.
"""

from __future__ import annotations

from array import array

from .ops import CONSTANT, POSTFIX, VARIABLE, Infix, Op, Prefix

_POSTFIX_SYMBOL = {op.name: symbol for symbol, op in POSTFIX.items()}  # transpose -> ".T": printed as A.T
_OPENS, _CLOSES = ("(", "["), (")", "]")


class Graph:
    """A parsed program: node i's inputs all have indices below i."""

    __slots__ = (
        "source", "ops", "inputs", "names", "starts", "ends", "columns", "constants", "variables", "intermediates",
        "output", "output_name", "notes", "attributes", "uses_arrays",
    )

    def __init__(self, source: str):
        self.source = source
        self.ops: list[Op | None] = []
        self.inputs: list[tuple[int, ...]] = []
        self.names: list[str | None] = []  # variables and named intermediates
        self.starts = array("q")  # first and last token of each node's text (see span())
        self.ends = array("q")
        self.columns = None  # token -> (start, end) columns, set by the parser; None: starts/ends are columns
        self.constants: dict[int, tuple[float, str]] = {}  # node -> (value, text as typed)
        self.variables: dict[str, int] = {}  # name -> node, in order of first appearance
        self.intermediates: dict[str, int] = {}  # name -> node of each named intermediate, in program order
        self.output = -1
        self.output_name = "f"
        self.notes: list[str] = []  # about the program text (a constant's name assigned), warned like api.bind's
        self.attributes: dict[int, dict] = {}  # node -> its op's keyword arguments and index (axis=0, z[1])
        self.uses_arrays = False  # some node is an array op (matmul, sum, ...): the program needs the array path

    def __len__(self) -> int:
        return len(self.ops)

    # ----- building (the parser appends; the list order is the topological order) -----

    def add(self, op: Op | None, inputs: tuple[int, ...], start: int, end: int, name: str | None = None) -> int:
        self.ops.append(op)
        self.inputs.append(inputs)
        self.names.append(name)
        self.starts.append(start)
        self.ends.append(end)
        return len(self.ops) - 1

    def variable(self, name: str, start: int, end: int) -> int:
        """The node of variable `name`, created at its first use."""
        node = self.variables.get(name)
        if node is None:
            node = self.variables[name] = self.add(None, (), start, end, name)
        return node

    def constant(self, value: float, text: str, start: int, end: int) -> int:
        node = self.add(None, (), start, end)
        self.constants[node] = (value, text)
        return node

    # ----- reading -----

    def span(self, node: int) -> tuple[int, int]:
        """The node's text as (start, end) columns of the source, for carets."""
        if self.columns is None:
            return self.starts[node], self.ends[node]
        return self.columns(self.starts[node])[0], self.columns(self.ends[node])[1]

    def operator_span(self, node: int) -> tuple[int, int]:
        """The columns of a binary node's operator token (the `@` of `W @ x`), for a caret under
        the operator of a shape error; the whole span() where there is none to point at.

        A cold path: it re-reads the node's tokens (a binary node's span is exactly `a op b`) and
        takes the last operator token outside brackets (the first for a right-associative one,
        `^`), skipping a unary minus. A call (`pow(a, b)`) or an implicit product (`2x`, the last
        step of `x*2y`) has no such token.
        """
        op = self.ops[node]
        infix = next((syntax for syntax in op.syntax if isinstance(syntax, Infix)), None) if op else None
        if infix is None or self.columns is None:
            return self.span(node)
        first = self.starts[node]
        texts = self.columns.texts(first, self.ends[node])
        right_associative = infix.left_bp > infix.right_bp
        implicit_products_count = "*" in infix.symbols
        found = None
        depth = 0
        previous = ""
        for k, text in enumerate(texts):
            if not depth and k:
                if text in infix.symbols and _ends_operand(previous):
                    found = k
                    if right_associative:
                        break
                elif implicit_products_count and _is_number(previous) and (text == "(" or text.isidentifier()):
                    found = None  # a later implicit product is this node's own step: no token to point at
            if text in _OPENS:
                depth += 1
            elif text in _CLOSES:
                depth -= 1
            previous = text
        if found is None:
            return self.span(node)
        return self.columns(first + found)

    def is_variable(self, node: int) -> bool:
        return self.ops[node] is None and node not in self.constants

    def op_name(self, node: int) -> str:
        """The op's stable name, or `var`/`const` for a leaf (as the JSON documents name them)."""
        op = self.ops[node]
        if op is not None:
            return op.name
        return CONSTANT if node in self.constants else VARIABLE

    def labels(self) -> list[str]:
        """A short stable name per node: its own name, a constant's text, the output's name (`f`,
        as the course notes call it), or t1, t2, ... ."""
        taken = {name for name in self.names if name}
        labels: list[str] = []
        counter = 0
        for node, name in enumerate(self.names):
            if name is not None:
                labels.append(name)
            elif node in self.constants:
                labels.append(self.constants[node][1])
            elif node == self.output and self.output_name not in taken:
                labels.append(self.output_name)
            else:
                counter += 1
                while f"t{counter}" in taken:
                    counter += 1
                labels.append(f"t{counter}")
        return labels

    def formula(self, node: int, labels: list[str]) -> str:
        """One step of the program: node's op applied to its inputs' labels (`t1 * z`)."""
        return apply_text(self.ops[node], [labels[j] for j in self.inputs[node]], self.attributes.get(node))

    def expression(self, node: int | None = None) -> str:
        """Fully parenthesised text of a node's whole subexpression, names expanded inline."""
        return self._text(node, expand_names=True)

    def program(self) -> str:
        """Canonical program text (one statement per named intermediate) that parses back to this graph."""
        statements = []
        last_named = None
        for node, name in enumerate(self.names):
            if name is not None and self.ops[node] is not None:
                statements.append(f"{name} = {self._text(node, expand_names=False, top=True)}")
                last_named = node
        if self.output != last_named:  # the output is not the last assignment: name it once more
            statements.append(self._text(self.output, expand_names=False))
        return "; ".join(statements)

    def _text(self, node: int | None, expand_names: bool, top: bool = False) -> str:
        # An explicit stack of pending pieces: text in order, no recursion, linear in size.
        out: list[str] = []
        stack: list[str | int] = [self.output if node is None else node]
        root = stack[0]
        attributes = self.attributes
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                out.append(item)
                continue
            op = self.ops[item]
            if op is None:
                out.append(self.names[item] or self.constants[item][1])
                continue
            if self.names[item] is not None and not expand_names and not (top and item == root):
                out.append(self.names[item])
                continue
            node_inputs = self.inputs[item]
            constant_operand = op.name in _POSTFIX_SYMBOL and self._prints_as_constant(node_inputs[0], expand_names)
            pieces = _pieces(op, node_inputs, attributes.get(item) if attributes else None, constant_operand)
            stack.extend(reversed(pieces))
        return "".join(out)

    def _prints_as_constant(self, node: int, expand_names: bool) -> bool:
        """Whether `_text` prints this operand as a constant (`2`, `pi`; a copy `q = 2` expanded
        is one too), which the parser refuses before a postfix `.T`."""
        while self.ops[node] is not None:
            if self.ops[node].name != "copy" or (self.names[node] is not None and not expand_names):
                return False
            node = self.inputs[node][0]
        return node in self.constants

    def __str__(self) -> str:
        labels = self.labels()
        lines = []
        for node, op in enumerate(self.ops):
            if op is not None:
                lines.append(f"{labels[node]} = {self.formula(node, labels)}")
        return "\n".join(lines)


def _pieces(op: Op, inputs: tuple[int, ...], attributes: dict | None = None,
            constant_operand: bool = False) -> list[str | int]:
    """The text around an op's inputs, fully parenthesised: ['(', a, ' + ', b, ')'], and with the
    node's attributes as typed: [a, '[1, 0]'], ['sum(', a, ', axis=0)']. Postfix forms (`.T`, an
    index) need no parentheses: they bind tighter than everything, and every operand is printed
    whole (an operator's text has its own parentheses). A `constant_operand` (`2`, `pi`) takes
    the call form, `transpose(2)`: the parser refuses `2.T`."""
    syntax = op.syntax[0] if op.syntax else None
    if isinstance(syntax, Infix):
        return ["(", inputs[0], f" {syntax.symbols[0]} ", inputs[1], ")"]
    if isinstance(syntax, Prefix):
        return [f"({syntax.symbol}", inputs[0], ")"]
    postfix = _POSTFIX_SYMBOL.get(op.name)
    if postfix is not None and not constant_operand:
        return [inputs[0], postfix]
    if syntax is None:  # copy `q = x`, a list [a, b], an index z[1, 0]
        if op.name == "index":
            return [inputs[0], f"[{', '.join(map(str, attributes['index']))}]"]
        if op.name != "stack":
            return [inputs[0]]
        opening, closing = "[", "]"
    else:
        opening, closing = f"{syntax.names[0]}(", ")"
    pieces: list[str | int] = [opening]
    for k, j in enumerate(inputs):
        if k:
            pieces.append(", ")
        pieces.append(j)
    if attributes and syntax is not None:
        pieces.append("".join(f", {keyword}={value}" for keyword, value in attributes.items()))
    pieces.append(closing)
    return pieces


def _is_number(token: str) -> bool:
    return "0" <= token[:1] <= "9" or (token[:1] == "." and token != ".")


def _ends_operand(token: str) -> bool:
    """Whether an operator after this token is binary (else it is a sign: the `-` of `a * -b`)."""
    return token in _CLOSES or token[:1].isalnum() or token[:1] == "_" or _is_number(token)


def reaching_output(inputs: list[tuple[int, ...]], output: int) -> bytearray:
    """1 for the nodes the output depends on, itself included: what any gradient or formula of it can involve.

    Takes the bare input lists (a Graph's, or a SymbolicJob's in the SymPy process). One reverse
    loop from the output: every input comes before its consumer, so a node's mark is final when
    the loop reaches it. (The nodes the reverse sweep passed gradient to, which --wrt and --data
    narrow down, are the trace's `reached`.)
    """
    reaches = bytearray(len(inputs))
    reaches[output] = 1
    for node in range(output, -1, -1):
        if reaches[node]:
            for j in inputs[node]:
                reaches[j] = 1
    return reaches


def apply_text(op: Op, operands: list[str], attributes: dict | None = None) -> str:
    """An op applied to operand texts, as typed: `a * b`, `-a`, `max(a, b, c)`, `z[1]`, `sum(a, axis=0)`."""
    pieces = _pieces(op, tuple(range(len(operands))), attributes)
    text = "".join(p if isinstance(p, str) else operands[p] for p in pieces)
    if op.syntax and isinstance(op.syntax[0], (Infix, Prefix)):
        return text[1:-1]  # a single step needs no outer parentheses
    return text


def unused_name(choices: tuple[str, ...], *taken: dict) -> str:
    """The first of `choices` (then the last with 2, 3, ... after it) that no dict in `taken` has."""
    for name in (*choices, *(f"{choices[-1]}{k}" for k in range(2, 2 + sum(map(len, taken))))):
        if not any(name in names for names in taken):
            return name
    raise AssertionError("more names than names taken")
