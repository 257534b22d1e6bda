"""The PKI engine; knows nothing of NETCONF.

A flat public namespace in the manner of ``cryptography.x509``: the key store, certificate and
request loaders, the vocabularies (spelled as the YANG modules spell them) and the one error
class.  The modules behind it are ``keystore``, ``certs``, ``csr``, ``errors``, ``trustpool``,
``fetch``, ``revocation`` and ``verify``; names
starting with ``_`` are internal.  Only this package imports ``cryptography``/``asn1crypto``.
"""

from agent.pki._keyio import PrivateKey, PublicKey
from agent.pki._vocab import Digest, KeyAlgorithm, KeyFormat, KeyOrigin, KeyRole, KeyUsage
from agent.pki.certs import Certificate, ValidityStatus, load_certificate, load_certificates
from agent.pki.csr import CsrInfo, Entity, Subject, build_csr, load_csr_info
from agent.pki.errors import ErrorCode, PkiError
from agent.pki.fetch import Fetcher, UrlFetcher, fetch_url
from agent.pki.keystore import (
    GeneratedKeys,
    KeyComponent,
    KeyInfo,
    KeyStore,
    WeakKeyWarning,
    new_key_pairs,
)
from agent.pki.revocation import CrlCache, RevocationPolicy, RevocationResult, check_revocation
from agent.pki.trustpool import (
    PoolChange,
    PoolEntry,
    TrustPool,
    UpdateStatus,
    load_builtin,
    next_update_time,
    parse_bundle,
)
from agent.pki.verify import Anchor, Verdict, verify_chain

__all__ = [
    "Anchor",
    "Certificate",
    "CrlCache",
    "CsrInfo",
    "Digest",
    "Entity",
    "ErrorCode",
    "Fetcher",
    "GeneratedKeys",
    "KeyAlgorithm",
    "KeyComponent",
    "KeyFormat",
    "KeyInfo",
    "KeyOrigin",
    "KeyRole",
    "KeyStore",
    "KeyUsage",
    "PkiError",
    "PoolChange",
    "PoolEntry",
    "PrivateKey",
    "PublicKey",
    "RevocationPolicy",
    "RevocationResult",
    "Subject",
    "TrustPool",
    "UpdateStatus",
    "UrlFetcher",
    "ValidityStatus",
    "Verdict",
    "WeakKeyWarning",
    "build_csr",
    "check_revocation",
    "fetch_url",
    "load_builtin",
    "load_certificate",
    "load_certificates",
    "load_csr_info",
    "new_key_pairs",
    "next_update_time",
    "parse_bundle",
    "verify_chain",
]
