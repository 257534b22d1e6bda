"""A real SCEP CA for tests: micromdm's ``scepserver`` (Debian package ``scep``) on 127.0.0.1.

Each server gets its own depot (CA key and certificate made by ``scepserver ca -init``) in a
temporary directory and a free port; readiness is awaited by polling GetCACaps against a
deadline.  ``-allowrenew 0`` lets one subject hold several certificates, as usage-keys
enrollment needs (micromdm otherwise refuses a second certificate for a DN for 14 days).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.pki.enroll.transport import UrllibTransport
from agent.pki.errors import PkiError

SCEPSERVER = shutil.which("scepserver")
CHALLENGE = "npa-test-challenge"
CA_ORGANIZATION = "netconf-pki-agent test CA"
_READY_DEADLINE = 15.0


@dataclass
class ScepServer:
    """A running scepserver; ``stop`` ends it."""

    url: str
    depot: Path
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def ca_pem(self) -> Path:
        return self.depot / "ca.pem"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def require_scepserver() -> str:
    """The scepserver path; a missing binary fails the test, it never skips it."""
    if SCEPSERVER is None:
        pytest.fail(
            "scepserver not found: install the Debian package `scep` "
            "(apt-get install scep, or `make debs` as root)",
            pytrace=False,
        )
    return SCEPSERVER


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_scep_server(directory: Path, challenge: str = CHALLENGE) -> ScepServer:
    """Create a CA depot under ``directory`` and serve it; returns once GetCACaps answers."""
    binary = require_scepserver()
    depot = directory / "depot"
    init = [binary, "ca", "-init", "-depot", str(depot), "-keySize", "2048"]
    subprocess.run([*init, "-organization", CA_ORGANIZATION], check=True, capture_output=True)
    port = free_port()
    log = directory / "scepserver.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, "-depot", str(depot), "-port", str(port), "-challenge", challenge,
             "-allowrenew", "0"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = ScepServer(f"http://127.0.0.1:{port}/scep", depot, log, process)
    try:
        _wait_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: ScepServer) -> None:
    """Poll GetCACaps until it answers; waiting on the process doubles as the pause."""
    transport = UrllibTransport()
    deadline = time.monotonic() + _READY_DEADLINE
    while time.monotonic() < deadline:
        try:
            if transport.get(f"{server.url}?operation=GetCACaps", 1.0).status == 200:
                return
        except PkiError:
            pass
        try:
            server.process.wait(timeout=0.02)
        except subprocess.TimeoutExpired:
            continue
        tail = server.log.read_text(errors="replace")[-2000:]
        pytest.fail(f"scepserver exited with {server.process.returncode}:\n{tail}")
    pytest.fail(f"scepserver did not answer GetCACaps within {_READY_DEADLINE:g} s")
