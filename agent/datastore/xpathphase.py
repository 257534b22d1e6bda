"""The XPath phase of a run: defaults in use, then must, when, leafref and instance-identifier.

XPath must see default values as if present (RFC 7950 6.4.1). While its phase lasts
(``_xpath_phase``), :class:`XPathPhase` adds the defaults in use to the tree, takes out
again those whose when is false, and at the end always removes what it added (see
"Defaults" in the docstring of :mod:`agent.datastore.validate`). It evaluates the compiled
expressions with libxml2 (keeping the results of the whens that a parent's children
share), checks leafref and instance-identifier targets (value sets built once per run,
and the lasting hints of absolute leafref paths) and answers deref() for the YANG
functions. ``_DataWalk`` follows an expression over the data to add only the defaults it
can reach, which is what a change validation needs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable, Iterator, Mapping

from lxml import etree

from agent.datastore.compiled import CompiledExpr
from agent.datastore.runstate import Chain, RunState, nothing, split_tag
from agent.datastore.schema import Kind, SchemaNode, TypeSpec
from agent.datastore.valuecheck import InstanceStep, ns_sensitive
from agent.datastore.xpathwalk import PathVisitor
from agent.errors import DataMissing, InvalidValue, OperationFailed, UnknownElement
from agent.xmlutil import Element


class XPathPhase(RunState):
    """A run's XPath phase (see the module docstring); the structural checks build on it."""

    @contextlib.contextmanager
    def _xpath_phase(self) -> Iterator[None]:
        """Lend the tree to XPath: defaults get added, and are always taken out again."""
        self.v.run, self.xpath_ready = self, True
        try:
            yield
        finally:
            self.v.run = None
            for el in reversed(self.added):
                parent = el.getparent()
                if parent is not None:
                    parent.remove(el)
            self.added.clear()

    def _add_implicit(
        self, el: Element, node: SchemaNode, has: Callable[[SchemaNode], bool], everything: bool
    ) -> None:
        """Add, deeply, what exists under ``el`` without being written: every default in use
        when ``everything``, else those some expression can read (CompiledSchema._readable)."""
        info = self.info[node]
        for child in info.implicit if everything else info.materialise:
            if not has(child) and self._in_use(child, has):
                for new in self._create(el, child, deep=True):
                    if child.kind is Kind.CONTAINER:
                        self._add_implicit(new, child, nothing, everything)

    def _in_use(self, node: SchemaNode, has: Callable[[SchemaNode], bool]) -> bool:
        """RFC 7950 7.6.1, 7.9.3: a default counts in an active case, or in the default
        case when no case of the choice has data."""
        for choice, case in node.choice_path:
            if any(has(d) for d in self.info[case].case_nodes):
                continue
            if choice.default[:1] != (case.name,) or any(
                has(d) for d in self.info[choice].case_nodes
            ):
                return False
        return True

    def _create(self, el: Element, node: SchemaNode, deep: bool) -> list[Element]:
        info = self.info[node]
        if node.kind is Kind.CONTAINER:
            made = [etree.SubElement(el, node.qname)]
        else:
            made = []
            for value in info.defaults:
                new = etree.SubElement(el, node.qname, nsmap=info.default_nsmap)
                new.text = value
                made.append(new)
        for new in made:
            self.added.append(new)
            self._added_ids.add(id(new))
            if info.gates:
                self.pending.append((node, new))
            if info.musts and deep:
                self.owners.append((node, new))  # an implicit container's must still holds
        return made

    def _settle(self) -> None:
        """Take out the defaults whose when is false: they are not in use (RFC 7950 7.6.1)."""
        pending, self.pending = self.pending, []
        for node, el in pending:
            parent = el.getparent()
            if parent is not None and not self._gates_true(node, el, parent):
                parent.remove(el)
                self._memo.clear()  # results that saw it are stale

    def materialise_everything(self) -> None:
        """For expressions the analysis cannot follow: every default in use, everywhere."""
        if self.everything:
            return
        self.everything = True
        todo: list[tuple[Element, SchemaNode]] = [(self.root, self.v.schema.root)]
        while todo:
            el, node = todo.pop()
            present: set[SchemaNode] = set()
            for child in el:
                cnode = (
                    node.children.get(split_tag(child.tag)) if isinstance(child.tag, str) else None
                )
                if cnode is not None:
                    present.add(cnode)
                    if cnode.kind in (Kind.CONTAINER, Kind.LIST):
                        todo.append((child, cnode))
            self._add_implicit(el, node, present.__contains__, True)
        self._settle()

    def children_or_defaults(self, el: Element, namespace: str, name: str) -> list[Element]:
        """The children named so, with the default (or implicit container) in use when
        there is none."""
        found = list(el.iterchildren(f"{{{namespace}}}{name}"))
        if found:
            return found
        node = self.locate(el) if el is not self.root else self.v.schema.root
        if node is None:
            return found
        child = node.children.get((namespace, name))
        if (
            child is None
            or child not in self.info[node].implicit
            or (self.everything and child in self.info[node].materialise)
        ):
            return found
        if not self._in_use(child, lambda n: self.has(el, n)):
            return found
        made = self._create(el, child, deep=False)
        self._settle()
        return [m for m in made if m.getparent() is not None]

    def prepare(self, expr: CompiledExpr, ctx: Element) -> None:
        """Before evaluating ``expr`` at ``ctx``: the defaults it can read must exist."""
        if expr.reads_defaults and not self.everything:
            _DataWalk(self, expr.nsmap).nodes(expr.ast, ctx, ctx)

    def true(self, expr: CompiledExpr, ctx: Element) -> bool:
        """The boolean value of a must or when at ``ctx``. The whens of a parent context
        are shared by all its children's instances: their results are kept for the run."""
        if not expr.parent_context:
            return self._evaluate(expr, ctx)
        key = (id(expr), id(ctx))
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = (ctx, self._evaluate(expr, ctx))
        return hit[1]

    def _evaluate(self, expr: CompiledExpr, ctx: Element) -> bool:
        self.prepare(expr, ctx)
        try:
            return bool(expr.xpath(ctx, root=self.root, current=ctx))
        except etree.XPathError:
            return False  # e.g. a function given arguments of the wrong type

    def _gates_true(self, node: SchemaNode, el: Element, parent: Element) -> bool:
        return all(self.true(g, parent if g.parent_context else el) for g in self.info[node].gates)

    def _gates_hold(self, el: Element, chain: Chain) -> bool:
        """The whens along ``chain`` for nodes that do not exist (RFC 7950 7.21.5: the
        context is a dummy node of the same name, tentatively added)."""
        dummies: list[Element] = []
        parent = el
        try:
            for node in chain:
                if node.kind is Kind.CHOICE:
                    if not all(self.true(g, parent) for g in self.info[node].gates):
                        return False
                    continue
                here = next(parent.iterchildren(node.qname), None)
                if here is None:
                    here = etree.SubElement(parent, node.qname)
                    dummies.append(here)
                if not self._gates_true(node, here, parent):
                    return False
                parent = here
            return True
        finally:
            for dummy in dummies[:1]:
                el_parent = dummy.getparent()
                if el_parent is not None:
                    el_parent.remove(dummy)
            self._memo.clear()  # results were computed with the dummies in place

    def evaluate_instance(self, node: SchemaNode, el: Element) -> None:
        """Every expression of one existing instance: its whens, musts and references."""
        if el.getparent() is None:
            return  # a default taken out again
        info = self.info[node]
        for gate in info.gates:
            if not self.check_gate(gate, el):
                break
        for must in info.musts:
            self.evaluate_must(must, el)
        if info.leafref is not None:
            self.check_leafref(node, el)
        elif node.type is not None and node.type.base == "instance-identifier":
            self.check_instance_id(node, el)

    def check_gate(self, gate: CompiledExpr, el: Element) -> bool:
        """RFC 7950 8.3.1: data whose when is false is an unknown element."""
        parent = el.getparent()
        if parent is None or self.true(gate, parent if gate.parent_context else el):
            return True
        node = gate.owner
        self._error(
            UnknownElement,
            f"{node.name} exists but its when condition {gate.source.source!r} is false",
            el,
            info=[("", "bad-element", node.name)],
        )
        return False

    def evaluate_must(self, must: CompiledExpr, el: Element) -> None:
        if not self.true(must, el):
            src = must.source
            self._error(
                OperationFailed,
                src.error_message or f"must condition {src.source!r} of {must.owner.name} is false",
                el,
                app_tag=src.error_app_tag or "must-violation",
            )

    def check_leafref(self, node: SchemaNode, el: Element) -> None:
        """RFC 7950 9.9: the value is of the target's type and, with require-instance,
        some target has it. The type is checked here, only when no target has the value."""
        spec = node.type
        if spec is None or not spec.require_instance:
            return
        target = spec.leafref_target
        tspec = target.type if target is not None and target.type is not None else spec
        nsmap = el.nsmap if self.info[node].ns_values else {}
        want = self.v.types.canonical(tspec, el.text or "", nsmap)
        if self._has_target(node, el, tspec, want):
            return
        bad = self.v.types.check(spec, el.text or "", nsmap)
        if bad is not None:
            self._error(InvalidValue, f"{node.name}: {bad.message}", el, app_tag=bad.app_tag)
            return
        where = target.path() if target is not None else "its path"
        self._error(
            DataMissing,
            f"{node.name} {el.text!r} refers to no existing {where}",
            el,
            app_tag="instance-required",
        )

    def _has_target(self, node: SchemaNode, el: Element, tspec: TypeSpec, want: Hashable) -> bool:
        info = self.info[node]
        expr = info.leafref
        assert expr is not None
        if info.simple is None:
            self.prepare(expr, el)
            nodes = expr.xpath(el, root=self.root, current=el)
            assert isinstance(nodes, list)  # a leafref path is a location path: a node-set
            return any(
                self._target_value(n, tspec) == want for n in nodes if isinstance(n, etree._Element)
            )
        absolute, ups, steps = info.simple
        if not absolute:
            anchor = el
            for _ in range(ups):
                if anchor is not self.root:
                    up = anchor.getparent()
                    assert up is not None  # el is below the root, where the climb stops
                    anchor = up
            return want in self._target_set(steps, anchor, tspec)
        built = self._targets.get((steps, id(self.root)))
        if built is not None:
            return want in built[1]
        hint = self.v.lasting_targets(self.root, steps).get(want)
        if hint is not None and self._still_target(hint, steps, want, tspec):
            return True
        return want in self._target_set(steps, self.root, tspec)

    def _target_set(
        self, steps: tuple[tuple[str, str], ...], anchor: Element, tspec: TypeSpec
    ) -> set[Hashable]:
        """The values at ``steps`` below ``anchor``, defaults included, once per run; for
        the root, the lasting hints are refreshed too."""
        key = (steps, id(anchor))
        if key not in self._targets:
            items = [anchor]
            for ns, name in steps:
                items = [c for it in items for c in self.children_or_defaults(it, ns, name)]
            values = {self._target_value(n, tspec): n for n in items}
            if anchor is self.root:
                hints = self.v.lasting_targets(self.root, steps)
                hints.clear()
                hints.update((v, n) for v, n in values.items() if id(n) not in self._added_ids)
            self._targets[key] = (anchor, set(values))
        return self._targets[key][1]

    def _target_value(self, el: Element, tspec: TypeSpec) -> Hashable:
        nsmap = el.nsmap if ns_sensitive(tspec) else {}
        return self.v.types.canonical(tspec, el.text or "", nsmap)

    def _still_target(
        self, el: Element, steps: tuple[tuple[str, str], ...], want: Hashable, tspec: TypeSpec
    ) -> bool:
        cur: Element | None = el
        for ns, name in reversed(steps):
            if cur is None or cur.tag != f"{{{ns}}}{name}":
                return False
            cur = cur.getparent()
        return cur is self.root and self._target_value(el, tspec) == want

    def check_instance_id(self, node: SchemaNode, el: Element) -> None:
        spec = node.type
        if spec is None or not spec.require_instance:
            return
        steps = self.v.types.instance_path(el.text or "", el.nsmap)
        if steps is not None and not self.instance_targets(steps):
            self._error(
                DataMissing,
                f"{node.name} {el.text!r} points to no existing node",
                el,
                app_tag="instance-required",
            )

    def instance_targets(self, steps: tuple[InstanceStep, ...]) -> list[Element]:
        items = [self.root]
        for step in steps:
            found = [
                c
                for it in items
                for c in self.children_or_defaults(it, step.node.namespace, step.node.name)
                if self._ii_matches(c, step)
            ]
            if step.position is not None:
                found = found[step.position - 1 : step.position]
            items = found
        return items

    def _ii_matches(self, el: Element, step: InstanceStep) -> bool:
        types = self.v.types
        for key, value in step.keys:
            leaf = next(el.iterchildren(key.qname), None)
            if (
                leaf is None
                or key.type is None
                or self._value(leaf, key) != types.canonical(key.type, value, el.nsmap)
            ):
                return False
        if step.value is not None and step.node.type is not None:
            return self._value(el, step.node) == types.canonical(
                step.node.type, step.value, el.nsmap
            )
        return True

    def deref(self, el: Element) -> list[Element]:
        """deref(): the targets of a leafref or instance-identifier element."""
        node = self.locate(el)
        if node is None or node.type is None:
            return []
        info = self.info[node]
        if info.leafref is not None:
            target = node.type.leafref_target
            tspec = target.type if target is not None and target.type is not None else node.type
            want = self.v.types.canonical(tspec, el.text or "", self._nsmap(el, node))
            self.prepare(info.leafref, el)
            nodes = info.leafref.xpath(el, root=self.root, current=el)
            assert isinstance(nodes, list)  # a leafref path is a location path: a node-set
            return [
                n
                for n in nodes
                if isinstance(n, etree._Element) and self._target_value(n, tspec) == want
            ]
        if node.type.base == "instance-identifier":
            steps = self.v.types.instance_path(el.text or "", el.nsmap)
            return self.instance_targets(steps) if steps is not None else []
        return []


class _DataWalk(PathVisitor[Element]):
    """Follows an expression over the data, adding the defaults it passes (see prepare)."""

    def __init__(self, run: XPathPhase, nsmap: Mapping[str, str]) -> None:
        super().__init__(nsmap)
        self.run = run

    def root(self) -> Element:
        return self.run.root

    def children(self, item: Element, namespace: str, name: str, final: bool) -> list[Element]:
        return self.run.children_or_defaults(item, namespace, name)

    def parent(self, item: Element) -> Element | None:
        return None if item is self.run.root else item.getparent()

    def opaque(self) -> None:
        self.run.materialise_everything()

    def deref(self, items: list[Element]) -> list[Element]:
        return [target for el in items for target in self.run.deref(el)]
