"""The base NETCONF operations over real SSH with ncclient, in base:1.0 and base:1.1 sessions
(the ``nc`` fixture is parametrized over both)."""

from __future__ import annotations

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError

from tests.integration.agent_process import AgentProcess
from tests.integration.conftest import connect

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
SYS = "urn:netconf-pki-agent:yang:npa-pki-system"
KEYS = "urn:netconf-pki-agent:yang:npa-pki-keys"
TYPES = "urn:netconf-pki-agent:yang:npa-pki-types"


def cfg(body: str) -> str:
    return f'<config xmlns="{NC}" xmlns:nc="{NC}">{body}</config>'


def identity(hostname: str = "myrouter", domain: str = "mydomain.com", op: str = "") -> str:
    op_attr = f' nc:operation="{op}"' if op else ""
    return (
        f'<device-identity xmlns="{SYS}"{op_attr}><hostname>{hostname}</hostname>'
        f"<domain-name>{domain}</domain-name></device-identity>"
    )


def key(label: str, extra: str = "", op: str = "") -> str:
    op_attr = f' nc:operation="{op}"' if op else ""
    return f'<keys xmlns="{KEYS}"><key{op_attr}><label>{label}</label>{extra}</key></keys>'


def labels(data: etree._Element) -> list[str]:
    return data.xpath("//k:keys/k:key/k:label/text()", namespaces={"k": KEYS})


def running_labels(nc) -> list[str]:
    return labels(nc.get_config(source="running").data_ele)


def reset(nc) -> None:
    """Remove what the tests create, through the agent itself."""
    nc.discard_changes()
    nc.edit_config(
        target="candidate",
        config=cfg(
            f'<keys xmlns="{KEYS}" nc:operation="remove"/>'
            + f'<device-identity xmlns="{SYS}" nc:operation="remove"/>'
        ),
    )
    nc.commit()


def test_hello_capabilities(nc) -> None:
    caps = set(nc.server_capabilities)
    for uri in (
        "urn:ietf:params:netconf:base:1.0",
        "urn:ietf:params:netconf:base:1.1",
        "urn:ietf:params:netconf:capability:candidate:1.0",
        "urn:ietf:params:netconf:capability:rollback-on-error:1.0",
        "urn:ietf:params:netconf:capability:validate:1.1",
    ):
        assert uri in caps
    assert any(c.startswith("urn:ietf:params:netconf:capability:yang-library:1.1?") for c in caps)
    assert int(nc.session_id) > 0


def test_edit_commit_get(nc) -> None:
    reset(nc)
    nc.edit_config(target="candidate", config=cfg(identity() + key("mykey")))
    assert running_labels(nc) == []
    cand = nc.get_config(source="candidate").data_ele
    assert labels(cand) == ["mykey"]
    nc.commit()
    run = nc.get_config(source="running").data_ele
    assert labels(run) == ["mykey"]
    assert run.findtext(f"{{{SYS}}}device-identity/{{{SYS}}}hostname") == "myrouter"
    got = nc.get().data_ele
    assert labels(got) == ["mykey"]


def test_subtree_filter(nc) -> None:
    reset(nc)
    nc.edit_config(target="candidate", config=cfg(identity() + key("a") + key("b")))
    nc.commit()
    flt = f'<keys xmlns="{KEYS}"><key><label>b</label></key></keys>'
    data = nc.get_config(source="running", filter=("subtree", flt)).data_ele
    assert labels(data) == ["b"]
    assert data.find(f"{{{SYS}}}device-identity") is None


def test_invalid_value_has_path(nc) -> None:
    reset(nc)
    with pytest.raises(RPCError) as exc:
        nc.edit_config(target="candidate", config=cfg(identity(hostname="bad host!")))
    assert exc.value.tag == "invalid-value"
    assert "hostname" in exc.value.path
    assert running_labels(nc) == []


def test_create_existing_is_data_exists(nc) -> None:
    reset(nc)
    nc.edit_config(target="candidate", config=cfg(key("k1")))
    with pytest.raises(RPCError) as exc:
        nc.edit_config(target="candidate", config=cfg(key("k1", op="create")))
    assert exc.value.tag == "data-exists"


def test_delete_absent_is_data_missing(nc) -> None:
    reset(nc)
    with pytest.raises(RPCError) as exc:
        nc.edit_config(target="candidate", config=cfg(key("nope", op="delete")))
    assert exc.value.tag == "data-missing"


def test_unknown_element(nc) -> None:
    with pytest.raises(RPCError) as exc:
        nc.edit_config(target="candidate", config=cfg(f'<keys xmlns="{KEYS}"><bogus/></keys>'))
    assert exc.value.tag == "unknown-element"


def test_commit_failing_validation_changes_nothing(nc) -> None:
    reset(nc)
    nc.edit_config(target="candidate", config=cfg(key("good")))
    nc.commit()
    bad = key(
        "bad",
        f'<algorithm xmlns:t="{TYPES}">t:ecdsa-p256</algorithm><usage>usage-keys</usage>',
    )
    nc.edit_config(target="candidate", config=cfg(bad))
    with pytest.raises(RPCError) as exc:
        nc.commit()
    assert exc.value.tag == "operation-failed"
    assert exc.value.app_tag == "usage-keys-require-rsa"
    assert running_labels(nc) == ["good"]
    with pytest.raises(RPCError):
        nc.validate(source="candidate")
    nc.validate(source="running")


def test_discard_changes(nc) -> None:
    reset(nc)
    nc.edit_config(target="candidate", config=cfg(key("temp")))
    nc.discard_changes()
    assert labels(nc.get_config(source="candidate").data_ele) == []


def test_copy_config(nc) -> None:
    reset(nc)
    nc.copy_config(source=f'<source xmlns="{NC}">{cfg(key("copied"))}</source>', target="candidate")
    assert labels(nc.get_config(source="candidate").data_ele) == ["copied"]
    nc.copy_config(source="running", target="candidate")
    assert labels(nc.get_config(source="candidate").data_ele) == []


def test_delete_config_not_supported(nc) -> None:
    with pytest.raises(RPCError) as exc:
        nc.delete_config(target="candidate")
    assert exc.value.tag == "operation-not-supported"


def test_write_to_running_continue_on_error_commits_the_good_part(nc) -> None:
    reset(nc)
    good_and_bad = cfg(
        f'<keys xmlns="{KEYS}"><key><label>run-ok</label><algorithm xmlns:t="{TYPES}">'
        f"t:ed25519</algorithm></key><key><label>run-bad</label><modulus>1</modulus></key></keys>"
    )
    with pytest.raises(RPCError) as exc:
        nc.edit_config(target="running", config=good_and_bad, error_option="continue-on-error")
    assert exc.value.tag == "invalid-value"
    # The bad leaf was skipped (the entry itself is fine), the rest was committed at once.
    running = nc.get_config(source="running").data_ele
    assert labels(running) == ["run-ok", "run-bad"]
    assert not running.xpath("//k:modulus", namespaces={"k": KEYS})
    assert labels(nc.get_config(source="candidate").data_ele) == ["run-ok", "run-bad"]


def test_error_options(nc) -> None:
    reset(nc)
    two_bad = cfg(
        f'<keys xmlns="{KEYS}"><key><label>ok1</label></key>'
        f"<key><label>bad1</label><modulus>1</modulus></key>"
        f"<key><label>ok2</label></key>"
        f"<key><label>bad2</label><modulus>99999</modulus></key></keys>"
    )
    with pytest.raises(RPCError):
        nc.edit_config(target="candidate", config=two_bad, error_option="rollback-on-error")
    assert labels(nc.get_config(source="candidate").data_ele) == []
    with pytest.raises(RPCError) as exc:
        nc.edit_config(target="candidate", config=two_bad, error_option="continue-on-error")
    assert len(exc.value.errlist or [exc.value]) == 2
    assert set(labels(nc.get_config(source="candidate").data_ele)) >= {"ok1", "ok2"}


def test_test_only(nc) -> None:
    reset(nc)
    nc.edit_config(target="candidate", config=cfg(key("t")), test_option="test-only")
    assert labels(nc.get_config(source="candidate").data_ele) == []


def test_unknown_operation(nc) -> None:
    with pytest.raises(RPCError) as exc:
        nc.dispatch(etree.fromstring('<frobnicate xmlns="urn:example:nothing"/>'))
    assert exc.value.tag == "operation-not-supported"


def test_lock_contention(agent: AgentProcess) -> None:
    a, b = connect(agent), connect(agent, base11=False)
    try:
        a.lock("candidate")
        with pytest.raises(RPCError) as exc:
            b.lock("candidate")
        assert exc.value.tag == "lock-denied"
        assert f"<session-id>{a.session_id}</session-id>" in exc.value.info
        with pytest.raises(RPCError) as exc:
            b.edit_config(target="candidate", config=cfg(key("blocked")))
        assert exc.value.tag == "lock-denied"
        a.unlock("candidate")
        b.lock("candidate")
        b.unlock("candidate")
    finally:
        a.close_session()
        b.close_session()


def test_candidate_lock_refused_while_others_changes_pending(agent: AgentProcess) -> None:
    a, b = connect(agent), connect(agent)
    try:
        a.edit_config(target="candidate", config=cfg(key("pending")))
        with pytest.raises(RPCError) as exc:
            b.lock("candidate")
        assert exc.value.tag == "lock-denied"
        a.lock("candidate")  # the changes are a's own
        a.unlock("candidate")  # unlock discards them (RFC 6241 8.3.5.2)
        b.lock("candidate")
        b.unlock("candidate")
    finally:
        a.close_session()
        b.close_session()


def test_lock_dies_with_session(agent: AgentProcess) -> None:
    a, b = connect(agent), connect(agent)
    try:
        a.lock("running")
        a.close_session()
        b.lock("running")
        b.unlock("running")
    finally:
        b.close_session()


def test_kill_session(agent: AgentProcess) -> None:
    a, b = connect(agent), connect(agent)
    try:
        a.lock("running")
        b.kill_session(a.session_id)
        b.lock("running")
        b.unlock("running")
        with pytest.raises(RPCError) as exc:
            b.kill_session(b.session_id)
        assert exc.value.tag == "invalid-value"
    finally:
        b.close_session()


def test_every_reply_is_scanned_for_private_keys(nc, no_private_key_in_any_reply) -> None:
    """The suite-wide scan (conftest.py) sees the replies: this one must be among them."""
    reply = nc.get_config(source="running")
    assert reply.xml in no_private_key_in_any_reply
