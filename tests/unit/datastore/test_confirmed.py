"""Confirmed commit (RFC 6241 §8.4) in the datastore, on a settable clock: confirmation,
timeout, cancel, the persist rules, session end, restart, and what the subscribers are told."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from agent.datastore import schema as schema_mod
from agent.datastore.confirmed import ConfirmOptions
from agent.datastore.schema import Schema
from agent.datastore.store import (
    CANDIDATE,
    RUNNING,
    CommitKind,
    ConfirmEvent,
    Datastore,
    Removed,
)
from agent.errors import InvalidValue, OperationFailed
from agent.xmlutil import Element, parse

YANG = Path(__file__).resolve().parents[3] / "yang"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
KEYS = "urn:netconf-pki-agent:yang:npa-pki-keys"


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


class Recorder:
    """A commit subscriber that records what it is asked, and a confirm listener."""

    def __init__(self) -> None:
        self.prepared: list[tuple[list[str], list[str], CommitKind]] = []
        self.removed: list[Removed] = []
        self.events: list[tuple[ConfirmEvent, int | None, float | None]] = []

    def prepare(
        self,
        old: Element,
        new: Element,
        kind: CommitKind = CommitKind.NORMAL,
        removed: Removed = None,
    ) -> None:
        self.prepared.append((labels(old), labels(new), kind))
        self.removed.append(removed)

    def listen(self, event: ConfirmEvent, session: int | None, timeout: float | None) -> None:
        self.events.append((event, session, timeout))


@pytest.fixture(scope="module")
def schema() -> Schema:
    return schema_mod.load(YANG)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


def open_store(schema: Schema, path: Path, clock: Clock, rec: Recorder) -> Datastore:
    ds = Datastore(schema, path, now=clock)
    ds.load()
    ds.subscribe(rec)
    ds.add_confirm_listener(rec.listen)
    return ds


@pytest.fixture
def ds(schema: Schema, tmp_path: Path, clock: Clock, rec: Recorder) -> Datastore:
    ds = open_store(schema, tmp_path, clock, rec)
    ds.edit(CANDIDATE, 1, keys("base"))
    ds.commit(1)
    rec.prepared.clear()
    return ds


def keys(*names: str) -> Element:
    entries = "".join(f"<key><label>{n}</label></key>" for n in names)
    return parse(f'<config xmlns="{NC}"><keys xmlns="{KEYS}">{entries}</keys></config>'.encode())


def labels(tree: Element) -> list[str]:
    return tree.xpath("/*/k:keys/k:key/k:label/text()", namespaces={"k": KEYS})


def confirmed(ds: Datastore, session: int, *names: str, timeout: float = 60, **kw: str) -> None:
    ds.edit(CANDIDATE, session, keys(*names))
    ds.commit(session, confirm=ConfirmOptions(timeout=timeout, persist=kw.get("persist")))


def test_confirming_commit_keeps_the_change(ds: Datastore, rec: Recorder) -> None:
    confirmed(ds, 1, "new")
    assert labels(ds.tree(RUNNING)) == ["base", "new"]
    assert rec.prepared == [(["base"], ["base", "new"], CommitKind.TENTATIVE)]
    ds.commit(1)
    # The confirmation resolves against the config from before the confirmed commit.
    assert rec.prepared[-1] == (["base"], ["base", "new"], CommitKind.RESOLVE)
    assert ds.confirm_deadline is None
    assert [e for e, _, _ in rec.events] == [ConfirmEvent.START, ConfirmEvent.COMPLETE]


def test_timeout_rolls_back_and_candidate_follows(
    ds: Datastore, clock: Clock, rec: Recorder, tmp_path: Path
) -> None:
    confirmed(ds, 1, "new", timeout=30)
    assert (tmp_path / "confirmed-commit.xml").exists()
    clock.t += 29
    assert not ds.expire()
    clock.t += 1
    assert ds.expire()
    assert labels(ds.tree(RUNNING)) == labels(ds.tree(CANDIDATE)) == ["base"]
    assert rec.prepared[-1] == (["base", "new"], ["base"], CommitKind.RESOLVE)
    assert rec.events[-1] == (ConfirmEvent.TIMEOUT, None, None)
    assert not (tmp_path / "confirmed-commit.xml").exists()


def test_follow_up_confirmed_commit_extends_and_keeps_the_first_rollback_point(
    ds: Datastore, clock: Clock, rec: Recorder
) -> None:
    confirmed(ds, 1, "one", timeout=10)
    clock.t += 5
    confirmed(ds, 1, "two", timeout=10)
    assert ds.confirm_deadline == clock.t + 10
    assert rec.events[-1] == (ConfirmEvent.EXTEND, 1, 10)
    clock.t += 10
    assert ds.expire()
    assert labels(ds.tree(RUNNING)) == ["base"]


def test_without_persist_only_the_same_session_confirms_or_cancels(ds: Datastore) -> None:
    confirmed(ds, 1, "new")
    with pytest.raises(OperationFailed, match="session 1"):
        ds.commit(2)
    with pytest.raises(OperationFailed):
        ds.cancel_commit(2, None)
    with pytest.raises(InvalidValue, match="no persist token"):
        ds.commit(1, persist_id="x")
    ds.cancel_commit(1, None)
    assert labels(ds.tree(RUNNING)) == ["base"]


def test_persist_lets_any_session_confirm_with_the_right_id(ds: Datastore) -> None:
    confirmed(ds, 1, "new", persist="tok")
    ds.session_closed(1)  # persist: the commit outlives its session
    assert labels(ds.tree(RUNNING)) == ["base", "new"]
    with pytest.raises(InvalidValue, match="does not match"):
        ds.commit(2, persist_id="other")
    with pytest.raises(InvalidValue, match="give its persist-id"):
        ds.commit(2)
    ds.commit(2, persist_id="tok")
    assert ds.confirm_deadline is None
    assert labels(ds.tree(RUNNING)) == ["base", "new"]


def test_session_end_rolls_back_a_commit_without_persist(ds: Datastore, rec: Recorder) -> None:
    confirmed(ds, 3, "new")
    ds.session_closed(4)
    assert labels(ds.tree(RUNNING)) == ["base", "new"]
    ds.session_closed(3)
    assert labels(ds.tree(RUNNING)) == ["base"]
    assert rec.events[-1] == (ConfirmEvent.CANCEL, 3, None)


def test_cancel_and_persist_id_without_a_pending_commit(ds: Datastore) -> None:
    with pytest.raises(OperationFailed, match="no confirmed commit"):
        ds.cancel_commit(1, None)
    with pytest.raises(InvalidValue, match="no confirmed commit"):
        ds.commit(1, persist_id="x")


def test_rollback_keeps_uncommitted_candidate_changes(ds: Datastore, clock: Clock) -> None:
    confirmed(ds, 1, "new", timeout=1)
    ds.edit(CANDIDATE, 2, keys("pending"))
    clock.t += 1
    ds.expire()
    assert labels(ds.tree(RUNNING)) == ["base"]
    assert labels(ds.tree(CANDIDATE)) == ["base", "new", "pending"]
    ds.commit(2)  # the candidate is committed whole
    assert labels(ds.tree(RUNNING)) == ["base", "new", "pending"]


def test_pending_commit_with_persist_survives_restart(
    ds: Datastore, schema: Schema, tmp_path: Path, clock: Clock, rec: Recorder
) -> None:
    confirmed(ds, 1, "new", timeout=100, persist="tok")
    deadline = ds.confirm_deadline
    again = open_store(schema, tmp_path, clock, rec)
    assert again.confirm_deadline == deadline
    assert labels(again.tree(RUNNING)) == ["base", "new"]
    clock.t += 100
    assert again.expire()
    assert labels(again.tree(RUNNING)) == ["base"]
    third = open_store(schema, tmp_path, clock, rec)
    assert third.confirm_deadline is None
    assert labels(third.tree(RUNNING)) == ["base"]


def test_pending_commit_without_persist_rolls_back_after_restart(
    ds: Datastore, schema: Schema, tmp_path: Path, clock: Clock, rec: Recorder
) -> None:
    confirmed(ds, 1, "new", timeout=100)
    again = open_store(schema, tmp_path, clock, rec)
    assert again.confirm_deadline == 0.0  # its session is gone: due at once
    assert again.expire()
    assert labels(again.tree(RUNNING)) == ["base"]


def test_staged_write_during_a_confirmed_commit_is_tentative(ds: Datastore, rec: Recorder) -> None:
    confirmed(ds, 1, "new")
    ds.edit(RUNNING, 2, keys("direct"))
    ds.commit(2, staged=True)
    assert rec.prepared[-1][2] is CommitKind.TENTATIVE
    assert ds.confirm_deadline is not None  # neither confirmed nor extended


def test_stale_plan_is_refused_and_changes_nothing(ds: Datastore) -> None:
    ds.edit(CANDIDATE, 1, keys("a"))
    plan = ds.begin_commit(1)
    ds.discard_changes(1)
    ds.edit(CANDIDATE, 1, keys("b"))
    before = etree.tostring(ds.tree(RUNNING))
    with pytest.raises(OperationFailed, match="changed while the commit"):
        ds.finish_commit(plan)
    assert etree.tostring(ds.tree(RUNNING)) == before


def test_subscribers_are_told_what_was_removed(ds: Datastore, rec: Recorder) -> None:
    ds.edit(CANDIDATE, 1, keys("more"))
    ds.commit(1)
    assert rec.removed[-1] == frozenset()  # a merge removes nothing
    gone = parse(
        f'<config xmlns="{NC}" xmlns:nc="{NC}"><keys xmlns="{KEYS}"><key nc:operation="delete">'
        "<label>more</label></key></keys></config>".encode()
    )
    ds.edit(CANDIDATE, 1, gone)
    ds.commit(1)
    assert rec.removed[-1] == frozenset({(KEYS, "key")})
    ds.copy_config(1, keys("base"), CANDIDATE)
    ds.commit(1)
    assert rec.removed[-1] is None  # a whole new tree: anything may have gone
