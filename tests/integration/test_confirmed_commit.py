"""Confirmed commit (RFC 6241 §8.4, :confirmed-commit:1.0 and :1.1) over real SSH with
ncclient: confirmation, timeout, cancel-commit, persist and persist-id, rollback when the
confirming session ends (close, drop, kill), a pending commit across an agent restart, the
netconf-confirmed-commit notifications, and the PKI side effects: a key made by a confirmed
commit is zeroized by its rollback, a key it removes is zeroized only once confirmed."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError

from tests.integration.agent_process import AgentProcess, start_agent
from tests.integration.conftest import connect

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
KEYS = "urn:netconf-pki-agent:yang:npa-pki-keys"
TYPES = "urn:netconf-pki-agent:yang:npa-pki-types"
NOTIF = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
NS = {"k": KEYS}


@pytest.fixture
def a(agent: AgentProcess) -> Iterator[manager.Manager]:
    yield from _session(agent)


@pytest.fixture
def b(agent: AgentProcess) -> Iterator[manager.Manager]:
    yield from _session(agent)


def _session(agent: AgentProcess) -> Iterator[manager.Manager]:
    m = connect(agent)
    yield m
    if m.connected:
        m.close_session()


@pytest.fixture(autouse=True)
def no_pending_confirmed_commit(agent: AgentProcess) -> Iterator[None]:
    """Each test starts and ends with no confirmed commit pending and an empty key list."""
    yield
    with connect(agent) as m:
        try:
            m.cancel_commit()
        except RPCError as exc:
            assert "no confirmed commit" in exc.message
        m.discard_changes()


def declare(m: manager.Manager, *labels: str, op: str = "merge") -> None:
    entries = "".join(
        f'<key nc:operation="{op}"><label>{label}</label><algorithm>t:ed25519</algorithm></key>'
        for label in labels
    )
    m.edit_config(
        target="candidate",
        config=f'<config xmlns="{NC}" xmlns:nc="{NC}"><keys xmlns="{KEYS}" '
        f'xmlns:t="{TYPES}">{entries}</keys></config>',
    )


def remove(m: manager.Manager, label: str) -> None:
    m.edit_config(
        target="candidate",
        config=f'<config xmlns="{NC}" xmlns:nc="{NC}"><keys xmlns="{KEYS}"><key '
        f'nc:operation="delete"><label>{label}</label></key></keys></config>',
    )


def running_labels(m: manager.Manager) -> list[str]:
    data = m.get_config(source="running", filter=("subtree", f'<keys xmlns="{KEYS}"/>')).data_ele
    return sorted(data.xpath("//k:key/k:label/text()", namespaces=NS))


def stored_keys(m: manager.Manager) -> dict[str, str]:
    """label -> SHA-256 fingerprint of every key the agent holds."""
    data = m.get(filter=("subtree", f'<keys-state xmlns="{KEYS}"/>')).data_ele
    return {
        k.findtext("k:label", namespaces=NS): k.findtext(
            "k:component/k:sha256-fingerprint", namespaces=NS
        )
        for k in data.iterfind(".//k:key", NS)
    }


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def confirm_events(m: manager.Manager, count: int) -> list[etree._Element]:
    out = []
    while len(out) < count:
        n = m.take_notification(timeout=20)
        assert n is not None, f"only {len(out)} netconf-confirmed-commit notifications"
        el = n.notification_ele.find(f"{{{NOTIF}}}netconf-confirmed-commit")
        if el is not None:
            out.append(el)
    return out


def test_hello_advertises_both_versions(a: manager.Manager) -> None:
    caps = set(a.server_capabilities)
    assert "urn:ietf:params:netconf:capability:confirmed-commit:1.0" in caps
    assert "urn:ietf:params:netconf:capability:confirmed-commit:1.1" in caps


def test_confirming_commit_keeps_the_change(a: manager.Manager) -> None:
    declare(a, "cc-confirmed")
    a.commit(confirmed=True, timeout="60")
    assert "cc-confirmed" in running_labels(a)
    a.commit()
    assert "cc-confirmed" in running_labels(a)
    with pytest.raises(RPCError, match="no confirmed commit"):
        a.cancel_commit()
    remove(a, "cc-confirmed")
    a.commit()


def test_timeout_rolls_back_and_zeroizes_the_key_it_made(
    a: manager.Manager, b: manager.Manager
) -> None:
    b.create_subscription()
    declare(a, "cc-timeout")
    a.commit(confirmed=True, timeout="1")
    assert "cc-timeout" in stored_keys(a)
    wait_for(lambda: "cc-timeout" not in running_labels(b), "the rollback")
    assert "cc-timeout" not in stored_keys(b)
    assert "cc-timeout" not in running_labels(a)  # the candidate followed running
    start, timeout = confirm_events(b, 2)
    assert start.findtext(f"{{{NOTIF}}}confirm-event") == "start"
    assert start.findtext(f"{{{NOTIF}}}timeout") == "1"
    assert start.findtext(f"{{{NOTIF}}}username") == "admin"
    assert timeout.findtext(f"{{{NOTIF}}}confirm-event") == "timeout"
    assert timeout.find(f"{{{NOTIF}}}session-id") is None


def test_removed_key_survives_a_rollback_and_goes_once_confirmed(a: manager.Manager) -> None:
    declare(a, "cc-kept")
    a.commit()
    before = stored_keys(a)["cc-kept"]
    remove(a, "cc-kept")
    a.commit(confirmed=True, timeout="60")
    assert "cc-kept" not in running_labels(a)
    assert stored_keys(a)["cc-kept"] == before  # zeroize waits for the confirmation
    a.cancel_commit()
    assert "cc-kept" in running_labels(a)
    assert stored_keys(a)["cc-kept"] == before  # the very same key pair
    remove(a, "cc-kept")
    a.commit(confirmed=True, timeout="60")
    a.commit()
    assert "cc-kept" not in stored_keys(a)


def test_dropped_connection_rolls_back(agent: AgentProcess, b: manager.Manager) -> None:
    a = connect(agent)
    declare(a, "cc-dropped")
    a.commit(confirmed=True, timeout="600")
    assert "cc-dropped" in running_labels(b)
    a._session.close()  # the transport goes away without close-session
    wait_for(lambda: "cc-dropped" not in running_labels(b), "the rollback")
    assert "cc-dropped" not in stored_keys(b)


def test_close_session_rolls_back(agent: AgentProcess, b: manager.Manager) -> None:
    with connect(agent) as a:
        declare(a, "cc-closed")
        a.commit(confirmed=True, timeout="600")
    assert "cc-closed" not in running_labels(b)


def test_kill_session_rolls_back(a: manager.Manager, b: manager.Manager) -> None:
    declare(a, "cc-killed")
    a.commit(confirmed=True, timeout="600")
    b.kill_session(a.session_id)
    assert "cc-killed" not in running_labels(b)


def test_only_the_confirming_session_may_commit_or_cancel(
    a: manager.Manager, b: manager.Manager
) -> None:
    declare(a, "cc-owned")
    a.commit(confirmed=True, timeout="600")
    with pytest.raises(RPCError) as exc:
        b.cancel_commit()
    assert exc.value.tag == "operation-failed" and f"session {a.session_id}" in exc.value.message
    with pytest.raises(RPCError) as exc:
        b.commit()
    assert exc.value.tag == "operation-failed"
    assert "cc-owned" in running_labels(b)
    a.cancel_commit()
    assert "cc-owned" not in running_labels(b)


def test_persist_outlives_the_session_and_needs_its_id(
    agent: AgentProcess, b: manager.Manager
) -> None:
    with connect(agent) as a:
        declare(a, "cc-persist")
        a.commit(confirmed=True, timeout="600", persist="token-1")
    assert "cc-persist" in running_labels(b)
    with pytest.raises(RPCError) as exc:
        b.commit(persist_id="token-2")
    assert (exc.value.tag, exc.value.message) == (
        "invalid-value",
        "persist-id does not match the pending confirmed commit",
    )
    with pytest.raises(RPCError, match="give its persist-id"):
        b.commit()
    b.commit(persist_id="token-1")
    assert "cc-persist" in running_labels(b)
    remove(b, "cc-persist")
    b.commit()


def test_cancel_commit_with_persist_id(a: manager.Manager, b: manager.Manager) -> None:
    declare(a, "cc-cancel")
    a.commit(confirmed=True, timeout="600", persist="tok")
    with pytest.raises(RPCError, match="does not match"):
        b.cancel_commit(persist_id="nope")
    b.cancel_commit(persist_id="tok")
    assert "cc-cancel" not in running_labels(a)


@pytest.mark.parametrize("timeout", ["0", "-5", "soon", "4294967296"])
def test_bad_confirm_timeout(a: manager.Manager, timeout: str) -> None:
    declare(a, "cc-bad")
    with pytest.raises(RPCError) as exc:
        a.commit(confirmed=True, timeout=timeout)
    assert exc.value.tag == "invalid-value"
    assert "cc-bad" not in running_labels(a)


@pytest.mark.parametrize("param", ["<persist>p</persist>", "<confirm-timeout>5</confirm-timeout>"])
def test_confirm_parameters_need_confirmed(a: manager.Manager, param: str) -> None:
    declare(a, "cc-stray")
    with pytest.raises(RPCError) as exc:
        a.dispatch(etree.fromstring(f'<commit xmlns="{NC}">{param}</commit>'))
    assert exc.value.tag == "bad-element" and "only allowed with <confirmed/>" in exc.value.message
    assert "cc-stray" not in running_labels(a)


def test_persist_id_without_pending_commit(a: manager.Manager) -> None:
    with pytest.raises(RPCError) as exc:
        a.commit(persist_id="ghost")
    assert exc.value.tag == "invalid-value" and "no confirmed commit" in exc.value.message


def test_pending_commit_survives_restart(tmp_path: Path) -> None:
    proc = start_agent(tmp_path / "state")
    try:
        with connect(proc) as m:
            declare(m, "cc-restart")
            m.commit(confirmed=True, timeout="600", persist="across")
            assert "cc-restart" in stored_keys(m)
        assert proc.stop() == 0
        proc = start_agent(tmp_path / "state")
        with connect(proc) as m:
            assert "cc-restart" in running_labels(m)
            with pytest.raises(RPCError, match="does not match"):
                m.cancel_commit(persist_id="other")
            m.cancel_commit(persist_id="across")
            assert running_labels(m) == []
            assert "cc-restart" not in stored_keys(m)
    finally:
        proc.stop()


def test_crash_then_restart_rolls_back_a_commit_without_persist(tmp_path: Path) -> None:
    proc = start_agent(tmp_path / "state")
    try:
        m = connect(proc)
        declare(m, "cc-gone")
        m.commit(confirmed=True, timeout="600")
        assert proc.stop(signal.SIGKILL) == -signal.SIGKILL  # no session end is seen
        proc = start_agent(tmp_path / "state")
        with connect(proc) as m:
            wait_for(lambda: running_labels(m) == [], "the rollback after restart")
            assert "cc-gone" not in stored_keys(m)
    finally:
        proc.stop()
