"""scrapli_netconf 2026.1.12 over its three transports: system (OpenSSH, with a PTY),
paramiko, and asyncssh (AsyncNetconfDriver only).

scrapli sends a hello listing base:1.1 only, writes a stray newline after every message, and
judges replies by plain text: `failed` looks for a literal <rpc-error>, `error_messages` needs
strip_namespaces=True (INTEROP.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from ncclient import manager
from ncclient.operations.rpc import RPCError
from scrapli_netconf.driver import AsyncNetconfDriver, NetconfDriver
from scrapli_netconf.response import NetconfResponse

from tests.integration.agent_process import AgentProcess
from tests.interop.conftest import connect, trustpoint_description
from tests.interop.model import NS, generate_key, trustpoint, trustpoint_filter, zeroize_unknown_key


def options(agent: AgentProcess, transport: str) -> dict[str, Any]:
    return {
        "host": agent.host,
        "port": agent.port,
        "auth_username": "admin",
        "auth_password": agent.password,
        "auth_strict_key": False,
        "transport": transport,
        "strip_namespaces": True,
        "timeout_socket": 15,
        "timeout_transport": 30,
        "timeout_ops": 30,
    }


@pytest.fixture(params=["system", "paramiko"])
def conn(request: pytest.FixtureRequest, agent: AgentProcess) -> Iterator[NetconfDriver]:
    driver = NetconfDriver(**options(agent, request.param))
    driver.open()
    yield driver
    driver.close()


def assert_ok(response: NetconfResponse) -> None:
    assert not response.failed, response.result
    assert "<ok/>" in response.result, response.result


def test_session_is_chunked_with_the_agent_capabilities(conn: NetconfDriver) -> None:
    assert conn.netconf_version.value == "1.1"
    assert "urn:ietf:params:netconf:capability:candidate:1.0" in conn.server_capabilities


def test_lock_edit_candidate_commit(conn: NetconfDriver, agent: AgentProcess) -> None:
    name = f"scrapli-{conn.transport_name}"
    assert_ok(conn.lock(target="candidate"))
    config = f"<config>{trustpoint(name, 'from scrapli')}</config>"
    assert_ok(conn.edit_config(config=config, target="candidate"))
    assert_ok(conn.commit())
    assert_ok(conn.unlock(target="candidate"))
    assert trustpoint_description(agent, name) == "from scrapli"
    got = conn.get_config(source="running", filter_=trustpoint_filter(name))
    assert not got.failed, got.result
    assert "<description>from scrapli</description>" in got.result, got.result


def test_pki_rpc(conn: NetconfDriver) -> None:
    label = f"scrapli-{conn.transport_name}"
    reply = conn.rpc(filter_=generate_key(label, overwrite=True))
    assert not reply.failed, reply.result
    assert f"<label>{label}</label>" in reply.result
    assert "BEGIN PUBLIC KEY" in reply.result


def test_error_reply(conn: NetconfDriver) -> None:
    reply = conn.rpc(filter_=zeroize_unknown_key())
    assert reply.failed
    assert reply.error_messages == ["no key labelled 'no-such-key'"], reply.result
    assert "<error-app-tag>key-not-found</error-app-tag>" in reply.result


def test_edit_error_keeps_session(conn: NetconfDriver) -> None:
    bad = f'<config><trustpoints xmlns="{NS["tp"]}"><bogus/></trustpoints></config>'
    reply = conn.edit_config(config=bad, target="candidate")
    assert reply.failed
    assert len(reply.error_messages) == 1 and "bogus" in reply.error_messages[0], reply.result
    assert not conn.get_config(source="running").failed


def test_xpath_get_with_unbound_module_prefix(conn: NetconfDriver) -> None:
    """scrapli cannot declare namespaces for an XPath filter: the prefix arrives unbound. It
    pastes the path into select='...', so string literals must use double quotes."""
    name = f"scrapli-x-{conn.transport_name}"
    assert_ok(
        conn.edit_config(config=f"<config>{trustpoint(name, 'x')}</config>", target="candidate")
    )
    assert_ok(conn.commit())
    path = f'/pki-tp:trustpoints/pki-tp:trustpoint[pki-tp:name="{name}"]'
    reply = conn.get(filter_=path, filter_type="xpath")
    assert not reply.failed, reply.result
    assert f"<name>{name}</name>" in reply.result, reply.result
    assert "<state>" in reply.result  # get, not get-config: state comes too


def test_asyncssh_transport(agent: AgentProcess) -> None:
    asyncio.run(async_session(agent))


async def async_session(agent: AgentProcess) -> None:
    conn = AsyncNetconfDriver(**options(agent, "asyncssh"))
    await conn.open()
    try:
        assert conn.netconf_version.value == "1.1"
        assert_ok(await conn.lock(target="candidate"))
        config = f"<config>{trustpoint('scrapli-asyncssh', 'async')}</config>"
        assert_ok(await conn.edit_config(config=config, target="candidate"))
        assert_ok(await conn.commit())
        assert_ok(await conn.unlock(target="candidate"))
        got = await conn.get_config(source="running", filter_=trustpoint_filter("scrapli-asyncssh"))
        assert "<description>async</description>" in got.result, got.result
        reply = await conn.rpc(filter_=generate_key("scrapli-asyncssh", overwrite=True))
        assert not reply.failed and "<label>scrapli-asyncssh</label>" in reply.result
        error = await conn.rpc(filter_=zeroize_unknown_key())
        assert error.failed and error.error_messages == ["no key labelled 'no-such-key'"]
    finally:
        await conn.close()


@pytest.mark.parametrize("transport", ["system", "paramiko"])
def test_lock_held_then_released_when_scrapli_drops_the_channel(
    agent: AgentProcess, transport: str
) -> None:
    """scrapli never sends close-session: its lock must go when the channel does."""
    driver = NetconfDriver(**options(agent, transport))
    driver.open()
    assert_ok(driver.lock(target="candidate"))
    with connect(agent) as other:
        with pytest.raises(RPCError) as err:
            other.lock(target="candidate")
        assert err.value.tag == "lock-denied"
        driver.close()
        deadline = time.monotonic() + 10
        while not try_lock(other):
            assert time.monotonic() < deadline, "the dropped session kept its lock"
            time.sleep(0.1)
        other.unlock(target="candidate")


def try_lock(m: manager.Manager) -> bool:
    try:
        return bool(m.lock(target="candidate").ok)
    except RPCError as err:
        assert err.tag == "lock-denied"
        return False
