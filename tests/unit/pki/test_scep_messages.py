"""SCEP messages without I/O: captured micromdm CertReps replayed, requests checked by openssl.

Vectors come from ``tests/vectors/pki/scep/`` (see its README).  PENDING, failInfoText and
RA-signed replies cannot be obtained from micromdm (it never pends, sends no text and has no
RA), so those replies are synthesized here with a test CA key and the same CMS code, and
marked as such.
"""

from __future__ import annotations

import functools
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import core  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import AttributeOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.pki.enroll import _cms, _scep
from agent.pki.enroll.scep import (
    Algorithms,
    CaCerts,
    ContentCipher,
    FailInfo,
    IssuerAndSubject,
    MessageType,
    PkiRequest,
    PkiStatus,
    SystemRandomness,
    build_cert_poll,
    build_pkcs_req,
    make_signer_certificate,
    negotiate,
    parse_ca_caps,
    parse_ca_certs,
    parse_cert_rep,
)
from agent.pki.errors import ErrorCode, PkiError

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "pki" / "scep"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SUBJECT = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "router1.example.net")])


# --- helpers --------------------------------------------------------------------------------


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _cert(
    name: str,
    key: rsa.RSAPrivateKey,
    issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None = None,
    *,
    ca: bool = False,
    usage: str | None = None,
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, signing_key = (issuer[0].subject, issuer[1]) if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if usage:
        flags = dict.fromkeys(
            ["digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"],
            False,
        )  # fmt: skip
        builder = builder.add_extension(x509.KeyUsage(**{**flags, usage: True}), critical=True)
    return builder.sign(signing_key, hashes.SHA256())


def _csr(key: rsa.RSAPrivateKey, challenge: str = "secret") -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(SUBJECT)
    builder = builder.add_attribute(AttributeOID.CHALLENGE_PASSWORD, challenge.encode())
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _spki(key: object) -> bytes:
    assert isinstance(key, rsa.RSAPublicKey)
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _openssl(*args: str, cwd: Path) -> bytes:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


class _Pki:
    """A test CA with two RA certificates and a requester, keys made once per module."""

    def __init__(self) -> None:
        self.ca_key, self.ra_key, self.requester_key = _key(), _key(), _key()
        self.ca = _cert("Test CA", self.ca_key, ca=True)
        issuer = (self.ca, self.ca_key)
        self.ra_sign = _cert("RA sign", self.ra_key, issuer, usage="digital_signature")
        self.ra_encrypt = _cert("RA encrypt", self.ra_key, issuer, usage="key_encipherment")
        self.signer = make_signer_certificate(self.requester_key, SUBJECT, NOW, 0x5CE9)


@pytest.fixture(scope="module")
def pki() -> _Pki:
    return _Pki()


# --- GetCACaps and negotiation --------------------------------------------------------------


def test_caps_ignore_case_and_keep_unknown_keywords() -> None:
    body = b"renewal\r\nsha-256\n\nAES\nPOSTPKIOPERATION\nX-Vendor-Thing\n"
    assert parse_ca_caps(body) == {
        "Renewal",
        "SHA-256",
        "AES",
        "POSTPKIOperation",
        "X-Vendor-Thing",
    }


def test_empty_caps_are_valid() -> None:
    assert parse_ca_caps(b"") == frozenset()


@pytest.mark.parametrize("body", [b"<html><body>It works!</body></html>", b"AES\n\xff\xfe"])
def test_caps_that_are_not_caps_are_refused(body: bytes) -> None:
    with pytest.raises(PkiError) as caught:
        parse_ca_caps(body, "http://ca.example/scep")
    assert caught.value.code is ErrorCode.CA_UNREACHABLE
    assert caught.value.data["detail"] == "bad-response"
    assert "http://ca.example/scep" in caught.value.message


@pytest.mark.parametrize(
    ("caps", "expected"),
    [
        ({"SCEPStandard"}, Algorithms("sha256", ContentCipher.AES128_CBC, post=True)),
        ({"AES", "SHA-256"}, Algorithms("sha256", ContentCipher.AES128_CBC, post=False)),
        ({"POSTPKIOperation", "DES3"}, Algorithms("sha1", ContentCipher.DES3_CBC, post=True)),
        (set(), Algorithms("sha1", ContentCipher.DES3_CBC, post=False)),
    ],
    ids=["SCEPStandard", "AES+SHA-256", "POST-only", "nothing"],
)
def test_negotiate(caps: set[str], expected: Algorithms) -> None:
    assert negotiate(frozenset(caps)) == expected


# --- GetCACert ------------------------------------------------------------------------------


def test_single_der_ca(pki: _Pki) -> None:
    ca_certs = parse_ca_certs(pki.ca.public_bytes(serialization.Encoding.DER))
    assert ca_certs == CaCerts(ca=pki.ca)
    assert ca_certs.recipient is ca_certs.ca
    assert ca_certs.verifiers == (pki.ca,)


def test_ca_and_ra_certificates(pki: _Pki) -> None:
    """RFC 8894 section 2.2: encrypt to the keyEncipherment RA, trust the signing RA."""
    root_key = _key()
    root = _cert("Root", root_key, ca=True)
    bundle = pkcs7.serialize_certificates(
        [pki.ra_sign, root, pki.ca, pki.ra_encrypt], serialization.Encoding.DER
    )
    ca_certs = parse_ca_certs(bundle, "application/x-x509-ca-ra-cert")
    assert ca_certs.ca == pki.ca
    assert set(ca_certs.ra) == {pki.ra_sign, pki.ra_encrypt}
    assert ca_certs.chain == (root,)
    assert ca_certs.recipient == pki.ra_encrypt
    assert ca_certs.verifiers == (pki.ra_sign, pki.ca)


@pytest.mark.parametrize("body", [b"", b"<html>not a cert</html>", b"\x30\x03\x02\x01\x01"])
def test_get_ca_cert_junk(body: bytes) -> None:
    with pytest.raises(PkiError) as caught:
        parse_ca_certs(body, "text/html", "http://ca.example/scep")
    assert caught.value.code is ErrorCode.MALFORMED_CERTIFICATE
    assert "text/html" in caught.value.message


# --- requests, checked by openssl -----------------------------------------------------------


@pytest.mark.parametrize(
    "algorithms",
    [
        Algorithms("sha256", ContentCipher.AES128_CBC, post=True),
        Algorithms("sha1", ContentCipher.DES3_CBC, post=False),
    ],
    ids=["AES-128,SHA-256", "3DES,SHA-1"],
)
def test_pkcs_req_opens_with_openssl(pki: _Pki, algorithms: Algorithms, tmp_path: Path) -> None:
    """openssl checks the signature and signed attributes, then decrypts our CSR back."""
    csr = _csr(pki.requester_key)
    request = build_pkcs_req(
        csr, pki.requester_key, pki.signer, CaCerts(pki.ca), algorithms, SystemRandomness()
    )
    assert request.message_type is MessageType.PKCS_REQ
    (tmp_path / "req.der").write_bytes(request.der)
    (tmp_path / "ca.pem").write_bytes(_pem(pki.ca))
    (tmp_path / "ca.key").write_bytes(
        pki.ca_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    _openssl("cms", "-verify", "-noverify", "-binary", "-inform", "DER", "-in", "req.der",
             "-out", "env.der", cwd=tmp_path)  # fmt: skip
    _openssl("cms", "-decrypt", "-binary", "-inform", "DER", "-in", "env.der",
             "-recip", "ca.pem", "-inkey", "ca.key", "-out", "csr.der", cwd=tmp_path)  # fmt: skip
    assert (tmp_path / "csr.der").read_bytes() == csr
    printed = _openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", "req.der", cwd=tmp_path)
    assert request.transaction_id.encode() in printed.replace(b"\n", b"")
    expected = b"aes-128-cbc" if algorithms.cipher is ContentCipher.AES128_CBC else b"des-ede3-cbc"
    assert expected in _openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", "env.der",
                                cwd=tmp_path)  # fmt: skip


def test_cert_poll_carries_issuer_and_subject(pki: _Pki, tmp_path: Path) -> None:
    target = IssuerAndSubject(issuer=pki.ca.subject, subject=SUBJECT)
    algorithms = Algorithms("sha256", ContentCipher.AES128_CBC, post=True)
    request = build_cert_poll(
        "ABC123", target, pki.requester_key, pki.signer, CaCerts(pki.ca), algorithms,
        SystemRandomness(),
    )  # fmt: skip
    assert request.message_type is MessageType.CERT_POLL
    envelope = _cms.verify(request.der, [pki.signer]).content
    payload = _cms.decrypt(envelope, pki.ca, pki.ca_key)
    assert payload[0] == 0x30
    assert payload.endswith(pki.ca.subject.public_bytes() + SUBJECT.public_bytes())


def test_non_rsa_requester_is_refused(pki: _Pki) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder().subject_name(SUBJECT).sign(ec_key, hashes.SHA256())
    )
    with pytest.raises(PkiError) as caught:
        build_pkcs_req(
            csr.public_bytes(serialization.Encoding.DER), pki.requester_key, pki.signer,
            CaCerts(pki.ca), negotiate(frozenset()), SystemRandomness(),
        )  # fmt: skip
    assert caught.value.code is ErrorCode.UNSUPPORTED_KEY_PARAMETERS


# --- captured micromdm CertReps -------------------------------------------------------------


class _Vector:
    def __init__(self, name: str) -> None:
        facts: dict[str, Any] = json.loads((VECTORS / "exchanges.json").read_text())
        self.subject = facts["subject"]
        exchange = facts[name]
        self.reply = (VECTORS / f"{name}-reply.der").read_bytes()
        self.ca = x509.load_pem_x509_certificate((VECTORS / "ca.pem").read_bytes())
        self.signer = x509.load_pem_x509_certificate((VECTORS / "signer.pem").read_bytes())
        key = serialization.load_pem_private_key((VECTORS / "requester-key.pem").read_bytes(), None)
        assert isinstance(key, rsa.RSAPrivateKey)
        self.key = key
        self.request = PkiRequest(
            der=(VECTORS / f"{name}-request.der").read_bytes(),
            message_type=MessageType.PKCS_REQ,
            transaction_id=exchange["transaction_id"],
            sender_nonce=bytes.fromhex(exchange["sender_nonce"]),
            algorithms=Algorithms(
                exchange["digest"], ContentCipher(exchange["cipher"]), exchange["post"]
            ),
        )

    def parse(self, reply: bytes | None = None, **changes: Any) -> Any:
        request = PkiRequest(**{**self.request.__dict__, **changes})
        ca_certs = changes.pop("ca_certs", None) or CaCerts(self.ca)
        return parse_cert_rep(
            self.reply if reply is None else reply,
            request, self.key, self.signer, ca_certs, self.key.public_key(),
        )  # fmt: skip


@functools.cache
def _vector(name: str) -> _Vector:
    """Loading the requester key is slow (RSA key checks): once per vector and module."""
    return _Vector(name)


def test_vector_success() -> None:
    vector = _vector("success")
    result = vector.parse()
    assert result.status is PkiStatus.SUCCESS
    assert result.transaction_id == vector.request.transaction_id
    cert = result.certificate
    assert cert is not None
    assert cert.subject.rfc4514_string() == vector.subject
    assert _spki(cert.public_key()) == _spki(vector.key.public_key())
    cert.verify_directly_issued_by(vector.ca)
    assert result.error is None


def test_vector_failure() -> None:
    result = _vector("failure").parse()
    assert result.status is PkiStatus.FAILURE
    assert result.fail_info is FailInfo.BAD_REQUEST
    assert result.detail == "badRequest"
    error = result.error
    assert error is not None
    assert error.code is ErrorCode.CA_REJECTED
    assert error.data["fail-info"] == "badRequest"
    assert "challenge password" in error.message


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"sender_nonce": b"\x00" * 16}, "recipientNonce"),
        ({"transaction_id": "SOMEONE-ELSE"}, "transactionID"),
    ],
    ids=["nonce", "transaction"],
)
def test_vector_reply_must_echo_the_request(change: dict[str, Any], complaint: str) -> None:
    with pytest.raises(PkiError) as caught:
        _vector("success").parse(**change)
    assert caught.value.code is ErrorCode.CA_UNREACHABLE
    assert caught.value.data["detail"] == "bad-response"
    assert complaint in caught.value.message


def test_vector_reply_from_another_ca_is_refused(pki: _Pki) -> None:
    vector = _vector("success")
    with pytest.raises(PkiError) as caught:
        parse_cert_rep(
            vector.reply, vector.request, vector.key, vector.signer, CaCerts(pki.ca),
            vector.key.public_key(),
        )  # fmt: skip
    assert "neither the CA's nor an RA's" in caught.value.message


def test_vector_damaged_replies_fail_cleanly() -> None:
    """Damaged CertReps raise PkiError and nothing else (h11's invariant for its parser).

    A flip outside what the signature covers (the unsigned certificates set, the outer
    digestAlgorithms) may still parse; then the answer must be exactly the undamaged one.
    """
    vector = _vector("success")
    expected = vector.parse()
    damaged = [vector.reply[:cut] for cut in range(0, len(vector.reply), 97)]
    for offset in range(0, len(vector.reply), 23):
        mutated = bytearray(vector.reply)
        mutated[offset] ^= 0x41
        damaged.append(bytes(mutated))
    refused = 0
    for reply in damaged:
        try:
            result = vector.parse(reply)
        except PkiError as exc:
            assert exc.code is ErrorCode.CA_UNREACHABLE
            refused += 1
        else:
            assert result == expected
    assert refused > len(damaged) // 2


# --- synthesized CertReps (what micromdm never sends) ---------------------------------------


def _cert_rep(
    request: PkiRequest,
    status: str,
    key: rsa.RSAPrivateKey,
    cert: x509.Certificate,
    content: bytes = b"",
    extra: tuple[tuple[str, core.Asn1Value], ...] = (),
) -> bytes:
    attributes = [
        (_scep._OID_TRANSACTION_ID, core.PrintableString(request.transaction_id)),
        (_scep._OID_MESSAGE_TYPE, core.PrintableString(MessageType.CERT_REP.value)),
        (_scep._OID_PKI_STATUS, core.PrintableString(status)),
        (_scep._OID_RECIPIENT_NONCE, core.OctetString(request.sender_nonce)),
        (_scep._OID_SENDER_NONCE, core.OctetString(b"\x01" * 16)),
        *extra,
    ]
    return _cms.sign(content, attributes, key, cert, "sha256")


def _request(pki: _Pki) -> PkiRequest:
    return build_pkcs_req(
        _csr(pki.requester_key), pki.requester_key, pki.signer, CaCerts(pki.ca),
        negotiate(frozenset({"SCEPStandard"})), SystemRandomness(),
    )  # fmt: skip


def _parse(pki: _Pki, reply: bytes, request: PkiRequest, ca_certs: CaCerts) -> Any:
    return parse_cert_rep(
        reply, request, pki.requester_key, pki.signer, ca_certs, pki.requester_key.public_key()
    )


def test_synthesized_pending(pki: _Pki) -> None:
    request = _request(pki)
    reply = _cert_rep(request, "3", pki.ca_key, pki.ca)
    result = _parse(pki, reply, request, CaCerts(pki.ca))
    assert result.status is PkiStatus.PENDING
    assert result.transaction_id == request.transaction_id
    assert result.certificate is None and result.error is None


@pytest.mark.parametrize(
    ("fail_info", "text", "expected_info", "expected_detail"),
    [
        ("3", "clock\x00 off by 2 h", FailInfo.BAD_TIME, "badTime: clock  off by 2 h"),
        ("9", None, None, "failInfo 9"),
    ],
    ids=["badTime-with-text", "unknown-failInfo"],
)
def test_synthesized_failure(
    pki: _Pki,
    fail_info: str,
    text: str | None,
    expected_info: FailInfo | None,
    expected_detail: str,
) -> None:
    request = _request(pki)
    extra = [(_scep._OID_FAIL_INFO, core.PrintableString(fail_info))]
    if text is not None:
        extra.append((_scep._OID_FAIL_INFO_TEXT, core.UTF8String(text)))
    reply = _cert_rep(request, "2", pki.ca_key, pki.ca, extra=tuple(extra))
    result = _parse(pki, reply, request, CaCerts(pki.ca))
    assert (result.status, result.fail_info, result.detail) == (
        PkiStatus.FAILURE, expected_info, expected_detail,
    )  # fmt: skip
    assert result.error is not None and result.error.code is ErrorCode.CA_REJECTED


def test_synthesized_success_signed_by_ra(pki: _Pki) -> None:
    """With RA certificates the reply is signed by the RA; the issued cert comes with a chain."""
    request = _request(pki)
    issued = _cert("router1.example.net", pki.requester_key, (pki.ca, pki.ca_key))
    degenerate = pkcs7.serialize_certificates([pki.ca, issued], serialization.Encoding.DER)
    envelope = _cms.envelope(
        degenerate, pki.signer, ContentCipher.AES128_CBC, SystemRandomness().token_bytes
    )
    reply = _cert_rep(request, "0", pki.ra_key, pki.ra_sign, content=envelope)
    with_ra = CaCerts(ca=pki.ca, ra=(pki.ra_sign, pki.ra_encrypt))
    result = _parse(pki, reply, request, with_ra)
    assert result.status is PkiStatus.SUCCESS
    assert result.certificate == issued
    assert result.extra_certificates == (pki.ca,)
    with pytest.raises(PkiError):  # the CA alone does not know the RA's signature
        _parse(pki, reply, request, CaCerts(pki.ca))


def test_success_without_our_certificate_is_refused(pki: _Pki) -> None:
    request = _request(pki)
    degenerate = pkcs7.serialize_certificates([pki.ca], serialization.Encoding.DER)
    envelope = _cms.envelope(
        degenerate, pki.signer, ContentCipher.DES3_CBC, SystemRandomness().token_bytes
    )
    reply = _cert_rep(request, "0", pki.ca_key, pki.ca, content=envelope)
    with pytest.raises(PkiError) as caught:
        _parse(pki, reply, request, CaCerts(pki.ca))
    assert "none of the 1 certificates returned is for our key" in caught.value.message


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_as_cert_rep_raise_pki_error(reply: bytes) -> None:
    with pytest.raises(PkiError):
        _vector("success").parse(reply)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_as_get_ca_cert_raise_pki_error_or_parse(body: bytes) -> None:
    try:
        parse_ca_certs(body)
    except PkiError as exc:
        assert exc.code is ErrorCode.MALFORMED_CERTIFICATE
