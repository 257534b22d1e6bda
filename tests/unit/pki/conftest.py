"""Fixtures for agent/pki tests: a pinned clock and a key store in a temp directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.clock import FakeClock
from agent.pki import KeyStore
from tests.unit.pki.helpers import NOW


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def keystore_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def store(keystore_dir: Path, clock: FakeClock) -> KeyStore:
    return KeyStore(keystore_dir, clock)
