"""The Poller with a FakeClock and a scripted CA: polls exactly each retry period, installs on
approval, fails after the retry count, and restores its work from disk (no real sleeps)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from agent.clock import FakeClock
from agent.datastore.events import EventStream
from agent.ops.polling import IssuedCertificate, Poller
from agent.pki import ErrorCode, PkiError
from agent.pki.pending import (
    EnrollmentStatus,
    PendingEnrollment,
    PendingStore,
    start_pending,
)
from tests.unit.ops.published import published
from tests.unit.pki.helpers import NOW

MIN = 60.0


class ScriptedCa:
    """Answers PENDING until approved; records when it was polled."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.approved = False
        self.refusal: PkiError | None = None
        self.polled_at: list[datetime] = []

    def poll(self, record: PendingEnrollment) -> list[IssuedCertificate] | None:
        self.polled_at.append(self.clock.now())
        if self.refusal is not None:
            raise self.refusal
        if not self.approved:
            return None
        return [IssuedCertificate(r, "AB:CD", NOW + timedelta(days=365)) for r in record.roles]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def ca(clock: FakeClock) -> ScriptedCa:
    return ScriptedCa(clock)


def _poller(tmp_path: Path, ca: ScriptedCa, clock: FakeClock) -> Poller:
    return Poller(
        PendingStore(tmp_path / "pending"),
        EventStream(tmp_path / "ev.log", clock=clock),
        ca.poll,
        clock,
    )


def _tick(poller: Poller, clock: FakeClock, seconds: float) -> None:
    clock.advance(seconds)
    asyncio.run(poller.run_due(clock.now()))


def test_polls_exactly_once_per_retry_period(
    tmp_path: Path, ca: ScriptedCa, clock: FakeClock
) -> None:
    poller = _poller(tmp_path, ca, clock)
    poller.add(start_pending("myca", "tx", "mykey", ("general",), NOW, 25, 2))
    for _ in range(6):  # every 30 s for 3 minutes
        _tick(poller, clock, 30)
    assert ca.polled_at == [NOW + timedelta(minutes=2)]
    record = poller.get("myca")
    assert record is not None
    assert (record.attempts_left, record.next_poll) == (24, NOW + timedelta(minutes=4))
    assert poller.next_wake() == NOW + timedelta(minutes=4)


def test_approval_installs_and_notifies(tmp_path: Path, ca: ScriptedCa, clock: FakeClock) -> None:
    poller = _poller(tmp_path, ca, clock)
    poller.add(start_pending("myca", "tx", "mykey", ("general",), NOW, 5, 1))
    _tick(poller, clock, MIN)
    ca.approved = True
    _tick(poller, clock, MIN)
    assert poller.get("myca") is None
    assert poller.next_wake() is None
    events = published(tmp_path / "ev.log")
    assert events == [
        (
            "enrollment-complete",
            {
                "trustpoint": "myca",
                "role": "general",
                "sha256-fingerprint": "AB:CD",
                "not-after": "2027-11-25T12:00:00Z",
            },
        )
    ]


def test_gives_up_after_the_retry_count(tmp_path: Path, ca: ScriptedCa, clock: FakeClock) -> None:
    poller = _poller(tmp_path, ca, clock)
    poller.add(start_pending("myca", "tx", "mykey", ("general",), NOW, 3, 1))
    for _ in range(10):
        _tick(poller, clock, MIN)
    assert len(ca.polled_at) == 3
    record = poller.get("myca")
    assert record is not None and record.status is EnrollmentStatus.FAILED
    assert record.last_error_app_tag == "enrollment-timeout"
    [(name, fields)] = published(tmp_path / "ev.log")
    assert (name, fields["error-app-tag"]) == ("enrollment-failed", "enrollment-timeout")


def test_a_refusal_fails_at_once(tmp_path: Path, ca: ScriptedCa, clock: FakeClock) -> None:
    poller = _poller(tmp_path, ca, clock)
    poller.add(start_pending("myca", "tx", "mykey", ("general",), NOW, 9, 1))
    ca.refusal = PkiError(ErrorCode.CA_REJECTED, "the CA refused: badRequest")
    _tick(poller, clock, MIN)
    record = poller.get("myca")
    assert record is not None and record.status is EnrollmentStatus.FAILED
    assert (record.last_error_app_tag, record.last_error_message) == (
        "ca-rejected",
        "the CA refused: badRequest",
    )


def test_an_unreachable_ca_costs_one_attempt(
    tmp_path: Path, ca: ScriptedCa, clock: FakeClock
) -> None:
    poller = _poller(tmp_path, ca, clock)
    poller.add(start_pending("myca", "tx", "mykey", ("general",), NOW, 9, 1))
    ca.refusal = PkiError(ErrorCode.CA_UNREACHABLE, "no answer")
    _tick(poller, clock, MIN)
    record = poller.get("myca")
    assert record is not None and record.status is EnrollmentStatus.PENDING
    assert record.attempts_left == 8


def test_restart_restores_pending_work(tmp_path: Path, ca: ScriptedCa, clock: FakeClock) -> None:
    _poller(tmp_path, ca, clock).add(start_pending("myca", "tx", "mykey", ("general",), NOW, 5, 1))
    ca.approved = True
    restarted = _poller(tmp_path, ca, clock)
    assert restarted.next_wake() == NOW + timedelta(minutes=1)
    _tick(restarted, clock, MIN)
    assert restarted.get("myca") is None
    assert len(ca.polled_at) == 1


def test_cancel_clears_pending_and_refuses_when_none(
    tmp_path: Path, ca: ScriptedCa, clock: FakeClock
) -> None:
    poller = _poller(tmp_path, ca, clock)
    poller.add(start_pending("myca", "tx-9", "mykey", ("general",), NOW))
    assert poller.cancel("myca") == "tx-9"
    _tick(poller, clock, 10 * MIN)
    assert ca.polled_at == []
    with pytest.raises(PkiError) as caught:
        poller.cancel("myca")
    assert caught.value.code is ErrorCode.NO_ENROLLMENT_PENDING


def test_the_task_polls_when_due_on_the_event_loop(
    tmp_path: Path, ca: ScriptedCa, clock: FakeClock
) -> None:
    """The background task: a record already due is polled right after start()."""

    async def scenario() -> None:
        poller = _poller(tmp_path, ca, clock)
        poller.add(start_pending("myca", "tx", "mykey", ("general",), NOW, 5, 1))
        clock.advance(MIN)
        ca.approved = True
        poller.start()
        deadline = asyncio.get_running_loop().time() + 10
        while poller.get("myca") is not None and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        await poller.stop()

    asyncio.run(scenario())
    assert ca.polled_at == [NOW + timedelta(minutes=1)]


def test_a_cancel_during_a_poll_is_not_undone(tmp_path: Path, clock: FakeClock) -> None:
    store = PendingStore(tmp_path / "pending")
    poller: Poller

    def poll_while_cancelled(record: PendingEnrollment) -> list[IssuedCertificate] | None:
        poller.cancel(record.trustpoint)
        return None

    poller = Poller(
        store, EventStream(tmp_path / "ev.log", clock=clock), poll_while_cancelled, clock
    )
    poller.add(start_pending("myca", "tx", "mykey", ("general",), NOW, 5, 1))
    _tick(poller, clock, MIN)
    assert poller.get("myca") is None
