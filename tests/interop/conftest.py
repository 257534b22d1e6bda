"""Fixtures for the interoperability tests: one real agent per test module, and the helpers
that run each external NETCONF client the way its users do."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from lxml import etree
from ncclient.xml_ import to_ele

from tests.integration.agent_process import AgentProcess, start_agent
from tests.integration.conftest import (  # noqa: F401 - fixture re-used by this package
    PRIVATE_KEY,
    connect,
    no_private_key_in_any_reply,
)
from tests.interop.model import NS, trustpoint_filter


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    proc = start_agent(tmp_path_factory.mktemp("agent") / "state")
    yield proc
    proc.stop()


def run(
    cmd: Sequence[str | Path],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    key_check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a client to completion; its output must never carry private key material (unless
    it shows YANG modules, whose descriptions talk about PEM private keys)."""
    out = subprocess.run(
        [str(c) for c in cmd],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    leak = PRIVATE_KEY.search(out.stdout + out.stderr) if key_check else None
    assert leak is None, f"private key material in client output: {leak}"
    return out


def running(agent: AgentProcess, xml_filter: str) -> etree._Element:
    """Running config under a subtree filter, read with ncclient: an independent witness of
    what another client changed."""
    with connect(agent) as m:
        return m.get_config(source="running", filter=("subtree", to_ele(xml_filter))).data_ele


def trustpoint_description(agent: AgentProcess, name: str) -> str | None:
    data = running(agent, trustpoint_filter(name))
    return data.findtext(
        f"{{{NS['tp']}}}trustpoints/{{{NS['tp']}}}trustpoint/{{{NS['tp']}}}description"
    )
