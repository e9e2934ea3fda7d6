"""Program text → Graph, with an explicit operator stack instead of recursion.

Binding powers and function names come from the op table. Nodes are appended only after
their inputs, so the graph's node list is already in topological order.
"""

from __future__ import annotations

import re
import unicodedata

from .errors import LimitError, ParseError
from .graph import Graph
from .ops import CONSTANTS, FUNCTIONS, INFIX, MUL_BP, NEG_BP, OPS, PREFIX, arity_text

MAX_SOURCE_CHARS = 64 * 1024 * 1024
MAX_NODES = 5_000_000

# Typed maths that NFKC leaves alone: U+2212 minus, ×, the dot operators, ÷.
_OPERATOR_FORMS = {"\u2212": "-", "×": "*", "·": "*", "⋅": "*", "∙": "*", "÷": "/"}
_SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+"))

_TOKEN = re.compile(
    r"(?P<space>[ \t\r\f\v]+|#[^\n]*)"
    r"|(?P<number>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)"
    r"|(?P<name>[^\W\d]\w*)"
    r"|(?P<symbol>\*\*|[-+*/^(),=;\n])"
)
_MULTIPLY = INFIX["*"]

# Kinds of entries on the operator stack.
_INFIX, _PREFIX, _PLUS, _PAREN, _CALL = range(5)


def normalize(source: str) -> tuple[str, list[int] | None]:
    """NFKC-normalise and map typed operator forms; also return each char's source column.

    `x²` becomes `x^2` (not NFKC's `x2`), so superscripts are handled before NFKC.
    ASCII text (the common and the huge case) is returned as it is.
    """
    if source.isascii():
        return source, None
    chars: list[str] = []
    origin: list[int] = []
    in_superscript = False
    for column, char in enumerate(source):
        if char in _SUPERSCRIPTS:
            text = _SUPERSCRIPTS[char] if in_superscript else "^" + _SUPERSCRIPTS[char]
            in_superscript = True
        else:
            in_superscript = False
            text = _OPERATOR_FORMS.get(char) or unicodedata.normalize("NFKC", char)
            text = "".join(_OPERATOR_FORMS.get(c, c) for c in text)
        chars.append(text)
        origin.extend([column] * len(text))
    origin.append(len(source))
    return "".join(chars), origin


def parse(source: str, cse: bool = False) -> Graph:
    """Parse a program; the last statement is the output."""
    if len(source) > MAX_SOURCE_CHARS:
        raise LimitError(f"the program has {len(source):,} characters; the limit is {MAX_SOURCE_CHARS:,}")
    graph = _Parser(source).run()
    if cse:
        from .passes import merge_common_subexpressions

        graph = merge_common_subexpressions(graph)
    return graph


class _Parser:
    def __init__(self, source: str):
        self.source = source
        self.text, self.origin = normalize(source)
        self.graph = Graph(source)
        self.defined: dict[str, int] = {}  # named intermediates → node
        self.unused_bare: tuple[int, int] | None = None  # a bare expression that is not the last statement

    # ----- errors point at the original text -----

    def span(self, start: int, end: int) -> tuple[int, int]:
        if self.origin is None:
            return start, end
        return self.origin[start], self.origin[max(end - 1, start)] + (1 if end > start else 0)

    def error(self, message: str, start: int, end: int) -> ParseError:
        return ParseError(message, self.span(start, end), self.source)

    # ----- tokens -----

    def tokens(self):
        """(kind, text, start, end) for each token, then ('end', '', n, n)."""
        text = self.text
        position = 0
        for match in _TOKEN.finditer(text):
            start = match.start()
            if start != position:
                yield self._bad_character(position)
            position = match.end()
            kind = match.lastgroup
            if kind == "space":
                continue
            if kind == "number" and position < len(text) and (text[position] == "_" or text[position].isdigit()):
                raise self.error("malformed number (digits may not be grouped with '_' or mixed with other scripts)", start, position + 1)
            yield kind, match.group(), start, position
        if position != len(text):
            yield self._bad_character(position)
        yield "end", "", len(text), len(text)

    def _bad_character(self, position: int):
        char = self.text[position]
        shown = repr(char) if char.isprintable() else f"U+{ord(char):04X}"
        raise self.error(f"unexpected character {shown}", position, position + 1)

    # ----- statements -----

    def run(self) -> Graph:
        graph = self.graph
        tokens = self.tokens()
        statement: list[tuple] = []
        depth = 0
        last = None
        for token in tokens:
            kind, text = token[0], token[1]
            if kind == "symbol":
                if text == "(":
                    depth += 1
                elif text == ")":
                    depth -= 1
                elif text == "\n" and depth > 0:
                    continue  # a newline inside parentheses continues the statement
                if (text == ";" or text == "\n") and depth <= 0:
                    depth = 0
                    if statement:
                        last = self.statement(statement, token)
                        statement = []
                    continue
            elif kind == "end":
                if statement:
                    last = self.statement(statement, token)
                break
            statement.append(token)
            if len(graph.ops) > MAX_NODES:
                raise LimitError(f"the program has more than {MAX_NODES:,} nodes, the limit")
        if last is None:
            raise ParseError("the program is empty: write an expression such as (x+y)*z", (0, len(self.source)), self.source)
        node, name = last
        graph.output = node
        graph.output_name = name or graph.names[node] or ("f" if "f" not in graph.variables else "f_out")
        return graph

    def statement(self, tokens: list[tuple], terminator: tuple):
        """Parse `name = expr` or `expr`; returns (node, name)."""
        if self.unused_bare is not None:
            start, end = self.unused_bare
            raise self.error("this expression's value is never used: name it (q = ...) or make it the last statement", start, end)
        name = None
        if len(tokens) >= 2 and tokens[1][1] == "=" and tokens[1][0] == "symbol":
            if tokens[0][0] != "name":
                raise self.error("only a name can be assigned to", tokens[0][2], tokens[0][3])
            name = tokens[0][1]
            self.check_assignable(name, tokens[0])
            if len(tokens) == 2:
                raise self.error(f"nothing is assigned to {name}", tokens[1][2], tokens[1][3])
            tokens = tokens[2:]
        node = self.expression(tokens, terminator)
        start, end = tokens[0][2], tokens[-1][3]
        if name is None:
            self.unused_bare = (start, end)
            return node, None
        graph = self.graph
        if graph.ops[node] is None or graph.names[node] is not None:
            s, e = self.span(start, end)
            node = graph.add(OPS["copy"], (node,), s, e, name)
        else:
            graph.names[node] = name
        self.defined[name] = node
        return node, name

    def check_assignable(self, name: str, token: tuple) -> None:
        graph = self.graph
        if name in CONSTANTS:
            raise self.error(f"{name} is a constant and cannot be assigned", token[2], token[3])
        if name in FUNCTIONS:
            raise self.error(f"{name} is a function name and cannot be assigned", token[2], token[3])
        if name in self.defined:
            line, _ = _line_column(self.source, graph.starts[self.defined[name]])
            raise self.error(f"{name} is assigned twice (first on line {line})", token[2], token[3])
        if name in graph.variables:
            line, column = _line_column(self.source, graph.starts[graph.variables[name]])
            raise self.error(
                f"{name} is already used as a variable (line {line}, column {column}); assign it before its first use",
                token[2], token[3],
            )

    # ----- expressions: a shunting-yard loop with matklad's binding powers -----

    def expression(self, tokens: list[tuple], terminator: tuple) -> int:
        operands: list[tuple[int, int, int]] = []  # (node, start, end); start/end in normalised text
        operators: list[tuple] = []  # (kind, payload, start, operand count when pushed)
        expect_operand = True
        count = len(tokens)
        i = 0
        while i < count:
            kind, text, start, end = tokens[i]
            i += 1
            following = tokens[i] if i < count else terminator
            if expect_operand:
                if kind == "number":
                    operands.append((self.number(text, start, end), start, end))
                    expect_operand = False
                    if following[0] == "name" or following[1] == "(":  # implicit multiplication: 2x, 3(x+1)
                        self.reduce_for(operators, operands, MUL_BP[0])
                        operators.append((_INFIX, _MULTIPLY, end, 0))
                        expect_operand = True
                elif kind == "name":
                    if following[1] == "(" and following[0] == "symbol":
                        self.check_function(text, start, end)
                        operators.append((_CALL, text, start, len(operands)))
                        i += 1
                    else:
                        operands.append((self.name(text, start, end), start, end))
                        expect_operand = False
                elif text == "(":
                    operators.append((_PAREN, None, start, len(operands)))
                elif text in PREFIX:
                    operators.append((_PREFIX, PREFIX[text], start, 0))
                elif text == "+":
                    operators.append((_PLUS, None, start, 0))
                elif text == ")" and operators and operators[-1][0] == _CALL and operators[-1][3] == len(operands):
                    name, call_start = operators[-1][1], operators[-1][2]
                    raise self.error(f"{name}() takes {arity_text(name)}, none given", call_start, end)
                else:
                    raise self.error(_expected_operand(text, kind), start, end)
            elif kind == "symbol" and text in INFIX:
                self.reduce_for(operators, operands, INFIX[text][1].left_bp)
                operators.append((_INFIX, INFIX[text], start, 0))
                expect_operand = True
            elif text == ")":
                self.close(operators, operands, start, end)
            elif text == ",":
                self.reduce_for(operators, operands, -1)
                if not operators or operators[-1][0] != _CALL:
                    raise self.error("',' is only allowed between a function's arguments", start, end)
                expect_operand = True
            elif kind in ("name", "number"):
                raise self.error(f"missing operator before {text!r} (write * to multiply)", start, end)
            elif text == "=":
                raise self.error("'=' can only follow a name at the start of a statement", start, end)
            else:
                raise self.error(f"unexpected {text!r}", start, end)
        if expect_operand:
            if operators and operators[-1][0] in (_INFIX, _PREFIX, _PLUS):
                kind, payload, start, _ = operators[-1]
                symbol = self.text[start : start + 2].rstrip() if kind == _INFIX else self.text[start]
                symbol = "**" if symbol == "**" else symbol[0]
                raise self.error(f"{symbol!r} needs an operand after it", start, start + len(symbol))
        self.reduce_for(operators, operands, -1)
        if operators:
            kind, name, start, _ = operators[-1]
            what = f"call of {name}(" if kind == _CALL else "'('"
            raise self.error(f"unclosed {what}: no matching ')'", start, start + 1 if kind != _CALL else start + len(name) + 1)
        return operands[0][0]

    def check_function(self, name: str, start: int, end: int) -> None:
        """A name before '(' must be a function."""
        if name in FUNCTIONS:
            return
        if name in self.defined or name in self.graph.variables or name in CONSTANTS:
            raise self.error(f"{name} is not a function; to multiply write {name}*(...)", start, end)
        raise self.error(_unknown_function(name), start, end)

    def reduce_for(self, operators: list, operands: list, left_bp: int) -> None:
        """Build nodes for stacked operators that bind tighter than an operator with left_bp."""
        graph = self.graph
        while operators:
            kind, payload, start, _ = operators[-1]
            if kind == _INFIX:
                if payload[1].right_bp <= left_bp:
                    return
                operators.pop()
                b, _, b_end = operands.pop()
                a, a_start, _ = operands.pop()
                s, e = self.span(a_start, b_end)
                operands.append((graph.add(payload[0], (a, b), s, e), a_start, b_end))
            elif kind == _PREFIX or kind == _PLUS:
                if NEG_BP <= left_bp:
                    return
                operators.pop()
                a, _, a_end = operands.pop()
                if kind == _PREFIX:
                    s, e = self.span(start, a_end)
                    a = graph.add(payload[0], (a,), s, e)
                operands.append((a, start, a_end))  # unary plus builds nothing
            else:
                return

    def close(self, operators: list, operands: list, start: int, end: int) -> None:
        self.reduce_for(operators, operands, -1)
        if not operators:
            raise self.error("unbalanced ')': there is no '(' to close", start, end)
        kind, name, open_start, height = operators.pop()
        if kind == _PAREN:
            node, _, _ = operands.pop()
            operands.append((node, open_start, end))
            return
        arguments = operands[height:]
        del operands[height:]
        by_arity = FUNCTIONS[name]
        op = by_arity.get(len(arguments)) or (by_arity.get(None) if len(arguments) >= 2 else None)
        if op is None:
            raise self.error(f"{name}() takes {arity_text(name)}, {len(arguments)} given", open_start, end)
        s, e = self.span(open_start, end)
        node = self.graph.add(op, tuple(a for a, _, _ in arguments), s, e)
        operands.append((node, open_start, end))

    # ----- leaves -----

    def number(self, text: str, start: int, end: int) -> int:
        value = float(text)
        if value == float("inf"):
            raise self.error(f"the number {_shorten(text)} is too large for a double", start, end)
        s, e = self.span(start, end)
        return self.graph.constant(value, text, s, e)

    def name(self, text: str, start: int, end: int) -> int:
        """The node a name refers to: an intermediate, a constant or a variable."""
        node = self.defined.get(text)
        if node is not None:
            return node
        s, e = self.span(start, end)
        if text in CONSTANTS:
            return self.graph.constant(CONSTANTS[text], text, s, e)
        if text in FUNCTIONS:
            raise self.error(f"{text} is a function: call it as {text}(...)", start, end)
        return self.graph.variable(text, s, e)


def _expected_operand(text: str, kind: str) -> str:
    if kind == "end" or text in (";", "\n"):
        return "the expression ends too early"
    if text == ")":
        return "empty parentheses or a missing operand before ')'"
    return f"expected a number, a name or '(' but found {text!r}"


def _unknown_function(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name.lower(), FUNCTIONS, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"unknown function {name}(){hint}"


def _shorten(text: str) -> str:
    return text if len(text) <= 20 else f"{text[:8]}…{text[-8:]} ({len(text)} characters)"


def _line_column(source: str, offset: int) -> tuple[int, int]:
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return line, column
