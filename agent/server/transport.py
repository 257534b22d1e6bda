"""The SSH edge (RFC 6242): asyncssh server, authentication, the ``netconf`` subsystem.

The only importer of asyncssh.  It moves bytes between the SSH channel and a sans-I/O
:class:`~agent.server.session.ServerSession`, and owns the hello and idle timeouts.  Each
session runs in its own task, so a silent or slow client never delays another.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from agent.server import auth

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limits:
    max_message_size: int = 64 * 1024 * 1024
    hello_timeout: float = 60.0
    idle_timeout: float = 3600.0  # 0 disables; tools keep sessions open for long (INTEROP §2.8)
    max_sessions: int = 64


class Connection:
    """What the NETCONF layer needs from one SSH channel; implemented by the transport."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], user: str, peer: str) -> None:
        self._chan = chan
        self.user = user
        self.peer = peer
        # Bytes from the peer; b"" is EOF; None asks the session to end (kill, shutdown).
        self.inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.writable = asyncio.Event()
        self.writable.set()

    def write(self, data: bytes) -> None:
        if not self._chan.is_closing():
            self._chan.write(data)

    async def drain(self) -> None:
        """Wait while the peer's window is full: a client that does not read stalls only
        its own session."""
        await self.writable.wait()

    def close(self) -> None:
        self._chan.close()


SessionRunner = Callable[[Connection], Awaitable[None]]


class _NetconfChannel(asyncssh.SSHServerSession):  # type: ignore[type-arg]
    """Accepts only the ``netconf`` subsystem; a PTY request is accepted and ignored."""

    def __init__(self, runner: SessionRunner, user: str, peer: str) -> None:
        self._runner = runner
        self._user = user
        self._peer = peer
        self._conn: Connection | None = None
        self._chan: asyncssh.SSHServerChannel[bytes] | None = None
        self._task: asyncio.Task[None] | None = None

    def connection_made(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
        self._chan = chan

    def pty_requested(self, term_type: str, term_size: object, term_modes: object) -> bool:
        return True  # scrapli's system transport sends one (INTEROP.md §1)

    def shell_requested(self) -> bool:
        return False

    def exec_requested(self, command: str) -> bool:
        return False

    def subsystem_requested(self, subsystem: str) -> bool:
        return subsystem == "netconf"

    def session_started(self) -> None:
        assert self._chan is not None
        self._conn = Connection(self._chan, self._user, self._peer)
        self._task = asyncio.get_running_loop().create_task(self._run(self._conn))
        self._task.add_done_callback(_log_crash)

    async def _run(self, conn: Connection) -> None:
        try:
            await self._runner(conn)
        finally:
            conn.close()

    def pause_writing(self) -> None:
        if self._conn is not None:
            self._conn.writable.clear()

    def resume_writing(self) -> None:
        if self._conn is not None:
            self._conn.writable.set()

    def data_received(self, data: bytes, datatype: object) -> None:
        if self._conn is not None and data:
            self._conn.inbox.put_nowait(bytes(data))

    def eof_received(self) -> bool:
        if self._conn is not None:
            self._conn.inbox.put_nowait(b"")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._conn.inbox.put_nowait(b"")
            self._conn.writable.set()


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("session task crashed", exc_info=task.exception())


class _SSHServer(asyncssh.SSHServer):
    def __init__(self, users: dict[str, auth.User], runner: SessionRunner) -> None:
        self._users = users
        self._runner = runner
        self._user = ""
        self._peer = ""

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        peer = conn.get_extra_info("peername") or ("?", 0)
        self._peer = f"{peer[0]}:{peer[1]}"

    def begin_auth(self, username: str) -> bool:
        self._user = username
        return True

    def password_auth_supported(self) -> bool:
        return True

    async def validate_password(self, username: str, password: str) -> bool:
        user = self._users.get(username)
        if user is None or user.password_hash is None:
            return False
        # scrypt is deliberately slow: keep it off the event loop.
        ok = await asyncio.get_running_loop().run_in_executor(
            None, auth.verify_password, password, user.password_hash
        )
        if not ok:
            log.warning("password authentication failed for %r from %s", username, self._peer)
        return ok

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        user = self._users.get(username)
        if user is None:
            return False
        offered = auth.key_blob(key.export_public_key().decode("ascii"))
        return any(auth.key_blob(line) == offered for line in user.authorized_keys)

    def session_requested(self) -> _NetconfChannel:
        return _NetconfChannel(self._runner, self._user, self._peer)


def load_or_create_host_key(path: Path) -> asyncssh.SSHKey:
    """The Ed25519 host key (INTEROP.md §2.8: paramiko 5 and libssh2 both accept it)."""
    if path.exists():
        return asyncssh.read_private_key(str(path))
    key = asyncssh.generate_private_key("ssh-ed25519")
    path.parent.mkdir(parents=True, exist_ok=True)
    key.write_private_key(str(path))
    path.chmod(0o600)
    key.write_public_key(str(path) + ".pub")
    return key


def host_key_fingerprint(key: asyncssh.SSHKey) -> str:
    return key.get_fingerprint("sha256")


async def listen(
    host: str,
    port: int,
    host_key: asyncssh.SSHKey,
    users: dict[str, auth.User],
    runner: SessionRunner,
) -> asyncssh.SSHAcceptor:
    return await asyncssh.listen(
        host,
        port,
        server_factory=lambda: _SSHServer(users, runner),
        server_host_keys=[host_key],
        encoding=None,
        line_editor=False,
        allow_pty=True,
        login_timeout=60,
    )


__all__ = ["Connection", "Limits", "listen", "load_or_create_host_key"]
