"""Hostile and malformed input: each gets malformed-message (or the right error) or a closed
session, and the agent keeps serving other sessions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.agent_process import AgentProcess, start_agent
from tests.integration.conftest import connect
from tests.integration.raw import HELLO_10, HELLO_11, RawSession, chunk

RPC = b'<rpc message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
GET = (
    b'<rpc message-id="%s" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
    b"<get-config><source><running/></source></get-config></rpc>"
)


@pytest.fixture(scope="module")
def small_agent(tmp_path_factory: pytest.TempPathFactory):
    cfg = tmp_path_factory.mktemp("cfg") / "agent.toml"
    state = tmp_path_factory.mktemp("hostile") / "state"
    proc = start_agent(state)
    # Re-start with a small message limit now that the admin user exists.
    proc.stop()
    cfg.write_text(
        "[limits]\nmax-message-size = 65536\n[timeouts]\nhello = 2\n"
        + '[[users]]\nname = "admin"\n'
        + f"password-hash = '{_hash_of(state)}'\n"
    )
    proc = start_agent(state, "--config", str(cfg))
    yield proc
    proc.stop()


def _hash_of(state: Path) -> str:
    return json.loads((state / "users.json").read_text())["admin"]["password-hash"]


def raw(agent: AgentProcess, hello: bytes = HELLO_10) -> RawSession:
    s = RawSession(agent.host, agent.port, agent.password)
    s.send(hello)
    return s


def still_serving(agent: AgentProcess) -> None:
    m = connect(agent)
    try:
        assert m.get_config(source="running").ok
    finally:
        m.close_session()


def test_missing_message_id(small_agent: AgentProcess) -> None:
    s = raw(small_agent)
    s.send(b'<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get/></rpc>]]>]]>')
    reply = s.read_until(b"]]>]]>")
    assert b"<error-tag>missing-attribute</error-tag>" in reply
    assert b"<bad-attribute>message-id</bad-attribute>" in reply
    s.close()


def test_malformed_xml_then_session_goes_on(small_agent: AgentProcess) -> None:
    s = raw(small_agent)
    s.send(b"<rpc message-id='1' xmlns='urn:ietf:params:xml:ns:netconf:base:1.0'><get></rpc>]]>]]>")
    assert b"<error-tag>malformed-message</error-tag>" in s.read_until(b"]]>]]>")
    s.send(GET % b"2" + b"]]>]]>")
    assert b'message-id="2"' in s.read_until(b"]]>]]>")
    s.close()


@pytest.mark.parametrize(
    "doc",
    [
        b'<?xml version="1.0"?><!DOCTYPE rpc [<!ENTITY x "boom">]>' + RPC + b"<get/>&x;</rpc>",
        b'<!DOCTYPE rpc SYSTEM "http://127.0.0.1:1/evil.dtd">' + RPC + b"<get/></rpc>",
        b'<rpc message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
        + b"<a>" * 5000
        + b"</a>" * 5000
        + b"</rpc>",
        RPC + b"<get>\xff\xfe</get></rpc>",
    ],
    ids=["dtd-entity", "external-dtd", "deep-nesting", "invalid-utf8"],
)
def test_hostile_documents(small_agent: AgentProcess, doc: bytes) -> None:
    s = raw(small_agent)
    s.send(doc + b"]]>]]>")
    reply = s.read_until(b"]]>]]>")
    assert b"<error-tag>malformed-message</error-tag>" in reply
    assert b"boom" not in reply
    s.close()
    still_serving(small_agent)


def test_oversized_message_closes_session(small_agent: AgentProcess) -> None:
    s = raw(small_agent)
    s.send(b"<rpc>" + b"x" * 70000)
    assert s.closed_by_peer()
    still_serving(small_agent)


@pytest.mark.parametrize(
    "frame",
    [
        b"\n#abc\n<x/>\n##\n",
        b"\n#0\n\n##\n",
        b"\n#99999999999\n",
        b"#5\nhello\n##\n",
        b"\n#007\n1234567\n##\n",
    ],
    ids=["non-digit", "zero", "too-long", "missing-lf", "leading-zero"],
)
def test_bad_chunk_headers_close_session(small_agent: AgentProcess, frame: bytes) -> None:
    s = raw(small_agent, HELLO_11)
    s.send(frame)
    assert s.closed_by_peer()
    still_serving(small_agent)


def test_chunked_rpc_works(small_agent: AgentProcess) -> None:
    s = raw(small_agent, HELLO_11)
    s.send(chunk(GET % b"7"))
    assert b'message-id="7"' in s.read_chunked()
    s.close()


def test_silent_client_does_not_delay_others(small_agent: AgentProcess) -> None:
    silent = RawSession(small_agent.host, small_agent.port, small_agent.password)
    try:
        still_serving(small_agent)
    finally:
        silent.close()


def test_hello_timeout_closes_silent_session(small_agent: AgentProcess) -> None:
    silent = RawSession(small_agent.host, small_agent.port, small_agent.password)
    assert silent.closed_by_peer(timeout=15)


def test_rpc_before_hello_closes_session(small_agent: AgentProcess) -> None:
    s = RawSession(small_agent.host, small_agent.port, small_agent.password)
    s.send(GET % b"1" + b"]]>]]>")
    assert s.closed_by_peer()
