"""Byte-level encodings: Cisco hex dumps, colon hex, serial numbers, the PEM splitter."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.pki import KeyAlgorithm, KeyStore, WeakKeyWarning
from agent.pki._encoding import (
    cisco_hex_lines,
    colon_hex,
    integer_hex,
    iter_pem_blocks,
    pem_encode,
)

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "pki"


def _seed_data_lines() -> list[str]:
    text = (VECTORS / "cisco-mypubkey-rsa.txt").read_text()
    data = text.split("Data      :\n", 1)[1]
    return [line.strip() for line in data.splitlines() if line.strip()]


def test_hex_dump_reproduces_the_cisco_seed(store: KeyStore) -> None:
    lines = _seed_data_lines()
    der = bytes.fromhex("".join(lines).replace(" ", ""))
    with pytest.warns(WeakKeyWarning):
        info = store.import_public("mykey", der)
    assert (info.algorithm, info.key_size) == (KeyAlgorithm.RSA, 1024)  # "Size :1024"
    assert list(info.components[0].hex_dump) == lines
    assert cisco_hex_lines(der) == tuple(lines)


def test_colon_hex() -> None:
    assert colon_hex(b"") == ""
    assert colon_hex(b"\x5f\xf8\x7b\x28") == "5F:F8:7B:28"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "00"),
        (1, "01"),
        (0x6E, "6E"),
        (0x80, "80"),
        (0x0100, "01:00"),
        (-1, "FF"),
        (-128, "80"),
        (-129, "FF:7F"),
    ],
)
def test_integer_hex(value: int, text: str) -> None:
    assert integer_hex(value) == text


def test_pem_round_trip() -> None:
    der = bytes(range(256)) * 3
    text = pem_encode("CERTIFICATE", der)
    assert all(len(line) <= 64 for line in text.splitlines())
    (block,) = iter_pem_blocks(b"noise\n" + text.encode() + b"more noise")
    assert block.label == "CERTIFICATE" and block.der() == der


def test_pem_blocks_need_matching_end_lines() -> None:
    data = (
        b"-----BEGIN A-----\nAAAA\n-----END B-----\n"
        b"-----BEGIN C-----\n-----BEGIN D-----\nAAAA\n-----END D-----\n"
    )
    assert [b.label for b in iter_pem_blocks(data)] == ["D"]


def test_pem_splitter_is_linear_on_hostile_input() -> None:
    data = b"-----BEGIN CERTIFICATE-----\n" * 100_000
    start = time.perf_counter()
    assert list(iter_pem_blocks(data)) == []
    assert time.perf_counter() - start < 2


@given(st.binary(max_size=300))
def test_pem_splitter_accepts_any_bytes(data: bytes) -> None:
    for block in iter_pem_blocks(b"-----BEGIN X-----\n" + data + b"-----END X-----"):
        with contextlib.suppress(ValueError):
            block.der()
