from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ncclient import manager
from ncclient.devices.default import DefaultDeviceHandler

from tests.integration.agent_process import AgentProcess, start_agent


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    proc = start_agent(tmp_path_factory.mktemp("agent") / "state")
    yield proc
    proc.stop()


class Base10Handler(DefaultDeviceHandler):
    """ncclient always offers base:1.1; this handler offers only base:1.0 so the session
    stays in end-of-message framing."""

    _BASE_CAPABILITIES = ["urn:ietf:params:netconf:base:1.0"]  # noqa: RUF012


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
