"""Start and stop a real ``pki-agent`` process on an ephemeral loopback port."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ncclient import NCClientError

REPO = Path(__file__).resolve().parents[2]
_LISTEN = re.compile(rb"listening on ([0-9.]+):(\d+)")


@dataclass
class AgentProcess:
    state_dir: Path
    proc: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path

    @property
    def password(self) -> str:
        return (self.state_dir / "admin-password").read_text().strip()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_agent(state_dir: Path, *extra: str, timeout: float = 30.0) -> AgentProcess:
    """Start the agent and wait (with a deadline) for its "listening on" line."""
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir.parent / f"{state_dir.name}.log"
    log_file = open(log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
    cmd = [sys.executable, "-m", "agent.cli", "--port", "0", "--state-dir", str(state_dir), *extra]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=log_file,
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    log_file.close()
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            seen += line
            m = _LISTEN.search(line)
            if m:
                return AgentProcess(state_dir, proc, m.group(1).decode(), int(m.group(2)), log_path)
        if proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError(f"agent did not start: {seen!r}\n{log_path.read_text(errors='replace')}")


def run_until_killed(agent: AgentProcess, step: Callable[[], None], after: float) -> None:
    """Call ``step`` again and again while a timer SIGKILLs the agent ``after`` seconds in;
    return once it is dead (the step it cut off raised a connection error)."""
    killer = threading.Timer(after, agent.proc.send_signal, [signal.SIGKILL])
    killer.start()
    try:
        while True:
            step()
    except (NCClientError, OSError, EOFError):
        pass
    finally:
        killer.join()
        agent.proc.wait(10)
    assert agent.proc.returncode == -signal.SIGKILL
