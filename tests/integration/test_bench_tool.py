"""tools/bench.py end to end: a --quick run against a real agent reports every row.

Two runs cover both SSH libraries of the tool and both framings: asyncssh with base:1.1
chunked framing, paramiko with base:1.0 end-of-message framing.  Both use npa-trustpoints
(pure configuration): commits generate the key material of declared keys, so an npa-keys run
would measure RSA key generation (over a minute for --quick) rather than the datastore."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.integration.agent_process import REPO, AgentProcess, start_agent
from tests.unit.pki.scep_server import CHALLENGE, start_scep_server

BENCH = REPO / "tools" / "bench.py"
BENCH_SURFACE = REPO / "tools" / "bench_surface.py"
BENCH_PKI = REPO / "tools" / "bench_pki.py"
TEMPLATES = REPO / "tools" / "bench_templates"
# --quick sizes: 10-entry small datastore, bulk 100 and 1,000, 1,000-entry large datastore.
QUICK_ROWS = {
    "session-setup": (0, None),
    "get-config-small": (10, 10),
    "edit-commit-one-small": (1, 10),
    "edit-commit-bulk-100": (100, 0),
    "get-config-bulk-100": (100, 100),
    "edit-commit-bulk-1000": (1000, 0),
    "get-config-bulk-1000": (1000, 1000),
    "edit-commit-one-large": (1, 1000),
    "get-xpath-one-large": (1, 1000),
    "get-xpath-all-large": (1000, 1000),
}


def _run_bench(host: str, port: int, password_file: Path, out: Path, *extra: str) -> str:
    cmd = [
        sys.executable,
        str(BENCH),
        "--host",
        host,
        "--port",
        str(port),
        "--user",
        "admin",
        "--password-file",
        str(password_file),
        "--quick",
        "--repeat",
        "1",
        "--json",
        str(out),
        *extra,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=REPO)
    assert proc.returncode == 0, f"bench failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.mark.parametrize(
    "extra",
    [
        ("--ssh", "asyncssh", "--template", str(TEMPLATES / "npa-trustpoints.toml")),
        ("--ssh", "paramiko", "--base10", "--template", str(TEMPLATES / "npa-trustpoints.toml")),
    ],
    ids=["asyncssh-1.1-trustpoints", "paramiko-1.0-trustpoints"],
)
def test_bench_quick_reports_every_row(tmp_path: Path, extra: tuple[str, ...]) -> None:
    agent = start_agent(tmp_path / "state")
    out = tmp_path / "bench.json"
    try:
        stdout = _run_bench(agent.host, agent.port, agent.state_dir / "admin-password", out, *extra)
    finally:
        agent.stop()
    result = json.loads(out.read_text())
    assert set(result["rows"]) == set(QUICK_ROWS)
    for name, (n, store) in QUICK_ROWS.items():
        row = result["rows"][name]
        stats = [row["min_ms"], row["median_ms"], row["max_ms"]]
        assert all(isinstance(v, int | float) and v > 0 for v in stats), (name, row)
        assert stats == sorted(stats), (name, row)
        assert (row["n"], row["store"]) == (n, store), name
        assert row["samples"] >= 1
        assert name in stdout
    assert result["server"]["datastore"] == "candidate"
    framing = "end-of-message" if "--base10" in extra else "chunked"
    assert result["server"]["framing"].startswith(framing)
    assert result["ratios"]["edit-commit-one-large/edit-commit-one-small"] > 0
    assert result["rows"]["edit-commit-one-small"]["ops_per_s"] > 0


def test_bench_reports_an_rpc_error(tmp_path: Path) -> None:
    """A template the server cannot accept ends the run with the server's rpc-error."""
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'namespace = "urn:example:nonexistent"\n'
        "parent = '<things xmlns=\"urn:example:nonexistent\">{entries}</things>'\n"
        "entry = '<thing><name>t{i}</name></thing>'\n"
    )
    agent = start_agent(tmp_path / "state")
    try:
        cmd = [
            sys.executable,
            str(BENCH),
            "--host",
            agent.host,
            "--port",
            str(agent.port),
            "--password-file",
            str(agent.state_dir / "admin-password"),
            "--template",
            str(bad),
            "--quick",
            "--repeat",
            "1",
            "--ops",
            "1",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)
    finally:
        agent.stop()
    assert proc.returncode == 1
    assert "bench: error:" in proc.stderr and "failed" in proc.stderr, proc.stderr


def _bench_module(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCH.parent))  # bench.py imports its sibling client
    spec = importlib.util.spec_from_file_location("bench_tool", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", sorted(TEMPLATES.glob("*.toml")), ids=lambda p: p.stem)
def test_shipped_templates_load(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bench = _bench_module(monkeypatch)
    template = bench.Template.load(path)
    assert "{entries}" not in template.remove_all()
    assert 'operation="remove"' in template.remove_entry(3)
    assert template.entries(0, 2).count("{i}") == 0


def _run_tool(agent: AgentProcess, *row: str, tool: Path = BENCH_PKI) -> str:
    cmd = [sys.executable, str(tool), "--port", str(agent.port),
           "--password-file", str(agent.state_dir / "admin-password"), *row]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=REPO)
    assert proc.returncode == 0, f"{tool.name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_bench_surface_rows(tmp_path: Path) -> None:
    """tools/bench_surface.py: confirmed commit against plain commit, and notification
    delivery (replay burst and live), against a real agent."""
    agent = start_agent(tmp_path / "state")
    try:
        confirm = _run_tool(agent, "confirm", "--runs", "2", tool=BENCH_SURFACE)
        notify = _run_tool(agent, "notify", "-n", "5", tool=BENCH_SURFACE)
    finally:
        agent.stop()
    assert re.search(r"edit \+ commit: median [\d.]+ ms; .* confirming commit: median", confirm)
    assert re.search(r"replay burst: \d+ notifications in [\d.]+ ms", notify)
    assert re.search(r"live: 5 commits, 5 netconf-config-change delivered", notify)


def test_bench_pki_rows(tmp_path: Path) -> None:
    """tools/bench_pki.py: each row runs against a real agent (and a real micromdm CA) and
    prints its figures."""
    scep = start_scep_server(tmp_path / "scep")
    agent = start_agent(tmp_path / "state")
    try:
        keygen = _run_tool(agent, "keygen", "--runs", "2")
        state = _run_tool(agent, "state", "-n", "3", "--repeat", "2")
        enroll = _run_tool(agent, "scep", "--scep-url", scep.url,
                                "--challenge", CHALLENGE, "--runs", "2")  # fmt: skip
    finally:
        agent.stop()
        scep.stop()
    assert re.search(r"generate-key RSA-2048: RPC median [\d.]+ ms, raw cryptography", keygen)
    assert "generate-key EC P-256" in keygen
    assert re.search(r"overhead from the fixed cost: -?[\d.]+ ms .* % of raw RSA-2048", keygen)
    assert re.search(r"get /trustpoints with 3 certificates: median [\d.]+ ms", state)
    assert re.search(
        r"SCEP enrollment, RSA-2048: enroll RPC median [\d.]+ ms .* scepclient", enroll
    )
