"""SCEP (RFC 8894) messages without I/O: the functions behind :mod:`agent.pki.enroll.scep`.

Bytes in, values out, and back: capabilities, CA certificates, PKCSReq and CertPoll
building, CertRep checking.  Nothing here reads a clock, draws randomness of its own or
touches the network, so a captured CA answer replays exactly in tests (h11's split).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar, Protocol

from asn1crypto import core  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from agent.pki.enroll import _cms
from agent.pki.enroll._cms import ContentCipher
from agent.pki.errors import ErrorCode, PkiError

# RFC 8894 section 3.2.1: SCEP's authenticated attributes (VeriSign arc), and failInfoText.
_OID_MESSAGE_TYPE = "2.16.840.1.113733.1.9.2"
_OID_PKI_STATUS = "2.16.840.1.113733.1.9.3"
_OID_FAIL_INFO = "2.16.840.1.113733.1.9.4"
_OID_SENDER_NONCE = "2.16.840.1.113733.1.9.5"
_OID_RECIPIENT_NONCE = "2.16.840.1.113733.1.9.6"
_OID_TRANSACTION_ID = "2.16.840.1.113733.1.9.7"
_OID_FAIL_INFO_TEXT = "1.3.6.1.5.5.7.24.1"

_NONCE_BYTES = 16
_SIGNER_CERT_LIFETIME = timedelta(days=7)  # outlasts the longest polling the model allows
_CLOCK_SKEW = timedelta(minutes=5)
_QUOTE_LIMIT = 200


class MessageType(StrEnum):
    """RFC 8894 section 3.2.1.2 messageType values (a PrintableString of digits)."""

    CERT_REP = "3"
    RENEWAL_REQ = "17"
    PKCS_REQ = "19"
    CERT_POLL = "20"  # GetCertInitial in the drafts
    GET_CERT = "21"
    GET_CRL = "22"


class PkiStatus(StrEnum):
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    PENDING = "PENDING"


class FailInfo(StrEnum):
    """RFC 8894 section 3.2.1.4 failInfo, by its RFC name."""

    BAD_ALG = "badAlg"
    BAD_MESSAGE_CHECK = "badMessageCheck"
    BAD_REQUEST = "badRequest"
    BAD_TIME = "badTime"
    BAD_CERT_ID = "badCertId"


_STATUS_WIRE = {"0": PkiStatus.SUCCESS, "2": PkiStatus.FAILURE, "3": PkiStatus.PENDING}
_FAIL_INFO_WIRE = {
    "0": FailInfo.BAD_ALG,
    "1": FailInfo.BAD_MESSAGE_CHECK,
    "2": FailInfo.BAD_REQUEST,
    "3": FailInfo.BAD_TIME,
    "4": FailInfo.BAD_CERT_ID,
}
# What an operator can do about each failInfo; the failInfo itself goes in ``data``.
_FAIL_INFO_HINT: Mapping[FailInfo, str] = {
    FailInfo.BAD_ALG: "the CA does not accept the request's algorithms",
    FailInfo.BAD_MESSAGE_CHECK: "the CA could not verify the request's signature",
    FailInfo.BAD_REQUEST: (
        "the CA refused the request: wrong or expired challenge password, "
        "or the request breaks the CA's policy"
    ),
    FailInfo.BAD_TIME: "the request's time is out of the CA's window: check the device clock",
    FailInfo.BAD_CERT_ID: "the CA has no certificate matching the request",
}

# RFC 8894 section 3.5.2 keywords in their RFC spelling; matching ignores case.
_KNOWN_CAPS = (
    "AES",
    "DES3",
    "GetNextCACert",
    "POSTPKIOperation",
    "Renewal",
    "SHA-1",
    "SHA-256",
    "SHA-512",
    "SCEPStandard",
    "Update",
)
_CAPS_BY_FOLDED = {cap.casefold(): cap for cap in _KNOWN_CAPS}
_CAP_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class Randomness(Protocol):
    """Where nonces, content keys and serial numbers come from; must be a CSPRNG."""

    def token_bytes(self, n: int) -> bytes: ...


class SystemRandomness:
    def token_bytes(self, n: int) -> bytes:
        return secrets.token_bytes(n)


# --- capabilities ---------------------------------------------------------------------------


def parse_ca_caps(body: bytes, source: str = "the CA") -> frozenset[str]:
    """The capabilities of a GetCACaps answer, known keywords in their RFC spelling.

    An empty answer is valid (a CA from before GetCACaps): the fallbacks then apply.
    Anything that is not a list of keywords (an HTML error page) is refused.
    """
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise _bad_response(source, "GetCACaps answer is not ASCII text") from None
    caps: set[str] = set()
    for token in text.split():
        if not _CAP_TOKEN.fullmatch(token):
            raise _bad_response(source, "GetCACaps answer is not a list of capabilities")
        caps.add(_CAPS_BY_FOLDED.get(token.casefold(), token))
    return frozenset(caps)


@dataclass(frozen=True, slots=True)
class Algorithms:
    """What a request uses: digest (asn1crypto name), content cipher, and POST or GET."""

    digest: str
    cipher: ContentCipher
    post: bool


def negotiate(caps: frozenset[str]) -> Algorithms:
    """RFC 8894 section 3.5.2: AES, SHA-256 and POST when offered, else 3DES, SHA-1, GET.

    SCEPStandard promises all three.  AES means AES-128-CBC, the RFC's interoperable choice.
    """
    standard = "SCEPStandard" in caps
    return Algorithms(
        digest="sha256" if standard or "SHA-256" in caps else "sha1",
        cipher=ContentCipher.AES128_CBC if standard or "AES" in caps else ContentCipher.DES3_CBC,
        post=standard or "POSTPKIOperation" in caps,
    )


# --- CA certificates ------------------------------------------------------------------------


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _allows(cert: x509.Certificate, usage: str) -> bool:
    """Key usage check where a certificate without the extension allows everything."""
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return bool(getattr(ku, usage))


@dataclass(frozen=True)
class CaCerts:
    """A GetCACert answer: the issuing CA, RA certificates, and other CA certificates sent.

    RFC 8894 section 2.2: with an RA, requests are encrypted to the RA certificate with
    keyEncipherment and replies are signed with the one with digitalSignature.
    """

    ca: x509.Certificate
    ra: tuple[x509.Certificate, ...] = ()
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def recipient(self) -> x509.Certificate:
        """The certificate requests are encrypted to."""
        return next((c for c in self.ra if _allows(c, "key_encipherment")), self.ca)

    @property
    def verifiers(self) -> tuple[x509.Certificate, ...]:
        """The certificates a reply may be signed with, RA first."""
        return (*(c for c in self.ra if _allows(c, "digital_signature")), self.ca)


def parse_ca_certs(body: bytes, content_type: str = "", source: str = "the CA") -> CaCerts:
    """A GetCACert answer: one DER certificate, or a degenerate PKCS #7 of CA and RA certs.

    RFC 8894 section 4.2 names the two by content type, but servers mislabel them, so the
    body decides.  Certificates with basicConstraints cA are CAs; the rest are RAs.
    """
    certs = _load_ca_answer(body)
    if not certs:
        raise PkiError(
            ErrorCode.MALFORMED_CERTIFICATE,
            f"the GetCACert answer from {source} ({content_type or 'no content type'}) "
            "is neither a DER certificate nor a PKCS #7 certificate bundle",
            {"detail": "bad-response"},
        )
    cas = [c for c in certs if _is_ca(c)] or [c for c in certs if c.subject == c.issuer]
    if not cas:
        if len(certs) > 1:
            raise PkiError(
                ErrorCode.MALFORMED_CERTIFICATE,
                f"the GetCACert answer from {source} holds {len(certs)} certificates "
                "and none is a CA certificate",
            )
        cas = certs
    ra = tuple(c for c in certs if not any(c is ca for ca in cas))
    ca = _issuing_ca(cas, ra)
    return CaCerts(ca=ca, ra=ra, chain=tuple(c for c in cas if c is not ca))


def _load_ca_answer(body: bytes) -> list[x509.Certificate]:
    try:
        return [x509.load_der_x509_certificate(body)]
    except ValueError:
        pass
    try:
        return list(pkcs7.load_der_pkcs7_certificates(body))
    except (ValueError, UnsupportedAlgorithm):
        return []


def _issuing_ca(cas: list[x509.Certificate], ra: tuple[x509.Certificate, ...]) -> x509.Certificate:
    """The CA that issued the RA certificates, else the CA that issued no other CA here."""
    if ra:
        issuers = [c for c in cas if any(r.issuer == c.subject for r in ra)]
    else:
        issuers = [c for c in cas if not any(o is not c and o.issuer == c.subject for o in cas)]
    return (issuers or cas)[0]


# --- requests -------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuerAndSubject:
    """What a CertPoll names (RFC 8894 section 3.3.3): the CA's name and our subject."""

    issuer: x509.Name
    subject: x509.Name


class _IssuerAndSubjectAsn1(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[tuple[object, ...]]] = [
        ("issuer", asn1_x509.Name),
        ("subject", asn1_x509.Name),
    ]


@dataclass(frozen=True)
class PkiRequest:
    """A built pkiMessage and what its reply must echo."""

    der: bytes
    message_type: MessageType
    transaction_id: str
    sender_nonce: bytes
    algorithms: Algorithms


def transaction_id_for(public_key: rsa.RSAPublicKey) -> str:
    """The transactionID: SHA-256 of the SubjectPublicKeyInfo, upper-case hex.

    Derived from the key, so a retried or polled enrollment of the same key keeps its id
    (RFC 8894 section 3.2.1.1), and hex is always a valid PrintableString.
    """
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).hexdigest().upper()


def issuer_and_subject(csr_der: bytes, ca_certs: CaCerts) -> IssuerAndSubject:
    """The CertPoll target for a request sent to ``ca_certs``."""
    return IssuerAndSubject(issuer=ca_certs.ca.subject, subject=load_csr(csr_der).subject)


def make_signer_certificate(
    key: rsa.RSAPrivateKey, subject: x509.Name, now: datetime, serial: int
) -> x509.Certificate:
    """The self-signed certificate that signs a request and receives the reply.

    RFC 8894 section 2.3 lets a requester without a certificate sign with a self-signed one
    for the key being certified; the CA encrypts its reply to this certificate.
    """
    if not list(subject):  # X.509 needs an issuer name; stand in the key's transaction id
        subject = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, transaction_id_for(key.public_key()))]
        )
    usage = x509.KeyUsage(
        digital_signature=True,
        key_encipherment=True,
        content_commitment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + _SIGNER_CERT_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
    )
    return builder.sign(key, hashes.SHA256())


def build_pkcs_req(
    csr_der: bytes,
    signer_key: rsa.RSAPrivateKey,
    signer_cert: x509.Certificate,
    ca_certs: CaCerts,
    algorithms: Algorithms,
    random: Randomness,
) -> PkiRequest:
    """A PKCSReq pkiMessage (RFC 8894 section 3.3.1) carrying ``csr_der``."""
    csr = load_csr(csr_der)
    transaction_id = transaction_id_for(rsa_public_key(csr.public_key(), "the request's key"))
    return _build(
        MessageType.PKCS_REQ, csr_der, transaction_id, signer_key, signer_cert, ca_certs,
        algorithms, random,
    )  # fmt: skip


def build_cert_poll(
    transaction_id: str,
    target: IssuerAndSubject,
    signer_key: rsa.RSAPrivateKey,
    signer_cert: x509.Certificate,
    ca_certs: CaCerts,
    algorithms: Algorithms,
    random: Randomness,
) -> PkiRequest:
    """A CertPoll (GetCertInitial) pkiMessage (RFC 8894 section 3.3.3)."""
    payload = _IssuerAndSubjectAsn1(
        {
            "issuer": asn1_x509.Name.load(target.issuer.public_bytes()),
            "subject": asn1_x509.Name.load(target.subject.public_bytes()),
        }
    ).dump()
    return _build(
        MessageType.CERT_POLL, payload, transaction_id, signer_key, signer_cert, ca_certs,
        algorithms, random,
    )  # fmt: skip


def _build(
    message_type: MessageType,
    payload: bytes,
    transaction_id: str,
    signer_key: rsa.RSAPrivateKey,
    signer_cert: x509.Certificate,
    ca_certs: CaCerts,
    algorithms: Algorithms,
    random: Randomness,
) -> PkiRequest:
    """pkcsPKIEnvelope (encrypted to the CA/RA) inside SignedData with SCEP attributes."""
    rsa_public_key(signer_key.public_key(), "the signing key")
    rsa_public_key(ca_certs.recipient.public_key(), "the CA's encryption certificate")
    nonce = random.token_bytes(_NONCE_BYTES)
    enveloped = _cms.envelope(payload, ca_certs.recipient, algorithms.cipher, random.token_bytes)
    attributes = [
        (_OID_TRANSACTION_ID, core.PrintableString(transaction_id)),
        (_OID_MESSAGE_TYPE, core.PrintableString(message_type.value)),
        (_OID_SENDER_NONCE, core.OctetString(nonce)),
    ]
    der = _cms.sign(enveloped, attributes, signer_key, signer_cert, algorithms.digest)
    return PkiRequest(der, message_type, transaction_id, nonce, algorithms)


def load_csr(csr_der: bytes) -> x509.CertificateSigningRequest:
    try:
        return x509.load_der_x509_csr(csr_der)
    except ValueError:
        raise PkiError(ErrorCode.MALFORMED_CSR, "the certificate request does not parse") from None


def rsa_public_key(key: object, what: str) -> rsa.RSAPublicKey:
    """``key`` if it is an RSA public key; SCEP's key transport and micromdm need RSA."""
    if isinstance(key, rsa.RSAPublicKey):
        return key
    raise PkiError(
        ErrorCode.UNSUPPORTED_KEY_PARAMETERS,
        f"SCEP needs RSA keys (RFC 8894 section 2.3), and {what} is not RSA",
    )


# --- replies --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnrollResult:
    """A CertRep: the issued certificate, a pending transaction, or the CA's refusal."""

    status: PkiStatus
    transaction_id: str
    certificate: x509.Certificate | None = None
    extra_certificates: tuple[x509.Certificate, ...] = ()
    fail_info: FailInfo | None = None
    detail: str = ""  # FAILURE: failInfo name, and the CA's failInfoText when sent
    source: str = field(default="the CA", compare=False)

    @property
    def error(self) -> PkiError | None:
        """For FAILURE, the ``ca-rejected`` error to raise; otherwise None."""
        if self.status is not PkiStatus.FAILURE:
            return None
        hint = _FAIL_INFO_HINT.get(self.fail_info) if self.fail_info else None
        message = f"{self.source} rejected the request ({self.detail})"
        return PkiError(
            ErrorCode.CA_REJECTED,
            f"{message}: {hint}" if hint else message,
            {"fail-info": self.detail, "transaction-id": self.transaction_id},
        )


def parse_cert_rep(
    der: bytes,
    request: PkiRequest,
    signer_key: rsa.RSAPrivateKey,
    signer_cert: x509.Certificate,
    ca_certs: CaCerts,
    certified_key: rsa.RSAPublicKey,
    source: str = "the CA",
) -> EnrollResult:
    """Verify and read a CertRep answering ``request``.

    The signature must come from the CA or an RA certificate (never from certificates the
    reply carries), and the reply must echo our transactionID and senderNonce (RFC 8894
    section 3.2.1.5).  On SUCCESS the degenerate PKCS #7 is decrypted with our signer key
    and the certificate for ``certified_key`` picked out of it.
    """
    with _parse_guard(source, "CertRep"):
        message = _cms.verify(der, ca_certs.verifiers)
        status = _check_reply(message.attributes, request)
        tid = request.transaction_id
        if status is PkiStatus.PENDING:
            return EnrollResult(PkiStatus.PENDING, tid, source=source)
        if status is PkiStatus.FAILURE:
            fail_info, detail = _failure(message.attributes)
            return EnrollResult(
                PkiStatus.FAILURE, tid, fail_info=fail_info, detail=detail, source=source
            )
        degenerate = _cms.decrypt(message.content, signer_cert, signer_key)
        issued, extra = _pick_issued(degenerate, certified_key)
        return EnrollResult(PkiStatus.SUCCESS, tid, issued, extra, source=source)


def _text_attribute(attributes: Mapping[str, core.Asn1Value], oid: str, name: str) -> str:
    value = attributes.get(oid)
    native = value.native if value is not None else None
    if not isinstance(native, str):
        raise _cms.CmsError(f"{name} attribute missing or not a string")
    return native


def _check_reply(attributes: Mapping[str, core.Asn1Value], request: PkiRequest) -> PkiStatus:
    message_type = _text_attribute(attributes, _OID_MESSAGE_TYPE, "messageType")
    if message_type != MessageType.CERT_REP:
        raise _cms.CmsError(f"messageType {message_type!r} is not CertRep")
    if _text_attribute(attributes, _OID_TRANSACTION_ID, "transactionID") != request.transaction_id:
        raise _cms.CmsError("transactionID does not match the request")
    nonce = attributes.get(_OID_RECIPIENT_NONCE)
    if nonce is None or nonce.native != request.sender_nonce:
        raise _cms.CmsError("recipientNonce does not match the request's senderNonce")
    wire = _text_attribute(attributes, _OID_PKI_STATUS, "pkiStatus")
    if wire not in _STATUS_WIRE:
        raise _cms.CmsError(f"unknown pkiStatus {wire!r}")
    return _STATUS_WIRE[wire]


def _failure(attributes: Mapping[str, core.Asn1Value]) -> tuple[FailInfo | None, str]:
    """failInfo by name (an unknown value is kept as text), plus any failInfoText."""
    wire = _text_attribute(attributes, _OID_FAIL_INFO, "failInfo")
    fail_info = _FAIL_INFO_WIRE.get(wire)
    detail = fail_info.value if fail_info else f"failInfo {quote_server_text(wire)}"
    text = attributes.get(_OID_FAIL_INFO_TEXT)
    if text is not None and isinstance(text.native, str):
        detail += f": {quote_server_text(text.native)}"
    return fail_info, detail


def _pick_issued(
    degenerate: bytes, certified_key: rsa.RSAPublicKey
) -> tuple[x509.Certificate, tuple[x509.Certificate, ...]]:
    certs = pkcs7.load_der_pkcs7_certificates(degenerate)
    wanted = _spki(certified_key)
    issued = [c for c in certs if _spki(c.public_key()) == wanted]
    if not issued:
        raise _cms.CmsError(f"none of the {len(certs)} certificates returned is for our key")
    return issued[0], tuple(c for c in certs if c is not issued[0])


def _spki(key: object) -> bytes:
    if not isinstance(key, rsa.RSAPublicKey):
        return b""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@contextlib.contextmanager
def _parse_guard(source: str, what: str) -> Iterator[None]:
    """Turn every way a hostile or broken answer can fail to parse into one clear error.

    asn1crypto parses lazily and may raise ValueError, TypeError, KeyError or IndexError
    from anywhere; cryptography adds UnsupportedAlgorithm.  This boundary is the only place
    they are caught, as h11 converts its errors once at the receive boundary.
    """
    try:
        yield
    except (ValueError, TypeError, LookupError, UnsupportedAlgorithm) as exc:
        raise _bad_response(source, f"malformed {what}: {exc}") from exc


def _bad_response(source: str, reason: str) -> PkiError:
    return PkiError(
        ErrorCode.CA_UNREACHABLE,
        f"{source} did not answer as a SCEP server: {quote_server_text(reason)}",
        {"detail": "bad-response"},
    )


def quote_server_text(text: str, secret: str | None = None) -> str:
    """Server-supplied text made safe to show: printable, bounded, secret scrubbed."""
    if secret:
        text = text.replace(secret, "***")
    text = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return text if len(text) <= _QUOTE_LIMIT else text[:_QUOTE_LIMIT] + "..."
