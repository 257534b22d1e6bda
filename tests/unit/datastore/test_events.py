"""The event stream's replay log: order, bounds, persistence, damage, listeners, threads."""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from agent.clock import FakeClock
from agent.datastore.events import EventStream
from agent.xmlutil import Element

NS = "urn:test:events"


def ev(n: int) -> Element:
    el = etree.Element(f"{{{NS}}}thing", nsmap={None: NS})
    etree.SubElement(el, f"{{{NS}}}n").text = str(n)
    return el


def numbers(events: list[tuple[object, Element]]) -> list[int]:
    return [int(e.findtext(f"{{{NS}}}n") or -1) for _, e in events]


def publish_range(stream: EventStream, clock: FakeClock, ns: range) -> None:
    for n in ns:
        clock.advance(1)
        stream.publish(ev(n))


def test_replay_window_and_order(tmp_path: Path) -> None:
    clock = FakeClock()
    stream = EventStream(tmp_path / "n.log", clock=clock)
    t0 = clock.now()
    publish_range(stream, clock, range(5))
    assert numbers(stream.replay(t0)) == [0, 1, 2, 3, 4]
    window = stream.replay(t0 + timedelta(seconds=2), t0 + timedelta(seconds=4))
    assert numbers(window) == [1, 2, 3]
    assert stream.oldest == t0 + timedelta(seconds=1)
    assert stream.log_created == t0


def test_explicit_event_time_is_kept(tmp_path: Path) -> None:
    clock = FakeClock()
    stream = EventStream(None, clock=clock)
    when = clock.now() - timedelta(hours=1)
    content = ev(7)
    stream.publish(content, when)
    assert stream.replay(when) == [(when, content)]


def test_survives_restart(tmp_path: Path) -> None:
    clock = FakeClock()
    first = EventStream(tmp_path / "n.log", clock=clock)
    created = first.log_created
    publish_range(first, clock, range(3))
    first.close()
    clock.advance(100)
    second = EventStream(tmp_path / "n.log", clock=clock)
    assert second.log_created == created
    assert numbers(second.replay(created)) == [0, 1, 2]
    assert etree.QName(second.replay(created)[0][1]).namespace == NS


def test_bounded_in_memory_and_on_disk(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "n.log"
    stream = EventStream(path, limit=3, clock=clock)
    publish_range(stream, clock, range(20))
    assert numbers(stream.replay(clock.now() - timedelta(days=1))) == [17, 18, 19]
    # header + at most 2 x limit records before compaction
    assert len(path.read_bytes().splitlines()) <= 1 + 2 * 3
    stream.close()
    again = EventStream(path, limit=3, clock=clock)
    assert numbers(again.replay(clock.now() - timedelta(days=1))) == [17, 18, 19]


def test_smaller_limit_after_restart_drops_the_oldest(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "n.log"
    publish_range(EventStream(path, limit=10, clock=clock), clock, range(8))
    again = EventStream(path, limit=2, clock=clock)
    assert numbers(again.replay(clock.now() - timedelta(days=1))) == [6, 7]


def test_damaged_records_are_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    path = tmp_path / "n.log"
    publish_range(EventStream(path, clock=clock), clock, range(3))
    lines = path.read_bytes().splitlines(keepends=True)
    bad_xml = json.dumps({"t": clock.now().isoformat(), "x": "<unclosed>"}).encode() + b"\n"
    path.write_bytes(lines[0] + lines[1] + b"garbage\n" + bad_xml + lines[2] + lines[3][:10])
    with caplog.at_level(logging.WARNING):
        stream = EventStream(path, clock=clock)
    assert "damaged" in caplog.text
    assert numbers(stream.replay(clock.now() - timedelta(days=1))) == [0, 1]
    # The damage is compacted away, so the next append starts on a clean line.
    publish_range(stream, clock, range(3, 4))
    stream.close()
    reread = EventStream(path, clock=clock)
    assert numbers(reread.replay(clock.now() - timedelta(days=1))) == [0, 1, 3]


@pytest.mark.parametrize("content", [b"", b"not json\n", b'{"nope": 1}\n', b"\xff\xfe"])
def test_unreadable_log_starts_fresh(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes
) -> None:
    clock = FakeClock()
    path = tmp_path / "n.log"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING):
        stream = EventStream(path, clock=clock)
    assert "header" in caplog.text
    assert stream.replay(clock.now() - timedelta(days=1)) == []
    assert stream.log_created == clock.now()
    publish_range(stream, clock, range(1))
    assert len(EventStream(path, clock=clock).replay(stream.log_created)) == 1


def test_listeners_and_unsubscribe() -> None:
    clock = FakeClock()
    stream = EventStream(None, clock=clock)
    seen: list[tuple[object, Element]] = []
    unsubscribe = stream.subscribe(lambda when, content: seen.append((when, content)))
    publish_range(stream, clock, range(2))
    unsubscribe()
    unsubscribe()  # idempotent
    publish_range(stream, clock, range(2, 4))
    assert numbers(seen) == [0, 1]
    assert seen[0][0] == clock.now() - timedelta(seconds=3)


def test_publishers_in_threads_keep_log_and_listener_order_equal(tmp_path: Path) -> None:
    clock = FakeClock()
    stream = EventStream(tmp_path / "n.log", limit=10_000, clock=clock)
    seen: list[Element] = []
    stream.subscribe(lambda when, content: seen.append(content))

    def work(base: int) -> None:
        for n in range(base, base + 50):
            stream.publish(ev(n))

    threads = [threading.Thread(target=work, args=(i * 100,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    logged = [c for _, c in stream.replay(clock.now() - timedelta(days=1))]
    assert len(logged) == 200
    assert [id(c) for c in logged] == [id(c) for c in seen]
    stream.close()
    assert len(EventStream(tmp_path / "n.log", clock=clock).replay(clock.now())) == 200


def test_limit_must_be_positive_and_times_aware() -> None:
    with pytest.raises(ValueError):
        EventStream(None, limit=0, clock=FakeClock())
    with pytest.raises(ValueError):
        EventStream(None, clock=FakeClock()).publish(ev(1), datetime(2026, 1, 1))
