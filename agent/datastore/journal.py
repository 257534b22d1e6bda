"""An undo log for in-place tree edits.

Edits change the datastore tree in place, so their cost follows the size of the edit and not
of the datastore; every structural change goes through a :class:`Journal`, which records
where the moved element was so the whole edit can be undone in reverse order (a failed
rollback-on-error edit, discard-changes, a commit whose side effects fail).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.datastore.index import EntryIndex
from agent.xmlutil import Element


@dataclass(slots=True)
class _Step:
    el: Element
    parent: Element | None  # where el was before the step (None: it was detached)
    index: int


@dataclass(slots=True)
class Journal:
    """Undo log of one or more edits; ``index`` (of the edited tree) is kept current."""

    index: EntryIndex | None = None
    _steps: list[_Step] = field(default_factory=list)

    def _remember(self, el: Element) -> None:
        parent = el.getparent()
        self._steps.append(_Step(el, parent, parent.index(el) if parent is not None else -1))
        if parent is not None and self.index is not None:
            self.index.detached(el)

    def _attached(self, *els: Element) -> None:
        if self.index is not None:
            for el in els:
                self.index.attached(el)

    def append(self, parent: Element, el: Element) -> None:
        self._remember(el)
        parent.append(el)
        self._attached(el)

    def add_before(self, anchor: Element, el: Element) -> None:
        self._remember(el)
        anchor.addprevious(el)
        self._attached(el)

    def add_after(self, anchor: Element, el: Element) -> None:
        self._remember(el)
        anchor.addnext(el)
        self._attached(el)

    def remove(self, parent: Element, el: Element) -> None:
        self._remember(el)
        parent.remove(el)

    def replace(self, parent: Element, old: Element, new: Element) -> None:
        self._remember(new)
        self._remember(old)
        parent.replace(old, new)
        self._attached(new)

    def __len__(self) -> int:
        return len(self._steps)

    def extend(self, other: Journal) -> None:
        """Take over ``other``'s steps (same tree, same index)."""
        self._steps.extend(other._steps)

    def undo(self) -> None:
        """Put every element back where it was, newest step first."""
        while self._steps:
            step = self._steps.pop()
            current = step.el.getparent()
            # Detach first: lxml's insert() counts the index with the element still in place.
            if current is not None:
                if self.index is not None:
                    self.index.detached(step.el)
                current.remove(step.el)
            if step.parent is not None:
                step.parent.insert(step.index, step.el)
                self._attached(step.el)

    def clear(self) -> None:
        self._steps.clear()
