"""SCEP for a trustpoint, in the engine's own values: fetch the CA certificates and enroll one
key pair, with :class:`~agent.pki.Certificate` in and out.

Why a layer over :class:`ScepClient`: the bridge (agent/ops) may not touch ``cryptography``
objects, so the conversions between the stored certificates and the client's ``x509`` values,
and the RSA check SCEP needs, happen here.  Both calls block on the network: run them in a
worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from agent.clock import Clock
from agent.pki._keyio import PrivateKey
from agent.pki.certs import Certificate, load_certificate
from agent.pki.enroll.scep import CaCerts, PkiStatus, ScepClient, issuer_and_subject
from agent.pki.enroll.transport import HttpTransport, UrllibTransport
from agent.pki.errors import ErrorCode, PkiError

__all__ = ["ScepOutcome", "scep_enroll", "scep_fetch_ca", "scep_poll"]


@dataclass(frozen=True, slots=True)
class ScepOutcome:
    """An enrollment answer: the issued certificate, or a pending transaction."""

    transaction_id: str
    certificate: Certificate | None  # None while the CA has not issued (PENDING)


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
) -> ScepOutcome:
    """PKCSReq for ``csr_pem`` (made with ``key``) to the trusted CA at ``url``.

    Raises PkiError ca-rejected (FAILURE, the CA's reason in the message), ca-unreachable,
    or unsupported-key-parameters (SCEP signs and decrypts with RSA only).
    """
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PkiError(
            ErrorCode.UNSUPPORTED_KEY_PARAMETERS,
            "SCEP enrollment needs an RSA key: use an RSA key-label or enrollment terminal",
        )
    client = ScepClient(url, transport or UrllibTransport(), clock=clock)
    caps = client.get_ca_caps()
    ca_certs = CaCerts(ca=_theirs(ca), ra=tuple(_theirs(c) for c in ra))
    csr_der = x509.load_pem_x509_csr(csr_pem).public_bytes(Encoding.DER)
    result = client.enroll(csr_der, key, ca_certs, caps)
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
) -> ScepOutcome:
    """CertPoll for the PENDING request ``transaction_id`` of ``key`` (subject from
    ``csr_pem``): the certificate once issued, else a pending outcome.

    Raises PkiError as :func:`scep_enroll` does.
    """
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PkiError(ErrorCode.UNSUPPORTED_KEY_PARAMETERS, "SCEP polling needs an RSA key")
    client = ScepClient(url, transport or UrllibTransport(), clock=clock)
    caps = client.get_ca_caps()
    ca_certs = CaCerts(ca=_theirs(ca), ra=tuple(_theirs(c) for c in ra))
    csr_der = x509.load_pem_x509_csr(csr_pem).public_bytes(Encoding.DER)
    target = issuer_and_subject(csr_der, ca_certs)
    result = client.poll(transaction_id, target, key, ca_certs, caps)
    if result.error is not None:
        raise result.error
    if result.status is PkiStatus.PENDING or result.certificate is None:
        return ScepOutcome(result.transaction_id, None)
    return ScepOutcome(result.transaction_id, _ours(result.certificate))


def _ours(cert: x509.Certificate) -> Certificate:
    return load_certificate(cert.public_bytes(Encoding.DER))


def _theirs(cert: Certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(cert.der)
