"""Certificate loaders and the Certificate value: fields, bundles, issuer and validity checks."""

from __future__ import annotations

import hashlib
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.pki import (
    Certificate,
    ErrorCode,
    KeyAlgorithm,
    KeyStore,
    PkiError,
    ValidityStatus,
    load_certificate,
    load_certificates,
)
from tests.unit.pki.helpers import (
    DAY,
    NOW,
    der,
    make_cert,
    name,
    openssl,
    pem,
    rsa_key,
)


class Pki:
    """A root CA (RSA) and a leaf (P-256) it issued, made once for the module."""

    def __init__(self) -> None:
        self.ca_key = rsa_key(2048)
        self.ca_name = name("Root coax-u10 Certificate Manager", o="Cisco Systems")
        self.ca = make_cert(
            self.ca_name,
            self.ca_key.public_key(),
            self.ca_key,
            is_ca=True,
            serial=1,
            not_after=NOW + 3650 * DAY,
        )
        self.leaf_key = ec.generate_private_key(ec.SECP256R1())
        self.leaf = make_cert(
            x509.Name(
                [
                    x509.NameAttribute(x509.NameOID.UNSTRUCTURED_NAME, "myrouter.mydomain.com"),
                    x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, "Cisco Systems"),
                ]
            ),
            self.leaf_key.public_key(),
            self.ca_key,
            issuer=self.ca_name,
            serial=0x00F1E2D3C4B5A69788,
            san=[
                x509.DNSName("myrouter.mydomain.com"),
                x509.IPAddress(ipaddress.ip_address("192.0.2.1")),
                x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
                x509.RFC822Name("noc@mydomain.com"),
                x509.UniformResourceIdentifier("https://mydomain.com/"),
            ],
            crl_urls=["http://ca.example.com/root.crl", "ldap://coax-u10.cisco.com/CN=Root"],
            server_auth=True,
        )


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


# -- the Certificate value ---------------------------------------------------------------


def test_fields_of_a_leaf(pki: Pki) -> None:
    cert = load_certificate(pem(pki.leaf))
    data = der(pki.leaf)
    assert cert.subject == "O=Cisco Systems,unstructuredName=myrouter.mydomain.com"
    assert cert.issuer == "O=Cisco Systems,CN=Root coax-u10 Certificate Manager"
    assert cert.serial_number == "F1:E2:D3:C4:B5:A6:97:88"
    assert (cert.not_before, cert.not_after) == (NOW - DAY, NOW + 365 * DAY)
    assert cert.not_before.tzinfo is not None
    assert cert.sha1_fingerprint == ":".join(f"{b:02X}" for b in hashlib.sha1(data).digest())
    assert cert.sha256_fingerprint == ":".join(f"{b:02X}" for b in hashlib.sha256(data).digest())
    assert (cert.public_key_algorithm, cert.key_size) == (KeyAlgorithm.ECDSA_P256, 256)
    assert cert.signature_algorithm == "sha256WithRSAEncryption"
    assert cert.subject_alt_names == (
        "DNS:myrouter.mydomain.com",
        "IP:192.0.2.1",
        "IP:2001:db8::1",
        "email:noc@mydomain.com",
        "URI:https://mydomain.com/",
    )
    assert cert.crl_distribution_points == (
        "http://ca.example.com/root.crl",
        "ldap://coax-u10.cisco.com/CN=Root",
    )
    assert cert.key_usage == ()
    assert cert.extended_key_usage == ("serverAuth",)
    assert not cert.is_ca and not cert.is_self_issued
    assert cert.der == data
    assert cert.pem.encode() == pem(pki.leaf)


def test_fields_of_a_ca(pki: Pki) -> None:
    cert = load_certificate(der(pki.ca))
    assert cert.is_ca and cert.is_self_issued
    assert cert.serial_number == "01"
    assert cert.key_usage == ("digitalSignature", "keyCertSign", "cRLSign")
    assert (cert.public_key_algorithm, cert.key_size) == (KeyAlgorithm.RSA, 2048)


def test_repr_is_short(pki: Pki) -> None:
    text = repr(load_certificate(der(pki.leaf)))
    assert "sha256_fingerprint" in text and "BEGIN" not in text and "der=" not in text


@pytest.mark.parametrize(
    ("key", "algorithm", "size", "signature"),
    [
        (ec.generate_private_key(ec.SECP384R1()), KeyAlgorithm.ECDSA_P384, 384, None),
        (ec.generate_private_key(ec.SECP521R1()), KeyAlgorithm.ECDSA, 521, None),
        (ed25519.Ed25519PrivateKey.generate(), KeyAlgorithm.ED25519, 256, "ED25519"),
        (ed448.Ed448PrivateKey.generate(), None, 456, "ED448"),
    ],
    ids=["p384", "p521", "ed25519", "ed448"],
)
def test_key_algorithms(
    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey,
    algorithm: KeyAlgorithm | None,
    size: int,
    signature: str | None,
) -> None:
    cert = load_certificate(der(make_cert(name("k"), key.public_key(), key)))
    assert (cert.public_key_algorithm, cert.key_size) == (algorithm, size)
    if signature:
        assert cert.signature_algorithm == signature
    assert cert.is_issued_by(cert)


def test_matches_public_key_of_a_stored_key(store: KeyStore, pki: Pki) -> None:
    info = store.generate("device", KeyAlgorithm.ECDSA_P256)
    public = store.private_key("device").public_key()
    cert = load_certificate(der(make_cert(name("device"), public, pki.ca_key, issuer=pki.ca_name)))
    assert cert.matches_public_key(info.components[0].public_key_der)
    assert not load_certificate(der(pki.leaf)).matches_public_key(info.components[0].public_key_der)


def test_is_issued_by(pki: Pki) -> None:
    ca = load_certificate(der(pki.ca))
    leaf = load_certificate(der(pki.leaf))
    assert leaf.is_issued_by(ca)
    assert ca.is_issued_by(ca)
    assert not ca.is_issued_by(leaf)
    assert not leaf.is_issued_by(leaf)
    impostor_key = rsa_key(2048)
    impostor = load_certificate(
        der(make_cert(pki.ca_name, impostor_key.public_key(), impostor_key, is_ca=True))
    )
    assert impostor.subject == ca.subject
    assert not leaf.is_issued_by(impostor)


def test_status_at(pki: Pki) -> None:
    key = pki.leaf_key
    expired = load_certificate(
        der(
            make_cert(
                name("old"),
                key.public_key(),
                pki.ca_key,
                issuer=pki.ca_name,
                not_before=NOW - 30 * DAY,
                not_after=NOW - DAY,
            )
        )
    )
    future = load_certificate(
        der(
            make_cert(
                name("new"),
                key.public_key(),
                pki.ca_key,
                issuer=pki.ca_name,
                not_before=NOW + DAY,
                not_after=NOW + 30 * DAY,
            )
        )
    )
    current = load_certificate(der(pki.leaf))
    assert expired.status_at(NOW) is ValidityStatus.EXPIRED
    assert future.status_at(NOW) is ValidityStatus.NOT_YET_VALID
    assert current.status_at(NOW) is ValidityStatus.VALID
    assert current.status_at(current.not_before) is ValidityStatus.VALID
    assert current.status_at(current.not_after) is ValidityStatus.VALID
    assert future.status_at(NOW + 2 * DAY) == "valid"
    with pytest.raises(ValueError):
        current.status_at(NOW.replace(tzinfo=None))


# -- loaders ------------------------------------------------------------------------------


def test_load_certificate_pem_with_surrounding_text(pki: Pki) -> None:
    text = b"Certificate:\n    Data: ...\n" + pem(pki.ca) + b"\ntrailing words\n"
    assert load_certificate(text).der == der(pki.ca)


def test_load_certificate_crlf_pem(pki: Pki) -> None:
    assert load_certificate(pem(pki.ca).replace(b"\n", b"\r\n")).der == der(pki.ca)


@pytest.mark.parametrize(
    "make",
    [
        lambda p: b"",
        lambda p: b"   \n",
        lambda p: b"garbage",
        lambda p: der(p.ca)[:-1],
        lambda p: der(p.ca)[: len(der(p.ca)) // 2],
        lambda p: der(p.ca) + b"\x00",
        lambda p: pem(p.ca)[:-30],
        lambda p: pem(p.ca).replace(b"M", b"!", 1),
        lambda p: pem(p.ca) + pem(p.leaf),
        lambda p: b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        lambda p: pem(p.ca).replace(b"CERTIFICATE", b"PUBLIC KEY"),
    ],
    ids=[
        "empty",
        "blank",
        "text",
        "der-short-1",
        "der-half",
        "der-trailing",
        "pem-truncated",
        "pem-bad-base64",
        "two-certs",
        "pem-junk",
        "wrong-label",
    ],
)
def test_load_certificate_refuses(pki: Pki, make: object) -> None:
    assert callable(make)
    with pytest.raises(PkiError) as caught:
        load_certificate(make(pki))
    assert caught.value.code is ErrorCode.MALFORMED_CERTIFICATE


def test_size_limits(pki: Pki) -> None:
    huge = pem(pki.ca) + b" " * (1 << 20)
    with pytest.raises(PkiError) as caught:
        load_certificate(huge)
    assert "1 MiB" in str(caught.value)
    assert len(load_certificates(huge)) == 1
    with pytest.raises(PkiError):
        load_certificates(pem(pki.ca) + b" " * (4 << 20))


def test_load_certificates_concatenated_pem(pki: Pki) -> None:
    bundle = pem(pki.leaf) + b"\n# comment\n" + pem(pki.ca)
    assert [c.der for c in load_certificates(bundle)] == [der(pki.leaf), der(pki.ca)]


def test_load_certificates_single_der(pki: Pki) -> None:
    assert [c.der for c in load_certificates(der(pki.ca))] == [der(pki.ca)]


@pytest.mark.parametrize("encoding", [Encoding.DER, Encoding.PEM], ids=["der", "pem"])
def test_load_certificates_pkcs7(pki: Pki, encoding: Encoding) -> None:
    bundle = pkcs7.serialize_certificates([pki.ca, pki.leaf], encoding)
    assert {c.der for c in load_certificates(bundle)} == {der(pki.ca), der(pki.leaf)}


@pytest.mark.parametrize("form", ["DER", "PEM"])
def test_load_certificates_pkcs7_from_openssl(pki: Pki, tmp_path: Path, form: str) -> None:
    (tmp_path / "ca.pem").write_bytes(pem(pki.ca))
    (tmp_path / "leaf.pem").write_bytes(pem(pki.leaf))
    bundle = openssl(
        "crl2pkcs7",
        "-nocrl",
        "-certfile",
        str(tmp_path / "ca.pem"),
        "-certfile",
        str(tmp_path / "leaf.pem"),
        "-outform",
        form,
    )
    certs = load_certificates(bundle)
    assert [c.der for c in certs] == [der(pki.ca), der(pki.leaf)]


@pytest.mark.parametrize(
    "make",
    [
        lambda p: b"garbage",
        lambda p: pkcs7.serialize_certificates([p.ca], Encoding.DER)[:-20],
        lambda p: b"-----BEGIN PKCS7-----\nMAA=\n-----END PKCS7-----\n",
        lambda p: b"-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n",
        lambda p: pem(p.ca)[:-30],
        lambda p: pem(p.ca) + pem(p.leaf).replace(b"M", b"*", 1),
    ],
    ids=[
        "text",
        "pkcs7-truncated",
        "pkcs7-junk",
        "no-certificate",
        "pem-truncated",
        "one-bad-of-two",
    ],
)
def test_load_certificates_refuses(pki: Pki, make: object) -> None:
    assert callable(make)
    with pytest.raises(PkiError) as caught:
        load_certificates(make(pki))
    assert caught.value.code is ErrorCode.MALFORMED_CERTIFICATE


@settings(max_examples=200, deadline=None)
@given(
    position=st.integers(min_value=0),
    value=st.integers(min_value=0, max_value=255),
    cut=st.integers(min_value=0, max_value=2000),
)
def test_mutated_der_parses_or_fails_cleanly(position: int, value: int, cut: int) -> None:
    """Any corruption of a valid certificate gives a Certificate or malformed-certificate."""
    data = bytearray(_FUZZ_BASE)
    data[position % len(data)] = value
    try:
        result = load_certificate(bytes(data[: len(data) - cut % len(data)]))
    except PkiError as exc:
        assert exc.code is ErrorCode.MALFORMED_CERTIFICATE
    else:
        assert isinstance(result, Certificate)


@given(st.binary(max_size=512))
def test_random_bytes_never_crash_the_loaders(data: bytes) -> None:
    for loader in (load_certificate, load_certificates):
        try:
            loader(data)
        except PkiError as exc:
            assert exc.code is ErrorCode.MALFORMED_CERTIFICATE


def _fuzz_base() -> bytes:
    key = rsa.generate_private_key(65537, 1024)
    cert = make_cert(
        name("fuzz"),
        key.public_key(),
        key,
        is_ca=True,
        san=[x509.DNSName("a.example")],
        crl_urls=["http://x/y.crl"],
    )
    return der(cert)


_FUZZ_BASE = _fuzz_base()
