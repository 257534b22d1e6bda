"""Durable records of SCEP enrollments the CA answered PENDING, and the pure rule for what
to do with one at a given time.

Why a store of its own: a pending enrollment must keep being polled after an agent restart
(issue 3), so its transaction id, the key it was made with and the poll schedule are written
to disk (one JSON file per trustpoint, replaced atomically) before the enroll RPC returns.
A record also keeps the outcome of a failed enrollment, so state can show ``failed`` with
the error until the next enrollment or cancel-enrollment clears it.  Nothing secret is kept:
the challenge password was only in the request, and the key is referenced by label.
"""

from __future__ import annotations

import enum
import json
import re
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from agent.durable import atomic_write, destroy, ensure_private_dir
from agent.pki.errors import ErrorCode, PkiError

__all__ = [
    "DEFAULT_RETRY_COUNT",
    "DEFAULT_RETRY_PERIOD_MINUTES",
    "Action",
    "EnrollmentStatus",
    "PendingEnrollment",
    "PendingStore",
    "after_pending_poll",
    "decide",
    "failed",
    "start_pending",
]

# The YANG defaults of trustpoint enrollment/retry (period in minutes, count in polls).
DEFAULT_RETRY_PERIOD_MINUTES = 1
DEFAULT_RETRY_COUNT = 10

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class EnrollmentStatus(enum.Enum):
    """The YANG state/enrollment/status values a record can hold (idle = no record)."""

    PENDING = "pending"
    FAILED = "failed"


class Action(enum.Enum):
    """What :func:`decide` says to do with a record now."""

    NOTHING = "nothing"  # not pending (failed: kept for state only)
    WAIT = "wait"  # pending, next poll still in the future
    POLL = "poll"  # pending and due


@dataclass(frozen=True, slots=True)
class PendingEnrollment:
    """One trustpoint's pending (or failed) enrollment.

    ``roles`` are the key pairs of ``key_label`` still waiting for a certificate;
    ``attempts_left`` counts the polls still allowed before giving up.
    """

    trustpoint: str
    transaction_id: str
    key_label: str
    roles: tuple[str, ...]
    attempts_left: int
    next_poll: datetime
    period_minutes: int
    status: EnrollmentStatus = EnrollmentStatus.PENDING
    last_error_app_tag: str | None = None
    last_error_message: str | None = None

    @property
    def period(self) -> timedelta:
        return timedelta(minutes=self.period_minutes)


def start_pending(
    trustpoint: str,
    transaction_id: str,
    key_label: str,
    roles: tuple[str, ...],
    now: datetime,
    retry_count: int | None = None,
    period_minutes: int | None = None,
) -> PendingEnrollment:
    """A fresh record: ``retry_count`` polls, the first one a retry period from ``now``."""
    period = period_minutes or DEFAULT_RETRY_PERIOD_MINUTES
    return PendingEnrollment(
        trustpoint, transaction_id, key_label, roles,
        attempts_left=retry_count or DEFAULT_RETRY_COUNT,
        next_poll=now + timedelta(minutes=period),
        period_minutes=period,
    )  # fmt: skip


def decide(record: PendingEnrollment, now: datetime) -> Action:
    """What to do with ``record`` at ``now``; pure, so the schedule is testable directly."""
    if record.status is not EnrollmentStatus.PENDING or record.attempts_left <= 0:
        return Action.NOTHING
    return Action.POLL if now >= record.next_poll else Action.WAIT


def after_pending_poll(record: PendingEnrollment, now: datetime) -> PendingEnrollment:
    """The record after one more PENDING answer: an attempt spent, the next poll a period
    later (from ``now``, so a late wake-up does not cause a burst of polls); failed with
    ``enrollment-timeout`` when that was the last attempt."""
    left = record.attempts_left - 1
    if left <= 0:
        return failed(
            replace(record, attempts_left=0),
            "enrollment-timeout",
            f"the CA did not issue transaction {record.transaction_id} within "
            f"{record.period_minutes}-minute polls: retry count spent",
        )
    return replace(record, attempts_left=left, next_poll=now + record.period)


def failed(record: PendingEnrollment, app_tag: str, message: str) -> PendingEnrollment:
    """The record marked failed, with the error state shows."""
    return replace(
        record,
        status=EnrollmentStatus.FAILED,
        last_error_app_tag=app_tag,
        last_error_message=message,
    )


class PendingStore:
    """``<directory>/<trustpoint>.json`` per record; thread-safe (polls run in workers)."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._lock = threading.Lock()
        ensure_private_dir(directory)

    def get(self, trustpoint: str) -> PendingEnrollment | None:
        path = self._path(trustpoint)
        with self._lock:
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                return None
        return _decode(trustpoint, raw)

    def all(self) -> list[PendingEnrollment]:
        """Every record, sorted by trustpoint (start-up restores these)."""
        names = sorted(p.stem for p in self._dir.glob("*.json"))
        return [r for r in (self.get(n) for n in names) if r is not None]

    def put(self, record: PendingEnrollment) -> None:
        path = self._path(record.trustpoint)
        with self._lock:
            atomic_write(path, _encode(record))

    def remove(self, trustpoint: str) -> bool:
        """Drop the record; True if there was one."""
        path = self._path(trustpoint)
        with self._lock:
            existed = path.exists()
            destroy(path)
        return existed

    def _path(self, trustpoint: str) -> Path:
        if not _NAME.match(trustpoint):
            raise ValueError(f"invalid trustpoint name {trustpoint!r}")
        return self._dir / f"{trustpoint}.json"


def _encode(record: PendingEnrollment) -> bytes:
    doc = {
        "transaction-id": record.transaction_id,
        "key-label": record.key_label,
        "roles": list(record.roles),
        "attempts-left": record.attempts_left,
        "next-poll": record.next_poll.isoformat(),
        "period-minutes": record.period_minutes,
        "status": record.status.value,
        "last-error-app-tag": record.last_error_app_tag,
        "last-error-message": record.last_error_message,
    }
    return json.dumps(doc, indent=1).encode()


def _decode(trustpoint: str, raw: bytes) -> PendingEnrollment:
    try:
        doc = json.loads(raw)
        next_poll = datetime.fromisoformat(doc["next-poll"])
        if next_poll.tzinfo is None:
            raise ValueError("next-poll has no time zone")
        return PendingEnrollment(
            trustpoint,
            str(doc["transaction-id"]),
            str(doc["key-label"]),
            tuple(str(r) for r in doc["roles"]),
            int(doc["attempts-left"]),
            next_poll,
            int(doc["period-minutes"]),
            EnrollmentStatus(doc["status"]),
            doc.get("last-error-app-tag"),
            doc.get("last-error-message"),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise PkiError(
            ErrorCode.KEYSTORE_DAMAGED,
            f"the pending enrollment of trustpoint {trustpoint!r} is damaged: {exc}",
            {"trustpoint": trustpoint},
        ) from None
