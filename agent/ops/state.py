"""The config-false ``keys-state`` tree, rendered from the key store on every <get>.

Why rendered, not stored: the key store is the one source of truth for key material, and
``used-by`` follows running config; a copy in the datastore could only drift.  Entries come in
label order so replies are deterministic.
"""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime

from agent import xmlutil
from agent.clock import Clock
from agent.datastore.store import RUNNING, Datastore
from agent.ops._config import KEYS_NS, TP_NS, TYPES_NS, TYPES_PREFIX, key_users, trustpoint_entry
from agent.pki import Certificate, KeyComponent, KeyInfo, KeyStore, ValidityStatus
from agent.pki.pending import EnrollmentStatus, PendingEnrollment, PendingStore
from agent.pki.trustpoints import TrustpointRecord, TrustpointStore
from agent.xmlutil import Element


class KeysState:
    """A datastore state provider for /pki-keys:keys-state."""

    def __init__(self, store: KeyStore, datastore: Datastore) -> None:
        self._store = store
        self._datastore = datastore

    def render(self) -> list[Element]:
        """One ``keys-state`` element holding every key, sorted by label."""
        nsmap: dict[str | None, str] = {None: KEYS_NS, TYPES_PREFIX: TYPES_NS}
        top = xmlutil.make(KEYS_NS, "keys-state", nsmap=nsmap)
        users = key_users(self._datastore.tree(RUNNING))
        for info in sorted(self._store.list(), key=lambda i: i.label):
            _key(top, info, users.get(info.label, []))
        return [top]


def _key(parent: Element, info: KeyInfo, used_by: list[str]) -> None:
    el = xmlutil.sub(parent, KEYS_NS, "key")
    xmlutil.sub(el, KEYS_NS, "label", info.label)
    xmlutil.sub(el, KEYS_NS, "algorithm", f"{TYPES_PREFIX}:{info.algorithm.value}")
    xmlutil.sub(el, KEYS_NS, "key-size", str(info.key_size))
    xmlutil.sub(el, KEYS_NS, "usage", info.usage.value)
    created = info.created.astimezone(UTC).isoformat().replace("+00:00", "Z")
    xmlutil.sub(el, KEYS_NS, "created", created)
    xmlutil.sub(el, KEYS_NS, "origin", info.origin.value)
    xmlutil.sub(el, KEYS_NS, "public-only", "true" if info.public_only else "false")
    for component in info.components:
        _component(el, component)
    for name in used_by:
        xmlutil.sub(el, KEYS_NS, "used-by", name)


def _component(parent: Element, c: KeyComponent) -> None:
    el = xmlutil.sub(parent, KEYS_NS, "component")
    xmlutil.sub(el, KEYS_NS, "role", c.role.value)
    xmlutil.sub(el, KEYS_NS, "public-key-pem", c.public_key_pem)
    xmlutil.sub(el, KEYS_NS, "sha256-fingerprint", c.sha256_fingerprint)
    xmlutil.sub(el, KEYS_NS, "public-key-der", base64.b64encode(c.public_key_der).decode())
    xmlutil.sub(el, KEYS_NS, "public-key-hex", c.public_key_hex)


class TrustpointsState:
    """A datastore state decorator: each configured trustpoint gets its ``state`` container.

    Why a decorator: the state sits inside the config list entry, so it is added to the copy
    of running that <get> reads rather than returned as a separate top-level tree.
    """

    def __init__(
        self, store: TrustpointStore, clock: Clock, pending: PendingStore | None = None
    ) -> None:
        self._store = store
        self._clock = clock
        self._pending = pending
        self._certs = CertificateXml()

    def decorate(self, root: Element) -> None:
        now = self._clock.now()
        # One directory listing each instead of a failed open per trustpoint: most hold no
        # certificate and no enrollment, and a <get> may cover thousands of them.
        stored = set(self._store.names())
        pending = self._pending.all() if self._pending is not None else []
        waiting = {r.trustpoint: r for r in pending}
        for tp in root.iterfind(f"{{{TP_NS}}}trustpoints/{{{TP_NS}}}trustpoint"):
            name = (tp.findtext(f"{{{TP_NS}}}name") or "").strip()
            method = trustpoint_entry(tp, name).method
            record = self._store.get(name) if name in stored else TrustpointRecord(name)
            _trustpoint_state(tp, record, method, now, self._certs)
            enrollment = waiting.get(name)
            if enrollment is not None:
                _enrollment(tp.find(f"{{{TP_NS}}}state/{{{TP_NS}}}enrollment"), enrollment)


_METHOD_IDENTITY = {"url": "scep", "terminal": "terminal", "cmp": "cmp"}


def _trustpoint_state(
    tp: Element,
    record: TrustpointRecord,
    method: str | None,
    now: datetime,
    certs: CertificateXml,
) -> None:
    state = xmlutil.sub(tp, TP_NS, "state")
    xmlutil.sub(state, TP_NS, "authenticated", "true" if record.authenticated else "false")
    if record.ca is not None:
        certs.add(xmlutil.sub(state, TP_NS, "ca-certificate"), record.ca)
    for ra in record.ra:
        certs.add(xmlutil.sub(state, TP_NS, "ra-certificate"), ra)
    for local in sorted(record.local, key=lambda lc: lc.role.value):
        el = xmlutil.sub(state, TP_NS, "local-certificate")
        xmlutil.sub(el, TP_NS, "role", local.role.value)
        xmlutil.sub(el, TP_NS, "key-label", local.key_label)
        expired = local.certificate.status_at(now) is ValidityStatus.EXPIRED
        xmlutil.sub(el, TP_NS, "status", "expired" if expired else "available")
        certs.add(el, local.certificate)
    enrollment = xmlutil.sub(state, TP_NS, "enrollment")
    if method is not None:
        enrollment.append(_identity("method", _METHOD_IDENTITY[method]))
    xmlutil.sub(enrollment, TP_NS, "status", "idle")


def _enrollment(el: Element | None, record: PendingEnrollment) -> None:
    """Replace the idle status with the pending or failed enrollment's progress."""
    if el is None:
        return
    status = el.find(f"{{{TP_NS}}}status")
    if status is not None:
        status.text = record.status.value
    if record.status is EnrollmentStatus.PENDING:
        xmlutil.sub(el, TP_NS, "transaction-id", record.transaction_id)
        xmlutil.sub(el, TP_NS, "attempts-left", str(record.attempts_left))
        xmlutil.sub(el, TP_NS, "next-poll", _when(record.next_poll))
        return
    xmlutil.sub(el, TP_NS, "transaction-id", record.transaction_id)
    xmlutil.sub(el, TP_NS, "last-error-app-tag", record.last_error_app_tag or "")
    xmlutil.sub(el, TP_NS, "last-error-message", record.last_error_message or "")


def _identity(name: str, value: str, ns: str = TP_NS) -> Element:
    """An identityref leaf whose prefix is declared on the element itself."""
    nsmap: dict[str | None, str] = {None: ns, TYPES_PREFIX: TYPES_NS}
    return xmlutil.make(ns, name, f"{TYPES_PREFIX}:{value}", nsmap=nsmap)


class CertificateXml:
    """Renders a certificate's leaves, keeping each certificate's rendering: they never change,
    and a get of 1,000 trustpoints otherwise rebuilds some 30,000 elements."""

    LIMIT = 8192

    def __init__(self, ns: str = TP_NS, *, fingerprint_first: bool = False) -> None:
        self._ns = ns
        self._first = fingerprint_first  # the fingerprint is the list key (RFC 7950 7.8.5)
        self._done: dict[str, Element] = {}

    def add(self, el: Element, cert: Certificate) -> None:
        """Append the leaves describing ``cert`` to ``el``."""
        template = self._done.get(cert.sha256_fingerprint)
        if template is None:
            if len(self._done) >= self.LIMIT:
                self._done.clear()
            template = self._done[cert.sha256_fingerprint] = xmlutil.make(self._ns, "info")
            _certificate_info(template, cert, self._ns)
            key = template.find(f"{{{self._ns}}}sha256-fingerprint")
            if self._first and key is not None:
                template.insert(0, key)
        el.extend(list(copy.deepcopy(template)))


def _certificate_info(el: Element, cert: Certificate, ns: str) -> None:
    for name, value in (
        ("subject", cert.subject),
        ("issuer", cert.issuer),
        ("serial-number", cert.serial_number),
        ("not-before", _when(cert.not_before)),
        ("not-after", _when(cert.not_after)),
        ("sha1-fingerprint", cert.sha1_fingerprint),
        ("sha256-fingerprint", cert.sha256_fingerprint),
    ):
        xmlutil.sub(el, ns, name, value)
    if cert.public_key_algorithm is not None:
        el.append(_identity("public-key-algorithm", cert.public_key_algorithm.value, ns))
    if cert.key_size is not None:
        xmlutil.sub(el, ns, "key-size", str(cert.key_size))
    xmlutil.sub(el, ns, "signature-algorithm", cert.signature_algorithm)
    for san in cert.subject_alt_names:
        xmlutil.sub(el, ns, "subject-alt-name", san)
    for url in cert.crl_distribution_points:
        xmlutil.sub(el, ns, "crl-distribution-point", url)
    xmlutil.sub(el, ns, "is-ca", "true" if cert.is_ca else "false")
    xmlutil.sub(el, ns, "pem", cert.pem)
    xmlutil.sub(el, ns, "der", base64.b64encode(cert.der).decode())


def _when(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")
