"""The edit-config engine (RFC 6241 §7.2): apply a ``<config>`` tree to a datastore tree.

The caller edits a copy, or edits in place and undoes through the journal on failure.
Writes keep the datastore canonical, since Ansible compares its serializations (INTEROP.md
§2.11): schema order (keys first, RFC 7950 §7.8.5), ordered-by system entries in insertion
order, trimmed values, identityref and instance-identifier values with the defining
modules' prefixes, no empty non-presence container (RFC 7950 §7.5.1).

Errors (type protocol for the operation attribute, application for content, RFC 6241
§4.3): unknown-namespace and unknown-element (path: the parent); invalid-value for a config
false node, a prefix that does not resolve (RFC 7950 §9.10.3, §9.13.2) or what check_value
says; bad-element for a leaf with children or text in a container or entry; bad-attribute
for a bad operation, insert or key attribute and for create/delete/remove on a key leaf,
with app-tag missing-instance when key/value names no entry (RFC 7950 §15.7);
missing-attribute for insert before/after without key/value (RFC 7950 §7.8.6);
unknown-attribute for a NETCONF or YANG attribute where it does not apply; missing-element
for a list entry without all its keys (RFC 7950 §7.8.6); data-exists, data-missing (RFC
6241 §7.2).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from lxml import etree

from agent.datastore.journal import Journal
from agent.datastore.schema import Kind, Schema, SchemaNode
from agent.datastore.stored import (
    Canon,
    NsMap,
    Value,
    declarations,
    key_node,
    make,
)
from agent.errors import (
    BadAttribute,
    BadElement,
    DataExists,
    DataMissing,
    ErrorType,
    InvalidValue,
    MissingAttribute,
    MissingElement,
    RpcError,
    UnknownAttribute,
    UnknownElement,
    UnknownNamespace,
)
from agent.xmlutil import BASE_NS, YANG_NS, Element, children, qname, split


class Operation(StrEnum):
    MERGE = "merge"
    REPLACE = "replace"
    CREATE = "create"
    DELETE = "delete"
    REMOVE = "remove"
    NONE = "none"


class ErrorOption(StrEnum):
    STOP_ON_ERROR = "stop-on-error"
    CONTINUE_ON_ERROR = "continue-on-error"
    ROLLBACK_ON_ERROR = "rollback-on-error"


ValueChecker = Callable[[SchemaNode, str, Mapping[str | None, str]], RpcError | None]


@dataclass
class EditResult:
    """What an edit did, for incremental validation and commit subscribers.

    ``changed``: each element created, whose value changed or that moved, in edit order; a
    new subtree is listed by its root only.  ``removed``: each deleted subtree as (its schema
    node, its former parent).  ``errors``: non-empty only with continue-on-error.
    """

    changed: list[Element] = field(default_factory=list)
    removed: list[tuple[SchemaNode, Element]] = field(default_factory=list)
    errors: list[RpcError] = field(default_factory=list)


def apply_edit(
    schema: Schema,
    target: Element,
    config: Element,
    *,
    default_operation: Operation = Operation.MERGE,
    error_option: ErrorOption = ErrorOption.STOP_ON_ERROR,
    check_value: ValueChecker | None = None,
    journal: Journal | None = None,
) -> EditResult:
    """Apply the children of ``config`` to the datastore root ``target``, in place.

    ``check_value(node, text, nsmap)`` vets each leaf, leaf-list and key value of the edit
    (text stripped, namespaces in scope in the edit); the error it returns is raised as is,
    with the error-path added when missing.  With stop-on-error and rollback-on-error the
    first error is raised and ``target`` is left half-edited, to be discarded; with
    continue-on-error a failing subtree is skipped and its error returned in ``errors``.
    Every structural change goes through ``journal``, so a caller editing in place can undo
    the edit; elements are only ever added, removed or replaced, never altered.
    """
    editor = _Editor(schema, error_option, check_value, Journal() if journal is None else journal)
    editor.edit_root(target, config, default_operation)
    return editor.result


_OPERATION = qname(BASE_NS, "operation")
_INSERT = qname(YANG_NS, "insert")
_KEY = qname(YANG_NS, "key")
_VALUE = qname(YANG_NS, "value")
_USER_ORDER_ATTRS = {
    Kind.LIST: frozenset({_OPERATION, _INSERT, _KEY}),
    Kind.LEAF_LIST: frozenset({_OPERATION, _INSERT, _VALUE}),
}
_DELETING = frozenset({Operation.DELETE, Operation.REMOVE})
_NOT_ON_KEYS = frozenset({Operation.CREATE, Operation.DELETE, Operation.REMOVE})
_INSERT_POINTS = ("first", "last", "before", "after")
_APP = ErrorType.APPLICATION
# One "[prefix:name='value']" predicate of a yang:key attribute (RFC 7950 §9.13).
_PREDICATE = re.compile(
    r"""\[\s*(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)\s*=\s*(?:'([^']*)'|"([^"]*)")\s*\]"""
)
_InsertSpec = tuple[str, Element | None]


@dataclass(frozen=True, slots=True)
class _Step:
    """One edit element being applied: its schema node, the data parent, its operation."""

    sn: SchemaNode
    dp: Element
    e: Element
    op: Operation
    path: str

    def error(self, cls: type[RpcError], message: str, **kw: Any) -> RpcError:
        """An error about this node (keywords as for _error)."""
        return _error(cls, message, self.sn, self.path, **kw)


class _Editor:
    """One edit-config run: the schema walk, the writes and what they changed."""

    def __init__(
        self,
        schema: Schema,
        error_option: ErrorOption,
        check_value: ValueChecker | None,
        journal: Journal,
    ) -> None:
        self.schema = schema
        self.canon = Canon(schema)
        self.journal = journal
        self.keep_going = error_option is ErrorOption.CONTINUE_ON_ERROR
        self.check_value = check_value
        self.result = EditResult()
        self._orders: dict[int, dict[str, int]] = {}
        # Elements created (kept, so ids stay unique); ids of those in result.changed.
        self._fresh: dict[int, Element] = {}
        self._reported: set[int] = set()

    # -- walking the edit ----------------------------------------------------------------

    def edit_root(self, target: Element, config: Element, default: Operation) -> None:
        """Edit the top-level nodes; default-operation replace replaces the whole datastore
        (RFC 6241 §7.2: "completely replaces the configuration in the target datastore")."""
        touched = self._edit_children(self.schema.root, target, config, default, "")
        if default is Operation.REPLACE:
            self._replace_rest(self.schema.root, target, touched)

    def _edit_children(
        self, ps: SchemaNode, dp: Element, edit: Element, op: Operation, path: str
    ) -> list[Element]:
        """Apply each child of ``edit`` under ``dp``; returns the data elements they touched.

        This is where continue-on-error skips a failing subtree and goes on with the next.
        """
        touched: list[Element] = []
        for e in children(edit):
            if _is_key(ps, e):
                continue  # keys identify the entry: _list_entry has read them
            try:
                el = self._edit(ps, dp, e, op, path)
            except RpcError as err:
                if not self.keep_going:
                    raise
                self.result.errors.append(err)
                continue
            if el is not None:
                touched.append(el)
        return touched

    def _edit(
        self, ps: SchemaNode, dp: Element, e: Element, inherited: Operation, ppath: str
    ) -> Element | None:
        """Apply one edit element; returns the data element it leaves in place, if any."""
        sn = self._schema_node(ps, e, ppath)
        path = f"{ppath}/{sn.prefix}:{sn.name}"
        step = _Step(sn, dp, e, _operation(e, inherited, sn, path), path)
        _check_attributes(step)
        handlers = {
            Kind.LEAF: self._leaf,
            Kind.LEAF_LIST: self._leaf_list,
            Kind.LIST: self._list_entry,
            Kind.CONTAINER: self._container,
        }
        return handlers.get(sn.kind, self._any)(step)

    def _schema_node(self, ps: SchemaNode, e: Element, ppath: str) -> SchemaNode:
        ns, name = split(e)
        if self.schema.module_by_namespace(ns) is None:
            raise _error(
                UnknownNamespace,
                f"no module has the namespace {ns!r}",
                ps,
                ppath or "/",
                info=[("bad-element", name), ("bad-namespace", ns)],
                error_type=_APP,
            )
        sn = ps.child(ns, name)
        if sn is None:
            raise _error(
                UnknownElement,
                f"unexpected element {name}",
                ps,
                ppath or "/",
                info=[("bad-element", name)],
            )
        if not sn.config:
            # Known to the schema, so not unknown-element; but state data is not
            # configuration (RFC 7950 §7.21.1), so the <config> parameter's value is
            # unacceptable: invalid-value (RFC 6241 App. A).
            raise _error(
                InvalidValue,
                f"{name} is state data and cannot be configured",
                sn,
                f"{ppath}/{sn.prefix}:{sn.name}",
                info=[("bad-element", name)],
            )
        return sn

    # -- one handler per node kind ---------------------------------------------------------

    def _leaf(self, s: _Step) -> Element | None:
        _no_children(s)

        def build(old: Element | None) -> Element | None:
            value = self._value(s.sn, s.e, s.path)
            same = old is not None and self.canon.stored(s.sn, old) == value.text
            return None if same else self._new(s.sn, s.dp.nsmap, value)

        return self._single(s, build)

    def _leaf_list(self, s: _Step) -> Element | None:
        """RFC 7950 §7.7.9: entries are identified by value; they never change, only move."""
        _no_children(s)
        value = self._value(s.sn, s.e, s.path)
        s = _Step(s.sn, s.dp, s.e, s.op, f"{s.path}[.={_quote(value.text)}]")
        old = self._find_value(s.sn, s.dp, value.text)
        return self._entry(s, old, lambda: self._new(s.sn, s.dp.nsmap, value))

    def _list_entry(self, s: _Step) -> Element | None:
        """RFC 7950 §7.8.6: the entry is identified by all its keys."""
        _no_text(s)
        keys = self._keys(s)
        path = s.path + "".join(f"[{s.sn.prefix}:{k}={_quote(v.text)}]" for k, v in keys)
        s = _Step(s.sn, s.dp, s.e, s.op, path)
        old = self._find_entry(s.sn, s.dp, tuple(v.text for _, v in keys))
        entry = self._entry(s, old, lambda: self._new_entry(s.sn, s.dp, keys))
        if entry is not None:
            self._edit_content(s, entry)
        return entry

    def _container(self, s: _Step) -> Element | None:
        _no_text(s)
        old = s.dp.find(s.sn.qname)
        if s.op in _DELETING:
            return self._delete(s, old)
        _check_existence(s, old)
        el = old if old is not None else self._add(s, self._new(s.sn, s.dp.nsmap))
        self._edit_content(s, el)
        if s.sn.presence or len(el):
            return el
        self._prune(s.sn, s.dp, el, existed=old is not None)
        return None

    def _any(self, s: _Step) -> Element | None:
        """anydata/anyxml: the content is opaque, so every write replaces all of it."""

        def build(old: Element | None) -> Element | None:
            new = self._new(s.sn, s.dp.nsmap)
            for c in children(s.e):
                self.canon.clone_into(new, c, s.e.nsmap, bind=False)
            return None if old is not None and _shape(old) == _shape(new) else new

        return self._single(s, build)

    # -- shared steps ----------------------------------------------------------------------

    def _single(self, s: _Step, make: Callable[[Element | None], Element | None]) -> Element | None:
        """The steps leaves and anydata share: ``make(old)`` makes the node to write, or
        None when ``old`` already holds that value (a merge of an equal value changes
        nothing)."""
        old = s.dp.find(s.sn.qname)
        if s.op in _DELETING:
            return self._delete(s, old)
        _check_existence(s, old)
        new = None if s.op is Operation.NONE else make(old)
        if new is None:
            return old
        if old is None:
            return self._add(s, new)
        self.journal.replace(s.dp, old, new)
        self._record(new)
        return new

    def _entry(self, s: _Step, old: Element | None, build: Callable[[], Element]) -> Element | None:
        """The steps lists and leaf-lists share (RFC 7950 §7.7.9, §7.8.6)."""
        if s.op in _DELETING:
            return self._delete(s, old)
        _check_existence(s, old)
        if s.op is Operation.NONE:
            return old
        spec = self._insert_spec(s)
        if old is None:
            return self._add(s, build(), spec)
        if spec is not None:
            self._move(s, old, spec)
        return old

    def _edit_content(self, s: _Step, el: Element) -> None:
        touched = self._edit_children(s.sn, el, s.e, s.op, s.path)
        if s.op is Operation.REPLACE:
            self._replace_rest(s.sn, el, touched)

    def _replace_rest(self, ps: SchemaNode, el: Element, touched: list[Element]) -> None:
        """Finish a replace: drop what the edit did not mention and take its list order
        (RFC 7950 §7.8.6: "the list entry order is the same as the order of the XML
        elements in the request")."""
        keep = {id(t) for t in touched}
        for c in children(el):
            csn = ps.child(*split(c))
            if id(c) in keep or csn is None or not csn.config or _is_key(ps, c):
                continue
            self._remove(csn, el, c)
        for csn in ps.children.values():
            if csn.ordered_by_user:
                self._reorder(csn, el, [t for t in touched if t.tag == csn.qname])

    def _reorder(self, sn: SchemaNode, el: Element, wanted: list[Element]) -> None:
        """Put the entries of ``sn`` in the order of ``wanted``; report those moved."""
        current = list(el.iterchildren(sn.qname))
        order = list({id(w): w for w in [*wanted, *current] if w.getparent() is el}.values())
        for i, entry in enumerate(order):
            if i == 0 and entry is not current[0]:
                self.journal.add_before(current[0], entry)
            elif i > 0 and entry.getprevious() is not order[i - 1]:
                self.journal.add_after(order[i - 1], entry)
            else:
                continue
            self._record(entry)

    def _delete(self, s: _Step, old: Element | None) -> Element | None:
        """delete or remove; like every handler step, returns what is left in place."""
        if old is not None:
            self._remove(s.sn, s.dp, old)
        elif s.op is Operation.DELETE:
            raise s.error(DataMissing, f"{s.sn.name} does not exist")
        return None

    def _remove(self, sn: SchemaNode, dp: Element, el: Element) -> None:
        self.journal.remove(dp, el)
        self.result.removed.append((sn, dp))

    def _prune(self, sn: SchemaNode, dp: Element, el: Element, *, existed: bool) -> None:
        """Drop an emptied non-presence container; report it instead of its children."""
        self.journal.remove(dp, el)
        self.result.changed = [c for c in self.result.changed if c is not el]
        self.result.removed = [r for r in self.result.removed if r[1] is not el]
        if existed:
            self.result.removed.append((sn, dp))

    def _add(self, s: _Step, el: Element, spec: _InsertSpec | None = None) -> Element:
        """Place a new node and drop the other cases' nodes: "the creation of a node from
        one case implicitly deletes all nodes from all other cases" (RFC 7950 §7.9.2)."""
        self._clear_other_cases(s.sn, s.dp)
        if spec is None:
            self._place(s.sn, s.dp, el)
        else:
            self._place_user(s.sn, s.dp, el, spec)
        self._fresh[id(el)] = el
        self._record(el)
        return el

    def _record(self, el: Element) -> None:
        parent = el.getparent()
        if parent is not None and id(parent) in self._fresh:
            self._fresh[id(el)] = el  # inside a new subtree, whose root is reported
        elif id(el) not in self._reported:
            self._reported.add(id(el))
            self.result.changed.append(el)

    def _clear_other_cases(self, sn: SchemaNode, dp: Element) -> None:
        mine = {id(choice): case for choice, case in sn.choice_path}
        ps = sn.data_parent or sn
        for c in children(dp) if mine else ():
            csn = ps.child(*split(c))
            if csn is not None and any(
                id(ch) in mine and mine[id(ch)] is not cs for ch, cs in csn.choice_path
            ):
                self._remove(csn, dp, c)

    # -- placing elements ----------------------------------------------------------------

    def _order(self, ps: SchemaNode) -> dict[str, int]:
        """Rank of each child tag in schema order, keys first in a list (RFC 7950 §7.8.5)."""
        order = self._orders.get(id(ps))
        if order is None:
            names = list(ps.children)
            if ps.kind is Kind.LIST:
                keys = [(ps.namespace, k) for k in ps.keys]
                names = keys + [n for n in names if n not in keys]
            order = self._orders[id(ps)] = {qname(*n): i for i, n in enumerate(names)}
        return order

    def _place(self, sn: SchemaNode, dp: Element, el: Element) -> None:
        """Put ``el`` after its schema predecessors and its own earlier entries.

        The children are kept sorted, so the search runs from the end: appending an entry to
        a list, the common case, costs the same whatever the length of the list."""
        order = self._order(sn.data_parent or sn)
        rank = order[sn.qname]
        first = None
        for c in dp.iterchildren(reversed=True):
            if c is el or not isinstance(c.tag, str):
                continue
            if order.get(c.tag, len(order)) <= rank:
                self.journal.add_after(c, el)
                return
            first = c
        if first is not None:
            self.journal.add_before(first, el)
        else:
            self.journal.append(dp, el)

    def _place_user(self, sn: SchemaNode, dp: Element, el: Element, spec: _InsertSpec) -> None:
        where, anchor = spec
        entries = [c for c in dp.iterchildren(sn.qname) if c is not el]
        if anchor is not None:
            (self.journal.add_before if where == "before" else self.journal.add_after)(anchor, el)
        elif entries and where == "first":
            self.journal.add_before(entries[0], el)
        elif entries:
            self.journal.add_after(entries[-1], el)
        else:
            self._place(sn, dp, el)

    def _move(self, s: _Step, el: Element, spec: _InsertSpec) -> None:
        if spec[1] is el:
            return
        before = s.dp.index(el)
        self._place_user(s.sn, s.dp, el, spec)
        if s.dp.index(el) != before:
            self._record(el)

    def _insert_spec(self, s: _Step) -> _InsertSpec | None:
        """Read yang:insert and yang:key / yang:value (RFC 7950 §7.8.6, §7.7.9)."""
        where = s.e.get(_INSERT)
        if where is None:
            return None
        if where not in _INSERT_POINTS:
            raise s.error(
                BadAttribute,
                f"insert must be one of {', '.join(_INSERT_POINTS)}",
                info=[("bad-attribute", "insert"), ("bad-element", s.sn.name)],
                error_type=_APP,
            )
        if where in ("first", "last"):
            return where, None
        attr = _KEY if s.sn.kind is Kind.LIST else _VALUE
        ref, name = s.e.get(attr), etree.QName(attr).localname
        info = [("bad-attribute", name), ("bad-element", s.sn.name)]
        if ref is None:
            raise s.error(
                MissingAttribute,
                f"insert={where} needs the {name} attribute",
                info=info,
                error_type=_APP,
            )
        anchor = self._anchor(s, ref)
        if anchor is None:  # RFC 7950 §15.7
            raise s.error(
                BadAttribute,
                f"{name} {ref!r} names no existing entry",
                info=info,
                app_tag="missing-instance",
                error_type=_APP,
            )
        return where, anchor

    def _anchor(self, s: _Step, ref: str) -> Element | None:
        if s.sn.kind is Kind.LEAF_LIST:
            value = self.canon.canonical(s.sn, ref.strip(), s.e.nsmap)
            return None if value is None else self._find_value(s.sn, s.dp, value.text)
        given = _parse_predicates(ref)
        if given is None or sorted(given) != sorted(s.sn.keys):
            raise s.error(
                BadAttribute,
                f"key {ref!r} is not a predicate on each key of {s.sn.name}",
                info=[("bad-attribute", "key"), ("bad-element", s.sn.name)],
                error_type=_APP,
            )
        values = [self.canon.canonical(key_node(s.sn, k), given[k], s.e.nsmap) for k in s.sn.keys]
        texts = tuple(v.text for v in values if v is not None)
        return self._find_entry(s.sn, s.dp, texts) if len(texts) == len(values) else None

    # -- values ----------------------------------------------------------------------------

    def _keys(self, s: _Step) -> list[tuple[str, Value]]:
        """The entry's key values; each key must be present and only identify the entry."""
        out = []
        for k in s.sn.keys:
            kel = s.e.find(qname(s.sn.namespace, k))
            if kel is None:
                raise s.error(
                    MissingElement,
                    f"list entry without its key {k}",
                    info=[("bad-element", k)],
                    error_type=_APP,
                )
            ksn = key_node(s.sn, k)
            kpath = f"{s.path}/{ksn.prefix}:{k}"
            key = _Step(ksn, s.dp, kel, _operation(kel, Operation.MERGE, ksn, kpath), kpath)
            if key.op in _NOT_ON_KEYS:
                raise key.error(
                    BadAttribute,
                    f"key {k} is only created or deleted with its entry",
                    info=[("bad-attribute", "operation"), ("bad-element", k)],
                )
            _no_children(key)
            out.append((k, self._value(ksn, kel, key.path)))
        return out

    def _value(self, sn: SchemaNode, e: Element, path: str) -> Value:
        text = (e.text or "").strip()
        if self.check_value is not None:
            err = self.check_value(sn, text, e.nsmap)
            if err is not None:
                if err.path is None:
                    err.path, err.path_ns = path, _path_ns(sn)
                raise err
        value = self.canon.canonical(sn, text, e.nsmap)
        if value is None:
            raise _error(
                InvalidValue,
                f"{text!r} uses a prefix or identity that does not resolve",
                sn,
                path,
                info=[("bad-element", sn.name)],
            )
        return value

    def _find_entry(self, sn: SchemaNode, dp: Element, keys: tuple[str, ...]) -> Element | None:
        return self._find(sn, dp, lambda c: self.canon.key_of(sn, c), keys)

    def _find_value(self, sn: SchemaNode, dp: Element, text: str) -> Element | None:
        return self._find(sn, dp, lambda c: self.canon.stored(sn, c), text)

    def _find(
        self, sn: SchemaNode, dp: Element, keyfn: Callable[[Element], Hashable], key: Hashable
    ) -> Element | None:
        """The child of ``dp`` of ``sn`` whose key is ``key``: through the tree's index when
        the journal has one (store.py), else by a scan."""
        index = self.journal.index
        if index is not None:
            return index.find(dp, sn.qname, keyfn, key)
        return next((c for c in dp.iterchildren(sn.qname) if keyfn(c) == key), None)

    # -- namespaces ------------------------------------------------------------------------

    def _new(
        self,
        sn: SchemaNode,
        scope: NsMap,
        value: Value | None = None,
        parent: Element | None = None,
    ) -> Element:
        """A new element, detached or under ``parent``, for a place where ``scope`` is in
        scope, with the declarations _declarations says it needs there (lxml drops any
        other when the caller attaches it, through the journal)."""
        el = make(parent, sn.qname, {}, declarations(sn, scope, value))
        if value is not None and value.text:
            el.text = value.text
        return el

    def _new_entry(self, sn: SchemaNode, dp: Element, keys: list[tuple[str, Value]]) -> Element:
        entry = self._new(sn, dp.nsmap)
        inner = {**dp.nsmap, **declarations(sn, dp.nsmap)}
        for k, value in keys:
            self._new(key_node(sn, k), inner, value, entry)
        return entry


# -- helpers without state -------------------------------------------------------------------


def _operation(e: Element, inherited: Operation, sn: SchemaNode, path: str) -> Operation:
    raw = e.get(_OPERATION)
    if raw is None:
        return inherited
    try:
        return Operation(raw)
    except ValueError:
        raise _error(
            BadAttribute,
            f"operation must be one of {', '.join(Operation)}",
            sn,
            path,
            info=[("bad-attribute", "operation"), ("bad-element", sn.name)],
        ) from None


def _check_attributes(s: _Step) -> None:
    """NETCONF and YANG attributes must apply to the node; other attributes are ignored."""
    allowed = _USER_ORDER_ATTRS.get(s.sn.kind) if s.sn.ordered_by_user else None
    for attr in s.e.attrib:
        q = etree.QName(attr)
        if q.namespace in (BASE_NS, YANG_NS) and attr not in (allowed or {_OPERATION}):
            raise s.error(
                UnknownAttribute,
                f"attribute {q.localname} does not apply to {s.sn.name}",
                info=[("bad-attribute", q.localname), ("bad-element", s.sn.name)],
            )


def _check_existence(s: _Step, old: Element | None) -> None:
    """create needs absence, none needs presence (RFC 6241 §7.2)."""
    if old is not None and s.op is Operation.CREATE:
        raise s.error(DataExists, f"{s.sn.name} already exists")
    if old is None and s.op is Operation.NONE:
        raise s.error(DataMissing, f"{s.sn.name} does not exist")


def _no_children(s: _Step) -> None:
    if children(s.e):
        raise s.error(
            BadElement,
            f"{s.sn.name} is a {s.sn.kind} and cannot have child elements",
            info=[("bad-element", s.sn.name)],
            error_type=_APP,
        )


def _no_text(s: _Step) -> None:
    texts: Iterable[str | None] = [s.e.text, *(c.tail for c in s.e)]
    if any(t and t.strip() for t in texts):
        raise s.error(
            BadElement,
            f"{s.sn.name} is a {s.sn.kind} and cannot have a text value",
            info=[("bad-element", s.sn.name)],
            error_type=_APP,
        )


def _is_key(ps: SchemaNode, e: Element) -> bool:
    if ps.kind is not Kind.LIST or not isinstance(e.tag, str):
        return False
    ns, name = split(e)
    return ns == ps.namespace and name in ps.keys


def _parse_predicates(ref: str) -> dict[str, str] | None:
    """``[p:a='1'][p:b="2"]`` -> {a: 1, b: 2}; None unless the whole text parses."""
    out: dict[str, str] = {}
    pos = 0
    ref = ref.strip()
    while pos < len(ref):
        m = _PREDICATE.match(ref, pos)
        if m is None:
            return None
        out[m.group(1)] = m.group(2) if m.group(2) is not None else m.group(3)
        pos = m.end()
    return out or None


def _error(
    cls: type[RpcError],
    message: str,
    sn: SchemaNode | None,
    path: str,
    *,
    info: Iterable[tuple[str, str]] = (),
    app_tag: str | None = None,
    error_type: ErrorType | None = None,
) -> RpcError:
    """An error at ``path`` with its prefixes resolved and error-info in the base namespace."""
    return cls(
        message,
        error_type=error_type,
        app_tag=app_tag,
        path=path,
        path_ns=_path_ns(sn),
        info=[("", name, text) for name, text in info],
    )


def _quote(value: str) -> str:
    return f'"{value}"' if "'" in value else f"'{value}'"


def _path_ns(sn: SchemaNode | None) -> dict[str, str]:
    """Prefixes an error-path built from ``sn``'s ancestry uses."""
    out: dict[str, str] = {}
    while sn is not None and sn.parent is not None:
        out[sn.prefix] = sn.namespace
        sn = sn.parent
    return out


def _shape(el: Element) -> tuple[object, ...]:
    """Names, attributes, trimmed text and children: what anydata content is compared by."""
    text = (el.text or "").strip()
    return el.tag, sorted(el.attrib.items()), text, [_shape(c) for c in children(el)]
