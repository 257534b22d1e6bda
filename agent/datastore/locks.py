"""Global datastore locks (RFC 6241 §7.5, §7.6): one holder per datastore, released by
unlock or when the holder's session ends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from agent.errors import LockDenied, OperationFailed


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Locks:
    def __init__(self, now: Callable[[], datetime] = _utc_now) -> None:
        self._now = now
        self._holders: dict[str, int] = {}
        # When each lock was taken: ietf-netconf-monitoring's locked-time (RFC 6022).
        self._since: dict[str, datetime] = {}

    def holder(self, datastore: str) -> int | None:
        return self._holders.get(datastore)

    def held(self) -> dict[str, int]:
        return dict(self._holders)

    def locked_since(self, datastore: str) -> datetime | None:
        return self._since.get(datastore)

    def lock(self, datastore: str, session_id: int) -> None:
        holder = self._holders.get(datastore)
        if holder is not None:
            raise LockDenied(
                f"the {datastore} datastore is locked by session {holder}", holder=holder
            )
        self._holders[datastore] = session_id
        self._since[datastore] = self._now()

    def unlock(self, datastore: str, session_id: int) -> None:
        holder = self._holders.get(datastore)
        if holder != session_id:
            # RFC 6241 §7.6: unlocking a lock not held by this session fails.
            raise OperationFailed(
                f"the {datastore} datastore is not locked by this session",
                error_type=None,
            )
        self._release(datastore)

    def check_write(self, datastore: str, session_id: int) -> None:
        """Refuse a write by anyone but the lock holder."""
        holder = self._holders.get(datastore)
        if holder is not None and holder != session_id:
            raise LockDenied(
                f"the {datastore} datastore is locked by session {holder}", holder=holder
            )

    def release_all(self, session_id: int) -> list[str]:
        released = [ds for ds, sid in self._holders.items() if sid == session_id]
        for ds in released:
            self._release(ds)
        return released

    def _release(self, datastore: str) -> None:
        del self._holders[datastore]
        del self._since[datastore]
