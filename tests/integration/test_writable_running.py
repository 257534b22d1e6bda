""":writable-running over real SSH with ncclient: edit-config and copy-config with target
running are one commit (same validation, same key side effects, all or nothing); the candidate
follows running when it holds no changes, and a write to running is refused (in-use) while it
holds some; another session's running lock refuses it (lock-denied)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError

from tests.integration.agent_process import AgentProcess
from tests.integration.conftest import connect

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
KEYS = "urn:netconf-pki-agent:yang:npa-pki-keys"
TYPES = "urn:netconf-pki-agent:yang:npa-pki-types"
NS = {"k": KEYS}


@pytest.fixture
def a(agent: AgentProcess) -> Iterator[manager.Manager]:
    m = connect(agent)
    yield m
    if m.connected:
        m.discard_changes()
        m.close_session()


@pytest.fixture
def b(agent: AgentProcess) -> Iterator[manager.Manager]:
    m = connect(agent)
    yield m
    if m.connected:
        m.discard_changes()
        m.close_session()


def key_config(label: str, extra: str = "", op: str = "merge") -> str:
    return (
        f'<config xmlns="{NC}" xmlns:nc="{NC}"><keys xmlns="{KEYS}" xmlns:t="{TYPES}">'
        f'<key nc:operation="{op}"><label>{label}</label><algorithm>t:ed25519</algorithm>'
        f"{extra}</key></keys></config>"
    )


def inline(config: str) -> str:
    """copy-config's <source> holding an inline <config> (ncclient's form)."""
    return f'<source xmlns="{NC}">{config}</source>'


def trees(m: manager.Manager) -> tuple[bytes, bytes]:
    return tuple(  # type: ignore[return-value]
        etree.tostring(m.get_config(source=s).data_ele, method="c14n")
        for s in ("running", "candidate")
    )


def labels(m: manager.Manager, source: str) -> list[str]:
    data = m.get_config(source=source).data_ele
    return sorted(data.xpath("//k:keys/k:key/k:label/text()", namespaces=NS))


def stored(m: manager.Manager) -> set[str]:
    data = m.get(filter=("subtree", f'<keys-state xmlns="{KEYS}"/>')).data_ele
    return set(data.xpath("//k:key/k:label/text()", namespaces=NS))


def test_capability_advertised(a: manager.Manager) -> None:
    assert "urn:ietf:params:netconf:capability:writable-running:1.0" in a.server_capabilities


def test_edit_running_commits_and_the_candidate_follows(a: manager.Manager) -> None:
    a.edit_config(target="running", config=key_config("wr-edit"))
    assert "wr-edit" in labels(a, "running")
    assert "wr-edit" in labels(a, "candidate")
    assert "wr-edit" in stored(a)  # the same side effect as a commit
    running, candidate = trees(a)
    assert running == candidate
    a.edit_config(target="running", config=key_config("wr-edit", op="delete"))
    assert "wr-edit" not in labels(a, "running") and "wr-edit" not in stored(a)


def test_refused_while_the_candidate_holds_changes(a: manager.Manager, b: manager.Manager) -> None:
    b.edit_config(target="candidate", config=key_config("wr-pending"))
    before = trees(a)
    with pytest.raises(RPCError) as exc:
        a.edit_config(target="running", config=key_config("wr-direct"))
    assert exc.value.tag == "in-use" and "commit or discard-changes" in exc.value.message
    with pytest.raises(RPCError) as exc:
        a.copy_config(source=inline(key_config("wr-copy")), target="running")
    assert exc.value.tag == "in-use"
    assert trees(a) == before
    assert "wr-direct" not in stored(a)


def test_refused_under_another_sessions_running_lock(
    a: manager.Manager, b: manager.Manager
) -> None:
    before = trees(a)
    with b.locked("running"):
        with pytest.raises(RPCError) as exc:
            a.edit_config(target="running", config=key_config("wr-locked"))
        assert exc.value.tag == "lock-denied"
    assert trees(a) == before


def test_invalid_edit_of_running_changes_nothing(a: manager.Manager) -> None:
    before = trees(a)
    ec_usage_keys = key_config("wr-bad", "<usage>usage-keys</usage>")
    with pytest.raises(RPCError) as exc:
        a.edit_config(target="running", config=ec_usage_keys)
    assert "usage-keys needs an RSA key" in exc.value.message
    with pytest.raises(RPCError) as exc:
        a.edit_config(target="running", config=key_config("wr-bad", "<modulus>lots</modulus>"))
    assert exc.value.tag == "invalid-value"
    assert trees(a) == before
    assert "wr-bad" not in stored(a)


def test_test_only_on_running_changes_nothing(a: manager.Manager) -> None:
    before = trees(a)
    a.edit_config(target="running", config=key_config("wr-test"), test_option="test-only")
    assert trees(a) == before


def test_copy_config_to_running(a: manager.Manager) -> None:
    a.edit_config(target="running", config=key_config("wr-old"))
    a.copy_config(source=inline(key_config("wr-copied")), target="running")
    assert labels(a, "running") == labels(a, "candidate") == ["wr-copied"]
    assert "wr-old" not in stored(a) and "wr-copied" in stored(a)
    a.edit_config(target="candidate", config=key_config("wr-from-candidate"))
    a.copy_config(source="candidate", target="running")
    assert labels(a, "running") == ["wr-copied", "wr-from-candidate"]
    a.copy_config(source=inline(f'<config xmlns="{NC}"/>'), target="running")
    assert labels(a, "running") == []
