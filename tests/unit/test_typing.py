"""The code type-checks under mypy --strict (configured in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_mypy_strict_is_clean() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "agent", "tools"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=280,
    )
    assert out.returncode == 0, out.stdout + out.stderr
