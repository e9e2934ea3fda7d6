"""Learned line shapes: the parser's fast path for generated programs.

Generated programs repeat a few statement shapes (`a2 = sin(a1)*x + a1*y`, line after line).
Once the general parser (parse.py) has parsed two one-line assignments of the same shape, the
shape is learned: later lines of that shape are parsed by one regex match each and a replay of
the shape's nodes, without tokens or operator stacks. The replay calls the general parser's own
checks, so the graph and every error are the same either way (tests/test_parse_shapes.py).
"""

from __future__ import annotations

import re

from .errors import GradcliError
from .ops import CONSTANTS, FUNCTIONS, OPS

_COPY = OPS["copy"]
_NAME_SLOT, _NUMBER_SLOT = object(), object()  # token kinds of a shape that vary from line to line
_SHAPE_TOKENS = 64  # longer statements are not learned
_MAX_SHAPES = 256  # learned per program, so a program of all-different lines compiles few regexes
_SEEN_SHAPES = 4096  # shapes remembered as seen once, so such a program does not fill memory with them
_RECENT_SHAPES = 4  # tried at each line before the general path
_GAP = r"[ \t\r\f\v]*+"  # the spaces the tokenizer skips
# The same token patterns as the tokenizer's, each matched whole (possessive/atomic), so a line
# matches a shape only if the tokenizer would cut it into exactly the shape's tokens.
_SLOT_PATTERNS = {
    id(_NAME_SLOT): r"([^\W\d]\w*+)",
    id(_NUMBER_SLOT): r"((?>(?:[0-9][0-9_]*\.?[0-9_]*|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?))",
}


class LearnedShapes:
    """The shapes learned while parsing one program, and the replay of the lines that match them.

    `parser` is the general parser (parse._Parser) whose state the replay extends: its text,
    graph and name tables (`known`, `defined`), the statement's `target`, the `last` statement,
    and the checks it calls as the general path would (check_assignable, leaf, number).
    """

    __slots__ = ("parser", "seen", "shapes", "recent")

    def __init__(self, parser):
        self.parser = parser
        self.seen: set[tuple] = set()  # token kinds of the assignments seen once
        self.shapes: dict[tuple, _Shape | None] = {}  # learned shapes by token kinds (None: not replayable)
        self.recent: list[_Shape] = []  # the few tried at each line, the latest used first

    def learn(self, tokens: list[str], first: int, end: int) -> None:
        """Remember the shape of the assignment tokens[first:end], if it is one line (ended by
        '\\n' or ';') of at most _SHAPE_TOKENS tokens, and without brackets, '.' or a keyword."""
        if end - first > _SHAPE_TOKENS or (tokens[end] != "\n" and tokens[end] != ";"):
            return
        if tokens[end - 1][0] == "#":  # a comment at the end of the line is matched by every shape
            end -= 1
        kinds = []
        for k in range(first, end):
            token = tokens[k]
            if token == "\n" or token[0] == "#":
                return  # over several lines, or with a comment inside: not a shape
            if token.isidentifier():
                kinds.append(token if tokens[k + 1] == "(" and k > first else _NAME_SLOT)
            elif "0" <= token[:1] <= "9" or (token[:1] == "." and token != "."):
                kinds.append(_NUMBER_SLOT)
            elif token in "[].=" and k > first + 1:
                return  # a list, an index, .T or axis=: attributes, which a replay does not make
            else:
                kinds.append(token)
        key = tuple(kinds)
        if key in self.shapes:
            shape = self.shapes[key]
        elif key not in self.seen:  # a shape is worth its regex once it repeats (small programs: never)
            if len(self.seen) < _SEEN_SHAPES:
                self.seen.add(key)
            return
        elif len(self.shapes) >= _MAX_SHAPES:
            return
        else:
            try:
                shape = _Shape(key)
            except (ValueError, GradcliError):  # not replayable (an op of three inputs): general path
                shape = None
            self.shapes[key] = shape
        if shape is None:
            return
        if shape.pattern is None:
            shape.use(self.parser.ascii)
        if shape in self.recent:
            self.recent.remove(shape)
        self.recent.insert(0, shape)
        del self.recent[_RECENT_SHAPES:]

    def replay(self, pos: int, base: int, max_nodes: int, max_depth: int) -> tuple[int, int]:
        """Parse the statements at text position pos (global token base) that match a learned
        shape; stop at the first that does not. Returns where it stopped, as (pos, base).

        Each is checked and built exactly as the general path would: the target by
        check_assignable (called only when a lookup says it has something to say), leaves in
        token order (a bound name's node, else leaf(); number()), op nodes in the shunting
        yard's order, then the naming of assign(). Near max_nodes, or past max_depth, and at
        what may be a hexadecimal number, the general path takes over, so a limit or an error is
        met at the same token. (No Python code is generated for a shape: gradcli compiles no code
        at run time, only the shape's regex, so a loop over the steps it is.)
        """
        parser = self.parser
        text, size = parser.text, len(parser.text)
        graph = parser.graph
        ops, names = graph.ops, graph.names
        add_op, add_inputs, add_name = ops.append, graph.inputs.append, names.append
        add_start, add_end = graph.starts.append, graph.ends.append
        known, defined, variables = parser.known, parser.defined, graph.variables
        bound = known.get
        recent = self.recent
        ascii = parser.ascii
        node, name = parser.last or (0, None)
        shape = recent[0]
        while pos < size:
            match = shape.pattern.match(text, pos)
            if match is None:
                for shape in recent:
                    match = shape.pattern.match(text, pos)
                    if match is not None:
                        break
                else:
                    break
            if len(ops) > max_nodes - shape.most_nodes or shape.tokens > max_depth:
                break
            texts = match.groups()
            if not ascii and not all(texts[k].isidentifier() for k in shape.names):
                break  # \w is wider than an identifier outside ASCII: the general path decides
            if shape.products and any(texts[number] == "0" and texts[factor][0] in "xXbBoO"
                                      for number, factor in shape.products):
                break  # maybe `0x1F`: the general path decides (see _Parser.based_literal)
            target = parser.target = texts[0]
            if target in defined or target in variables or target in CONSTANTS or target in FUNCTIONS:
                parser.check_assignable(target, base)  # raises, or notes that a constant is hidden
            made = shape.made  # the node of each step (a scratch list, filled anew each line)
            step_index = 0
            for op, slot, a, b, start, end in shape.steps:
                if op is None:  # a leaf: a name or a number, at token `start`
                    if b:
                        made[step_index] = parser.number(texts[slot], base + start)
                    else:
                        node = bound(texts[slot])
                        made[step_index] = node if node is not None else parser.leaf(texts[slot], base + start)
                else:
                    made[step_index] = len(ops)
                    add_op(op)
                    add_inputs((made[a],) if b < 0 else (made[a], made[b]))
                    add_name(None)
                    add_start(base + start)
                    add_end(base + end)
                step_index += 1
            node = made[shape.result]
            if ops[node] is None or names[node] is not None:  # as assign(): `a = b` gets a copy
                last = base + shape.tokens - (2 if texts[-1] is None else 1)  # a comment ends the statement's text
                node = graph.add(_COPY, (node,), base + 2, last, target)
            else:
                names[node] = target
            defined[target] = known[target] = node
            name = target
            pos = match.end()
            base += shape.tokens if texts[-1] is None else shape.tokens + 1  # texts[-1]: the comment
        if name is not None:
            parser.last = (node, name)
        return pos, base


class _Shape:
    """A learned statement shape: `a1 = sin(a0)*x + a0*y` and `a2 = sin(a1)*x + a1*y` share one.

    The key is the statement's tokens with names and numbers replaced by slots (function names
    and operators stay). From it: a regex that matches a whole line of that shape and captures
    the slots, and the steps that rebuild its nodes, found by parsing a stand-in statement
    (`_t = sin ( _4 ) * _7 + _9 * _11`, a fresh name per slot, `1` per number) with the general
    parser, so the op table and the binding powers stay the only source of the rules. A step is
    a leaf (a name or a number, in token order, resolved at replay like any name or number) or
    an op applied to earlier steps. Token offsets in the stand-in are those of every line of
    the shape, so the steps carry the nodes' spans too.
    """

    __slots__ = ("regex", "pattern", "tokens", "names", "products", "steps", "made", "result", "most_nodes")

    def __init__(self, key: tuple):
        from .parse import parse  # the general parser (parse.py imports this module: not at the top)

        parts: list[str] = []
        stand_in: list[str] = []
        slot_of_token: dict[int, int] = {}
        self.names: list[int] = []  # the slots that hold names
        products = []  # (number slot, name slot) of each implicit product such as `2x`
        for k, kind in enumerate(key):
            if kind is _NAME_SLOT or kind is _NUMBER_SLOT:
                if kind is _NAME_SLOT:
                    self.names.append(len(slot_of_token))
                    if k and key[k - 1] is _NUMBER_SLOT:
                        products.append((len(slot_of_token) - 1, len(slot_of_token)))
                slot_of_token[k] = len(slot_of_token)
                parts.append(_GAP + _SLOT_PATTERNS[id(kind)])
                stand_in.append(("_t" if k == 0 else f"_{k}") if kind is _NAME_SLOT else "1")
            else:
                follow = r"(?!\w)" if kind.isidentifier() else r"(?!\*)" if kind == "*" else ""
                parts.append(_GAP + re.escape(kind) + follow)
                stand_in.append(kind)
        parts.append(_GAP + "(?:(#[^\n]*+)\n|[\n;])")  # the end, maybe after a comment (one token more)
        self.regex = "".join(parts)
        self.pattern: re.Pattern | None = None  # compiled by use(), for the text at hand
        self.tokens = len(key) + 1  # and the line's end
        self.products = tuple(products)
        model = parse(" ".join(stand_in))  # raises if the stand-in does not parse: not a shape
        steps = []
        count = len(model.ops)
        self.result = count - 1
        if model.ops[-1] is _COPY:  # `a = b`: the copy is made as _Parser.assign makes it, at replay
            count -= 1
            self.result = model.inputs[-1][0]
        for node in range(count):
            op = model.ops[node]
            start = model.starts[node]
            if op is None:
                steps.append((None, slot_of_token[start], 0, node in model.constants, start, 0))
            elif len(model.inputs[node]) <= 2:
                node_inputs = model.inputs[node]
                steps.append((op, 0, node_inputs[0], node_inputs[1] if len(node_inputs) == 2 else -1,
                              start, model.ends[node]))
            else:
                raise ValueError("ops of three or more inputs are left to the general path")
        self.steps = tuple(steps)
        self.made = [0] * len(steps)
        self.most_nodes = len(steps) + 1  # and a copy

    def use(self, ascii: bool) -> None:
        """Compile the regex; for ASCII text with ASCII classes, as the tokenizer does (the same
        matches there, found ~20% faster: the chain shape's lines are a quarter of its parse)."""
        self.pattern = re.compile(self.regex, re.ASCII if ascii else 0)
