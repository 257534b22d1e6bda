"""Readers of the PKI config in a datastore tree: what /keys declares and which trustpoints
name which key.

Why one place: the RPC handlers (zeroize-key refusals), the commit subscriber (key removal)
and the state renderer (used-by) must agree on what "declared" and "in use" mean.  Values
absent from config take the YANG defaults, which the engine's defaults equal.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from agent import xmlutil
from agent.pki import KeyAlgorithm, KeyUsage
from agent.xmlutil import Element

KEYS_NS = "urn:netconf-pki-agent:yang:npa-pki-keys"
TP_NS = "urn:netconf-pki-agent:yang:npa-pki-trustpoints"
TYPES_NS = "urn:netconf-pki-agent:yang:npa-pki-types"
KEYS_PREFIX = "pki-keys"
TYPES_PREFIX = "pki-types"


@dataclass(frozen=True, slots=True)
class DeclaredKey:
    """One /keys/key entry with its defaults filled in."""

    label: str
    algorithm: KeyAlgorithm = KeyAlgorithm.RSA
    modulus: int = 2048
    usage: KeyUsage = KeyUsage.GENERAL_KEYS


def identity_name(text: str) -> str:
    """The local name of an identityref value (``pki-types:rsa`` -> ``rsa``); the validator
    has already checked that the prefix names the right module."""
    return text.rpartition(":")[2]


def declared_keys(root: Element) -> dict[str, DeclaredKey]:
    """Every /keys/key of ``root`` by label."""
    out: dict[str, DeclaredKey] = {}
    for entry in root.iterfind(f"{{{KEYS_NS}}}keys/{{{KEYS_NS}}}key"):
        leaves = {xmlutil.split(c)[1]: xmlutil.text_of(c) for c in xmlutil.children(entry)}
        label = leaves["label"]
        out[label] = DeclaredKey(
            label,
            KeyAlgorithm(identity_name(leaves.get("algorithm", "rsa"))),
            int(leaves.get("modulus", "2048")),
            KeyUsage(leaves.get("usage", "general-keys")),
        )
    return out


# Evaluated by libxml2: a commit asks these of trees with thousands of trustpoints.
_TP_NAMES = etree.XPath(
    "tp:trustpoints/tp:trustpoint/tp:name/text()", namespaces={"tp": TP_NS}, smart_strings=False
)
_TP_LABELLED = etree.XPath("tp:trustpoints/tp:trustpoint[tp:key-label]", namespaces={"tp": TP_NS})


def key_users(root: Element) -> dict[str, list[str]]:
    """Trustpoint names by the key-label they name, in config order."""
    users: dict[str, list[str]] = {}
    labelled: list[Element] = _TP_LABELLED(root)  # type: ignore[assignment]
    for tp in labelled:
        label = tp.findtext(f"{{{TP_NS}}}key-label")
        name = tp.findtext(f"{{{TP_NS}}}name")
        if label and name:
            users.setdefault(label.strip(), []).append(name.strip())
    return users


def key_entry_path(label: str) -> tuple[str, dict[str, str]]:
    """The error-path of a /keys/key entry and the namespaces its prefixes need."""
    p = KEYS_PREFIX
    return f"/{p}:keys/{p}:key[{p}:label='{label}']", {p: KEYS_NS}


SYS_NS = "urn:netconf-pki-agent:yang:npa-pki-system"
TP_PREFIX = "pki-tp"

_SUBJECT_FIELDS = {
    "common-name": "common_name",
    "organizational-unit": "organizational_unit",
    "organization": "organization",
    "locality": "locality",
    "state": "state",
    "country": "country",
    "email": "email",
    "fqdn": "fqdn",
    "ip-address": "ip_address",
}


@dataclass(frozen=True, slots=True)
class TrustpointConfig:
    """One /trustpoints/trustpoint entry as the RPC handlers need it."""

    name: str
    method: str | None  # "url", "terminal", "cmp" or None
    url: str | None
    key_label: str | None
    subject: dict[str, str]  # Entity field name -> value
    ca_fingerprint: str | None
    retry_period: int | None = None  # enrollment/retry/period (minutes), None = YANG default
    retry_count: int | None = None  # enrollment/retry/count, None = YANG default


def trustpoint_config(root: Element, name: str) -> TrustpointConfig | None:
    """The trustpoint ``name`` of ``root``, or None when it is not configured."""
    for tp in root.iterfind(f"{{{TP_NS}}}trustpoints/{{{TP_NS}}}trustpoint"):
        if (tp.findtext(f"{{{TP_NS}}}name") or "").strip() == name:
            return trustpoint_entry(tp, name)
    return None


def trustpoint_entry(tp: Element, name: str) -> TrustpointConfig:
    """One trustpoint entry element, already found (a walk over all entries uses this)."""
    enrollment = tp.find(f"{{{TP_NS}}}enrollment")
    method: str | None = None
    url: str | None = None
    if enrollment is not None:
        for candidate in ("url", "terminal", "cmp"):
            el = enrollment.find(f"{{{TP_NS}}}{candidate}")
            if el is not None:
                method = candidate
                url = xmlutil.text_of(el) if candidate == "url" else None
    subject: dict[str, str] = {}
    subj = tp.find(f"{{{TP_NS}}}subject")
    if subj is not None:
        for child in xmlutil.children(subj):
            leaf = xmlutil.split(child)[1]
            if leaf in _SUBJECT_FIELDS:
                subject[_SUBJECT_FIELDS[leaf]] = xmlutil.text_of(child)
    label = tp.findtext(f"{{{TP_NS}}}key-label")
    fingerprint = tp.findtext(f"{{{TP_NS}}}ca-fingerprint")
    return TrustpointConfig(
        name,
        method,
        url,
        label.strip() if label else None,
        subject,
        fingerprint.strip() if fingerprint else None,
        _retry(enrollment, "period"),
        _retry(enrollment, "count"),
    )


def _retry(enrollment: Element | None, leaf: str) -> int | None:
    """enrollment/retry/<leaf> as configured (validated 1..60 / 1..100 by the model)."""
    if enrollment is None:
        return None
    text = enrollment.findtext(f"{{{TP_NS}}}retry/{{{TP_NS}}}{leaf}")
    return int(text.strip()) if text and text.strip().isdigit() else None


def trustpoint_names(root: Element) -> list[str]:
    """Configured trustpoint names in config order (stored values are already trimmed)."""
    names: list[str] = _TP_NAMES(root)  # type: ignore[assignment]  # plain str, no smart strings
    return names


def device_fqdn(root: Element) -> str | None:
    """hostname.domain-name of /device-identity (hostname alone without a domain)."""
    ident = root.find(f"{{{SYS_NS}}}device-identity")
    if ident is None:
        return None
    host = (ident.findtext(f"{{{SYS_NS}}}hostname") or "").strip()
    domain = (ident.findtext(f"{{{SYS_NS}}}domain-name") or "").strip().rstrip(".")
    if not host:
        return None
    return f"{host}.{domain}" if domain else host


POOL_NS = "urn:netconf-pki-agent:yang:npa-pki-trustpool"
POOL_PREFIX = "pki-pool"
DEFAULT_EXPIRY_WARNING_DAYS = 90  # the YANG default of both expiry-warning-days leaves


@dataclass(frozen=True, slots=True)
class PoolPolicy:
    """/trustpool/policy with the YANG defaults filled in."""

    cabundle_url: str | None = None
    revocation: tuple[str, ...] = ("crl",)
    auto_update: bool = True
    expiry_warning_days: int = DEFAULT_EXPIRY_WARNING_DAYS


def pool_policy(root: Element) -> PoolPolicy:
    policy = root.find(f"{{{POOL_NS}}}trustpool/{{{POOL_NS}}}policy")
    if policy is None:
        return PoolPolicy()
    url = (policy.findtext(f"{{{POOL_NS}}}cabundle-url") or "").strip()
    auto = (policy.findtext(f"{{{POOL_NS}}}auto-update") or "true").strip()
    days = (policy.findtext(f"{{{POOL_NS}}}expiry-warning-days") or "").strip()
    return PoolPolicy(
        url or None,
        _revocation(policy, POOL_NS),
        auto != "false",
        int(days) if days.isdigit() else DEFAULT_EXPIRY_WARNING_DAYS,
    )


def _revocation(parent: Element, ns: str) -> tuple[str, ...]:
    methods = tuple(xmlutil.text_of(m) for m in parent.iterfind(f"{{{ns}}}revocation-check"))
    return methods or ("crl",)


@dataclass(frozen=True, slots=True)
class TrustpointTrust:
    """What verification needs of one configured trustpoint."""

    name: str
    revocation: tuple[str, ...]
    query_url: str | None


def trustpoint_trust(root: Element) -> list[TrustpointTrust]:
    """Every configured trustpoint's revocation policy, in config order."""
    out = []
    for tp in root.iterfind(f"{{{TP_NS}}}trustpoints/{{{TP_NS}}}trustpoint"):
        query = (tp.findtext(f"{{{TP_NS}}}query-url") or "").strip()
        name = (tp.findtext(f"{{{TP_NS}}}name") or "").strip()
        out.append(TrustpointTrust(name, _revocation(tp, TP_NS), query or None))
    return out


def trustpoint_expiry_days(root: Element) -> int:
    days = (root.findtext(f"{{{TP_NS}}}trustpoints/{{{TP_NS}}}expiry-warning-days") or "").strip()
    return int(days) if days.isdigit() else DEFAULT_EXPIRY_WARNING_DAYS
