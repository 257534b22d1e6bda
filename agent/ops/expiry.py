"""certificate-expiring notifications (issue 4 item 6).

Why a watcher of its own: the YANG notification is sent once per crossing, once when a
certificate comes within expiry-warning-days and once more when it expires, never on every
tick, and a restart must not repeat it.  So what was already said is kept durably at
``state_path``: for each certificate where it is held, the furthest stage notified.  The key
includes the SHA-256 fingerprint, so a replaced certificate starts afresh; entries of
certificates no longer held are pruned.

:meth:`ExpiryWatcher.check` is synchronous and takes ``now``, so tests drive it with a
:class:`~agent.clock.FakeClock`; the background task only calls it every ``interval`` seconds
and on :meth:`ExpiryWatcher.wake` (after authenticate, import, a trustpool update).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from agent.clock import Clock
from agent.durable import atomic_write
from agent.ops._background import WakeableTask
from agent.ops._config import TP_NS, pool_policy, trustpoint_expiry_days
from agent.ops._notify import Publisher, date_and_time, notification
from agent.pki import Certificate, TrustPool
from agent.pki.trustpoints import TrustpointStore
from agent.xmlutil import Element

__all__ = ["DEFAULT_INTERVAL", "ExpiryWatcher"]

_log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 3600.0  # seconds; expiry is counted in days, an hour is early enough
_DAY = timedelta(days=1)
# Stages in order: a later stage implies the earlier ones were crossed.
_STAGES = ("warning", "expired")


@dataclass(frozen=True, slots=True)
class _Held:
    """One certificate where it is held: what the notification says besides the dates."""

    source: str  # "trustpoint" or "trustpool"
    trustpoint: str | None
    role: str | None  # key role of a local certificate; None for CA and RA certificates
    is_ca: bool
    certificate: Certificate
    threshold: timedelta

    @property
    def key(self) -> str:
        """Identity in the state file: the place plus the fingerprint (a replacement is new)."""
        where = "trustpool" if self.trustpoint is None else f"trustpoint/{self.trustpoint}"
        kind = self.role or ("ca" if self.is_ca else "ra")
        return f"{where}/{kind}/{self.certificate.sha256_fingerprint}"


class ExpiryWatcher:
    """Publishes certificate-expiring once per crossing, remembered across restarts."""

    def __init__(
        self,
        trustpoints: TrustpointStore,
        pool: TrustPool | None,
        config: Callable[[], Element],
        publish: Publisher,
        clock: Clock,
        state_path: Path,
        *,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self._trustpoints = trustpoints
        self._pool = pool
        self._config = config
        self._publisher = publish
        self._clock = clock
        self._path = state_path
        self._lock = threading.Lock()  # the task's thread and a direct caller may overlap
        self._notified = _load(state_path)
        self._task = WakeableTask(
            "expiry-watcher", self._run_now, lambda: interval, _log, "certificate expiry check"
        )

    # -- the check -----------------------------------------------------------------------

    def check(self, now: datetime | None = None) -> int:
        """Publish every crossing not yet notified; returns how many were published."""
        with self._lock:
            now = now or self._clock.now()
            held = {h.key: h for h in self._held()}
            notified = {k: v for k, v in self._notified.items() if k in held}
            published = 0
            try:
                for key, item in held.items():
                    stage = _stage(item, now)
                    if stage is not None and _rank(stage) > _rank(notified.get(key)):
                        self._publisher.publish(_content(item, now), now)
                        notified[key] = stage
                        published += 1
            finally:
                self._save(notified)
            return published

    def _held(self) -> Iterator[_Held]:
        root = self._config()
        tp_days = timedelta(days=trustpoint_expiry_days(root))
        for name in self._trustpoints.names():
            record = self._trustpoints.get(name)
            if record.ca is not None:
                yield _Held("trustpoint", name, None, True, record.ca, tp_days)
            for ra in record.ra:
                yield _Held("trustpoint", name, None, False, ra, tp_days)
            for lc in record.local:
                yield _Held("trustpoint", name, lc.role.value, False, lc.certificate, tp_days)
        if self._pool is not None:
            pool_days = timedelta(days=pool_policy(root).expiry_warning_days)
            for entry in self._pool.entries():
                if entry.active:
                    yield _Held("trustpool", None, None, True, entry.certificate, pool_days)

    def _save(self, notified: dict[str, str]) -> None:
        """Write only on change: a check every hour must not cost an fsync every hour."""
        if notified == self._notified:
            return
        data = json.dumps({"version": 1, "notified": notified}, indent=1, sort_keys=True)
        atomic_write(self._path, data.encode())
        self._notified = notified

    # -- the background task -------------------------------------------------------------

    def start(self) -> None:
        """Start checking on the running loop: now, every ``interval``, and on wake()."""
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    def wake(self) -> None:
        """Check again soon (certificates changed).  Safe from any thread; a no-op when the
        task is not running."""
        self._task.wake()

    async def _run_now(self) -> None:
        await asyncio.to_thread(self.check)


def _stage(item: _Held, now: datetime) -> str | None:
    left = item.certificate.not_after - now
    if left <= timedelta(0):
        return "expired"
    if left <= item.threshold:
        return "warning"
    return None


def _rank(stage: str | None) -> int:
    return 0 if stage is None else _STAGES.index(stage) + 1


def _content(item: _Held, now: datetime) -> Element:
    cert = item.certificate
    left = cert.not_after - now
    return notification(
        TP_NS,
        "certificate-expiring",
        [
            ("source", item.source),
            ("trustpoint", item.trustpoint),
            ("role", item.role),
            ("is-ca", _bool(item.is_ca)),
            ("subject", cert.subject),
            ("serial-number", cert.serial_number),
            ("not-after", date_and_time(cert.not_after)),
            ("days-remaining", str(left // _DAY)),  # floor, so negative once expired
            ("expired", _bool(left <= timedelta(0))),
        ],
    )


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _load(path: Path) -> dict[str, str]:
    """The notified stages; a missing or damaged file is an empty record (at worst a crossing
    is notified again, which beats never starting)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        notified = doc["notified"]
        if not isinstance(notified, dict) or not all(
            isinstance(k, str) and v in _STAGES for k, v in notified.items()
        ):
            raise ValueError("notified is not a map of certificate to stage")
        return dict(notified)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError, KeyError) as exc:
        _log.warning("expiry state %s unreadable, starting afresh: %s", path, exc)
        return {}
