"""A MINIMAL SCEP responder written for the PENDING tests only (issue 3 allows this one path
to use one: micromdm's scepserver has no manual approval mode, so it never answers PENDING).

It is not a CA: it serves GetCACaps and GetCACert for its own throw-away test CA, and answers
every PKIOperation (PKCSReq or CertPoll) with a CertRep PENDING until the test sets
``approved``; then it issues a certificate for the request's key, signed by its CA.  The
CertReps are built with the same helpers the message tests use (``_cert_rep``) and the
project's own CMS code, so nothing here is a second SCEP implementation.  It listens on
127.0.0.1 on a free port and records the message type of each PKIOperation it receives.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from asn1crypto import cms  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from agent.pki.enroll import _cms, _scep
from agent.pki.enroll._cms import ContentCipher
from agent.pki.enroll.scep import MessageType, PkiRequest, SystemRandomness, negotiate
from tests.unit.pki.helpers import NOW, serving
from tests.unit.pki.test_scep_messages import _cert, _cert_rep

CAPS = b"POSTPKIOperation\nSHA-256\nAES\nSCEPStandard\n"


class PendingCa:
    """The responder's state: its CA, the approval flag, what it was asked."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.cert = _cert("Pending Test CA", self.key, ca=True)
        self.approved = False
        self.requests: list[str] = []  # messageType of each PKIOperation, in order
        self._csrs: dict[str, x509.CertificateSigningRequest] = {}
        self._lock = threading.Lock()
        self.url = ""

    def answer(self, der: bytes) -> bytes:
        """The CertRep for one pkiMessage."""
        signer = _carried_certificate(der)
        message = _cms.verify(der, [signer])
        kind = str(message.attributes[_scep._OID_MESSAGE_TYPE].native)
        tx = str(message.attributes[_scep._OID_TRANSACTION_ID].native)
        nonce = bytes(message.attributes[_scep._OID_SENDER_NONCE].native)
        with self._lock:
            self.requests.append(kind)
            if kind == MessageType.PKCS_REQ.value:
                plain = _cms.decrypt(message.content, self.cert, self.key)
                self._csrs[tx] = x509.load_der_x509_csr(plain)
            approved, csr = self.approved, self._csrs.get(tx)
        echo = PkiRequest(b"", MessageType(kind), tx, nonce, negotiate(frozenset()))
        if not approved or csr is None:
            return _cert_rep(echo, "3", self.key, self.cert)
        issued = self._issue(csr)
        degenerate = pkcs7.serialize_certificates([issued], serialization.Encoding.DER)
        envelope = _cms.envelope(
            degenerate, signer, ContentCipher.AES128_CBC, SystemRandomness().token_bytes
        )
        return _cert_rep(echo, "0", self.key, self.cert, content=envelope)

    def _issue(self, csr: x509.CertificateSigningRequest) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.cert.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - timedelta(days=1))
            .not_valid_after(NOW + timedelta(days=365))
            .sign(self.key, hashes.SHA256())
        )


def _carried_certificate(der: bytes) -> x509.Certificate:
    """The requester's (self-signed) certificate carried in its SignedData."""
    signed = cms.ContentInfo.load(der)["content"]
    return x509.load_der_x509_certificate(signed["certificates"][0].chosen.dump())


def _handler(ca: PendingCa) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlparse(self.path).query)
            operation = query.get("operation", [""])[0]
            if operation == "GetCACaps":
                self._reply(CAPS, "text/plain")
            elif operation == "GetCACert":
                self._reply(
                    ca.cert.public_bytes(serialization.Encoding.DER), "application/x-x509-ca-cert"
                )
            elif operation == "PKIOperation":
                self._pki(base64.b64decode(query.get("message", [""])[0]))
            else:
                self.send_error(400)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            self._pki(self.rfile.read(length))

        def _pki(self, der: bytes) -> None:
            self._reply(ca.answer(der), "application/x-pki-message")

        def _reply(self, body: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


@contextmanager
def pending_scep_server() -> Iterator[PendingCa]:
    """Run the responder on 127.0.0.1 (free port) in a thread; ``ca.url`` is its SCEP URL."""
    ca = PendingCa()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(ca))
    ca.url = f"http://127.0.0.1:{server.server_address[1]}/scep"
    with serving(server):
        yield ca
