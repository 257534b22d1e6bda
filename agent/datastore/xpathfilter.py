"""XPath filters (RFC 6241 §8.9): ``<filter type="xpath" select="EXPR"/>`` on a data tree.

libxml2 (through lxml) evaluates the expression; this module only resolves its names and
turns the selected nodes into a reply.  The context is the datastore root (§8.9.1): both
``/a`` and ``a`` name the top-level node ``a``, and ``/`` selects everything.

Names.  A prefix resolves, in this order, from the namespace declarations in scope on the
``<filter>`` element (netconf-console2 declares them on ``<get>``, ncclient on
``<filter>``), then as a YANG module prefix, then as a module name: scrapli, Ansible and
bare ncclient cannot declare namespaces at all (INTEROP.md §2.4).  An unprefixed name
follows libyang's JSON rule: it takes the namespace of its parent step; at the top, the
one module with a top-level node of that name; where the parent is not known (after ``*``,
``//`` or another axis), the one module with a node of that name anywhere.  Two candidate
modules are an error naming both.  Unknown prefixes, unresolvable names and expressions
that do not yield a node-set are rpc-errors (invalid-value), never an empty reply; a
valid path that matches nothing gives an empty reply.

Reply.  Every selected node comes with its ancestors and the keys of every ancestor list
entry, in document order; text and attribute nodes select their parent element.  The cost
follows the selection: libxml2 finds the nodes, and only they and their ancestors are
copied.  The walk that resolves names also tells whether the expression can read state
(``reads_state``): when it cannot, <get> evaluates it on the config and adds state only
inside what it selected (``select(..., decorate)``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from lxml import etree

from agent.datastore.schema import DATA_KINDS, Kind, Schema, SchemaNode
from agent.datastore.xpathparse import (
    Binary,
    Call,
    Expr,
    Filter,
    Path,
    Step,
    Token,
    XPathSyntaxError,
    parse,
    tokenize,
)
from agent.errors import ErrorType, InvalidValue, MissingAttribute
from agent.xmlutil import BASE_NS, Element, split

MAX_LENGTH = 4096  # characters of a select expression; longer ones are refused unparsed


def _invalid(message: str) -> InvalidValue:
    # The select attribute is a protocol parameter: its bad value is a protocol error
    # (RFC 6241 Appendix A lists protocol and application for invalid-value).
    return InvalidValue(
        message, error_type=ErrorType.PROTOCOL, info=[("", "bad-attribute", "select")]
    )


class XPathFilter:
    """A checked and compiled select expression; :func:`compile_filter` makes one."""

    def __init__(
        self, source: str, xpath: etree.XPath, schema_root: SchemaNode, *, reads_state: bool
    ) -> None:
        self.source = source
        self._xpath = xpath
        self._schema_root = schema_root  # for the keys of ancestor list entries
        # False when the expression names only config nodes below the root: it selects the
        # same nodes from the config alone, and the state inside them can be added after.
        self.reads_state = reads_state

    def select(self, data: Element, decorate: Callable[[Element], None] | None = None) -> Element:
        """A new element like ``data`` holding copies of the selected nodes and their
        ancestors.  ``decorate`` adds state inside the copies in place (for a filter that
        does not read state, evaluated on the config): what it adds to the ancestors, which
        were not selected whole, is taken out again."""
        reply = _Reply(data, self._schema_root)
        out = reply.build(self._nodes(data))
        if decorate is not None:
            decorate(out)
            reply.drop_unselected()
        return out

    def matches(self, data: Element) -> bool:
        """Does the expression select anything in ``data``?"""
        return bool(self._nodes(data))

    def _nodes(self, data: Element) -> list[Element]:
        try:
            # lxml binds an element variable as a one-node node-set; its stubs do not say so
            result = self._xpath(data, root=data)  # type: ignore[arg-type]
        except etree.XPathError as exc:
            reason = str(exc)
            if reason == "Undefined variable":  # RFC 6241 §8.9.1: no variable bindings
                reason += " (a filter has none; current() is YANG's, not XPath 1.0's)"
            raise _invalid(f"cannot evaluate XPath {self.source!r}: {reason}") from None
        if not isinstance(result, list):
            kind = "string" if isinstance(result, str) else type(result).__name__
            raise _invalid(
                f"XPath {self.source!r} yields a {kind}, not a node-set: a filter must select nodes"
            )
        return [_element_of(item, self.source) for item in result]


def compile_element(flt: Element, schema: Schema, *, top: SchemaNode | None = None) -> XPathFilter:
    """:func:`compile_filter` for a ``<filter type="xpath" select="...">`` element, with
    ``select`` unqualified or in the base namespace (INTEROP.md §2.3)."""
    select = flt.get("select")
    if select is None:
        select = flt.get(f"{{{BASE_NS}}}select")
    if select is None:
        raise MissingAttribute(
            "an xpath filter needs a select attribute",
            info=[("", "bad-attribute", "select"), ("", "bad-element", "filter")],
        )
    return compile_filter(select, flt.nsmap, schema, top=top)


def compile_filter(
    select: str,
    nsmap: Mapping[str | None, str],
    schema: Schema,
    *,
    top: SchemaNode | None = None,
) -> XPathFilter:
    """Check and compile a select expression; ``nsmap`` is the filter element's in-scope
    namespaces, ``top`` the schema node whose children are the top-level nodes (default:
    the datastore's)."""
    if len(select) > MAX_LENGTH:
        raise _invalid(f"the XPath expression is longer than {MAX_LENGTH} characters")
    if not select.strip():
        raise _invalid("the select attribute is empty")
    root = top if top is not None else schema.root
    try:
        tokens = tokenize(select)
        ast = parse(select).ast
    except XPathSyntaxError as exc:
        raise _invalid(f"invalid XPath {select!r}: {exc}") from None
    names = _Names(schema, nsmap, root)
    names.expr(ast, names.top)
    text, namespaces = names.rewrite(tokens, select)
    try:
        xpath = etree.XPath(parse(text).lxml, namespaces=namespaces, smart_strings=True)
    except (XPathSyntaxError, etree.XPathError) as exc:
        raise _invalid(f"invalid XPath {select!r}: {exc}") from None
    return XPathFilter(select, xpath, root, reads_state=names.reads_state)


def _element_of(item: object, source: str) -> Element:
    """The element a result item stands for: itself, or a text's or attribute's parent."""
    if isinstance(item, etree._Element) and isinstance(item.tag, str):
        return item
    if isinstance(item, etree._ElementUnicodeResult):
        parent = item.getparent()
        if parent is not None:
            return parent.getparent() if item.is_tail else parent  # type: ignore[return-value]
    raise _invalid(f"XPath {source!r} selects namespace or other non-element nodes")


# -- names ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Ctx:
    """Where a step starts: the schema nodes it may stand at (None: not known, after ``*``,
    ``//`` or another axis) and their namespace (the JSON rule's parent module)."""

    nodes: tuple[SchemaNode, ...] | None
    namespace: str | None = None
    top: bool = False


_UNKNOWN = _Ctx(None)


class _Names:
    """Resolves every name test of an expression to a namespace (see the module docstring),
    in the order the names appear in the text."""

    def __init__(self, schema: Schema, nsmap: Mapping[str | None, str], top: SchemaNode) -> None:
        self.schema = schema
        self.declared = {p: ns for p, ns in nsmap.items() if p}
        self.modules = {m.prefix: m.namespace for m in schema.modules.values()}
        self.modules.update({m.name: m.namespace for m in schema.modules.values()})
        self.top = _Ctx((top,), None, top=True)
        self.everything = [n for n in top.walk() if n is not top and n.kind in DATA_KINDS]
        self.resolved: list[str | None] = []  # per name token: namespace (None: keep as is)
        self.reads_state = False  # may read config false nodes, or the root with them

    def expr(self, e: Expr, ctx: _Ctx) -> None:
        if isinstance(e, Path):
            self.path(e, ctx)
        elif isinstance(e, Binary):
            self.expr(e.left, ctx)
            self.expr(e.right, ctx)
        elif isinstance(e, Call):
            for arg in e.args:
                self.expr(arg, ctx)
        elif isinstance(e, Filter):
            self.expr(e.primary, ctx)
            for pred in e.predicates:
                self.expr(pred, _UNKNOWN)

    def path(self, p: Path, ctx: _Ctx) -> None:
        if p.start is not None:
            self.expr(p.start, ctx)
            ctx = _UNKNOWN
        elif p.absolute:
            ctx = self.top
        for step in p.steps:
            ctx = self.step(step, ctx)
            for pred in step.predicates:
                self.expr(pred, ctx)
        if ctx.top:  # selects the root: everything, state providers' nodes included
            self.reads_state = True

    def step(self, step: Step, ctx: _Ctx) -> _Ctx:
        if step.axis == "self" and step.test == "node()":
            return ctx
        if step.axis == "parent" and step.test == "node()":
            return self.parent(ctx)
        if step.test == "*":
            self.resolved.append(None)
            self.reads_state = True
            return _UNKNOWN
        if step.test == "name" or step.test.endswith(":*"):
            return self.name_test(step, ctx)
        if step.test == "node()" and step.axis != "descendant-or-self":
            self.reads_state = True  # any child; "//" is judged by the step after it
        return _UNKNOWN

    def parent(self, ctx: _Ctx) -> _Ctx:
        if ctx.nodes is None or ctx.top:
            return _UNKNOWN
        ups = {id(u): u for n in ctx.nodes if (u := n.data_parent) is not None}
        nodes = tuple(ups.values())
        if any(u.parent is None for u in nodes):  # the schema root
            return self.top
        namespaces = {u.namespace for u in nodes}
        return _Ctx(nodes, namespaces.pop() if len(namespaces) == 1 else None)

    def name_test(self, step: Step, ctx: _Ctx) -> _Ctx:
        if step.prefix is not None or step.test.endswith(":*"):
            ns: str | None = self.prefix(step.prefix or step.test[:-2])
        elif step.axis == "attribute":
            ns = None  # unprefixed attributes have no namespace
        else:
            ns = self.unprefixed(step, ctx)
        self.resolved.append(ns)
        if step.test.endswith(":*"):
            self.reads_state = True  # any node of the module
        if ns is None or step.local is None or step.axis == "attribute":
            return _UNKNOWN
        if step.axis == "child" and ctx.nodes is not None:
            nodes = tuple(c for n in ctx.nodes if (c := n.child(ns, step.local)) is not None)
        else:
            nodes = tuple(n for n in self.everything if (n.namespace, n.name) == (ns, step.local))
        if any(not n.config for n in nodes):
            self.reads_state = True
        return _Ctx(nodes, ns)

    def prefix(self, prefix: str) -> str:
        ns = self.declared.get(prefix) or self.modules.get(prefix)
        if ns is None:
            known = ", ".join(sorted(m.prefix for m in self.schema.modules.values()))
            raise _invalid(
                f"unknown prefix {prefix!r}: declare it on the filter (xmlns:{prefix}=...) "
                f"or use a YANG module prefix or name ({known})"
            )
        return ns

    def unprefixed(self, step: Step, ctx: _Ctx) -> str:
        """libyang's JSON rule: the parent's module; at the top, or where the parent is not
        known, the one module with such a node there."""
        assert step.local is not None
        if step.axis in ("child", "self") and ctx.namespace is not None:
            return ctx.namespace
        if step.axis == "child" and ctx.top:
            tops = [c for t in self.top.nodes or () for c in t.children.values()]
            return self.unique_module(step.local, tops, "top-level node")
        return self.unique_module(step.local, self.everything, "node")

    def unique_module(self, name: str, candidates: Iterable[SchemaNode], place: str) -> str:
        """The one module with a node ``name`` among ``candidates``."""
        found = {n.namespace: n.module for n in candidates if n.name == name}
        if len(found) == 1:
            return next(iter(found))
        if not found:
            raise _invalid(f"no module has a {place} named {name!r}; prefix it (module:name)")
        mods = ", ".join(sorted(found.values()))
        raise _invalid(f"{name!r} is ambiguous: a {place} of modules {mods}; prefix it")

    def rewrite(self, tokens: list[Token], source: str) -> tuple[str, dict[str, str]]:
        """The expression with every resolved name prefixed, and the prefixes it uses."""
        names = [i for i, t in enumerate(tokens) if t.kind == "name"]
        if len(names) != len(self.resolved):  # the parser and the walk disagree: refuse
            raise _invalid(f"cannot resolve the names of XPath {source!r}")
        prefixes: dict[str, str] = {}
        out = [t.text for t in tokens]
        for i, ns in zip(names, self.resolved, strict=True):
            if ns is None:
                continue
            pfx = prefixes.setdefault(ns, f"n{len(prefixes)}")
            out[i] = f"{pfx}:{out[i].rpartition(':')[2]}"
        return " ".join(out), {p: ns for ns, p in prefixes.items()}


# -- the reply ------------------------------------------------------------------------------


class _Reply:
    """Copies of selected nodes under shallow copies of their ancestors.

    Source elements are the keys of ``shells`` and ``whole`` themselves, not their ids:
    lxml makes a new proxy object, with a new id, each time a node is reached again once
    the last one was freed; holding the proxies keeps them (and their ids) unique."""

    def __init__(self, data: Element, schema_root: SchemaNode | None) -> None:
        self.data = data
        self.out: Element = etree.Element(data.tag, nsmap=data.nsmap)  # type: ignore[arg-type]
        self.shells: dict[Element, tuple[Element, SchemaNode | None]] = {
            data: (self.out, schema_root)
        }
        self.whole: set[Element] = set()  # in the reply with all their content
        self.copies: set[Element] = set()  # the reply's elements: shells and copies

    def build(self, selected: list[Element]) -> Element:
        for el in selected:
            if el is self.data:  # everything: nothing is a shell
                self.out, self.shells = copy.deepcopy(self.data), {}
                return self.out
            chain = self._ancestors(el)
            if chain is None:
                continue
            parent, _ = self._shell(chain)
            if el not in self.whole:  # else a key the shell of its entry already holds
                self._copy_into(parent, el)
        return self.out

    def _ancestors(self, el: Element) -> list[Element] | None:
        """``el``'s ancestors below the data root, outermost first; None when ``el`` is
        already in the reply whole (inside a selected node)."""
        chain: list[Element] = []
        node = el.getparent()
        while node is not None and node is not self.data:
            if node in self.whole:
                return None
            chain.append(node)
            node = node.getparent()
        if node is None:
            raise _invalid("the XPath expression selects nodes outside the datastore")
        chain.reverse()
        return chain

    def _shell(self, chain: list[Element]) -> tuple[Element, SchemaNode | None]:
        parent, sn = self.shells[self.data]
        src_parent = self.data
        for anc in chain:
            hit = self.shells.get(anc)
            if hit is None:
                csn = sn.child(*split(anc)) if sn is not None else None
                shell = _shallow_copy(anc, src_parent, parent)
                self.copies.add(shell)
                hit = (shell, csn)
                self.shells[anc] = hit
                if csn is not None and csn.kind is Kind.LIST:
                    self._keys(anc, csn, shell)
            parent, sn = hit
            src_parent = anc
        return parent, sn

    def _keys(self, entry: Element, sn: SchemaNode, shell: Element) -> None:
        keys = {(sn.namespace, k) for k in sn.keys}
        for c in entry:
            if isinstance(c.tag, str) and split(c) in keys:
                self._copy_into(shell, c)

    def _copy_into(self, parent: Element, el: Element) -> None:
        clone = copy.deepcopy(el)
        clone.tail = None  # the whitespace after it belongs to the source document
        parent.append(clone)
        self.whole.add(el)
        self.copies.add(clone)

    def drop_unselected(self) -> None:
        """Remove what was added to the shells after the build (a decorator's state)."""
        for shell, _ in self.shells.values():
            for child in list(shell):
                if child not in self.copies:
                    shell.remove(child)


def _shallow_copy(el: Element, src_parent: Element, parent: Element) -> Element:
    """``el`` without children, under ``parent``, with the namespace declarations made on
    ``el`` itself (prefixes in the values below may need them)."""
    own = {p: ns for p, ns in el.nsmap.items() if src_parent.nsmap.get(p) != ns}
    shell = etree.SubElement(parent, el.tag, nsmap=own)  # type: ignore[arg-type]
    shell.attrib.update(el.attrib)
    return shell
