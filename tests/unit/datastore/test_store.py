"""The datastore's promises, on the project's real YANG modules: a rejected change changes
nothing, discard and commit are exact, and running survives a restart through the log."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from agent.datastore import schema as schema_mod
from agent.datastore.edit import ErrorOption
from agent.datastore.schema import Schema
from agent.datastore.store import CANDIDATE, RUNNING, Datastore, TestOption
from agent.errors import InUse, LockDenied, OperationNotSupported, RpcError, RpcErrors
from agent.xmlutil import Element, parse

YANG = Path(__file__).resolve().parents[3] / "yang"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
KEYS = "urn:netconf-pki-agent:yang:npa-pki-keys"
TYPES = "urn:netconf-pki-agent:yang:npa-pki-types"


@pytest.fixture(scope="module")
def schema() -> Schema:
    return schema_mod.load(YANG)


@pytest.fixture
def ds(schema: Schema, tmp_path: Path) -> Datastore:
    store = Datastore(schema, tmp_path)
    store.load()
    return store


def config(body: str) -> Element:
    return parse(f'<config xmlns="{NC}" xmlns:nc="{NC}">{body}</config>'.encode())


def keys(*labels: str, op: str = "") -> Element:
    attr = f' nc:operation="{op}"' if op else ""
    entries = "".join(f"<key{attr}><label>{label}</label></key>" for label in labels)
    return config(f'<keys xmlns="{KEYS}">{entries}</keys>')


def labels(tree: Element) -> list[str]:
    return tree.xpath("/*/k:keys/k:key/k:label/text()", namespaces={"k": KEYS})


def snapshot(ds: Datastore) -> tuple[bytes, bytes]:
    return etree.tostring(ds.tree(RUNNING)), etree.tostring(ds.tree(CANDIDATE))


BAD_USAGE = (
    f'<keys xmlns="{KEYS}" xmlns:t="{TYPES}"><key><label>ec</label>'
    "<algorithm>t:ecdsa-p256</algorithm><usage>usage-keys</usage></key></keys>"
)


def test_commit_then_restart_replays_log(ds: Datastore, schema: Schema, tmp_path: Path) -> None:
    bulk = [f"bulk{i:03}" for i in range(300)]
    ds.edit(CANDIDATE, 1, keys(*bulk))
    ds.commit(1)  # large next to the datastore: a snapshot
    assert (tmp_path / "running.log").stat().st_size == 0
    for i in range(5):
        ds.edit(CANDIDATE, 1, keys(f"k{i}"))
        ds.commit(1)  # small: a log record each
    ds.edit(CANDIDATE, 1, keys("k2", op="delete"))
    ds.commit(1)
    assert (tmp_path / "running.log").stat().st_size > 0
    again = Datastore(schema, tmp_path)
    again.load()
    assert labels(again.tree(RUNNING)) == [*bulk, "k0", "k1", "k3", "k4"]
    assert etree.tostring(again.tree(RUNNING)) == etree.tostring(ds.tree(RUNNING))
    assert etree.tostring(again.tree(CANDIDATE)) == etree.tostring(ds.tree(CANDIDATE))


def test_failed_commit_changes_nothing(ds: Datastore) -> None:
    ds.edit(CANDIDATE, 1, keys("good"))
    ds.commit(1)
    ds.edit(CANDIDATE, 1, config(BAD_USAGE))
    before = snapshot(ds)
    with pytest.raises((RpcError, RpcErrors)):
        ds.commit(1)
    assert snapshot(ds) == before
    assert labels(ds.tree(RUNNING)) == ["good"]


def test_discard_is_exact(ds: Datastore) -> None:
    ds.edit(CANDIDATE, 1, keys("a", "b", "c"))
    ds.commit(1)
    before = etree.tostring(ds.tree(CANDIDATE))
    ds.edit(CANDIDATE, 1, keys("b", op="delete"))
    ds.edit(CANDIDATE, 1, keys("d"))
    ds.discard_changes(1)
    assert etree.tostring(ds.tree(CANDIDATE)) == before
    assert not ds.candidate_modified()


def test_failed_edit_changes_nothing(ds: Datastore) -> None:
    ds.edit(CANDIDATE, 1, keys("a"))
    before = snapshot(ds)
    bad = config(f'<keys xmlns="{KEYS}"><key><label>z</label><modulus>7</modulus></key></keys>')
    for option in ErrorOption:
        if option is ErrorOption.CONTINUE_ON_ERROR:
            continue
        with pytest.raises(RpcError):
            ds.edit(CANDIDATE, 1, bad, error_option=option)
        assert snapshot(ds) == before


def test_test_only_changes_nothing(ds: Datastore) -> None:
    before = snapshot(ds)
    ds.edit(CANDIDATE, 1, keys("t"), test_option=TestOption.TEST_ONLY)
    assert snapshot(ds) == before


def test_copy_config_then_commit_writes_snapshot(
    ds: Datastore, schema: Schema, tmp_path: Path
) -> None:
    ds.copy_config(1, keys("x", "y"), CANDIDATE)
    ds.commit(1)
    again = Datastore(schema, tmp_path)
    again.load()
    assert labels(again.tree(RUNNING)) == ["x", "y"]


def test_write_to_running_is_staged_in_the_candidate_and_committed(ds: Datastore) -> None:
    ds.edit(RUNNING, 1, keys("a"))
    ds.commit(1, staged=True)
    assert labels(ds.tree(RUNNING)) == labels(ds.tree(CANDIDATE)) == ["a"]
    assert not ds.candidate_modified()


def test_write_to_running_refused_while_the_candidate_holds_changes(ds: Datastore) -> None:
    ds.edit(CANDIDATE, 2, keys("theirs"))
    before = snapshot(ds)
    with pytest.raises(InUse):
        ds.edit(RUNNING, 1, keys("a"))
    with pytest.raises(InUse):
        ds.copy_config(1, keys("b"), RUNNING)
    assert snapshot(ds) == before


def test_write_to_running_refused_under_another_sessions_running_lock(ds: Datastore) -> None:
    ds.lock(RUNNING, 2)
    with pytest.raises(LockDenied):
        ds.edit(RUNNING, 1, keys("a"))
    assert labels(ds.tree(CANDIDATE)) == []


def test_failed_staged_commit_is_abandoned(ds: Datastore) -> None:
    ds.edit(RUNNING, 1, config(BAD_USAGE))
    before_running = etree.tostring(ds.tree(RUNNING))
    with pytest.raises(RpcError, match="usage-keys needs an RSA key"):
        ds.commit(1, staged=True)
    ds.abandon_staged()
    assert etree.tostring(ds.tree(RUNNING)) == before_running
    assert not ds.candidate_modified()


def test_startup_is_not_supported(ds: Datastore) -> None:
    with pytest.raises(OperationNotSupported):
        ds.lock("startup", 1)


def test_unlock_discards_holders_changes(ds: Datastore) -> None:
    ds.lock(CANDIDATE, 1)
    ds.edit(CANDIDATE, 1, keys("mine"))
    ds.unlock(CANDIDATE, 1)
    assert labels(ds.tree(CANDIDATE)) == []


def test_lock_refused_while_others_changes_pending(ds: Datastore) -> None:
    ds.edit(CANDIDATE, 1, keys("pending"))
    with pytest.raises(LockDenied) as exc:
        ds.lock(CANDIDATE, 2)
    assert exc.value.holder == 1
    ds.commit(1)
    ds.lock(CANDIDATE, 2)


def test_commit_by_other_session_refused_while_locked(ds: Datastore) -> None:
    ds.lock(CANDIDATE, 1)
    ds.edit(CANDIDATE, 1, keys("a"))
    with pytest.raises(LockDenied):
        ds.commit(2)
    ds.session_closed(1)
    assert labels(ds.tree(CANDIDATE)) == []
    ds.lock(CANDIDATE, 2)


def test_torn_log_tail_after_crash(ds: Datastore, schema: Schema, tmp_path: Path) -> None:
    ds.edit(CANDIDATE, 1, keys(*[f"bulk{i:03}" for i in range(300)]))
    ds.commit(1)
    ds.edit(CANDIDATE, 1, keys("one"))
    ds.commit(1)
    ds.edit(CANDIDATE, 1, keys("two"))
    ds.commit(1)
    log = tmp_path / "running.log"
    log.write_bytes(log.read_bytes()[:-5])  # the second record torn mid-write
    again = Datastore(schema, tmp_path)
    again.load()
    assert labels(again.tree(RUNNING))[-2:] == ["bulk299", "one"]


def test_operational_builds_only_the_top_level_nodes_asked_for(ds: Datastore) -> None:
    calls: list[str] = []
    ds.add_state_provider(((KEYS, "keys-state"),), lambda: calls.append("provider") or [])
    ds.add_state_decorator((KEYS, "keys"), lambda tree: calls.append("decorator"))
    ds.edit(CANDIDATE, 1, keys("a"))
    ds.commit(1)
    only_state = ds.operational(lambda ns, name: (ns, name) == (KEYS, "keys-state"))
    assert calls == ["provider"] and labels(only_state) == []
    calls.clear()
    assert labels(ds.operational()) == ["a"] and calls == ["decorator", "provider"]
    calls.clear()
    ds.decorate(parse(f'<data xmlns="{NC}"/>'.encode()))  # no /keys in it: not decorated
    assert calls == []
