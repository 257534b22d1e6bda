"""Atomic files and the commit log: torn or corrupt records are never replayed."""

from __future__ import annotations

from pathlib import Path

from agent.datastore.persist import CommitLog
from agent.durable import atomic_write, remove_stale_temps


def test_atomic_write_replaces_and_is_private(tmp_path: Path) -> None:
    p = tmp_path / "f"
    atomic_write(p, b"one")
    atomic_write(p, b"two")
    assert p.read_bytes() == b"two"
    assert p.stat().st_mode & 0o777 == 0o600
    assert [x.name for x in tmp_path.iterdir()] == ["f"]


def test_stale_temps_removed(tmp_path: Path) -> None:
    (tmp_path / ".running.xml.k3j2x9.tmp").write_bytes(b"half")
    remove_stale_temps(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_log_roundtrip_and_snapshot_truncates(tmp_path: Path) -> None:
    log = CommitLog(tmp_path / "s.xml", tmp_path / "s.log")
    log.append(1, b"<a/>")
    log.append(2, b"<b>\n</b>")
    assert log.records() == [(1, b"<a/>"), (2, b"<b>\n</b>")]
    log.write_snapshot(b"<snap/>")
    assert log.records() == []
    assert (tmp_path / "s.xml").read_bytes() == b"<snap/>"


def test_torn_tail_is_ignored(tmp_path: Path) -> None:
    log = CommitLog(tmp_path / "s.xml", tmp_path / "s.log")
    log.append(1, b"<a/>")
    log.append(2, b"<bbbbbbbb/>")
    full = (tmp_path / "s.log").read_bytes()
    for cut in range(len(full)):
        (tmp_path / "s.log").write_bytes(full[:cut])
        got = CommitLog(tmp_path / "s.xml", tmp_path / "s.log").records()
        assert got in ([], [(1, b"<a/>")]), cut


def test_corrupt_record_stops_reading(tmp_path: Path) -> None:
    log = CommitLog(tmp_path / "s.xml", tmp_path / "s.log")
    log.append(1, b"<a/>")
    log.append(2, b"<b/>")
    data = bytearray((tmp_path / "s.log").read_bytes())
    data[-3] ^= 0x01  # flip a bit in the second body
    (tmp_path / "s.log").write_bytes(bytes(data))
    assert CommitLog(tmp_path / "s.xml", tmp_path / "s.log").records() == [(1, b"<a/>")]
