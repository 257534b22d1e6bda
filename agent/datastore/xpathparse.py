"""XPath 1.0 for YANG expressions: the tokenizer, a small AST and the rewrite for lxml.

libxml2 (through lxml) evaluates every must, when and leafref path; :func:`parse` prepares
an expression for it. It tokenizes and parses the expression into a small AST, which
:mod:`agent.datastore.xpathwalk` follows to learn what the expression reads, and rewrites
it for lxml: ``current()`` becomes the variable ``$current`` (lxml extension functions
cannot see the initial context node inside predicates) and an absolute path ``/a/b``
becomes ``$root/a/b`` (YANG's root is the datastore element, XPath's is the document node,
and the datastore element need not be a document's root).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# -- tokens -------------------------------------------------------------------------------

_NCNAME = r"[^\W\d][\w.\-]*"
_TOKEN = re.compile(
    rf"""\s*(?:
    (?P<literal>"[^"]*"|'[^']*')
  | (?P<number>\d+(?:\.\d*)?|\.\d+)
  | (?P<op2>\.\.|::|//|!=|<=|>=)
  | (?P<variable>\$(?:{_NCNAME}:)?{_NCNAME})
  | (?P<name>{_NCNAME}(?::(?:{_NCNAME}|\*))?)
  | (?P<op1>[()\[\].@,/|+\-=<>*])
  )""",
    re.VERBOSE,
)
_OPERATORS = frozenset(
    {"and", "or", "mod", "div", "/", "//", "|", "+", "-", "=", "!=", "<", "<=", ">", ">=", "*"}
)
_NODE_TYPES = frozenset({"node", "text", "comment", "processing-instruction"})


class XPathSyntaxError(ValueError):
    """The expression is not XPath 1.0."""


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # literal, number, variable, name, function, nodetype, axis, operator, punct
    text: str


def tokenize(expr: str) -> list[Token]:
    """Split ``expr`` into tokens, applying XPath 1.0 section 3.7's disambiguation rules."""
    raw: list[tuple[str, str]] = []
    pos, end = 0, len(expr.rstrip())
    while pos < end:
        m = _TOKEN.match(expr, pos)
        if m is None or m.end() == pos:
            raise XPathSyntaxError(f"unexpected character at offset {pos} in {expr!r}")
        kind = m.lastgroup or ""
        raw.append((kind, m.group(kind)))
        pos = m.end()
    out: list[Token] = []
    for i, (kind, text) in enumerate(raw):
        nxt = raw[i + 1][1] if i + 1 < len(raw) else ""
        out.append(Token(_classify(kind, text, out[-1] if out else None, nxt), text))
    return out


def _classify(kind: str, text: str, prev: Token | None, nxt: str) -> str:
    after_operand = prev is not None and not (
        prev.text in ("@", "::", "(", "[", ",") or prev.kind == "operator"
    )
    if kind == "name":
        if after_operand:
            return "operator"  # and, or, mod, div
        if nxt == "(":
            return "nodetype" if text in _NODE_TYPES else "function"
        return "axis" if nxt == "::" else "name"
    if kind in ("op1", "op2"):
        if text == "*":
            return "operator" if after_operand else "name"
        return "operator" if text in _OPERATORS else "punct"
    return kind


# -- AST ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    axis: str  # child, parent, self, attribute, descendant-or-self, ...
    test: str  # "name" for a QName test, else "*", "prefix:*", "node()", "text()", ...
    prefix: str | None
    local: str | None
    predicates: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Path:
    absolute: bool
    start: Expr | None  # the filter expression a path continues: current()/.., deref(x)/..
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Filter:
    primary: Expr
    predicates: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Value:
    """A literal, a number, a negation's constant part or a variable: nothing to follow."""

    text: str


Expr = Path | Call | Filter | Binary | Value

_PARENT = Step("parent", "node()", None, None, ())
_SELF = Step("self", "node()", None, None, ())
_DESCENDANTS = Step("descendant-or-self", "node()", None, None, ())


@dataclass(frozen=True, slots=True)
class Parsed:
    ast: Expr
    lxml: str  # the expression rewritten for lxml ($current, $root)


def parse(expr: str) -> Parsed:
    """Parse ``expr``; raise XPathSyntaxError when it is not XPath 1.0."""
    parser = _Parser(tokenize(expr))
    ast = parser.expr()
    if parser.pos != len(parser.tokens):
        raise XPathSyntaxError(f"unexpected {parser.tokens[parser.pos].text!r} in {expr!r}")
    return Parsed(ast, " ".join(t for t in parser.out if t))


_BINARY_LEVELS: tuple[frozenset[str], ...] = (
    frozenset({"or"}),
    frozenset({"and"}),
    frozenset({"=", "!="}),
    frozenset({"<", "<=", ">", ">="}),
    frozenset({"+", "-"}),
    frozenset({"*", "div", "mod"}),
)


class _Parser:
    """Recursive descent over XPath 1.0's grammar, recording the lxml rewrites as it goes."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.out = [t.text for t in tokens]

    def peek(self, offset: int = 0) -> Token | None:
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def take(self, text: str | None = None) -> Token:
        tok = self.peek()
        if tok is None or (text is not None and tok.text != text):
            raise XPathSyntaxError(f"expected {text or 'a token'}, found {tok and tok.text!r}")
        self.pos += 1
        return tok

    def at(self, *texts: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.text in texts

    def expr(self, level: int = 0) -> Expr:
        if level == len(_BINARY_LEVELS):
            return self.unary()
        left = self.expr(level + 1)
        while (
            (tok := self.peek()) is not None
            and tok.kind == "operator"
            and tok.text in _BINARY_LEVELS[level]
        ):
            self.pos += 1
            left = Binary(tok.text, left, self.expr(level + 1))
        return left

    def unary(self) -> Expr:
        if self.at("-"):
            self.pos += 1
            return Binary("-", Value("0"), self.unary())
        left = self.path_expr()
        while self.at("|"):
            self.pos += 1
            left = Binary("|", left, self.path_expr())
        return left

    def path_expr(self) -> Expr:
        tok = self.peek()
        if tok is None:
            raise XPathSyntaxError("unexpected end of expression")
        if tok.kind in ("literal", "number", "variable", "function") or tok.text == "(":
            primary = self.filter_expr()
            if self.at("/", "//"):
                return Path(False, primary, self.relative_path())
            return primary
        if tok.text in ("/", "//"):
            return self.absolute_path()
        return Path(False, None, self.relative_path(first=True))

    def filter_expr(self) -> Expr:
        tok = self.take()
        if tok.kind == "function":
            primary: Expr = self.call(tok)
        elif tok.text == "(":
            primary = self.expr()
            self.take(")")
        else:
            primary = Value(tok.text)
        preds = self.predicates()
        return Filter(primary, preds) if preds else primary

    def call(self, tok: Token) -> Call:
        start = self.pos - 1
        self.take("(")
        args: list[Expr] = []
        while not self.at(")"):
            args.append(self.expr())
            if not self.at(")"):
                self.take(",")
        self.take(")")
        if tok.text == "current" and not args:
            self.out[start : self.pos] = ["$current"] + [""] * (self.pos - start - 1)
        return Call(tok.text, tuple(args))

    def absolute_path(self) -> Path:
        start = self.pos
        tok = self.take()
        nxt = self.peek()
        follows = nxt is not None and (
            nxt.kind in ("name", "axis", "nodetype") or nxt.text in (".", "..", "@")
        )
        self.out[start] = "$root" + (tok.text if follows or tok.text == "//" else "")
        if tok.text == "//":
            return Path(True, None, (_DESCENDANTS, *self.relative_path(first=True)))
        return Path(True, None, self.relative_path(first=True) if follows else ())

    def relative_path(self, first: bool = False) -> tuple[Step, ...]:
        steps: list[Step] = []
        if first:
            steps.append(self.step())
        while self.at("/", "//"):
            if self.take().text == "//":
                steps.append(_DESCENDANTS)
            steps.append(self.step())
        return tuple(steps)

    def step(self) -> Step:
        if self.at("."):
            self.pos += 1
            return _SELF
        if self.at(".."):
            self.pos += 1
            return _PARENT
        axis = "child"
        if self.at("@"):
            self.pos += 1
            axis = "attribute"
        elif (tok := self.peek()) is not None and tok.kind == "axis":
            self.pos += 1
            self.take("::")
            axis = tok.text
        return self.node_test(axis)

    def node_test(self, axis: str) -> Step:
        tok = self.take()
        if tok.kind == "nodetype":
            self.take("(")
            if not self.at(")"):
                self.take()  # processing-instruction('name')
            self.take(")")
            return Step(axis, f"{tok.text}()", None, None, self.predicates())
        if tok.kind != "name":
            raise XPathSyntaxError(f"expected a node test, found {tok.text!r}")
        if tok.text == "*" or tok.text.endswith(":*"):
            return Step(axis, tok.text, None, None, self.predicates())
        prefix, _, local = tok.text.rpartition(":")
        return Step(axis, "name", prefix or None, local, self.predicates())

    def predicates(self) -> tuple[Expr, ...]:
        preds: list[Expr] = []
        while self.at("["):
            self.pos += 1
            preds.append(self.expr())
            self.take("]")
        return tuple(preds)
