"""The durable record of a pending confirmed commit (RFC 6241 §8.4).

While a confirmed commit waits for its confirmation, the agent must be able to go back to the
running configuration from before it, even across a restart: the record holds that rollback
point, the deadline (wall-clock seconds), the persist token and the session that must confirm
when there is none.  It is written (fsynced) before the confirmed commit changes running, so a
crash in between leaves a rollback point equal to running, and rolling back is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from agent import xmlutil
from agent.durable import atomic_write, fsync_dir
from agent.xmlutil import Element

_NS = "urn:netconf-pki-agent:confirmed-commit"


@dataclass(frozen=True, slots=True)
class ConfirmOptions:
    """The parameters of a confirmed commit (<confirmed/>, <confirm-timeout>, <persist>)."""

    timeout: float = 600.0
    persist: str | None = None


@dataclass(frozen=True, slots=True)
class PendingConfirm:
    """A confirmed commit waiting for its confirming commit."""

    rollback: Element  # running as it was before the first confirmed commit
    deadline: float
    persist: str | None
    owner: int | None  # the session that must confirm; None once persist is given


class ConfirmFile:
    """One file in the state directory; absent when no confirmed commit is pending."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def save(self, pending: PendingConfirm) -> None:
        root = xmlutil.root(_NS, "confirmed-commit")
        root.set("deadline", repr(pending.deadline))
        if pending.persist is not None:
            root.set("persist", pending.persist)
        if pending.owner is not None:
            root.set("owner", str(pending.owner))
        root.append(_copy(pending.rollback))
        atomic_write(self.path, etree.tostring(root, encoding="utf-8"))

    def load(self) -> PendingConfirm | None:
        if not self.path.exists():
            return None
        root = xmlutil.parse(self.path.read_bytes())
        owner = root.get("owner")
        return PendingConfirm(
            rollback=_copy(xmlutil.children(root)[0]),
            deadline=float(root.get("deadline", "0")),
            persist=root.get("persist"),
            owner=int(owner) if owner is not None else None,
        )

    def clear(self) -> None:
        if self.path.exists():
            self.path.unlink()
            fsync_dir(self.path.parent)


def _copy(el: Element) -> Element:
    out: Element = etree.fromstring(etree.tostring(el))
    return out
