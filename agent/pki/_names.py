"""How X.509 names, alternative names, usages and algorithms are spelled in state data.

One place for these spellings so that certificates and certificate requests print the same
way.  Subjects are RFC 4514 strings (most specific RDN first, as the YANG model's example
'CN=Root CA,O=Example,C=US'), with the PKCS #9 and X.520 attributes that devices use spelled
by their registered LDAP names instead of dotted OIDs, so Cisco's
'unstructuredName=myrouter.mydomain.com' reads as on the router.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, SignatureAlgorithmOID

__all__ = [
    "extended_key_usage_names",
    "general_name_str",
    "key_usage_names",
    "name_str",
    "signature_algorithm_name",
]

_NAME_OVERRIDES = {
    NameOID.EMAIL_ADDRESS: "emailAddress",
    NameOID.UNSTRUCTURED_NAME: "unstructuredName",
    NameOID.SERIAL_NUMBER: "serialNumber",
}

_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
    ExtendedKeyUsageOID.IPSEC_IKE: "ipsecIKE",
    ExtendedKeyUsageOID.SMARTCARD_LOGON: "msSmartcardLogin",
    ExtendedKeyUsageOID.KERBEROS_PKINIT_KDC: "pkInitKDC",
}

# The names of RFC 5280 / RFC 8410 / RFC 5758, as OpenSSL prints them.
_SIGNATURE_NAMES = {
    SignatureAlgorithmOID.RSA_WITH_MD5: "md5WithRSAEncryption",
    SignatureAlgorithmOID.RSA_WITH_SHA1: "sha1WithRSAEncryption",
    SignatureAlgorithmOID.RSA_WITH_SHA224: "sha224WithRSAEncryption",
    SignatureAlgorithmOID.RSA_WITH_SHA256: "sha256WithRSAEncryption",
    SignatureAlgorithmOID.RSA_WITH_SHA384: "sha384WithRSAEncryption",
    SignatureAlgorithmOID.RSA_WITH_SHA512: "sha512WithRSAEncryption",
    SignatureAlgorithmOID.RSASSA_PSS: "rsassaPss",
    SignatureAlgorithmOID.ECDSA_WITH_SHA1: "ecdsa-with-SHA1",
    SignatureAlgorithmOID.ECDSA_WITH_SHA224: "ecdsa-with-SHA224",
    SignatureAlgorithmOID.ECDSA_WITH_SHA256: "ecdsa-with-SHA256",
    SignatureAlgorithmOID.ECDSA_WITH_SHA384: "ecdsa-with-SHA384",
    SignatureAlgorithmOID.ECDSA_WITH_SHA512: "ecdsa-with-SHA512",
    SignatureAlgorithmOID.ED25519: "ED25519",
    SignatureAlgorithmOID.ED448: "ED448",
    SignatureAlgorithmOID.DSA_WITH_SHA1: "dsaWithSHA1",
    SignatureAlgorithmOID.DSA_WITH_SHA256: "dsa_with_SHA256",
}

_KEY_USAGE_FLAGS = (
    ("digital_signature", "digitalSignature"),
    ("content_commitment", "nonRepudiation"),
    ("key_encipherment", "keyEncipherment"),
    ("data_encipherment", "dataEncipherment"),
    ("key_agreement", "keyAgreement"),
    ("key_cert_sign", "keyCertSign"),
    ("crl_sign", "cRLSign"),
)


def name_str(name: x509.Name) -> str:
    return name.rfc4514_string(_NAME_OVERRIDES)


def general_name_str(general_name: x509.GeneralName) -> str:
    """'<type>:<value>' as in the YANG examples ('DNS:router.example.com', 'IP:192.0.2.1')."""
    if isinstance(general_name, x509.DNSName):
        return f"DNS:{general_name.value}"
    if isinstance(general_name, x509.IPAddress):
        return f"IP:{general_name.value}"
    if isinstance(general_name, x509.RFC822Name):
        return f"email:{general_name.value}"
    if isinstance(general_name, x509.UniformResourceIdentifier):
        return f"URI:{general_name.value}"
    if isinstance(general_name, x509.DirectoryName):
        return f"DirName:{name_str(general_name.value)}"
    if isinstance(general_name, x509.RegisteredID):
        return f"RID:{general_name.value.dotted_string}"
    if isinstance(general_name, x509.OtherName):
        return f"othername:{general_name.type_id.dotted_string}"
    return f"unknown:{type(general_name).__name__}"


def key_usage_names(usage: x509.KeyUsage) -> tuple[str, ...]:
    names = [label for attr, label in _KEY_USAGE_FLAGS if getattr(usage, attr)]
    if usage.key_agreement:
        # encipher_only/decipher_only are defined only with keyAgreement (RFC 5280 4.2.1.3).
        names += [
            n
            for n, on in (
                ("encipherOnly", usage.encipher_only),
                ("decipherOnly", usage.decipher_only),
            )
            if on
        ]
    return tuple(names)


def extended_key_usage_names(usages: x509.ExtendedKeyUsage) -> tuple[str, ...]:
    return tuple(_EKU_NAMES.get(oid, oid.dotted_string) for oid in usages)


def signature_algorithm_name(oid: x509.ObjectIdentifier) -> str:
    return _SIGNATURE_NAMES.get(oid, oid.dotted_string)
