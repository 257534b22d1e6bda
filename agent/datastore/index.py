"""List entries and leaf-list values by key, per parent element.

Finding one entry among 10,000 by scanning costs about 50 ms in Python; with this index an
edit of one entry costs the same whatever the size of its list.  The index is kept current by
the :class:`~agent.datastore.journal.Journal` (every structural change of an indexed tree goes
through one) and checks each hit, so a stale map is rebuilt rather than trusted.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from agent.xmlutil import Element

KeyFn = Callable[[Element], Hashable]


@dataclass(slots=True)
class _Map:
    keyfn: KeyFn
    entries: dict[Hashable, Element]


@dataclass(slots=True)
class EntryIndex:
    # Keyed by the parent element itself: lxml keeps one proxy per node while it is
    # referenced, so the key stays valid for as long as the map holds it.
    _maps: dict[tuple[Element, str], _Map] = field(default_factory=dict)

    def find(self, parent: Element, tag: str, keyfn: KeyFn, key: Hashable) -> Element | None:
        m = self._maps.get((parent, tag))
        if m is None:
            m = self._build(parent, tag, keyfn)
        hit = m.entries.get(key)
        if hit is not None and (hit.getparent() is not parent or keyfn(hit) != key):
            m = self._build(parent, tag, keyfn)
            hit = m.entries.get(key)
        return hit

    def _build(self, parent: Element, tag: str, keyfn: KeyFn) -> _Map:
        m = _Map(keyfn, {})
        for child in parent.iterchildren(tag):
            m.entries.setdefault(keyfn(child), child)
        self._maps[(parent, tag)] = m
        return m

    def attached(self, el: Element) -> None:
        """``el`` now has a parent: record it if that parent's list is indexed."""
        parent = el.getparent()
        m = self._maps.get((parent, el.tag)) if parent is not None else None
        if m is not None:
            m.entries.setdefault(m.keyfn(el), el)

    def detached(self, el: Element) -> None:
        """``el`` is about to leave its parent."""
        parent = el.getparent()
        m = self._maps.get((parent, el.tag)) if parent is not None else None
        if m is not None:
            key = m.keyfn(el)
            if m.entries.get(key) is el:
                del m.entries[key]

    def clear(self) -> None:
        self._maps.clear()
