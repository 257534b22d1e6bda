"""One validate() or validate_changes() call: its entry points and, for a change, the plan
of what to check again.

:class:`Run` is the top layer of a run (see :mod:`agent.datastore.runstate`). ``full``
checks the whole tree, then evaluates every expression with every default in use present.
``changes`` checks the changed subtrees and, per parent of a change (``_Parents``), the
constraints between siblings; then ``_Jobs`` works out which expressions to evaluate again
and where: those whose paths can reach a changed or removed node, at their instances below
the ancestor of the change under which every context the change can affect lies.
"""

from __future__ import annotations

from agent.datastore.compiled import CompiledExpr
from agent.datastore.schema import DATA_KINDS, Kind, SchemaNode
from agent.datastore.structure import StructureChecks
from agent.datastore.xpathwalk import is_key, reaches
from agent.errors import RpcError
from agent.xmlutil import Element


class _Parents(dict[Element, tuple[list[tuple[SchemaNode, Element]], set[SchemaNode]]]):
    """Per parent of a change: its created or modified children and its removed nodes.
    Keyed by element: lxml gives one proxy per node while a reference lives."""

    def _entry(self, parent: Element) -> tuple[list[tuple[SchemaNode, Element]], set[SchemaNode]]:
        if parent not in self:
            self[parent] = ([], set())
        return self[parent]

    def created(self, parent: Element, node: SchemaNode, el: Element) -> None:
        self._entry(parent)[0].append((node, el))

    def gone(self, parent: Element, node: SchemaNode) -> None:
        self._entry(parent)[1].add(node)


class Run(StructureChecks):
    """One validate()/validate_changes() call (see the module docstring)."""

    def full(self) -> list[RpcError]:
        self.check_element(self.root, self.v.schema.root)
        with self._xpath_phase():
            everything = bool(self.v.opaque)
            for el, node, present in self.containers:
                self._add_implicit(el, node, present.__contains__, everything)
            self.everything = True
            self._settle()
            for node, el in self.owners:
                self.evaluate_instance(node, el)
            self._evaluate_deferred()
        return self._result()

    def changes(
        self, changed: list[Element], removed: list[tuple[SchemaNode, Element]]
    ) -> list[RpcError]:
        touched, parents = self._collect(changed, removed)
        for parent, (created, gone) in parents.items():
            self._check_parent(parent, created, gone)
        for node, el, was_removed in touched:
            self._recheck_unique(node, el, was_removed)
        with self._xpath_phase():
            for el, node, present in self.containers:
                self._add_implicit(el, node, present.__contains__, bool(self.v.opaque))
            self._settle()
            jobs = _Jobs(self)
            for node, el in self.owners:
                jobs.instance(node, el)
            jobs.schedule(touched)
            jobs.execute()
            self._evaluate_deferred()
        return self._result()

    def _collect(
        self, changed: list[Element], removed: list[tuple[SchemaNode, Element]]
    ) -> tuple[list[tuple[SchemaNode, Element, bool]], _Parents]:
        """Check the changed subtrees; return what changed (node, element or former
        parent, removed?) and, per parent, its created children and removed nodes."""
        touched: list[tuple[SchemaNode, Element, bool]] = []
        parents = _Parents()
        for el in self._tops(changed):
            node = self.locate(el)
            if node is None or not node.config:
                self._unknown(el, node)
                continue
            touched.append((node, el, False))
            parent = el.getparent()
            assert parent is not None  # _tops keeps only elements below the root
            parents.created(parent, node, el)
            self.check_instance(el, node)
            if is_key(node):  # a new key value: the entry is new, and the old one is gone
                entry, lst = parent, node.parent
                assert lst is not None
                above = entry.getparent()
                assert above is not None  # a key's entry is a list instance, below the root
                touched.append((lst, above, True))
                parents.created(above, lst, entry)
        for node, parent in removed:
            if self._attached(parent):  # else an ancestor was removed by the edit too
                touched.append((node, parent, True))
                parents.gone(parent, node)
        return touched, parents

    def _tops(self, changed: list[Element]) -> list[Element]:
        """The listed elements still in the tree and not inside another listed one (a
        listed element's whole subtree is checked)."""
        listed = {id(e) for e in changed}
        out: dict[int, Element] = {}
        for el in changed:
            up, inside = el.getparent(), False
            while up is not None and up is not self.root:
                inside = inside or id(up) in listed
                up = up.getparent()
            if up is self.root and not inside:
                out.setdefault(id(el), el)
        return list(out.values())

    def _attached(self, el: Element) -> bool:
        while el is not self.root:
            up = el.getparent()
            if up is None:
                return False
            el = up
        return True

    def _result(self) -> list[RpcError]:
        seen: set[tuple[object, ...]] = set()
        out = []
        for e in self.errors:
            key = (e.tag, e.app_tag, e.path, e.message)
            if key not in seen:
                seen.add(key)
                out.append(e)
        return out


class _Jobs:
    """What validate_changes re-evaluates: the instances inside changed subtrees, and every
    expression whose paths reach a changed or removed node, at the contexts that reach it."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.info = run.info
        self.instances: dict[tuple[int, int], tuple[SchemaNode, Element]] = {}
        self.exprs: dict[tuple[int, int], tuple[CompiledExpr, Element]] = {}
        self.requirements: dict[int, Element] = {}  # parents whose requirements to re-check
        self.instance_ids = False
        self._touched: dict[tuple[int, int, bool], Element] = {}  # (kept alive for the ids)

    def instance(self, node: SchemaNode, el: Element) -> None:
        self.instances[(id(node), id(el))] = (node, el)

    def schedule(self, touched: list[tuple[SchemaNode, Element, bool]]) -> None:
        for node, el, removed in touched:
            self._touch(node, el, removed)
            # an instance-identifier can only lose its target to a removal, or to a new
            # value of the leaf-list entry it names
            self.instance_ids = self.instance_ids or removed or node.kind is Kind.LEAF_LIST
        if touched:
            for expr in self.run.v.opaque:
                self._at(expr, self.run.root, 0)

    def _touch(self, node: SchemaNode, el: Element, removed: bool) -> None:
        """Schedule what reads ``node``, changed at ``el`` (or removed from parent ``el``)."""
        key = (id(node), id(el), removed)
        if key in self._touched:
            return
        self._touched[key] = el
        v = self.run.v
        for expr, ref in v.related(node):
            if reaches(ref, node, removed):
                anchor = self._anchor(ref.anchor, node, el, removed)
                if anchor is not None:
                    self._at(expr, *anchor)
        shared = self.info[node].depth - 1  # the parent, shared with the other cases
        for expr, ref in v.case_related(node):
            if removed or not ref.monotone:
                anchor = self._anchor(min(ref.anchor, shared), node, el, removed)
                if anchor is not None:
                    self._at(expr, *anchor)

    def _anchor(
        self, want: int, node: SchemaNode, el: Element, removed: bool
    ) -> tuple[Element, int] | None:
        """The instance at depth ``want`` above the change (for a removal, ``el`` is the
        former parent); below it lie all the contexts the change can affect."""
        depth = self.info[node].depth
        if removed:
            return None if depth <= want else (self._up(el, depth - 1 - want), want)
        if depth < want:
            return el, depth
        return self._up(el, depth - want), want

    def _up(self, el: Element, steps: int) -> Element:
        for _ in range(steps):
            if el is self.run.root:
                break
            up = el.getparent()
            assert up is not None  # el is below the root, where the climb stops
            el = up
        return el

    def _at(self, expr: CompiledExpr, anchor: Element, depth: int) -> None:
        owner = expr.owner
        if expr.kind != "when":
            for inst in self._below(anchor, depth, owner, False):
                self.exprs[(id(expr), id(inst))] = (expr, inst)
            return
        parent_node = owner.data_parent
        if parent_node is None:
            return
        if depth > self.info[parent_node].depth:
            self.exprs[(id(expr), id(anchor))] = (expr, anchor)
            return
        required = self.info[owner].required
        for parent in self._below(anchor, depth, parent_node, required):
            found = list(parent.iterchildren(owner.qname)) if owner.kind in DATA_KINDS else []
            if not found and required:
                self.requirements[id(parent)] = parent
            if not found and self.info[owner].implicit_here:
                self._touch(owner, parent, True)  # its default may have come or gone
            for inst in found:
                self.exprs[(id(expr), id(inst))] = (expr, inst)

    def _below(
        self, anchor: Element, depth: int, target: SchemaNode, note_absent: bool
    ) -> list[Element]:
        """The instances of ``target`` below ``anchor`` (an instance at ``depth``)."""
        chain: list[SchemaNode] = []
        node: SchemaNode | None = target
        while node is not None and self.info[node].depth > depth:
            chain.append(node)
            node = node.data_parent
        items = [anchor]
        for step in reversed(chain):
            found: list[Element] = []
            for it in items:
                here = self.run.children_or_defaults(it, step.namespace, step.name)
                if not here and note_absent and step is not target:
                    self.requirements[id(it)] = it
                found.extend(here)
            items = found
        return items

    def execute(self) -> None:
        run = self.run
        for node, el in self.instances.values():
            run.evaluate_instance(node, el)
        for expr, el in self.exprs.values():
            if (id(expr.owner), id(el)) in self.instances or el.getparent() is None:
                continue
            if expr.kind == "must":
                run.evaluate_must(expr, el)
            elif expr.kind == "leafref":
                run.check_leafref(expr.owner, el)
            else:
                run.check_gate(expr, el)
        for parent in self.requirements.values():
            pnode = run.locate(parent) if parent is not run.root else run.v.schema.root
            if pnode is not None:
                run.require_all(parent, pnode)
        if self.instance_ids:
            for node in run.v.instance_ids:
                for inst in self._below(run.root, 0, node, False):
                    run.check_instance_id(node, inst)
