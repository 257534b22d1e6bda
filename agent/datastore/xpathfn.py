"""XPath 1.0 for YANG: a small parser and the YANG functions (RFC 7950 section 10).

libxml2 (through lxml) evaluates every must, when and leafref path; this module prepares
the expressions for it and teaches it YANG:

- :func:`parse` tokenizes and parses an expression into a small AST and rewrites it for
  lxml: ``current()`` becomes the variable ``$current`` (lxml extension functions cannot see
  the initial context node inside predicates) and an absolute path ``/a/b`` becomes
  ``$root/a/b`` (YANG's root is the datastore element, XPath's is the document node, and the
  datastore element need not be a document's root).
- :class:`PathVisitor` follows every location path of an AST from a start item, so that
  the validator can run the same walk over the schema (which nodes can this expression
  read?) and over the data (which defaults must exist before libxml2 evaluates it?).
- :class:`SchemaWalk` is that walk over the schema: the :class:`Ref` list of what an
  expression reads, and :func:`reaches`, whether a change of one node can alter it; the
  validator uses them to re-evaluate only the expressions a change can reach.
- :class:`YangFunctions` provides deref(), derived-from(), derived-from-or-self(),
  re-match(), enum-value() and bit-is-set() as lxml extension functions.
- :func:`python_regex` reads the XSD regular expressions that Python reads the same way
  as Python ones, a faster road than libxml2's XSD engine for patterns and re-match().
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from lxml import etree

from agent.datastore.schema import Kind, Schema, SchemaNode, TypeSpec, regex_schema

Element = etree._Element

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
_OPERATORS = frozenset({"and", "or", "mod", "div", "/", "//", "|", "+", "-", "=", "!=",
                        "<", "<=", ">", ">=", "*"})
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
        while (tok := self.peek()) is not None and tok.kind == "operator" \
                and tok.text in _BINARY_LEVELS[level]:
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
        follows = nxt is not None and (nxt.kind in ("name", "axis", "nodetype")
                                       or nxt.text in (".", "..", "@"))
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


# -- following location paths ---------------------------------------------------------------

T = TypeVar("T")


class PathVisitor(Generic[T]):
    """Follows the location paths of an expression over some tree of items.

    Subclasses give the tree: ``root``, ``children`` and ``parent``.  Whatever the walk
    cannot follow exactly (other axes, wildcards, deref()) is reported once to ``opaque``
    so that the caller can fall back to a conservative answer.
    """

    def __init__(self, nsmap: Mapping[str, str]) -> None:
        self.nsmap = nsmap
        self.in_predicate = 0  # > 0 while following a path inside a predicate

    def root(self) -> T:
        raise NotImplementedError

    def children(self, item: T, namespace: str, name: str, final: bool) -> list[T]:
        raise NotImplementedError

    def parent(self, item: T) -> T | None:
        raise NotImplementedError

    def opaque(self) -> None:
        raise NotImplementedError

    def nodes(self, ast: Expr, context: T, current: T) -> list[T]:
        """Follow every path of ``ast``; return the items the whole expression selects
        (empty unless it is a node-set expression)."""
        return self._eval(ast, [context], current)

    def _eval(self, node: Expr, ctx: list[T], cur: T) -> list[T]:
        if isinstance(node, Path):
            return self._path(node, ctx, cur)
        if isinstance(node, Call):
            return self._call(node, ctx, cur)
        if isinstance(node, Filter):
            items = self._eval(node.primary, ctx, cur)
            self._predicates(node.predicates, items, cur)
            return items
        if isinstance(node, Binary):
            left, right = self._eval(node.left, ctx, cur), self._eval(node.right, ctx, cur)
            return _unique([*left, *right]) if node.op == "|" else []
        return []

    def deref(self, items: list[T]) -> list[T]:
        """deref() of ``items``: the subclass may know where it leads."""
        self.opaque()
        return []

    def _call(self, node: Call, ctx: list[T], cur: T) -> list[T]:
        if node.name == "current" and not node.args:
            return [cur]
        if node.name == "deref" and len(node.args) == 1:
            return self.deref(self._eval(node.args[0], ctx, cur))
        for arg in node.args:
            self._eval(arg, ctx, cur)
        if node.name not in _VALUE_FUNCTIONS:
            self.opaque()  # an unknown function may reach any node
        return []

    def _path(self, node: Path, ctx: list[T], cur: T) -> list[T]:
        if node.absolute:
            items = [self.root()]
        elif node.start is not None:
            items = self._eval(node.start, ctx, cur)
        else:
            items = ctx
        for i, step in enumerate(node.steps):
            items = self._step(items, step, final=i == len(node.steps) - 1)
            self._predicates(step.predicates, items, cur)
        return items

    def _predicates(self, preds: tuple[Expr, ...], items: list[T], cur: T) -> None:
        self.in_predicate += 1
        for pred in preds:
            for item in items:
                self._eval(pred, [item], cur)
        self.in_predicate -= 1

    def _step(self, items: list[T], step: Step, final: bool) -> list[T]:
        if step.axis == "self" and step.test == "node()":
            return items
        if step.axis == "parent" and step.test == "node()":
            return _unique([p for it in items if (p := self.parent(it)) is not None])
        if step.axis == "child" and step.test == "name" and step.local is not None:
            ns = self.nsmap.get(step.prefix or "")
            if ns is not None:
                return [c for it in items for c in self.children(it, ns, step.local, final)]
        self.opaque()
        return []


# Functions that return no node-set: the walk follows their arguments and stops there.
_VALUE_FUNCTIONS = frozenset({
    "last", "position", "count", "local-name", "namespace-uri", "name", "string", "concat",
    "starts-with", "contains", "substring-before", "substring-after", "substring",
    "string-length", "normalize-space", "translate", "boolean", "not", "true", "false",
    "lang", "number", "sum", "floor", "ceiling", "round", "re-match", "derived-from",
    "derived-from-or-self", "enum-value", "bit-is-set",
})


def _unique(items: list[T]) -> list[T]:
    seen: dict[int, T] = {}
    for it in items:
        seen.setdefault(id(it), it)
    return list(seen.values())


# -- XSD regular expressions ---------------------------------------------------------------

_XSD_ESCAPES = frozenset(".-\\[](){}*+?|^nrt")  # single-character escapes of XSD


def python_regex(xsd: str) -> re.Pattern[str] | None:
    """The XSD regular expression as an equivalent Python one, or None when it uses what
    the two dialects read differently (\\p, \\w, \\i, class subtraction, ...). libxml2 stays
    the reference (schema.Pattern); this is only a faster route for the common patterns."""
    out: list[str] = []
    i, depth = 0, 0  # depth: inside a character class
    while i < len(xsd):
        ch = xsd[i]
        if ch == "\\":
            nxt = xsd[i + 1 : i + 2]
            if nxt == "d" or nxt in _XSD_ESCAPES:
                out.append("\\" + nxt)
            elif nxt == "s":
                out.append("[ \\t\\n\\r]" if not depth else " \\t\\n\\r")
            else:
                return None
            i += 2
            continue
        if ch == "[":
            if depth:
                return None
            depth = 1
        elif ch == "]":
            depth = 0
        elif ch == "-" and xsd[i + 1 : i + 2] == "[":
            return None  # class subtraction
        elif not depth and ch in "^$":
            ch = "\\" + ch  # literal characters in XSD, anchors in Python
        elif not depth and ch == ".":
            ch = "[^\\n\\r]"
        out.append(ch)
        i += 1
    try:
        return re.compile("".join(out))
    except re.error:
        return None


# -- YANG functions ---------------------------------------------------------------------


def string_value(arg: object) -> str:
    """XPath string(): a node-set's first node's text, or the value itself."""
    if isinstance(arg, list):
        if not arg:
            return ""
        first = arg[0]
        return "".join(first.itertext()) if isinstance(first, etree._Element) else str(first)
    if isinstance(arg, bool):
        return "true" if arg else "false"
    if isinstance(arg, float):
        return str(int(arg)) if arg.is_integer() else str(arg)
    return str(arg)


def _first_element(arg: object) -> Element | None:
    if isinstance(arg, list) and arg and isinstance(arg[0], etree._Element):
        return arg[0]
    return None


class YangFunctions:
    """The YANG XPath functions, bound to a schema and the validator's tree lookups.

    ``locate`` maps a data element to its schema node; ``deref`` follows a leafref or
    instance-identifier element to its targets. Both are the validator's, because only it
    knows which datastore element is the root of the current run.
    """

    def __init__(
        self,
        schema: Schema,
        locate: Callable[[Element], SchemaNode | None],
        deref: Callable[[Element], list[Element]],
    ) -> None:
        self.schema = schema
        self.locate = locate
        self._deref = deref
        self._regexes: dict[str, Callable[[str], bool]] = {}
        self._derivations: dict[tuple[tuple[str, str], tuple[str, str]], bool] = {}

    def extensions(self, nsmap: Mapping[str, str]) -> dict[tuple[None, str], Callable[..., object]]:
        """The functions for one expression; ``nsmap`` resolves identity prefixes in it."""
        return {
            (None, "deref"): self.deref,
            (None, "derived-from"): lambda _c, nodes, ident: self._derived(nodes, ident,
                                                                           nsmap, False),
            (None, "derived-from-or-self"): lambda _c, nodes, ident: self._derived(
                nodes, ident, nsmap, True),
            (None, "re-match"): self.re_match,
            (None, "enum-value"): self.enum_value,
            (None, "bit-is-set"): self.bit_is_set,
        }

    def deref(self, _context: object, nodes: object) -> list[Element]:
        el = _first_element(nodes)
        return self._deref(el) if el is not None else []

    def _derived(self, nodes: object, ident: object, nsmap: Mapping[str, str],
                 or_self: bool) -> bool:
        prefix, _, name = string_value(ident).rpartition(":")
        base = (nsmap.get(prefix, ""), name)
        for el in nodes if isinstance(nodes, list) else ():
            if not isinstance(el, etree._Element):
                continue
            value = identity_of((el.text or "").strip(), el.nsmap)
            if value is None:
                continue
            if (or_self and value == base) or self._derived_from(value, base):
                return True
        return False

    def _derived_from(self, ident: tuple[str, str], base: tuple[str, str]) -> bool:
        key = (ident, base)
        if key not in self._derivations:
            self._derivations[key] = self.schema.derived_from(ident, base)
        return self._derivations[key]

    def re_match(self, _context: object, value: object, pattern: object) -> bool:
        """XSD regular expressions, implicitly anchored, as in the pattern statement."""
        regex = string_value(pattern)
        if regex not in self._regexes:
            self._regexes[regex] = _matcher(regex)
        return self._regexes[regex](string_value(value))

    def enum_value(self, _context: object, nodes: object) -> float:
        el = _first_element(nodes)
        snode = self.locate(el) if el is not None else None
        text = (el.text or "") if el is not None else ""
        for spec in _member_types(snode.type) if snode is not None and snode.type else ():
            for name, value in spec.enums:
                if name == text:
                    return float(value)
        return math.nan

    def bit_is_set(self, _context: object, nodes: object, bit: object) -> bool:
        el = _first_element(nodes)
        snode = self.locate(el) if el is not None else None
        if el is None or snode is None or snode.type is None:
            return False
        if not any(spec.bits for spec in _member_types(snode.type)):
            return False
        return string_value(bit) in (el.text or "").split()


def _matcher(regex: str) -> Callable[[str], bool]:
    """A full-match test for an XSD regex: Python's re when it reads it the same way, else
    libxml2's XSD engine; nothing matches a regex that is not XSD."""
    fast = python_regex(regex)
    if fast is not None:
        return lambda text: fast.fullmatch(text) is not None
    try:
        xsd = regex_schema(regex)
    except etree.XMLSchemaParseError:
        return lambda _text: False

    def slow(text: str) -> bool:
        probe = etree.Element("v")
        probe.text = text
        return bool(xsd.validate(probe))

    return slow


def identity_of(value: str, nsmap: Mapping[str | None, str]) -> tuple[str, str] | None:
    """(namespace, name) of an identityref value as encoded in XML (RFC 7950 9.10.3)."""
    prefix, _, name = value.rpartition(":")
    ns = nsmap.get(prefix or None)
    return (ns, name) if ns is not None and name else None


def _member_types(spec: TypeSpec) -> Iterator[TypeSpec]:
    """A type and, for a union, its members, depth first."""
    yield spec
    for member in spec.members:
        yield from _member_types(member)


# -- what an expression reads --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ref:
    """A schema node an expression reads.

    ``anchor`` is the shallowest schema depth the path passes on its way there: a change
    below one instance of the anchor affects only contexts below that same instance.
    ``value``: the node's value is read, not only its existence. ``monotone``: only a
    removal can make the expression false (the main path of a leafref to a key).
    """

    node: SchemaNode
    anchor: int
    value: bool
    monotone: bool


def is_key(node: SchemaNode) -> bool:
    parent = node.parent
    return parent is not None and parent.kind is Kind.LIST and node.name in parent.keys


class SchemaWalk(PathVisitor[tuple[SchemaNode, int]]):
    """Follows an expression over the schema and records what it reads (see Ref)."""

    def __init__(self, nsmap: Mapping[str, str], root: SchemaNode,
                 depth: Callable[[SchemaNode], int], leafref: bool) -> None:
        super().__init__(nsmap)
        self._root = root
        self._depth = depth
        self._leafref = leafref
        self.refs: list[Ref] = []
        self.is_opaque = False

    def root(self) -> tuple[SchemaNode, int]:
        return self._root, 0

    def children(self, item: tuple[SchemaNode, int], namespace: str, name: str,
                 final: bool) -> list[tuple[SchemaNode, int]]:
        node, low = item
        child = node.children.get((namespace, name))
        if child is None or not child.config:
            return []
        main = self._leafref and not self.in_predicate
        self.refs.append(Ref(child, low, final, main and (not final or is_key(child))))
        return [(child, low)]

    def parent(self, item: tuple[SchemaNode, int]) -> tuple[SchemaNode, int] | None:
        node, low = item
        up = node.data_parent
        return None if up is None else (up, min(low, self._depth(up)))

    def opaque(self) -> None:
        self.is_opaque = True

    def deref(self, items: list[tuple[SchemaNode, int]]) -> list[tuple[SchemaNode, int]]:
        """Through a leafref with a plain path, deref() leads to its target node, of any
        instance: what follows is read from the root (anchor 0)."""
        out = []
        for node, _low in items:
            spec = node.type
            target = spec.leafref_target if spec is not None and spec.leafref else None
            if target is None or spec is None or spec.leafref is None or simple_path(
                    parse(spec.leafref.expr).ast, spec.leafref.nsmap) is None:
                self.opaque()
                return []
            self.refs.append(Ref(target, 0, True, False))
            out.append((target, 0))
        return out


def simple_path(ast: object, nsmap: Mapping[str, str]
                 ) -> tuple[bool, int, tuple[tuple[str, str], ...]] | None:
    """(absolute, number of '..', child steps) of a leafref path without predicates."""
    if not isinstance(ast, Path) or ast.start is not None:
        return None
    ups, names = 0, []
    for step in ast.steps:
        if step.predicates:
            return None
        if step.axis == "parent" and step.test == "node()" and not names:
            ups += 1
        elif step.axis == "child" and step.test == "name" and step.local is not None:
            names.append((nsmap.get(step.prefix or "", ""), step.local))
        else:
            return None
    return ast.absolute, ups, tuple(names)


def reaches(ref: Ref, node: SchemaNode, removed: bool) -> bool:
    """Can a change of ``node`` (or its removal) change what ``ref`` reads?"""
    if ref.node is node:
        return removed or not ref.monotone
    up = node.data_parent
    while up is not None:
        if up is ref.node:  # the change is inside the node read
            return ref.value and not ref.monotone
        up = up.data_parent
    return removed or not ref.monotone  # the node read is inside the change
