"""SCEP client against the real micromdm CA (Debian package ``scep``), no mocks of the CA.

The sans-I/O message tests and the replays of captured CertReps live in
``test_scep_messages.py``.  Here every exchange crosses HTTP on 127.0.0.1: to scepserver, to
a closed port, or to a plain Python HTTP server that is not a SCEP CA at all.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AttributeOID, NameOID

from agent.clock import FakeClock
from agent.pki.enroll.scep import (
    CaCerts,
    FailInfo,
    PkiStatus,
    ScepClient,
    issuer_and_subject,
    transaction_id_for,
)
from agent.pki.enroll.transport import UrllibTransport
from agent.pki.errors import ErrorCode, PkiError
from tests.unit.pki.helpers import serving
from tests.unit.pki.scep_server import CHALLENGE, ScepServer, free_port, start_scep_server

SUBJECT = x509.Name(
    [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "netconf-pki-agent"),
        x509.NameAttribute(NameOID.COMMON_NAME, "router1.example.net"),
    ]
)
MICROMDM_CAPS = {"Renewal", "SHA-1", "SHA-256", "AES", "DES3", "SCEPStandard", "POSTPKIOperation"}


def _openssl(*args: str) -> str:
    done = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _csr(key: rsa.RSAPrivateKey, challenge: str, subject: x509.Name = SUBJECT) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    builder = builder.add_attribute(AttributeOID.CHALLENGE_PASSWORD, challenge.encode())
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _spki(key: object) -> bytes:
    assert isinstance(key, rsa.RSAPublicKey)
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _client(url: str, transport: UrllibTransport | None = None) -> ScepClient:
    return ScepClient(url, transport or UrllibTransport(), clock=FakeClock(), timeout=5.0)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScepServer]:
    running = start_scep_server(tmp_path_factory.mktemp("scep"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def ca_certs(server: ScepServer) -> CaCerts:
    return _client(server.url).get_ca_certs()


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# --- GetCACaps, GetCACert -------------------------------------------------------------------


def test_get_ca_caps(server: ScepServer) -> None:
    assert _client(server.url).get_ca_caps() == MICROMDM_CAPS


def test_get_ca_cert_is_the_depot_ca(server: ScepServer, ca_certs: CaCerts) -> None:
    out = _openssl("x509", "-in", str(server.ca_pem), "-noout", "-fingerprint", "-sha256")
    expected = out.strip().split("=", 1)[1].replace(":", "").lower()
    assert ca_certs.ca.fingerprint(hashes.SHA256()).hex() == expected
    assert ca_certs.ra == ()
    assert ca_certs.recipient is ca_certs.ca


# --- PKCSReq --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "caps",
    [
        pytest.param(None, id="as-offered:AES-128,SHA-256,POST"),
        pytest.param(frozenset({"DES3", "SHA-1"}), id="fallback:3DES,SHA-1,GET"),
        pytest.param(frozenset({"AES", "SHA-256"}), id="AES-128,SHA-256,GET"),
        pytest.param(frozenset(), id="no-caps:3DES,SHA-1,GET"),
    ],
)
def test_enroll_issues_certificate(
    server: ScepServer,
    ca_certs: CaCerts,
    key: rsa.RSAPrivateKey,
    caps: frozenset[str] | None,
    tmp_path: Path,
) -> None:
    client = _client(server.url)
    offered = client.get_ca_caps() if caps is None else caps
    result = client.enroll(_csr(key, CHALLENGE), key, ca_certs, offered)
    assert result.status is PkiStatus.SUCCESS, result.error
    assert result.transaction_id == transaction_id_for(key.public_key())
    cert = result.certificate
    assert cert is not None
    assert cert.subject == SUBJECT
    assert _spki(cert.public_key()) == _spki(key.public_key())
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    assert _openssl("verify", "-CAfile", str(server.ca_pem), str(leaf)).strip().endswith("OK")


def test_wrong_challenge_is_a_failure_answer(
    server: ScepServer, ca_certs: CaCerts, key: rsa.RSAPrivateKey
) -> None:
    client = _client(server.url)
    result = client.enroll(_csr(key, "not-the-challenge"), key, ca_certs, MICROMDM_CAPS)
    assert result.status is PkiStatus.FAILURE
    assert result.certificate is None
    assert result.fail_info is FailInfo.BAD_REQUEST
    error = result.error
    assert error is not None
    assert error.code is ErrorCode.CA_REJECTED
    assert error.data["fail-info"] == "badRequest"
    assert "not-the-challenge" not in f"{error.message} {result.detail}"


def test_usage_keys_two_keys_two_certificates(server: ScepServer, ca_certs: CaCerts) -> None:
    """A signature and an encryption key pair with one subject, as XR usage-keys enrolls."""
    client = _client(server.url)
    caps = client.get_ca_caps()
    keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2)]
    certs = []
    for each in keys:
        result = client.enroll(_csr(each, CHALLENGE), each, ca_certs, caps)
        assert result.status is PkiStatus.SUCCESS, result.error
        assert result.certificate is not None
        assert _spki(result.certificate.public_key()) == _spki(each.public_key())
        certs.append(result.certificate)
    assert certs[0].serial_number != certs[1].serial_number
    assert certs[0].subject == certs[1].subject == SUBJECT


def test_cert_poll_reaches_micromdm(
    server: ScepServer, ca_certs: CaCerts, key: rsa.RSAPrivateKey
) -> None:
    """micromdm 2.1.0 verifies a CertPoll's signature, then answers 'not implemented'.

    Its ParsePKIMessage checks the SignedData before it looks at messageType, so this text
    (rather than a pkcs7 error) shows our CertPoll is well formed; the reply is HTTP 500.
    """
    target = issuer_and_subject(_csr(key, CHALLENGE), ca_certs)
    tid = transaction_id_for(key.public_key())
    with pytest.raises(PkiError) as caught:
        _client(server.url).poll(tid, target, key, ca_certs, MICROMDM_CAPS)
    assert caught.value.code is ErrorCode.CA_UNREACHABLE
    assert "HTTP 500" in caught.value.message
    assert "not implemented" in caught.value.message


# --- servers that are not a working SCEP CA -------------------------------------------------


def test_closed_port_is_ca_unreachable(ca_certs: CaCerts, key: rsa.RSAPrivateKey) -> None:
    url = f"http://127.0.0.1:{free_port()}/scep"
    client = _client(url)
    for call in (
        client.get_ca_caps,
        client.get_ca_certs,
        lambda: client.enroll(_csr(key, CHALLENGE), key, ca_certs, MICROMDM_CAPS),
    ):
        with pytest.raises(PkiError) as caught:
            call()
        assert caught.value.code is ErrorCode.CA_UNREACHABLE
        assert url in caught.value.message
        assert "refused" in caught.value.message.lower()


class _NotScep(BaseHTTPRequestHandler):
    """Answers like a web server that is no SCEP CA; a few paths misbehave on purpose."""

    def _answer(self) -> None:
        if self.path.startswith("/missing"):
            self._send(404, b"no such page")
        elif self.path.startswith("/echo"):
            self._send(500, f"bad request with challenge {CHALLENGE}".encode())
        elif self.path.startswith("/huge"):
            self._send(200, b"x" * 4096)
        elif self.path.startswith("/redirect-"):
            target = {"file": "file:///etc/passwd", "ftp": "ftp://127.0.0.1/ca.cer"}
            self.send_response(302)
            self.send_header("Location", target[self.path.split("-", 1)[1].split("?")[0]])
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send(200, b"<html><body>It works!</body></html>", "text/html")

    def _send(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._answer()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def not_scep() -> Iterator[str]:
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), _NotScep)) as httpd:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"


def test_web_server_is_not_a_scep_ca(
    not_scep: str, ca_certs: CaCerts, key: rsa.RSAPrivateKey
) -> None:
    client = _client(f"{not_scep}/scep")
    with pytest.raises(PkiError) as caps_error:
        client.get_ca_caps()
    assert caps_error.value.code is ErrorCode.CA_UNREACHABLE
    assert caps_error.value.data["detail"] == "bad-response"
    with pytest.raises(PkiError) as cert_error:
        client.get_ca_certs()
    assert cert_error.value.code is ErrorCode.MALFORMED_CERTIFICATE
    assert "text/html" in cert_error.value.message
    with pytest.raises(PkiError) as enroll_error:
        client.enroll(_csr(key, CHALLENGE), key, ca_certs, MICROMDM_CAPS)
    assert enroll_error.value.code is ErrorCode.CA_UNREACHABLE
    assert enroll_error.value.data["detail"] == "bad-response"
    assert "malformed CertRep" in enroll_error.value.message


def test_http_error_status_is_ca_unreachable(not_scep: str) -> None:
    with pytest.raises(PkiError) as caught:
        _client(f"{not_scep}/missing").get_ca_caps()
    assert caught.value.code is ErrorCode.CA_UNREACHABLE
    assert caught.value.data["http-status"] == 404
    assert "HTTP 404: no such page" in caught.value.message


def test_server_text_is_scrubbed_of_the_challenge(
    not_scep: str, ca_certs: CaCerts, key: rsa.RSAPrivateKey
) -> None:
    with pytest.raises(PkiError) as caught:
        _client(f"{not_scep}/echo").enroll(_csr(key, CHALLENGE), key, ca_certs, MICROMDM_CAPS)
    assert "HTTP 500" in caught.value.message
    assert CHALLENGE not in caught.value.message
    assert "***" in caught.value.message


def test_oversized_answer_is_refused(not_scep: str) -> None:
    transport = UrllibTransport(max_response_bytes=1024)
    with pytest.raises(PkiError) as caught:
        _client(f"{not_scep}/huge", transport).get_ca_caps()
    assert caught.value.code is ErrorCode.CA_UNREACHABLE
    assert "larger than 1024 bytes" in caught.value.message


@pytest.mark.parametrize(
    ("scheme", "expected"),
    [("file", "HTTP 302"), ("ftp", "refused redirect to 'ftp://127.0.0.1/ca.cer'")],
)
def test_redirect_off_http_is_not_followed(not_scep: str, scheme: str, expected: str) -> None:
    """urllib itself refuses file:; our handler also refuses ftp:, which urllib would follow."""
    with pytest.raises(PkiError) as caught:
        _client(f"{not_scep}/redirect-{scheme}").get_ca_caps()
    assert caught.value.code is ErrorCode.CA_UNREACHABLE
    assert expected in caught.value.message


def test_only_http_urls(tmp_path: Path) -> None:
    with pytest.raises(PkiError) as caught:
        _client(f"file://{tmp_path}/scep").get_ca_caps()
    assert "only http and https" in caught.value.message
