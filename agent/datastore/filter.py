"""Subtree filtering (RFC 6241 §6): select parts of a datastore tree for get and get-config.

The filter is evaluated as §6.3 describes: each sibling set of the filter against each data
node it may apply to, from the root down.  Within a sibling set content match nodes are
AND-ed (§6.2.5); sibling filter elements naming the same node are OR-ed per data instance
(the three ``<user>`` filters of §6.4.7).  The selection is marked first and the rest is
pruned from a copy at the end, so that an instance selected by several filters appears once,
in datastore order, with the union of what they selected.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from agent.datastore.schema import Kind, Schema, SchemaNode
from agent.xmlutil import Element, children, split


def subtree_filter(data: Element, filter_el: Element, *, schema: Schema | None = None) -> Element:
    """A new element like ``data`` (a datastore root) holding copies of what ``filter_el``
    (a ``<filter type="subtree">``) selects.

    An empty filter selects nothing (RFC 6241 §6.4.2).  With ``schema``, every list entry in
    the output carries its keys even when the filter did not select them: §6.2.5 allows
    this ("MAY also be included"), and clients need keys to tell entries apart.
    """
    marks = _Marks()
    filters = children(filter_el)
    if filters:
        _evaluate(data, filters, marks, schema.root if schema else None, top=True)
    # Copy everything at C speed, then drop what is not selected: whole subtrees are never
    # walked in Python, and every namespace declaration stays where it was, which keeps
    # prefixes in values (identityref) resolvable.
    out = copy.deepcopy(data)
    _prune(data, out, marks)
    return out


def top_level_names(filter_el: Element) -> Callable[[str, str], bool]:
    """Which top-level data nodes, by (namespace, name), a subtree filter can select: the
    datastore builds only those for a <get> (a filter node without a namespace names its
    local name in every module, §6.2.1)."""
    names = {split(f) for f in children(filter_el)}
    any_ns = {name for ns, name in names if not ns}
    return lambda ns, name: (ns, name) in names or name in any_ns


class _Result(Enum):
    NOTHING = 0
    PART = 1  # some descendants selected
    ALL = 2  # the whole subtree selected


@dataclass
class _Marks:
    """Selected data elements by id (the elements are kept, so ids stay unique)."""

    whole: dict[int, Element] = field(default_factory=dict)
    part: dict[int, Element] = field(default_factory=dict)

    def mark(self, el: Element, result: _Result) -> None:
        if result is _Result.ALL:
            self.whole[id(el)] = el
        elif result is _Result.PART:
            self.part[id(el)] = el


class _Kind(Enum):
    CONTAINMENT = 1  # has child elements (§6.2.3)
    SELECTION = 2  # empty or whitespace only (§6.2.4)
    CONTENT = 3  # text (§6.2.5)


def _kind(f: Element) -> _Kind:
    if children(f):
        return _Kind.CONTAINMENT
    return _Kind.CONTENT if (f.text or "").strip() else _Kind.SELECTION


def _evaluate(
    d: Element, filters: list[Element], marks: _Marks, sn: SchemaNode | None, *, top: bool = False
) -> _Result:
    """Apply one sibling set to the children of ``d``, which matched the parent filter node.

    Content match nodes first: if one finds no match, nothing here is selected.  If they are
    all there is, the whole of ``d`` is selected (§6.2.5: "If no selection nodes are present
    in the sibling set, then all the nodes in the relevant data model are included") --
    except at the top, where ``d`` is the datastore itself, so only the matches are.
    """
    content = [f for f in filters if _kind(f) is _Kind.CONTENT]
    others = [f for f in filters if _kind(f) is not _Kind.CONTENT]
    matched: list[Element] = []
    for f in content:
        hits = [c for c in children(d) if _matches(c, f) and _same_content(c, f)]
        if not hits:
            return _Result.NOTHING
        matched += hits
    if not others and not top:
        return _Result.ALL
    for c in matched:
        marks.mark(c, _Result.ALL)
    selected = bool(matched)
    for f in others:
        selected = _apply(d, f, marks, sn) or selected
    if selected and sn is not None and sn.kind is Kind.LIST:
        _mark_keys(d, sn, marks)
    return _Result.PART if selected else _Result.NOTHING


def _apply(d: Element, f: Element, marks: _Marks, sn: SchemaNode | None) -> bool:
    """Apply a selection or containment node to each child of ``d`` it names."""
    selected = False
    for c in d.iterchildren(_tag_pattern(f)):
        if not _attributes_match(c, f):
            continue
        if _kind(f) is _Kind.SELECTION:
            result = _Result.ALL
        else:
            csn = sn.child(*split(c)) if sn is not None else None
            result = _evaluate(c, children(f), marks, csn)
        marks.mark(c, result)
        selected = selected or result is not _Result.NOTHING
    return selected


def _mark_keys(entry: Element, sn: SchemaNode, marks: _Marks) -> None:
    for c in children(entry):
        ns, name = split(c)
        if ns == sn.namespace and name in sn.keys:
            marks.mark(c, _Result.ALL)


def _matches(c: Element, f: Element) -> bool:
    """Same local name; same namespace unless the filter node has none (§6.2.1: then "the
    server MUST evaluate all the XML namespaces it supports"); and every attribute of the
    filter node present with the same value (§6.2.2; no wildcard for attributes)."""
    fns, fname = split(f)
    cns, cname = split(c)
    if fname != cname or (fns and fns != cns):
        return False
    return _attributes_match(c, f)


def _tag_pattern(f: Element) -> str:
    """The lxml tag pattern for the data nodes ``f`` can match (see _matches)."""
    fns, fname = split(f)
    return f"{{{fns}}}{fname}" if fns else f"{{*}}{fname}"


def _attributes_match(c: Element, f: Element) -> bool:
    return all(c.get(k) == v for k, v in f.attrib.items())


def _same_content(c: Element, f: Element) -> bool:
    """Exact match after trimming (§6.2.5); a prefixed name compares by namespace, so an
    identityref matches whatever prefixes the filter and the datastore use."""
    if children(c):
        return False
    want, have = (f.text or "").strip(), (c.text or "").strip()
    if want == have:
        return True
    resolved = _resolve(c, have)
    return resolved is not None and resolved == _resolve(f, want)


def _resolve(el: Element, text: str) -> tuple[str, str] | None:
    prefix, sep, name = text.partition(":")
    ns = el.nsmap.get(prefix) if sep and prefix and ":" not in name else None
    return (ns, name) if ns else None


def _prune(src: Element, out: Element, marks: _Marks) -> None:
    """Remove from ``out`` (a copy of ``src``) every child not marked in ``src``."""
    for s, o in zip(children(src), children(out), strict=True):
        if id(s) in marks.whole:
            continue
        if id(s) in marks.part:
            _prune(s, o, marks)
        else:
            out.remove(o)
