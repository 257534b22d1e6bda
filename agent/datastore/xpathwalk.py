"""Following the location paths of a parsed XPath expression, over the schema or the data.

:class:`PathVisitor` follows every location path of an AST (see
:mod:`agent.datastore.xpathparse`) from a start item, so that the validator can run the
same walk over the schema (which nodes can this expression read?) and over the data
(which defaults must exist before libxml2 evaluates it?). :class:`SchemaWalk` is that walk
over the schema: the :class:`Ref` list of what an expression reads, and :func:`reaches`,
whether a change of one node can alter it; the validator uses them to re-evaluate only
the expressions a change can reach. :func:`simple_path` recognises the leafref paths
without predicates, whose targets the validator finds without libxml2.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from agent.datastore.schema import Kind, SchemaNode
from agent.datastore.xpathparse import Binary, Call, Expr, Filter, Path, Step, parse

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
_VALUE_FUNCTIONS = frozenset(
    {
        "last",
        "position",
        "count",
        "local-name",
        "namespace-uri",
        "name",
        "string",
        "concat",
        "starts-with",
        "contains",
        "substring-before",
        "substring-after",
        "substring",
        "string-length",
        "normalize-space",
        "translate",
        "boolean",
        "not",
        "true",
        "false",
        "lang",
        "number",
        "sum",
        "floor",
        "ceiling",
        "round",
        "re-match",
        "derived-from",
        "derived-from-or-self",
        "enum-value",
        "bit-is-set",
    }
)


def _unique(items: list[T]) -> list[T]:
    seen: dict[int, T] = {}
    for it in items:
        seen.setdefault(id(it), it)
    return list(seen.values())


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

    def __init__(
        self,
        nsmap: Mapping[str, str],
        root: SchemaNode,
        depth: Callable[[SchemaNode], int],
        leafref: bool,
    ) -> None:
        super().__init__(nsmap)
        self._root = root
        self._depth = depth
        self._leafref = leafref
        self.refs: list[Ref] = []
        self.is_opaque = False

    def root(self) -> tuple[SchemaNode, int]:
        return self._root, 0

    def children(
        self, item: tuple[SchemaNode, int], namespace: str, name: str, final: bool
    ) -> list[tuple[SchemaNode, int]]:
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
            if (
                target is None
                or spec is None
                or spec.leafref is None
                or simple_path(parse(spec.leafref.expr).ast, spec.leafref.nsmap) is None
            ):
                self.opaque()
                return []
            self.refs.append(Ref(target, 0, True, False))
            out.append((target, 0))
        return out


def simple_path(
    ast: object, nsmap: Mapping[str, str]
) -> tuple[bool, int, tuple[tuple[str, str], ...]] | None:
    """(absolute, number of '..', child steps) of a leafref path without predicates."""
    if not isinstance(ast, Path) or ast.start is not None:
        return None
    ups = 0
    names: list[tuple[str, str]] = []
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
