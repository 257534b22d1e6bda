"""TrustpoolUpdater with a fake clock, a real HTTP server and a real TrustPool: the timer
keyed to the earliest expiry, the seed's retry schedule on failures, replacement on success,
and the warning when no cabundle-url is configured."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from agent import xmlutil
from agent.clock import FakeClock
from agent.datastore.events import EventStream
from agent.ops._config import POOL_NS, PoolPolicy
from agent.ops.trustpool import TrustpoolService
from agent.ops.trustpool_update import TrustpoolUpdater
from agent.pki import TrustPool, UrlFetcher
from tests.unit.pki.pkiworld import NOW, Ca, HttpServer, pem

DAY = timedelta(days=1)


class Rig:
    def __init__(self, tmp_path: Path, http: HttpServer, url: str | None) -> None:
        self.clock = FakeClock(NOW)
        self.http = http
        self.events = EventStream(None, clock=self.clock)
        self.expiring = Ca.root("Expiring Root", not_after=NOW + 100 * DAY)
        self.pool = TrustPool(tmp_path / "pool", builtin=[self.expiring.info])
        self.policy = PoolPolicy(cabundle_url=url)
        config = xmlutil.make(POOL_NS, "data")
        self.service = TrustpoolService(
            self.pool, lambda: config, UrlFetcher(timeout=5), self.events, self.clock
        )
        self.updater = TrustpoolUpdater(self.service, lambda: self.policy, self.clock)

    def results(self) -> list[str]:
        return [
            el.findtext(f"{{{POOL_NS}}}result") or ""
            for _, el in self.events.replay(NOW - DAY)
            if xmlutil.split(el)[1] == "trustpool-updated"
        ]


@pytest.fixture
def http() -> Iterator[HttpServer]:
    with HttpServer() as server:
        yield server


def test_first_attempt_20_days_before_the_earliest_expiry(tmp_path: Path, http: HttpServer) -> None:
    rig = Rig(tmp_path, http, http.url("/bundle.pem"))
    expiry = NOW + 100 * DAY
    assert rig.updater.next_update(NOW) == expiry - 20 * DAY
    assert not rig.updater.run_due(expiry - 21 * DAY)
    assert rig.results() == []


def test_failures_follow_the_schedule_then_hourly(tmp_path: Path, http: HttpServer) -> None:
    rig = Rig(tmp_path, http, http.url("/missing.pem"))  # 404 every time
    expiry = NOW + 100 * DAY
    seen = []
    for days in (20, 15, 10, 5, 4, 3, 2, 1):
        due = rig.updater.next_update(NOW)
        assert due == expiry - days * DAY
        assert rig.updater.run_due(due)
        seen.append(due)
    last = seen[-1]
    assert rig.updater.next_update(last) == last + timedelta(hours=1)
    assert rig.results() == ["failure"] * 8
    status = rig.pool.update_status()
    assert status.result == "failure" and "404" in (status.last_error or "")
    assert status.next_update == last + timedelta(hours=1)


def test_success_replaces_the_pool_and_moves_to_the_new_expiry(
    tmp_path: Path, http: HttpServer
) -> None:
    rig = Rig(tmp_path, http, http.url("/bundle.pem"))
    fresh = Ca.root("Fresh Root", not_after=NOW + 400 * DAY)
    http.routes["/bundle.pem"] = pem(fresh.cert)
    due = rig.updater.next_update(NOW)
    assert rig.updater.run_due(due)
    assert rig.results() == ["success"]
    assert {e.certificate.subject for e in rig.pool.entries() if e.source == "downloaded"} == {
        "CN=Fresh Root"
    }
    # The expiring built-in is still the earliest: the next point of the schedule follows.
    assert rig.updater.next_update(due) == NOW + 100 * DAY - 15 * DAY


def test_no_url_warns_once_a_day(tmp_path: Path, http: HttpServer) -> None:
    rig = Rig(tmp_path, http, None)
    due = rig.updater.next_update(NOW)
    assert rig.updater.run_due(due)
    assert not rig.updater.run_due(due + timedelta(hours=23))
    assert rig.updater.run_due(due + DAY)
    assert rig.results() == ["failure", "failure"]


def test_auto_update_off_never_fires(tmp_path: Path, http: HttpServer) -> None:
    rig = Rig(tmp_path, http, http.url("/bundle.pem"))
    rig.policy = PoolPolicy(cabundle_url=http.url("/bundle.pem"), auto_update=False)
    assert rig.updater.next_update(NOW) is None
    assert not rig.updater.run_due(NOW + 200 * DAY)
