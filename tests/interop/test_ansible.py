"""Ansible's netconf modules (ansible.netcommon, run through ncclient 0.7.1 in .venv-ansible,
made by `make ansible`): ansible-playbook as its users run it, one persistent NETCONF session
per play, each task's result read from the default callback's `-v` output."""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.integration.agent_process import AgentProcess
from tests.interop.conftest import connect, run, trustpoint_description
from tests.interop.model import BASE, NS, REPO, trustpoint_filter

PLAYBOOK = REPO / ".venv-ansible" / "bin" / "ansible-playbook"
# "TASK [name] ***", maybe an error block, then "ok: [npa] => {...}" or "fatal: [npa]: FAILED! =>"
_RESULT = re.compile(
    r"^TASK \[(.+?)\] \*+\n(?:.*\n)*?(?:ok|changed|fatal): \[npa\][^{\n]*=> (\{.*\})$", re.M
)

CONFIGURE = f"""
- hosts: agents
  gather_facts: false
  tasks:
    - name: trustpoint
      ansible.netcommon.netconf_config:
        target: candidate
        lock: always
        commit: true
        content: |
          <config xmlns="{BASE}">
            <trustpoints xmlns="{NS["tp"]}">
              <trustpoint>
                <name>ansible-ca</name>
                <description>{{{{ description | default('managed by ansible') }}}}</description>
              </trustpoint>
            </trustpoints>
          </config>
"""

READ = f"""
- hosts: agents
  gather_facts: false
  tasks:
    - name: by subtree
      ansible.netcommon.netconf_get:
        source: running
        filter: '{trustpoint_filter("ansible-ca")}'
      ignore_errors: true
    - name: by xpath
      ansible.netcommon.netconf_get:
        source: running
        filter: /pki-tp:trustpoints/pki-tp:trustpoint[pki-tp:name='ansible-ca']/pki-tp:description
      ignore_errors: true
    - name: generate-key
      ansible.netcommon.netconf_rpc:
        rpc: generate-key
        xmlns: {NS["keys"]}
        content: <label>ansible-key</label><overwrite>true</overwrite>
      ignore_errors: true
"""

FAILING = f"""
- hosts: agents
  gather_facts: false
  tasks:
    - name: failing rpc
      ansible.netcommon.netconf_rpc:
        rpc: zeroize-key
        xmlns: {NS["keys"]}
        content: <label>no-such-key</label>
    - name: never reached
      ansible.netcommon.netconf_get:
        source: running
"""


class Ansible:
    def __init__(self, agent: AgentProcess, home: Path) -> None:
        self.home = home
        self.inventory = home / "hosts.yml"
        host = {
            "ansible_host": agent.host,
            "ansible_port": agent.port,
            "ansible_connection": "ansible.netcommon.netconf",
            "ansible_network_os": "ansible.netcommon.default",
            "ansible_user": "admin",
            "ansible_password": agent.password,
            "ansible_host_key_checking": False,
            "ansible_command_timeout": 60,
        }
        # JSON is YAML: no quoting rules to get wrong for the generated password.
        self.inventory.write_text(json.dumps({"agents": {"hosts": {"npa": host}}}))

    def play(self, name: str, playbook: str, *args: str) -> tuple[int, dict[str, dict[str, Any]]]:
        """Run a playbook; return the exit status and each task's result by task name, read
        from the default callback's `-v` lines (ansible.posix.json chokes on bytes)."""
        out = self.run(name, playbook, "-v", *args)
        results = {m.group(1): json.loads(m.group(2)) for m in _RESULT.finditer(out.stdout)}
        assert results, out.stdout + out.stderr
        return out.returncode, results

    def run(self, name: str, playbook: str, *args: str) -> subprocess.CompletedProcess[str]:
        path = self.home / f"{name}.yml"
        path.write_text(textwrap.dedent(playbook))
        env = {
            "PATH": f"{PLAYBOOK.parent}:/usr/bin:/bin",
            "HOME": str(self.home),  # persistent connection sockets live in ~/.ansible/pc
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "ANSIBLE_NOCOLOR": "1",
        }
        cmd = [PLAYBOOK, *args, "-i", self.inventory, path]
        return run(cmd, env=env, cwd=self.home, timeout=180)


@pytest.fixture(scope="module")
def ansible(agent: AgentProcess, tmp_path_factory: pytest.TempPathFactory) -> Ansible:
    return Ansible(agent, tmp_path_factory.mktemp("ansible-home"))


@pytest.fixture(scope="module")
def configured(ansible: Ansible) -> list[tuple[int, dict[str, Any]]]:
    """The configure playbook, run twice."""
    return [ansible.play("configure", CONFIGURE) for _ in range(2)]


@pytest.fixture(scope="module")
def read(ansible: Ansible, configured: object) -> tuple[int, dict[str, dict[str, Any]]]:
    return ansible.play("read", READ)


def test_netconf_config_commits_then_is_idempotent(
    configured: list[Any], agent: AgentProcess
) -> None:
    (rc1, first), (rc2, second) = configured
    assert (rc1, rc2) == (0, 0), (first, second)
    assert first["trustpoint"]["changed"] is True, first
    assert second["trustpoint"]["changed"] is False, second
    assert trustpoint_description(agent, "ansible-ca") == "managed by ansible"


def test_netconf_get_by_subtree(read: tuple[int, dict[str, Any]]) -> None:
    result = read[1]["by subtree"]
    assert not result.get("failed"), result
    assert "<description>managed by ansible</description>" in result["stdout"], result


def test_netconf_get_by_xpath_with_module_prefix(read: tuple[int, dict[str, Any]]) -> None:
    result = read[1]["by xpath"]
    assert not result.get("failed"), result
    assert "<description>managed by ansible</description>" in result["stdout"], result
    assert "<name>ansible-ca</name>" in result["stdout"]  # the list key comes along


def test_netconf_rpc_runs_a_pki_rpc(read: tuple[int, dict[str, Any]]) -> None:
    result = read[1]["generate-key"]
    assert not result.get("failed"), result
    assert ">ansible-key</label>" in result["stdout"], result
    assert "BEGIN PUBLIC KEY" in result["stdout"]


def test_failing_task_shows_the_error_message(ansible: Ansible) -> None:
    """As users see it, with the default callback: exit 2, the agent's error-message shown."""
    out = ansible.run("failing", FAILING)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "fatal: [npa]: FAILED!" in out.stdout, out.stdout
    assert "no key labelled 'no-such-key'" in out.stdout
    assert "never reached" not in out.stdout


def test_check_mode_reports_the_change_and_discards_it(
    ansible: Ansible, configured: object, agent: AgentProcess
) -> None:
    rc, results = ansible.play("configure", CONFIGURE, "--check", "-e", "description=dry run")
    assert rc == 0, results
    assert results["trustpoint"]["changed"] is True, results
    assert trustpoint_description(agent, "ansible-ca") == "managed by ansible"
    with connect(agent) as m:  # discard-changes left nothing behind in the candidate
        assert "dry run" not in m.get_config(source="candidate").data_xml
