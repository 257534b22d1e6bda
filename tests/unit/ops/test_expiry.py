"""ExpiryWatcher: certificate-expiring is published once per crossing (warning, then expired),
remembered across restarts, afresh for a replaced certificate; the background task checks on
wake and survives a failing check.  Real stores, a real EventStream, a FakeClock."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from agent import xmlutil
from agent.clock import FakeClock
from agent.datastore.events import EventStream
from agent.ops.expiry import ExpiryWatcher
from agent.pki import Certificate, KeyRole, TrustPool, load_certificate
from agent.pki.trustpoints import LocalCertificate, TrustpointRecord, TrustpointStore
from tests.unit.pki.helpers import DAY, NOW, der, ec_key, make_cert, name

TP = "urn:netconf-pki-agent:yang:npa-pki-trustpoints"
POOL = "urn:netconf-pki-agent:yang:npa-pki-trustpool"
CA_KEY = ec_key()


def cert(cn: str, not_after: datetime, *, is_ca: bool = False, serial: int = 0x6E) -> Certificate:
    key = CA_KEY if is_ca else ec_key()
    issuer = None if is_ca else name("Unit CA")
    made = make_cert(
        name(cn),
        key.public_key(),
        CA_KEY,
        issuer=issuer,
        not_before=NOW - 400 * DAY,
        not_after=not_after,
        serial=serial,
        is_ca=is_ca,
    )
    return load_certificate(der(made))


def config(tp_days: int | None = None, pool_days: int | None = None) -> xmlutil.Element:
    tp = f"<expiry-warning-days>{tp_days}</expiry-warning-days>" if tp_days else ""
    pool = (
        f"<trustpool xmlns='{POOL}'><policy><expiry-warning-days>{pool_days}"
        "</expiry-warning-days></policy></trustpool>"
        if pool_days
        else ""
    )
    return xmlutil.parse(
        f'<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
        f'<trustpoints xmlns="{TP}">{tp}</trustpoints>{pool}</data>'.encode()
    )


class World:
    """Stores, an event stream and a watcher factory in one temp directory."""

    def __init__(self, root: Path) -> None:
        self.clock = FakeClock(NOW)
        self.trustpoints = TrustpointStore(root / "tp", self.clock)
        self.pool = TrustPool(root / "pool", builtin=[])
        self.events = EventStream(None, clock=self.clock)
        self.state = root / "expiry.json"
        self.tree = config()

    def watcher(self, **kw: float) -> ExpiryWatcher:
        return ExpiryWatcher(
            self.trustpoints, self.pool, lambda: self.tree, self.events, self.clock, self.state,
            **kw,
        )  # fmt: skip

    def published(self) -> list[dict[str, str]]:
        """Every certificate-expiring published so far, as leaf -> text."""
        out = []
        for _, content in self.events.replay(NOW - 1000 * DAY):
            assert content.tag == f"{{{TP}}}certificate-expiring"
            out.append({xmlutil.split(c)[1]: xmlutil.text_of(c) for c in xmlutil.children(content)})
        return out

    def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta.total_seconds())


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def local(tp: str, c: Certificate, role: KeyRole = KeyRole.GENERAL) -> TrustpointRecord:
    return TrustpointRecord(tp, local=(LocalCertificate(role, "k", c),))


def test_warning_once_then_expired_once(world: World) -> None:
    c = cert("router", NOW + 30 * DAY + timedelta(hours=5))
    world.trustpoints.restore(local("tp1", c))
    watcher = world.watcher()
    assert watcher.check() == 1
    (warning,) = world.published()
    assert warning == {
        "source": "trustpoint",
        "trustpoint": "tp1",
        "role": "general",
        "is-ca": "false",
        "subject": c.subject,
        "serial-number": "6E",
        "not-after": "2026-12-25T17:00:00Z",
        "days-remaining": "30",
        "expired": "false",
    }
    assert watcher.check() == 0
    world.advance(29 * DAY)
    assert watcher.check() == 0  # still the same crossing
    world.advance(2 * DAY)
    assert watcher.check() == 1
    expired = world.published()[1]
    assert (expired["expired"], expired["days-remaining"]) == ("true", "-1")
    assert watcher.check() == 0


def test_outside_threshold_nothing(world: World) -> None:
    world.trustpoints.restore(local("tp1", cert("router", NOW + 91 * DAY)))
    assert world.watcher().check() == 0
    assert not world.state.exists()  # nothing changed, nothing written


def test_restart_does_not_repeat(world: World) -> None:
    world.trustpoints.restore(local("tp1", cert("router", NOW + 10 * DAY)))
    assert world.watcher().check() == 1
    assert world.watcher().check() == 0
    world.advance(11 * DAY)
    assert world.watcher().check() == 1
    assert world.watcher().check() == 0
    assert len(world.published()) == 2


def test_replaced_certificate_starts_afresh(world: World) -> None:
    watcher = world.watcher()
    world.trustpoints.restore(local("tp1", cert("router", NOW + 10 * DAY)))
    assert watcher.check() == 1
    renewed = cert("router", NOW + 20 * DAY, serial=0x6F)
    world.trustpoints.restore(local("tp1", renewed))
    assert watcher.check() == 1
    assert world.published()[1]["serial-number"] == "6F"
    # The old certificate's entry is pruned from the state file.
    assert list(_state(world)) == [f"trustpoint/tp1/general/{renewed.sha256_fingerprint}"]


def test_first_seen_expired_sends_only_expired(world: World) -> None:
    c = cert("router", NOW + 5 * DAY)
    world.trustpoints.restore(local("tp1", c))
    world.advance(6 * DAY)
    watcher = world.watcher()
    assert watcher.check() == 1
    (only,) = world.published()
    assert (only["expired"], only["days-remaining"]) == ("true", "-1")
    assert watcher.check() == 0


def test_ca_and_ra_certificates(world: World) -> None:
    ca = cert("Unit CA", NOW + 10 * DAY, is_ca=True)
    ra = cert("Unit RA", NOW + 10 * DAY, serial=0x70)
    world.trustpoints.restore(TrustpointRecord("tp1", ca=ca, ra=(ra,)))
    assert world.watcher().check() == 2
    by_subject = {p["subject"]: p for p in world.published()}
    assert "role" not in by_subject[ca.subject]
    assert by_subject[ca.subject]["is-ca"] == "true"
    assert by_subject[ra.subject]["is-ca"] == "false"


def test_thresholds_come_from_config(world: World) -> None:
    world.trustpoints.restore(local("tp1", cert("router", NOW + 40 * DAY)))
    world.pool.replace([cert("Pool CA", NOW + 40 * DAY, is_ca=True)])
    world.tree = config(tp_days=30, pool_days=30)
    watcher = world.watcher()
    assert watcher.check() == 0
    world.tree = config(tp_days=45, pool_days=30)
    assert watcher.check() == 1
    assert world.published()[0]["source"] == "trustpoint"
    world.tree = config(tp_days=45, pool_days=45)
    assert watcher.check() == 1
    pool = world.published()[1]
    assert (pool["source"], pool["is-ca"]) == ("trustpool", "true")
    assert "trustpoint" not in pool and "role" not in pool


def test_default_threshold_is_90_days(world: World) -> None:
    world.pool.replace([cert("Pool CA", NOW + 89 * DAY, is_ca=True)])
    assert world.watcher().check() == 1


def test_inactive_pool_certificate_ignored(tmp_path: Path) -> None:
    old = cert("Pool CA", NOW + 5 * DAY, is_ca=True)
    world = World(tmp_path)
    world.pool = TrustPool(tmp_path / "pool2", builtin=[old])
    world.pool.replace([cert("Pool CA", NOW + 900 * DAY, is_ca=True, serial=0x71)])
    assert [e.active for e in world.pool.entries()] == [False, True]
    assert world.watcher().check() == 0
    world.pool.clean()  # the built-in becomes active again
    assert world.watcher().check() == 1


def test_no_pool(world: World) -> None:
    world.trustpoints.restore(local("tp1", cert("router", NOW + 5 * DAY)))
    watcher = ExpiryWatcher(
        world.trustpoints, None, lambda: world.tree, world.events, world.clock, world.state
    )
    assert watcher.check() == 1


@pytest.mark.parametrize("damage", [b"{not json", b'{"notified": {"x": "soon"}}', b"[]"])
def test_damaged_state_is_empty_with_warning(
    world: World, damage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    world.trustpoints.restore(local("tp1", cert("router", NOW + 5 * DAY)))
    world.state.write_bytes(damage)
    with caplog.at_level(logging.WARNING, logger="agent.ops.expiry"):
        watcher = world.watcher()
    assert "unreadable" in caplog.text
    assert watcher.check() == 1
    assert world.watcher().check() == 0  # the rewritten file is good again


def _state(world: World) -> dict[str, str]:
    doc = json.loads(world.state.read_text())
    assert isinstance(doc["notified"], dict)
    return doc["notified"]


# -- the background task ---------------------------------------------------------------------


async def _until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_task_checks_at_start_and_on_wake(world: World) -> None:
    world.trustpoints.restore(local("tp1", cert("router", NOW + 5 * DAY)))

    async def scenario() -> None:
        watcher = world.watcher(interval=3600.0)
        watcher.start()
        try:
            await _until(lambda: len(world.published()) == 1)  # the check at start
            world.trustpoints.restore(local("tp2", cert("other", NOW + 5 * DAY)))
            watcher.wake()  # the hourly check is far away: only wake can find tp2
            await _until(lambda: len(world.published()) == 2)
        finally:
            await watcher.stop()
        assert world.published()[1]["trustpoint"] == "tp2"

    asyncio.run(scenario())


def test_task_survives_a_failing_check(world: World, caplog: pytest.LogCaptureFixture) -> None:
    world.trustpoints.restore(local("tp1", cert("router", NOW + 5 * DAY)))
    broken = [True]

    def flaky() -> xmlutil.Element:
        if broken[0]:
            raise RuntimeError("config unavailable")
        return world.tree

    watcher = ExpiryWatcher(
        world.trustpoints, world.pool, flaky, world.events, world.clock, world.state,
        interval=3600.0,
    )  # fmt: skip

    async def scenario() -> None:
        watcher.start()
        try:
            await _until(lambda: "expiry check failed" in caplog.text)
            broken[0] = False
            watcher.wake()
            await _until(lambda: len(world.published()) == 1)
        finally:
            await watcher.stop()

    with caplog.at_level(logging.ERROR, logger="agent.ops.expiry"):
        asyncio.run(scenario())


def test_wake_from_another_thread(world: World) -> None:
    world.trustpoints.restore(local("tp1", cert("router", NOW + 5 * DAY)))

    async def scenario() -> None:
        watcher = world.watcher(interval=3600.0)
        watcher.start()
        try:
            await _until(lambda: len(world.published()) == 1)  # the check at start
            world.trustpoints.restore(local("tp2", cert("other", NOW + 5 * DAY)))
            await asyncio.to_thread(watcher.wake)
            await _until(lambda: len(world.published()) == 2)
        finally:
            await watcher.stop()

    asyncio.run(scenario())


def test_wake_without_task_is_noop(world: World) -> None:
    world.watcher().wake()
