"""A minimal synchronous NETCONF-over-SSH client for tools/bench.py.

Why not ncclient: stock ncclient 0.7.1 hands every request to a transport thread that polls
its send queue every 100 ms and leaves Nagle's algorithm on, so a round trip would measure the
client.  This speaks just enough NETCONF (RFC 6241, RFC 6242) to measure a server: its own
socket with TCP_NODELAY, the ``netconf`` subsystem, the hello exchange, base:1.1 chunked
framing when both sides offer it (else end-of-message), and blocking reads straight from the
SSH channel, with no polling thread and no sleeps.  paramiko or asyncssh carries the session.
The SSH host key is not verified: benchmarks only, on networks you trust.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from lxml import etree

BASE_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
BASE_1_0 = "urn:ietf:params:netconf:base:1.0"
BASE_1_1 = "urn:ietf:params:netconf:base:1.1"
EOM = b"]]>]]>"
MAX_CHUNK = 4294967295  # RFC 6242 §4.2
RECV_SIZE = 1 << 20
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


def target_parser(doc: str) -> tuple[argparse.ArgumentParser, argparse._SubParsersAction[Any]]:
    """The command line the agent benchmarks share: where the server is, who logs in, the SSH
    library; the caller adds one sub-command per row."""
    p = argparse.ArgumentParser(
        description=doc.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=830)
    p.add_argument("--user", default="admin")
    p.add_argument("--password-file", type=Path, required=True)
    p.add_argument("--ssh", choices=("paramiko", "asyncssh"), default="paramiko")
    return p, p.add_subparsers(dest="row", required=True)


def target_of(args: argparse.Namespace) -> Target:
    password = args.password_file.read_text().splitlines()[0].strip()
    return Target(args.host, args.port, args.user, password)


class BenchError(Exception):
    """Anything that ends the run: connection trouble, a framing error, an rpc-error."""


# -- SSH byte channels ----------------------------------------------------------------------


class ByteChannel(Protocol):
    """One SSH session channel running the ``netconf`` subsystem, as blocking calls."""

    def send(self, data: bytes) -> None: ...

    def recv(self) -> bytes:
        """The next bytes from the server; b"" at end of file."""
        ...

    def close(self) -> None: ...

    @property
    def cipher(self) -> str:
        """The negotiated client-to-server cipher, for the report."""
        ...


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    user: str
    password: str | None
    key_file: Path | None = None  # public-key authentication instead of a password
    timeout: float = 30.0


def nodelay_socket(target: Target) -> socket.socket:
    """A connected TCP socket with Nagle's algorithm off: requests are small and must leave
    at once, not wait for the previous segment's ACK."""
    try:
        sock = socket.create_connection((target.host, target.port), timeout=target.timeout)
    except OSError as exc:
        raise BenchError(f"cannot connect to {target.host}:{target.port}: {exc}") from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


# AES-GCM first: cheap on both sides (AES-NI), so the server's crypto cost stays small and
# comparable between servers; the rest is fallback.  (asyncssh's own preference,
# chacha20-poly1305, roughly doubled a small round trip against an asyncssh server.)
CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes256-ctr",
    "chacha20-poly1305@openssh.com",
)


class ParamikoChannel:
    """paramiko: its transport thread reads the socket; recv() blocks on the channel."""

    def __init__(self, target: Target) -> None:
        # installed with ncclient (the project's test extras), so imported only when used
        import paramiko

        self._transport = paramiko.Transport(nodelay_socket(target))
        opts = self._transport.get_security_options()
        opts.ciphers = [c for c in CIPHERS if c in opts.ciphers] + [
            c for c in opts.ciphers if c not in CIPHERS
        ]
        try:
            self._transport.start_client(timeout=target.timeout)
            if target.key_file is not None:
                key = paramiko.PKey.from_path(target.key_file)
                self._transport.auth_publickey(target.user, key)
            else:
                self._transport.auth_password(target.user, target.password or "")
            self._chan = self._transport.open_session(timeout=target.timeout)
            self._chan.invoke_subsystem("netconf")
        except (paramiko.SSHException, OSError, ValueError) as exc:
            self._transport.close()
            raise BenchError(f"SSH: {exc}") from None

    @property
    def cipher(self) -> str:
        return str(self._transport.local_cipher)

    def send(self, data: bytes) -> None:
        self._chan.sendall(data)

    def recv(self) -> bytes:
        return bytes(self._chan.recv(RECV_SIZE))

    def close(self) -> None:
        self._chan.close()
        self._transport.close()


class AsyncsshChannel:
    """asyncssh in the calling thread: writes go straight to the socket, recv() runs the
    event loop only until the channel has delivered data."""

    def __init__(self, target: Target) -> None:
        import asyncssh  # a dependency of the agent, so installed with it

        self._loop = asyncio.new_event_loop()
        self._buf = bytearray()
        self._eof = False
        self._waiter: asyncio.Future[None] | None = None
        try:
            self._conn, self._chan = self._loop.run_until_complete(self._open(asyncssh, target))
        except (asyncssh.Error, OSError, ValueError) as exc:
            self._loop.close()
            raise BenchError(f"SSH: {exc}") from None

    async def _open(self, asyncssh: Any, target: Target) -> tuple[Any, Any]:
        conn = await asyncssh.connect(
            sock=nodelay_socket(target),
            username=target.user,
            password=target.password,
            known_hosts=None,  # host key not verified (benchmark tool)
            client_keys=[str(target.key_file)] if target.key_file else None,
            agent_path=None,
            config=None,
            preferred_auth="publickey" if target.key_file else "password",
            encryption_algs=list(CIPHERS),
            connect_timeout=target.timeout,
        )
        chan, _ = await conn.create_session(
            _asyncssh_session(asyncssh, self), subsystem="netconf", encoding=None
        )
        return conn, chan

    @property
    def cipher(self) -> str:
        return str(self._conn.get_extra_info("send_cipher"))

    def _wake(self, data: bytes | None) -> None:
        """Called by the session when data or end of file arrive."""
        if data is None:
            self._eof = True
        else:
            self._buf += data
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def send(self, data: bytes) -> None:
        self._chan.write(data)

    def recv(self) -> bytes:
        while not self._buf and not self._eof:
            self._waiter = self._loop.create_future()
            self._loop.run_until_complete(self._waiter)
        data = bytes(self._buf)
        self._buf.clear()
        return data

    def close(self) -> None:
        self._conn.close()
        self._loop.run_until_complete(self._conn.wait_closed())
        self._loop.close()


def _asyncssh_session(asyncssh: Any, owner: AsyncsshChannel) -> Callable[[], Any]:
    """A factory of asyncssh client sessions that hand data and end of file to ``owner``
    (a class made here because asyncssh is imported lazily)."""

    class Session(asyncssh.SSHClientSession):  # type: ignore[misc]
        def data_received(self, data: bytes, datatype: object) -> None:
            owner._wake(data)

        def eof_received(self) -> bool:
            owner._wake(None)
            return False

        def connection_lost(self, exc: Exception | None) -> None:
            owner._wake(None)

    return Session


BACKENDS: dict[str, Callable[[Target], ByteChannel]] = {
    "asyncssh": AsyncsshChannel,
    "paramiko": ParamikoChannel,
}


# -- RFC 6242 framing -----------------------------------------------------------------------


class FrameReader:
    """Whole NETCONF messages from a byte channel, in either framing."""

    def __init__(self, recv: Callable[[], bytes]) -> None:
        self._recv = recv
        self._buf = bytearray()

    def _fill(self) -> None:
        data = self._recv()
        if not data:
            raise BenchError("the server closed the session")
        self._buf += data

    def read_eom(self) -> bytes:
        start = 0
        while (end := self._buf.find(EOM, start)) < 0:
            start = max(0, len(self._buf) - len(EOM) + 1)
            self._fill()
        msg = bytes(self._buf[:end])
        del self._buf[: end + len(EOM)]
        return msg

    def read_chunked(self) -> bytes:
        out = bytearray()
        while (size := self._chunk_header()) is not None:
            while len(self._buf) < size:
                self._fill()
            out += self._buf[:size]
            del self._buf[:size]
        return bytes(out)

    def _chunk_header(self) -> int | None:
        """Consume one ``\\n#SIZE\\n`` header and return SIZE, or None for ``\\n##\\n``."""
        while (nl := self._buf.find(b"\n", 1)) < 0 and len(self._buf) <= 13:
            self._fill()
        header = bytes(self._buf[: nl + 1]) if nl > 0 else bytes(self._buf[:14])
        token = header[2:-1]
        if (
            nl < 0
            or not header.startswith(b"\n#")
            or not (
                token == b"#" or (token.isdigit() and token[:1] != b"0" and int(token) <= MAX_CHUNK)
            )
        ):
            raise BenchError(f"bad chunk header: {bytes(self._buf[:20])!r}")
        del self._buf[: nl + 1]
        return None if token == b"#" else int(token)


def frame(data: bytes, chunked: bool) -> bytes:
    if chunked:
        return b"\n#%d\n%s\n##\n" % (len(data), data) if data else b"\n##\n"
    return data + EOM


# -- NETCONF session ------------------------------------------------------------------------


def qn(name: str) -> str:
    return f"{{{BASE_NS}}}{name}"


def rpc_errors(reply: etree._Element) -> list[str]:
    """Each rpc-error of a reply as one line: tag, app-tag, path, message."""
    out = []
    for err in reply.iter(qn("rpc-error")):
        parts = [err.findtext(qn("error-tag")) or "?"]
        if app_tag := err.findtext(qn("error-app-tag")):
            parts.append(f"app-tag {app_tag}")
        if path := err.findtext(qn("error-path")):
            parts.append(f"path {path.strip()}")
        if message := err.findtext(qn("error-message")):
            parts.append(message.strip())
        out.append(": ".join(parts))
    return out


class Netconf:
    """A synchronous NETCONF session: one request, one reply, nothing in between."""

    def __init__(self, channel: ByteChannel, *, allow_base11: bool = True) -> None:
        self._chan = channel
        self._reader = FrameReader(channel.recv)
        self._message_id = 0
        self.server_capabilities: tuple[str, ...] = ()
        self.session_id = ""
        self.chunked = False
        self.cipher = channel.cipher
        self._hello(allow_base11)

    @classmethod
    def connect(cls, backend: str, target: Target, *, allow_base11: bool = True) -> Netconf:
        channel = BACKENDS[backend](target)
        try:
            return cls(channel, allow_base11=allow_base11)
        except BaseException:
            channel.close()
            raise

    def _hello(self, allow_base11: bool) -> None:
        caps = [BASE_1_0, BASE_1_1] if allow_base11 else [BASE_1_0]
        body = "".join(f"<capability>{c}</capability>" for c in caps)
        hello = f'<hello xmlns="{BASE_NS}"><capabilities>{body}</capabilities></hello>'
        self._chan.send(frame(hello.encode(), chunked=False))
        root = _parse(self._reader.read_eom(), "hello")
        self.server_capabilities = tuple(
            (c.text or "").strip() for c in root.iter(qn("capability"))
        )
        self.session_id = root.findtext(qn("session-id")) or ""
        self.chunked = allow_base11 and BASE_1_1 in self.server_capabilities

    def rpc_raw(self, operation: str) -> tuple[int, bytes]:
        """Send one operation; return (ns from send until the whole reply arrived, reply)."""
        self._message_id += 1
        msg = f'<rpc xmlns="{BASE_NS}" message-id="{self._message_id}">{operation}</rpc>'
        data = frame(msg.encode(), self.chunked)
        start = time.perf_counter_ns()
        self._chan.send(data)
        raw = self._reader.read_chunked() if self.chunked else self._reader.read_eom()
        return time.perf_counter_ns() - start, raw

    def send_rpc(self, operation: str) -> None:
        """Send one operation without waiting for its reply (read it with read_message)."""
        self._message_id += 1
        msg = f'<rpc xmlns="{BASE_NS}" message-id="{self._message_id}">{operation}</rpc>'
        self._chan.send(frame(msg.encode(), self.chunked))

    def read_message(self, what: str) -> etree._Element:
        """The next message from the server, whatever it is (a reply or a notification)."""
        raw = self._reader.read_chunked() if self.chunked else self._reader.read_eom()
        return _parse(raw, what)

    def rpc(self, operation: str, what: str) -> tuple[int, etree._Element]:
        """One RPC that must succeed: (elapsed ns, parsed reply)."""
        elapsed, raw = self.rpc_raw(operation)
        reply = _parse(raw, what)
        if reply.tag != qn("rpc-reply") or reply.get("message-id") != str(self._message_id):
            raise BenchError(f"{what}: expected rpc-reply {self._message_id}, got {raw[:200]!r}")
        if errors := rpc_errors(reply):
            raise BenchError(f"{what} failed: " + "; ".join(errors))
        return elapsed, reply

    def drop(self) -> None:
        """Close the SSH connection without close-session (e.g. a subscribed session,
        whose next message may be a notification rather than the reply)."""
        self._chan.close()

    def close(self) -> None:
        """close-session, then the SSH connection."""
        try:
            self.rpc("<close-session/>", "close-session")
        finally:
            self._chan.close()


def _parse(raw: bytes, what: str) -> etree._Element:
    try:
        return etree.fromstring(raw.strip(), _PARSER)
    except etree.XMLSyntaxError as exc:
        raise BenchError(f"unparsable {what} reply: {exc}: {raw[:200]!r}") from None
