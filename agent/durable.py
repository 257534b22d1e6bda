"""Durable file operations for every state file (DESIGN.md "Conventions"): the datastore's
snapshot and log, users, keys, certificates, pending enrollments.  A leaf module, so both
``datastore`` and ``pki`` use this one implementation.

Every write goes to a private temp file that is fsynced, then renamed (or linked, when the
target must not already exist) and the directory fsynced, so a crash leaves the old or the new
file and never a torn one.  Temp names are unique per call (``mkstemp``), so threads working on
different labels never share one.  ``destroy`` overwrites before unlinking: on a plain
disk that removes the bytes; on copy-on-write or flash storage it is best effort, which is why
the material is also encrypted at rest.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "TEMP_SUFFIX",
    "atomic_write",
    "create_exclusive",
    "destroy",
    "ensure_private_dir",
    "fsync_dir",
    "overwrite",
    "remove_stale_temps",
    "write_all",
]

TEMP_SUFFIX = ".tmp"
_CHUNK = 1 << 16


def ensure_private_dir(directory: Path) -> None:
    """Create ``directory`` (0700) if missing; an existing one keeps its mode."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)


def atomic_write(path: Path, data: bytes, *, sync_dir: bool = True) -> None:
    """Replace ``path`` with ``data`` (mode 0600).  ``sync_dir=False`` leaves the rename to
    be made durable by a later write in the same directory (one directory fsync for both)."""
    with _temp_file(path, data) as tmp:
        os.replace(tmp, path)
    if sync_dir:
        fsync_dir(path.parent)


def create_exclusive(path: Path, data: bytes) -> bool:
    """Create ``path`` with ``data`` (mode 0600) unless it exists; True if this call made it.

    ``os.link`` fails when the target exists, so two processes racing to create the master
    key cannot overwrite each other's: the loser reads the winner's.
    """
    with _temp_file(path, data) as tmp:
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
    fsync_dir(path.parent)
    return True


def remove_stale_temps(directory: Path) -> None:
    """Temp files left by a crash mid-write are garbage: the rename never happened."""
    for p in directory.glob(f".*{TEMP_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def destroy(path: Path) -> None:
    """Overwrite ``path`` with random bytes of its length, fsync, unlink, fsync the directory.

    A file already gone is not an error: destroying is idempotent, so an interrupted zeroize
    can simply be run again.
    """
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return
    try:
        overwrite(fd)
    finally:
        os.close(fd)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fsync_dir(path.parent)


def overwrite(fd: int) -> None:
    """Overwrite the whole open file with random bytes and fsync: the part of ``destroy``
    for a file already replaced by a rename, whose old bytes only a descriptor still reaches."""
    os.lseek(fd, 0, os.SEEK_SET)
    remaining = os.fstat(fd).st_size
    while remaining > 0:
        remaining -= os.write(fd, os.urandom(min(remaining, _CHUNK)))
    os.fsync(fd)


@contextlib.contextmanager
def _temp_file(path: Path, data: bytes) -> Iterator[Path]:
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    tmp = Path(name)
    try:
        write_all(fd, data)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        yield tmp
    finally:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is written (it may write fewer)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def fsync_dir(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
