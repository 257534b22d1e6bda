"""PKCS #10 certificate requests from a trustpoint's subject (Huawei's "entity").

The subject follows the two vendor documents: the distinguished name comes from the entity
fields (Huawei ``pki entity``: CN, OU, O, L, ST, C, plus Cisco's optional serialNumber); when
none is set, the subject is ``unstructuredName=<hostname>.<domain>`` alone, exactly what Cisco's
example certificate shows.  Names that identify the device on the network go in
subjectAltName: the FQDN as dNSName (the entity's, or the device FQDN by default), the IP
address as iPAddress and the e-mail address as rfc822Name.  A challenge password is the PKCS #9
challengePassword attribute (SCEP's authorization, RFC 8894 section 2.2); it is never kept.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import AttributeOID, NameOID

from agent.pki._encoding import iter_pem_blocks, looks_like_pem, pem_encode
from agent.pki._keyio import PrivateKey, classify, spki_der
from agent.pki._names import general_name_str, key_usage_names, name_str, signature_algorithm_name
from agent.pki._vocab import Digest, KeyAlgorithm, KeyRole
from agent.pki.errors import ErrorCode, PkiError

__all__ = ["CsrInfo", "Entity", "Subject", "build_csr", "load_csr_info"]

MAX_CSR_SIZE = 1 << 20

# Most significant first in the encoding (C ... CN), so RFC 4514 prints CN first.
_DN_ATTRIBUTES = (
    ("country", NameOID.COUNTRY_NAME),
    ("state", NameOID.STATE_OR_PROVINCE_NAME),
    ("locality", NameOID.LOCALITY_NAME),
    ("organization", NameOID.ORGANIZATION_NAME),
    ("organizational_unit", NameOID.ORGANIZATIONAL_UNIT_NAME),
    ("common_name", NameOID.COMMON_NAME),
    ("serial_number", NameOID.SERIAL_NUMBER),
)
_HASHES: dict[Digest, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    Digest.SHA256: hashes.SHA256,
    Digest.SHA384: hashes.SHA384,
    Digest.SHA512: hashes.SHA512,
}


@dataclass(frozen=True, slots=True)
class Entity:
    """What a trustpoint asks to be certified as (``trustpoint/subject`` in YANG).

    ``serial_number`` is the device serial number, set when the trustpoint's
    include-serial-number is true.  Values are taken as given; the YANG model has already
    checked their syntax.
    """

    common_name: str | None = None
    organizational_unit: str | None = None
    organization: str | None = None
    locality: str | None = None
    state: str | None = None
    country: str | None = None
    email: str | None = None
    fqdn: str | None = None
    ip_address: str | None = None
    serial_number: str | None = None

    @property
    def has_dn(self) -> bool:
        """True if any distinguished-name field is set (fqdn, ip and email are alt names)."""
        return any(getattr(self, attr) for attr, _oid in _DN_ATTRIBUTES)


Subject = Entity


@dataclass(frozen=True, slots=True)
class CsrInfo:
    """A decoded certificate request, for state, logs and tests.  No challenge password."""

    subject: str
    subject_alt_names: tuple[str, ...]
    key_usage: tuple[str, ...]
    public_key_algorithm: KeyAlgorithm | None
    key_size: int | None
    signature_algorithm: str
    signature_valid: bool
    has_challenge_password: bool
    public_key_der: bytes = field(repr=False)
    der: bytes = field(repr=False)
    pem: str = field(repr=False)


def build_csr(
    private_key: PrivateKey,
    entity: Entity,
    *,
    fqdn_default: str | None,
    challenge_password: str | None = None,
    signature_hash: Digest = Digest.SHA256,
    role: KeyRole = KeyRole.GENERAL,
) -> bytes:
    """A signed PKCS #10 request as PEM.

    ``fqdn_default`` is the device FQDN (hostname.domain): the subject when the entity has no
    DN field, and the dNSName when the entity has no fqdn.  ``role`` adds a keyUsage request
    for the signature or encryption pair of usage-keys.  Ed25519 signs without a hash.
    Raises PkiError invalid-subject (a field the library refuses, or no subject at all) or
    unsupported-key-parameters (the key cannot sign with ``signature_hash``).

    PKCS #10 carries the challenge password in clear: a request built with one must be sent,
    never logged or stored.
    """
    fqdn = entity.fqdn or fqdn_default
    builder = x509.CertificateSigningRequestBuilder().subject_name(_subject(entity, fqdn))
    alt_names = _alt_names(entity, fqdn)
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    if role is not KeyRole.GENERAL:
        # usage-keys: each pair asks only for what its role is for (Cisco's signature and
        # encryption certificates); a general pair leaves the choice to the CA.
        builder = builder.add_extension(_key_usage(role), critical=True)
    if challenge_password:
        builder = builder.add_attribute(
            AttributeOID.CHALLENGE_PASSWORD, challenge_password.encode("utf-8")
        )
    return _sign(builder, private_key, signature_hash).public_bytes(Encoding.PEM)


def load_csr_info(data: bytes) -> CsrInfo:
    """Decode a PKCS #10 request (PEM or DER).  Raises PkiError malformed-csr."""
    if len(data) > MAX_CSR_SIZE:
        raise PkiError(ErrorCode.MALFORMED_CSR, "the certificate request is larger than 1 MiB")
    try:
        csr = x509.load_der_x509_csr(_csr_der(data))
        return _describe(csr)
    except (ValueError, TypeError, UnsupportedAlgorithm, x509.DuplicateExtension) as exc:
        raise PkiError(ErrorCode.MALFORMED_CSR, "not a PKCS #10 certificate request") from exc


# ---------------------------------------------------------------------------------------------
# internals


def _subject(entity: Entity, fqdn: str | None) -> x509.Name:
    attributes: list[x509.NameAttribute[str]] = []
    for attr, oid in _DN_ATTRIBUTES:
        if value := getattr(entity, attr):
            with _leaf(attr):
                attributes.append(x509.NameAttribute(oid, value))
    if attributes:
        return x509.Name(attributes)
    if not fqdn:
        raise PkiError(
            ErrorCode.INVALID_SUBJECT,
            "no subject: set a subject field of the trustpoint, or the device hostname and "
            "domain name",
        )
    with _leaf("fqdn"):
        return x509.Name([x509.NameAttribute(NameOID.UNSTRUCTURED_NAME, fqdn)])


def _alt_names(entity: Entity, fqdn: str | None) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    with _leaf("fqdn"):
        if fqdn:
            names.append(x509.DNSName(fqdn))
    with _leaf("ip_address"):
        if entity.ip_address:
            names.append(x509.IPAddress(ipaddress.ip_address(entity.ip_address)))
    with _leaf("email"):
        if entity.email:
            names.append(x509.RFC822Name(entity.email))
    return names


@contextmanager
def _leaf(attr: str) -> Iterator[None]:
    """Report the library's ValueError against the YANG leaf the value came from."""
    try:
        yield
    except ValueError as exc:
        leaf = attr.replace("_", "-")
        raise PkiError(
            ErrorCode.INVALID_SUBJECT, f"subject {leaf} is not valid: {exc}", {"field": leaf}
        ) from exc


def _key_usage(role: KeyRole) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=role is KeyRole.SIGNATURE,
        content_commitment=False,
        key_encipherment=role is KeyRole.ENCRYPTION,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _sign(
    builder: x509.CertificateSigningRequestBuilder, key: PrivateKey, digest: Digest
) -> x509.CertificateSigningRequest:
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else _HASHES[digest]()
    try:
        return builder.sign(key, algorithm)
    except ValueError as exc:
        raise PkiError(
            ErrorCode.UNSUPPORTED_KEY_PARAMETERS,
            f"the key cannot sign a request with {digest.value}; use a larger key or sha256",
        ) from exc


def _csr_der(data: bytes) -> bytes:
    if not looks_like_pem(data):
        return data
    for block in iter_pem_blocks(data):
        if block.label in ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"):
            return block.der()
    raise ValueError("no PEM CERTIFICATE REQUEST block")


def _describe(csr: x509.CertificateSigningRequest) -> CsrInfo:
    der = csr.public_bytes(Encoding.DER)
    key = csr.public_key()
    algorithm, size = classify(key)
    try:
        csr.attributes.get_attribute_for_oid(AttributeOID.CHALLENGE_PASSWORD)
        has_password = True
    except x509.AttributeNotFound:
        has_password = False
    return CsrInfo(
        subject=name_str(csr.subject),
        subject_alt_names=_csr_alt_names(csr),
        key_usage=_csr_key_usage(csr),
        public_key_algorithm=algorithm,
        key_size=size,
        signature_algorithm=signature_algorithm_name(csr.signature_algorithm_oid),
        signature_valid=_signature_valid(csr),
        has_challenge_password=has_password,
        public_key_der=spki_der(key),
        der=der,
        pem=pem_encode("CERTIFICATE REQUEST", der),
    )


def _signature_valid(csr: x509.CertificateSigningRequest) -> bool:
    try:
        return csr.is_signature_valid
    except (InvalidSignature, UnsupportedAlgorithm):
        return False


def _csr_alt_names(csr: x509.CertificateSigningRequest) -> tuple[str, ...]:
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(general_name_str(n) for n in san)


def _csr_key_usage(csr: x509.CertificateSigningRequest) -> tuple[str, ...]:
    try:
        usage = csr.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return ()
    return key_usage_names(usage)
