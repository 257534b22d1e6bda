"""The session state machine, driven in memory with a client-side Framer."""

from __future__ import annotations

import pytest
from lxml import etree

from agent.server.framing import Framer
from agent.server.session import (
    BASE_1_0,
    BASE_1_1,
    BadRpc,
    Closed,
    HelloReceived,
    ProtocolError,
    RpcReceived,
    ServerSession,
    State,
)

NS = "urn:ietf:params:xml:ns:netconf:base:1.0"


def hello(*caps: str, session_id: bool = False) -> bytes:
    body = "".join(f"<capability>{c}</capability>" for c in caps)
    sid = "<session-id>4</session-id>" if session_id else ""
    return f'<hello xmlns="{NS}"><capabilities>{body}</capabilities>{sid}</hello>'.encode()


RPC = f'<rpc xmlns="{NS}" message-id="1"><get/></rpc>'.encode()


def make(*server_caps: str) -> ServerSession:
    return ServerSession(7, list(server_caps or (BASE_1_0, BASE_1_1)))


def events(s: ServerSession) -> list[object]:
    out = []
    while (ev := s.next_event()) is not None:
        out.append(ev)
        if isinstance(ev, Closed):
            break
    return out


def test_server_hello_shape() -> None:
    s = make()
    client = Framer()
    client.receive_data(s.hello())
    root = etree.fromstring(client.next_event())
    assert root.tag == f"{{{NS}}}hello"
    assert root.findtext(f"{{{NS}}}session-id") == "7"
    caps = [c.text for c in root.iter(f"{{{NS}}}capability")]
    assert caps == [BASE_1_0, BASE_1_1]


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_hello_then_rpc(version: str) -> None:
    s = make()
    caps = (BASE_1_0, BASE_1_1) if version == "1.1" else (BASE_1_0,)
    client = Framer()
    data = client.send(hello(*caps))
    if version == "1.1":
        client.switch_to_chunked()
    s.receive_data(b"\n  " + data + client.send(RPC))
    got = events(s)
    assert isinstance(got[0], HelloReceived) and got[0].capabilities == caps
    assert isinstance(got[1], RpcReceived)
    assert s.state is State.ESTABLISHED


def test_base11_only_when_both_sides_offer_it() -> None:
    s = make(BASE_1_0)
    client = Framer()
    s.receive_data(client.send(hello(BASE_1_0, BASE_1_1)) + client.send(RPC))
    assert isinstance(events(s)[1], RpcReceived)


def test_rpc_before_hello_is_fatal() -> None:
    s = make()
    s.receive_data(Framer().send(RPC))
    with pytest.raises(ProtocolError):
        events(s)


def test_client_hello_with_session_id_is_fatal() -> None:
    s = make()
    s.receive_data(Framer().send(hello(BASE_1_0, session_id=True)))
    with pytest.raises(ProtocolError):
        events(s)


def test_hello_without_base_capability_is_fatal() -> None:
    s = make()
    s.receive_data(Framer().send(hello("urn:example:x")))
    with pytest.raises(ProtocolError):
        events(s)


def test_second_hello_is_fatal() -> None:
    s = make()
    f = Framer()
    s.receive_data(f.send(hello(BASE_1_0)) + f.send(hello(BASE_1_0)))
    with pytest.raises(ProtocolError):
        events(s)


def test_malformed_rpc_is_answered_not_fatal() -> None:
    s = make()
    f = Framer()
    s.receive_data(f.send(hello(BASE_1_0)) + f.send(b"<rpc><unclosed></rpc>") + f.send(RPC))
    got = events(s)
    assert isinstance(got[1], BadRpc) and got[1].error.tag == "malformed-message"
    assert isinstance(got[2], RpcReceived)


def test_non_rpc_root_is_malformed() -> None:
    s = make()
    f = Framer()
    s.receive_data(f.send(hello(BASE_1_0)) + f.send(f'<notification xmlns="{NS}"/>'.encode()))
    assert isinstance(events(s)[1], BadRpc)


def test_eof_closes() -> None:
    s = make()
    s.receive_data(Framer().send(hello(BASE_1_0)))
    s.receive_data(b"")
    got = events(s)
    assert isinstance(got[-1], Closed) and s.state is State.CLOSED


def test_close_session_then_nothing_more() -> None:
    s = make()
    s.receive_data(Framer().send(hello(BASE_1_0)))
    events(s)
    s.close_requested()
    assert s.state is State.CLOSING
    with pytest.raises(ProtocolError):
        s.close_requested()
