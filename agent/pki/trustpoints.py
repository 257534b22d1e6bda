"""Per-trustpoint certificates: the CA (and RA) certificates and the local certificates.

Why a store of its own: certificates are public, so they are kept in the clear, but they must
survive restarts and change atomically with respect to the checks that admit them.  Each
trustpoint is one JSON file (``<name>.json``) replaced with :func:`atomic_write`, so a crash
leaves the old or the new set and never a mix.  A local certificate records the key label and
role it certifies, so zeroizing a key can remove exactly the certificates bound to it.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from agent.clock import Clock
from agent.durable import atomic_write, destroy, ensure_private_dir
from agent.pki._vocab import KeyRole
from agent.pki.certs import Certificate, ValidityStatus, load_certificate
from agent.pki.errors import ErrorCode, PkiError
from agent.pki.keystore import KeyInfo

__all__ = ["LocalCertificate", "TrustpointRecord", "TrustpointStore"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class LocalCertificate:
    """A certificate for one key pair of a trustpoint's key."""

    role: KeyRole
    key_label: str
    certificate: Certificate


@dataclass(frozen=True, slots=True)
class TrustpointRecord:
    """What is stored for one trustpoint; ``ca`` is None until authenticate trusted one."""

    name: str
    ca: Certificate | None = None
    ra: tuple[Certificate, ...] = ()
    local: tuple[LocalCertificate, ...] = field(default=())

    @property
    def authenticated(self) -> bool:
        return self.ca is not None

    @property
    def fingerprints(self) -> list[str]:
        """SHA-256 fingerprints of every stored certificate (CA first)."""
        certs = ([self.ca] if self.ca else []) + list(self.ra)
        return [c.sha256_fingerprint for c in certs] + [
            lc.certificate.sha256_fingerprint for lc in self.local
        ]


class TrustpointStore:
    """The certificates of every trustpoint, under one directory."""

    def __init__(self, directory: Path, clock: Clock) -> None:
        self._dir = directory
        self._clock = clock
        self._lock = threading.Lock()
        self._decoded: dict[str, tuple[bytes, TrustpointRecord]] = {}
        ensure_private_dir(directory)

    def names(self) -> list[str]:
        """Trustpoints that hold any certificate, sorted."""
        return sorted(p.stem for p in self._dir.glob("*.json") if _NAME.match(p.stem))

    def get(self, name: str) -> TrustpointRecord:
        """The record of ``name`` (empty when nothing is stored)."""
        _check_name(name)
        try:
            raw = self._path(name).read_bytes()
        except FileNotFoundError:
            self._decoded.pop(name, None)
            return TrustpointRecord(name)
        # Decoding parses every certificate; state renders every trustpoint on each get.
        cached = self._decoded.get(name)
        if cached is not None and cached[0] == raw:
            return cached[1]
        record = _decode(name, raw)
        self._decoded[name] = (raw, record)
        return record

    def set_ca(self, name: str, ca: Certificate, ra: Iterable[Certificate] = ()) -> None:
        """Trust ``ca`` (and its RA certificates) for ``name``; local certificates stay."""
        with self._lock:
            self._write(replace(self.get(name), ca=ca, ra=tuple(ra)))

    def import_local(self, name: str, data: bytes | Certificate, key: KeyInfo) -> LocalCertificate:
        """Check and store a certificate (bytes, or one already loaded) for one of ``key``'s
        pairs; returns what was stored.

        Raises PkiError malformed-certificate, certificate-key-mismatch, ca-not-authenticated,
        certificate-not-issued-by-ca or certificate-expired/-not-yet-valid; on failure
        nothing changes.  The role is the one whose public key the certificate certifies.
        """
        cert = data if isinstance(data, Certificate) else load_certificate(data)
        with self._lock:
            record = self.get(name)
            local = self._admit(record, cert, key)
            kept = tuple(lc for lc in record.local if lc.role is not local.role)
            self._write(replace(record, local=(*kept, local)))
        return local

    def remove_local(self, name: str) -> list[str]:
        """Remove the local certificates; returns their SHA-256 fingerprints."""
        with self._lock:
            record = self.get(name)
            gone = [lc.certificate.sha256_fingerprint for lc in record.local]
            self._write(replace(record, local=()))
        return gone

    def remove_all(self, name: str) -> list[str]:
        """Remove every certificate of ``name`` (the trustpoint is no longer authenticated)."""
        with self._lock:
            gone = self.get(name).fingerprints
            destroy(self._path(name))
        return gone

    def restore(self, record: TrustpointRecord) -> None:
        """Put back a record read before a removal (undo of a failed commit)."""
        _check_name(record.name)
        with self._lock:
            self._write(record)

    def bound_to(self, key_label: str) -> list[str]:
        """Trustpoints holding a local certificate for ``key_label``."""
        return [
            n for n in self.names() if any(lc.key_label == key_label for lc in self.get(n).local)
        ]

    def remove_bound(self, key_label: str) -> list[str]:
        """Remove the local certificates of ``key_label`` (zeroize); returns fingerprints."""
        gone: list[str] = []
        with self._lock:
            for name in self.names():
                record = self.get(name)
                kept = tuple(lc for lc in record.local if lc.key_label != key_label)
                if len(kept) != len(record.local):
                    gone += [
                        lc.certificate.sha256_fingerprint
                        for lc in record.local
                        if lc.key_label == key_label
                    ]
                    self._write(replace(record, local=kept))
        return gone

    def _admit(self, record: TrustpointRecord, cert: Certificate, key: KeyInfo) -> LocalCertificate:
        role = next(
            (c.role for c in key.components if cert.matches_public_key(c.public_key_der)), None
        )
        if role is None:
            raise PkiError(
                ErrorCode.CERTIFICATE_KEY_MISMATCH,
                f"the certificate ({cert.subject}) certifies no key pair of key "
                f"{key.label!r} used by trustpoint {record.name!r}",
                {"trustpoint": record.name, "label": key.label},
            )
        if record.ca is None:
            raise PkiError(
                ErrorCode.CA_NOT_AUTHENTICATED,
                f"trustpoint {record.name!r} has no trusted CA certificate: run authenticate first",
                {"trustpoint": record.name},
            )
        if not cert.is_issued_by(record.ca):
            raise PkiError(
                ErrorCode.CERTIFICATE_NOT_ISSUED_BY_CA,
                f"the certificate (issuer {cert.issuer}) was not issued by the CA of trustpoint "
                f"{record.name!r} ({record.ca.subject})",
                {"trustpoint": record.name},
            )
        _check_validity(cert, self._clock)
        return LocalCertificate(role, key.label, cert)

    def _path(self, name: str) -> Path:
        return self._dir / f"{name}.json"

    def _write(self, record: TrustpointRecord) -> None:
        if record.ca is None and not record.ra and not record.local:
            destroy(self._path(record.name))
            self._decoded.pop(record.name, None)
            return
        raw = _encode(record)
        atomic_write(self._path(record.name), raw)
        # What was written is what the next get reads: spare it decoding every certificate.
        self._decoded[record.name] = (raw, record)


def _check_validity(cert: Certificate, clock: Clock) -> None:
    status = cert.status_at(clock.now())
    if status is ValidityStatus.EXPIRED:
        raise PkiError(
            ErrorCode.CERTIFICATE_EXPIRED,
            f"the certificate expired at {cert.not_after.isoformat()}",
            {"not-after": cert.not_after.isoformat()},
        )
    if status is ValidityStatus.NOT_YET_VALID:
        raise PkiError(
            ErrorCode.CERTIFICATE_NOT_YET_VALID,
            f"the certificate is not valid before {cert.not_before.isoformat()}",
            {"not-before": cert.not_before.isoformat()},
        )


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"invalid trustpoint name {name!r}")


def _encode(record: TrustpointRecord) -> bytes:
    doc = {
        "ca": record.ca.pem if record.ca else None,
        "ra": [c.pem for c in record.ra],
        "local": [
            {"role": lc.role.value, "key-label": lc.key_label, "pem": lc.certificate.pem}
            for lc in record.local
        ],
    }
    return json.dumps(doc, indent=1).encode()


def _decode(name: str, raw: bytes) -> TrustpointRecord:
    try:
        doc = json.loads(raw)
        return TrustpointRecord(
            name,
            load_certificate(doc["ca"].encode()) if doc.get("ca") else None,
            tuple(load_certificate(p.encode()) for p in doc.get("ra", [])),
            tuple(
                LocalCertificate(
                    KeyRole(e["role"]), e["key-label"], load_certificate(e["pem"].encode())
                )
                for e in doc.get("local", [])
            ),
        )
    except (ValueError, KeyError, TypeError, AttributeError, PkiError) as exc:
        raise PkiError(
            ErrorCode.KEYSTORE_DAMAGED,
            f"the certificate store of trustpoint {name!r} is damaged: {exc}",
            {"trustpoint": name},
        ) from None
