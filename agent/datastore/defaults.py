"""with-defaults (RFC 6243): how default values appear in <get> and <get-config> replies.

The datastore stores exactly what clients wrote (edit.py never adds a default), so the
basic mode, ``explicit``, is the stored tree as it is: a leaf a client set to its default
value is reported, a default nobody wrote is not.  The other modes work on a copy:

- ``report-all`` adds, in schema order, every default leaf and the defaults of every
  leaf-list without instances, in the data nodes that exist and in the non-presence
  containers that would exist because they hold a default; in a choice only the active
  case (the one with data, else the default case) gets its defaults.  A default whose own
  ``when`` (or the when of the uses/augment that brought it) is false is left out; whens
  on choices and cases are not looked at.
- ``report-all-tagged`` is report-all plus ``wd:default="true"`` on every leaf whose value
  equals its default, whoever set it (RFC 6243 §3.4, example A.3.3).
- ``trim`` removes every leaf whose value equals its default (compared by value: "02048"
  is 2048), and the non-presence containers that this leaves empty.  Leaf-lists are never
  trimmed or tagged: their default is a set, not a value.

Nothing here looks at the filter: the caller adds defaults before filtering (a filter must
see them, RFC 6243 §3.1) and trims or tags after.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import StrEnum

from lxml import etree

from agent.datastore.schema import Kind, Schema, SchemaNode, XPathExpr
from agent.datastore.valuecheck import TypeChecker
from agent.datastore.xpathfn import YangFunctions
from agent.datastore.xpathparse import parse
from agent.xmlutil import Element, children, split

WD_NS = "urn:ietf:params:xml:ns:netconf:default:1.0"  # the wd:default attribute (§6)
_WD_DEFAULT = f"{{{WD_NS}}}default"
_INNER = (Kind.CONTAINER, Kind.LIST)


class Mode(StrEnum):
    """The retrieval modes of RFC 6243 §3, spelt as in ietf-netconf-with-defaults."""

    REPORT_ALL = "report-all"
    REPORT_ALL_TAGGED = "report-all-tagged"
    TRIM = "trim"
    EXPLICIT = "explicit"


def add_defaults(root: Element, schema: Schema, *, config_only: bool = False) -> None:
    """Add the defaults in use to the datastore tree ``root``, in place (report-all);
    ``config_only`` leaves out config false nodes (a <get-config> reply has none)."""
    _Adder(root, schema, config_only).inner(root, schema.root)


def trim(root: Element, schema: Schema) -> None:
    """Remove the leaves of ``root`` whose value equals their default, in place."""
    same = _SameAsDefault(schema)
    for leaf, sn in list(_leaves(root, schema.root)):
        if same(leaf, sn):
            parent = leaf.getparent()
            assert parent is not None
            parent.remove(leaf)
            _drop_empty_containers(parent, sn.data_parent)


def tag(root: Element, schema: Schema) -> None:
    """Mark the leaves of ``root`` whose value equals their default (report-all-tagged)."""
    same = _SameAsDefault(schema)
    for leaf, sn in list(_leaves(root, schema.root)):
        if same(leaf, sn):
            leaf.set(_WD_DEFAULT, "true")


# -- report-all --------------------------------------------------------------------------


class _Adder:
    """Adds defaults under one datastore root, evaluating the whens that guard them."""

    def __init__(self, root: Element, schema: Schema, config_only: bool) -> None:
        self.root = root
        self.schema = schema
        self.config_only = config_only
        self.functions = YangFunctions(schema, self._locate, lambda _el: [])
        self.compiled: dict[int, etree.XPath] = {}
        self.order: dict[int, dict[tuple[str, str], int]] = {}

    def inner(self, el: Element, sn: SchemaNode) -> None:
        """Defaults inside ``el`` (the root, a container or a list entry) and below."""
        present: set[tuple[str, str]] = set()
        for c in children(el):
            key = split(c)
            present.add(key)
            csn = sn.child(*key)
            if csn is not None and csn.kind in _INNER:
                self.inner(c, csn)
        self.fill(el, sn, sn.ordered, present)

    def fill(
        self,
        el: Element,
        parent: SchemaNode,
        nodes: list[SchemaNode],
        present: set[tuple[str, str]],
    ) -> None:
        """Add the missing defaults of ``nodes`` (schema children of ``parent``) to ``el``."""
        for n in nodes:
            if self.config_only and not n.config:
                continue
            if n.kind is Kind.CHOICE:
                case = _active_case(n, present)
                if case is not None:
                    self.fill(el, parent, case.ordered, present)
            elif (n.namespace, n.name) in present or not self._gates_pass(el, n):
                continue
            elif n.kind in (Kind.LEAF, Kind.LEAF_LIST) and n.default:
                values = n.default[:1] if n.kind is Kind.LEAF else n.default
                for value in values:
                    self._keep_if_when(self._insert(el, parent, n, value), n)
            elif n.kind is Kind.CONTAINER and not n.presence:
                box = self._insert(el, parent, n, None)
                self.fill(box, n, n.ordered, set())
                if not len(box):
                    el.remove(box)
                else:
                    self._keep_if_when(box, n)

    def _insert(self, el: Element, parent: SchemaNode, n: SchemaNode, value: str | None) -> Element:
        """A new ``n`` child of ``el`` at its place in schema order (after any keys)."""
        prefix = value.partition(":")[0] if value and ":" in value else None
        nsmap: dict[str | None, str] = {p: ns for p, ns in n.default_namespaces if p == prefix}
        if el.nsmap.get(None) != n.namespace:  # a new module's top node: its default namespace
            nsmap[None] = n.namespace
        new = etree.Element(n.qname, nsmap=nsmap)  # type: ignore[arg-type]
        new.text = value
        order = self._order(parent)
        mine = order.get((n.namespace, n.name), len(order))
        keys = {(parent.namespace, k) for k in parent.keys}
        for c in children(el):
            key = split(c)
            if key not in keys and order.get(key, -1) > mine:
                c.addprevious(new)
                break
        else:
            el.append(new)
        _rebind_value(new, n)
        return new

    def _order(self, parent: SchemaNode) -> dict[tuple[str, str], int]:
        hit = self.order.get(id(parent))
        if hit is None:
            hit = {key: i for i, key in enumerate(parent.children)}
            self.order[id(parent)] = hit
        return hit

    def _gates_pass(self, el: Element, n: SchemaNode) -> bool:
        """The whens of the uses/augment that brought ``n`` in (context: its parent)."""
        return all(self._holds(w, el) for w in n.parent_whens)

    def _keep_if_when(self, new: Element, n: SchemaNode) -> None:
        """``n``'s own when has the new node as its context (RFC 7950 §7.21.5)."""
        if n.when is not None and not self._holds(n.when, new):
            parent = new.getparent()
            assert parent is not None
            parent.remove(new)

    def _holds(self, when: XPathExpr, context: Element) -> bool:
        xpath = self.compiled.get(id(when))
        if xpath is None:
            xpath = etree.XPath(
                f"boolean({parse(when.expr).lxml})",
                namespaces=when.nsmap,
                extensions=self.functions.extensions(when.nsmap),
            )
            self.compiled[id(when)] = xpath
        # lxml binds an element variable as a one-node node-set; its stubs do not say so
        return bool(xpath(context, root=self.root, current=context))  # type: ignore[arg-type]

    def _locate(self, el: Element) -> SchemaNode | None:
        chain: list[Element] = []
        node: Element | None = el
        while node is not None and node is not self.root:
            chain.append(node)
            node = node.getparent()
        sn: SchemaNode | None = self.schema.root
        for e in reversed(chain):
            sn = sn.child(*split(e)) if sn is not None else None
        return sn


def _rebind_value(leaf: Element, n: SchemaNode) -> None:
    """Keep a prefixed default (an identityref) resolvable: lxml drops a moved element's
    declaration of a namespace already bound in scope, maybe to another prefix."""
    prefix, sep, name = (leaf.text or "").partition(":")
    ns = dict(n.default_namespaces).get(prefix) if sep else None
    if ns is None or leaf.nsmap.get(prefix) == ns:
        return
    bound = next((p for p, uri in leaf.nsmap.items() if uri == ns and p), None)
    if bound is not None:
        leaf.text = f"{bound}:{name}"


def _active_case(choice: SchemaNode, present: set[tuple[str, str]]) -> SchemaNode | None:
    """The case with data in ``present``, else the choice's default case (RFC 7950 7.9.3)."""
    for case in choice.ordered:
        if any((n.namespace, n.name) in present for n in _case_data(case)):
            return case
    default = choice.default[0] if choice.default else None
    return next((c for c in choice.ordered if c.name == default), None)


def _case_data(case: SchemaNode) -> Iterator[SchemaNode]:
    for n in case.ordered:
        if n.kind in (Kind.CHOICE, Kind.CASE):
            yield from _case_data(n)
        else:
            yield n


# -- trim and tag ------------------------------------------------------------------------


class _SameAsDefault:
    """Is a leaf's value its default?  Compared by value, as the type defines it."""

    def __init__(self, schema: Schema) -> None:
        self.types = TypeChecker(schema)

    def __call__(self, leaf: Element, sn: SchemaNode) -> bool:
        if sn.kind is not Kind.LEAF or not sn.default or sn.type is None:
            return False
        text = leaf.text or ""
        if text == sn.default[0]:
            return True
        nsmap: Mapping[str | None, str] = dict(sn.default_namespaces)
        default = self.types.canonical(sn.type, sn.default[0], nsmap)
        return self.types.canonical(sn.type, text, leaf.nsmap) == default


def _leaves(el: Element, sn: SchemaNode) -> Iterator[tuple[Element, SchemaNode]]:
    """Every leaf and leaf-list element below ``el`` with its schema node."""
    for c in children(el):
        csn = sn.child(*split(c))
        if csn is None:
            continue
        if csn.kind in (Kind.LEAF, Kind.LEAF_LIST):
            yield c, csn
        elif csn.kind in _INNER:
            yield from _leaves(c, csn)


def _drop_empty_containers(el: Element, sn: SchemaNode | None) -> None:
    """Remove ``el`` and its ancestors while they are empty non-presence containers."""
    while (
        sn is not None
        and sn.kind is Kind.CONTAINER
        and not sn.presence
        and not len(el)
        and (parent := el.getparent()) is not None
    ):
        parent.remove(el)
        el, sn = parent, sn.data_parent
