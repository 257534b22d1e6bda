"""The PKI engine; knows nothing of NETCONF.

A flat public namespace in the manner of ``cryptography.x509``: the key store, certificate and
request loaders, the vocabularies (spelled as the YANG modules spell them) and the one error
class.  The modules behind it are ``keystore``, ``certs``, ``csr`` and ``errors``; names
starting with ``_`` are internal.  Only this package imports ``cryptography``/``asn1crypto``.
"""

from agent.pki._keyio import PrivateKey, PublicKey
from agent.pki._vocab import Digest, KeyAlgorithm, KeyFormat, KeyOrigin, KeyRole, KeyUsage
from agent.pki.certs import Certificate, ValidityStatus, load_certificate, load_certificates
from agent.pki.csr import CsrInfo, Entity, Subject, build_csr, load_csr_info
from agent.pki.errors import ErrorCode, PkiError
from agent.pki.keystore import KeyComponent, KeyInfo, KeyStore, WeakKeyWarning

__all__ = [
    "Certificate",
    "CsrInfo",
    "Digest",
    "Entity",
    "ErrorCode",
    "KeyAlgorithm",
    "KeyComponent",
    "KeyFormat",
    "KeyInfo",
    "KeyOrigin",
    "KeyRole",
    "KeyStore",
    "KeyUsage",
    "PkiError",
    "PrivateKey",
    "PublicKey",
    "Subject",
    "ValidityStatus",
    "WeakKeyWarning",
    "build_csr",
    "load_certificate",
    "load_certificates",
    "load_csr_info",
]
