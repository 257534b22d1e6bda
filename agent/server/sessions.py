"""The table of live NETCONF sessions: ids, users, and how to end one (kill-session)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from agent.errors import InvalidValue, OperationFailed


@dataclass(slots=True, eq=False)
class SessionInfo:
    session_id: int
    user: str
    source: str
    started: datetime
    # Ends the session from outside (kill-session, agent shutdown); set by the transport.
    terminate: Callable[[], None] = field(default=lambda: None, repr=False)
    # The session that killed this one (kill-session), for netconf-session-end (RFC 6470).
    killed_by: int | None = None
    in_rpcs: int = 0
    in_bad_rpcs: int = 0
    out_rpc_errors: int = 0


class Sessions:
    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._live: dict[int, SessionInfo] = {}

    def open(self, user: str, source: str, started: datetime) -> SessionInfo:
        info = SessionInfo(next(self._ids), user, source, started)
        self._live[info.session_id] = info
        return info

    def close(self, session_id: int) -> None:
        self._live.pop(session_id, None)

    def get(self, session_id: int) -> SessionInfo | None:
        return self._live.get(session_id)

    def all(self) -> list[SessionInfo]:
        return list(self._live.values())

    def kill(self, session_id: int, by: int) -> None:
        """kill-session (RFC 6241 §7.9): another live session, never one's own."""
        if session_id == by:
            raise InvalidValue(
                "kill-session cannot end the requesting session; use close-session",
                error_type=None,
            )
        target = self._live.get(session_id)
        if target is None:
            raise OperationFailed(f"no session with id {session_id}", error_type=None)
        target.killed_by = by
        target.terminate()

    def terminate_all(self) -> None:
        for info in list(self._live.values()):
            info.terminate()
