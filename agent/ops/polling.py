"""Background polling of SCEP enrollments the CA answered PENDING (issue 3).

Why a scheduler of its own: a PENDING answer must be polled every retry period until the
CA issues or the retry count is spent, across agent restarts.  The schedule lives in
:class:`~agent.pki.pending.PendingStore` (durable) and the rule in
:func:`~agent.pki.pending.decide` (pure); :class:`Poller` only applies them.  Its task sleeps
on the event loop until the earliest next poll taken from the injected :class:`Clock`, then
calls :meth:`Poller.run_due`; tests call :meth:`Poller.run_due` directly with a
:class:`~agent.clock.FakeClock`, so no test waits in real time.

The network exchange itself is the injected ``poll`` callable (blocking; run in a worker
thread): it returns the certificates installed, or None while the CA still says PENDING,
and raises :class:`PkiError` when the CA refuses or cannot be reached.  Outcomes are
published as enrollment-complete / enrollment-failed notifications on the NETCONF stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from agent.clock import Clock
from agent.ops._background import WakeableTask, seconds_until
from agent.ops._config import TP_NS
from agent.ops._notify import Publisher, date_and_time, notification
from agent.pki import ErrorCode, PkiError
from agent.pki.pending import (
    Action,
    EnrollmentStatus,
    PendingEnrollment,
    PendingStore,
    after_pending_poll,
    decide,
    failed,
)

__all__ = ["IssuedCertificate", "PollFn", "Poller"]

_log = logging.getLogger(__name__)

# A wake-up at least this often (seconds), so a wall clock that jumps is noticed.
_MAX_SLEEP = 60.0


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    """What an enrollment-complete notification says about one installed certificate."""

    role: str
    sha256_fingerprint: str
    not_after: datetime


PollFn = Callable[[PendingEnrollment], list[IssuedCertificate] | None]


class Poller:
    """Owns the pending enrollments: records them, polls them when due, reports outcomes."""

    def __init__(self, store: PendingStore, events: Publisher, poll: PollFn, clock: Clock) -> None:
        self._store = store
        self._events = events
        self._poll = poll
        self._clock = clock
        self._task = WakeableTask("poller", self._run_now, self._delay, _log, "enrollment polling")

    def add(self, record: PendingEnrollment) -> None:
        """Record a PENDING answer (replacing any older outcome) and wake the task."""
        self._store.put(record)
        self._task.wake()

    def forget(self, trustpoint: str) -> None:
        """Drop whatever is recorded (a new enrollment or a removed trustpoint)."""
        self._store.remove(trustpoint)

    def get(self, trustpoint: str) -> PendingEnrollment | None:
        return self._store.get(trustpoint)

    def cancel(self, trustpoint: str) -> str:
        """cancel-enrollment: the cancelled transaction id; no-enrollment-pending if none."""
        record = self._store.get(trustpoint)
        if record is None or record.status is not EnrollmentStatus.PENDING:
            raise PkiError(
                ErrorCode.NO_ENROLLMENT_PENDING,
                f"trustpoint {trustpoint!r} has no pending enrollment to cancel",
                {"trustpoint": trustpoint},
            )
        self._store.remove(trustpoint)
        return record.transaction_id

    async def run_due(self, now: datetime) -> None:
        """Poll every pending enrollment due at ``now``, one after the other."""
        for record in self._store.all():
            if decide(record, now) is Action.POLL:
                await asyncio.to_thread(self._poll_one, record, now)

    def next_wake(self) -> datetime | None:
        """The earliest next poll of a pending enrollment, None when nothing is pending."""
        due = [r.next_poll for r in self._store.all() if decide(r, r.next_poll) is Action.POLL]
        return min(due, default=None)

    def start(self) -> None:
        """Start the background task on the running loop (restores recorded work)."""
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    async def _run_now(self) -> None:
        await self.run_due(self._clock.now())

    def _delay(self) -> float:
        return seconds_until(self.next_wake(), self._clock.now(), _MAX_SLEEP)

    def _poll_one(self, record: PendingEnrollment, now: datetime) -> None:
        """One poll and its consequence, in a worker thread."""
        try:
            issued = self._poll(record)
        except PkiError as exc:
            if self._superseded(record):
                return
            if exc.code is ErrorCode.CA_UNREACHABLE and record.attempts_left > 1:
                # A CA briefly out of reach costs an attempt, not the enrollment.
                self._save(after_pending_poll(record, now))
                return
            self._fail(failed(record, exc.code.value, exc.message), now)
            return
        if issued is None:
            if not self._superseded(record):
                self._save(after_pending_poll(record, now))
        else:
            self._complete(record, issued, now)

    def _superseded(self, record: PendingEnrollment) -> bool:
        """True when cancel-enrollment or a new enroll replaced ``record`` during the poll:
        its outcome must not bring the old transaction back."""
        return self._store.get(record.trustpoint) != record

    def _save(self, record: PendingEnrollment) -> None:
        if record.status is EnrollmentStatus.FAILED:
            self._fail(record, self._clock.now())
        else:
            self._store.put(record)

    def _complete(
        self, record: PendingEnrollment, issued: list[IssuedCertificate], now: datetime
    ) -> None:
        self._store.remove(record.trustpoint)
        for cert in issued:
            leaves = (
                ("trustpoint", record.trustpoint),
                ("role", cert.role),
                ("sha256-fingerprint", cert.sha256_fingerprint),
                ("not-after", date_and_time(cert.not_after)),
            )
            self._events.publish(notification(TP_NS, "enrollment-complete", leaves), now)
        _log.info("trustpoint %s: transaction %s issued", record.trustpoint, record.transaction_id)

    def _fail(self, record: PendingEnrollment, now: datetime) -> None:
        self._store.put(record)
        leaves = (
            ("trustpoint", record.trustpoint),
            ("error-app-tag", record.last_error_app_tag or ""),
            ("message", record.last_error_message or ""),
        )
        self._events.publish(notification(TP_NS, "enrollment-failed", leaves), now)
        _log.warning(
            "trustpoint %s: enrollment %s failed: %s",
            record.trustpoint, record.transaction_id, record.last_error_app_tag,
        )  # fmt: skip
