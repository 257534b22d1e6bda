"""One wakeable background task, the shape of every timer ops runs (enrollment polling, the
trustpool update, the expiry watcher): run a step now, then again after ``delay()`` seconds
or as soon as someone calls :meth:`WakeableTask.wake`, until stopped.  A failing step is
logged and the loop goes on: one damaged record must not end the work for good."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime


def seconds_until(due: datetime | None, now: datetime, cap: float) -> float:
    """The wait before ``due``, at most ``cap`` (re-read the clock at least that often);
    ``cap`` when nothing is due."""
    if due is None:
        return cap
    return min(cap, max(0.0, (due - now).total_seconds()))


class WakeableTask:
    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[None]],
        delay: Callable[[], float],
        log: logging.Logger,
        what: str,
    ) -> None:
        """``what`` names the step in the log line of a failure, on the owner's ``log``."""
        self._name = name
        self._step = step
        self._delay = delay
        self._log = log
        self._what = what
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start on the running loop (the first step runs at once)."""
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._wake = asyncio.Event()
            self._task = self._loop.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        """Run the step again soon.  Safe from any thread; a no-op while not started."""
        loop, event = self._loop, self._wake
        if loop is None or event is None or self._task is None:
            return
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            event.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(event.set)

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()  # before the step: a wake during it means run again
            try:
                await self._step()
            except Exception:
                self._log.exception("%s failed", self._what)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._delay())
