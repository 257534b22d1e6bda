"""KeyStore imports: a peer's public key (SPKI, PKCS #1) and key pairs (PKCS #8, PKCS #12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x25519

from agent.pki import (
    ErrorCode,
    KeyAlgorithm,
    KeyFormat,
    KeyOrigin,
    KeyStore,
    PkiError,
    WeakKeyWarning,
)
from tests.unit.pki.helpers import openssl, pem_key, rsa_key

Enc = serialization.Encoding
Pub = serialization.PublicFormat
Priv = serialization.PrivateFormat

PASSPHRASE = b"correct horse battery staple"


@pytest.fixture(scope="module")
def rsa_private() -> rsa.RSAPrivateKey:
    return rsa_key(2048)


def _spki(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Enc.DER, Pub.SubjectPublicKeyInfo)


def _code(call: object) -> ErrorCode:
    assert callable(call)
    with pytest.raises(PkiError) as caught:
        call()
    return caught.value.code


# -- public keys --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "fmt"),
    [
        (Enc.PEM, Pub.SubjectPublicKeyInfo),
        (Enc.DER, Pub.SubjectPublicKeyInfo),
        (Enc.PEM, Pub.PKCS1),
        (Enc.DER, Pub.PKCS1),
    ],
    ids=["spki-pem", "spki-der", "pkcs1-pem", "pkcs1-der"],
)
def test_import_rsa_public_key(
    store: KeyStore, rsa_private: rsa.RSAPrivateKey, encoding: Enc, fmt: Pub
) -> None:
    data = rsa_private.public_key().public_bytes(encoding, fmt)
    info = store.import_public("peer", data)
    assert info.public_only and info.origin is KeyOrigin.IMPORTED
    assert info.source_format is KeyFormat.SPKI
    assert (info.algorithm, info.key_size) == (KeyAlgorithm.RSA, 2048)
    assert info.components[0].public_key_der == _spki(rsa_private)
    doc = json.loads((store.directory / "peer.json").read_text())
    assert [c["private-key"] for c in doc["components"]] == [None]


@pytest.mark.parametrize(
    ("key", "algorithm", "size"),
    [
        (ec.generate_private_key(ec.SECP256R1()), KeyAlgorithm.ECDSA_P256, 256),
        (ec.generate_private_key(ec.SECP384R1()), KeyAlgorithm.ECDSA_P384, 384),
        (ed25519.Ed25519PrivateKey.generate(), KeyAlgorithm.ED25519, 256),
    ],
    ids=["p256", "p384", "ed25519"],
)
def test_import_curve_public_keys(
    store: KeyStore,
    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey,
    algorithm: KeyAlgorithm,
    size: int,
) -> None:
    pem = key.public_key().public_bytes(Enc.PEM, Pub.SubjectPublicKeyInfo)
    info = store.import_public("peer", b"pasted from a terminal:\n" + pem + b"\n-- end\n")
    assert (info.algorithm, info.key_size) == (algorithm, size)
    assert info.components[0].public_key_der == _spki(key)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage",
        b"\x30\x03\x02\x01\x00",
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        b"-----BEGIN PUBLIC KEY-----\nnot base64!\n",
    ],
    ids=["empty", "text", "der-junk", "pem-junk", "pem-unterminated"],
)
def test_import_public_garbage(store: KeyStore, data: bytes) -> None:
    assert _code(lambda: store.import_public("peer", data)) is ErrorCode.MALFORMED_KEY
    assert store.list() == []


def test_import_public_refuses_a_private_key(
    store: KeyStore, rsa_private: rsa.RSAPrivateKey
) -> None:
    code = _code(lambda: store.import_public("peer", pem_key(rsa_private)))
    assert code is ErrorCode.MALFORMED_KEY


def test_import_public_size_limit(store: KeyStore) -> None:
    code = _code(lambda: store.import_public("peer", b"0" * (1 << 20 | 1)))
    assert code is ErrorCode.MALFORMED_KEY


@pytest.mark.parametrize(
    "public_key",
    [
        ec.generate_private_key(ec.SECP521R1()).public_key(),
        ec.generate_private_key(ec.SECP256K1()).public_key(),
        ed448.Ed448PrivateKey.generate().public_key(),
        x25519.X25519PrivateKey.generate().public_key(),
    ],
    ids=["p521", "secp256k1", "ed448", "x25519"],
)
def test_import_public_unsupported_algorithms(store: KeyStore, public_key: object) -> None:
    data = public_key.public_bytes(Enc.DER, Pub.SubjectPublicKeyInfo)  # type: ignore[attr-defined]
    assert _code(lambda: store.import_public("p", data)) is ErrorCode.UNSUPPORTED_KEY_PARAMETERS


def test_import_weak_public_key_warns(store: KeyStore) -> None:
    data = rsa_key(1024).public_key().public_bytes(Enc.PEM, Pub.SubjectPublicKeyInfo)
    with pytest.warns(WeakKeyWarning):
        assert store.import_public("old", data).weak


# -- key pairs ----------------------------------------------------------------------------


def _pkcs8(key: rsa.RSAPrivateKey, encoding: Enc, password: bytes | None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(encoding, Priv.PKCS8, encryption)


@pytest.mark.parametrize("encoding", [Enc.PEM, Enc.DER], ids=["pem", "der"])
@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_import_pkcs8(
    store: KeyStore, rsa_private: rsa.RSAPrivateKey, encoding: Enc, encrypted: bool
) -> None:
    data = _pkcs8(rsa_private, encoding, PASSPHRASE if encrypted else None)
    info = store.import_pair("pair", data, PASSPHRASE if encrypted else None)
    assert not info.public_only and info.origin is KeyOrigin.IMPORTED
    assert info.source_format is KeyFormat.PKCS8
    assert info.components[0].public_key_der == _spki(rsa_private)
    stored = store.private_key("pair")
    assert isinstance(stored, rsa.RSAPrivateKey)
    assert stored.private_numbers() == rsa_private.private_numbers()


@pytest.mark.parametrize("encoding", [Enc.PEM, Enc.DER], ids=["pem", "der"])
@pytest.mark.parametrize("passphrase", [b"wrong", None], ids=["wrong", "missing"])
def test_import_pkcs8_bad_passphrase(
    store: KeyStore, rsa_private: rsa.RSAPrivateKey, encoding: Enc, passphrase: bytes | None
) -> None:
    data = _pkcs8(rsa_private, encoding, PASSPHRASE)
    with pytest.raises(PkiError) as caught:
        store.import_pair("pair", data, passphrase)
    assert caught.value.code is ErrorCode.BAD_PASSPHRASE
    assert "wrong" not in str(caught.value) and "horse" not in repr(caught.value)
    assert store.list() == []


def test_passphrase_for_a_plain_key_is_ignored(
    store: KeyStore, rsa_private: rsa.RSAPrivateKey
) -> None:
    assert store.import_pair("pair", _pkcs8(rsa_private, Enc.PEM, None), b"unused").label == "pair"


def test_import_pair_from_a_pem_bundle_with_other_blocks(store: KeyStore) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    data = (
        b"Bag Attributes\n    localKeyID: 01\n"
        + key.public_key().public_bytes(Enc.PEM, Pub.SubjectPublicKeyInfo)
        + pem_key(key)
    )
    info = store.import_pair("ed", data)
    assert info.algorithm is KeyAlgorithm.ED25519
    assert info.components[0].public_key_der == _spki(key)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage",
        b"\x30\x82\x01\x00" + bytes(10),
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ],
    ids=["empty", "text", "truncated-der", "public-pem", "private-junk"],
)
def test_import_pair_garbage(store: KeyStore, data: bytes) -> None:
    assert _code(lambda: store.import_pair("pair", data, PASSPHRASE)) is ErrorCode.MALFORMED_KEY


def test_import_pair_unsupported_algorithm(store: KeyStore) -> None:
    data = pem_key(ed448.Ed448PrivateKey.generate())  # type: ignore[arg-type]
    assert _code(lambda: store.import_pair("k", data)) is ErrorCode.UNSUPPORTED_KEY_PARAMETERS


def test_import_respects_existing_labels(store: KeyStore, rsa_private: rsa.RSAPrivateKey) -> None:
    generated = store.generate("k", KeyAlgorithm.ED25519)
    data = _pkcs8(rsa_private, Enc.PEM, None)
    assert _code(lambda: store.import_pair("k", data)) is ErrorCode.KEY_EXISTS
    assert _code(lambda: store.import_public("k", _spki(rsa_private))) is ErrorCode.KEY_EXISTS
    assert store.get("k") == generated
    assert store.import_pair("k", data, overwrite=True).algorithm is KeyAlgorithm.RSA
    stored = store.private_key("k")
    assert isinstance(stored, rsa.RSAPrivateKey)
    assert stored.private_numbers() == rsa_private.private_numbers()


# -- with the openssl CLI -----------------------------------------------------------------


@pytest.fixture
def key_and_cert(tmp_path: Path, rsa_private: rsa.RSAPrivateKey) -> tuple[Path, Path]:
    key = tmp_path / "key.pem"
    key.write_bytes(pem_key(rsa_private))
    cert = tmp_path / "cert.pem"
    openssl(
        "req",
        "-x509",
        "-new",
        "-key",
        str(key),
        "-subj",
        "/CN=device",
        "-days",
        "30",
        "-out",
        str(cert),
    )
    return key, cert


def _p12(tmp_path: Path, key_and_cert: tuple[Path, Path], *extra: str) -> bytes:
    out = tmp_path / "bundle.p12"
    key, cert = key_and_cert
    openssl("pkcs12", "-export", "-inkey", str(key), "-in", str(cert), "-out", str(out), *extra)
    return out.read_bytes()


def test_import_pkcs12(
    store: KeyStore,
    tmp_path: Path,
    key_and_cert: tuple[Path, Path],
    rsa_private: rsa.RSAPrivateKey,
) -> None:
    data = _p12(tmp_path, key_and_cert, "-passout", "pass:" + PASSPHRASE.decode())
    info = store.import_pair("p12", data, PASSPHRASE)
    assert info.source_format is KeyFormat.PKCS12
    assert info.components[0].public_key_der == _spki(rsa_private)
    stored = store.private_key("p12")
    assert isinstance(stored, rsa.RSAPrivateKey)
    assert stored.private_numbers() == rsa_private.private_numbers()


@pytest.mark.parametrize("passphrase", [b"wrong", None], ids=["wrong", "missing"])
def test_import_pkcs12_bad_passphrase(
    store: KeyStore, tmp_path: Path, key_and_cert: tuple[Path, Path], passphrase: bytes | None
) -> None:
    data = _p12(tmp_path, key_and_cert, "-passout", "pass:" + PASSPHRASE.decode())
    assert _code(lambda: store.import_pair("p12", data, passphrase)) is ErrorCode.BAD_PASSPHRASE


def test_import_pkcs12_with_empty_password(
    store: KeyStore, tmp_path: Path, key_and_cert: tuple[Path, Path]
) -> None:
    data = _p12(tmp_path, key_and_cert, "-passout", "pass:")
    assert store.import_pair("p12", data).source_format is KeyFormat.PKCS12


def test_import_pkcs12_without_a_key(
    store: KeyStore, tmp_path: Path, key_and_cert: tuple[Path, Path]
) -> None:
    out = tmp_path / "certs.p12"
    openssl(
        "pkcs12",
        "-export",
        "-nokeys",
        "-in",
        str(key_and_cert[1]),
        "-out",
        str(out),
        "-passout",
        "pass:x",
    )
    assert (
        _code(lambda: store.import_pair("p12", out.read_bytes(), b"x")) is ErrorCode.MALFORMED_KEY
    )


def test_import_truncated_pkcs12(
    store: KeyStore, tmp_path: Path, key_and_cert: tuple[Path, Path]
) -> None:
    data = _p12(tmp_path, key_and_cert, "-passout", "pass:x")
    assert _code(lambda: store.import_pair("p12", data[:-40], b"x")) is ErrorCode.MALFORMED_KEY


@pytest.mark.parametrize("algorithm", ["rsa", "ec"])
def test_import_traditional_openssl_pem(store: KeyStore, tmp_path: Path, algorithm: str) -> None:
    """'-----BEGIN RSA/EC PRIVATE KEY-----' with RFC 1421 encryption headers, as old devices
    export them."""
    plain = tmp_path / "plain.pem"
    if algorithm == "rsa":
        openssl("genrsa", "-traditional", "-out", str(plain), "2048")
    else:
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(plain))
    legacy = openssl(
        algorithm,
        "-in",
        str(plain),
        "-aes256",
        "-passout",
        "pass:secret",
        *(["-traditional"] if algorithm == "rsa" else []),
    )
    assert b"Proc-Type: 4,ENCRYPTED" in legacy
    assert _code(lambda: store.import_pair("old", legacy, b"bad")) is ErrorCode.BAD_PASSPHRASE
    info = store.import_pair("old", legacy, b"secret")
    pub = openssl("pkey", "-in", str(plain), "-pubout")
    assert info.components[0].public_key_pem.encode() == pub
