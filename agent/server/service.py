"""One NETCONF session from hello to close: glue between a transport Connection, the sans-I/O
ServerSession and the dispatcher.  Replies keep the order of their requests because each
session handles one message at a time, in its own task."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from agent.clock import Clock
from agent.datastore.store import Datastore
from agent.server import dispatch, replies
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

log = logging.getLogger(__name__)


@dataclass(slots=True)
class NetconfService:
    datastore: Datastore
    registry: dispatch.Registry
    sessions: Sessions
    capabilities: list[str]
    limits: Limits
    clock: Clock

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
        log.info("session %d started for %s from %s", info.session_id, conn.user, conn.peer)
        try:
            conn.write(session.hello())
            await self._serve(session, conn, info)
        except ProtocolError as exc:
            log.info("session %d closed: %s", info.session_id, exc)
        finally:
            session.mark_closed()
            self.sessions.close(info.session_id)
            self.datastore.session_closed(info.session_id)
            log.info("session %d ended", info.session_id)

    async def _serve(self, session: ServerSession, conn: Connection, info: SessionInfo) -> None:
        while True:
            event = session.next_event()
            if event is None:
                if not await self._read(session, conn):
                    return
                continue
            if isinstance(event, Closed):
                return
            if isinstance(event, HelloReceived):
                continue
            if isinstance(event, BadRpc):
                info.in_bad_rpcs += 1
                conn.write(session.send(replies.errors(dict(event.attributes), [event.error])))
            elif (
                isinstance(event, RpcReceived)
                and session.state is State.ESTABLISHED
                and not await self._answer(session, conn, info, event)
            ):
                return
            await conn.drain()

    async def _answer(
        self, session: ServerSession, conn: Connection, info: SessionInfo, event: RpcReceived
    ) -> bool:
        info.in_rpcs += 1
        ctx = dispatch.RpcContext(info, self.datastore, self.sessions)
        reply = await dispatch.dispatch(self.registry, event.rpc, ctx)
        conn.write(session.send(reply))
        if ctx.close_after_reply:
            session.close_requested()
            await conn.drain()
            return False
        return True

    async def _read(self, session: ServerSession, conn: Connection) -> bool:
        """Wait for bytes; False when the session must end (timeout, kill)."""
        waiting_hello = session.state is State.AWAIT_HELLO
        timeout = self.limits.hello_timeout if waiting_hello else self.limits.idle_timeout
        try:
            data = await asyncio.wait_for(conn.inbox.get(), timeout or None)
        except TimeoutError:
            log.info(
                "session %d: %s timeout", session.session_id, "hello" if waiting_hello else "idle"
            )
            return False
        if data is None:
            return False
        session.receive_data(data)
        return True
