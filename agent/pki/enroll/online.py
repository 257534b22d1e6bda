"""SCEP for a trustpoint, in the engine's own values: fetch the CA certificates and enroll one
key pair, with :class:`~agent.pki.Certificate` in and out.

Why a layer over :class:`ScepClient`: the bridge (agent/ops) may not touch ``cryptography``
objects, so the conversions between the stored certificates and the client's ``x509`` values,
and the RSA check SCEP needs, happen here.  Both calls block on the network: run them in a
worker thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from agent.clock import Clock
from agent.pki._keyio import PrivateKey
from agent.pki.certs import Certificate, load_certificate
from agent.pki.enroll.scep import (
    CaCerts,
    EnrollResult,
    FailInfo,
    PkiStatus,
    ScepClient,
    issuer_and_subject,
)
from agent.pki.enroll.transport import HttpTransport, UrllibTransport
from agent.pki.errors import ErrorCode, PkiError

__all__ = ["ScepCache", "ScepOutcome", "scep_enroll", "scep_fetch_ca", "scep_poll"]

CAPS_TTL = timedelta(minutes=5)
SIGNER_TTL = timedelta(hours=1)
MAX_SIGNERS = 64


@dataclass(frozen=True, slots=True)
class ScepOutcome:
    """An enrollment answer: the issued certificate, or a pending transaction."""

    transaction_id: str
    certificate: Certificate | None  # None while the CA has not issued (PENDING)


class ScepCache:
    """What enrollments to the same CAs may reuse, owned by the caller (the agent keeps one).

    * GetCACaps answers per URL, for at most ``caps_ttl``: a CA's capabilities change with its
      software or configuration, not per request, while asking costs an HTTP exchange per
      enrollment.  An entry is dropped as soon as an exchange with its URL fails, and an
      exchange made with cached capabilities that fails in a way stale ones would explain (an
      HTTP error status, failInfo badAlg) is retried once with fresh ones, so a reconfigured
      CA costs at most that one retry.
    * The self-signed certificate that signs a request (RFC 8894 section 2.3), per key and
      subject, for at most ``signer_ttl``: making one costs an RSA signature, and nothing in
      the RFC asks for a new one per message.  Its 7-day lifetime outlasts any reuse.
    """

    def __init__(
        self, clock: Clock, caps_ttl: timedelta = CAPS_TTL, signer_ttl: timedelta = SIGNER_TTL
    ) -> None:
        self._clock = clock
        self._caps_ttl = caps_ttl
        self._signer_ttl = signer_ttl
        self._lock = threading.Lock()
        self._caps: dict[str, tuple[datetime, frozenset[str]]] = {}
        self._signers: dict[tuple[bytes, bytes], tuple[datetime, x509.Certificate]] = {}

    def caps(self, client: ScepClient) -> tuple[frozenset[str], bool]:
        """The capabilities of ``client``'s CA, and whether they came from the cache."""
        now = self._clock.now()
        with self._lock:
            entry = self._caps.get(client.url)
        if entry is not None and now - entry[0] < self._caps_ttl:
            return entry[1], True
        caps = client.get_ca_caps()
        with self._lock:
            self._caps[client.url] = (now, caps)
        return caps, False

    def forget(self, url: str) -> None:
        with self._lock:
            self._caps.pop(url, None)

    def signer(
        self, client: ScepClient, key: rsa.RSAPrivateKey, subject: x509.Name
    ) -> x509.Certificate:
        """A self-signed certificate for ``key`` and ``subject``, made anew once too old."""
        spki = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        ident = (spki, subject.public_bytes())
        now = self._clock.now()
        with self._lock:
            entry = self._signers.get(ident)
        if entry is not None and now - entry[0] < self._signer_ttl:
            return entry[1]
        cert = client.signer_certificate(key, subject)
        with self._lock:
            if len(self._signers) >= MAX_SIGNERS:  # bounded: drop the oldest
                del self._signers[min(self._signers, key=lambda k: self._signers[k][0])]
            self._signers[ident] = (now, cert)
        return cert


def _with_caps(
    client: ScepClient,
    cache: ScepCache | None,
    exchange: Callable[[frozenset[str]], EnrollResult],
) -> EnrollResult:
    """``exchange`` run with the CA's capabilities: see :class:`ScepCache`."""
    if cache is None:
        return exchange(client.get_ca_caps())
    caps, cached = cache.caps(client)
    try:
        result = exchange(caps)
    except PkiError as exc:
        cache.forget(client.url)
        if not cached or "http-status" not in exc.data:
            raise
        return exchange(cache.caps(client)[0])
    if result.status is PkiStatus.FAILURE:
        cache.forget(client.url)
        if cached and result.fail_info is FailInfo.BAD_ALG:
            return exchange(cache.caps(client)[0])
    return result


def scep_fetch_ca(
    url: str, clock: Clock, transport: HttpTransport | None = None
) -> tuple[Certificate, tuple[Certificate, ...]]:
    """GetCACert: the issuing CA certificate and the RA certificates, not yet trusted."""
    answer = ScepClient(url, transport or UrllibTransport(), clock=clock).get_ca_certs()
    return _ours(answer.ca), tuple(_ours(c) for c in answer.ra)


def scep_enroll(
    url: str,
    clock: Clock,
    ca: Certificate,
    ra: tuple[Certificate, ...],
    key: PrivateKey,
    csr_pem: bytes,
    transport: HttpTransport | None = None,
    cache: ScepCache | None = None,
) -> ScepOutcome:
    """PKCSReq for ``csr_pem`` (made with ``key``) to the trusted CA at ``url``; without a
    ``cache``, GetCACaps is asked and a signer certificate made each time.

    Raises PkiError ca-rejected (FAILURE, the CA's reason in the message), ca-unreachable,
    or unsupported-key-parameters (SCEP signs and decrypts with RSA only).
    """
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PkiError(
            ErrorCode.UNSUPPORTED_KEY_PARAMETERS,
            "SCEP enrollment needs an RSA key: use an RSA key-label or enrollment terminal",
        )
    client = ScepClient(url, transport or UrllibTransport(), clock=clock)
    ca_certs = CaCerts(ca=_theirs(ca), ra=tuple(_theirs(c) for c in ra))
    csr = x509.load_pem_x509_csr(csr_pem)
    csr_der = csr.public_bytes(Encoding.DER)
    signer = cache.signer(client, key, csr.subject) if cache else None
    result = _with_caps(
        client, cache, lambda offered: client.enroll(csr_der, key, ca_certs, offered, signer)
    )
    if result.error is not None:
        raise result.error
    if result.status is PkiStatus.PENDING or result.certificate is None:
        return ScepOutcome(result.transaction_id, None)
    return ScepOutcome(result.transaction_id, _ours(result.certificate))


def scep_poll(
    url: str,
    clock: Clock,
    ca: Certificate,
    ra: tuple[Certificate, ...],
    key: PrivateKey,
    csr_pem: bytes,
    transaction_id: str,
    transport: HttpTransport | None = None,
    cache: ScepCache | None = None,
) -> ScepOutcome:
    """CertPoll for the PENDING request ``transaction_id`` of ``key`` (subject from
    ``csr_pem``): the certificate once issued, else a pending outcome.

    Raises PkiError as :func:`scep_enroll` does.
    """
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PkiError(ErrorCode.UNSUPPORTED_KEY_PARAMETERS, "SCEP polling needs an RSA key")
    client = ScepClient(url, transport or UrllibTransport(), clock=clock)
    ca_certs = CaCerts(ca=_theirs(ca), ra=tuple(_theirs(c) for c in ra))
    csr_der = x509.load_pem_x509_csr(csr_pem).public_bytes(Encoding.DER)
    target = issuer_and_subject(csr_der, ca_certs)
    result = _with_caps(
        client, cache, lambda offered: client.poll(transaction_id, target, key, ca_certs, offered)
    )
    if result.error is not None:
        raise result.error
    if result.status is PkiStatus.PENDING or result.certificate is None:
        return ScepOutcome(result.transaction_id, None)
    return ScepOutcome(result.transaction_id, _ours(result.certificate))


def _ours(cert: x509.Certificate) -> Certificate:
    return load_certificate(cert.public_bytes(Encoding.DER))


def _theirs(cert: Certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(cert.der)
