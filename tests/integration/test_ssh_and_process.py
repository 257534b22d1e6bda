"""The SSH edge and the process: public-key and password authentication, PTY requests,
subsystems, first-run secrets, and a clean stop on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import paramiko
import pytest
from ncclient import manager
from ncclient.transport.errors import AuthenticationError

from agent.server.auth import hash_password
from tests.integration.agent_process import REPO, AgentProcess, start_agent
from tests.integration.conftest import connect
from tests.integration.raw import HELLO_10


@pytest.fixture(scope="module")
def keyed_agent(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("keyed")
    key = paramiko.Ed25519Key.from_private_key_file(_keygen(base))
    cfg = base / "agent.toml"
    cfg.write_text(
        '[[users]]\nname = "netops"\n'
        f"password-hash = '{hash_password('op-pass')}'\n"
        f'authorized-keys = ["ssh-ed25519 {key.get_base64()} netops@test"]\n'
    )
    proc = start_agent(base / "state", "--config", str(cfg))
    yield proc, base / "id_ed25519"
    proc.stop()


def _keygen(base: Path) -> str:
    path = base / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return str(path)


def _connect(agent: AgentProcess, **kw: object) -> manager.Manager:
    return manager.connect(
        host=agent.host, port=agent.port, hostkey_verify=False, allow_agent=False, timeout=20, **kw
    )


def test_public_key_auth(keyed_agent) -> None:
    agent, key_file = keyed_agent
    m = _connect(agent, username="netops", key_filename=str(key_file), look_for_keys=False)
    assert m.get_config(source="running").ok
    m.close_session()


def test_password_after_failed_public_key(keyed_agent, tmp_path: Path) -> None:
    """ncclient tries keys first; the server must let a failed key go by (INTEROP.md §1)."""
    agent, _ = keyed_agent
    stranger = _keygen(tmp_path)
    m = _connect(
        agent, username="netops", password="op-pass", key_filename=stranger, look_for_keys=False
    )
    assert m.connected
    m.close_session()


def test_wrong_password_and_unknown_user_refused(keyed_agent) -> None:
    agent, _ = keyed_agent
    for user, password in (("netops", "nope"), ("admin", "op-pass")):
        with pytest.raises(AuthenticationError):
            _connect(agent, username=user, password=password, look_for_keys=False)


def test_configured_users_replace_generated_admin(keyed_agent) -> None:
    agent, _ = keyed_agent
    assert not (agent.state_dir / "admin-password").exists()


def test_pty_request_accepted_without_echo(agent: AgentProcess) -> None:
    """scrapli's system transport asks for a PTY before the subsystem (INTEROP.md §1)."""
    t = paramiko.Transport((agent.host, agent.port))
    t.connect(username="admin", password=agent.password)
    try:
        chan = t.open_session()
        chan.settimeout(20)
        chan.get_pty()
        chan.invoke_subsystem("netconf")
        hello = b""
        while b"]]>]]>" not in hello:
            hello += chan.recv(65536)
        chan.sendall(HELLO_10)
        chan.sendall(
            b'<rpc message-id="9" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
            b"<get-config><source><running/></source></get-config></rpc>]]>]]>"
        )
        reply = b""
        while b"]]>]]>" not in reply:
            reply += chan.recv(65536)
        assert reply.lstrip().startswith(b"<?xml")  # no echo of what we sent
        assert b'message-id="9"' in reply and b"<data" in reply
    finally:
        t.close()


@pytest.mark.parametrize("request_kind", ["shell", "exec", "other-subsystem"])
def test_only_the_netconf_subsystem(agent: AgentProcess, request_kind: str) -> None:
    t = paramiko.Transport((agent.host, agent.port))
    t.connect(username="admin", password=agent.password)
    try:
        chan = t.open_session()
        with pytest.raises(paramiko.SSHException):
            if request_kind == "shell":
                chan.invoke_shell()
            elif request_kind == "exec":
                chan.exec_command("id")
            else:
                chan.invoke_subsystem("sftp")
    finally:
        t.close()


def test_first_run_secrets(agent: AgentProcess) -> None:
    state = agent.state_dir
    password = (state / "admin-password").read_text().strip()
    assert len(password) >= 20
    for name in ("admin-password", "users.json", "ssh_host_ed25519_key"):
        assert (state / name).stat().st_mode & 0o077 == 0, name
    users = json.loads((state / "users.json").read_text())
    assert password not in json.dumps(users)
    assert password not in agent.log_text()


def test_sigterm_closes_sessions_and_exits_cleanly(tmp_path: Path) -> None:
    agent = start_agent(tmp_path / "state")
    m = connect(agent)
    m.lock("candidate")
    assert agent.stop(signal.SIGTERM) == 0
    assert not list((tmp_path / "state").glob(".*.tmp*"))  # nothing half-written
    again = start_agent(tmp_path / "state")
    try:
        m2 = connect(again)
        m2.lock("candidate")  # the old session and its lock are gone
        m2.close_session()
    finally:
        again.stop()


def test_help_and_bad_config(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "agent.cli", "--help"], capture_output=True, text=True, cwd=REPO
    )
    assert out.returncode == 0 and "--state-dir" in out.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[[users]\n")
    out = subprocess.run(
        [sys.executable, "-m", "agent.cli", "--config", str(bad), "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=30,
    )
    assert out.returncode == 2 and "bad --config" in out.stderr
