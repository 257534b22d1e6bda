"""Commit side effect for /trustpoints/trustpoint: a trustpoint removed from config loses its
CA and local certificates and any pending or failed enrollment, as `no crypto ca trustpoint`
does on IOS XR.  Re-adding the name later starts from nothing (authenticate again).

The removal is undoable: apply keeps the records it removed in memory and undo writes them
back, so a commit that fails after this step (a later subscriber, the commit log write)
leaves certificates and enrollments exactly as they were.  A confirmed commit removes nothing
until it is confirmed (so a rollback finds the certificates); when it resolves, every stored
trustpoint the resolved config no longer has is dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from agent.datastore.store import CommitKind, Removed
from agent.ops._config import TP_NS, trustpoint_names
from agent.pki.pending import PendingEnrollment, PendingStore
from agent.pki.trustpoints import TrustpointRecord, TrustpointStore
from agent.xmlutil import Element

log = logging.getLogger(__name__)
# A trustpoint entry goes with itself or with its list's container.
_ENTRIES = frozenset({(TP_NS, "trustpoint"), (TP_NS, "trustpoints")})


class TrustpointRemovalSubscriber:
    """The commit subscriber for removed trustpoints (a CommitSubscriber)."""

    def __init__(self, certs: TrustpointStore, pending: PendingStore) -> None:
        self._certs = certs
        self._pending = pending

    def prepare(
        self,
        old: Element,
        new: Element,
        kind: CommitKind = CommitKind.NORMAL,
        removed: Removed = None,
    ) -> TrustpointRemoval | None:
        if kind is CommitKind.TENTATIVE or (removed is not None and not removed & _ENTRIES):
            return None  # nothing removed yet, or no trustpoint entry among what was
        kept = set(trustpoint_names(new))
        gone = set(trustpoint_names(old)) - kept
        if kind is CommitKind.RESOLVE:
            gone |= set(self._certs.names()) - kept
        if not gone:
            return None
        return TrustpointRemoval(self._certs, self._pending, sorted(gone))


@dataclass(slots=True)
class TrustpointRemoval:
    """The trustpoint work of one commit (a CommitAction)."""

    certs: TrustpointStore
    pending: PendingStore
    names: list[str]
    saved: list[tuple[TrustpointRecord, PendingEnrollment | None]] = field(default_factory=list)

    def precompute(self) -> None:
        """Nothing slow to do ahead of apply."""

    def apply(self) -> None:
        for name in self.names:
            record, enrollment = self.certs.get(name), self.pending.get(name)
            self.saved.append((record, enrollment))
            gone = self.certs.remove_all(name)
            self.pending.remove(name)
            log.info(
                "trustpoint %s removed from config: %d certificate(s)%s dropped",
                name, len(gone), " and its enrollment" if enrollment else "",
            )  # fmt: skip

    def undo(self) -> None:
        for record, enrollment in reversed(self.saved):
            self.certs.restore(record)
            if enrollment is not None:
                self.pending.put(enrollment)
        self.saved.clear()
