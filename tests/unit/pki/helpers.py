"""Shared test helpers for agent/pki: the pinned time, the openssl CLI, certificate factories.

Certificates are made with ``cryptography`` at fixed offsets from :data:`NOW`, so validity
tests never depend on the wall clock; cross-checks run the real ``openssl`` binary.
"""

from __future__ import annotations

import json
import shutil
import socketserver
import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
DAY = timedelta(days=1)

OPENSSL = shutil.which("openssl")


_Server = TypeVar("_Server", bound=socketserver.BaseServer)


@contextmanager
def serving(httpd: _Server) -> Iterator[_Server]:
    """Run a test HTTP server in a thread for the duration of the block."""
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def openssl(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> bytes:
    """Run ``openssl`` and return stdout; a non-zero exit raises CalledProcessError."""
    assert OPENSSL is not None, "the openssl CLI (the independent oracle) is not installed"
    done = subprocess.run(
        [OPENSSL, *args], input=stdin, cwd=cwd, capture_output=True, check=False, timeout=60
    )
    if done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, args, done.stdout, done.stderr)
    return done.stdout


def stored_private_pem(keystore_dir: Path, label: str, role: str = "general") -> bytes:
    """The encrypted PKCS #8 PEM a key record holds for one key pair (as stored, no API)."""
    doc = json.loads((keystore_dir / f"{label}.json").read_text())
    (pem,) = [c["private-key"] for c in doc["components"] if c["role"] == role]
    assert isinstance(pem, str)
    return pem.encode("ascii")


def stored_key_file(keystore_dir: Path, label: str, out: Path, role: str = "general") -> Path:
    """:func:`stored_private_pem` written to ``out`` for the openssl CLI."""
    out.write_bytes(stored_private_pem(keystore_dir, label, role))
    return out


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, bits)


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def pem_key(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey,
    password: bytes | None = None,
) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def name(cn: str, *, o: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if o:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, o))
    return x509.Name(attrs)


def make_cert(
    subject: x509.Name,
    public_key: CertificatePublicKeyTypes,
    issuer_key: CertificateIssuerPrivateKeyTypes,
    *,
    issuer: x509.Name | None = None,
    not_before: datetime = NOW - DAY,
    not_after: datetime = NOW + 365 * DAY,
    serial: int = 0x6E,
    is_ca: bool = False,
    san: Sequence[x509.GeneralName] = (),
    crl_urls: Sequence[str] = (),
    server_auth: bool = False,
) -> x509.Certificate:
    """A certificate with fixed dates relative to NOW; self-signed unless ``issuer`` is given."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    )
    if is_ca:
        builder = builder.add_extension(_ca_usage(), critical=True)
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(san)), critical=False)
    if crl_urls:
        points = [
            x509.DistributionPoint([x509.UniformResourceIdentifier(u)], None, None, None)
            for u in crl_urls
        ]
        builder = builder.add_extension(x509.CRLDistributionPoints(points), critical=False)
    if server_auth:
        eku = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
        builder = builder.add_extension(eku, critical=False)
    eddsa = (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)
    algorithm = None if isinstance(issuer_key, eddsa) else hashes.SHA256()
    return builder.sign(issuer_key, algorithm)


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)
