"""An event stream with a bounded replay log (the store behind RFC 5277's NETCONF stream).

Generic on purpose: it knows event times and content elements, nothing of sessions or
framing, so ops (PKI events) and server (RFC 6470 session and commit events) publish on the
same stream and the server alone decides who receives what.

Publishers may run on the event loop or in worker threads, so one lock orders the log and
the listener calls: every listener sees events in log order.  Listeners run under that lock
and must only hand the event on (the server uses ``loop.call_soon_threadsafe``).

The log on disk is JSON lines: a header with the log's creation time, then one record per
event.  A publish is one appended, fsynced line; the file is rewritten (atomically) only when
it holds twice ``limit`` records, so its cost stays proportional to the event.  Damage (a torn
last line after a crash, a garbled record) costs the damaged records, never the start-up.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from lxml import etree

from agent import xmlutil
from agent.clock import Clock
from agent.durable import atomic_write, write_all
from agent.xmlutil import Element

log = logging.getLogger(__name__)

Listener = Callable[[datetime, Element], None]
Event = tuple[datetime, Element]


class EventStream:
    """Publish events, tell listeners, and keep the newest ``limit`` events for replay.

    Content elements are shared between the log and every listener: nobody may modify one
    after publishing it (copy before attaching it to a new parent).
    """

    def __init__(self, path: Path | None, *, limit: int = 1000, clock: Clock) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._path = path
        self._limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._events: deque[Event] = deque(maxlen=limit)
        self._listeners: list[Listener] = []
        self._lines = 0  # records in the file, to know when to compact
        self._fd = -1
        self.log_created = clock.now()
        if path is not None:
            self._open(path)

    # -- publishing ----------------------------------------------------------------------

    def publish(self, content: Element, when: datetime | None = None) -> None:
        """Record one event (``when``, an aware time, defaults to now) and tell every
        listener."""
        if when is not None and when.tzinfo is None:
            raise ValueError("event times must be aware (RFC 3339 needs an offset)")
        event = (when or self._clock.now(), content)
        with self._lock:
            self._events.append(event)
            self._append(event)
            for listener in list(self._listeners):
                listener(*event)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` for every later event; returns the function that stops it."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    # -- replay ----------------------------------------------------------------------------

    def replay(self, start: datetime, stop: datetime | None = None) -> list[Event]:
        """The logged events with ``start <= eventTime <= stop``, in publication order."""
        with self._lock:
            return [e for e in self._events if e[0] >= start and (stop is None or e[0] <= stop)]

    @property
    def oldest(self) -> datetime | None:
        """The time of the oldest event still in the log (RFC 5277 replay boundary)."""
        with self._lock:
            return self._events[0][0] if self._events else None

    def close(self) -> None:
        """Stop writing the file (at shutdown); later events are kept in memory only."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    # -- the file --------------------------------------------------------------------------

    def _open(self, path: Path) -> None:
        damaged = False
        if path.exists():
            damaged = self._load(path)
        if damaged or not path.exists():
            self._rewrite(path)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)

    def _load(self, path: Path) -> bool:
        """Read the log; True when anything was damaged (the file is then rewritten)."""
        raw = path.read_bytes()
        lines = raw.split(b"\n")
        damaged = not raw.endswith(b"\n")
        try:
            self.log_created = _parse_time(json.loads(lines[0])["created"])
        except (ValueError, KeyError, TypeError):
            log.warning("notification log %s has no valid header; starting a new one", path)
            return True
        records = [line for line in lines[1:] if line]
        bad = 0
        for line in records:
            event = _decode(line)
            if event is None:
                bad += 1
            else:
                self._events.append(event)
        if bad:
            log.warning("notification log %s: ignored %d damaged records", path, bad)
        self._lines = len(records)
        return damaged or bad > 0 or self._lines > 2 * self._limit

    def _append(self, event: Event) -> None:
        """Persist one event.  A failed write is logged, not raised: the event has already
        happened (a commit is done) and live listeners still get it; only replay after a
        restart loses it.  After :meth:`close` events are kept in memory only."""
        if self._path is None or self._fd < 0:
            return
        try:
            if self._lines + 1 > 2 * self._limit:
                self._rewrite(self._path)
                return
            write_all(self._fd, _encode(event))
            os.fsync(self._fd)
            self._lines += 1
        except OSError as exc:
            log.error("notification log %s: cannot record an event: %s", self._path, exc)

    def _rewrite(self, path: Path) -> None:
        """Compact: the header and the events still held, written atomically."""
        header = json.dumps({"created": self.log_created.isoformat()}).encode() + b"\n"
        atomic_write(path, header + b"".join(_encode(e) for e in self._events))
        self._lines = len(self._events)
        if self._fd >= 0:
            # The append descriptor still points at the replaced file.
            os.close(self._fd)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)


def _encode(event: Event) -> bytes:
    when, content = event
    record = {"t": when.isoformat(), "x": etree.tostring(content, encoding="unicode")}
    return json.dumps(record).encode() + b"\n"


def _decode(line: bytes) -> Event | None:
    try:
        record = json.loads(line)
        return _parse_time(record["t"]), xmlutil.parse(record["x"].encode())
    except (ValueError, KeyError, TypeError):  # JSONDecodeError and XmlError are ValueErrors
        return None


def _parse_time(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise ValueError("event time without a time zone")
    return when
