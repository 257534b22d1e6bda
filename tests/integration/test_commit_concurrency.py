"""A commit that generates keys declared in config does the generation in a worker thread:
other sessions' reads are answered meanwhile (and see the old running, never a half-made
commit), and another session's edit waits for the commit instead of slipping into it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from ncclient import manager

from tests.integration.agent_process import AgentProcess
from tests.integration.conftest import connect

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
KEYS = "urn:netconf-pki-agent:yang:npa-pki-keys"
TYPES = "urn:netconf-pki-agent:yang:npa-pki-types"
NS = {"k": KEYS}
BIG = ("big1", "big2", "big3")  # three RSA-4096 keys: seconds of generation
GENERATING = "generating key pair(s) for the commit"


@pytest.fixture
def sessions(agent: AgentProcess) -> Iterator[tuple[manager.Manager, manager.Manager]]:
    a, b = connect(agent, timeout=120), connect(agent, timeout=120)
    yield a, b
    for m in (a, b):
        m.discard_changes()
        m.close_session()


def rsa_keys(*labels: str) -> str:
    entries = "".join(
        f"<key><label>{label}</label><algorithm>t:rsa</algorithm><modulus>4096</modulus></key>"
        for label in labels
    )
    return f'<config xmlns="{NC}"><keys xmlns="{KEYS}" xmlns:t="{TYPES}">{entries}</keys></config>'


def labels(m: manager.Manager, source: str) -> list[str]:
    data = m.get_config(source=source).data_ele
    return sorted(data.xpath("//k:keys/k:key/k:label/text()", namespaces=NS))


class Commit(threading.Thread):
    """Session a's commit, in the background; ``done`` is set when its reply arrived."""

    def __init__(self, m: manager.Manager) -> None:
        super().__init__(daemon=True)
        self.m = m
        self.done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.m.commit()
        except BaseException as exc:  # reported by the test
            self.error = exc
        self.done.set()


def generating(agent: AgentProcess, before: int) -> None:
    """Wait (with a deadline) until the agent logs that a commit is generating keys."""
    deadline = time.monotonic() + 60
    while agent.log_text().count(GENERATING) <= before:
        assert time.monotonic() < deadline, "the commit never started generating"
        time.sleep(0.01)


def test_reads_go_on_while_a_commit_generates_keys(
    agent: AgentProcess, sessions: tuple[manager.Manager, manager.Manager]
) -> None:
    a, b = sessions
    a.edit_config(target="candidate", config=rsa_keys(*BIG))
    logged = agent.log_text().count(GENERATING)
    commit = Commit(a)
    commit.start()
    generating(agent, logged)
    answered_during, seen = 0, set()
    deadline = time.monotonic() + 120
    while not commit.done.is_set():
        assert time.monotonic() < deadline, "the commit did not finish"
        running = labels(b, "running")
        if not commit.done.is_set():
            answered_during += 1
            seen.add(tuple(running))
    commit.join()
    assert commit.error is None, commit.error
    # The event loop answered many reads while the keys were being made, and every one of
    # them saw running either before the commit or after it, never in between.
    assert answered_during >= 3, answered_during
    assert seen <= {(), BIG}
    assert labels(b, "running") == list(BIG)


def test_an_edit_during_a_commit_waits_for_it(
    agent: AgentProcess, sessions: tuple[manager.Manager, manager.Manager]
) -> None:
    a, b = sessions
    a.edit_config(target="candidate", config=rsa_keys("slow"))
    logged = agent.log_text().count(GENERATING)
    commit = Commit(a)
    commit.start()
    generating(agent, logged)
    b.edit_config(target="candidate", config=rsa_keys("later"))
    # The edit was answered after the commit's swap: it did not slip into the commit.
    commit.join()
    assert commit.error is None, commit.error
    assert "later" not in labels(b, "running")
    assert "later" in labels(b, "candidate")
