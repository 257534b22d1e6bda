"""The schema, compiled once from the YANG modules with pyang.

pyang parses and checks the modules; this module turns its statement tree into our own small
nodes (:class:`SchemaNode`, :class:`TypeSpec`) so that nothing past it sees a pyang Statement
or an ``i_`` attribute.  It is the only importer of pyang (STYLE.md, "Layers").

XPath in must/when/leafref is stored rewritten for lxml: YANG gives unprefixed names the
namespace of the defining module, XPath 1.0 gives them none, so every unprefixed name gets the
defining module's prefix and every expression carries its own prefix map.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyang
from lxml import etree
from pyang import context, repository
from pyang import xpath as pyang_xpath

Number = int | Decimal
# pyang ships no type information: its Statement objects are typed as Any here, and nothing
# typed as Stmt leaves this module.
Stmt = Any


class Kind(StrEnum):
    CONTAINER = "container"
    LIST = "list"
    LEAF = "leaf"
    LEAF_LIST = "leaf-list"
    CHOICE = "choice"
    CASE = "case"
    ANYDATA = "anydata"
    ANYXML = "anyxml"
    RPC = "rpc"
    INPUT = "input"
    OUTPUT = "output"
    NOTIFICATION = "notification"


_IO = frozenset({Kind.INPUT, Kind.OUTPUT})
DATA_KINDS = frozenset(
    {Kind.CONTAINER, Kind.LIST, Kind.LEAF, Kind.LEAF_LIST, Kind.ANYDATA, Kind.ANYXML}
)


class SchemaError(Exception):
    """The YANG modules do not compile; the message lists pyang's diagnostics."""


@dataclass(frozen=True, slots=True)
class Pattern:
    """A YANG pattern (an XSD regular expression), checked by libxml2's XSD engine so that
    the dialect is exactly XSD's (\\p{L}, character class subtraction, implicit anchoring)."""

    regex: str
    invert: bool
    error_message: str | None
    error_app_tag: str | None
    _schema: etree.XMLSchema = field(repr=False, compare=False)

    def matches(self, value: str) -> bool:
        probe = etree.Element("v")
        probe.text = value
        return bool(self._schema.validate(probe)) is not self.invert


@dataclass(frozen=True, slots=True)
class Restriction:
    """A range or length: allowed intervals (inclusive), plus the statement's error texts."""

    intervals: tuple[tuple[Number, Number], ...]
    error_message: str | None = None
    error_app_tag: str | None = None

    def allows(self, value: Number) -> bool:
        return any(lo <= value <= hi for lo, hi in self.intervals)


@dataclass(frozen=True, slots=True)
class XPathExpr:
    """A must/when/leafref expression, rewritten so every name is prefixed."""

    source: str  # as written in the module
    expr: str  # rewritten for lxml
    namespaces: tuple[tuple[str, str], ...]  # prefix -> namespace
    error_message: str | None = None
    error_app_tag: str | None = None

    @property
    def nsmap(self) -> dict[str, str]:
        return dict(self.namespaces)


@dataclass(frozen=True, slots=True)
class Identity:
    namespace: str
    name: str
    module: str
    prefix: str
    bases: tuple[tuple[str, str], ...]  # (namespace, name) of direct bases


@dataclass(slots=True, eq=False)
class TypeSpec:
    """A leaf's type with every restriction of its typedef chain gathered in one place."""

    base: str  # the built-in type: int8..uint64, decimal64, string, enumeration, ...
    name: str  # the type as written (a typedef name or a built-in)
    ranges: tuple[Restriction, ...] = ()  # each must hold (derived types narrow the base)
    lengths: tuple[Restriction, ...] = ()
    patterns: tuple[Pattern, ...] = ()
    enums: tuple[tuple[str, int], ...] = ()
    bits: tuple[tuple[str, int], ...] = ()
    fraction_digits: int | None = None
    members: tuple[TypeSpec, ...] = ()  # union member types, in order
    identity_bases: tuple[tuple[str, str], ...] = ()
    leafref: XPathExpr | None = None
    leafref_target: SchemaNode | None = field(default=None, repr=False)
    require_instance: bool = True


@dataclass(slots=True, eq=False)
class SchemaNode:
    kind: Kind
    name: str
    namespace: str
    module: str
    prefix: str
    parent: SchemaNode | None = field(repr=False)
    config: bool = True
    description: str | None = None
    # Data children by (namespace, name); choices and cases are transparent here.
    children: dict[tuple[str, str], SchemaNode] = field(default_factory=dict, repr=False)
    # Direct choice children (for mandatory choices and default cases).
    choices: list[SchemaNode] = field(default_factory=list, repr=False)
    # Schema children in order, choices and cases included (for walking the tree).
    ordered: list[SchemaNode] = field(default_factory=list, repr=False)
    # (choice, case) pairs between this node and its data parent, outermost first.
    choice_path: tuple[tuple[SchemaNode, SchemaNode], ...] = field(default=(), repr=False)
    keys: tuple[str, ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()  # descendant schema paths, as written
    presence: bool = False
    mandatory: bool = False
    min_elements: int = 0
    max_elements: int | None = None
    ordered_by_user: bool = False
    type: TypeSpec | None = None
    default: tuple[str, ...] = ()  # leaf default, leaf-list defaults, or a choice's default case
    units: str | None = None
    musts: tuple[XPathExpr, ...] = ()
    when: XPathExpr | None = None  # the node's own when: context is the node (RFC 7950 7.21.5)
    # whens of the uses/augment that brought the node in: context is the data parent
    parent_whens: tuple[XPathExpr, ...] = ()
    # prefix -> namespace in the module where the default is written (identityref defaults)
    default_namespaces: tuple[tuple[str, str], ...] = ()
    input: SchemaNode | None = field(default=None, repr=False)
    output: SchemaNode | None = field(default=None, repr=False)

    _qname: str = field(default="", repr=False)  # memo of qname: hot in validation

    @property
    def qname(self) -> str:
        if not self._qname:
            self._qname = f"{{{self.namespace}}}{self.name}"
        return self._qname

    @property
    def data_parent(self) -> SchemaNode | None:
        p = self.parent
        while p is not None and p.kind in (Kind.CHOICE, Kind.CASE):
            p = p.parent
        return p

    def child(self, namespace: str, name: str) -> SchemaNode | None:
        return self.children.get((namespace, name))

    def path(self) -> str:
        """Schema path with prefixes, e.g. /pki-keys:keys/pki-keys:key/pki-keys:label."""
        parts: list[str] = []
        node: SchemaNode | None = self
        while node is not None and node.parent is not None and node.kind not in _IO:
            if node.kind not in (Kind.CHOICE, Kind.CASE):
                parts.append(f"{node.prefix}:{node.name}")
            node = node.parent
        return "/" + "/".join(reversed(parts))

    def walk(self) -> Iterator[SchemaNode]:
        """This node and every schema descendant, depth first, in schema order."""
        yield self
        for c in self.ordered:
            yield from c.walk()


@dataclass(frozen=True, slots=True)
class ModuleInfo:
    name: str
    revision: str | None
    namespace: str
    prefix: str
    yang_version: str
    path: Path
    implemented: bool
    submodules: tuple[tuple[str, str | None, Path], ...] = ()


@dataclass(slots=True, eq=False)
class Schema:
    """The compiled schema: a virtual root whose children are every module's top nodes."""

    root: SchemaNode
    modules: dict[str, ModuleInfo]
    identities: dict[tuple[str, str], Identity]
    rpcs: dict[tuple[str, str], SchemaNode]
    notifications: dict[tuple[str, str], SchemaNode]

    def module_by_namespace(self, namespace: str) -> ModuleInfo | None:
        for m in self.modules.values():
            if m.namespace == namespace:
                return m
        return None

    def prefixes(self) -> dict[str, str]:
        """prefix -> namespace for every module (used to render error paths)."""
        return {m.prefix: m.namespace for m in self.modules.values()}

    def derived_from(self, ident: tuple[str, str], base: tuple[str, str]) -> bool:
        """True when ``ident`` is derived (directly or not) from ``base``, not equal to it."""
        seen: set[tuple[str, str]] = set()
        todo = list(self.identities[ident].bases) if ident in self.identities else []
        while todo:
            cur = todo.pop()
            if cur == base:
                return True
            if cur in seen or cur not in self.identities:
                continue
            seen.add(cur)
            todo.extend(self.identities[cur].bases)
        return False


def standard_module_dirs() -> list[Path]:
    """Where pyang installed the standard IETF/IANA modules (its share/yang/modules)."""
    pkg = Path(pyang.__file__).resolve().parent
    candidates = [pkg.parents[3] / "share" / "yang" / "modules", pkg / "modules"]
    out: list[Path] = []
    for c in candidates:
        if c.is_dir():
            out.extend(sorted(p for p in c.rglob("*") if p.is_dir()))
            out.append(c)
    return out


def load(yang_dir: Path, extra_implemented: Iterable[str] = ()) -> Schema:
    """Compile every module in ``yang_dir`` (implemented) and what they import.

    ``extra_implemented`` names standard modules (found in pyang's share directory) that the
    agent implements too, e.g. ietf-netconf-monitoring.
    """
    search = [yang_dir, *standard_module_dirs()]
    repo = repository.FileRepository(os.pathsep.join(str(p) for p in search), use_env=False)
    ctx = context.Context(repo)
    ctx.strict = True
    implemented = []
    for f in sorted(yang_dir.glob("*.yang")):
        implemented.append(ctx.add_module(str(f), f.read_text(encoding="utf-8")))
    for name in extra_implemented:
        mod = ctx.search_module(None, name)
        if mod is None:
            raise SchemaError(f"module {name} not found in {search}")
        implemented.append(mod)
    ctx.validate()
    _raise_on_errors(ctx)
    return _Compiler(ctx, [m for m in implemented if m is not None]).compile()


def _raise_on_errors(ctx: context.Context) -> None:
    msgs = []
    for pos, tag, args in ctx.errors:
        if pyang.error.is_error(pyang.error.err_level(tag)):
            msgs.append(f"{pos}: {tag}: {pyang.error.err_to_str(tag, args)}")
    if msgs:
        raise SchemaError("\n".join(msgs))


_KIND = {k.value: k for k in Kind}


class _Compiler:
    """Walks pyang's tree once and builds SchemaNodes."""

    def __init__(self, ctx: context.Context, implemented: list[Stmt]) -> None:
        self.ctx = ctx
        self.implemented = implemented
        self.leafrefs: list[tuple[SchemaNode, TypeSpec, object]] = []
        self.nodes_by_stmt: dict[int, SchemaNode] = {}
        self.default_nsmaps: dict[int, dict[str, str]] = {}

    def compile(self) -> Schema:
        root = SchemaNode(Kind.CONTAINER, "", "", "", "", None)
        rpcs: dict[tuple[str, str], SchemaNode] = {}
        notifs: dict[tuple[str, str], SchemaNode] = {}
        for mod in self.implemented:
            for stmt in mod.i_children:
                node = self._node(stmt, root, ())
                if node.kind is Kind.RPC:
                    rpcs[(node.namespace, node.name)] = node
                elif node.kind is Kind.NOTIFICATION:
                    notifs[(node.namespace, node.name)] = node
                else:
                    root.children[(node.namespace, node.name)] = node
                    root.ordered.append(node)
        for node, spec, type_stmt in self.leafrefs:
            self._resolve_leafref(node, spec, type_stmt)
        return Schema(root, self._modules(), self._identities(), rpcs, notifs)

    # -- modules and identities -------------------------------------------------------

    def _modules(self) -> dict[str, ModuleInfo]:
        implemented = {id(m) for m in self.implemented}
        out: dict[str, ModuleInfo] = {}
        for (name, _rev), mod in sorted(self.ctx.modules.items(), key=lambda kv: kv[0]):
            if mod.keyword != "module":
                continue
            subs = []
            for inc in mod.search("include"):
                sub = self.ctx.get_module(inc.arg)
                if sub is not None:
                    subs.append((sub.arg, _revision(sub), Path(sub.pos.ref)))
            out[name] = ModuleInfo(
                name=name,
                revision=_revision(mod),
                namespace=mod.search_one("namespace").arg,
                prefix=mod.search_one("prefix").arg,
                yang_version=_arg(mod, "yang-version") or "1",
                path=Path(mod.pos.ref),
                implemented=id(mod) in implemented,
                submodules=tuple(subs),
            )
        return out

    def _identities(self) -> dict[tuple[str, str], Identity]:
        out: dict[tuple[str, str], Identity] = {}
        for mod in self.ctx.modules.values():
            if mod.keyword != "module":
                continue
            ns = mod.search_one("namespace").arg
            for ident in mod.i_identities.values():
                bases = []
                for b in ident.search("base"):
                    target = getattr(b, "i_identity", None)
                    if target is not None:
                        bases.append((_ns(target), target.arg))
                out[(ns, ident.arg)] = Identity(
                    ns, ident.arg, mod.arg, mod.search_one("prefix").arg, tuple(bases)
                )
        return out

    # -- data nodes --------------------------------------------------------------------

    def _node(
        self,
        stmt: Stmt,
        parent: SchemaNode,
        choice_path: tuple[tuple[SchemaNode, SchemaNode], ...],
    ) -> SchemaNode:
        s = stmt
        kind = _KIND[s.keyword]
        mod = s.i_module.i_modulename if hasattr(s.i_module, "i_modulename") else s.i_module.arg
        top = self.ctx.get_module(mod) or s.i_module
        node = SchemaNode(
            kind=kind,
            name=s.arg,
            namespace=top.search_one("namespace").arg,
            module=top.arg,
            prefix=top.search_one("prefix").arg,
            parent=parent,
            config=bool(getattr(s, "i_config", True)) and parent.config,
            description=_arg(s, "description"),
            choice_path=choice_path,
        )
        self.nodes_by_stmt[id(s)] = node
        self._properties(node, s)
        if kind in (Kind.RPC, Kind.NOTIFICATION):
            node.config = False
        if kind is Kind.CHOICE:
            inner = choice_path  # a case sits on its choice's path
        elif kind is Kind.CASE:
            inner = (*choice_path, (parent, node))
        else:
            inner = ()
        for child in getattr(s, "i_children", []):
            self._child(node, child, inner)
        return node

    def _child(
        self,
        node: SchemaNode,
        child_stmt: Stmt,
        choice_path: tuple[tuple[SchemaNode, SchemaNode], ...],
    ) -> None:
        kw = child_stmt.keyword
        if kw not in _KIND:
            return
        child = self._node(child_stmt, node, choice_path)
        node.ordered.append(child)
        if child.kind is Kind.INPUT:
            node.input = child
        elif child.kind is Kind.OUTPUT:
            node.output = child
        elif child.kind is Kind.CHOICE:
            node.choices.append(child)
            for desc in _data_descendants(child):
                node.children[(desc.namespace, desc.name)] = desc
        elif child.kind is not Kind.CASE:
            node.children[(child.namespace, child.name)] = child

    def _properties(self, node: SchemaNode, s: Stmt) -> None:
        if node.kind is Kind.LIST:
            key = _arg(s, "key")
            node.keys = tuple(k.split(":")[-1] for k in key.split()) if key else ()
            node.unique = tuple(tuple(u.arg.split()) for u in s.search("unique"))
        if node.kind in (Kind.LIST, Kind.LEAF_LIST):
            node.min_elements = int(_arg(s, "min-elements") or 0)
            mx = _arg(s, "max-elements")
            node.max_elements = None if mx in (None, "unbounded") else int(mx)
            node.ordered_by_user = _arg(s, "ordered-by") == "user"
        node.presence = s.search_one("presence") is not None
        node.mandatory = _arg(s, "mandatory") == "true"
        node.units = _arg(s, "units")
        node.musts = tuple(self._xpath(m, s) for m in s.search("must"))
        whens = s.search("when")
        own = [w for w in whens if getattr(w, "i_origin", None) != "uses"]
        node.when = self._xpath(own[0], s) if own else None
        inherited = [w for w in whens if getattr(w, "i_origin", None) == "uses"]
        augment = getattr(s, "i_augment", None)
        if augment is not None and augment.search_one("when") is not None:
            inherited.append(augment.search_one("when"))
        node.parent_whens = tuple(self._xpath(w, s) for w in inherited)
        if node.kind in (Kind.LEAF, Kind.LEAF_LIST):
            type_stmt = s.search_one("type")
            node.type = self._type(type_stmt, node)
            node.default = self._defaults(s, type_stmt)
            node.default_namespaces = tuple(sorted(self.default_nsmaps.get(id(s), {}).items()))
        elif node.kind is Kind.CHOICE:
            d = _arg(s, "default")
            node.default = (d,) if d else ()

    def _defaults(self, s: Stmt, type_stmt: Stmt) -> tuple[str, ...]:
        stmts = self._default_stmts(s, type_stmt)
        if stmts:
            self.default_nsmaps[id(s)] = self._prefix_map(stmts[0])
        return tuple(d.arg for d in stmts)

    @staticmethod
    def _default_stmts(s: Stmt, type_stmt: Stmt) -> list[Stmt]:
        own = list(s.search("default"))
        if own:
            return own
        if s.keyword == "leaf" and s.search_one("mandatory", "true") is None:
            td = getattr(type_stmt, "i_typedef", None)
            while td is not None:
                d = td.search_one("default")
                if d is not None:
                    return [d]
                td = getattr(td.search_one("type"), "i_typedef", None)
        return []

    # -- types -------------------------------------------------------------------------

    def _type(self, type_stmt: Stmt, node: SchemaNode) -> TypeSpec:
        chain = []  # the type statements from the leaf down to the built-in
        t = type_stmt
        while t is not None:
            chain.append(t)
            td = getattr(t, "i_typedef", None)
            t = td.search_one("type") if td is not None else None
        builtin = chain[-1]
        spec = TypeSpec(base=builtin.arg.split(":")[-1], name=type_stmt.arg)
        ranges: list[Restriction] = []
        lengths: list[Restriction] = []
        patterns: list[Pattern] = []
        for t in chain:
            if (r := t.search_one("range")) is not None:
                ranges.append(_restriction(r, spec.base))
            if (ln := t.search_one("length")) is not None:
                lengths.append(_restriction(ln, "length"))
            patterns.extend(_pattern(p) for p in t.search("pattern"))
            if spec.fraction_digits is None and (fd := t.search_one("fraction-digits")):
                spec.fraction_digits = int(fd.arg)
            if not spec.enums and t.search("enum"):
                spec.enums = tuple((e.arg, e.i_value) for e in t.search("enum"))
            if not spec.bits and t.search("bit"):
                spec.bits = tuple((b.arg, b.i_position) for b in t.search("bit"))
            if not spec.identity_bases and t.search("base"):
                spec.identity_bases = tuple(
                    (_ns(b.i_identity), b.i_identity.arg) for b in t.search("base")
                )
            if spec.leafref is None and (p := t.search_one("path")) is not None:
                spec.leafref = self._xpath(p, t)
                self.leafrefs.append((node, spec, t))
            if (ri := t.search_one("require-instance")) is not None:
                spec.require_instance = ri.arg == "true"
            if not spec.members and t.arg == "union":
                spec.members = tuple(self._type(m, node) for m in t.search("type"))
        spec.ranges, spec.lengths, spec.patterns = tuple(ranges), tuple(lengths), tuple(patterns)
        return spec

    def _resolve_leafref(self, node: SchemaNode, spec: TypeSpec, type_stmt: Stmt) -> None:
        ts = type_stmt.i_type_spec
        target = getattr(ts, "i_target_node", None)
        if target is not None:
            spec.leafref_target = self.nodes_by_stmt.get(id(target))

    # -- xpath -------------------------------------------------------------------------

    def _prefix_map(self, stmt: Stmt) -> dict[str, str]:
        """prefix -> namespace as seen by the module that wrote ``stmt`` (for a statement
        copied from another module's grouping, that other module: RFC 7950 6.4.1)."""
        mod = getattr(stmt, "i_orig_module", None) or stmt.i_module
        top = self.ctx.get_module(mod.i_modulename) if hasattr(mod, "i_modulename") else mod
        prefix = mod.search_one("prefix")
        if prefix is None:  # a submodule: belongs-to carries the prefix
            prefix = mod.search_one("belongs-to").search_one("prefix")
        nsmap = {prefix.arg: top.search_one("namespace").arg}
        for imp in mod.search("import"):
            imported = self.ctx.get_module(imp.arg, _arg(imp, "revision-date"))
            if imported is not None:
                nsmap[imp.search_one("prefix").arg] = imported.search_one("namespace").arg
        return nsmap

    def _xpath(self, stmt: Stmt, context_stmt: Stmt) -> XPathExpr:
        # Prefixed names resolve in the module that wrote the expression; unprefixed names
        # take the namespace of the module where it is instantiated, which differs for a
        # grouping used from another module (RFC 7950 6.4.1).
        nsmap = self._prefix_map(stmt)
        mod = stmt.i_module
        top = self.ctx.get_module(mod.i_modulename) if hasattr(mod, "i_modulename") else mod
        default_ns = top.search_one("namespace").arg
        default_prefix = next((p for p, ns in sorted(nsmap.items()) if ns == default_ns), None)
        if default_prefix is None:
            default_prefix = top.search_one("prefix").arg
            while default_prefix in nsmap:
                default_prefix += "_"
            nsmap[default_prefix] = default_ns
        return XPathExpr(
            source=stmt.arg,
            expr=pyang_xpath.add_prefix(default_prefix, stmt.arg),
            namespaces=tuple(sorted(nsmap.items())),
            error_message=_arg(stmt, "error-message"),
            error_app_tag=_arg(stmt, "error-app-tag"),
        )


def _data_descendants(choice: SchemaNode) -> Iterator[SchemaNode]:
    """The data nodes reachable through a choice's cases (nested choices included)."""
    for case in choice.ordered:
        for n in case.ordered:
            if n.kind is Kind.CHOICE:
                yield from _data_descendants(n)
            else:
                yield n


def _arg(stmt: Stmt, keyword: str) -> str | None:
    sub = stmt.search_one(keyword)
    return None if sub is None else sub.arg


def _revision(mod: Stmt) -> str | None:
    revs = sorted((r.arg for r in mod.search("revision")), reverse=True)
    return revs[0] if revs else None


def _ns(stmt: Stmt) -> str:
    mod = stmt.i_module
    if mod.keyword == "submodule":
        mod = mod.i_ctx.get_module(mod.i_including_modulename)
    return str(mod.search_one("namespace").arg)


_INT_BOUNDS = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint8": (0, 2**8 - 1),
    "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
    "length": (0, 2**64 - 1),
}


def _restriction(stmt: Stmt, base: str) -> Restriction:
    lo_default, hi_default = _INT_BOUNDS.get(
        base, (Decimal("-9223372036854775808"), Decimal("9223372036854775807"))
    )
    intervals = []
    for part in stmt.arg.split("|"):
        bounds = [b.strip() for b in part.split("..")]
        lo = _bound(bounds[0], lo_default, hi_default, base)
        hi = _bound(bounds[-1], lo_default, hi_default, base)
        intervals.append((lo, hi))
    return Restriction(tuple(intervals), _arg(stmt, "error-message"), _arg(stmt, "error-app-tag"))


def _bound(text: str, lo: Number, hi: Number, base: str) -> Number:
    if text == "min":
        return lo
    if text == "max":
        return hi
    return Decimal(text) if base == "decimal64" else int(text)


_XSD = "http://www.w3.org/2001/XMLSchema"


def regex_schema(regex: str) -> etree.XMLSchema:
    """An XML Schema whose one element ``v`` must match ``regex`` (an XSD regular
    expression); raises etree.XMLSchemaParseError when the regex is not valid XSD."""
    xsd = etree.Element(f"{{{_XSD}}}schema", nsmap={"xs": _XSD})
    el = etree.SubElement(xsd, f"{{{_XSD}}}element", name="v")
    st = etree.SubElement(el, f"{{{_XSD}}}simpleType")
    rs = etree.SubElement(st, f"{{{_XSD}}}restriction", base="xs:string")
    etree.SubElement(rs, f"{{{_XSD}}}pattern", value=regex)
    return etree.XMLSchema(xsd)


def _pattern(stmt: Stmt) -> Pattern:
    invert = stmt.search_one("modifier", "invert-match") is not None
    return Pattern(
        stmt.arg,
        invert,
        _arg(stmt, "error-message"),
        _arg(stmt, "error-app-tag"),
        regex_schema(stmt.arg),
    )
