"""What a Validator compiles once per schema: per-node tables and what each expression reads.

:class:`CompiledSchema` walks the config nodes of the schema once and keeps, per node, a
:class:`NodeInfo`: its depth, keys and unique chains, what exists under it without being
written (defaults, non-presence containers) and which of that some expression can read,
whether its absence can be an error, the traits of its values, and its must, when and
leafref expressions compiled for lxml with the YANG functions registered
(:class:`CompiledExpr`). Every expression is walked over the schema
(:class:`~agent.datastore.xpathwalk.SchemaWalk`) to learn which nodes it reads; ``related``
and ``case_related`` turn that around, so that a change validation re-evaluates only the
expressions a change can reach. Nothing here looks at data: the tables serve every tree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, cast

from lxml import etree

from agent.datastore.schema import DATA_KINDS, Kind, Schema, SchemaError, SchemaNode, XPathExpr
from agent.datastore.valuecheck import ns_sensitive, plain
from agent.datastore.xpathfn import YangFunctions
from agent.datastore.xpathparse import Expr, parse
from agent.datastore.xpathwalk import Ref, SchemaWalk, simple_path
from agent.xmlutil import Element


class ExprCall(Protocol):
    """How the runs call a compiled expression: ``xpath(ctx, root=..., current=...)``.

    This is :class:`etree.XPath`'s ``__call__`` as lxml implements it: lxml binds an
    element given as an XPath variable as a node-set of that one element, but lxml-stubs'
    ``_XPathObject`` (the variables' type) leaves elements out. The result is a bool for a
    must or when (compiled as ``boolean(...)``), a node-set (a list) for a leafref path.
    """

    def __call__(self, ctx: Element, /, *, root: Element, current: Element) -> object: ...


@dataclass(eq=False, slots=True)
class CompiledExpr:
    """A must, when or leafref path of one schema node, compiled for lxml, and
    what it reads."""

    kind: str  # must, when or leafref
    owner: SchemaNode
    source: XPathExpr
    xpath: ExprCall  # an etree.XPath (see ExprCall)
    ast: Expr
    nsmap: dict[str, str]
    parent_context: bool  # evaluated at the owner's data parent (uses/augment/choice/case)
    refs: tuple[Ref, ...] = ()
    opaque: bool = False  # reads nodes the analysis cannot name (deref, *, //, other axes)
    reads_defaults: bool = False


@dataclass(eq=False, slots=True)
class NodeInfo:
    """What the runs need to know of one schema node, worked out once."""

    depth: int
    gates: tuple[CompiledExpr, ...] = ()  # the whens deciding whether the node may exist
    musts: tuple[CompiledExpr, ...] = ()
    leafref: CompiledExpr | None = None
    simple: tuple[bool, int, tuple[tuple[str, str], ...]] | None = None  # plain leafref path
    keys: tuple[SchemaNode, ...] = ()
    uniques: tuple[tuple[tuple[SchemaNode, ...], ...], ...] = ()
    implicit: tuple[SchemaNode, ...] = ()  # children that exist without being written
    materialise: tuple[SchemaNode, ...] = ()  # those of them some expression can read
    required: bool = False  # its absence can be an error
    implicit_here: bool = False  # it can exist without being written (a default, ...)
    case_nodes: tuple[SchemaNode, ...] = ()  # a choice's or case's data nodes
    ns_values: bool = False  # values need the element's nsmap (identityref, ...)
    plain: bool = False  # a value's text is its canonical form (strings, enumerations)
    leafy: bool = False  # a leaf or leaf-list
    inner: bool = False  # a container or list: its instances have children to check
    counted: bool = False  # a list or leaf-list: its instances are checked together
    # the structural pass checks the value's type (not for a string that takes any text,
    # nor a leafref that must match a target: check_leafref checks those)
    typed: bool = False
    has_exprs: bool = False
    requirements: tuple[SchemaNode, ...] = ()  # choices and children whose absence can be wrong
    by_tag: dict[str, SchemaNode] = field(default_factory=dict)  # children by Clark tag
    defaults: tuple[str, ...] = ()  # the default values a missing instance stands for
    default_nsmap: dict[str, str] | None = None  # their prefixes, when they have any


def _case_data(node: SchemaNode) -> Iterator[SchemaNode]:
    for child in node.ordered:
        if child.kind in (Kind.CHOICE, Kind.CASE):
            yield from _case_data(child)
        else:
            yield child


class CompiledSchema:
    """The per-node tables and compiled expressions of one schema (see the module
    docstring); ``functions`` are the YANG XPath functions the expressions may call."""

    def __init__(self, schema: Schema, functions: YangFunctions) -> None:
        self.schema = schema
        self.functions = functions
        self.info: dict[SchemaNode, NodeInfo] = {}
        self._xpaths: dict[tuple[int, str], tuple[Expr, etree.XPath]] = {}
        self._related: dict[SchemaNode, list[tuple[CompiledExpr, Ref]]] = {}
        self._case_related: dict[SchemaNode, list[tuple[CompiledExpr, Ref]]] = {}
        self._counters: dict[SchemaNode, etree.XPath] = {}
        self._build()

    # -- for the runs -----------------------------------------------------------------------

    def case_related(self, node: SchemaNode) -> list[tuple[CompiledExpr, Ref]]:
        """The expressions reading the other nodes of the choices around ``node``: adding
        or removing it can switch the active case, and with it which defaults are in use."""
        hit = self._case_related.get(node)
        if hit is None:
            hit = []
            for choice, _case in node.choice_path:
                for other in self.info[choice].case_nodes:
                    if other is not node:
                        for below in other.walk():
                            hit.extend(self._by_ref.get(below, ()))
            self._case_related[node] = hit
        return hit

    def count(self, parent: Element, node: SchemaNode) -> int:
        """How many ``node`` children ``parent`` has, counted by libxml2."""
        xpath = self._counters.get(node)
        if xpath is None:
            xpath = etree.XPath(f"count(n:{node.name})", namespaces={"n": node.namespace})
            self._counters[node] = xpath
        return int(cast(float, xpath(parent)))  # count() is a number: a float in lxml

    def related(self, node: SchemaNode) -> list[tuple[CompiledExpr, Ref]]:
        """The expressions reading ``node``, an ancestor or a descendant of it."""
        hit = self._related.get(node)
        if hit is None:
            hit = []
            up: SchemaNode | None = node
            while up is not None:
                hit.extend(self._by_ref.get(up, ()))
                up = up.data_parent
            for below in node.walk():
                if below is not node:
                    hit.extend(self._by_ref.get(below, ()))
            self._related[node] = hit
        return hit

    # -- compilation ----------------------------------------------------------------------

    def _build(self) -> None:
        nodes = [n for n in self.schema.root.walk() if n.config]
        for node in nodes:
            up = node.data_parent
            depth = (
                0
                if up is None
                else self.info[up].depth + (0 if node.kind in (Kind.CHOICE, Kind.CASE) else 1)
            )
            self.info[node] = NodeInfo(depth)
        for node in reversed(nodes):  # children before parents
            self._structure(node)
        self._by_ref: dict[SchemaNode, list[tuple[CompiledExpr, Ref]]] = {}
        self.opaque: list[CompiledExpr] = []
        self.instance_ids: list[SchemaNode] = []
        for node in nodes:
            self._expressions(node)
        readable = self._readable()
        for node in nodes:
            info = self.info[node]
            info.materialise = tuple(c for c in info.implicit if c in readable)

    def _readable(self) -> set[SchemaNode]:
        """The nodes some expression can read (with what is inside them: a node's string
        value is its text), the containers of implicit musts, and their ancestors: only
        those defaults need to exist while XPath runs."""
        read = {ref.node for refs in self._by_ref.values() for _, ref in refs}
        read |= {n for n, info in self.info.items() if info.musts and n.kind is Kind.CONTAINER}
        out: set[SchemaNode] = set()
        for node in read:
            out.update(node.walk())
            up = node.data_parent
            while up is not None and up not in out:
                out.add(up)
                up = up.data_parent
        return out

    def _structure(self, node: SchemaNode) -> None:
        info = self.info[node]
        children = [c for c in node.children.values() if c.config]
        info.implicit = tuple(c for c in children if self._implicit(c))
        info.implicit_here = self._implicit(node)
        info.case_nodes = tuple(_case_data(node)) if node.kind in (Kind.CHOICE, Kind.CASE) else ()
        info.required = self._required(node)
        info.by_tag = {c.qname: c for c in node.children.values()}
        info.requirements = tuple(
            c for c in node.ordered if c.config and (c.kind is Kind.CHOICE or self.info[c].required)
        )
        info.defaults = node.default[:1] if node.kind is Kind.LEAF else node.default
        if any(":" in d for d in info.defaults):
            info.default_nsmap = dict(node.default_namespaces)
        info.ns_values = ns_sensitive(node.type)
        info.plain = plain(node.type)
        info.leafy = node.kind in (Kind.LEAF, Kind.LEAF_LIST)
        info.inner = node.kind in (Kind.CONTAINER, Kind.LIST)
        info.counted = node.kind in (Kind.LIST, Kind.LEAF_LIST)
        spec = node.type
        info.typed = spec is not None and not (
            (spec.base == "string" and not (spec.lengths or spec.patterns))
            or (spec.base == "leafref" and spec.require_instance)
        )
        if node.kind is Kind.LIST:
            by_name = {c.name: c for c in children}
            info.keys = tuple(by_name[k] for k in node.keys if k in by_name)
            info.uniques = tuple(tuple(self._descend(node, p) for p in u) for u in node.unique)

    def _implicit(self, node: SchemaNode) -> bool:
        """Exists without being written: a default, or a non-presence container with
        something implicit inside or a must of its own (RFC 7950 7.5.1, 7.6.1, 7.7.2)."""
        if node.kind in (Kind.LEAF, Kind.LEAF_LIST):
            return bool(node.default)
        if node.kind is Kind.CONTAINER and not node.presence:
            return bool(self.info[node].implicit or node.musts)
        return False

    def _required(self, node: SchemaNode) -> bool:
        if node.kind in (Kind.LEAF, Kind.ANYDATA, Kind.ANYXML, Kind.CHOICE):
            return node.mandatory
        if node.kind in (Kind.LIST, Kind.LEAF_LIST):
            return node.min_elements > 0
        if node.kind is Kind.CONTAINER and not node.presence:
            return any(self.info[c].required for c in node.ordered if c in self.info)
        return False

    def _descend(self, node: SchemaNode, path: str) -> tuple[SchemaNode, ...]:
        """The data nodes of a unique statement's descendant schema node identifier, e.g.
        "a/b" or, through a choice and a case, "a/choice/case/b" (RFC 7950 7.8.3)."""
        out: list[SchemaNode] = []
        for part in path.split("/"):
            name = part.split(":")[-1]
            node = next(c for c in node.ordered if c.name == name)
            if node.kind not in (Kind.CHOICE, Kind.CASE):
                out.append(node)
        return tuple(out)

    def _expressions(self, node: SchemaNode) -> None:
        info = self.info[node]
        if node.kind in DATA_KINDS or (node.kind is Kind.CHOICE and node.mandatory):
            info.gates = tuple(self._gates(node))
        info.musts = tuple(self._expr("must", m, node, False) for m in node.musts)
        spec = node.type
        if spec is not None and spec.base == "leafref" and spec.leafref is not None:
            info.leafref = self._expr("leafref", spec.leafref, node, False)
            info.simple = simple_path(info.leafref.ast, info.leafref.nsmap)
        if spec is not None and spec.base == "instance-identifier" and spec.require_instance:
            self.instance_ids.append(node)
        info.has_exprs = bool(info.gates or info.musts or info.leafref) or (
            spec is not None and spec.base == "instance-identifier"
        )

    def _gates(self, node: SchemaNode) -> Iterator[CompiledExpr]:
        if node.when is not None:
            yield self._expr("when", node.when, node, node.kind is Kind.CHOICE)
        holders = [node, *(x for pair in node.choice_path for x in pair)]
        for holder in holders:
            if holder is not node and holder.when is not None:
                yield self._expr("when", holder.when, node, True)
            for when in holder.parent_whens:
                yield self._expr("when", when, node, True)

    def _expr(
        self, kind: str, source: XPathExpr, owner: SchemaNode, parent_context: bool
    ) -> CompiledExpr:
        ast, xpath = self._compile(source, kind)
        nsmap = source.nsmap
        context = owner.data_parent if parent_context else owner
        walk = SchemaWalk(nsmap, self.schema.root, lambda n: self.info[n].depth, kind == "leafref")
        if context is not None:
            start = (context, self.info[context].depth if context in self.info else 0)
            walk.nodes(ast, start, start)
        # ExprCall: the runs pass elements as variables, which lxml-stubs' XPath rejects
        expr = CompiledExpr(
            kind,
            owner,
            source,
            cast(ExprCall, xpath),
            ast,
            nsmap,
            parent_context,
            tuple(walk.refs),
            walk.is_opaque,
        )
        expr.reads_defaults = walk.is_opaque or any(
            r.node.kind in (Kind.LEAF, Kind.LEAF_LIST, Kind.CONTAINER) and self._implicit(r.node)
            for r in walk.refs
        )
        if expr.opaque:
            self.opaque.append(expr)
        for ref in expr.refs:
            self._by_ref.setdefault(ref.node, []).append((expr, ref))
        return expr

    def _compile(self, source: XPathExpr, kind: str) -> tuple[Expr, etree.XPath]:
        key = (id(source), kind)
        if key not in self._xpaths:
            try:
                parsed = parse(source.expr)
                text = parsed.lxml if kind == "leafref" else f"boolean({parsed.lxml})"
                xpath = etree.XPath(
                    text,
                    namespaces=source.nsmap,
                    smart_strings=False,
                    extensions=self.functions.extensions(source.nsmap),
                )
            except (ValueError, etree.XPathSyntaxError) as exc:
                raise SchemaError(f"cannot compile XPath {source.source!r}: {exc}") from None
            self._xpaths[key] = (parsed.ast, xpath)
        return self._xpaths[key]
