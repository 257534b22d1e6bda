"""How data is stored: canonical values and the namespace declarations they need.

Shared by the edit engine and the datastore: list entries are found by their canonical keys,
identityref and instance-identifier values are rewritten to the defining modules' own
prefixes, and each element declares what keeps those prefixes resolvable wherever lxml moves
it (it drops a moved element's declaration of a namespace already in scope).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

from agent.datastore.schema import Kind, Schema, SchemaNode, TypeSpec
from agent.xmlutil import Element, children, qname

NsMap = Mapping[str | None, str]

# A quoted literal (left alone) or a prefix before ':' in an instance-identifier.
_IID_TOKEN = re.compile(r"""'[^']*'|"[^"]*"|([A-Za-z_][\w.-]*):""")


@dataclass(frozen=True, slots=True)
class Value:
    """A value as stored: canonical text plus the prefix declarations that text needs."""

    text: str
    nsmap: Mapping[str, str]


class Canon:
    """Canonical values and namespace bindings under one schema."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema

    def canonical(self, sn: SchemaNode, text: str, nsmap: NsMap) -> Value | None:
        """``text`` as stored; None when a prefixed-only type does not resolve."""
        kinds = prefixed_kinds(sn.type)
        if "identityref" in kinds and (value := self.identity(text, nsmap)) is not None:
            return value
        if "instance-identifier" in kinds and (value := self.iid(text, nsmap)) is not None:
            return value
        if kinds and sn.type is not None and sn.type.base != "union":
            return None
        return Value(text, {})

    def identity(self, text: str, nsmap: NsMap) -> Value | None:
        """RFC 7950 §9.10.3: no prefix means the default namespace in scope."""
        prefix, _, name = text.rpartition(":")
        ns = nsmap.get(prefix or None)
        ident = self.schema.identities.get((ns, name)) if ns else None
        if ident is None:
            return None
        return Value(f"{ident.prefix}:{name}", {ident.prefix: ident.namespace})

    def iid(self, text: str, nsmap: NsMap) -> Value | None:
        """RFC 7950 §9.13.2: every node name is prefixed; each prefix becomes the module's."""
        declared: dict[str, str] = {}
        parts: list[str] = []
        last = 0
        for m in _IID_TOKEN.finditer(text):
            if m.group(1) is None:
                continue
            ns = nsmap.get(m.group(1))
            module = self.schema.module_by_namespace(ns) if ns else None
            if module is None:
                return None
            declared[module.prefix] = module.namespace
            parts += [text[last : m.start()], module.prefix, ":"]
            last = m.end()
        if not text.startswith("/") or not declared:
            return None
        return Value("".join([*parts, text[last:]]), declared)

    def stored(self, sn: SchemaNode, el: Element | None) -> str | None:
        if el is None:
            return None
        text = (el.text or "").strip()
        if not prefixed_kinds(sn.type):
            return text  # skip el.nsmap, which walks every ancestor
        value = self.canonical(sn, text, el.nsmap)
        return None if value is None else value.text

    def key_of(self, sn: SchemaNode, entry: Element) -> tuple[str | None, ...]:
        return tuple(
            self.stored(key_node(sn, k), entry.find(qname(sn.namespace, k))) for k in sn.keys
        )

    def binds_module_prefixes(self, top: Element) -> bool:
        """Whether each element with children that declares a module's namespace also binds
        the module's prefix to it, as elements this engine creates do.  lxml drops a moved
        element's declaration of a namespace in scope under any prefix (the default too), so
        the ``ex:`` of a stored ``ex:rsa`` survives moves only if an ancestor binds ``ex``.
        Hand-written data may not: bind_module_prefixes rebuilds it once, by creation."""
        for el in top.iter():
            if not isinstance(el.tag, str) or not len(el):
                continue
            for ns in own_ns(el).values():
                module = self.schema.module_by_namespace(ns)
                if module is not None and el.nsmap.get(module.prefix) != ns:
                    return False
        return True

    def clone_into(
        self, parent: Element | None, el: Element, scope: NsMap, *, bind: bool
    ) -> Element:
        """Copy ``el`` (detached or under ``parent``) by creating elements, never moving
        them, with the declarations made inside the copy and not in ``scope``; with
        ``bind``, also each module's prefix for its namespace (see binds_module_prefixes)."""
        nsmap = {p: ns for p, ns in el.nsmap.items() if scope.get(p) != ns}
        for ns in list(nsmap.values()) if bind else ():
            module = self.schema.module_by_namespace(ns)
            if module is not None:
                nsmap.setdefault(module.prefix, ns)
        copy = make(parent, el.tag, {str(k): str(v) for k, v in el.attrib.items()}, nsmap)
        copy.text = el.text
        for c in children(el):
            self.clone_into(copy, c, el.nsmap, bind=bind).tail = c.tail
        return copy


def bind_module_prefixes(schema: Schema, target: Element) -> None:
    """Rebuild the top-level nodes of data that did not come from this engine (an inline
    copy-config source, a hand-written file) so each binds its modules' prefixes, as data
    the engine creates does (see Canon.binds_module_prefixes).  Done once when such data
    enters a datastore, not on every edit: the check walks the whole tree."""
    canon = Canon(schema)
    for top in children(target):
        if not canon.binds_module_prefixes(top):
            target.replace(top, canon.clone_into(None, top, inherited(top), bind=True))


def key_node(sn: SchemaNode, key: str) -> SchemaNode:
    node = sn.child(sn.namespace, key)
    assert node is not None, f"schema.py compiled list {sn.name} without its key {key}"
    return node


def prefixed_kinds(t: TypeSpec | None) -> set[str]:
    """Which of identityref / instance-identifier a type may hold (values with prefixes)."""
    if t is None:
        return set()
    if t.base == "leafref" and t.leafref_target is not None:
        return prefixed_kinds(t.leafref_target.type)
    if t.base == "union":
        return set().union(*(prefixed_kinds(m) for m in t.members))
    return {t.base} & {"identityref", "instance-identifier"}


def make(parent: Element | None, tag: str, attrib: Mapping[str, str], nsmap: NsMap) -> Element:
    """Create an element; lxml keeps a created element's declarations, a moved one loses
    those of namespaces already in scope."""
    if parent is None:
        return etree.Element(tag, attrib, nsmap or None)  # type: ignore[arg-type]
    return etree.SubElement(parent, tag, attrib, nsmap or None)  # type: ignore[arg-type]


def declarations(sn: SchemaNode, scope: NsMap, value: Value | None = None) -> NsMap:
    """What a new node of ``sn`` declares where ``scope`` is in scope: where the namespace
    changes, it as the default and, for a node that can have children, the module's prefix
    for it (see Canon.binds_module_prefixes); a value's prefixes not in scope yet (lxml
    keeps a moved leaf's declaration of a namespace not in scope, so the leaf may move)."""
    nsmap: dict[str | None, str] = {}
    if scope.get(None) != sn.namespace:
        nsmap[None] = sn.namespace
        if sn.kind not in (Kind.LEAF, Kind.LEAF_LIST):
            nsmap[sn.prefix] = sn.namespace
    if value is not None:
        nsmap.update((p, ns) for p, ns in value.nsmap.items() if scope.get(p) != ns)
    return nsmap


def inherited(el: Element) -> NsMap:
    parent = el.getparent()
    return parent.nsmap if parent is not None else {}


def own_ns(el: Element) -> dict[str | None, str]:
    """The namespace declarations ``el`` makes itself (lxml only shows those in scope)."""
    scope = inherited(el)
    return {p: ns for p, ns in el.nsmap.items() if scope.get(p) != ns}
