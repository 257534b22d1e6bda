"""Persistence of the running datastore: a snapshot plus a log of the commits made since
(atomic writes come from agent.durable)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from agent.durable import atomic_write, fsync_dir, write_all

_MAGIC = b"NPA-LOG1"


class CommitLog:
    """A snapshot plus an append-only log of the commits made since it.

    A one-entry commit on a large datastore appends a few hundred bytes and one fsync instead
    of rewriting the whole file.  Each record carries a sequence number, its length and a
    SHA-256 of its body; the snapshot names the last sequence number it contains, so a crash
    between writing a snapshot and truncating the log never replays a commit twice, and a
    torn last record (a crash mid-append) is simply not there.
    """

    def __init__(self, snapshot: Path, log: Path) -> None:
        self.snapshot_path = snapshot
        self.log_path = log
        self.log_bytes = log.stat().st_size if log.exists() else 0

    def append(self, seq: int, body: bytes) -> None:
        header = b"%s %d %d %s\n" % (_MAGIC, seq, len(body), _digest(body))
        created = not self.log_path.exists()
        fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            write_all(fd, header + body + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            fsync_dir(self.log_path.parent)
        self.log_bytes += len(header) + len(body) + 1

    def write_snapshot(self, data: bytes) -> None:
        """Replace the snapshot, then empty the log (its records are all in the snapshot)."""
        atomic_write(self.snapshot_path, data)
        atomic_write(self.log_path, b"")
        self.log_bytes = 0

    def records(self) -> list[tuple[int, bytes]]:
        """Every intact record, in order; reading stops at the first torn or corrupt one."""
        if not self.log_path.exists():
            return []
        data = self.log_path.read_bytes()
        out: list[tuple[int, bytes]] = []
        pos = 0
        while pos < len(data):
            record = _read_record(data, pos)
            if record is None:
                break
            seq, body, pos = record
            out.append((seq, body))
        return out


def _read_record(data: bytes, pos: int) -> tuple[int, bytes, int] | None:
    end = data.find(b"\n", pos)
    if end < 0:
        return None
    parts = data[pos:end].split(b" ")
    if len(parts) != 4 or parts[0] != _MAGIC or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    size = int(parts[2])
    body = data[end + 1 : end + 1 + size]
    if len(body) != size or data[end + 1 + size : end + 2 + size] != b"\n":
        return None
    if _digest(body) != parts[3]:
        return None
    return int(parts[1]), body, end + 2 + size


def _digest(body: bytes) -> bytes:
    return hashlib.sha256(body).hexdigest().encode("ascii")
