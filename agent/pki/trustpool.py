"""The CA trust pool: the built-in Mozilla set plus one downloaded bundle (DESIGN.md "trustpool").

Why this shape (seed 003, "CA Trust Pool Management"):
- The downloaded set is one unit: it lives in ONE file replaced atomically, so an import either
  replaces all of it or, on any failure, leaves the previous set exactly as it was.
- The built-in set is read from ``certifi`` at runtime (never copied into the repository) and
  cannot be deleted; a built-in certificate whose subject matches a downloaded one is inactive
  and becomes active again when that downloaded one goes.
- Path validation asks for the anchors with one subject; that lookup is a dict keyed on the
  subject's DER, so a 10,000-certificate pool costs no more per verification than 100.

A bundle may contain certificates that have already expired: published bundles (Cisco's
``ios_core.p7b``, Mozilla's) routinely do, and refusing the whole update for one of them would
keep every other stale certificate instead.  They are stored and shown; path validation then
reports ``expired`` for a chain that needs one.  Non-CA certificates are refused.
"""

from __future__ import annotations

import json
import logging
import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import certifi
from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning

from agent.durable import atomic_write, ensure_private_dir, fsync_dir
from agent.pki._encoding import PemBlock, iter_pem_blocks, looks_like_pem
from agent.pki.certs import Certificate, _pkcs7_certificates, load_certificate
from agent.pki.errors import ErrorCode, PkiError

__all__ = [
    "MAX_POOL_BUNDLE_SIZE",
    "RETRY_DAYS_BEFORE_EXPIRY",
    "PoolChange",
    "PoolEntry",
    "TrustPool",
    "UpdateStatus",
    "load_builtin",
    "next_update_time",
    "parse_bundle",
    "subject_der",
]

_log = logging.getLogger(__name__)

# Mozilla's set is ~150 certificates (~220 KiB PEM); a 10,000-CA bundle about 16 MiB.
MAX_POOL_BUNDLE_SIZE = 32 << 20
DOWNLOADED_FILE = "downloaded.pem"
STATUS_FILE = "update-status.json"

Source = Literal["built-in", "downloaded"]

# Seed 003: "20 days, 15 days, 10 days, 5 days, 4 days, 3 days, 2 days, 1 day, and then once
# every hour".
RETRY_DAYS_BEFORE_EXPIRY: tuple[int, ...] = (20, 15, 10, 5, 4, 3, 2, 1)
_HOURLY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class PoolEntry:
    """One certificate of the pool as the state tree shows it."""

    certificate: Certificate
    source: Source
    active: bool


@dataclass(frozen=True, slots=True)
class PoolChange:
    """The outcome of an import: certificates now downloaded, built-ins they shadow, total."""

    added: int
    inactive_built_in: int
    total: int


@dataclass(frozen=True, slots=True)
class UpdateStatus:
    """The last/next update facts (YANG trustpool state); the timer itself lives in ops."""

    last_attempt: datetime | None = None
    trigger: str | None = None
    result: Literal["success", "failure"] | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    next_update: datetime | None = None


# ---------------------------------------------------------------------------------------------
# bundles


def parse_bundle(data: bytes) -> list[Certificate]:
    """Every CA certificate of a bundle: concatenated PEM, PKCS #7 DER or PKCS #7 PEM.

    Raises PkiError malformed-bundle naming the certificate (1-based) and the reason when the
    input is empty, truncated, corrupt, or holds a certificate that is not a CA.
    """
    if not data.strip():
        raise _bad_bundle("the bundle is empty")
    if len(data) > MAX_POOL_BUNDLE_SIZE:
        raise _bad_bundle(f"the bundle is larger than {MAX_POOL_BUNDLE_SIZE >> 20} MiB")
    ders = _pem_ders(data) if looks_like_pem(data) else _pkcs7_ders(data, "the bundle")
    if not ders:
        raise _bad_bundle("the bundle holds no certificate")
    return [_ca_certificate(i, der) for i, der in enumerate(ders, 1)]


def _pem_ders(data: bytes) -> list[bytes]:
    blocks = list(iter_pem_blocks(data))
    if data.count(b"-----BEGIN ") != len(blocks):
        raise _bad_bundle(
            f"the bundle is truncated: a PEM block after block {len(blocks)} has no END line"
        )
    ders: list[bytes] = []
    for i, block in enumerate(blocks, 1):
        ders.extend(_block_ders(i, block))
    return ders


def _block_ders(index: int, block: PemBlock) -> list[bytes]:
    try:
        der = block.der()
    except ValueError as exc:
        raise _bad_bundle(f"PEM block {index} has invalid base64") from exc
    if block.label in ("CERTIFICATE", "X509 CERTIFICATE"):
        return [der]
    if block.label in ("PKCS7", "CMS"):
        return _pkcs7_ders(der, f"PEM block {index}")
    raise _bad_bundle(f"PEM block {index} is a {block.label}, not a certificate")


def _pkcs7_ders(der: bytes, what: str) -> list[bytes]:
    try:
        return _pkcs7_certificates(der)
    except PkiError as exc:
        raise _bad_bundle(
            f"{what} is not a PKCS #7 certificate bundle (corrupt or truncated)"
        ) from exc


def _ca_certificate(index: int, der: bytes) -> Certificate:
    try:
        cert = load_certificate(der)
    except PkiError as exc:
        raise _bad_bundle(f"certificate {index} of the bundle: {exc.message}") from exc
    if not cert.is_ca:
        raise _bad_bundle(
            f"certificate {index} of the bundle ({cert.subject}) is not a CA certificate"
        )
    return cert


def _bad_bundle(message: str) -> PkiError:
    return PkiError(ErrorCode.MALFORMED_BUNDLE, message)


def subject_der(cert: Certificate) -> bytes:
    """The DER of ``cert``'s subject Name: the index key, exact as RFC 5280 compares names."""
    with warnings.catch_warnings():  # Mozilla keeps a few roots with a zero serial
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return x509.load_der_x509_certificate(cert.der).subject.public_bytes()


def load_builtin() -> list[Certificate]:
    """The Mozilla CA set shipped by ``certifi``; an unparsable entry is logged and skipped.

    Skipping rather than failing: one odd certificate in a distribution's bundle must not
    leave the agent without any built-in trust.
    """
    data = Path(certifi.where()).read_bytes()
    out: list[Certificate] = []
    for i, block in enumerate(iter_pem_blocks(data), 1):
        try:
            with warnings.catch_warnings():  # Mozilla keeps a few roots with a zero serial
                warnings.simplefilter("ignore", CryptographyDeprecationWarning)
                cert = load_certificate(block.der())
        except (PkiError, ValueError) as exc:
            _log.warning("built-in trustpool: skipping certificate %d: %s", i, exc)
            continue
        if cert.is_ca:
            out.append(cert)
        else:
            _log.warning("built-in trustpool: skipping certificate %d: not a CA", i)
    return out


# ---------------------------------------------------------------------------------------------
# the update schedule


def next_update_time(
    now: datetime, earliest_expiry: datetime | None, failures_so_far: int
) -> datetime:
    """When the automatic update should run next (pure; seed 003 "Automatic update").

    Without failures the timer matches the earliest CA expiry (``now`` if that has passed, or
    if the pool is empty).  After the n-th consecutive failure the update is retried at the
    first point of the schedule "20, 15, 10, 5, 4, 3, 2, 1 days before that expiry" that is
    later than ``now`` and not earlier in the table than the n-th entry; once none is left,
    every hour.  Reading: the table only matters when an attempt fails early (a manual or
    startup trigger, or a caller that starts before expiry); at or after expiry it is hourly.
    """
    if earliest_expiry is None:
        return now
    if failures_so_far <= 0:
        return max(now, earliest_expiry)
    for days in RETRY_DAYS_BEFORE_EXPIRY[failures_so_far - 1 :]:
        point = earliest_expiry - timedelta(days=days)
        if point > now:
            return point
    return now + _HOURLY


# ---------------------------------------------------------------------------------------------
# the pool


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """An immutable view of the pool; readers take one reference and never see a half update."""

    entries: tuple[PoolEntry, ...]
    by_subject: Mapping[bytes, tuple[Certificate, ...]]
    downloaded: int


class TrustPool:
    """The built-in plus downloaded CA certificates, persisted under ``directory``.

    Thread-safe: mutations are serialized by a lock and publish a new immutable snapshot.
    A persisted set that no longer parses raises malformed-bundle here: writes are atomic, so
    damage means outside interference, and silently dropping trust would hide it.
    """

    def __init__(self, directory: Path, builtin: Sequence[Certificate] | None = None) -> None:
        self._dir = directory
        self._lock = threading.Lock()
        self._builtin = tuple(load_builtin() if builtin is None else builtin)
        self._builtin_subjects = tuple(subject_der(c) for c in self._builtin)
        ensure_private_dir(directory)
        self._snapshot = self._build(self._load_downloaded())

    # -- reads

    def entries(self) -> list[PoolEntry]:
        """Every certificate, built-in first, with its source and active flag."""
        return list(self._snapshot.entries)

    def anchors_by_subject(self, subject_der: bytes) -> list[Certificate]:
        """The active certificates whose subject DER is exactly ``subject_der`` (O(1))."""
        return list(self._snapshot.by_subject.get(subject_der, ()))

    def earliest_expiry(self, after: datetime | None = None) -> datetime | None:
        """The earliest notAfter among active certificates (only those later than ``after``).

        ``after`` lets the update timer skip certificates that have already expired and that
        a fresh bundle still contains, so it does not fire again and again.
        """
        ends = [
            e.certificate.not_after
            for e in self._snapshot.entries
            if e.active and (after is None or e.certificate.not_after > after)
        ]
        return min(ends, default=None)

    # -- writes

    def replace(self, certs: Sequence[Certificate]) -> PoolChange:
        """Make ``certs`` the downloaded set, as one unit (the old set is gone on success)."""
        unique = _dedupe(certs)
        with self._lock:
            atomic_write(self._dir / DOWNLOADED_FILE, _pem_concat(unique))
            self._snapshot = self._build(unique)
        inactive = sum(1 for e in self._snapshot.entries if not e.active)
        _log.info(
            "trustpool: %d downloaded certificates, %d built-in inactive", len(unique), inactive
        )
        return PoolChange(len(unique), inactive, len(self._snapshot.entries))

    def clean(self) -> int:
        """Remove every downloaded certificate; built-ins become active again."""
        with self._lock:
            removed = self._snapshot.downloaded
            (self._dir / DOWNLOADED_FILE).unlink(missing_ok=True)
            fsync_dir(self._dir)
            self._snapshot = self._build(())
        _log.info("trustpool: cleaned %d downloaded certificates", removed)
        return removed

    # -- update status

    def update_status(self) -> UpdateStatus:
        """The persisted update record (all fields None before the first update)."""
        try:
            raw = json.loads((self._dir / STATUS_FILE).read_text(encoding="utf-8"))
            return _status_from_json(raw)
        except FileNotFoundError:
            return UpdateStatus()
        except (ValueError, TypeError, KeyError) as exc:
            _log.warning("trustpool: unreadable update status, starting afresh: %s", exc)
            return UpdateStatus()

    def record_update(
        self, *, at: datetime, trigger: str, error: str | None, next_update: datetime | None
    ) -> UpdateStatus:
        """Record one attempt (``error`` None = success) and when the next one is due."""
        with self._lock:
            old = self.update_status()
            new = replace(
                old,
                last_attempt=at,
                trigger=trigger,
                result="failure" if error else "success",
                last_success=old.last_success if error else at,
                last_error=error if error else old.last_error,
                next_update=next_update,
            )
            atomic_write(self._dir / STATUS_FILE, _status_to_json(new))
        return new

    def set_next_update(self, next_update: datetime | None) -> UpdateStatus:
        """Change only the next-update time (the timer was rescheduled without an attempt)."""
        with self._lock:
            new = replace(self.update_status(), next_update=next_update)
            atomic_write(self._dir / STATUS_FILE, _status_to_json(new))
        return new

    # -- internals

    def _load_downloaded(self) -> list[Certificate]:
        try:
            data = (self._dir / DOWNLOADED_FILE).read_bytes()
        except FileNotFoundError:
            return []
        return parse_bundle(data) if data.strip() else []

    def _build(self, downloaded: Sequence[Certificate]) -> _Snapshot:
        keyed = [(subject_der(c), c) for c in downloaded]
        shadowing = {subject for subject, _ in keyed}
        by_subject: dict[bytes, list[Certificate]] = {}
        entries: list[PoolEntry] = []
        for cert, subject in zip(self._builtin, self._builtin_subjects, strict=True):
            active = subject not in shadowing
            entries.append(PoolEntry(cert, "built-in", active))
            if active:
                by_subject.setdefault(subject, []).append(cert)
        for subject, cert in keyed:
            entries.append(PoolEntry(cert, "downloaded", True))
            by_subject.setdefault(subject, []).append(cert)
        frozen = {k: tuple(v) for k, v in by_subject.items()}
        return _Snapshot(tuple(entries), frozen, len(downloaded))


def _dedupe(certs: Sequence[Certificate]) -> list[Certificate]:
    """One entry per certificate (by SHA-256 fingerprint), first occurrence kept."""
    return list({c.sha256_fingerprint: c for c in reversed(certs)}.values())[::-1]


def _pem_concat(certs: Sequence[Certificate]) -> bytes:
    return "".join(c.pem for c in certs).encode("ascii")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _when(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _status_to_json(status: UpdateStatus) -> bytes:
    doc = {
        "last_attempt": _iso(status.last_attempt),
        "trigger": status.trigger,
        "result": status.result,
        "last_success": _iso(status.last_success),
        "last_error": status.last_error,
        "next_update": _iso(status.next_update),
    }
    return json.dumps(doc, indent=1).encode("utf-8")


def _status_from_json(raw: dict[str, object]) -> UpdateStatus:
    result = raw.get("result")
    return UpdateStatus(
        last_attempt=_when(raw.get("last_attempt")),
        trigger=str(raw["trigger"]) if raw.get("trigger") is not None else None,
        result=result if result in ("success", "failure") else None,
        last_success=_when(raw.get("last_success")),
        last_error=str(raw["last_error"]) if raw.get("last_error") is not None else None,
        next_update=_when(raw.get("next_update")),
    )
