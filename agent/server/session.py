"""The NETCONF session state machine, sans I/O (RFC 6241 §8.1, RFC 6242 §4.1).

Every state transition lives here, in one table.  The transport feeds bytes in and writes
out whatever :meth:`ServerSession.send` returns; the dispatcher sees only :class:`RpcReceived`
events.  What may happen before the hello, after a second hello or after close-session is
decided here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from lxml import etree

from agent import xmlutil
from agent.errors import MalformedMessage, RpcError
from agent.server.framing import CLOSED, NEED_DATA, Framer, FramingError
from agent.xmlutil import BASE_NS, Element

BASE_1_0 = "urn:ietf:params:netconf:base:1.0"
BASE_1_1 = "urn:ietf:params:netconf:base:1.1"


class State(StrEnum):
    AWAIT_HELLO = "await-hello"
    ESTABLISHED = "established"
    CLOSING = "closing"  # close-session received; its reply is the last message
    CLOSED = "closed"


class ProtocolError(Exception):
    """The peer broke the protocol in a way that ends the session (no reply possible)."""


@dataclass(frozen=True, slots=True)
class HelloReceived:
    capabilities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RpcReceived:
    rpc: Element


@dataclass(frozen=True, slots=True)
class BadRpc:
    """A message that is not a well-formed <rpc>: answered with an rpc-error, session goes on."""

    error: RpcError
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Closed:
    """The peer went away (EOF) or the session ended."""


Event = HelloReceived | RpcReceived | BadRpc | Closed


# (state, event kind) -> next state.  Kinds not listed for a state are protocol errors.
_TRANSITIONS: dict[tuple[State, str], State] = {
    (State.AWAIT_HELLO, "hello"): State.ESTABLISHED,
    (State.AWAIT_HELLO, "eof"): State.CLOSED,
    (State.ESTABLISHED, "rpc"): State.ESTABLISHED,
    (State.ESTABLISHED, "bad-rpc"): State.ESTABLISHED,
    (State.ESTABLISHED, "close-session"): State.CLOSING,
    (State.ESTABLISHED, "eof"): State.CLOSED,
    (State.CLOSING, "rpc"): State.CLOSING,  # pipelined after close-session: ignored
    (State.CLOSING, "bad-rpc"): State.CLOSING,
    (State.CLOSING, "eof"): State.CLOSED,
    (State.CLOSING, "closed"): State.CLOSED,
    (State.ESTABLISHED, "closed"): State.CLOSED,
    (State.AWAIT_HELLO, "closed"): State.CLOSED,
}


_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'


class ServerSession:
    def __init__(
        self,
        session_id: int,
        capabilities: list[str],
        *,
        max_message_size: int = 64 * 1024 * 1024,
    ) -> None:
        self.session_id = session_id
        self.capabilities = capabilities
        self.client_capabilities: tuple[str, ...] = ()
        self.state = State.AWAIT_HELLO
        self._framer = Framer(max_message_size=max_message_size)

    # -- outgoing --------------------------------------------------------------------------

    def hello(self) -> bytes:
        """The server's hello, sent at once in end-of-message framing (RFC 6242 §4.1)."""
        hello = xmlutil.root(BASE_NS, "hello")
        caps = xmlutil.sub(hello, BASE_NS, "capabilities")
        for uri in self.capabilities:
            xmlutil.sub(caps, BASE_NS, "capability", uri)
        xmlutil.sub(hello, BASE_NS, "session-id", str(self.session_id))
        return self.send(hello)

    def send(self, message: Element) -> bytes:
        """The framed message.  Non-ASCII text goes out as character references: ncclient
        decodes each read (base:1.0) or chunk (base:1.1) on its own, so a UTF-8 sequence
        split across two of them would kill its session (INTEROP.md §1, §2.5).  The
        declaration is the exact one scrapli strips."""
        body = etree.tostring(message, encoding="US-ASCII")
        return self._framer.send(_DECLARATION + body)

    def close_requested(self) -> None:
        """close-session was answered: nothing else is read or sent after it."""
        self._move("close-session")

    def mark_closed(self) -> None:
        self.state = State.CLOSED

    # -- incoming --------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the transport; b"" means EOF."""
        try:
            self._framer.receive_data(data)
        except FramingError as exc:
            raise ProtocolError(str(exc)) from None

    def next_event(self) -> Event | None:
        """The next complete event, or None when more data is needed."""
        try:
            raw = self._framer.next_event()
        except FramingError as exc:
            raise ProtocolError(str(exc)) from None
        if raw is NEED_DATA:
            return None
        if raw is CLOSED:
            self._move("eof")
            return Closed()
        assert isinstance(raw, bytes | bytearray)
        if self.state is State.AWAIT_HELLO:
            return self._hello(bytes(raw))
        return self._message(bytes(raw))

    def _hello(self, raw: bytes) -> HelloReceived:
        try:
            root = xmlutil.parse(raw.strip())
        except xmlutil.XmlError as exc:
            raise ProtocolError(f"bad hello: {exc}") from None
        if xmlutil.split(root) != (BASE_NS, "hello"):
            raise ProtocolError("the first message must be <hello>")
        if root.find(f"{{{BASE_NS}}}session-id") is not None:
            raise ProtocolError("a client hello must not carry a session-id (RFC 6241 §8.1)")
        caps = tuple(
            xmlutil.text_of(c)
            for c in root.iterfind(f"{{{BASE_NS}}}capabilities/{{{BASE_NS}}}capability")
        )
        if BASE_1_0 not in caps and BASE_1_1 not in caps:
            raise ProtocolError("the client hello lists no NETCONF base capability")
        self.client_capabilities = caps
        self._move("hello")
        if BASE_1_1 in caps and BASE_1_1 in self.capabilities:
            self._framer.switch_to_chunked()
        return HelloReceived(caps)

    def _message(self, raw: bytes) -> Event:
        try:
            root = xmlutil.parse(raw.strip())
        except xmlutil.XmlError as exc:
            self._move("bad-rpc")
            return BadRpc(MalformedMessage(f"malformed message: {exc}"))
        ns, name = xmlutil.split(root)
        if (ns, name) == (BASE_NS, "hello"):
            raise ProtocolError("a second <hello> ends the session")
        if (ns, name) != (BASE_NS, "rpc"):
            self._move("bad-rpc")
            return BadRpc(MalformedMessage(f"expected <rpc> in the base namespace, got <{name}>"))
        self._move("rpc")
        return RpcReceived(root)

    def _move(self, kind: str) -> None:
        nxt = _TRANSITIONS.get((self.state, kind))
        if nxt is None:
            raise ProtocolError(f"{kind} is not allowed in state {self.state}")
        self.state = nxt
