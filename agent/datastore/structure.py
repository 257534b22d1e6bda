"""The structural checks of a run: values, keys, unique, counts, single instances,
mandatory nodes and choices (RFC 7950 7.5 to 7.9, 8.3.1, 15).

:class:`StructureChecks` walks the tree (``check_element``, kept flat: it is the hottest
loop of a full validation), checks the type of every value and the constraints across the
instances of a node under one parent. For a change it checks only the changed instances
against their siblings (one scan of them each) and the requirements of their parents.
Mandatory nodes, mandatory choices and min-elements are checked here too; those behind a
when wait (``deferred``) for the XPath phase this layer builds on.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import TypeGuard, TypeVar

from agent.datastore.compiled import NodeInfo
from agent.datastore.runstate import Chain, nothing
from agent.datastore.schema import Kind, SchemaNode
from agent.datastore.xpathphase import XPathPhase
from agent.datastore.xpathwalk import is_key
from agent.errors import BadElement, DataMissing, InvalidValue, MissingElement, OperationFailed
from agent.xmlutil import YANG_NS, Element

_NO_CHILDREN: dict[SchemaNode, list[Element]] = {}

_T = TypeVar("_T")


def _all_present(items: list[_T | None]) -> TypeGuard[list[_T]]:
    """No item is None (and the type checker knows it)."""
    return all(item is not None for item in items)


class StructureChecks(XPathPhase):
    """A run's structural checks (see the module docstring); Run adds the entry points."""

    # -- structure: the children of one element ---------------------------------------------

    def check_element(self, el: Element, node: SchemaNode) -> dict[SchemaNode, list[Element]]:
        """Check the children of ``el`` (the root, a container or a list entry), deeply;
        return them by schema node. The hottest loop of a full validation: kept flat."""
        groups: dict[SchemaNode, list[Element]] = {}
        self.containers.append((el, node, groups))
        children = self.info[node].by_tag
        for child in el:
            cnode = children.get(child.tag)
            if cnode is not None and cnode.config:
                if cnode in groups:
                    groups[cnode].append(child)
                else:
                    groups[cnode] = [child]
            elif isinstance(child.tag, str):
                self._unknown(child, cnode)
        for cnode, els in groups.items():
            info = self.info[cnode]
            if info.inner:
                inner = [self.check_instance(child, cnode) for child in els]
            else:
                inner = []
                if info.has_exprs:
                    self.owners.extend((cnode, child) for child in els)
                if info.leafy:
                    self._check_leaves(cnode, els, info)
            if len(els) > 1 or info.counted:
                self._check_group(el, cnode, els, inner)
        if self.info[node].requirements:
            self._require_in(el, self.info[node].requirements, groups.__contains__, True, ())
        return groups

    def check_instance(self, el: Element, node: SchemaNode) -> dict[SchemaNode, list[Element]]:
        """Check one instance (deeply); return its children by schema node."""
        info = self.info[node]
        if info.has_exprs:
            self.owners.append((node, el))
        if info.inner:
            return self.check_element(el, node)
        if info.leafy:
            self._check_leaves(node, [el], info)
        return _NO_CHILDREN

    def _check_leaves(self, node: SchemaNode, els: list[Element], info: NodeInfo) -> None:
        for el in els:
            if len(el):
                self._error(InvalidValue, f"{node.name} has child elements", el)
            elif info.typed:
                self._check_value(el, node)

    def _check_value(self, el: Element, node: SchemaNode) -> None:
        assert node.type is not None
        bad = self.v.types.check(node.type, el.text or "", self._nsmap(el, node))
        if bad is not None:
            self._error(InvalidValue, f"{node.name}: {bad.message}", el, app_tag=bad.app_tag)

    def _check_parent(
        self, parent: Element, created: list[tuple[SchemaNode, Element]], gone: set[SchemaNode]
    ) -> None:
        """The constraints between changed elements and their siblings. A removal cannot
        break keys or uniqueness, only counts and mandatory nodes."""
        pnode = self.locate(parent) if parent is not self.root else self.v.schema.root
        if pnode is None:
            return
        if pnode.kind is Kind.LIST and any(is_key(n) for n in gone):
            keys = self.info[pnode].keys
            self._keys_present(
                [next(parent.iterchildren(k.qname), None) for k in keys], pnode, parent, keys
            )
        for node, el in created:
            self._check_siblings(parent, node, el)
        for node in {n for n, _ in created} | gone:
            if node.max_elements is not None or node.min_elements:
                self._check_counts(parent, node, self.v.count(parent, node))
        self.require_all(parent, pnode)

    def _check_siblings(self, parent: Element, node: SchemaNode, el: Element) -> None:
        """One changed instance against the others: keys, leaf-list values, single nodes.
        As in a full check, every instance but the first of a value is the one in error."""
        if self.keys_unique and node.kind in (Kind.LIST, Kind.LEAF_LIST):
            return
        if node.kind is Kind.LIST:
            keys = self.info[node].keys
            leaves = [next(el.iterchildren(k.qname), None) for k in keys]
            if not keys or not self._keys_present(leaves, node, el, keys):
                return
            want = tuple(self._value(leaf, k) for leaf, k in zip(leaves, keys, strict=True))
            same = [
                e
                for e in self._entries_with(parent, node, (keys[0],), want[0])
                if self._key_of(e, keys) == want
            ]
            for dup in same[1:]:
                self._non_unique(
                    f"two {node.name} entries have the same key",
                    dup,
                    [next(dup.iterchildren(k.qname)) for k in keys],
                )
        elif node.kind is Kind.LEAF_LIST:
            value = self._value(el, node)
            same = [c for c in parent.iterchildren(node.qname) if self._value(c, node) == value]
            for dup in same[1:]:
                self._non_unique(f"{node.name} has the value {dup.text!r} twice", dup, [dup])
        else:
            for dup in list(parent.iterchildren(node.qname))[1:]:
                self._error(
                    BadElement,
                    f"{node.name} appears more than once",
                    dup,
                    info=[("", "bad-element", node.name)],
                )

    def _entries_with(
        self, parent: Element, node: SchemaNode, chain: tuple[SchemaNode, ...], want: Hashable
    ) -> Iterator[Element]:
        """The entries of list ``node`` under ``parent`` whose leaf at ``chain`` has the
        value ``want``, in document order: one scan of the leaf's tag, filtered by libxml2."""
        leaf_node = chain[-1]
        plain = self.info[leaf_node].plain
        for leaf in parent.iterdescendants(leaf_node.qname):
            if plain and (leaf.text or "") != want:
                continue
            entry: Element | None = leaf
            for _ in chain:  # above the top element when the leaf is shallower than chain
                entry = entry.getparent() if entry is not None else None
            if entry is None or entry.getparent() is not parent or entry.tag != node.qname:
                continue
            if plain or self._value(leaf, leaf_node) == want:
                yield entry

    def _key_of(self, entry: Element, keys: tuple[SchemaNode, ...]) -> tuple[Hashable, ...] | None:
        leaves = [next(entry.iterchildren(k.qname), None) for k in keys]
        if not _all_present(leaves):
            return None
        return tuple(self._value(leaf, k) for leaf, k in zip(leaves, keys, strict=True))

    def _keys_present(
        self,
        leaves: list[Element | None],
        node: SchemaNode,
        el: Element,
        keys: tuple[SchemaNode, ...],
    ) -> TypeGuard[list[Element]]:
        """Whether every key leaf of entry ``el`` is present; reports the first missing."""
        for k, leaf in zip(keys, leaves, strict=True):
            if leaf is None:
                self._error(
                    MissingElement,
                    f"{node.name} entry has no key {k.name}",
                    el,
                    info=[("", "bad-element", k.name)],
                )
                return False
        return True

    def _recheck_unique(self, node: SchemaNode, el: Element, removed: bool) -> None:
        """Unique constraints of the list entries around a change (RFC 7950 7.8.3)."""
        cur: Element | None = el
        cnode: SchemaNode | None = node.data_parent if removed else node
        while cur is not None and cnode is not None and cur is not self.root:
            if cnode.kind is Kind.LIST and cnode.unique:
                parent = cur.getparent()
                if parent is not None:
                    self._recheck_unique_entry(cnode, cur, parent)
            cur, cnode = cur.getparent(), cnode.data_parent

    def _check_group(
        self,
        parent: Element,
        node: SchemaNode,
        els: list[Element],
        inner: list[dict[SchemaNode, list[Element]]],
    ) -> None:
        """Constraints across the instances of one schema node under one parent;
        ``inner`` holds each instance's children by schema node."""
        kind = node.kind
        if kind is Kind.LIST:
            self._check_keys(node, els, inner)
            if node.unique:
                self._check_unique(node, els)
        elif kind is Kind.LEAF_LIST:
            self._check_leaf_list(node, els)
        else:
            for extra in els[1:]:
                self._error(
                    BadElement,
                    f"{node.name} appears more than once",
                    extra,
                    info=[("", "bad-element", node.name)],
                )
        if kind is Kind.LIST or kind is Kind.LEAF_LIST:
            self._check_counts(parent, node, len(els))

    def _check_counts(self, parent: Element, node: SchemaNode, count: int) -> None:
        if node.max_elements is not None and count > node.max_elements:
            self._error(
                OperationFailed,
                f"{node.name} has {count} entries, more than max-elements {node.max_elements}",
                parent,
                (node,),
                app_tag="too-many-elements",
            )
        if 0 < count < node.min_elements:
            self._error(
                OperationFailed,
                f"{node.name} has {count} entries, fewer than min-elements {node.min_elements}",
                parent,
                (node,),
                app_tag="too-few-elements",
            )

    def _check_keys(
        self, node: SchemaNode, els: list[Element], inner: list[dict[SchemaNode, list[Element]]]
    ) -> None:
        keys = self.info[node].keys
        if len(keys) == 1:
            self._check_single_keys(node, els, inner, keys[0])
            return
        seen: dict[tuple[Hashable, ...], Element] = {}
        for el, children in zip(els, inner, strict=True):
            leaves = [children[k][0] if k in children else None for k in keys]
            if not self._keys_present(leaves, node, el, keys):
                continue
            value = tuple(self._value(leaf, k) for leaf, k in zip(leaves, keys, strict=True))
            if value in seen:
                self._non_unique(f"two {node.name} entries have the same key", el, leaves)
            else:
                seen[value] = el

    def _check_single_keys(
        self,
        node: SchemaNode,
        els: list[Element],
        inner: list[dict[SchemaNode, list[Element]]],
        key: SchemaNode,
    ) -> None:
        """_check_keys for the common one-key list, without the tuples."""
        seen: set[Hashable] = set()
        plain = self.info[key].plain
        for el, children in zip(els, inner, strict=True):
            leaves = children.get(key)
            if leaves is None:
                self._keys_present([None], node, el, (key,))
                continue
            leaf = leaves[0]
            value = (leaf.text or "") if plain else self._value(leaf, key)
            if value in seen:
                self._non_unique(f"two {node.name} entries have the same key", el, [leaf])
            seen.add(value)

    def _check_unique(self, node: SchemaNode, els: list[Element]) -> None:
        """RFC 7950 7.8.3: entries where every leaf exists or has a default must differ."""
        for chains in self.info[node].uniques:
            seen: set[tuple[Hashable, ...] | None] = set()
            for el in els:
                value = self._unique_value(el, chains)
                if value is not None and value in seen:
                    self._not_unique(node, chains, el)
                seen.add(value)

    def _recheck_unique_entry(self, node: SchemaNode, el: Element, parent: Element) -> None:
        """A changed entry's unique values against all its siblings (one scan each)."""
        for chains in self.info[node].uniques:
            value = self._unique_value(el, chains)
            if value is None:
                continue
            same = [
                o
                for o in self._unique_candidates(parent, node, chains, value)
                if self._unique_value(o, chains) == value
            ]
            for dup in same[1:]:
                self._not_unique(node, chains, dup)

    def _not_unique(
        self, node: SchemaNode, chains: tuple[tuple[SchemaNode, ...], ...], el: Element
    ) -> None:
        found = [self._unique_leaf(el, c) for c in chains]
        leaves = [f[1] for f in found if f is not None and f[1] is not None]
        names = " ".join(c[-1].name for c in chains)
        self._non_unique(f"{node.name} entries are not unique in ({names})", el, leaves or [el])

    def _unique_value(
        self, el: Element, chains: tuple[tuple[SchemaNode, ...], ...]
    ) -> tuple[Hashable, ...] | None:
        found = [self._unique_leaf(el, chain) for chain in chains]
        if not _all_present(found):
            return None
        return tuple(f[0] for f in found)

    def _unique_candidates(
        self,
        parent: Element,
        node: SchemaNode,
        chains: tuple[tuple[SchemaNode, ...], ...],
        value: tuple[Hashable, ...],
    ) -> Iterable[Element]:
        first = chains[0]
        if value[0] == self._unique_default(first[-1]):  # entries without the leaf match too
            return parent.iterchildren(node.qname)
        return self._entries_with(parent, node, first, value[0])

    def _unique_leaf(
        self, el: Element, chain: tuple[SchemaNode, ...]
    ) -> tuple[Hashable, Element | None] | None:
        cur: Element | None = el
        for step in chain:
            cur = next(cur.iterchildren(step.qname), None) if cur is not None else None
        if cur is not None:
            return self._value(cur, chain[-1]), cur
        default = self._unique_default(chain[-1])
        return None if default is None else (default, None)

    def _unique_default(self, leaf: SchemaNode) -> Hashable | None:
        if not leaf.default or leaf.type is None:
            return None
        return self.v.types.canonical(leaf.type, leaf.default[0], dict(leaf.default_namespaces))

    def _check_leaf_list(self, node: SchemaNode, els: list[Element]) -> None:
        seen: set[Hashable] = set()
        for el in els:
            value = self._value(el, node)
            if value in seen:
                self._non_unique(f"{node.name} has the value {el.text!r} twice", el, [el])
            seen.add(value)

    # -- structure: mandatory nodes, choices, min-elements -------------------------------------

    def require_all(self, el: Element, node: SchemaNode) -> None:
        self._require_in(el, self.info[node].requirements, lambda n: self.has(el, n), True, ())

    def _require_in(
        self,
        el: Element,
        nodes: Iterable[SchemaNode],
        has: Callable[[SchemaNode], bool],
        active: bool,
        chain: Chain,
    ) -> None:
        """RFC 7950 3 "mandatory node", 7.6.5, 7.7.5, 7.9.4: what must exist under ``el``
        (through ``chain``, the absent non-presence containers in between)."""
        for node in nodes:
            if node.kind is Kind.CHOICE:
                self._require_choice(el, node, has, active, chain)
            elif active and not has(node):
                self._require_absent(el, node, chain)

    def _require_choice(
        self,
        el: Element,
        choice: SchemaNode,
        has: Callable[[SchemaNode], bool],
        active: bool,
        chain: Chain,
    ) -> None:
        cases = [c for c in choice.ordered if any(has(d) for d in self.info[c].case_nodes)]
        if len(cases) > 1:
            second = next(d for d in self.info[cases[1]].case_nodes if has(d))
            self._error(
                BadElement,
                f"choice {choice.name} has data in cases {cases[0].name} and {cases[1].name}",
                el,
                chain,
                info=[("", "bad-element", second.name)],
            )
        elif not cases and choice.mandatory and active:
            self._missing(el, (*chain, choice))
        for case in choice.ordered:
            self._require_in(el, self.info[case].requirements, has, active and case in cases, chain)

    def _require_absent(self, el: Element, node: SchemaNode, chain: Chain) -> None:
        kind = node.kind
        if kind is Kind.CONTAINER:
            if node.presence or not self.info[node].required:
                return
            inner = (*chain, node)
            if self.info[node].gates:
                if not self.xpath_ready:
                    self.deferred.append((el, inner))
                    return
                if not self._gates_hold(el, inner):
                    return
            self._require_in(el, self.info[node].requirements, nothing, True, inner)
        elif self.info[node].required:
            self._missing(el, (*chain, node))

    def _missing(self, el: Element, chain: Chain) -> None:
        if any(self.info[n].gates for n in chain):
            if not self.xpath_ready:
                self.deferred.append((el, chain))
                return
            if not self._gates_hold(el, chain):
                return
        node = chain[-1]
        if node.kind is Kind.CHOICE:
            self._error(
                DataMissing,
                f"no case of mandatory choice {node.name} exists",
                el,
                chain,
                app_tag="missing-choice",
                info=[(YANG_NS, "missing-choice", node.name)],
            )
        elif node.kind in (Kind.LIST, Kind.LEAF_LIST):
            self._error(
                OperationFailed,
                f"{node.name} needs at least {node.min_elements} entries",
                el,
                chain,
                app_tag="too-few-elements",
            )
        else:
            self._error(
                MissingElement,
                f"mandatory {node.name} is missing",
                el,
                chain,
                info=[("", "bad-element", node.name)],
            )

    def _evaluate_deferred(self) -> None:
        deferred, self.deferred = self.deferred, []
        for el, chain in deferred:
            if chain[-1].kind is Kind.CONTAINER:
                self._require_absent(el, chain[-1], chain[:-1])
            else:
                self._missing(el, chain)
