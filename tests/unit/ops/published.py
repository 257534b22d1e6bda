"""Read back what ops published on an EventStream log, as (notification name, leaves)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from agent import xmlutil
from agent.clock import FakeClock
from agent.datastore.events import EventStream


def published(path: Path) -> list[tuple[str, dict[str, str]]]:
    """Every notification in the log at ``path``, oldest first (a fresh reader, as after a
    restart)."""
    stream = EventStream(path, clock=FakeClock())
    try:
        events = stream.replay(datetime(1970, 1, 1, tzinfo=UTC))
    finally:
        stream.close()
    return [
        (xmlutil.split(el)[1], {xmlutil.split(c)[1]: c.text or "" for c in xmlutil.children(el)})
        for _, el in events
    ]
