"""X.509 certificates as frozen values: loaders, fingerprints, issuer and validity checks.

Everything a state tree or an RPC output shows about a certificate is decoded once, at load
time, into a :class:`Certificate`; a certificate whose extensions cannot be decoded is refused
there (malformed-certificate) rather than failing later in a state read.  Inputs come from
operators and from CAs, so the loaders are defensive: size limits before parsing, PEM or DER
detected from the bytes, every parser exception turned into :class:`PkiError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from asn1crypto import cms as asn1_cms  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from agent.pki._encoding import (
    PemBlock,
    integer_hex,
    iter_pem_blocks,
    looks_like_pem,
    pem_encode,
    sha1_fingerprint,
    sha256_fingerprint,
)
from agent.pki._keyio import classify, spki_der
from agent.pki._names import (
    extended_key_usage_names,
    general_name_str,
    key_usage_names,
    name_str,
    signature_algorithm_name,
)
from agent.pki._vocab import KeyAlgorithm
from agent.pki.errors import ErrorCode, PkiError

__all__ = [
    "MAX_BUNDLE_SIZE",
    "MAX_CERTIFICATE_SIZE",
    "Certificate",
    "ValidityStatus",
    "load_certificate",
    "load_certificates",
]

# A real certificate is a few KiB; a large CA bundle (Cisco's ios_core.p7b, Mozilla's set) a
# few hundred KiB.  Anything past these limits is refused before any parser sees it.
MAX_CERTIFICATE_SIZE = 1 << 20
MAX_BUNDLE_SIZE = 4 << 20

_CERT_LABELS = frozenset({"CERTIFICATE", "X509 CERTIFICATE"})
_PKCS7_LABELS = frozenset({"PKCS7", "CMS"})
# What cryptography raises for undecodable input; DuplicateExtension and friends derive from
# Exception directly.
_PARSE_ERRORS = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    x509.InvalidVersion,
)

_E = TypeVar("_E", bound=x509.ExtensionType)


class ValidityStatus(StrEnum):
    """Where a time falls relative to a certificate's validity period."""

    VALID = "valid"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"


@dataclass(frozen=True, slots=True)
class Certificate:
    """A decoded certificate (the YANG grouping ``pki-types:certificate-info``)."""

    subject: str
    issuer: str
    serial_number: str
    not_before: datetime
    not_after: datetime
    sha1_fingerprint: str
    sha256_fingerprint: str
    public_key_algorithm: KeyAlgorithm | None
    key_size: int | None
    signature_algorithm: str
    subject_alt_names: tuple[str, ...]
    crl_distribution_points: tuple[str, ...]
    key_usage: tuple[str, ...]
    extended_key_usage: tuple[str, ...]
    is_ca: bool
    public_key_der: bytes = field(repr=False)
    der: bytes = field(repr=False)
    pem: str = field(repr=False)

    @property
    def is_self_issued(self) -> bool:
        return self.subject == self.issuer

    def matches_public_key(self, spki: bytes) -> bool:
        """True if this certificate certifies the key whose DER SubjectPublicKeyInfo is given."""
        return spki == self.public_key_der

    def is_issued_by(self, ca: Certificate) -> bool:
        """True if ``ca``'s subject is our issuer and ``ca``'s key verifies our signature.

        Only the one link is checked: no validity period, CA flag or path rules (that is path
        validation's job).
        """
        try:
            ours = x509.load_der_x509_certificate(self.der)
            ours.verify_directly_issued_by(x509.load_der_x509_certificate(ca.der))
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            return False
        return True

    def status_at(self, now: datetime) -> ValidityStatus:
        """Validity at ``now`` (an aware datetime); both ends are inclusive (RFC 5280 4.1.2.5)."""
        if now.tzinfo is None:
            raise ValueError("status_at needs an aware datetime")
        if now < self.not_before:
            return ValidityStatus.NOT_YET_VALID
        if now > self.not_after:
            return ValidityStatus.EXPIRED
        return ValidityStatus.VALID


def load_certificate(data: bytes) -> Certificate:
    """One certificate, PEM or DER (detected).  Raises PkiError malformed-certificate.

    PEM input must hold exactly one CERTIFICATE block; other blocks and text around it are
    ignored.
    """
    _check_size(data, MAX_CERTIFICATE_SIZE)
    if not looks_like_pem(data):
        return _parse(data)
    blocks = [b for b in iter_pem_blocks(data) if b.label in _CERT_LABELS]
    if len(blocks) != 1:
        raise _malformed(f"expected one PEM CERTIFICATE block, found {len(blocks)}")
    return _parse(_pem_der(blocks[0]))


def load_certificates(data: bytes) -> list[Certificate]:
    """Every certificate of a bundle, in order.  Raises PkiError malformed-certificate.

    Accepts concatenated PEM CERTIFICATE blocks, PKCS #7 certs-only (SignedData) in DER or
    as a PEM 'PKCS7' block, PEM mixing both, or a single DER certificate.  An input with no
    certificate at all is refused.
    """
    _check_size(data, MAX_BUNDLE_SIZE)
    if looks_like_pem(data):
        ders: list[bytes] = []
        for block in iter_pem_blocks(data):
            if block.label in _CERT_LABELS:
                ders.append(_pem_der(block))
            elif block.label in _PKCS7_LABELS:
                ders.extend(_pkcs7_certificates(_pem_der(block)))
    else:
        ders = _der_bundle(data)
    if not ders:
        raise _malformed("no certificate found")
    return [_parse(der) for der in ders]


# ---------------------------------------------------------------------------------------------
# internals


def _malformed(message: str) -> PkiError:
    return PkiError(ErrorCode.MALFORMED_CERTIFICATE, message)


def _check_size(data: bytes, limit: int) -> None:
    if not data.strip():
        raise _malformed("the certificate input is empty")
    if len(data) > limit:
        raise _malformed(f"the certificate input is larger than {limit >> 20} MiB")


def _pem_der(block: PemBlock) -> bytes:
    try:
        return block.der()
    except ValueError as exc:
        raise _malformed("a PEM block has invalid base64") from exc


def _der_bundle(data: bytes) -> list[bytes]:
    """A DER input is either one certificate or a PKCS #7 bundle; try the former first."""
    try:
        x509.load_der_x509_certificate(data)
    except _PARSE_ERRORS:
        return _pkcs7_certificates(data)
    return [data]


def _pkcs7_certificates(der: bytes) -> list[bytes]:
    """The certificates of a PKCS #7 SignedData (RFC 2315), in their original encoding.

    Parsed with asn1crypto rather than ``cryptography``: OpenSSL's ``crl2pkcs7`` and real CA
    bundles leave the certificate SET unsorted, which is BER, not DER; ``cryptography`` only
    accepts that with a warning that it may stop doing so.
    """
    try:
        info = asn1_cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise ValueError("not SignedData")
        found = info["content"]["certificates"]
        return [bytes(c.chosen.dump()) for c in found if c.name == "certificate"]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise _malformed("neither a DER certificate nor a PKCS #7 certificate bundle") from exc


def _parse(der: bytes) -> Certificate:
    try:
        cert = x509.load_der_x509_certificate(der)
        return _describe(cert, der)
    except _PARSE_ERRORS as exc:
        raise _malformed("the certificate does not parse as X.509 DER") from exc


def _describe(cert: x509.Certificate, der: bytes) -> Certificate:
    algorithm, key_size, spki = _public_key(cert, der)
    return Certificate(
        subject=name_str(cert.subject),
        issuer=name_str(cert.issuer),
        serial_number=integer_hex(cert.serial_number),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        sha1_fingerprint=sha1_fingerprint(der),
        sha256_fingerprint=sha256_fingerprint(der),
        public_key_algorithm=algorithm,
        key_size=key_size,
        signature_algorithm=signature_algorithm_name(cert.signature_algorithm_oid),
        subject_alt_names=_subject_alt_names(cert),
        crl_distribution_points=_crl_distribution_points(cert),
        key_usage=_key_usage(cert),
        extended_key_usage=_extended_key_usage(cert),
        is_ca=_is_ca(cert),
        public_key_der=spki,
        der=der,
        pem=pem_encode("CERTIFICATE", der),
    )


def _public_key(
    cert: x509.Certificate, der: bytes
) -> tuple[KeyAlgorithm | None, int | None, bytes]:
    """Algorithm, size and SPKI; a key type the library cannot load still has its SPKI."""
    try:
        key = cert.public_key()
    except (UnsupportedAlgorithm, ValueError):
        raw = asn1_x509.Certificate.load(der)["tbs_certificate"]["subject_public_key_info"]
        return None, None, bytes(raw.dump())
    algorithm, size = classify(key)
    return algorithm, size, spki_der(key)


def _extension(cert: x509.Certificate, kind: type[_E]) -> _E | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _key_usage(cert: x509.Certificate) -> tuple[str, ...]:
    usage = _extension(cert, x509.KeyUsage)
    return key_usage_names(usage) if usage is not None else ()


def _extended_key_usage(cert: x509.Certificate) -> tuple[str, ...]:
    usages = _extension(cert, x509.ExtendedKeyUsage)
    return extended_key_usage_names(usages) if usages is not None else ()


def _subject_alt_names(cert: x509.Certificate) -> tuple[str, ...]:
    san = _extension(cert, x509.SubjectAlternativeName)
    return tuple(general_name_str(n) for n in san) if san is not None else ()


def _crl_distribution_points(cert: x509.Certificate) -> tuple[str, ...]:
    points = _extension(cert, x509.CRLDistributionPoints)
    urls: list[str] = []
    for point in points or ():
        for name in point.full_name or ():
            if isinstance(name, x509.UniformResourceIdentifier):
                urls.append(name.value)
    return tuple(urls)


def _is_ca(cert: x509.Certificate) -> bool:
    constraints = _extension(cert, x509.BasicConstraints)
    return constraints is not None and constraints.ca
