"""Revocation status of one certificate by CRL or OCSP, under a trustpoint's or the pool's policy.

Why the methods are a tuple: the YANG ``revocation-check`` leaf-list is ordered like Cisco's
``revocation-check crl ocsp none``; each method is tried in order until one gives an answer
(good or revoked).  ``none`` last is the soft fail: accept when the earlier methods could not
answer.  ``none`` alone means "do not check".

Every answer is authenticated before it is believed: a CRL must name the issuer and verify
under the issuer's key, an OCSP response must be signed by the issuer or by a responder
certificate the issuer made for OCSP signing, and both must be current at the verification
time.  Anything else is *unknown* with a reason in words, never *good*.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from agent.pki.certs import Certificate
from agent.pki.errors import PkiError
from agent.pki.fetch import Fetcher

__all__ = [
    "METHODS",
    "CrlCache",
    "RevocationPolicy",
    "RevocationResult",
    "check_revocation",
]

Method = Literal["crl", "ocsp", "none"]
Status = Literal["good", "revoked", "unknown"]
METHODS: frozenset[str] = frozenset({"crl", "ocsp", "none"})
# Clocks of CAs and responders drift; RFC 6960 responders commonly allow a few minutes.
_SKEW = timedelta(minutes=5)
_FETCH_SCHEMES = ("http://", "https://", "file://")
_E = TypeVar("_E", bound=x509.ExtensionType)


@dataclass(frozen=True, slots=True)
class RevocationPolicy:
    """Ordered revocation methods; ``query_url`` is the trustpoint's CRL source.

    ``query_url`` is used for a certificate that carries no fetchable CRL distribution point
    (seed 003: the CA's LDAP/CRL location for CAs that publish there).
    """

    methods: tuple[str, ...] = ("crl",)
    query_url: str | None = None

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ValueError(f"unknown revocation methods {unknown}; use crl, ocsp or none")
        if "none" in self.methods[:-1]:
            raise ValueError("revocation method 'none' may only come last")

    @property
    def checks(self) -> bool:
        """False when revocation is not checked at all (methods empty or just 'none')."""
        return any(m != "none" for m in self.methods)


@dataclass(frozen=True, slots=True)
class RevocationResult:
    """The answer for one certificate; ``detail`` says in words what was found or missing."""

    status: Status
    method: str | None
    revocation_date: datetime | None = None
    revocation_reason: str | None = None
    detail: str = ""


class CrlCache:
    """Verified CRLs per URL until their nextUpdate, at most ``size`` of them (LRU).

    An instance is passed in rather than kept in a module global, so tests and separate
    engines never share state.  Only CRLs that verified against their issuer are stored.
    """

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._crls: OrderedDict[str, x509.CertificateRevocationList] = OrderedDict()

    def get(self, url: str, at: datetime) -> x509.CertificateRevocationList | None:
        with self._lock:
            crl = self._crls.get(url)
            if crl is None or _is_stale(crl, at):
                self._crls.pop(url, None)
                return None
            self._crls.move_to_end(url)
            return crl

    def put(self, url: str, crl: x509.CertificateRevocationList) -> None:
        with self._lock:
            self._crls[url] = crl
            self._crls.move_to_end(url)
            while len(self._crls) > self._size:
                self._crls.popitem(last=False)


def check_revocation(
    cert: Certificate,
    issuer: Certificate,
    policy: RevocationPolicy,
    fetch: Fetcher,
    at: datetime,
    *,
    cache: CrlCache | None = None,
) -> RevocationResult:
    """Try the policy's methods in order; the first good or revoked answer wins."""
    if not policy.checks:
        return RevocationResult("good", "none", detail="revocation is not checked (policy none)")
    ours = x509.load_der_x509_certificate(cert.der)
    theirs = x509.load_der_x509_certificate(issuer.der)
    reasons: list[str] = []
    for method in policy.methods:
        if method == "none":
            detail = "revocation status unavailable, accepted (none): " + "; ".join(reasons)
            return RevocationResult("good", "none", detail=detail)
        result = _check_one(method, ours, theirs, policy, fetch, at, cache)
        if result.status != "unknown":
            return result
        reasons.append(result.detail)
    return RevocationResult("unknown", policy.methods[-1], detail="; ".join(reasons))


def _check_one(
    method: str,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    policy: RevocationPolicy,
    fetch: Fetcher,
    at: datetime,
    cache: CrlCache | None,
) -> RevocationResult:
    if method == "crl":
        return _check_crl(cert, issuer, policy.query_url, fetch, at, cache)
    return _check_ocsp(cert, issuer, fetch, at)


# ---------------------------------------------------------------------------------------------
# CRL


def _check_crl(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    query_url: str | None,
    fetch: Fetcher,
    at: datetime,
    cache: CrlCache | None,
) -> RevocationResult:
    urls = _crl_urls(cert, query_url)
    if not urls:
        return _unknown(
            "crl", "CRL: the certificate has no CRL distribution point and no query url is set"
        )
    reasons: list[str] = []
    for url in urls:
        try:
            crl = _current_crl(url, issuer, fetch, at, cache)
        except _Unusable as exc:
            reasons.append(f"CRL {url} {exc}")
            continue
        return _crl_lookup(crl, cert, url)
    return _unknown("crl", "; ".join(reasons))


def _crl_urls(cert: x509.Certificate, query_url: str | None) -> list[str]:
    points = _extension(cert, x509.CRLDistributionPoints)
    urls = [
        name.value
        for point in points or ()
        for name in point.full_name or ()
        if isinstance(name, x509.UniformResourceIdentifier)
        and name.value.lower().startswith(_FETCH_SCHEMES)
    ]
    if not urls and query_url:
        urls.append(query_url)
    return urls


class _Unusable(Exception):
    """A CRL or OCSP answer that could not be fetched or believed; the text says why."""


def _current_crl(
    url: str, issuer: x509.Certificate, fetch: Fetcher, at: datetime, cache: CrlCache | None
) -> x509.CertificateRevocationList:
    cached = cache.get(url, at) if cache else None
    if cached is not None:
        return cached
    try:
        data = fetch.get(url)
    except PkiError as exc:
        raise _Unusable(f"unavailable: {exc.message}") from exc
    crl = _parse_crl(data)
    _authenticate_crl(crl, issuer, at)
    if cache:
        cache.put(url, crl)
    return crl


def _parse_crl(data: bytes) -> x509.CertificateRevocationList:
    try:
        if b"-----BEGIN X509 CRL-----" in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise _Unusable("is not a CRL (DER or PEM)") from exc


def _authenticate_crl(
    crl: x509.CertificateRevocationList, issuer: x509.Certificate, at: datetime
) -> None:
    if crl.issuer != issuer.subject:
        raise _Unusable(f"was issued by {crl.issuer.rfc4514_string()}, not by the certificate's CA")
    if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
        raise _Unusable("has a signature that does not verify under the CA's key")
    if at + _SKEW < crl.last_update_utc:
        raise _Unusable(f"is not valid before {_z(crl.last_update_utc)}")
    if _is_stale(crl, at):
        raise _Unusable(f"is out of date: its next update was due {_z(crl.next_update_utc)}")


def _is_stale(crl: x509.CertificateRevocationList, at: datetime) -> bool:
    due = crl.next_update_utc
    return due is not None and at > due + _SKEW


def _crl_lookup(
    crl: x509.CertificateRevocationList, cert: x509.Certificate, url: str
) -> RevocationResult:
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if entry is None:
        return RevocationResult("good", "crl", detail=f"not listed in CRL {url}")
    reason = _extension(entry, x509.CRLReason)
    code = reason.reason.value if reason else None
    return _revoked("crl", entry.revocation_date_utc, code)


# ---------------------------------------------------------------------------------------------
# OCSP


def _check_ocsp(
    cert: x509.Certificate, issuer: x509.Certificate, fetch: Fetcher, at: datetime
) -> RevocationResult:
    url = _ocsp_url(cert)
    if url is None:
        return _unknown("ocsp", "OCSP: the certificate names no OCSP responder")
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
    try:
        body = fetch.post(
            url, request.public_bytes(serialization.Encoding.DER), "application/ocsp-request"
        )
        response = _parse_ocsp(body)
        _authenticate_ocsp(response, request, issuer, at)
    except PkiError as exc:
        return _unknown("ocsp", f"OCSP {url} unavailable: {exc.message}")
    except _Unusable as exc:
        return _unknown("ocsp", f"OCSP {url}: {exc}")
    return _ocsp_status(response, url)


def _ocsp_url(cert: x509.Certificate) -> str | None:
    aia = _extension(cert, x509.AuthorityInformationAccess)
    for desc in aia or ():
        loc = desc.access_location
        if desc.access_method == AuthorityInformationAccessOID.OCSP and isinstance(
            loc, x509.UniformResourceIdentifier
        ):
            return loc.value
    return None


def _parse_ocsp(body: bytes) -> ocsp.OCSPResponse:
    try:
        response = ocsp.load_der_ocsp_response(body)
    except ValueError as exc:
        raise _Unusable("the answer is not an OCSP response") from exc
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise _Unusable(f"the responder answered {response.response_status.name.lower()}")
    return response


def _authenticate_ocsp(
    response: ocsp.OCSPResponse, request: ocsp.OCSPRequest, issuer: x509.Certificate, at: datetime
) -> None:
    if (
        response.serial_number != request.serial_number
        or response.issuer_key_hash != request.issuer_key_hash
        or response.issuer_name_hash != request.issuer_name_hash
    ):
        raise _Unusable("the response is about another certificate")
    signer = _ocsp_signer(response, issuer)
    if not _signature_ok(
        signer, response.signature, response.tbs_response_bytes, response.signature_hash_algorithm
    ):
        raise _Unusable("the response signature does not verify")
    if at + _SKEW < response.this_update_utc:
        raise _Unusable(f"the response is not valid before {_z(response.this_update_utc)}")
    due = response.next_update_utc
    if due is not None and at > due + _SKEW:
        raise _Unusable(f"the response is out of date (next update was {_z(due)})")


def _ocsp_signer(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> x509.Certificate:
    """The issuer itself, or a delegated responder it issued with id-kp-OCSPSigning."""
    if _is_responder(response, issuer):
        return issuer
    for candidate in response.certificates:
        if _is_responder(response, candidate) and _delegated_by(candidate, issuer):
            return candidate
    raise _Unusable("signed by a responder the certificate's CA did not authorize")


def _is_responder(response: ocsp.OCSPResponse, cert: x509.Certificate) -> bool:
    """RFC 6960 ResponderID: by name, or by the SHA-1 of the key's BIT STRING (= SKI method 1)."""
    if response.responder_name is not None:
        return response.responder_name == cert.subject
    ski = x509.SubjectKeyIdentifier.from_public_key(cert.public_key())
    return ski.digest == response.responder_key_hash


def _delegated_by(candidate: x509.Certificate, issuer: x509.Certificate) -> bool:
    eku = _extension(candidate, x509.ExtendedKeyUsage)
    if eku is None or ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
        return False
    try:
        candidate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _ocsp_status(response: ocsp.OCSPResponse, url: str) -> RevocationResult:
    status = response.certificate_status
    if status == ocsp.OCSPCertStatus.GOOD:
        return RevocationResult("good", "ocsp", detail=f"good according to OCSP {url}")
    if status == ocsp.OCSPCertStatus.REVOKED:
        reason = response.revocation_reason
        when = response.revocation_time_utc
        assert when is not None
        return _revoked("ocsp", when, reason.value if reason else None)
    return _unknown("ocsp", f"OCSP {url}: the responder does not know the certificate")


def _signature_ok(
    signer: x509.Certificate, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm | None
) -> bool:
    key = signer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, data)
        elif isinstance(key, dsa.DSAPublicKey) and algorithm is not None:
            key.verify(signature, data, algorithm)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        return False
    return True


# ---------------------------------------------------------------------------------------------
# helpers


def _extension(holder: x509.Certificate | x509.RevokedCertificate, kind: type[_E]) -> _E | None:
    try:
        return holder.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _revoked(method: str, when: datetime, reason: str | None) -> RevocationResult:
    words = f"revoked on {_z(when)}" + (f", reason {reason}" if reason else "")
    return RevocationResult("revoked", method, when, reason, f"{words} ({method.upper()})")


def _unknown(method: str, detail: str) -> RevocationResult:
    return RevocationResult("unknown", method, detail=detail)


def _z(when: datetime | None) -> str:
    """RFC 3339 UTC with a Z, as YANG date-and-time and the details print it."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when else "-"
