"""The trustpoint RPCs of npa-pki-trustpoints: authenticate, enroll, import-certificate and
delete-certificates, for the offline (``enrollment terminal``) and SCEP (``enrollment url``)
flows.

Why the checks sit here and in the engine: the trustpoint's configuration (method, key-label,
subject, ca-fingerprint, device FQDN) lives in running config, which only ops reads; the
certificate rules (key match, issuer, validity) live in :class:`TrustpointStore`.  CMP is
refused with operation-not-supported.  A SCEP PENDING answer is reported (status pending,
transaction-id) and handed to the :class:`~agent.ops.polling.Poller`, which polls it every
retry period (:meth:`TrustpointHandlers.poll_pending` is its network step); cancel-enrollment
drops it.  A challenge password goes into the request only: it is never stored, logged or
echoed (so polls, which need none, rebuild the request without it).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from agent import xmlutil
from agent.clock import Clock
from agent.datastore.store import RUNNING, Datastore
from agent.errors import DataMissing, OperationNotSupported, RpcError
from agent.ops._config import (
    TP_NS,
    TP_PREFIX,
    TrustpointConfig,
    device_fqdn,
    trustpoint_config,
)
from agent.ops.errors import to_rpc_error
from agent.ops.polling import IssuedCertificate, Poller
from agent.pki import (
    Certificate,
    Entity,
    ErrorCode,
    KeyInfo,
    KeyStore,
    PkiError,
    build_csr,
    load_certificates,
)
from agent.pki.enroll.online import ScepCache, ScepOutcome, scep_enroll, scep_fetch_ca, scep_poll
from agent.pki.enroll.transport import KeepAliveTransport
from agent.pki.pending import EnrollmentStatus, PendingEnrollment, start_pending
from agent.pki.trustpoints import LocalCertificate, TrustpointStore
from agent.xmlutil import Element

_T = TypeVar("_T")


class TrustpointHandlers:
    """The handlers, bound to the certificate and key stores, running config and the
    directory where offline requests are written."""

    def __init__(
        self,
        store: TrustpointStore,
        keys: KeyStore,
        datastore: Datastore,
        requests: Path,
        clock: Clock,
    ) -> None:
        self._store = store
        self._keys = keys
        self._datastore = datastore
        self._requests = requests
        self._clock = clock
        self._scep_cache = ScepCache(clock)
        self._http = KeepAliveTransport()  # SCEP connections outlive one exchange
        self.poller: Poller | None = None  # set by ops.register; None: PENDING not polled

    async def authenticate(self, op: Element, ctx: object) -> list[Element]:
        """authenticate with a pasted CA certificate or from the CA (SCEP GetCACert); the CA
        is trusted only on accept-fingerprint or the configured ca-fingerprint matching."""
        tp = self._trustpoint(op, "authenticate")
        pem = _leaf(op, "ca-certificate-pem")
        ra: tuple[Certificate, ...] = ()
        if pem is not None:
            # A pasted chain starts with the issuing CA (root last): that one is trusted.
            ca = (await _run("authenticate", lambda: load_certificates(pem.encode())))[0]
        else:
            url = self._scep_url(tp, "authenticate")
            self._scep_cache.forget(url)  # a CA authenticated again may have changed
            ca, ra = await _run("authenticate", lambda: scep_fetch_ca(url, self._clock, self._http))
        trusted = _decide(ca, tp, _leaf(op, "accept-fingerprint"))
        if trusted:
            await _run("authenticate", lambda: self._store.set_ca(tp.name, ca, ra))
        return [*_summary(ca), _text("trusted", "true" if trusted else "false")]

    async def enroll(self, op: Element, ctx: object) -> list[Element]:
        """enroll: for terminal, one PKCS #10 per key pair, returned and written to
        ``<requests>/<trustpoint>-<role>.p10`` (status pending until import-certificate);
        for url, SCEP enrollment of every key pair (see :meth:`_scep`)."""
        tp = self._trustpoint(op, "enroll")
        fqdn = device_fqdn(self._datastore.tree(RUNNING))
        label = tp.key_label or fqdn or ""
        challenge = _leaf(op, "challenge-password")
        if tp.method != "terminal":
            url = self._scep_url(tp, "enroll")
            self._refuse_while_pending(tp.name)
            out, pending = await _run("enroll", lambda: self._scep(tp, url, label, fqdn, challenge))
            if self.poller is not None:
                if pending is not None:
                    self.poller.add(pending)  # on the loop: add() wakes the polling task
                else:
                    self.poller.forget(tp.name)
            return out
        requests = await _run("enroll", lambda: self._requests_for(tp, label, fqdn, challenge))
        out = [_text("status", "pending")]
        for role, pem in requests:
            csr = xmlutil.make(TP_NS, "csr", nsmap={None: TP_NS})
            xmlutil.sub(csr, TP_NS, "role", role)
            xmlutil.sub(csr, TP_NS, "pkcs10-pem", pem)
            out.append(csr)
        return out

    async def import_certificate(self, op: Element, ctx: object) -> list[Element]:
        """import-certificate: PEM or DER, matched to a key pair of the trustpoint's key."""
        tp = self._trustpoint(op, "import-certificate")
        data = _material(op, "certificate-pem", "certificate-der")
        label = tp.key_label or device_fqdn(self._datastore.tree(RUNNING)) or ""

        def work() -> tuple[str, Certificate]:
            local = self._store.import_local(tp.name, data, self._key(label))
            return local.role.value, local.certificate

        role, cert = await _run("import-certificate", work)
        return [_text("role", role), *_short_summary(cert)]

    async def cancel_enrollment(self, op: Element, ctx: object) -> list[Element]:
        """cancel-enrollment: stop polling; no-enrollment-pending when nothing is pending."""
        name = _leaf(op, "trustpoint") or ""
        poller = self.poller
        if poller is None:
            raise OperationNotSupported("enrollment polling is not running in this agent")
        tx = await _run("cancel-enrollment", lambda: poller.cancel(name))
        return [_text("transaction-id", tx)]

    def poll_pending(self, record: PendingEnrollment) -> list[IssuedCertificate] | None:
        """The Poller's network step (worker thread): CertPoll for the recorded request,
        the certificate installed once the CA issues it."""
        tp = trustpoint_config(self._datastore.tree(RUNNING), record.trustpoint)
        if tp is None or tp.method != "url" or not tp.url:
            raise PkiError(
                ErrorCode.CA_REJECTED,
                f"trustpoint {record.trustpoint!r} no longer enrolls by url: polling stopped",
            )
        ca = self._store.get(tp.name)
        if ca.ca is None:
            raise PkiError(ErrorCode.CA_NOT_AUTHENTICATED, f"trustpoint {tp.name!r} has no CA")
        info = self._keys.get(record.key_label)
        fqdn = device_fqdn(self._datastore.tree(RUNNING))
        issued: list[IssuedCertificate] = []
        for component in info.components:
            if component.role.value not in record.roles:
                continue
            key = self._keys.private_key(record.key_label, component.role)
            csr = build_csr(key, Entity(**tp.subject), fqdn_default=fqdn, role=component.role)
            outcome = scep_poll(
                tp.url,
                self._clock,
                ca.ca,
                ca.ra,
                key,
                csr,
                record.transaction_id,
                self._http,
                self._scep_cache,
            )
            if outcome.certificate is None:
                return None
            issued.append(_issued(self._store.import_local(tp.name, outcome.certificate, info)))
        return issued

    def _refuse_while_pending(self, name: str) -> None:
        record = self.poller.get(name) if self.poller is not None else None
        if record is not None and record.status is EnrollmentStatus.PENDING:
            raise to_rpc_error(
                PkiError(
                    ErrorCode.ENROLLMENT_IN_PROGRESS,
                    f"trustpoint {name!r} has enrollment {record.transaction_id} pending: "
                    "wait for it or run cancel-enrollment",
                    {"trustpoint": name},
                ),
                _input_path("enroll", "trustpoint"),
                {TP_PREFIX: TP_NS},
            )

    async def delete_certificates(self, op: Element, ctx: object) -> list[Element]:
        """delete-certificates: local ones, or all (the CA too: no longer authenticated)."""
        tp = self._trustpoint(op, "delete-certificates")
        remove = self._store.remove_all if _leaf(op, "scope") == "all" else self._store.remove_local
        gone = await _run("delete-certificates", lambda: remove(tp.name))
        return [_text("deleted", fp) for fp in gone]

    def _scep(
        self, tp: TrustpointConfig, url: str, label: str, fqdn: str | None, secret: str | None
    ) -> tuple[list[Element], PendingEnrollment | None]:
        """SCEP enrollment of every key pair; certificates are stored only once all pairs
        are issued, so a refusal of the second pair leaves nothing half done.

        A PENDING answer stops there: the reply says pending, and the record returned lists
        the pair it is for (for usage-keys, pairs after it are enrolled by a later enroll)."""
        record = self._store.get(tp.name)
        if record.ca is None:
            raise PkiError(
                ErrorCode.CA_NOT_AUTHENTICATED,
                f"trustpoint {tp.name!r} has no trusted CA certificate: run authenticate first",
            )
        info = self._key(label)
        outcomes: list[ScepOutcome] = []
        for component in info.components:
            key = self._keys.private_key(label, component.role)
            csr = build_csr(
                key, Entity(**tp.subject), fqdn_default=fqdn, challenge_password=secret,
                role=component.role,
            )  # fmt: skip
            outcome = scep_enroll(
                url, self._clock, record.ca, record.ra, key, csr, self._http, self._scep_cache
            )
            if outcome.certificate is None:
                pending = start_pending(
                    tp.name, outcome.transaction_id, label, (component.role.value,),
                    self._clock.now(), tp.retry_count, tp.retry_period,
                )  # fmt: skip
                reply = [
                    _text("status", "pending"),
                    _text("transaction-id", outcome.transaction_id),
                ]
                return reply, pending
            outcomes.append(outcome)
        out = [_text("status", "issued")]
        for outcome in outcomes:
            assert outcome.certificate is not None
            local = self._store.import_local(tp.name, outcome.certificate, info)
            el = xmlutil.make(TP_NS, "certificate", nsmap={None: TP_NS})
            xmlutil.sub(el, TP_NS, "role", local.role.value)
            for child in _short_summary(local.certificate):
                el.append(child)
            out.append(el)
        return out, None

    def _scep_url(self, tp: TrustpointConfig, rpc: str) -> str:
        if tp.method != "url" or not tp.url:
            raise OperationNotSupported(
                f"trustpoint {tp.name!r}: {rpc} from the CA needs enrollment url (SCEP); "
                "for enrollment terminal paste the CA certificate and import certificates",
                path=_input_path(rpc, "trustpoint"),
                path_ns={TP_PREFIX: TP_NS},
            )
        return tp.url

    def _trustpoint(self, op: Element, rpc: str) -> TrustpointConfig:
        """The running config of the input's trustpoint (require-instance true)."""
        name = _leaf(op, "trustpoint") or ""
        tp = trustpoint_config(self._datastore.tree(RUNNING), name)
        if tp is None:
            raise DataMissing(
                f"trustpoint {name!r} is not configured in running",
                app_tag="instance-required",
                path=_input_path(rpc, "trustpoint"),
                path_ns={TP_PREFIX: TP_NS},
            )
        return tp

    def _requests_for(
        self, tp: TrustpointConfig, label: str, fqdn: str | None, challenge: str | None
    ) -> list[tuple[str, str]]:
        """(role, PEM) per key pair; each also written to the request file."""
        info = self._key(label)
        entity = Entity(**tp.subject)
        out: list[tuple[str, str]] = []
        for component in info.components:
            key = self._keys.private_key(label, component.role)
            pem = build_csr(
                key,
                entity,
                fqdn_default=fqdn,
                challenge_password=challenge,
                role=component.role,
            ).decode()
            out.append((component.role.value, pem))
        if challenge is None:
            # A request with a challenge password holds it in clear: never written to disk.
            self._write_requests(tp.name, out)
        return out

    def _key(self, label: str) -> KeyInfo:
        """The trustpoint's key; key-not-found also when no label and no FQDN name one."""
        if not label:
            raise PkiError(
                ErrorCode.KEY_NOT_FOUND,
                "the trustpoint has no key-label and /device-identity gives no FQDN to use",
            )
        return self._keys.get(label)

    def _write_requests(self, name: str, requests: list[tuple[str, str]]) -> None:
        self._requests.mkdir(mode=0o700, parents=True, exist_ok=True)
        for role, pem in requests:
            (self._requests / f"{name}-{role}.p10").write_text(pem, encoding="ascii")


def _issued(local: LocalCertificate) -> IssuedCertificate:
    cert = local.certificate
    return IssuedCertificate(local.role.value, cert.sha256_fingerprint, cert.not_after)


def _decide(ca: Certificate, tp: TrustpointConfig, accept: str | None) -> bool:
    """True if ``ca`` is to be trusted; raises fingerprint-mismatch for a wrong expectation."""
    expected = [f for f in (tp.ca_fingerprint, accept) if f is not None]
    actual = {_norm(ca.sha256_fingerprint), _norm(ca.sha1_fingerprint)}
    for fingerprint in expected:
        if _norm(fingerprint) not in actual:
            raise to_rpc_error(
                PkiError(
                    ErrorCode.FINGERPRINT_MISMATCH,
                    f"the CA certificate's SHA-256 fingerprint {ca.sha256_fingerprint} differs "
                    f"from the expected {fingerprint}; nothing was stored",
                    {"trustpoint": tp.name},
                )
            )
    return bool(expected)


def _norm(fingerprint: str) -> str:
    return fingerprint.replace(":", "").strip().upper()


async def _run(rpc: str, work: Callable[[], _T]) -> _T:
    """Engine work in a worker thread, its failure as the mapped rpc-error."""
    try:
        return await asyncio.to_thread(work)
    except PkiError as exc:
        raise to_rpc_error(exc, _input_path(rpc, "trustpoint"), {TP_PREFIX: TP_NS}) from None


def _input_path(rpc: str, leaf: str) -> str:
    return f"/{TP_PREFIX}:{rpc}/{TP_PREFIX}:{leaf}"


def _leaf(op: Element, name: str) -> str | None:
    el = op.find(f"{{{TP_NS}}}{name}")
    if el is None:
        el = op.find(name)
    return None if el is None else xmlutil.text_of(el)


def _material(op: Element, pem: str, der: str) -> bytes:
    text = _leaf(op, pem)
    if text is not None:
        return text.encode()
    b64 = _leaf(op, der) or ""
    try:
        return base64.b64decode("".join(b64.split()), validate=True)
    except ValueError as exc:
        raise _malformed("certificate-der is not base64") from exc


def _malformed(message: str) -> RpcError:
    return to_rpc_error(PkiError(ErrorCode.MALFORMED_CERTIFICATE, message))


def _date_and_time(when: datetime) -> str:
    """yang:date-and-time in UTC with a Z."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _text(name: str, value: str) -> Element:
    return xmlutil.make(TP_NS, name, value, nsmap={None: TP_NS})


def _summary(cert: Certificate) -> list[Element]:
    return [
        _text("subject", cert.subject),
        _text("issuer", cert.issuer),
        _text("serial-number", cert.serial_number),
        _text("not-before", _date_and_time(cert.not_before)),
        _text("not-after", _date_and_time(cert.not_after)),
        _text("sha1-fingerprint", cert.sha1_fingerprint),
        _text("sha256-fingerprint", cert.sha256_fingerprint),
    ]


def _short_summary(cert: Certificate) -> list[Element]:
    return [
        _text("sha256-fingerprint", cert.sha256_fingerprint),
        _text("serial-number", cert.serial_number),
        _text("not-after", _date_and_time(cert.not_after)),
    ]
