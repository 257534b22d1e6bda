"""Users and their credentials: scrypt password hashes and authorized SSH public keys.

scrypt comes with Python's hashlib, so no extra dependency is needed; hashes are stored in the
self-describing form ``$scrypt$ln=<log2 n>,r=<r>,p=<p>$<salt b64>$<hash b64>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

_LN, _R, _P = 14, 8, 1  # 16 MiB: the interactive-login parameters of the scrypt paper


@dataclass(frozen=True, slots=True)
class User:
    name: str
    password_hash: str | None = None
    # OpenSSH public key lines ("ssh-ed25519 AAAA... comment"); compared by type and blob.
    authorized_keys: tuple[str, ...] = field(default=())


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = _scrypt(password, salt, _LN, _R, _P)
    return f"$scrypt$ln={_LN},r={_R},p={_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        _, scheme, params, salt_b64, hash_b64 = encoded.split("$")
        if scheme != "scrypt":
            return False
        p = dict(kv.split("=") for kv in params.split(","))
        salt = base64.b64decode(salt_b64 + "==")
        expected = base64.b64decode(hash_b64 + "==")
        got = _scrypt(password, salt, int(p["ln"]), int(p["r"]), int(p["p"]))
    except (ValueError, KeyError):
        return False
    return hmac.compare_digest(got, expected)


def generate_password() -> str:
    return secrets.token_urlsafe(18)


def key_blob(line: str) -> tuple[str, str] | None:
    """(type, base64 blob) of an OpenSSH public key line, ignoring options and comment."""
    parts = line.split()
    for i, part in enumerate(parts[:-1]):
        if part.startswith(("ssh-", "ecdsa-", "sk-")):
            return part, parts[i + 1]
    return None


def _scrypt(password: str, salt: bytes, ln: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=1 << ln, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")
