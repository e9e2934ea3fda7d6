"""Program text → Graph, with an explicit operator stack instead of recursion.

Binding powers and function names come from the op table. Nodes are appended only after
their inputs, so the graph's node list is already in topological order.

Speed matters here (programs of a million operations are pasted in), so the text is cut
into tokens by one regex call per line, the loop works on token indices, and node spans are
kept as token indices that Graph.span() turns into columns only when an error needs a caret.
Generated programs repeat a few statement shapes (`a2 = sin(a1)*x + a1*y`, line after line):
a shape seen twice is learned, and the lines that match it are parsed by one regex match each
and a replay of its nodes (parse_shapes.py), with the same result as the general loop.
"""

from __future__ import annotations

import re
import unicodedata
from array import array

from .errors import GradcliError, LimitError, ParseError
from .formatting import format_value
from .graph import Graph, unused_name
from .ops import CONSTANTS, FUNCTIONS, INFIX, NEG_BP, OPS, POSTFIX, PREFIX, arity_text
from .parse_shapes import LearnedShapes

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
# A lone signed decimal number, such as an --at value usually is: `-2`, `0.5`, `1e-3`.
_PLAIN_NUMBER = re.compile(r"[ \t]*[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?[ \t]*")
_TOKEN_IN_ASCII: list[re.Pattern] = []  # _TOKEN with ASCII classes, compiled at the first use (not at import)


def _tokenizer(ascii: bool):
    """findall of _TOKEN; for ASCII text, of its ASCII-class twin (the same tokens, found ~15% faster)."""
    if not ascii:
        return _TOKEN.findall
    if not _TOKEN_IN_ASCII:
        _TOKEN_IN_ASCII.append(re.compile(_TOKEN.pattern, re.ASCII))
    return _TOKEN_IN_ASCII[0].findall


_END = ""  # the token after the last one
_INF = float("inf")
_MORE = "\x00\x00"  # the end of a window with more lines after it (no token is like it)
_GROUP_ENDS = (")", ",", ";", _END)  # with a newline outside parentheses

_INFIX = {symbol: (op, syntax.left_bp, syntax.right_bp) for symbol, (op, syntax) in INFIX.items()}
_MULTIPLY = _INFIX["*"]
_MATMUL = OPS["matmul"]
_NEGATE = PREFIX["-"][0]
_COPY = OPS["copy"]
_STACK = OPS["stack"]  # a list literal [a, b]
_INDEX = OPS["index"]  # z[1], X[1, 0]
_INDEX_FORM = "an index is an integer such as z[0] (0-based)"

# Kinds of entries on the operator stack. Groups have a binding power below every
# operator's, so building nodes stops at them. A call and a list take commas (kind >= _CALL).
_PREFIX, _BINARY, _PAREN, _CALL, _BRACKET = range(5)
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
    combining = False  # a combining mark (e + U+0301, as macOS writes é) composes with the char before it
    for char in set(source):
        if not char.isascii():
            table[ord(char)] = text = _replacement(char)
            if len(text) != 1 or char in _SUPERSCRIPTS or unicodedata.combining(char):
                uneven.append(char)
                combining = combining or bool(unicodedata.combining(char))
    if not uneven:
        return source.translate(table), None
    pieces: list[str] = []
    origin = array("q")
    done = 0
    run = "[" + re.escape("".join(uneven)) + "]+"
    for match in re.finditer("(?s:.)?" + run if combining else run, source):  # with the mark's base char
        start, end = match.span()
        pieces.append(source[done:start].translate(table))
        origin.extend(range(done, start))
        in_superscript = False
        column = start
        while column < end:
            char = source[column]
            cluster_end = column + 1
            while cluster_end < end and unicodedata.combining(source[cluster_end]):
                cluster_end += 1
            if cluster_end > column + 1:  # a letter and its marks: NFKC composes them (é), as a whole
                text = "".join(_OPERATOR_FORMS.get(c, c)
                               for c in unicodedata.normalize("NFKC", source[column:cluster_end]))
                in_superscript = False
            elif char in _SUPERSCRIPTS:
                text = _SUPERSCRIPTS[char] if in_superscript else "^" + _SUPERSCRIPTS[char]
                in_superscript = True
            else:
                text = table.get(ord(char), char)
                in_superscript = False
            pieces.append(text)
            origin.extend([column] * len(text))
            column = cluster_end
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


def plain_number(text: str) -> float | None:
    """The value of `text` if it is one signed decimal number (after NFKC: full-width digits
    too), the value parse() would give it; else None: a constant expression such as pi/4, or
    text whose error parse() explains (`1_000`, `1e400`)."""
    text = normalize(text)[0]
    if _PLAIN_NUMBER.fullmatch(text):
        value = float(text)
        if -_INF < value < _INF:
            return value
    return None


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

    def texts(self, first: int, last: int) -> list[str]:
        """The text of tokens first..last (after normalize(): `×` is `*`), for Graph.operator_span."""
        self(first)  # the marks up to first's block
        texts: list[str] = []
        skip = first % self.BLOCK
        for match in _TOKEN.finditer(self.text, self.marks[first // self.BLOCK]):
            if skip:
                skip -= 1
                continue
            texts.append(match.group(1))
            if len(texts) > last - first:
                break
        return texts

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
    """One pass over the text: whole lines go to the shunting-yard loop, or to a learned shape.

    The general path (`statements`) tokenizes a window of whole lines and runs the shunting
    yard over it, growing the window when a statement continues inside parentheses. After it
    has parsed a short one-line assignment, that statement's *shape* is learned (parse_shapes.py):
    later lines of the same shape, the common case in generated programs, are then parsed by
    one regex match and a replay of the nodes, without tokens or operator stacks. Both paths
    number tokens the same way (a node's span is global token indices), and the shape path
    calls the very same checks, so the graph and every error are the same either way.
    """

    def __init__(self, source: str):
        self.source = source
        self.text, origin = normalize(source)
        self.ascii = self.text.isascii()
        self.tokenize = _tokenizer(self.ascii)
        self.graph = Graph(source)
        self.columns = self.graph.columns = _TokenColumns(self.text, origin)
        self.tokens: list[str] = []  # the window the general path is in; index + self.base is global
        self.base = 0
        self.end = 0  # where the window ends in the text
        # Names already bound to a node: variables and named intermediates (constants are not,
        # each use of pi is a node of its own).
        self.known: dict[str, int] = {}
        self.defined: dict[str, int] = {}  # the named intermediates alone
        self.target: str | None = None  # the name the current statement assigns
        self.unused: tuple[int, int] | None = None  # a bare expression that is not the last statement
        self.last: tuple[int, str | None] | None = None  # the latest statement's node and name
        self.shapes = LearnedShapes(self)
        # Keywords read in calls not closed yet: the call's global token -> ({keyword: (value, its
        # global token)}, the operand count at the first keyword, to catch an argument after it).
        self.keywords: dict[int, tuple[dict[str, tuple[int, int]], int]] = {}

    # ----- errors point at the original text -----

    def error(self, message: str, first: int, last: int | None = None) -> ParseError:
        """An error spanning tokens first..last of the current window."""
        return self.error_at(message, first + self.base, None if last is None else last + self.base)

    def error_at(self, message: str, first: int, last: int | None = None) -> ParseError:
        """An error spanning tokens first..last, counted from the start of the program."""
        start = self.columns(first)[0]
        end = self.columns(first if last is None else last)[1]
        return ParseError(message, (start, max(end, start + 1)), self.source)

    # ----- the program -----

    def run(self) -> Graph:
        """Alternate the two paths: learned shapes while lines match one, else the general path."""
        text = self.text
        size = len(text)
        pos = base = 0
        while pos < size:
            if self.shapes.recent and self.unused is None:
                pos, base = self.shapes.replay(pos, base, MAX_NODES, MAX_DEPTH)
                if pos >= size:
                    break
            end = text.find("\n", pos) + 1 or size
            semicolon = text.find(";", pos, end)
            if semicolon >= 0 and text.find("#", pos, semicolon) < 0:
                end = semicolon + 1  # `a1 = ...; a2 = ...` on one line: back to the shapes after each
            pos, base = self.statements(pos, end, base)
        if self.last is None:
            raise ParseError("the program is empty: write an expression such as (x+y)*z", (0, len(self.source)), self.source)
        graph = self.graph
        if "@" in text and _MATMUL in graph.ops:  # `@` is built in the loop, which sets no flag
            graph.uses_arrays = True
        node, name = self.last
        graph.output = node
        graph.intermediates = self.defined
        graph.output_name = name or graph.names[node] or unused_name(("f", "f_out"), graph.variables, self.defined)
        return graph

    def more(self, tokens: list[str]) -> None:
        """Grow the window by the next line: a statement goes on inside parentheses."""
        text = self.text
        line_end = text.find("\n", self.end) + 1 or len(text)
        tokens.pop()  # the _MORE at the end
        tokens.extend(self.tokenize(text, self.end, line_end))
        tokens.append(_MORE if line_end < len(text) else _END)
        self.end = line_end

    # ----- the general path: statements, and in each the expression's shunting yard -----

    def statements(self, pos: int, end: int, base: int) -> tuple[int, int]:
        """Parse the statements of text[pos:end] by the shunting yard.

        The window ends at a line's end or at a ';' (either ends a statement, or is an error),
        and grows line by line while a statement goes on inside parentheses.

        Returns where the window ended: its text position and the global index of its next token.
        """
        graph = self.graph
        self.tokens = tokens = self.tokenize(self.text, pos, end)
        tokens.append(_MORE if end < len(self.text) else _END)
        self.base, self.end = base, end
        known = self.known
        ops = graph.ops
        add_op, add_inputs, add_name = ops.append, graph.inputs.append, graph.names.append
        add_start, add_end = graph.starts.append, graph.ends.append
        max_depth, max_nodes = MAX_DEPTH, MAX_NODES
        constants = graph.constants
        pending_keywords = self.keywords
        i = 0
        while True:
            token = tokens[i]
            if token == _END or token is _MORE:
                break
            if token == ";" or token == "\n" or token[0] == "#":
                i += 1
                continue
            if self.unused is not None:
                raise self.error_at(
                    "this expression's value is never used: name it (q = ...) or make it the last statement",
                    *self.unused,
                )
            name = self.target = None
            target = i
            if tokens[i + 1] == "=" and token.isidentifier():
                name = self.target = token
                self.check_assignable(name, i + base)
                i += 2
                if tokens[i] in (";", "\n", _END, _MORE) or tokens[i][0] == "#":
                    raise self.error(f"nothing is assigned to {name}", i - 1)
            elif tokens[i + 1] == "=":
                raise self.error("only a name can be assigned to", i)
            statement_start = i
            operands: list[tuple[int, int, int]] = []  # (node, first token, last token), tokens global
            operators: list[tuple] = []  # (right binding power, kind, payload, token, operand count)
            expect_operand = True
            after_number = False
            depth = 0
            while True:
                token = tokens[i]
                if expect_operand:
                    node = known.get(token)
                    if node is not None:
                        at = i + base
                        operands.append((node, at, at))
                        expect_operand = after_number = False
                        i += 1
                        continue  # no operator pushed: no depth to check
                    elif token == "(":
                        operators.append((_GROUP_BP, _PAREN, None, i, len(operands)))
                        depth += 1
                    elif token == "-":
                        operators.append((NEG_BP, _PREFIX, _NEGATE, i, 0))
                    elif token == "+":
                        operators.append((NEG_BP, _PREFIX, None, i, 0))  # unary plus: no node
                    elif "0" <= token[:1] <= "9" or (token[:1] == "." and token != "."):  # a lone "." is no number
                        # number() inlined (a wide sum has a constant every few tokens); it raises the errors
                        node = len(ops)
                        at = i + base
                        value = float(token) if "_" not in token else self.number(token, at)
                        if value == _INF:
                            self.number(token, at)
                        add_op(None)
                        add_inputs(())
                        add_name(None)
                        add_start(at)
                        add_end(at)
                        constants[node] = (value, token)
                        operands.append((node, at, at))
                        expect_operand = False
                        after_number = True
                        i += 1
                        continue
                    elif token.isidentifier():
                        if tokens[i + 1] == "(":
                            if token in known or token in CONSTANTS or token not in FUNCTIONS:
                                self.check_function(token, i)  # raises
                            operators.append((_GROUP_BP, _CALL, token, i, len(operands)))
                            depth += 1
                            i += 1
                        elif tokens[i + 1] == "=" and operators and operators[-1][1] == _CALL:
                            i = self.keyword(operators, operands, i)  # sum(X, axis=0)
                            expect_operand = after_number = False
                            continue
                        else:
                            operands.append((self.leaf(token, i + base), i + base, i + base))
                            expect_operand = after_number = False
                    elif token is _MORE:
                        self.more(tokens)
                        continue
                    elif token == "[":  # a list literal [a, b, c]: a group its commas separate, as a call's
                        operators.append((_GROUP_BP, _BRACKET, None, i, len(operands)))
                        depth += 1
                    elif not ((token == "\n" and depth) or token[:1] == "#"):
                        raise self.expected_operand(operators, operands, i)
                    if len(operators) > max_depth:
                        raise self.too_large(i)
                    i += 1
                    continue
                # An operator, or the end of a group: first build what binds tighter than it.
                infix = _INFIX.get(token)
                if infix is None:
                    if after_number and (token == "(" or token.isidentifier()):
                        if token[0] in "xXbBoO" and tokens[i - 1] == "0":
                            self.based_literal(i)  # raises at `0x1F`
                        infix = _MULTIPLY  # implicit multiplication: 2x, 3(x+1); the token is read again
                        i -= 1
                    elif token == "\n" and depth or token[:1] == "#":
                        i += 1
                        continue
                    elif token is _MORE:
                        self.more(tokens)
                        continue
                    elif not (token in _GROUP_ENDS or token == "\n"):
                        if token != "]":  # ']' ends a list: built below, as ')' ends a group
                            i = self.after_operand(operators, operands, i)  # z[0], A.T, axis=0; else raises
                            after_number = False
                            continue
                left_bp = -1 if infix is None else infix[1]
                while operators and operators[-1][0] > left_bp:
                    _, kind, op, first, _ = operators.pop()
                    if kind == _BINARY:
                        b, _, end_token = operands.pop()
                        a, first, _ = operands[-1]
                        node_inputs = (a, b)
                    else:
                        a, _, end_token = operands[-1]
                        first += base
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
                    if len(operators) > max_depth or len(ops) > max_nodes:
                        raise self.too_large(i)
                elif token == ")":
                    if not depth:
                        raise self.error("unbalanced ')': there is no '(' to close", i)
                    _, kind, function, first, height = operators[-1]
                    unary = FUNCTIONS[function].get(1) if kind == _CALL and len(operands) == height + 1 else None
                    if unary is not None and unary.vjp is None and not pending_keywords:
                        # close() inlined for the common call of one argument to an elementwise op, as
                        # in `exp(x*c)`; an array op (sum, softmax) or a call with a keyword goes to
                        # close(), which checks the keyword and marks the graph
                        operators.pop()
                        first += base
                        a = operands[-1][0]
                        operands[-1] = (len(ops), first, i + base)
                        add_op(unary)
                        add_inputs((a,))
                        add_name(None)
                        add_start(first)
                        add_end(i + base)
                    else:
                        self.close(operators, operands, i)
                    depth -= 1
                    after_number = False
                elif token == ",":
                    if not operators or operators[-1][1] < _CALL:
                        raise self.error("',' is only allowed between a function's arguments or a list's elements", i)
                    expect_operand = True
                elif token == "]":
                    self.close_list(operators, operands, i)
                    depth -= 1
                    after_number = False
                else:  # the end of the statement
                    break
                i += 1
            if operators:
                raise self.unclosed(operators[-1])
            node = operands[0][0]
            if name is None:
                self.unused = (statement_start + base, i - 1 + base)
            else:
                node = self.assign(name, node, statement_start + base, i - 1 + base)
                self.shapes.learn(tokens, target, i)
            self.last = (node, name)
            if len(ops) > max_nodes:
                raise self.too_large(i - 1)
        return self.end, base + i

    def assign(self, name: str, node: int, first: int, last: int) -> int:
        """Name a statement's node; a leaf or an already named node gets a copy of its own."""
        graph = self.graph
        if graph.ops[node] is None or graph.names[node] is not None:
            node = graph.add(_COPY, (node,), first, last, name)
        else:
            graph.names[node] = name
        self.defined[name] = self.known[name] = node
        return node

    def check_assignable(self, name: str, token: int) -> None:
        """A statement's target (at global token `token`) must be a fresh name that is not a function.

        A constant's name may be assigned, as in Python (micrograd's own test assigns `e`): from
        that statement on it names the intermediate, and the graph notes that it hides the constant.
        """
        graph = self.graph
        if name in FUNCTIONS:
            raise self.error_at(f"{name} is a function name and cannot be assigned", token)
        if name in self.defined:
            line = _line(self.source, graph.span(self.defined[name])[0])
            raise self.error_at(f"{name} is assigned twice (first on line {line})", token)
        if name in graph.variables:
            start = graph.span(graph.variables[name])[0]
            raise self.error_at(
                f"{name} is already used as a variable (line {_line(self.source, start)}, column "
                f"{_column(self.source, start)}); assign it before its first use",
                token,
            )
        if name in CONSTANTS:
            line = _line(self.source, self.columns(token)[0])
            graph.notes.append(f"{name} = … on line {line} hides the constant {name} ({format_value(CONSTANTS[name])}) "
                               f"from that line on")

    # ----- expressions: a shunting-yard loop with matklad's binding powers -----

    def close(self, operators: list, operands: list, i: int) -> None:
        """Handle ')' once everything inside is built: finish a group or a function call."""
        _, kind, name, first, height = operators.pop()
        first += self.base
        if kind == _PAREN:
            node, _, _ = operands.pop()
            operands.append((node, first, i + self.base))
            return
        if kind == _BRACKET:
            raise self.error("')' cannot close '[': write ']'", i)
        keywords, positional = self.keywords.pop(first, ({}, 0)) if self.keywords else ({}, 0)
        if keywords and len(operands) > positional:
            keyword = next(iter(keywords))
            _, start, end = operands[positional]
            raise self.error_at(f"an argument follows {keyword}=: keywords come last, as in {name}(X, {keyword}=0)",
                                start, end)
        arguments = operands[height:]
        del operands[height:]
        by_arity = FUNCTIONS[name]
        op = by_arity.get(len(arguments)) or (by_arity.get(None) if len(arguments) >= 2 else None)
        if op is None:
            raise self.error_at(f"{name}() takes {arity_text(name)}, {len(arguments)} given", first, i + self.base)
        for keyword, (_, at) in keywords.items():
            if keyword not in (op.keywords or ()):
                raise self.error_at(f"{name}() of {len(arguments)} arguments takes no keyword {keyword}", at, at)
        last = i + self.base
        node_inputs = tuple(a for a, _, _ in arguments)
        if op.elementwise:
            node = self.graph.add(op, node_inputs, first, last)
        else:
            node = self.array_node(op, node_inputs, first, last,
                                   {keyword: value for keyword, (value, _) in keywords.items()})
        operands.append((node, first, last))

    def close_list(self, operators: list, operands: list, i: int) -> None:
        """Handle ']' once everything inside is built: a list literal becomes a stack of its elements."""
        if not operators:
            raise self.error("unbalanced ']': there is no '[' to close", i)
        _, kind, name, first, height = operators[-1]
        if kind != _BRACKET:
            raise self.error(f"']' cannot close '{name or ''}(': write ')'", i)
        operators.pop()
        first += self.base
        last = i + self.base
        elements = tuple(node for node, _, _ in operands[height:])
        del operands[height:]
        operands.append((self.array_node(_STACK, elements, first, last), first, last))

    def after_operand(self, operators: list, operands: list, i: int) -> int:
        """A token after an operand that is not an infix operator (a cold path): postfix indexing
        `z[1, 0]` and `A.T`, which bind tighter than any operator and apply to the last operand, or
        a keyword whose name is already a variable's (`axis=` after `axis` was used); else an
        error. Returns the index of the token after what was read."""
        tokens, base = self.tokens, self.base
        token = tokens[i]
        node, first, _ = operands[-1]
        if token == "=" and operators and operators[-1][1] == _CALL and operands[-1][1] == operands[-1][2] == i - 1 + base \
                and len(operands) > operators[-1][4] and tokens[i - 1].isidentifier():
            operands.pop()  # the name was read as an operand (it names a variable); it is a keyword
            return self.keyword(operators, operands, i - 1)
        if token == "[":
            if node in self.graph.constants:
                raise self.error_at("a number cannot be indexed", first, i + base)
            return self.index(operands, i)
        if token == ".":
            op = POSTFIX.get("." + tokens[i + 1])
            if op is None:
                raise self.error("'.' can only be followed by T (transpose)", i, i + 1)
            if node in self.graph.constants:
                raise self.error_at("a number has no transpose", first, i + 1 + base)
            operands[-1] = (self.array_node(op, (node,), first, i + 1 + base), first, i + 1 + base)
            return i + 2
        raise self.missing_operator(i)

    def index(self, operands: list, i: int) -> int:
        """Read `[1, -2]` at token i into an index node of the last operand; integer literals only."""
        tokens = self.tokens
        start = i
        index: list[int] = []
        while True:
            i += 1
            negative = tokens[i] == "-"
            i += negative
            token = tokens[i]
            if not (token.isdigit() and token.isascii()):
                raise self.bad_index(start, i)
            index.append(-int(token) if negative else int(token))
            i += 1
            if tokens[i] == "]":
                break
            if tokens[i] != ",":
                raise self.bad_index(start, i)
        node, first, _ = operands[-1]
        last = i + self.base
        operands[-1] = (self.array_node(_INDEX, (node,), first, last, {"index": tuple(index)}), first, last)
        return i + 1

    def bad_index(self, start: int, i: int) -> ParseError:
        """The error for token i inside the index that opens at token start."""
        token = self.tokens[i]
        if token == ":":
            return self.error(f"slices such as z[1:] are not supported; {_INDEX_FORM}", i)
        if token in (";", "\n", _END, _MORE) or token[0] == "#":
            return self.error("unclosed '[': no matching ']'", start)
        return self.error(_INDEX_FORM, i)

    def keyword(self, operators: list, operands: list, i: int) -> int:
        """Read `axis=-1` at token i, inside the call on top of `operators`: an integer literal the
        call's op takes as that keyword. It is kept until close() builds the call's node.
        Returns the index of the token after the value."""
        tokens, base = self.tokens, self.base
        _, _, name, call, _ = operators[-1]
        keyword = tokens[i]
        accepted = [k for op in FUNCTIONS[name].values() for k in (op.keywords or ())]
        if not accepted:
            raise self.error(f"{name}() takes no keyword arguments", i, i + 1)
        if keyword not in accepted:
            raise self.error(f"{name}() takes the keyword {' or '.join(dict.fromkeys(accepted))}, not {keyword}",
                             i)
        given, positional = self.keywords.setdefault(call + base, ({}, len(operands)))
        if keyword in given:
            raise self.error(f"{keyword}= is given twice", i, i + 1)
        value_at = i + 2
        negative = tokens[value_at] == "-"
        token = tokens[value_at + negative]
        if not (token.isdigit() and token.isascii()) or tokens[value_at + negative + 1] not in (",", ")"):
            raise self.error(f"{keyword}= takes an integer such as 0 or -1", value_at, value_at + negative)
        given[keyword] = (-int(token) if negative else int(token), i + base)
        return value_at + negative + 1

    def array_node(self, op, inputs: tuple[int, ...], first: int, last: int, attributes: dict | None = None) -> int:
        """Add a node of an array op (a list, an index, .T, sum, softmax, ...) with its attributes:
        the one place that marks the graph as needing the array path, except for `@` (see run)."""
        graph = self.graph
        node = graph.add(op, inputs, first, last)
        if attributes:
            graph.attributes[node] = attributes
        graph.uses_arrays = True
        return node

    def unclosed(self, group: tuple) -> ParseError:
        """The error for a group still open at the end of its statement."""
        _, kind, function, first, _ = group
        if kind == _CALL:
            return self.error(f"unclosed call of {function}(: no matching ')'", first, first + 1)
        if kind == _BRACKET:
            return self.error("unclosed '[': no matching ']'", first)
        return self.error("unclosed '(': no matching ')'", first)

    # ----- leaves -----

    def number(self, token: str, i: int) -> int:
        """The node of a number at global token i."""
        if "_" in token:
            raise self.error_at("malformed number: digits may not be grouped with '_'", i)
        value = float(token)
        if value == float("inf"):
            raise self.error_at(f"the number {_shorten(token)} is too large for a double", i)
        return self.graph.constant(value, token, i, i)

    def leaf(self, name: str, i: int) -> int:
        """The node of a name seen for the first time (at global token i): a constant or a new variable."""
        if name in CONSTANTS:
            return self.graph.constant(CONSTANTS[name], name, i, i)
        if name == self.target:
            raise self.error_at(f"{name} is used in its own definition: it has no value yet (the program is "
                                f"not a loop); give the new value another name ({name}1 = ...)", i)
        if name in FUNCTIONS:
            raise self.error_at(f"{name} is a function: call it as {name}(...)", i)
        node = self.known[name] = self.graph.variable(name, i, i)
        return node

    def check_function(self, name: str, i: int) -> None:
        """A name before '(' must be a function."""
        if name in self.known or name in CONSTANTS:
            raise self.error(f"{name} is not a function; to multiply write {name}*(...)", i)
        if name not in FUNCTIONS:
            raise self.error(_unknown_function(name), i)

    # ----- errors found in the loop (cold paths) -----

    def based_literal(self, i: int) -> None:
        """Refuse `0x1F`, `0b101`, `0o17` (tokens i-1 and i of the window, written together):
        gradcli reads no such numbers, and as `0*x1F` it would ask for a variable x1F."""
        name = self.tokens[i]
        if not name.isascii():  # int() would read other scripts' digits too
            return
        try:
            value = int("0" + name, 0)
        except ValueError:
            return  # `0xg`, `0o9`: an implicit product, as any number before a name
        if self.columns(i - 1 + self.base)[1] != self.columns(i + self.base)[0]:
            return  # `0 x1F`, spaced: an implicit product
        literal = _shorten("0" + name)
        read_as = f"{literal} is read as 0*{_shorten(name)}: gradcli has no hexadecimal, binary or octal numbers"
        if value.bit_length() <= 64:
            raise self.error(f"{read_as}; write {value}", i - 1, i)
        raise self.error(f"{read_as}; write it in decimal", i - 1, i)

    def too_large(self, i: int) -> LimitError:
        """The program passed MAX_NODES or MAX_DEPTH at token i of the window."""
        if len(self.graph) > MAX_NODES:
            message = f"the program has more than {MAX_NODES:,} nodes, the limit"
        else:
            message = f"the expression nests more than {MAX_DEPTH:,} levels deep, the limit"
        start, end = self.columns(i + self.base)
        return LimitError(message, (start, max(end, start + 1)), self.source)

    def expected_operand(self, operators: list, operands: list, i: int) -> ParseError:
        token = self.tokens[i]
        if token == ")" and operators and operators[-1][1] == _CALL and operators[-1][4] == len(operands):
            name, first = operators[-1][2], operators[-1][3]
            return self.error(f"{name}() takes {arity_text(name)}, none given", first, i)
        if token == ")" and operators and operators[-1][1] == _PAREN:
            return self.error("empty parentheses", operators[-1][3], i)
        if token == "]" and operators and operators[-1][1] == _BRACKET and operators[-1][4] == len(operands):
            return self.error("an empty list [] has no value", operators[-1][3], i)
        if operators and operators[-1][1] in (_BINARY, _PREFIX) and (
            token in (";", "\n", ")", ",", "]", _END) or token[0] == "#"
        ):
            first = operators[-1][3]
            return self.error(f"{self.tokens[first]!r} needs an operand after it", first)
        if token in (";", "\n", _END):
            if operators and operators[-1][1] == _BRACKET:
                return self.unclosed(operators[-1])
            if operators and operators[-1][1] in (_PAREN, _CALL):
                return self.error("unclosed '(': no matching ')'", operators[-1][3])
            return self.error("the expression ends too early", i)
        if len(token) == 1 and token not in "()[]+-*/^@,=;":
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
