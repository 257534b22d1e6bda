"""One NETCONF session from hello to close: glue between a transport Connection, the sans-I/O
ServerSession and the dispatcher.  Replies keep the order of their requests because each
session handles one message at a time, in its own task; a subscription's task writes its
notifications between those messages (every write is one whole framed message).

The ietf-netconf-monitoring counters (RFC 6022) are kept here, at the edge, where every
message in and out passes: hellos, rpcs, error replies and notifications."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from agent import xmlutil
from agent.clock import Clock
from agent.datastore.events import EventStream
from agent.datastore.store import Datastore
from agent.server import dispatch, netconf_events, replies
from agent.server.netconf_events import TerminationReason
from agent.server.notifications import Sender, SessionNotifications
from agent.server.session import (
    BadRpc,
    Closed,
    HelloReceived,
    ProtocolError,
    RpcReceived,
    ServerSession,
    State,
)
from agent.server.sessions import SessionInfo, Sessions
from agent.server.transport import Connection, Limits
from agent.xmlutil import BASE_NS, Element

log = logging.getLogger(__name__)


@dataclass(slots=True)
class NetconfService:
    datastore: Datastore
    registry: dispatch.Registry
    sessions: Sessions
    capabilities: list[str]
    limits: Limits
    clock: Clock
    events: EventStream

    async def run(self, conn: Connection) -> None:
        """Serve one connection until close-session, EOF, kill-session or a protocol error."""
        if len(self.sessions.all()) >= self.limits.max_sessions:
            log.warning(
                "session limit %d reached; refusing %s", self.limits.max_sessions, conn.peer
            )
            return
        info = self.sessions.open(conn.user, conn.peer, self.clock.now())
        info.terminate = lambda: conn.inbox.put_nowait(None)
        session = ServerSession(
            info.session_id, self.capabilities, max_message_size=self.limits.max_message_size
        )
        notes = SessionNotifications(
            self.events, self.clock, _sender(session, conn, info, self.sessions)
        )
        log.info("session %d started for %s from %s", info.session_id, conn.user, conn.peer)
        reason = TerminationReason.OTHER
        try:
            conn.write(session.hello())
            reason = await self._serve(session, conn, info, notes)
        except ProtocolError as exc:
            if session.state is State.AWAIT_HELLO:
                self.sessions.bad_hello()
            log.info("session %d closed: %s", info.session_id, exc)
        finally:
            await notes.close()
            started = session.state is not State.AWAIT_HELLO
            session.mark_closed()
            self.sessions.close(info.session_id, dropped=reason not in _PROPER_ENDS)
            self.datastore.session_closed(info.session_id)
            if started:
                self.events.publish(netconf_events.session_end(info, reason))
            log.info("session %d ended (%s)", info.session_id, reason)

    async def _serve(
        self,
        session: ServerSession,
        conn: Connection,
        info: SessionInfo,
        notes: SessionNotifications,
    ) -> TerminationReason:
        while True:
            event = session.next_event()
            if event is None:
                ended = await self._read(session, conn, info)
                if ended is not None:
                    return ended
                continue
            if isinstance(event, Closed):
                return TerminationReason.DROPPED
            if isinstance(event, HelloReceived):
                # RFC 6470 §2.1.2: a session starts when the hellos have been exchanged.
                self.events.publish(netconf_events.session_start(info))
                continue
            if isinstance(event, BadRpc):
                self.sessions.bad_rpc_received(info)
                self._write_reply(
                    session, conn, info, replies.errors(dict(event.attributes), [event.error])
                )
            elif (
                isinstance(event, RpcReceived)
                and session.state is State.ESTABLISHED
                and not await self._answer(session, conn, info, notes, event)
            ):
                return TerminationReason.CLOSED
            await conn.drain()

    async def _answer(
        self,
        session: ServerSession,
        conn: Connection,
        info: SessionInfo,
        notes: SessionNotifications,
        event: RpcReceived,
    ) -> bool:
        if _well_formed(event.rpc):
            self.sessions.rpc_received(info)
        else:
            self.sessions.bad_rpc_received(info)
        ctx = dispatch.RpcContext(info, self.datastore, self.sessions, self.events, notes)
        reply = await dispatch.dispatch(self.registry, event.rpc, ctx)
        self._write_reply(session, conn, info, reply)
        notes.start()  # a new subscription's notifications follow its reply (RFC 5277 §2.1.1)
        if ctx.close_after_reply:
            session.close_requested()
            await conn.drain()
            return False
        return True

    def _write_reply(
        self, session: ServerSession, conn: Connection, info: SessionInfo, reply: Element
    ) -> None:
        if reply.find(_RPC_ERROR) is not None:
            self.sessions.rpc_error_sent(info)
        conn.write(session.send(reply))

    async def _read(
        self, session: ServerSession, conn: Connection, info: SessionInfo
    ) -> TerminationReason | None:
        """Wait for bytes; the reason when the session must end (timeout, kill), else None."""
        waiting_hello = session.state is State.AWAIT_HELLO
        timeout = self.limits.hello_timeout if waiting_hello else self.limits.idle_timeout
        try:
            data = await asyncio.wait_for(conn.inbox.get(), timeout or None)
        except TimeoutError:
            log.info(
                "session %d: %s timeout", session.session_id, "hello" if waiting_hello else "idle"
            )
            return TerminationReason.TIMEOUT
        if data is None:
            return TerminationReason.OTHER if info.killed_by is None else TerminationReason.KILLED
        session.receive_data(data)
        return None


_RPC_ERROR = f"{{{BASE_NS}}}rpc-error"
# Ends that are not "dropped" sessions (RFC 6022 dropped-sessions).
_PROPER_ENDS = frozenset({TerminationReason.CLOSED, TerminationReason.KILLED})


def _well_formed(rpc: Element) -> bool:
    """An <rpc> with a message-id and one operation; others are "bad rpcs" for RFC 6022
    (errors on the rpc layer), though dispatch answers them."""
    return "message-id" in rpc.attrib and len(xmlutil.children(rpc)) == 1


def _sender(
    session: ServerSession, conn: Connection, info: SessionInfo, sessions: Sessions
) -> Sender:
    """How a subscription writes: the same framing as replies, waiting while the peer's
    window is full, and nothing once close-session has been answered."""

    async def send(message: Element) -> None:
        if session.state is State.ESTABLISHED:
            conn.write(session.send(message))
            sessions.notification_sent(info)
            await conn.drain()

    return send
