"""netconf-console2 3.0.1 (ncclient underneath) against a real agent, as an operator types it.

It exits 0 on success and 255 on an rpc-error (printing the error XML) or any other failure;
its --db defaults to running, so --set there needs writable-running.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from tests.integration.agent_process import AgentProcess
from tests.interop.conftest import run, trustpoint_description
from tests.interop.model import BASE, MODULES, NS, generate_key, trustpoint, trustpoints

NCC = Path(sys.executable).parent / "netconf-console2"
Console = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def ncc(agent: AgentProcess) -> Console:
    def console(*args: str | Path, key_check: bool = True) -> subprocess.CompletedProcess[str]:
        base = [NCC, "--host", agent.host, "--port", str(agent.port), "-u", "admin"]
        return run([*base, "-p", agent.password, *args], timeout=60, key_check=key_check)

    return console


def ok_count(out: str) -> int:
    return out.count(f'<ok xmlns="{BASE}"/>')


def test_hello_lists_bare_capabilities(ncc: Console) -> None:
    out = ncc("--hello")
    assert out.returncode == 0, out.stdout + out.stderr
    caps = [c.text for c in etree.fromstring(out.stdout.encode()).iter(f"{{{BASE}}}capability")]
    assert "urn:ietf:params:netconf:base:1.1" in caps
    assert "urn:ietf:params:netconf:capability:candidate:1.0" in caps
    assert all(c and c == c.strip() for c in caps), caps


def test_edit_candidate_lock_commit_unlock(
    ncc: Console, agent: AgentProcess, tmp_path: Path
) -> None:
    edit = tmp_path / "edit.xml"
    edit.write_text(trustpoint("ncc-ca", "from netconf-console2"))
    out = ncc("--db", "candidate", "--lock", "--edit-config", edit, "--commit", "--unlock")
    assert out.returncode == 0, out.stdout + out.stderr
    assert ok_count(out.stdout) == 4, out.stdout
    assert trustpoint_description(agent, "ncc-ca") == "from netconf-console2"
    shown = ncc("--get-config")
    assert shown.returncode == 0 and "<name>ncc-ca</name>" in shown.stdout, shown.stdout


def test_unknown_element_is_an_rpc_error_with_exit_255(ncc: Console, tmp_path: Path) -> None:
    edit = tmp_path / "bad.xml"
    edit.write_text(f'<trustpoints xmlns="{NS["tp"]}"><no-such-leaf>1</no-such-leaf></trustpoints>')
    out = ncc("--db", "candidate", "--edit-config", edit)
    assert out.returncode == 255
    assert "<error-tag>unknown-element</error-tag>" in out.stdout, out.stdout
    assert "<bad-element>no-such-leaf</bad-element>" in out.stdout


def test_set_on_default_running_datastore(ncc: Console, agent: AgentProcess) -> None:
    """--set without --db edits running: with :writable-running it is one commit."""
    path = "/pki-tp:trustpoints/trustpoint[name='ncc-set']/description=set on running"
    out = ncc("--set", path, "--ns", f"pki-tp={NS['tp']}")
    assert out.returncode == 0, out.stdout + out.stderr
    assert ok_count(out.stdout) == 1
    assert trustpoint_description(agent, "ncc-set") == "set on running"


def test_set_invalid_value_on_running_changes_nothing(ncc: Console, agent: AgentProcess) -> None:
    out = ncc("--set", "/pki-tp:trustpoints/expiry-warning-days=5", "--ns", f"pki-tp={NS['tp']}")
    assert out.returncode == 255
    assert "<error-tag>invalid-value</error-tag>" in out.stdout, out.stdout
    shown = ncc("--get-config", "-x", "/pki-tp:trustpoints/pki-tp:expiry-warning-days")
    assert "expiry-warning-days>5<" not in shown.stdout


def test_xpath_get_with_ns(ncc: Console, agent: AgentProcess, tmp_path: Path) -> None:
    """--ns declares the prefix on <get>, not on <filter>: the server must look upwards."""
    edit = tmp_path / "two.xml"
    edit.write_text(trustpoints(("ncc-x1", "one"), ("ncc-x2", "two")))
    assert ncc("--db", "candidate", "--edit-config", edit, "--commit").returncode == 0
    xpath = "/p:trustpoints/p:trustpoint[p:name='ncc-x1']/p:description"
    out = ncc("--get", "-x", xpath, "--ns", f"p={NS['tp']}")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "<description>one</description>" in out.stdout, out.stdout
    assert "ncc-x2" not in out.stdout


def test_xpath_get_config_with_module_prefix_and_no_ns(ncc: Console, tmp_path: Path) -> None:
    """Without --ns the prefix is unbound: the agent maps it to the YANG module prefix."""
    edit = tmp_path / "one.xml"
    edit.write_text(trustpoint("ncc-x3", "three"))
    assert ncc("--db", "candidate", "--edit-config", edit, "--commit").returncode == 0
    out = ncc("--get-config", "-x", "/pki-tp:trustpoints/pki-tp:trustpoint[pki-tp:name='ncc-x3']")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "<description>three</description>" in out.stdout, out.stdout


def test_xpath_with_unknown_prefix_is_an_error_not_empty(ncc: Console) -> None:
    out = ncc("--get", "-x", "/nosuch:trustpoints")
    assert out.returncode == 255, out.stdout
    assert "<rpc-error" in out.stdout and "nosuch" in out.stdout, out.stdout


@pytest.mark.parametrize("module", MODULES)
def test_get_schema_of_every_module(ncc: Console, module: str) -> None:
    out = ncc("--get-schema", module, key_check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    data = etree.fromstring(out.stdout.encode())
    assert data.tag == "{urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring}data"
    assert (data.text or "").lstrip().startswith(f"module {module} {{"), out.stdout[:300]


def test_get_schema_with_revision_and_format(ncc: Console) -> None:
    source = next((Path(__file__).parents[2] / "yang").glob("npa-pki-keys@*.yang"))
    revision = source.stem.split("@")[1]
    out = ncc("--get-schema", f"npa-pki-keys/{revision}/yang", key_check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"revision {revision}" in out.stdout


def test_get_schema_unknown_module(ncc: Console) -> None:
    out = ncc("--get-schema", "no-such-module")
    assert out.returncode == 255
    assert "<error-tag>invalid-value</error-tag>" in out.stdout, out.stdout


def test_pki_rpc(ncc: Console, tmp_path: Path) -> None:
    rpc = tmp_path / "generate-key.xml"
    rpc.write_text(generate_key("ncc-key"))
    out = ncc("--rpc", rpc)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f'<label xmlns="{NS["keys"]}">ncc-key</label>' in out.stdout, out.stdout
    assert "BEGIN PUBLIC KEY" in out.stdout
    again = ncc("--rpc", rpc)
    assert again.returncode == 255
    assert "<error-app-tag>key-exists</error-app-tag>" in again.stdout, again.stdout


def test_confirmed_commit_confirmed_in_the_same_session(
    ncc: Console, agent: AgentProcess, tmp_path: Path
) -> None:
    edit = tmp_path / "confirmed.xml"
    edit.write_text(trustpoint("ncc-confirmed", "kept"))
    out = ncc(
        "--db",
        "candidate",
        "--edit-config",
        edit,
        "--commit",
        "confirmed",
        "--timeout",
        "60",
        "--commit",
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert ok_count(out.stdout) == 3
    assert trustpoint_description(agent, "ncc-confirmed") == "kept"


def test_unconfirmed_commit_rolls_back_when_the_session_ends(
    ncc: Console, agent: AgentProcess, tmp_path: Path
) -> None:
    """netconf-console2 exits right after --commit confirmed: RFC 6241 §8.4.1 rolls back."""
    edit = tmp_path / "unconfirmed.xml"
    edit.write_text(trustpoint("ncc-unconfirmed", "rolled back"))
    out = ncc(
        "--db", "candidate", "--edit-config", edit, "--commit", "confirmed", "--timeout", "60"
    )
    assert out.returncode == 0, out.stdout + out.stderr
    deadline = time.monotonic() + 10
    while trustpoint_description(agent, "ncc-unconfirmed") is not None:
        assert time.monotonic() < deadline, "the unconfirmed commit was not rolled back"
        time.sleep(0.1)


def test_with_defaults_report_all(ncc: Console, tmp_path: Path) -> None:
    edit = tmp_path / "defaults.xml"
    edit.write_text(trustpoint("ncc-defaults", "d"))
    assert ncc("--db", "candidate", "--edit-config", edit, "--commit").returncode == 0
    xpath = "/pki-tp:trustpoints/pki-tp:expiry-warning-days"
    explicit = ncc("--get-config", "-x", xpath)
    assert explicit.returncode == 0, explicit.stdout + explicit.stderr
    assert "expiry-warning-days" not in explicit.stdout  # a default nobody set: not shown
    everything = ncc("--get-config", "-x", xpath, "--with-defaults", "report-all")
    assert everything.returncode == 0, everything.stdout + everything.stderr
    assert "<expiry-warning-days>90</expiry-warning-days>" in everything.stdout, everything.stdout
