"""The engine's closed vocabularies, spelled exactly as the YANG modules spell them.

``npa-pki-types`` defines these identities and enumerations; using the same strings here means
``ops`` renders state with ``str(value)`` and parses RPC input with ``Enum(value)``, with no
translation table to drift out of date.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Digest", "KeyAlgorithm", "KeyFormat", "KeyOrigin", "KeyRole", "KeyUsage"]


class KeyAlgorithm(StrEnum):
    """Identities derived from ``pki-types:key-algorithm``.

    ``ECDSA`` is the abstract family: never generated, reported only for a certificate whose
    curve has no identity of its own (P-521, brainpool).
    """

    RSA = "rsa"
    ECDSA = "ecdsa"
    ECDSA_P256 = "ecdsa-p256"
    ECDSA_P384 = "ecdsa-p384"
    ED25519 = "ed25519"


class KeyUsage(StrEnum):
    """``pki-types:key-usage``: one key pair, or a signature and an encryption pair (RSA)."""

    GENERAL_KEYS = "general-keys"
    USAGE_KEYS = "usage-keys"


class KeyRole(StrEnum):
    """``pki-types:key-role``: which key pair of a label."""

    GENERAL = "general"
    SIGNATURE = "signature"
    ENCRYPTION = "encryption"


class KeyOrigin(StrEnum):
    """``keys-state/key/origin``: what created the key material."""

    CONFIG = "config"
    RPC = "rpc"
    IMPORTED = "imported"


class KeyFormat(StrEnum):
    """Identities derived from ``pki-types:key-format``: how imported material was encoded.

    A PKCS #1 ``RSA PUBLIC KEY`` is reported as ``spki``: it is the same public key, and the
    YANG model has no separate identity for it.
    """

    SPKI = "spki"
    PKCS8 = "pkcs8"
    PKCS12 = "pkcs12"


class Digest(StrEnum):
    """Hash used to sign a certificate request (ignored for Ed25519, which signs without one)."""

    SHA256 = "sha256"
    SHA384 = "sha384"
    SHA512 = "sha512"
