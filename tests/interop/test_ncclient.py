"""ncclient 0.7.1 with each hello it can send (base:1.0 only, or both versions), and a raw
client that sends its hello after the server's or before it (RFC 6241 §8.1: both sides send
theirs at once, so either order reaches the server)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import paramiko
import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError
from ncclient.transport.session import NetconfBase
from ncclient.xml_ import to_ele

from tests.integration.agent_process import AgentProcess
from tests.integration.raw import HELLO_10, HELLO_11, chunk
from tests.interop.conftest import connect
from tests.interop.model import BASE, NS, generate_key, trustpoints, zeroize_unknown_key

GET_CONFIG = (
    f'<rpc xmlns="{BASE}" message-id="m-1"><get-config><source><running/></source>'
    "</get-config></rpc>"
).encode()
EOM = b"]]>]]>"


@pytest.fixture(params=["1.0", "1.1"])
def nc(request: pytest.FixtureRequest, agent: AgentProcess) -> Iterator[manager.Manager]:
    m = connect(agent, base11=request.param == "1.1")
    yield m
    if m.connected:  # a reply the client could not decode ends its session
        m.close_session()


def framing(m: manager.Manager) -> str:
    return "1.1" if m._session._base == NetconfBase.BASE_11 else "1.0"


def test_framing_follows_the_client_hello(
    nc: manager.Manager, request: pytest.FixtureRequest
) -> None:
    assert framing(nc) == request.node.callspec.params["nc"]
    assert nc.session_id is not None and int(nc.session_id) > 0


def test_edit_commit_and_rpc(nc: manager.Manager) -> None:
    name = f"ncclient-{framing(nc)}"
    config = f'<config xmlns="{BASE}">{trustpoints((name, "ncclient"))}</config>'
    assert nc.edit_config(target="candidate", config=config).ok
    assert nc.commit().ok
    assert f"<name>{name}</name>" in nc.get_config(source="running").data_xml
    reply = nc.dispatch(to_ele(generate_key(name, overwrite=True)))
    assert reply.ok
    assert to_ele(reply.xml).findtext(f"{{{NS['keys']}}}label") == name


def test_rpc_error_fields(nc: manager.Manager) -> None:
    with pytest.raises(RPCError) as err:
        nc.dispatch(to_ele(zeroize_unknown_key()))
    assert (err.value.tag, err.value.app_tag) == ("data-missing", "key-not-found")
    assert err.value.severity == "error"
    assert err.value.message == "no key labelled 'no-such-key'"
    assert nc.get_config(source="running").ok  # the session goes on


def test_non_ascii_reply_survives_read_boundaries(nc: manager.Manager) -> None:
    """ncclient decodes each read (1.0) or chunk (1.1) on its own: a multibyte character
    split between two must not reach it (INTEROP.md §1, §2.5). 200 descriptions of 2- and
    3-byte characters make a 40 kB reply that crosses many 4096-byte reads."""
    text = "é€ü" * 26
    entries = [(f"utf8-{i:03d}", text) for i in range(200)]
    config = f'<config xmlns="{BASE}">{trustpoints(*entries)}</config>'
    assert nc.edit_config(target="candidate", config=config).ok
    assert nc.commit().ok
    data = nc.get_config(source="running").data_ele
    found = data.xpath("//t:description/text()", namespaces={"t": NS["tp"]})
    assert found.count(text) == 200


def raw_channel(agent: AgentProcess) -> paramiko.Channel:
    sock = socket.create_connection((agent.host, agent.port), timeout=20)
    transport = paramiko.Transport(sock)
    transport.connect(username="admin", password=agent.password)
    chan = transport.open_session()
    chan.settimeout(20)
    chan.invoke_subsystem("netconf")
    return chan


def read_until(chan: paramiko.Channel, buf: bytearray, marker: bytes) -> bytes:
    deadline = time.monotonic() + 20
    while marker not in buf:
        assert time.monotonic() < deadline, f"no {marker!r} in {bytes(buf[-200:])!r}"
        data = chan.recv(65536)
        assert data, f"closed; buffer {bytes(buf[-200:])!r}"
        buf += data
    head, _, rest = bytes(buf).partition(marker)
    buf[:] = rest
    return head


def check_server_hello(hello: bytes) -> None:
    root = etree.fromstring(hello.strip())
    assert root.tag == f"{{{BASE}}}hello"
    assert int(root.findtext(f"{{{BASE}}}session-id") or 0) > 0
    caps = [c.text for c in root.iter(f"{{{BASE}}}capability")]
    assert "urn:ietf:params:netconf:base:1.1" in caps and all(c == c.strip() for c in caps)


@pytest.mark.parametrize("hello_first", [False, True], ids=["after-server", "before-server"])
@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_raw_hello_order(agent: AgentProcess, hello_first: bool, version: str) -> None:
    chan = raw_channel(agent)
    try:
        buf = bytearray()
        hello = HELLO_11 if version == "1.1" else HELLO_10
        if hello_first:
            chan.sendall(hello)
        check_server_hello(read_until(chan, buf, EOM))
        if not hello_first:
            chan.sendall(hello)
        if version == "1.1":
            chan.sendall(chunk(GET_CONFIG))
            reply = read_until(chan, buf, b"\n##\n")
            assert reply.lstrip().startswith(b"#"), reply[:80]
        else:
            chan.sendall(GET_CONFIG + EOM)
            reply = read_until(chan, buf, EOM)
        assert b'message-id="m-1"' in reply and b"<data" in reply, reply[:300]
    finally:
        chan.get_transport().close()
