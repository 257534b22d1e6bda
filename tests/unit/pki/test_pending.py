"""The pending-enrollment record: schedule rule, retry count, durability."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from agent.pki import ErrorCode, PkiError
from agent.pki.pending import (
    Action,
    EnrollmentStatus,
    PendingStore,
    after_pending_poll,
    decide,
    failed,
    start_pending,
)
from tests.unit.pki.helpers import NOW

MIN = timedelta(minutes=1)


def test_defaults_follow_the_yang_model() -> None:
    record = start_pending("myca", "tx", "mykey", ("general",), NOW)
    assert (record.attempts_left, record.period_minutes) == (10, 1)
    assert record.next_poll == NOW + MIN


def test_decide_waits_until_the_retry_period_then_polls() -> None:
    record = start_pending("myca", "tx", "mykey", ("general",), NOW, 3, 2)
    assert decide(record, NOW) is Action.WAIT
    assert decide(record, NOW + 2 * MIN - timedelta(seconds=1)) is Action.WAIT
    assert decide(record, NOW + 2 * MIN) is Action.POLL
    assert decide(failed(record, "ca-rejected", "no"), NOW + 9 * MIN) is Action.NOTHING


def test_each_pending_answer_spends_an_attempt_and_the_last_one_fails() -> None:
    record = start_pending("myca", "tx", "mykey", ("general",), NOW, 2, 5)
    second = after_pending_poll(record, NOW + 5 * MIN)
    assert (second.attempts_left, second.next_poll) == (1, NOW + 10 * MIN)
    assert second.status is EnrollmentStatus.PENDING
    last = after_pending_poll(second, NOW + 10 * MIN)
    assert last.status is EnrollmentStatus.FAILED
    assert (last.attempts_left, last.last_error_app_tag) == (0, "enrollment-timeout")


def test_records_survive_a_new_store_on_the_same_directory(tmp_path: Path) -> None:
    record = start_pending("myca", "tx-1", "mykey", ("signature", "encryption"), NOW, 25, 2)
    PendingStore(tmp_path).put(record)
    assert PendingStore(tmp_path).get("myca") == record
    assert PendingStore(tmp_path).all() == [record]
    assert os.stat(tmp_path / "myca.json").st_mode & 0o777 == 0o600


def test_remove_reports_whether_there_was_a_record(tmp_path: Path) -> None:
    store = PendingStore(tmp_path)
    store.put(start_pending("myca", "tx", "mykey", ("general",), NOW))
    assert store.remove("myca") is True
    assert store.remove("myca") is False
    assert store.get("myca") is None


def test_a_damaged_record_is_reported(tmp_path: Path) -> None:
    (tmp_path / "myca.json").write_text("{not json")
    with pytest.raises(PkiError) as caught:
        PendingStore(tmp_path).get("myca")
    assert caught.value.code is ErrorCode.KEYSTORE_DAMAGED


def test_invalid_trustpoint_names_never_reach_the_filesystem(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        PendingStore(tmp_path).get("../x")
