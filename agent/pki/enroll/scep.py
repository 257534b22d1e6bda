"""SCEP client (RFC 8894): GetCACaps, GetCACert, PKCSReq and CertPoll.

Two layers, after h11.  The message functions re-exported here from ``_scep``
(``parse_ca_caps``, ``parse_ca_certs``, ``build_pkcs_req``, ``build_cert_poll``,
``parse_cert_rep``) turn bytes into values and back with no I/O, clock or randomness of their
own, so captured CA answers replay in tests.  :class:`ScepClient` is the thin I/O shell: it
asks the injected transport, clock and randomness, and calls those functions.

Failures are :class:`~agent.pki.errors.PkiError`:

* ``ca-unreachable``: no HTTP answer, an HTTP error status, or an answer that is not SCEP
  (malformed, wrong signer, nonce or transaction mismatch; ``data["detail"]`` is then
  ``"bad-response"``);
* ``malformed-certificate``: the GetCACert answer holds no usable CA certificate;
* ``unsupported-key-parameters``: SCEP needs RSA on our side and on the CA's encryption cert;
* ``malformed-csr``: the request handed to :meth:`ScepClient.enroll` does not parse.

A CertRep with pkiStatus FAILURE is an *answer*, returned as an :class:`EnrollResult`; its
:attr:`EnrollResult.error` is the ``ca-rejected`` error for callers that want to raise.

The challenge password travels only inside the PKCS #10 request, encrypted to the CA: it is
never logged, and server text quoted in an error is scrubbed of it.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
from urllib.parse import quote, urlencode

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AttributeOID

from agent.clock import Clock
from agent.pki.enroll._cms import ContentCipher
from agent.pki.enroll._scep import (
    Algorithms,
    CaCerts,
    EnrollResult,
    FailInfo,
    IssuerAndSubject,
    MessageType,
    PkiRequest,
    PkiStatus,
    Randomness,
    SystemRandomness,
    build_cert_poll,
    build_pkcs_req,
    issuer_and_subject,
    load_csr,
    make_signer_certificate,
    negotiate,
    parse_ca_caps,
    parse_ca_certs,
    parse_cert_rep,
    quote_server_text,
    rsa_public_key,
    transaction_id_for,
)
from agent.pki.enroll.transport import HttpResponse, HttpTransport
from agent.pki.errors import ErrorCode, PkiError

__all__ = [
    "PKI_MESSAGE_TYPE",
    "Algorithms",
    "CaCerts",
    "ContentCipher",
    "EnrollResult",
    "FailInfo",
    "IssuerAndSubject",
    "MessageType",
    "PkiRequest",
    "PkiStatus",
    "Randomness",
    "ScepClient",
    "SystemRandomness",
    "build_cert_poll",
    "build_pkcs_req",
    "issuer_and_subject",
    "make_signer_certificate",
    "negotiate",
    "parse_ca_caps",
    "parse_ca_certs",
    "parse_cert_rep",
    "transaction_id_for",
]

_log = logging.getLogger(__name__)

PKI_MESSAGE_TYPE = "application/x-pki-message"


class ScepClient:
    """One SCEP server URL, reached through an injected transport.

    Every method blocks for at most about ``timeout`` seconds per HTTP exchange; callers on
    the event loop run it in a worker thread.  The URL is used as configured (for example
    ``http://ca.example/scep`` or ``.../cgi-bin/pkiclient.exe``) with the operation appended.
    """

    def __init__(
        self,
        url: str,
        transport: HttpTransport,
        *,
        clock: Clock,
        random: Randomness | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.url = url
        self._transport = transport
        self._clock = clock
        self._random = random or SystemRandomness()
        self._timeout = timeout

    def get_ca_caps(self, identifier: str = "") -> frozenset[str]:
        """GetCACaps (RFC 8894 section 3.5.1)."""
        answer = self._get("GetCACaps", identifier)
        return parse_ca_caps(answer.body, self.url)

    def get_ca_certs(self, identifier: str = "") -> CaCerts:
        """GetCACert (RFC 8894 section 4.2); the caller decides whether to trust it."""
        answer = self._get("GetCACert", identifier)
        return parse_ca_certs(answer.body, answer.content_type, self.url)

    def enroll(
        self,
        csr_der: bytes,
        signer_key: rsa.RSAPrivateKey,
        ca_certs: CaCerts,
        caps: frozenset[str],
        signer_cert: x509.Certificate | None = None,
    ) -> EnrollResult:
        """PKCSReq for ``csr_der``, signed with ``signer_key`` (the request's key, usually).

        Without ``signer_cert`` a self-signed one is made for ``signer_key`` with the
        request's subject.  Returns SUCCESS, PENDING or FAILURE; raises PkiError when the
        exchange itself fails.
        """
        csr = load_csr(csr_der)
        signer_cert = signer_cert or self.signer_certificate(signer_key, csr.subject)
        request = build_pkcs_req(
            csr_der, signer_key, signer_cert, ca_certs, negotiate(caps), self._random
        )
        secret = _challenge_of(csr)
        reply = self._pki_operation(request, secret)
        certified = rsa_public_key(csr.public_key(), "the request's key")
        result = parse_cert_rep(
            reply, request, signer_key, signer_cert, ca_certs, certified, self.url
        )
        if secret and secret in result.detail:  # a failInfoText echoing the challenge
            result = dataclasses.replace(result, detail=result.detail.replace(secret, "***"))
        self._log_result("PKCSReq", result)
        return result

    def poll(
        self,
        transaction_id: str,
        target: IssuerAndSubject,
        signer_key: rsa.RSAPrivateKey,
        ca_certs: CaCerts,
        caps: frozenset[str],
        signer_cert: x509.Certificate | None = None,
    ) -> EnrollResult:
        """CertPoll (GetCertInitial) for a PENDING enrollment of ``signer_key``'s request."""
        signer_cert = signer_cert or self.signer_certificate(signer_key, target.subject)
        request = build_cert_poll(
            transaction_id, target, signer_key, signer_cert, ca_certs, negotiate(caps),
            self._random,
        )  # fmt: skip
        reply = self._pki_operation(request, None)
        result = parse_cert_rep(
            reply, request, signer_key, signer_cert, ca_certs, signer_key.public_key(), self.url
        )
        self._log_result("CertPoll", result)
        return result

    def signer_certificate(self, key: rsa.RSAPrivateKey, subject: x509.Name) -> x509.Certificate:
        """A fresh self-signed certificate for ``key`` to sign requests with (section 2.3)."""
        rsa_public_key(key.public_key(), "the signing key")
        serial = int.from_bytes(self._random.token_bytes(8)) >> 1 | 1  # positive, non-zero
        return make_signer_certificate(key, subject, self._clock.now(), serial)

    def _url(self, operation: str, message: str = "") -> str:
        params = {"operation": operation} | ({"message": message} if message else {})
        separator = "&" if "?" in self.url else "?"
        return f"{self.url}{separator}{urlencode(params, quote_via=quote)}"

    def _get(self, operation: str, message: str = "") -> HttpResponse:
        answer = self._transport.get(self._url(operation, message), self._timeout)
        return self._expect_ok(answer, operation, None)

    def _pki_operation(self, request: PkiRequest, secret: str | None) -> bytes:
        """POST when the CA offers it; else GET with the message in base64 (section 4.3)."""
        if request.algorithms.post:
            url = self._url("PKIOperation")
            answer = self._transport.post(url, request.der, PKI_MESSAGE_TYPE, self._timeout)
        else:
            message = base64.b64encode(request.der).decode("ascii")
            answer = self._transport.get(self._url("PKIOperation", message), self._timeout)
        return self._expect_ok(answer, "PKIOperation", secret).body

    def _expect_ok(self, answer: HttpResponse, operation: str, secret: str | None) -> HttpResponse:
        if answer.status == 200:
            return answer
        said = quote_server_text(answer.body.decode("utf-8", "replace"), secret)
        raise PkiError(
            ErrorCode.CA_UNREACHABLE,
            f"{self.url} answered {operation} with HTTP {answer.status}"
            + (f": {said}" if said else ""),
            {"url": self.url, "http-status": answer.status},
        )

    def _log_result(self, operation: str, result: EnrollResult) -> None:
        _log.info(
            "SCEP %s to %s: %s (transaction %s%s)",
            operation, self.url, result.status.value, result.transaction_id,
            f", {result.detail}" if result.detail else "",
        )  # fmt: skip


def _challenge_of(csr: x509.CertificateSigningRequest) -> str | None:
    """The request's challenge password, only so that echoes of it can be scrubbed."""
    try:
        value = csr.attributes.get_attribute_for_oid(AttributeOID.CHALLENGE_PASSWORD).value
    except x509.AttributeNotFound:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else None
