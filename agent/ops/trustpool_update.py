"""The trustpool's automatic update (Cisco's trustpool policy): a timer keyed to the earliest
expiry among the active pool certificates; when it fires, download the policy's cabundle-url
and replace the downloaded set.

Reading of the seed's schedule ("20, 15, 10, 5, 4, 3, 2, 1 days, then once every hour"): the
timer first fires 20 days before the earliest expiry, so a failed download still has the
rest of the schedule before the pool lapses; each further attempt for the same expiry (a
failure, or a bundle that still holds the expiring certificate) moves to the next point,
then hourly.  The points are the pure :func:`~agent.pki.trustpool.next_update_time`.  With
auto-update on but no cabundle-url, a firing timer logs a warning and sends
trustpool-updated (failure) at most once a day.

Time comes from the injected clock; :meth:`TrustpoolUpdater.run_due` is the whole decision,
so tests drive it with a fake clock and no waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from agent.clock import Clock
from agent.ops._background import WakeableTask, seconds_until
from agent.ops._config import PoolPolicy
from agent.ops.trustpool import AUTOMATIC, TrustpoolService
from agent.pki import PkiError
from agent.pki.trustpool import next_update_time

log = logging.getLogger(__name__)

NO_URL_WARNING_INTERVAL = timedelta(days=1)
_HOURLY = timedelta(hours=1)
_MAX_SLEEP = 3600.0  # re-read the clock at least hourly (a wall-clock jump, a policy edit)


class TrustpoolUpdater:
    """Owns the update timer; :attr:`TrustpoolService.on_change` re-plans it."""

    def __init__(
        self, service: TrustpoolService, policy: Callable[[], PoolPolicy], clock: Clock
    ) -> None:
        self._service = service
        self._policy = policy
        self._clock = clock
        self._expiry: datetime | None = None  # the expiry the attempts count towards
        self._attempts = 0
        self._next: datetime | None = None
        self._planned = False
        self._task = WakeableTask(
            "trustpool", self._run_now, self._delay, log, "trustpool automatic update"
        )
        service.on_change = self.replan

    def replan(self) -> None:
        """Forget the planned time (the pool or the policy changed) and wake the task."""
        self._planned = False
        self._task.wake()  # called from worker threads too (an RPC's import)

    def next_update(self, now: datetime) -> datetime | None:
        """When the timer fires next; None when auto-update is off."""
        if not self._planned:
            self._next = self._plan(now)
            self._planned = True
        return self._next

    def _plan(self, now: datetime) -> datetime | None:
        nxt = self._point(now) if self._policy().auto_update else None
        self._service.pool.set_next_update(nxt)
        return nxt

    def _point(self, now: datetime) -> datetime:
        expiry = self._service.pool.earliest_expiry(after=now)
        if expiry != self._expiry:
            self._expiry, self._attempts = expiry, 0
        if expiry is None:  # an empty pool: fill it now, then hourly until that works
            return now if self._attempts == 0 else now + _HOURLY
        return next_update_time(now, expiry, self._attempts + 1)

    def run_due(self, now: datetime) -> bool:
        """Update if the timer is due at ``now`` (blocking); True when it fired."""
        due = self.next_update(now)
        if due is None or now < due:
            return False
        url = self._policy().cabundle_url
        if url is None:
            self._warn_no_url(now)
            return True
        with contextlib.suppress(PkiError):  # recorded and notified by load
            self._service.load(AUTOMATIC, url=url)
        self._attempts += 1
        self._next, self._planned = self._plan(now), True
        return True

    def _warn_no_url(self, now: datetime) -> None:
        log.warning(
            "trustpool auto-update is on but /trustpool/policy has no cabundle-url: "
            "configure one or set auto-update false"
        )
        self._service.report_failure(AUTOMATIC, "no cabundle-url configured in the policy")
        self._next, self._planned = now + NO_URL_WARNING_INTERVAL, True
        self._service.pool.set_next_update(self._next)

    # -- the background task -------------------------------------------------------------

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    async def _run_now(self) -> None:
        await asyncio.to_thread(self.run_due, self._clock.now())

    def _delay(self) -> float:
        now = self._clock.now()
        return seconds_until(self.next_update(now), now, _MAX_SLEEP)
