from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ncclient import manager
from ncclient.devices.default import DefaultDeviceHandler
from ncclient.operations.rpc import RPCReply

from tests.integration.agent_process import AgentProcess, start_agent

# A private key in any form a reply could carry it: PEM, or the start of a PKCS#8 or
# traditional (PKCS#1/SEC1) private key structure in base64 or hex (version 0 INTEGER right
# after the outer SEQUENCE header, which no public key or certificate has).
PRIVATE_KEY = re.compile(
    r"PRIVATE KEY-----"  # PEM armor: get-schema's YANG text names the label in prose
    r"|(?<![A-Za-z0-9+/])(?:MII[A-Za-z0-9+/]{2}[AQgw]IBA[A-D]|MI[GH][A-Za-z0-9+/]AgE[AB]"
    r"|M[A-Za-z0-9+/]{2}CAQ[AE])"
    r"|(?<![0-9A-Fa-f:])30:?(?:82:?[0-9A-Fa-f]{2}:?[0-9A-Fa-f]{2}|81:?[0-9A-Fa-f]{2}"
    r"|[0-7][0-9A-Fa-f]):?02:?01:?0[01]"
)


@pytest.fixture(scope="session", autouse=True)
def no_private_key_in_any_reply() -> Iterator[list[str]]:
    """Every rpc-reply any ncclient session of the suite receives is kept and, at the end,
    searched for private key material: none may ever leave the agent."""
    replies: list[str] = []
    original = RPCReply.__init__

    def keep(self: RPCReply, raw: str, *args: Any, **kwargs: Any) -> None:
        replies.append(raw)
        original(self, raw, *args, **kwargs)

    RPCReply.__init__ = keep  # type: ignore[method-assign]
    yield replies
    RPCReply.__init__ = original  # type: ignore[method-assign]
    leaks = [
        (m.group(0), r[max(0, m.start() - 200) : m.end() + 80])
        for r in replies
        if (m := PRIVATE_KEY.search(r))
    ]
    assert not leaks, f"private key material in {len(leaks)} replies: {leaks[:3]}"


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    proc = start_agent(tmp_path_factory.mktemp("agent") / "state")
    yield proc
    proc.stop()


class Base10Handler(DefaultDeviceHandler):
    """ncclient always offers base:1.1; this handler offers only base:1.0 so the session
    stays in end-of-message framing."""

    _BASE_CAPABILITIES = ["urn:ietf:params:netconf:base:1.0"]  # noqa: RUF012


@pytest.fixture(scope="module")
def m(agent: AgentProcess) -> Iterator[manager.Manager]:
    """One ncclient session for a whole module (the PKI tests build on each other)."""
    session = connect(agent)
    yield session
    if session.connected:
        session.close_session()


def connect(agent: AgentProcess, *, base11: bool = True, timeout: int = 30) -> manager.Manager:
    """An ncclient session; base11=False advertises only base:1.0 (end-of-message framing)."""
    params: dict[str, object] = {"name": "default"} if base11 else {"handler": Base10Handler}
    m = manager.connect(
        host=agent.host,
        port=agent.port,
        username="admin",
        password=agent.password,
        hostkey_verify=False,
        look_for_keys=False,
        allow_agent=False,
        timeout=timeout,
        device_params=params,
    )
    return m


@pytest.fixture(params=["1.0", "1.1"])
def nc(request: pytest.FixtureRequest, agent: AgentProcess) -> Iterator[manager.Manager]:
    m = connect(agent, base11=request.param == "1.1")
    yield m
    if m.connected:
        try:
            m.discard_changes()
        finally:
            m.close_session()


@pytest.fixture
def state_dir(agent: AgentProcess) -> Path:
    return agent.state_dir
