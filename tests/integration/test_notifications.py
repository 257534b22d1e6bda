"""RFC 5277 notifications on the NETCONF stream and the RFC 6470 base notifications, over
real SSH with ncclient (plus one raw base:1.1 session for the framing)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError
from ncclient.xml_ import to_ele

from tests.integration.agent_process import AgentProcess, start_agent
from tests.integration.conftest import connect
from tests.integration.raw import HELLO_11, RawSession, chunk

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NETMOD = "urn:ietf:params:xml:ns:netmod:notification"
NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
SYS = "urn:netconf-pki-agent:yang:npa-pki-system"
WAIT = 15.0


@pytest.fixture
def sub(agent: AgentProcess) -> Iterator[manager.Manager]:
    m = connect(agent)
    yield m
    if m.connected:
        m.close_session()


def now() -> datetime:
    return datetime.now(UTC)


def stamp(when: datetime) -> str:
    return when.isoformat()


def content_of(notification: etree._Element) -> etree._Element:
    """The event content: the child of <notification> that is not <eventTime>."""
    return next(c for c in notification if etree.QName(c).localname != "eventTime")


def take_until(
    m: manager.Manager, ns: str, name: str, session_id: str | None = None
) -> tuple[etree._Element, list[etree._Element]]:
    """Notifications until one named {ns}name (for session_id, if given), with a deadline;
    returns it and the contents of those skipped before it."""
    skipped: list[etree._Element] = []
    deadline = time.monotonic() + WAIT
    while (left := deadline - time.monotonic()) > 0:
        n = m.take_notification(timeout=left)
        if n is None:
            break
        root = n.notification_ele
        assert etree.QName(root).namespace == NOTIF
        content = content_of(root)
        q = etree.QName(content)
        sid = content.findtext(f".//{{{NCN}}}session-id")
        if (q.namespace, q.localname) == (ns, name) and session_id in (None, sid):
            return root, skipped
        skipped.append(content)
    raise AssertionError(f"no {name} within {WAIT}s; got {names(skipped)}")


def names(contents: list[etree._Element]) -> list[str]:
    return [etree.QName(c).localname for c in contents]


def commit_hostname(m: manager.Manager, hostname: str) -> None:
    config = (
        f'<config xmlns="{NC}"><device-identity xmlns="{SYS}"><hostname>{hostname}</hostname>'
        f"<domain-name>example.net</domain-name></device-identity></config>"
    )
    m.edit_config(target="candidate", config=config)
    m.commit()


def subscribe_raw(m: manager.Manager, body: str) -> None:
    m.dispatch(to_ele(f'<create-subscription xmlns="{NOTIF}">{body}</create-subscription>'))


def test_capabilities(sub: manager.Manager) -> None:
    assert "urn:ietf:params:netconf:capability:notification:1.0" in sub.server_capabilities
    assert "urn:ietf:params:netconf:capability:interleave:1.0" in sub.server_capabilities


def test_commit_from_another_session_yields_config_change(
    agent: AgentProcess, sub: manager.Manager
) -> None:
    assert sub.create_subscription().ok
    with connect(agent) as other:
        commit_hostname(other, "change1")
        n, _ = take_until(sub, NCN, "netconf-config-change")
        by = n.find(f".//{{{NCN}}}changed-by")
        assert by is not None
        assert by.findtext(f"{{{NCN}}}username") == "admin"
        assert by.findtext(f"{{{NCN}}}session-id") == other.session_id
        assert by.findtext(f"{{{NCN}}}source-host") == "127.0.0.1"
        assert n.findtext(f".//{{{NCN}}}datastore") == "running"
        assert datetime.fromisoformat(n.findtext(f"{{{NOTIF}}}eventTime") or "").tzinfo


def test_config_change_carries_the_edit_list(agent: AgentProcess, sub: manager.Manager) -> None:
    assert sub.create_subscription().ok
    keys = "urn:netconf-pki-agent:yang:npa-pki-keys"
    with connect(agent) as other:
        other.edit_config(
            target="candidate",
            config=f'<config xmlns="{NC}" xmlns:nc="{NC}"><keys xmlns="{keys}">'
            f"<key><label>edit-list</label></key></keys></config>",
        )
        other.edit_config(
            target="candidate",
            default_operation="none",
            config=f'<config xmlns="{NC}" xmlns:nc="{NC}"><keys xmlns="{keys}"><key '
            f'nc:operation="delete"><label>edit-list</label></key></keys></config>',
        )
        other.commit()
        n, _ = take_until(sub, NCN, "netconf-config-change", other.session_id)
    edits = [
        (e.find(f"{{{NCN}}}target"), e.findtext(f"{{{NCN}}}operation"))
        for e in n.iter(f"{{{NCN}}}edit")
    ]
    assert [op for _, op in edits] == ["merge", "delete"]
    merged, deleted = (t for t, _ in edits)
    assert merged is not None and deleted is not None
    assert merged.text == "/pki-keys:keys"
    assert deleted.text == "/pki-keys:keys/pki-keys:key[pki-keys:label='edit-list']"
    assert deleted.nsmap["pki-keys"] == keys  # the prefix is declared for the reader


def test_session_start_and_end(agent: AgentProcess, sub: manager.Manager) -> None:
    sub.create_subscription()
    other = connect(agent)
    sid = other.session_id
    start, _ = take_until(sub, NCN, "netconf-session-start", sid)
    assert start.findtext(f".//{{{NCN}}}username") == "admin"
    other.close_session()
    end, _ = take_until(sub, NCN, "netconf-session-end", sid)
    assert end.findtext(f".//{{{NCN}}}termination-reason") == "closed"
    assert end.find(f".//{{{NCN}}}killed-by") is None


def test_killed_session_end_names_the_killer(agent: AgentProcess, sub: manager.Manager) -> None:
    sub.create_subscription()
    victim = connect(agent)
    sub.kill_session(victim.session_id)
    end, _ = take_until(sub, NCN, "netconf-session-end", victim.session_id)
    assert end.findtext(f".//{{{NCN}}}termination-reason") == "killed"
    assert end.findtext(f".//{{{NCN}}}killed-by") == sub.session_id


@pytest.mark.parametrize("ns", [NOTIF, NC], ids=["notification-ns", "base-ns"])
def test_filter_selects_only_some(agent: AgentProcess, sub: manager.Manager, ns: str) -> None:
    subscribe_raw(
        sub, f'<filter xmlns="{ns}" type="subtree"><netconf-session-end xmlns="{NCN}"/></filter>'
    )
    other = connect(agent)
    sid = other.session_id
    other.close_session()
    _, skipped = take_until(sub, NCN, "netconf-session-end", sid)
    assert set(names(skipped)) <= {"netconf-session-end"}


def test_content_match_filter_selects_one_session(
    agent: AgentProcess, sub: manager.Manager
) -> None:
    first, second = connect(agent), connect(agent)
    match = f"<changed-by><session-id>{second.session_id}</session-id></changed-by>"
    subscribe_raw(
        sub,
        f'<filter type="subtree"><netconf-config-change xmlns="{NCN}">{match}'
        "</netconf-config-change></filter>",
    )
    commit_hostname(first, "by-first")
    commit_hostname(second, "by-second")
    _, skipped = take_until(sub, NCN, "netconf-config-change", second.session_id)
    assert skipped == []
    first.close_session()
    second.close_session()


def test_ncclient_tuple_filter(agent: AgentProcess, sub: manager.Manager) -> None:
    sub.create_subscription(filter=("subtree", f'<netconf-config-change xmlns="{NCN}"/>'))
    with connect(agent) as other:
        commit_hostname(other, "filtered")
    _, skipped = take_until(sub, NCN, "netconf-config-change")
    assert skipped == []


def test_replay_then_replay_complete(agent: AgentProcess, sub: manager.Manager) -> None:
    t0 = now() - timedelta(seconds=1)
    with connect(agent) as other:
        commit_hostname(other, "replayed")
        committer = other.session_id
    sub.create_subscription(start_time=stamp(t0))
    change, _ = take_until(sub, NCN, "netconf-config-change", committer)
    assert datetime.fromisoformat(change.findtext(f"{{{NOTIF}}}eventTime") or "") >= t0
    _, skipped = take_until(sub, NETMOD, "replayComplete")
    assert "netconf-config-change" not in names(skipped)  # sent once, not again after replay


def test_stop_time_ends_with_notification_complete(
    agent: AgentProcess, sub: manager.Manager
) -> None:
    t0 = now() - timedelta(seconds=1)
    sub.create_subscription(start_time=stamp(t0), stop_time=stamp(now() + timedelta(seconds=1)))
    take_until(sub, NETMOD, "replayComplete")
    take_until(sub, NETMOD, "notificationComplete")
    # The subscription is over: the session may subscribe again.
    assert sub.create_subscription().ok


def test_stop_time_in_the_past_replays_the_window_only(
    agent: AgentProcess, sub: manager.Manager
) -> None:
    t0 = now() - timedelta(seconds=1)
    with connect(agent) as other:
        commit_hostname(other, "window")
        committer = other.session_id
    stop = now()
    with connect(agent) as late:
        commit_hostname(late, "after-window")
        late_id = late.session_id
    sub.create_subscription(start_time=stamp(t0), stop_time=stamp(stop))
    take_until(sub, NCN, "netconf-config-change", committer)
    _, skipped = take_until(sub, NETMOD, "notificationComplete")
    assert names(skipped)[-1] == "replayComplete"
    assert all(c.findtext(f".//{{{NCN}}}session-id") != late_id for c in skipped)


@pytest.mark.parametrize(
    ("body", "tag", "bad"),
    [
        ("<stream>OTHER</stream>", "invalid-value", "stream"),
        (f"<stopTime>{stamp(now())}</stopTime>", "missing-element", "startTime"),
        (
            f"<startTime>{stamp(now())}</startTime>"
            f"<stopTime>{stamp(now() - timedelta(hours=1))}</stopTime>",
            "bad-element",
            "stopTime",
        ),
        (f"<startTime>{stamp(now() + timedelta(days=1))}</startTime>", "bad-element", "startTime"),
        ("<startTime>yesterday</startTime>", "invalid-value", "startTime"),
    ],
    ids=["unknown-stream", "stop-without-start", "stop-before-start", "future-start", "bad-time"],
)
def test_create_subscription_errors(sub: manager.Manager, body: str, tag: str, bad: str) -> None:
    with pytest.raises(RPCError) as err:
        subscribe_raw(sub, body)
    assert err.value.tag == tag
    assert err.value.severity == "error"
    assert err.value.message
    assert err.value.info is not None
    assert f"<bad-element>{bad}</bad-element>" in err.value.info
    # A refused request leaves the session unsubscribed and free to subscribe.
    assert sub.create_subscription().ok


def test_second_subscription_is_refused(sub: manager.Manager) -> None:
    """RFC 5277 §6.5: operation-failed, error-type protocol."""
    sub.create_subscription()
    with pytest.raises(RPCError) as err:
        sub.create_subscription()
    assert (err.value.tag, err.value.type) == ("operation-failed", "protocol")
    assert "already" in err.value.message


def test_interleave_rpcs_while_subscribed(agent: AgentProcess, sub: manager.Manager) -> None:
    sub.create_subscription()
    assert sub.get_config(source="running").ok
    with connect(agent) as other:
        commit_hostname(other, "interleaved")
        take_until(sub, NCN, "netconf-config-change", other.session_id)
    assert sub.get_config(source="running").ok
    commit_hostname(sub, "from-subscriber")
    take_until(sub, NCN, "netconf-config-change", sub.session_id)


def test_unsubscribed_session_receives_nothing(agent: AgentProcess, sub: manager.Manager) -> None:
    sub.create_subscription()
    with connect(agent) as quiet, connect(agent) as other:
        commit_hostname(other, "quiet")
        take_until(sub, NCN, "netconf-config-change", other.session_id)
        # Every listener has run by now; a round trip flushes anything already written.
        assert quiet.get_config(source="running").ok
        assert quiet.take_notification(block=False) is None


def test_notification_is_chunk_framed_in_base_1_1(agent: AgentProcess) -> None:
    raw = RawSession(agent.host, agent.port, agent.password)
    try:
        raw.send(HELLO_11)
        rpc = f'<rpc message-id="1" xmlns="{NC}"><create-subscription xmlns="{NOTIF}"/></rpc>'
        raw.send(chunk(rpc.encode()))
        assert b"<ok/>" in raw.read_chunked()
        with connect(agent) as other:
            sid = other.session_id
        while True:  # other sessions of this module may publish too; deadline via the socket
            root = etree.fromstring(raw.read_chunked())
            assert etree.QName(root) == etree.QName(NOTIF, "notification")
            if root.findtext(f".//{{{NCN}}}session-id") == sid:
                break
    finally:
        raw.close()


def test_replay_survives_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = start_agent(state)
    try:
        with connect(first) as m:
            commit_hostname(m, "before-restart")
            committer = m.session_id
    finally:
        first.stop()
    second = start_agent(state)
    try:
        with connect(second) as m:
            m.create_subscription(start_time=stamp(now() - timedelta(hours=1)))
            change, _ = take_until(m, NCN, "netconf-config-change", committer)
            assert change.findtext(f".//{{{NCN}}}username") == "admin"
            take_until(m, NETMOD, "replayComplete")
    finally:
        second.stop()
