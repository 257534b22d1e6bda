"""The confirmed-commit timer (RFC 6241 §8.4): rolls the pending confirmed commit back at its
deadline, and publishes RFC 6470 netconf-confirmed-commit for every confirm event.

The datastore holds the rules and the durable rollback point; this is the asyncio side: one
timer handle re-armed after every event, and the rollback taken under the registry's writer
lock so that it never lands between a commit's validation and its swap.
"""

from __future__ import annotations

import asyncio
import logging

from agent.datastore.changes import ConfigEdit
from agent.datastore.events import EventStream
from agent.datastore.store import ConfirmEvent, Datastore
from agent.server import netconf_events
from agent.server.sessions import SessionInfo, Sessions

log = logging.getLogger(__name__)


class ConfirmTimer:
    def __init__(
        self,
        datastore: Datastore,
        sessions: Sessions,
        events: EventStream,
        writer: asyncio.Lock,
    ) -> None:
        self._datastore = datastore
        self._sessions = sessions
        self._events = events
        self._writer = writer
        self._handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        # The confirming session's parameters, kept for the cancel its disconnect causes.
        self._owner: SessionInfo | None = None

    def start(self) -> None:
        """Listen to the datastore and arm for a confirmed commit restored at start-up
        (one without persist, or past its deadline, rolls back at once)."""
        self._datastore.add_confirm_listener(self._on_event)
        self._arm()

    async def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        if self._task is not None:
            await self._task

    def _arm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        deadline = self._datastore.confirm_deadline
        if deadline is not None:
            delay = max(0.0, deadline - self._datastore.now())
            self._handle = asyncio.get_running_loop().call_later(delay, self._due)

    def _due(self) -> None:
        self._handle = None
        self._task = asyncio.get_running_loop().create_task(self._expire())

    async def _expire(self) -> None:
        async with self._writer:
            try:
                if not self._datastore.expire():
                    self._arm()  # woken early (the wall clock moved): wait again
            except Exception:
                log.exception("rolling back the confirmed commit failed; retrying in 60 s")
                self._handle = asyncio.get_running_loop().call_later(60.0, self._due)

    def _on_event(self, event: ConfirmEvent, session_id: int | None, timeout: float | None) -> None:
        info = self._sessions.get(session_id) if session_id is not None else None
        if event in (ConfirmEvent.START, ConfirmEvent.EXTEND):
            self._owner = info
        elif info is None and event is ConfirmEvent.CANCEL:
            info = self._owner  # the confirming session has just ended
        if event is ConfirmEvent.TIMEOUT:
            info = None  # RFC 6470: no session parameters for a timeout
        self._events.publish(netconf_events.confirmed_commit(event.value, info, timeout))
        if event in (ConfirmEvent.CANCEL, ConfirmEvent.TIMEOUT):
            # Running went back to the rollback point: a change made by the server.
            self._events.publish(netconf_events.config_change(None, [ConfigEdit("replace")]))
        log.info("confirmed commit: %s", event.value)
        self._arm()
