"""Program text → Graph, with an explicit operator stack instead of recursion.

Binding powers and function names come from the op table. Nodes are appended only after
their inputs, so the graph's node list is already in topological order.

Speed matters here (programs of a million operations are pasted in), so the text is cut
into tokens by one regex call, the loop works on token indices, and node spans are kept as
token indices that Graph.span() turns into columns only when an error needs a caret.
"""

from __future__ import annotations

import re
import unicodedata
from array import array

from .errors import LimitError, ParseError
from .graph import Graph
from .ops import CONSTANTS, FUNCTIONS, INFIX, MUL_BP, NEG_BP, OPS, PREFIX, arity_text

MAX_SOURCE_CHARS = 64 * 1024 * 1024
MAX_NODES = 5_000_000
MAX_DEPTH = 1_000_000  # open parentheses and calls, and operators still waiting for an operand

# Typed maths that NFKC leaves alone: U+2212 minus, ×, the dot operators, ÷.
_OPERATOR_FORMS = {"\u2212": "-", "×": "*", "·": "*", "⋅": "*", "∙": "*", "÷": "/"}
_SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+"))

# One token per match, spaces before it skipped: a name, a number, `**`, a comment, or any
# other single character (operators, newlines, and characters that are errors).
_TOKEN = re.compile(
    r"[ \t\r\f\v]*"
    r"([^\W\d]\w*|(?:[0-9][0-9_]*\.?[0-9_]*|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?|\*\*|#[^\n]*|[^ \t\r\f\v])"
)
_END = ""  # the token after the last one
_GROUP_ENDS = (")", ",", ";", _END)  # with a newline outside parentheses

_INFIX = {symbol: (op, syntax.left_bp, syntax.right_bp) for symbol, (op, syntax) in INFIX.items()}
_MULTIPLY = _INFIX["*"]
_NEGATE = PREFIX["-"][0]
_COPY = OPS["copy"]

# Kinds of entries on the operator stack. Groups have a binding power below every
# operator's, so building nodes stops at them.
_PREFIX, _BINARY, _PAREN, _CALL = range(4)
_GROUP_BP = -2


def normalize(source: str) -> tuple[str, array | None]:
    """NFKC-normalise and map typed operator forms; also return each char's source column.

    `x²` becomes `x^2` (not NFKC's `x2`), so superscripts are handled before NFKC.
    ASCII text (the common and the huge case) is returned as it is. Otherwise each distinct
    character is looked up once and the text is translated in bulk; only characters that
    become more than one (`²` → `^2`, `ﬁ` → `fi`) are walked one by one, for the columns.
    The column list is None when every character stays one character.
    """
    if source.isascii():
        return source, None
    table: dict[int, str] = {}
    uneven: list[str] = []  # characters whose text is not one character, or depends on the one before
    for char in set(source):
        if not char.isascii():
            table[ord(char)] = text = _replacement(char)
            if len(text) != 1 or char in _SUPERSCRIPTS:
                uneven.append(char)
    if not uneven:
        return source.translate(table), None
    pieces: list[str] = []
    origin = array("q")
    done = 0
    for match in re.finditer("[" + re.escape("".join(uneven)) + "]+", source):
        start, end = match.span()
        pieces.append(source[done:start].translate(table))
        origin.extend(range(done, start))
        in_superscript = False
        for column in range(start, end):
            char = source[column]
            if char in _SUPERSCRIPTS:
                text = _SUPERSCRIPTS[char] if in_superscript else "^" + _SUPERSCRIPTS[char]
                in_superscript = True
            else:
                text = table[ord(char)]
                in_superscript = False
            pieces.append(text)
            origin.extend([column] * len(text))
        done = end
    pieces.append(source[done:].translate(table))
    origin.extend(range(done, len(source) + 1))  # and the end of the source
    return "".join(pieces), origin


def _replacement(char: str) -> str:
    text = _OPERATOR_FORMS.get(char) or unicodedata.normalize("NFKC", char)
    return "".join(_OPERATOR_FORMS.get(c, c) for c in text)


def parse(source: str, cse: bool = False) -> Graph:
    """Parse a program; the last statement is the output."""
    if len(source) > MAX_SOURCE_CHARS:
        raise LimitError(f"the program has {len(source):,} characters; the limit is {MAX_SOURCE_CHARS:,}")
    graph = _Parser(source).run()
    if cse:
        from .passes import merge_common_subexpressions

        graph = merge_common_subexpressions(graph)
    return graph


class _TokenColumns:
    """Source columns of a token, found only when a caret is needed (errors, spans).

    Not a table of every token: an error at the end of a 64 MB program would need gigabytes
    for it. The text offset of every BLOCK-th token is noted on the way, so a lookup re-reads at
    most one block, and the last block read is kept for lookups near each other.
    """

    BLOCK = 1024

    def __init__(self, text: str, origin: list[int] | None):
        self.text = text
        self.origin = origin
        self.end = len(text) if origin is None else origin[-1]  # the column of the end of the source
        self.marks = array("q", [0])  # text offset where the match of token k·BLOCK starts
        self.complete = False  # every block's mark is known
        self.block = -1
        self.spans: list[tuple[int, int]] = []  # the columns of the tokens of self.block

    def __call__(self, token: int) -> tuple[int, int]:
        block, rest = divmod(token, self.BLOCK)
        if block != self.block:
            self.read_block(block)
        return self.spans[rest] if rest < len(self.spans) else (self.end, self.end)  # past the last: the end

    def read_block(self, block: int) -> None:
        marks, text = self.marks, self.text
        if block >= len(marks) and not self.complete:
            index = (len(marks) - 1) * self.BLOCK
            for match in _TOKEN.finditer(text, marks[-1]):
                if index == len(marks) * self.BLOCK:
                    marks.append(match.start())
                    if len(marks) > block:
                        break
                index += 1
            else:
                self.complete = True
        spans: list[tuple[int, int]] = []
        if block < len(marks):
            for match in _TOKEN.finditer(text, marks[block]):
                spans.append(match.span(1))
                if len(spans) == self.BLOCK:
                    break
        if self.origin is not None:
            origin = self.origin
            spans = [(origin[s], origin[e - 1] + 1 if e > s else origin[s]) for s, e in spans]
        self.block, self.spans = block, spans


class _Parser:
    def __init__(self, source: str):
        self.source = source
        self.text, origin = normalize(source)
        self.graph = Graph(source)
        self.columns = self.graph.columns = _TokenColumns(self.text, origin)
        self.tokens: list[str] = _TOKEN.findall(self.text)
        self.tokens.append(_END)
        # Names already bound to a node: variables and named intermediates (constants are not,
        # each use of pi is a node of its own).
        self.known: dict[str, int] = {}
        self.defined: dict[str, int] = {}  # the named intermediates alone

    # ----- errors point at the original text -----

    def error(self, message: str, first: int, last: int | None = None) -> ParseError:
        """An error spanning tokens first..last."""
        start = self.columns(first)[0]
        end = self.columns(first if last is None else last)[1]
        return ParseError(message, (start, max(end, start + 1)), self.source)

    # ----- statements -----

    def run(self) -> Graph:
        """One loop over the tokens: statements, and in each the expression's shunting yard."""
        graph = self.graph
        tokens = self.tokens
        known = self.known
        ops = graph.ops
        add_op, add_inputs, add_name = ops.append, graph.inputs.append, graph.names.append
        add_start, add_end = graph.starts.append, graph.ends.append
        unused = None  # a bare expression that is not the last statement
        last = None
        i = 0
        while True:
            token = tokens[i]
            if token == _END:
                break
            if token == ";" or token == "\n" or token[0] == "#":
                i += 1
                continue
            if unused is not None:
                raise self.error(
                    "this expression's value is never used: name it (q = ...) or make it the last statement", *unused
                )
            name = None
            if tokens[i + 1] == "=" and token.isidentifier():
                name = token
                self.check_assignable(name, i)
                i += 2
                if tokens[i] in (";", "\n", _END) or tokens[i][0] == "#":
                    raise self.error(f"nothing is assigned to {name}", i - 1)
            elif tokens[i + 1] == "=":
                raise self.error("only a name can be assigned to", i)
            statement_start = i
            operands: list[tuple[int, int, int]] = []  # (node, first token, last token)
            operators: list[tuple] = []  # (right binding power, kind, payload, token, operand count)
            expect_operand = True
            after_number = False
            depth = 0
            while True:
                token = tokens[i]
                if expect_operand:
                    node = known.get(token)
                    if node is not None:
                        operands.append((node, i, i))
                        expect_operand = after_number = False
                    elif token == "(":
                        operators.append((_GROUP_BP, _PAREN, None, i, len(operands)))
                        depth += 1
                    elif token == "-":
                        operators.append((NEG_BP, _PREFIX, _NEGATE, i, 0))
                    elif token == "+":
                        operators.append((NEG_BP, _PREFIX, None, i, 0))  # unary plus: no node
                    elif "0" <= token[:1] <= "9" or (token[:1] == "." and token != "."):  # a lone "." is no number
                        operands.append((self.number(token, i), i, i))
                        expect_operand = False
                        after_number = True
                    elif token.isidentifier():
                        if tokens[i + 1] == "(":
                            self.check_function(token, i)
                            operators.append((_GROUP_BP, _CALL, token, i, len(operands)))
                            depth += 1
                            i += 1
                        else:
                            operands.append((self.leaf(token, i), i, i))
                            expect_operand = after_number = False
                    elif not ((token == "\n" and depth) or token[:1] == "#"):
                        raise self.expected_operand(operators, operands, i)
                    if len(operators) > MAX_DEPTH:
                        raise self.too_large(i)
                    i += 1
                    continue
                # An operator, or the end of a group: first build what binds tighter than it.
                infix = _INFIX.get(token)
                if infix is None:
                    if after_number and (token == "(" or token.isidentifier()):
                        infix = _MULTIPLY  # implicit multiplication: 2x, 3(x+1); the token is read again
                        i -= 1
                    elif token == "\n" and depth or token[:1] == "#":
                        i += 1
                        continue
                    elif not (token in _GROUP_ENDS or token == "\n"):
                        raise self.missing_operator(i)
                left_bp = -1 if infix is None else infix[1]
                while operators and operators[-1][0] > left_bp:
                    _, kind, op, first, _ = operators.pop()
                    if kind == _BINARY:
                        b, _, end_token = operands.pop()
                        a, first, _ = operands[-1]
                        node_inputs = (a, b)
                    else:
                        a, _, end_token = operands[-1]
                        if op is None:  # unary plus
                            operands[-1] = (a, first, end_token)
                            continue
                        node_inputs = (a,)
                    operands[-1] = (len(ops), first, end_token)
                    add_op(op)
                    add_inputs(node_inputs)
                    add_name(None)
                    add_start(first)
                    add_end(end_token)
                if infix is not None:
                    operators.append((infix[2], _BINARY, infix[0], i, 0))
                    expect_operand = True
                    # Checked as the statement grows, so a huge one stops early, not when it is built.
                    if len(operators) > MAX_DEPTH or len(ops) > MAX_NODES:
                        raise self.too_large(i)
                elif token == ")":
                    if not depth:
                        raise self.error("unbalanced ')': there is no '(' to close", i)
                    self.close(operators, operands, i)
                    depth -= 1
                    after_number = False
                elif token == ",":
                    if not operators or operators[-1][1] != _CALL:
                        raise self.error("',' is only allowed between a function's arguments", i)
                    expect_operand = True
                else:  # the end of the statement
                    break
                i += 1
            if operators:
                _, kind, function, first, _ = operators[-1]
                if kind == _CALL:
                    raise self.error(f"unclosed call of {function}(: no matching ')'", first, first + 1)
                raise self.error("unclosed '(': no matching ')'", first)
            node = operands[0][0]
            if name is None:
                unused = (statement_start, i - 1)
            else:
                if ops[node] is None or graph.names[node] is not None:
                    node = graph.add(_COPY, (node,), statement_start, i - 1, name)
                else:
                    graph.names[node] = name
                self.defined[name] = known[name] = node
            last = (node, name)
            if len(ops) > MAX_NODES:
                raise self.too_large(i - 1)
        if last is None:
            raise ParseError("the program is empty: write an expression such as (x+y)*z", (0, len(self.source)), self.source)
        node, name = last
        graph.output = node
        graph.output_name = name or graph.names[node] or ("f" if "f" not in graph.variables else "f_out")
        return graph

    def check_assignable(self, name: str, token: int) -> None:
        graph = self.graph
        if name in CONSTANTS:
            raise self.error(f"{name} is a constant and cannot be assigned", token)
        if name in FUNCTIONS:
            raise self.error(f"{name} is a function name and cannot be assigned", token)
        if name in self.defined:
            line = _line(self.source, graph.span(self.defined[name])[0])
            raise self.error(f"{name} is assigned twice (first on line {line})", token)
        if name in graph.variables:
            start = graph.span(graph.variables[name])[0]
            raise self.error(
                f"{name} is already used as a variable (line {_line(self.source, start)}, column "
                f"{_column(self.source, start)}); assign it before its first use",
                token,
            )

    # ----- expressions: a shunting-yard loop with matklad's binding powers -----

    def close(self, operators: list, operands: list, i: int) -> None:
        """Handle ')' once everything inside is built: finish a group or a function call."""
        _, kind, name, first, height = operators.pop()
        if kind == _PAREN:
            node, _, _ = operands.pop()
            operands.append((node, first, i))
            return
        arguments = operands[height:]
        del operands[height:]
        by_arity = FUNCTIONS[name]
        op = by_arity.get(len(arguments)) or (by_arity.get(None) if len(arguments) >= 2 else None)
        if op is None:
            raise self.error(f"{name}() takes {arity_text(name)}, {len(arguments)} given", first, i)
        operands.append((self.graph.add(op, tuple(a for a, _, _ in arguments), first, i), first, i))

    # ----- leaves -----

    def number(self, token: str, i: int) -> int:
        if "_" in token:
            raise self.error("malformed number: digits may not be grouped with '_'", i)
        value = float(token)
        if value == float("inf"):
            raise self.error(f"the number {_shorten(token)} is too large for a double", i)
        return self.graph.constant(value, token, i, i)

    def leaf(self, name: str, i: int) -> int:
        """The node of a name seen for the first time: a constant or a new variable."""
        if name in CONSTANTS:
            return self.graph.constant(CONSTANTS[name], name, i, i)
        if name in FUNCTIONS:
            raise self.error(f"{name} is a function: call it as {name}(...)", i)
        node = self.known[name] = self.graph.variable(name, i, i)
        return node

    def check_function(self, name: str, i: int) -> None:
        """A name before '(' must be a function."""
        if name in self.known or name in CONSTANTS:
            raise self.error(f"{name} is not a function; to multiply write {name}*(...)", i)
        if name not in FUNCTIONS:
            raise self.error(_unknown_function(name), i)

    # ----- errors found in the loop (cold paths) -----

    def too_large(self, i: int) -> LimitError:
        """The program passed MAX_NODES or MAX_DEPTH at token i."""
        if len(self.graph) > MAX_NODES:
            message = f"the program has more than {MAX_NODES:,} nodes, the limit"
        else:
            message = f"the expression nests more than {MAX_DEPTH:,} levels deep, the limit"
        start, end = self.columns(i)
        return LimitError(message, (start, max(end, start + 1)), self.source)

    def expected_operand(self, operators: list, operands: list, i: int) -> ParseError:
        token = self.tokens[i]
        if token == ")" and operators and operators[-1][1] == _CALL and operators[-1][4] == len(operands):
            name, first = operators[-1][2], operators[-1][3]
            return self.error(f"{name}() takes {arity_text(name)}, none given", first, i)
        if token == ")" and operators and operators[-1][1] == _PAREN:
            return self.error("empty parentheses", operators[-1][3], i)
        if operators and operators[-1][1] in (_BINARY, _PREFIX) and (
            token in (";", "\n", ")", ",", _END) or token[0] == "#"
        ):
            first = operators[-1][3]
            return self.error(f"{self.tokens[first]!r} needs an operand after it", first)
        if token in (";", "\n", _END):
            if operators and operators[-1][1] in (_PAREN, _CALL):
                return self.error("unclosed '(': no matching ')'", operators[-1][3])
            return self.error("the expression ends too early", i)
        if len(token) == 1 and token not in "()+-*/^,=;":
            return self.error(_unexpected(token), i)
        return self.error(f"expected a number, a name or '(' but found {token!r}", i)

    def missing_operator(self, i: int) -> ParseError:
        token, previous = self.tokens[i], self.tokens[i - 1]
        if token == "(" and previous.isidentifier():
            return self.error(f"{previous} is not a function; to multiply write {previous}*(...)", i - 1)
        if token == "=":
            return self.error("'=' can only follow a name at the start of a statement", i)
        if token.isidentifier() or token[:1] in "0123456789.(" and token != ".":
            return self.error(f"missing operator before {token!r} (write * to multiply)", i)
        return self.error(_unexpected(token), i)


def _unexpected(token: str) -> str:
    shown = repr(token) if token.isprintable() else f"U+{ord(token[0]):04X}"
    return f"unexpected character {shown}" if len(token) == 1 else f"unexpected {shown}"


def _unknown_function(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name.lower(), FUNCTIONS, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"unknown function {name}(){hint}"


def _shorten(text: str) -> str:
    return text if len(text) <= 20 else f"{text[:8]}…{text[-8:]} ({len(text)} characters)"


def _line(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


def _column(source: str, offset: int) -> int:
    return offset - (source.rfind("\n", 0, offset) + 1) + 1
