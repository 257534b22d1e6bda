"""Certificate path validation against trustpoint CAs, then the trust pool, with revocation.

Why the checks are split this way: ``cryptography.x509.verification`` is the authority on
path building, signatures, basic and name constraints; but its errors are prose meant for
developers.  The operator needs one of the YANG ``verify-failure`` identities and a sentence
naming the certificate at fault, so the cheap, precisely explainable checks (validity dates,
name, purpose, a known issuer) run first, and a failure of the library is then diagnosed by
walking the chain link by link.

Precedence (seed 003, "Handling of CA Certificates appearing both in Trust Pool and Trust
Point"): the trustpoint CAs are consulted before the pool, so a CA present in both validates
as the trustpoint's, under the trustpoint's revocation policy.  The library's Store is built
only from the anchors whose subject is an issuer named in the chain (an index lookup in the
pool), never from the whole pool, so a large pool does not slow verification.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import verification as xv
from cryptography.x509.oid import ExtendedKeyUsageOID

from agent.pki.certs import Certificate, ValidityStatus
from agent.pki.fetch import Fetcher
from agent.pki.revocation import CrlCache, RevocationPolicy, RevocationResult, check_revocation
from agent.pki.trustpool import TrustPool

__all__ = ["FAILURES", "Anchor", "Purpose", "Verdict", "verify_chain"]

Purpose = Literal["any", "server-auth", "client-auth"]
AnchorSource = Literal["trustpoint", "trustpool"]
# The YANG identities (pki-types verify-failure), spelled exactly.
FAILURES = frozenset(
    {
        "untrusted-root",
        "expired",
        "not-yet-valid",
        "revoked",
        "revocation-unknown",
        "bad-signature",
        "purpose-mismatch",
        "path-invalid",
        "name-mismatch",
    }
)
_PURPOSE_EKU = {
    "server-auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client-auth": ExtendedKeyUsageOID.CLIENT_AUTH,
}
_MAX_DEPTH = 8
_E = TypeVar("_E", bound=x509.ExtensionType)


@dataclass(frozen=True, slots=True)
class Anchor:
    """A trusted CA certificate, where it comes from, and the revocation policy it imposes."""

    certificate: Certificate
    source: AnchorSource
    name: str | None
    revocation: RevocationPolicy


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer: trusted or the YANG failure identity, with a sentence saying which and why."""

    trusted: bool
    anchor: Anchor | None
    path: list[Certificate] = field(default_factory=list)
    failure: str | None = None
    detail: str = ""
    revocation: RevocationResult | None = None  # what said revoked, when failure is revoked


class _Failed(Exception):
    """One check failed; ``failure`` is a YANG identity name, the message its detail."""

    def __init__(
        self, failure: str, detail: str, revocation: RevocationResult | None = None
    ) -> None:
        super().__init__(detail)
        self.failure = failure
        self.detail = detail
        self.revocation = revocation


@dataclass(frozen=True, slots=True)
class _Link:
    """A chain certificate with its decoded form (parsed once per verification)."""

    info: Certificate
    x509: x509.Certificate


def verify_chain(
    chain: Sequence[Certificate],
    trustpoint_anchors: Sequence[Anchor],
    pool: TrustPool | None,
    pool_revocation: RevocationPolicy,
    *,
    purpose: Purpose,
    name: str | None,
    at: datetime,
    fetch: Fetcher,
    crl_cache: CrlCache | None = None,
) -> Verdict:
    """Validate ``chain`` (leaf first, intermediates in any order, root optional) at ``at``."""
    if not chain:
        return Verdict(False, None, [], "path-invalid", "no certificate was given")
    links = [_Link(c, x509.load_der_x509_certificate(c.der)) for c in chain]
    try:
        _precheck(links, purpose, name, at)
        anchor, path = _build_path(links, trustpoint_anchors, pool, pool_revocation, at)
    except _Failed as failed:
        return Verdict(False, None, [], failed.failure, failed.detail)
    try:
        _check_path_revocation(path, anchor, fetch, at, crl_cache)
    except _Failed as failed:  # the path was built: say which anchor's policy refused it
        return Verdict(False, anchor, path, failed.failure, failed.detail, failed.revocation)
    return Verdict(True, anchor, path, None, _trusted_detail(anchor, path))


# ---------------------------------------------------------------------------------------------
# checks that need no anchor


def _precheck(links: Sequence[_Link], purpose: Purpose, name: str | None, at: datetime) -> None:
    for link in links:
        _check_dates(link.info, at, "")
    _check_purpose(links[0], purpose)
    if name is not None:
        _check_name(links[0], name)


def _check_dates(cert: Certificate, at: datetime, role: str) -> None:
    status = cert.status_at(at)
    if status is ValidityStatus.EXPIRED:
        raise _Failed(
            "expired", f"{role}certificate {cert.subject} expired on {_z(cert.not_after)}"
        )
    if status is ValidityStatus.NOT_YET_VALID:
        raise _Failed(
            "not-yet-valid",
            f"{role}certificate {cert.subject} is not valid before {_z(cert.not_before)}",
        )


def _check_purpose(leaf: _Link, purpose: Purpose) -> None:
    """An EKU extension, when present, must allow the purpose (RFC 5280 4.2.1.12)."""
    wanted = _PURPOSE_EKU.get(purpose)
    if wanted is None:
        return
    eku = _extension(leaf.x509, x509.ExtendedKeyUsage)
    if eku is None or wanted in eku or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku:
        return
    allowed = ", ".join(leaf.info.extended_key_usage) or "nothing"
    raise _Failed(
        "purpose-mismatch",
        f"certificate {leaf.info.subject} is not for {purpose}; "
        f"its extended key usage allows {allowed}",
    )


def _check_name(leaf: _Link, name: str) -> None:
    san = _extension(leaf.x509, x509.SubjectAlternativeName)
    if san is None:
        raise _Failed(
            "name-mismatch",
            f"certificate {leaf.info.subject} has no subjectAltName to match {name!r}",
        )
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        if any(_dns_matches(pattern, name) for pattern in san.get_values_for_type(x509.DNSName)):
            return
    else:
        if ip in san.get_values_for_type(x509.IPAddress):
            return
    shown = ", ".join(leaf.info.subject_alt_names)
    raise _Failed("name-mismatch", f"certificate {leaf.info.subject} is for {shown}, not {name!r}")


def _dns_matches(pattern: str, name: str) -> bool:
    """RFC 6125 6.4.3: exact (case-insensitive) or a wildcard for the whole leftmost label."""
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if not pattern.startswith("*."):
        return pattern == name
    head, _, rest = name.partition(".")
    return bool(head) and rest == pattern[2:]


# ---------------------------------------------------------------------------------------------
# anchors and the path


def _build_path(
    links: Sequence[_Link],
    trustpoint_anchors: Sequence[Anchor],
    pool: TrustPool | None,
    pool_revocation: RevocationPolicy,
    at: datetime,
) -> tuple[Anchor, list[Certificate]]:
    issuers = {link.x509.issuer.public_bytes() for link in links}
    groups = [
        [a for a in trustpoint_anchors if _subject(a.certificate) in issuers],
        [Anchor(c, "trustpool", None, pool_revocation) for c in _pool_anchors(pool, issuers)],
    ]
    if not groups[0] and not groups[1]:
        top = links[-1].info
        raise _Failed(
            "untrusted-root",
            f"no trusted CA certificate for {top.issuer}, the issuer of {top.subject}",
        )
    errors: list[str] = []
    for group in groups:
        found = _try_group(
            links,
            [a for a in group if a.certificate.status_at(at) is ValidityStatus.VALID],
            at,
            errors,
        )
        if found is not None:
            return found
    raise _diagnose(links, groups[0] + groups[1], at, errors)


def _pool_anchors(pool: TrustPool | None, issuers: set[bytes]) -> list[Certificate]:
    if pool is None:
        return []
    return [c for subject in issuers for c in pool.anchors_by_subject(subject)]


def _try_group(
    links: Sequence[_Link], anchors: Sequence[Anchor], at: datetime, errors: list[str]
) -> tuple[Anchor, list[Certificate]] | None:
    if not anchors:
        return None
    by_der = {a.certificate.der: a for a in anchors}
    store = xv.Store([x509.load_der_x509_certificate(d) for d in by_der])
    verifier = _policy(store, at).build_client_verifier()
    try:
        verified = verifier.verify(links[0].x509, [link.x509 for link in links[1:]])
    except xv.VerificationError as exc:
        errors.append(str(exc))
        return None
    known = {link.info.der: link.info for link in links}
    ders = [c.public_bytes(serialization.Encoding.DER) for c in verified.chain]
    anchor = by_der[ders[-1]]
    return anchor, [known[d] for d in ders[:-1]] + [anchor.certificate]


def _policy(store: xv.Store, at: datetime) -> xv.PolicyBuilder:
    """CA rules enforced by the library; the leaf's purpose and name were checked already.

    The CA policy is relaxed from the Web PKI profile to what RFC 5280 requires (a CA flag,
    keyCertSign when key usage is present), because enterprise and SCEP CAs often lack the
    Web PKI's authority key identifiers; the leaf policy permits all, as ``_precheck`` judged
    it.
    """
    ca_policy = (
        xv.ExtensionPolicy.permit_all()
        .require_present(x509.BasicConstraints, xv.Criticality.AGNOSTIC, _require_ca)
        .may_be_present(x509.KeyUsage, xv.Criticality.AGNOSTIC, _require_cert_sign)
    )
    return (
        xv.PolicyBuilder()
        .store(store)
        .time(at)
        .max_chain_depth(_MAX_DEPTH)
        .extension_policies(ca_policy=ca_policy, ee_policy=xv.ExtensionPolicy.permit_all())
    )


def _require_ca(policy: xv.Policy, cert: x509.Certificate, value: x509.BasicConstraints) -> None:
    if not value.ca:
        raise ValueError(f"{cert.subject.rfc4514_string()} is not a CA certificate")


def _require_cert_sign(
    policy: xv.Policy, cert: x509.Certificate, value: x509.KeyUsage | None
) -> None:
    if value is not None and not value.key_cert_sign:
        raise ValueError(f"{cert.subject.rfc4514_string()} may not sign certificates")


def _diagnose(
    links: Sequence[_Link], anchors: Sequence[Anchor], at: datetime, errors: list[str]
) -> _Failed:
    """Why no path was accepted, in the operator's terms: walk the chain from the leaf up."""
    current = links[0].x509
    for _ in range(_MAX_DEPTH + 1):
        issuer_der = current.issuer.public_bytes()
        trusted = [a for a in anchors if _subject(a.certificate) == issuer_der]
        if trusted:
            return _diagnose_anchor(current, trusted, at, errors)
        parents = [
            link
            for link in links
            if link.x509.subject.public_bytes() == issuer_der and link.x509 is not current
        ]
        if not parents:
            return _Failed(
                "untrusted-root",
                f"no trusted CA certificate for {_name(current.issuer)}, "
                f"the issuer of {_name(current.subject)}",
            )
        parent = next((p for p in parents if _signed_by(current, p.x509)), None)
        if parent is None:
            return _bad_signature(current)
        current = parent.x509
    return _refused(errors)


def _diagnose_anchor(
    current: x509.Certificate, trusted: Sequence[Anchor], at: datetime, errors: list[str]
) -> _Failed:
    signing = [
        a for a in trusted if _signed_by(current, x509.load_der_x509_certificate(a.certificate.der))
    ]
    if not signing:
        return _bad_signature(current)
    for anchor in signing:
        try:
            _check_dates(anchor.certificate, at, "trusted CA ")
        except _Failed as failed:
            return failed
    return _refused(errors)


def _refused(errors: Sequence[str]) -> _Failed:
    reasons = "; ".join(dict.fromkeys(errors)) or "the chain is longer than allowed"
    return _Failed("path-invalid", f"the path to a trusted CA was refused: {reasons}")


def _bad_signature(cert: x509.Certificate) -> _Failed:
    return _Failed(
        "bad-signature",
        f"the signature of {_name(cert.subject)} does not verify "
        f"with the key of {_name(cert.issuer)}",
    )


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


# ---------------------------------------------------------------------------------------------
# revocation


def _check_path_revocation(
    path: Sequence[Certificate],
    anchor: Anchor,
    fetch: Fetcher,
    at: datetime,
    cache: CrlCache | None,
) -> None:
    """Every certificate below the anchor, under the anchor's policy."""
    for cert, issuer in itertools.pairwise(path):
        result = check_revocation(cert, issuer, anchor.revocation, fetch, at, cache=cache)
        if result.status == "revoked":
            raise _Failed("revoked", f"certificate {cert.subject} was {result.detail}", result)
        if result.status == "unknown":
            raise _Failed(
                "revocation-unknown",
                f"revocation status of {cert.subject} unknown: {result.detail}",
            )


# ---------------------------------------------------------------------------------------------
# helpers


def _trusted_detail(anchor: Anchor, path: Sequence[Certificate]) -> str:
    where = f"trustpoint {anchor.name}" if anchor.source == "trustpoint" else "the trust pool"
    return f"{path[0].subject} chains to {anchor.certificate.subject} from {where}"


def _subject(cert: Certificate) -> bytes:
    return x509.load_der_x509_certificate(cert.der).subject.public_bytes()


def _name(name: x509.Name) -> str:
    return name.rfc4514_string()


def _extension(cert: x509.Certificate, kind: type[_E]) -> _E | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _z(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
