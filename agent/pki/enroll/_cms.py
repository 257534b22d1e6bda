"""The CMS (PKCS #7) that SCEP needs beyond what cryptography's builders offer.

cryptography builds EnvelopedData with AES, but its SignedData builder cannot carry the
custom authenticated attributes every SCEP message relies on (messageType, transactionID,
nonces), and its decryption handles only AES while real CAs answer with DES or triple DES
(micromdm's pkcs7 library encrypts every CertRep with single DES-CBC).  So SignedData is
assembled and checked here with asn1crypto, with every signature, hash and cipher operation
done by cryptography; EnvelopedData uses cryptography's builder for AES and asn1crypto for
the triple-DES fallback of RFC 8894 section 3.5.2.

Everything here is pure: bytes and keys in, bytes or :class:`CmsError` out.  asn1crypto
parses lazily and raises plain ValueError, TypeError and friends from deep inside; callers
treat those like :class:`CmsError` (see ``_scep._parse_guard``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from asn1crypto import algos, cms, core, parser  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as block_padding
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm, Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import pkcs7

from agent.pki._encoding import der_tlv

__all__ = [
    "CmsError",
    "ContentCipher",
    "SignedMessage",
    "decrypt",
    "envelope",
    "sign",
    "verify",
]

RandomBytes = Callable[[int], bytes]
Attribute = tuple[str, core.Asn1Value]
"""A signed attribute to add: dotted OID and its single value."""

_HASHES: Mapping[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class CmsError(ValueError):
    """A CMS structure is malformed, unverifiable or undecryptable; the text says which."""


class ContentCipher(StrEnum):
    """Content encryption for a request envelope, named after the RFC 8894 capabilities."""

    AES128_CBC = "aes128-cbc"
    DES3_CBC = "des-ede3-cbc"


@dataclass(frozen=True)
class SignedMessage:
    """A verified SignedData: its content, signed attributes (OID -> value) and signer."""

    content: bytes
    attributes: Mapping[str, core.Asn1Value]
    signer: x509.Certificate
    digest: str


def hash_for(name: str) -> hashes.HashAlgorithm:
    """The cryptography hash for an asn1crypto digest name; MD5 and friends are refused."""
    factory = _HASHES.get(name)
    if factory is None:
        raise CmsError(f"unsupported digest algorithm {name}")
    return factory()


def _digest(name: str, data: bytes) -> bytes:
    h = hashes.Hash(hash_for(name))
    h.update(data)
    return h.finalize()


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    """Re-read a certificate with asn1crypto, which keeps the issuer's original bytes."""
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _issuer_and_serial(cert: x509.Certificate) -> cms.IssuerAndSerialNumber:
    # Peers match recipients and signers on the issuer's exact encoding (micromdm compares
    # raw bytes), so take it from the certificate as encoded, never re-encoded.
    tbs = _asn1_cert(cert)["tbs_certificate"]
    return cms.IssuerAndSerialNumber(
        {"issuer": tbs["issuer"], "serial_number": tbs["serial_number"]}
    )


# --- SignedData ---------------------------------------------------------------------------


def sign(
    content: bytes,
    attributes: Sequence[Attribute],
    key: rsa.RSAPrivateKey,
    cert: x509.Certificate,
    digest: str,
) -> bytes:
    """A ContentInfo(SignedData) over ``content`` with contentType, messageDigest and
    ``attributes`` signed (RSA PKCS #1 v1.5), carrying ``cert`` for the recipient.

    The DER is written directly, byte for byte what asn1crypto's cms classes produce (the
    tests compare the two): building it through them costs ~2.5 ms per message, more than
    the RSA signature."""
    algorithm = der_tlv(_SEQUENCE, _oid(digest) + _NULL)
    signed_attrs = _der_set(
        [
            _attribute(_OID_CONTENT_TYPE, _OID_DATA),
            _attribute(_OID_MESSAGE_DIGEST, der_tlv(_OCTETS, _digest(digest, content))),
            *(
                _attribute(core.ObjectIdentifier(oid).dump(), value.dump())
                for oid, value in attributes
            ),
        ]
    )
    # RFC 5652 section 5.4: the signature covers the DER SET OF; the message carries it as
    # [0] IMPLICIT, which only changes the tag byte.
    signature = key.sign(signed_attrs, padding.PKCS1v15(), hash_for(digest))
    tbs = _asn1_cert(cert)["tbs_certificate"]
    signer = der_tlv(
        _SEQUENCE,
        _VERSION_1
        + der_tlv(_SEQUENCE, tbs["issuer"].dump() + tbs["serial_number"].dump())
        + algorithm
        + b"\xa0"
        + signed_attrs[1:]
        + _RSA_PKCS1V15
        + der_tlv(_OCTETS, signature),
    )
    cert_der = cert.public_bytes(serialization.Encoding.DER)
    signed = der_tlv(
        _SEQUENCE,
        _VERSION_1
        + der_tlv(_SET, algorithm)
        + der_tlv(_SEQUENCE, _OID_DATA + der_tlv(0xA0, der_tlv(_OCTETS, content)))
        + der_tlv(0xA0, cert_der)
        + der_tlv(_SET, signer),
    )
    return der_tlv(_SEQUENCE, _OID_SIGNED_DATA + der_tlv(0xA0, signed))


_SEQUENCE, _SET, _OCTETS = 0x30, 0x31, 0x04
_NULL = b"\x05\x00"
_VERSION_1 = b"\x02\x01\x01"
_OID_DATA = bytes.fromhex("06092a864886f70d010701")  # 1.2.840.113549.1.7.1
_OID_SIGNED_DATA = bytes.fromhex("06092a864886f70d010702")  # 1.2.840.113549.1.7.2
_OID_CONTENT_TYPE = bytes.fromhex("06092a864886f70d010903")  # 1.2.840.113549.1.9.3
_OID_MESSAGE_DIGEST = bytes.fromhex("06092a864886f70d010904")  # 1.2.840.113549.1.9.4
_RSA_PKCS1V15 = bytes.fromhex("300d06092a864886f70d0101010500")  # rsaEncryption, NULL


def _oid(digest: str) -> bytes:
    """The DER OID of a digest named as asn1crypto names it (sha256, ...)."""
    hash_for(digest)  # refuses the names we do not sign with
    der: bytes = core.ObjectIdentifier(algos.DigestAlgorithmId.unmap(digest)).dump()
    return der


def _attribute(oid: bytes, value: bytes) -> bytes:
    return der_tlv(_SEQUENCE, oid + der_tlv(_SET, value))


def _der_set(elements: Sequence[bytes]) -> bytes:
    """A DER SET OF: its elements in ascending order of their encodings (X.690 11.6)."""
    return der_tlv(_SET, b"".join(sorted(elements)))


def verify(der: bytes, candidates: Sequence[x509.Certificate]) -> SignedMessage:
    """Check a ContentInfo(SignedData) signed by one of ``candidates``; return what it says.

    Certificates carried in the message are ignored on purpose: the signer must be a
    certificate the caller already trusts (RFC 8894: the CA or RA from GetCACert).
    """
    info = cms.ContentInfo.load(der, strict=True)
    if info["content_type"].native != "signed_data":
        raise CmsError(f"expected CMS SignedData, got {info['content_type'].native}")
    signed = info["content"]
    if len(signed["signer_infos"]) != 1:
        raise CmsError(f"expected one signer, found {len(signed['signer_infos'])}")
    signer_info = signed["signer_infos"][0]
    signer = _find_signer(signer_info["sid"], candidates)
    content = _encapsulated_content(signed["encap_content_info"])
    attributes = _signed_attributes(signer_info)
    digest = signer_info["digest_algorithm"]["algorithm"].native
    content_type = attributes.get("1.2.840.113549.1.9.3")
    if not isinstance(content_type, core.ObjectIdentifier) or content_type.native != "data":
        raise CmsError("contentType attribute missing or not id-data")
    expected = attributes.get("1.2.840.113549.1.9.4")
    if not isinstance(expected, core.OctetString) or expected.native != _digest(digest, content):
        raise CmsError("messageDigest attribute does not match the content")
    _check_signature(signer, signer_info, digest)
    return SignedMessage(content=content, attributes=attributes, signer=signer, digest=digest)


def _find_signer(
    sid: cms.SignerIdentifier, candidates: Sequence[x509.Certificate]
) -> x509.Certificate:
    for cert in candidates:
        parsed = _asn1_cert(cert)
        if sid.name == "issuer_and_serial_number":
            if sid.chosen["serial_number"].native == parsed.serial_number and _same_name(
                sid.chosen["issuer"], parsed.issuer
            ):
                return cert
        elif sid.name == "subject_key_identifier" and sid.chosen.native == parsed.key_identifier:
            return cert
    raise CmsError("signed by a certificate that is neither the CA's nor an RA's")


def _same_name(a: asn1_x509.Name, b: asn1_x509.Name) -> bool:
    """RFC 5280 name comparison; equal encodings (the usual case) skip asn1crypto's costly
    string preparation."""
    return bool(a.dump() == b.dump() or a == b)


def _encapsulated_content(eci: cms.EncapsulatedContentInfo) -> bytes:
    if eci["content_type"].native != "data":
        raise CmsError(f"expected id-data content, got {eci['content_type'].native}")
    content = eci["content"]
    if isinstance(content, core.Void):  # FAILURE and PENDING replies carry no content
        return b""
    value = content.native
    if not isinstance(value, bytes):
        raise CmsError("encapsulated content is not an OCTET STRING")
    return value


def _signed_attributes(signer_info: cms.SignerInfo) -> dict[str, core.Asn1Value]:
    attrs = signer_info["signed_attrs"]
    if isinstance(attrs, core.Void) or len(attrs) == 0:
        raise CmsError("the signer has no signed attributes")
    out: dict[str, core.Asn1Value] = {}
    for attr in attrs:
        oid = attr["type"].dotted
        values = attr["values"]
        if oid in out or len(values) != 1:
            raise CmsError(f"attribute {oid} must appear once with one value")
        out[oid] = values[0]
    return out


def _check_signature(signer: x509.Certificate, signer_info: cms.SignerInfo, digest: str) -> None:
    # The signature covers the attributes as a SET OF: the received [0] IMPLICIT encoding
    # with its tag byte replaced, so a non-sorted but signed order still verifies.
    data = b"\x31" + signer_info["signed_attrs"].dump()[1:]
    signature = signer_info["signature"].native
    algorithm = signer_info["signature_algorithm"].signature_algo
    key = signer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm == "rsassa_pkcs1v15":
            key.verify(signature, data, padding.PKCS1v15(), hash_for(digest))
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm == "ecdsa":
            key.verify(signature, data, ec.ECDSA(hash_for(digest)))
        else:
            raise CmsError(f"unsupported signature algorithm {algorithm}")
    except InvalidSignature:
        raise CmsError("the signature does not verify with the CA/RA certificate") from None


# --- EnvelopedData --------------------------------------------------------------------------

# asn1crypto algorithm name -> (cipher factory, key length, block length).  Single DES is
# accepted only for decryption, and only because a CertRep's encrypted content is a
# certificate, which is public: its integrity comes from the signature, not the cipher.
# Triple DES with K1 = K2 = K3 is DES, which spares us a cipher cryptography dropped.
_CIPHERS: Mapping[str, tuple[Callable[[bytes], BlockCipherAlgorithm], int, int]] = {
    "des": (lambda k: TripleDES(k * 3), 8, 8),
    "tripledes_3key": (TripleDES, 24, 8),
    "aes128_cbc": (algorithms.AES, 16, 16),
    "aes192_cbc": (algorithms.AES, 24, 16),
    "aes256_cbc": (algorithms.AES, 32, 16),
}


def envelope(
    data: bytes, recipient: x509.Certificate, cipher: ContentCipher, random: RandomBytes
) -> bytes:
    """A ContentInfo(EnvelopedData) of ``data`` for ``recipient`` (RSA key transport)."""
    if cipher is ContentCipher.AES128_CBC:
        builder = (
            pkcs7.PKCS7EnvelopeBuilder()
            .set_data(data)
            .add_recipient(recipient)
            .set_content_encryption_algorithm(algorithms.AES128)
        )
        return builder.encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    return _envelope_des3(data, recipient, random)


def _envelope_des3(data: bytes, recipient: x509.Certificate, random: RandomBytes) -> bytes:
    """Triple-DES EnvelopedData: cryptography's builder offers AES only."""
    public_key = recipient.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise CmsError("the recipient certificate has no RSA key")
    key, iv = random(24), random(8)
    padder = block_padding.PKCS7(64).padder()
    encryptor = Cipher(TripleDES(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padder.update(data) + padder.finalize()) + encryptor.finalize()
    ktri = cms.KeyTransRecipientInfo(
        {
            "version": "v0",
            "rid": cms.RecipientIdentifier(
                name="issuer_and_serial_number", value=_issuer_and_serial(recipient)
            ),
            "key_encryption_algorithm": {"algorithm": "rsaes_pkcs1v15", "parameters": None},
            "encrypted_key": public_key.encrypt(key, padding.PKCS1v15()),
        }
    )
    enveloped = cms.EnvelopedData(
        {
            "version": "v0",
            "recipient_infos": [cms.RecipientInfo(name="ktri", value=ktri)],
            "encrypted_content_info": {
                "content_type": "data",
                "content_encryption_algorithm": {"algorithm": "tripledes_3key", "parameters": iv},
                "encrypted_content": ciphertext,
            },
        }
    )
    der: bytes = cms.ContentInfo({"content_type": "enveloped_data", "content": enveloped}).dump()
    return der


class _EncryptedContentInfo(core.Sequence):  # type: ignore[misc]
    """cms.EncryptedContentInfo, but taking ``encryptedContent`` raw.

    Go's pkcs7 (micromdm) sends it as a *constructed* [0] of OCTET STRING chunks with
    definite lengths: valid BER that asn1crypto refuses, so the chunks are joined here.
    """

    _fields: ClassVar[list[tuple[object, ...]]] = [
        ("content_type", cms.ContentType),
        ("content_encryption_algorithm", cms.EncryptionAlgorithm),
        ("encrypted_content", core.Any, {"optional": True}),
    ]


class _EnvelopedData(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[tuple[object, ...]]] = [
        ("version", cms.CMSVersion),
        ("originator_info", cms.OriginatorInfo, {"implicit": 0, "optional": True}),
        ("recipient_infos", cms.RecipientInfos),
        ("encrypted_content_info", _EncryptedContentInfo),
        ("unprotected_attrs", cms.CMSAttributes, {"implicit": 1, "optional": True}),
    ]


class _EnvelopedContentInfo(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[tuple[object, ...]]] = [
        ("content_type", cms.ContentType),
        ("content", _EnvelopedData, {"explicit": 0}),
    ]


def decrypt(der: bytes, cert: x509.Certificate, key: rsa.RSAPrivateKey) -> bytes:
    """The plaintext of a ContentInfo(EnvelopedData) addressed to ``cert``."""
    info = _EnvelopedContentInfo.load(der, strict=True)
    if info["content_type"].native != "enveloped_data":
        raise CmsError(f"expected CMS EnvelopedData, got {info['content_type'].native}")
    enveloped = info["content"]
    ktri = _recipient_for(enveloped["recipient_infos"], cert)
    if ktri["key_encryption_algorithm"]["algorithm"].native != "rsaes_pkcs1v15":
        raise CmsError("unsupported key transport (expected RSA PKCS #1 v1.5)")
    try:
        content_key = key.decrypt(ktri["encrypted_key"].native, padding.PKCS1v15())
    except ValueError:
        raise CmsError("cannot decrypt the content key with our key") from None
    eci = enveloped["encrypted_content_info"]
    if eci["content_type"].native != "data":
        raise CmsError(f"expected id-data content, got {eci['content_type'].native}")
    ciphertext = _encrypted_content(eci)
    return _decrypt_content(eci["content_encryption_algorithm"], content_key, ciphertext)


def _encrypted_content(eci: _EncryptedContentInfo) -> bytes:
    """The bytes of ``encryptedContent`` ([0] IMPLICIT OCTET STRING), primitive or chunked."""
    elements = list(_elements(eci.contents))
    if len(elements) != 3:
        raise CmsError("the envelope has no encrypted content")
    class_, method, tag, contents = elements[2]
    if (class_, tag) != (2, 0):
        raise CmsError("encrypted content is not tagged [0]")
    if method == 0:
        return contents
    chunks: list[bytes] = []
    for class_, method, tag, chunk in _elements(contents):
        if (class_, method, tag) != (0, 0, 4):
            raise CmsError("encrypted content chunk is not a primitive OCTET STRING")
        chunks.append(chunk)
    return b"".join(chunks)


def _elements(data: bytes) -> Iterator[tuple[int, int, int, bytes]]:
    """(class, method, tag, contents) of each BER element in ``data``, in order."""
    while data:
        class_, method, tag, header, contents, trailer = parser.parse(data)
        yield class_, method, tag, bytes(contents)
        data = data[len(header) + len(contents) + len(trailer) :]


def _recipient_for(
    recipients: cms.RecipientInfos, cert: x509.Certificate
) -> cms.KeyTransRecipientInfo:
    ours = _asn1_cert(cert)
    for recipient in recipients:
        if recipient.name != "ktri":
            continue
        rid = recipient.chosen["rid"]
        if rid.name == "issuer_and_serial_number":
            ias = rid.chosen
            if ias["serial_number"].native == ours.serial_number and _same_name(
                ias["issuer"], ours.issuer
            ):
                return recipient.chosen
        elif rid.chosen.native == ours.key_identifier:
            return recipient.chosen
    raise CmsError("the envelope is not addressed to our certificate")


def _decrypt_content(algorithm: cms.EncryptionAlgorithm, key: bytes, ciphertext: bytes) -> bytes:
    name = algorithm["algorithm"].native
    if name not in _CIPHERS:
        raise CmsError(f"unsupported content encryption {name}")
    factory, key_length, block = _CIPHERS[name]
    iv = algorithm["parameters"].native
    if len(key) != key_length or not isinstance(iv, bytes) or len(iv) != block:
        raise CmsError(f"bad key or IV length for {name}")
    if not ciphertext or len(ciphertext) % block:
        raise CmsError("encrypted content is not a whole number of blocks")
    decryptor = Cipher(factory(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = block_padding.PKCS7(block * 8).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise CmsError("bad padding in the decrypted content") from None
