"""Durability: commit in a loop while the agent is killed with SIGKILL at random moments;
after a restart, running equals the last acknowledged commit (or the one in flight), never a
torn or empty file."""

from __future__ import annotations

import random
from pathlib import Path

from ncclient import manager

from tests.integration.agent_process import run_until_killed, start_agent
from tests.integration.conftest import connect

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
SYS = "urn:netconf-pki-agent:yang:npa-pki-system"


def _edit(i: int) -> str:
    return (
        f'<config xmlns="{NC}"><device-identity xmlns="{SYS}"><hostname>h{i}</hostname>'
        "</device-identity></config>"
    )


def _hostname(m) -> str | None:
    return m.get_config(source="running").data_ele.findtext(
        f"{{{SYS}}}device-identity/{{{SYS}}}hostname"
    )


def test_sigkill_during_commits(tmp_path: Path) -> None:
    state = tmp_path / "state"
    rng = random.Random(20261125)
    last_acked = -1
    counter = 0
    for _round in range(5):
        agent = start_agent(state)
        m = connect(agent, timeout=10)
        if last_acked >= 0:
            assert _hostname(m) in (f"h{last_acked}", f"h{counter}")

        def commit_next(m: manager.Manager = m) -> None:
            nonlocal counter, last_acked
            counter += 1
            m.edit_config(target="candidate", config=_edit(counter))
            m.commit()
            last_acked = counter

        run_until_killed(agent, commit_next, rng.uniform(0.2, 1.5))
        if last_acked >= 0:
            assert (state / "running.xml").stat().st_size > 0
    agent = start_agent(state)
    m = connect(agent)
    try:
        assert _hostname(m) in (f"h{last_acked}", f"h{counter}")
    finally:
        m.close_session()
        agent.stop()
