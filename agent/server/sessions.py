"""The table of live NETCONF sessions: ids, users, how to end one (kill-session), and the
per-session and server-wide counters of ietf-netconf-monitoring (RFC 6022)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

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
    out_notifications: int = 0

    @property
    def host(self) -> str | None:
        """The peer's address without its port ("address:port" from the transport)."""
        host = self.source.rpartition(":")[0].strip("[]")
        return host if host and host != "?" else None


@dataclass(slots=True)
class Statistics:
    """Server-wide counters since start-up (RFC 6022 /netconf-state/statistics)."""

    netconf_start_time: datetime
    in_bad_hellos: int = 0
    in_sessions: int = 0
    dropped_sessions: int = 0
    in_rpcs: int = 0
    in_bad_rpcs: int = 0
    out_rpc_errors: int = 0
    out_notifications: int = 0


class Sessions:
    def __init__(self, start_time: datetime | None = None) -> None:
        self._ids = itertools.count(1)
        self._live: dict[int, SessionInfo] = {}
        self.stats = Statistics(start_time or datetime.now(UTC))

    def open(self, user: str, source: str, started: datetime) -> SessionInfo:
        """A new session, whose hello is about to be sent (RFC 6022 in-sessions)."""
        info = SessionInfo(next(self._ids), user, source, started)
        self._live[info.session_id] = info
        self.stats.in_sessions += 1
        return info

    def close(self, session_id: int, *, dropped: bool = False) -> None:
        """``dropped``: ended other than by close-session or kill-session (RFC 6022)."""
        if self._live.pop(session_id, None) is not None and dropped:
            self.stats.dropped_sessions += 1

    # The counters: each event counts for its session and for the server.

    def bad_hello(self) -> None:
        self.stats.in_bad_hellos += 1

    def rpc_received(self, info: SessionInfo) -> None:
        info.in_rpcs += 1
        self.stats.in_rpcs += 1

    def bad_rpc_received(self, info: SessionInfo) -> None:
        info.in_bad_rpcs += 1
        self.stats.in_bad_rpcs += 1

    def rpc_error_sent(self, info: SessionInfo) -> None:
        info.out_rpc_errors += 1
        self.stats.out_rpc_errors += 1

    def notification_sent(self, info: SessionInfo) -> None:
        info.out_notifications += 1
        self.stats.out_notifications += 1

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
