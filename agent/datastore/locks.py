"""Global datastore locks (RFC 6241 §7.5, §7.6): one holder per datastore, released by
unlock or when the holder's session ends."""

from __future__ import annotations

from agent.errors import LockDenied, OperationFailed


class Locks:
    def __init__(self) -> None:
        self._holders: dict[str, int] = {}

    def holder(self, datastore: str) -> int | None:
        return self._holders.get(datastore)

    def held(self) -> dict[str, int]:
        return dict(self._holders)

    def lock(self, datastore: str, session_id: int) -> None:
        holder = self._holders.get(datastore)
        if holder is not None:
            raise LockDenied(
                f"the {datastore} datastore is locked by session {holder}", holder=holder
            )
        self._holders[datastore] = session_id

    def unlock(self, datastore: str, session_id: int) -> None:
        holder = self._holders.get(datastore)
        if holder != session_id:
            # RFC 6241 §7.6: unlocking a lock not held by this session fails.
            raise OperationFailed(
                f"the {datastore} datastore is not locked by this session",
                error_type=None,
            )
        del self._holders[datastore]

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
            del self._holders[ds]
        return released
