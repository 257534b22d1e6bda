"""The device's key pairs, encrypted at rest, addressed by label.

Layout of the directory (mode 0700)::

    master.key                      32 random bytes, 0600, made on first use, never replaced
    <label>.json                    the key record: algorithm, size, usage, origin, created,
                                    and per key pair its public key and its private key as
                                    PKCS #8 PEM, PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) under
                                    the master key in hex as passphrase
    <label>.<token>.<role>.p8       format 1 only: the private keys were files of their own,
                                    named by the record; such stores still load

One record holds everything of a label so that storing a key costs one atomic write (one file
fsync, one directory fsync) instead of one per file.  Replacing a record overwrites the old
one's bytes once the new one is durable (through a descriptor kept open across the rename), and
destroys a format-1 label's key files; zeroize destroys the record, then any key files.  A
crash therefore leaves either the old key or the new one, and at worst format-1 key files no
record names, which the next ``KeyStore`` on the directory destroys (the directory belongs to
the store alone).  Reading a record never decrypts anything, so ``get``/``list`` are cheap;
only :meth:`KeyStore.private_key` touches private material.  The master key is not a secret
from root on the device; it keeps key material out of backups and copies of single files, and
zeroize overwrites each file before unlinking it.

RSA below 2048 bits is accepted (512..4096, as in the YANG model) but flagged twice: a
:class:`WeakKeyWarning` when such a key is made or imported, and ``KeyInfo.weak`` for state.

Key generation is CPU-heavy and the API is synchronous: callers run it in a thread.  Calls for
different labels run in parallel; calls for one label are serialized by a per-label lock.
"""

from __future__ import annotations

import base64
import builtins
import glob
import json
import logging
import os
import re
import secrets
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent import durable
from agent.clock import Clock
from agent.pki._encoding import cisco_hex_lines, colon_hex, pem_encode, sha256_fingerprint
from agent.pki._keyio import (
    RSA_WEAK_BELOW,
    PrivateKey,
    PublicKey,
    check_rsa_modulus,
    decrypt_at_rest,
    encrypt_at_rest,
    generate_private_key,
    parse_key_pair,
    parse_public_key,
    spki_der,
    supported,
)
from agent.pki._vocab import KeyAlgorithm, KeyFormat, KeyOrigin, KeyRole, KeyUsage
from agent.pki.errors import ErrorCode, PkiError

__all__ = ["KeyComponent", "KeyInfo", "KeyStore", "WeakKeyWarning"]

log = logging.getLogger(__name__)

MASTER_KEY_FILE = "master.key"
MASTER_KEY_BYTES = 32
_META_SUFFIX = ".json"
_KEY_SUFFIX = ".p8"
_FORMAT_VERSION = 2
_FORMAT_FILES = 1  # private keys in key files of their own
# npa-pki-types:key-label; also keeps every file name inside the directory and not hidden.
_LABEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# Format 1 key files, <label>.<token>.<role>.p8: with a fixed-width token and a closed set of
# roles, the label a key file belongs to is unambiguous even though labels may contain dots.
_KEY_FILE_TAIL = re.compile(r"\.[0-9a-f]{8}\.(?:general|signature|encryption)\.p8")
_ROLES = {
    KeyUsage.GENERAL_KEYS: (KeyRole.GENERAL,),
    KeyUsage.USAGE_KEYS: (KeyRole.SIGNATURE, KeyRole.ENCRYPTION),
}


class WeakKeyWarning(UserWarning):
    """An RSA key below 2048 bits was generated or imported (allowed for old peers only)."""


@dataclass(frozen=True, slots=True)
class KeyComponent:
    """The public half of one key pair of a label (``keys-state/key/component``)."""

    role: KeyRole
    sha256_fingerprint: str
    public_key_der: bytes = field(repr=False)
    public_key_pem: str = field(repr=False)
    public_key_hex: str = field(repr=False)

    @classmethod
    def from_der(cls, role: KeyRole, der: bytes) -> KeyComponent:
        return cls(
            role=role,
            sha256_fingerprint=sha256_fingerprint(der),
            public_key_der=der,
            public_key_pem=pem_encode("PUBLIC KEY", der),
            public_key_hex=colon_hex(der),
        )

    @property
    def hex_dump(self) -> tuple[str, ...]:
        """The SPKI as Cisco ``show crypto key mypubkey rsa`` prints it under 'Data'."""
        return cisco_hex_lines(self.public_key_der)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What the store knows about a label, without any private material."""

    label: str
    algorithm: KeyAlgorithm
    key_size: int
    usage: KeyUsage
    origin: KeyOrigin
    created: datetime
    public_only: bool
    components: tuple[KeyComponent, ...]
    source_format: KeyFormat | None = None

    @property
    def weak(self) -> bool:
        """True for RSA below 2048 bits: accepted for old peers, not recommended."""
        return self.algorithm is KeyAlgorithm.RSA and self.key_size < RSA_WEAK_BELOW

    @property
    def roles(self) -> tuple[KeyRole, ...]:
        return tuple(c.role for c in self.components)

    def component(self, role: KeyRole) -> KeyComponent:
        for candidate in self.components:
            if candidate.role is role:
                return candidate
        raise PkiError(
            ErrorCode.KEY_NOT_FOUND,
            f"key {self.label!r} has no {role.value} key pair (usage {self.usage.value})",
            {"label": self.label, "role": role.value},
        )


@dataclass(frozen=True, slots=True)
class _Record:
    info: KeyInfo
    sealed: Mapping[KeyRole, bytes] = field(repr=False)  # encrypted PKCS #8 PEM per pair
    files: Mapping[KeyRole, str] = field(default_factory=dict)  # format 1: key file names


@dataclass(frozen=True, slots=True)
class GeneratedKeys:
    """Fresh key pairs of one label, not stored yet (see :meth:`KeyStore.install_generated`)."""

    usage: KeyUsage
    pairs: Mapping[KeyRole, PrivateKey] = field(repr=False)


def new_key_pairs(
    algorithm: KeyAlgorithm, modulus: int = 2048, usage: KeyUsage = KeyUsage.GENERAL_KEYS
) -> GeneratedKeys:
    """Generate the pair(s) for ``usage``: one for general-keys, two for usage-keys.  CPU
    work only, safe in any thread; raises PkiError unsupported-key-parameters."""
    _check_parameters(algorithm, modulus, usage)
    return GeneratedKeys(
        usage, {role: generate_private_key(algorithm, modulus) for role in _ROLES[usage]}
    )


class KeyStore:
    """Key pairs under one directory; see the module docstring for the layout."""

    def __init__(self, directory: Path, clock: Clock) -> None:
        self._dir = directory
        self._clock = clock
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._passphrase: bytes | None = None
        # label -> (record bytes, decoded): decoding recomputes every public key's encodings,
        # and state and enrollment read the same records over and over.
        self._decoded: dict[str, tuple[bytes, _Record]] = {}
        durable.ensure_private_dir(directory)
        self._recover()

    @property
    def directory(self) -> Path:
        return self._dir

    # -- creating -------------------------------------------------------------------------

    def generate(
        self,
        label: str,
        algorithm: KeyAlgorithm = KeyAlgorithm.RSA,
        *,
        modulus: int = 2048,
        usage: KeyUsage = KeyUsage.GENERAL_KEYS,
        origin: KeyOrigin = KeyOrigin.RPC,
        overwrite: bool = False,
    ) -> KeyInfo:
        """Generate the key pair(s) of ``label``: one for general-keys, two for usage-keys.

        ``modulus`` applies to RSA only (512..4096; below 2048 a :class:`WeakKeyWarning` is
        issued).  usage-keys needs RSA.  Raises PkiError key-exists (label taken and not
        ``overwrite``) or unsupported-key-parameters.  With ``overwrite`` the old material is
        destroyed once the new is stored.
        """
        _check_label(label)
        _check_parameters(algorithm, modulus, usage)
        with self._label_lock(label):
            self._refuse_existing(label, overwrite)
            keys = new_key_pairs(algorithm, modulus, usage).pairs
            info = self._store(label, keys, usage=usage, origin=origin, source_format=None)
        self._log_generated(info)
        return info

    def install_generated(
        self,
        label: str,
        keys: GeneratedKeys,
        *,
        origin: KeyOrigin = KeyOrigin.CONFIG,
        overwrite: bool = False,
    ) -> KeyInfo:
        """Store key pairs made beforehand by :func:`new_key_pairs` (so that the slow part,
        generation, can run elsewhere, e.g. in a worker thread before a commit applies).
        Same errors and overwrite rule as :meth:`generate`."""
        _check_label(label)
        with self._label_lock(label):
            self._refuse_existing(label, overwrite)
            info = self._store(
                label, keys.pairs, usage=keys.usage, origin=origin, source_format=None
            )
        self._log_generated(info)
        return info

    @staticmethod
    def _log_generated(info: KeyInfo) -> None:
        log.info(
            "key generated label=%s algorithm=%s size=%d usage=%s",
            info.label,
            info.algorithm,
            info.key_size,
            info.usage,
        )
        _warn_if_weak(info)

    def import_public(self, label: str, data: bytes, *, overwrite: bool = False) -> KeyInfo:
        """Store a peer's public key for authentication (PEM/DER SPKI, PKCS #1 RSA).

        Raises PkiError malformed-key, unsupported-key-parameters or key-exists.
        """
        _check_label(label)
        return self._store_imported(label, parse_public_key(data), KeyFormat.SPKI, overwrite)

    def import_pair(
        self, label: str, data: bytes, passphrase: bytes | None = None, *, overwrite: bool = False
    ) -> KeyInfo:
        """Store a key pair from PKCS #8 (PEM/DER, encrypted or not) or PKCS #12 (DER).

        The passphrase is used once and kept nowhere.  Certificates inside a PKCS #12 archive
        are ignored here.  Raises PkiError bad-passphrase, malformed-key,
        unsupported-key-parameters or key-exists.
        """
        _check_label(label)
        key, source_format = parse_key_pair(data, passphrase)
        return self._store_imported(label, key, source_format, overwrite)

    def _store_imported(
        self, label: str, key: PrivateKey | PublicKey, source_format: KeyFormat, overwrite: bool
    ) -> KeyInfo:
        with self._label_lock(label):
            self._refuse_existing(label, overwrite)
            info = self._store(
                label,
                {KeyRole.GENERAL: key},
                usage=KeyUsage.GENERAL_KEYS,
                origin=KeyOrigin.IMPORTED,
                source_format=source_format,
            )
        log.info(
            "key imported label=%s algorithm=%s format=%s", label, info.algorithm, source_format
        )
        _warn_if_weak(info)
        return info

    # -- reading --------------------------------------------------------------------------

    def exists(self, label: str) -> bool:
        _check_label(label)
        return self._meta_path(label).exists()

    def get(self, label: str) -> KeyInfo:
        """Metadata and public keys of ``label``; PkiError key-not-found if absent."""
        _check_label(label)
        return self._record(label).info

    def list(self) -> builtins.list[KeyInfo]:
        """Every key, sorted by label (a key zeroized meanwhile is simply left out)."""
        infos: builtins.list[KeyInfo] = []
        for label in self._labels():
            try:
                infos.append(self._record(label).info)
            except PkiError as exc:
                if exc.code is not ErrorCode.KEY_NOT_FOUND:
                    raise
        return infos

    def private_key(self, label: str, role: KeyRole = KeyRole.GENERAL) -> PrivateKey:
        """The private key of one key pair, for signing; the only way to the material.

        Raises PkiError key-not-found (unknown label, no such role, or a public-only key) or
        keystore-damaged (the file does not decrypt or does not match its public key).
        """
        _check_label(label)
        with self._label_lock(label):
            record = self._record(label)
            info = record.info
            if info.public_only:
                raise PkiError(
                    ErrorCode.KEY_NOT_FOUND,
                    f"key {label!r} is a peer's public key: it has no private key",
                    {"label": label},
                )
            expected = info.component(role).public_key_der
            data = record.sealed.get(role) or (self._dir / record.files[role]).read_bytes()
        key = decrypt_at_rest(data, self._master_passphrase())
        if spki_der(key.public_key()) != expected:
            raise PkiError(
                ErrorCode.KEYSTORE_DAMAGED,
                f"the stored private key of {label!r} does not match its public key",
                {"label": label},
            )
        return key

    # -- destroying -----------------------------------------------------------------------

    def zeroize(self, label: str) -> None:
        """Destroy every file of ``label``: metadata first, then each key file overwritten.

        Key files are found by name as well as through the metadata, so a label whose
        metadata is damaged can still be destroyed.  Raises PkiError key-not-found.
        Certificates are not stored here; whoever keeps certificates bound to the key
        discards them.
        """
        _check_label(label)
        with self._label_lock(label):
            meta = self._meta_path(label)
            key_files = self._key_files_of(label)
            if not meta.exists() and not key_files:
                raise PkiError(
                    ErrorCode.KEY_NOT_FOUND, f"no key labelled {label!r}", {"label": label}
                )
            self._decoded.pop(label, None)
            durable.destroy(meta)
            for path in key_files:
                durable.destroy(path)
        log.info("key zeroized label=%s", label)

    def zeroize_all(self) -> builtins.list[str]:
        """Destroy every key; returns the labels destroyed."""
        done: builtins.list[str] = []
        for label in self._labels():
            try:
                self.zeroize(label)
            except PkiError as exc:
                if exc.code is not ErrorCode.KEY_NOT_FOUND:
                    raise
                continue  # zeroized meanwhile by another caller
            done.append(label)
        return done

    # -- internals ------------------------------------------------------------------------

    def _label_lock(self, label: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(label, threading.Lock())

    def _meta_path(self, label: str) -> Path:
        return self._dir / f"{label}{_META_SUFFIX}"

    def _key_files_of(self, label: str) -> builtins.list[Path]:
        candidates = self._dir.glob(f"{glob.escape(label)}.*{_KEY_SUFFIX}")
        return sorted(p for p in candidates if _KEY_FILE_TAIL.fullmatch(p.name[len(label) :]))

    def _labels(self) -> builtins.list[str]:
        names = (p.name for p in self._dir.glob(f"*{_META_SUFFIX}") if not p.name.startswith("."))
        return sorted(name[: -len(_META_SUFFIX)] for name in names)

    def _refuse_existing(self, label: str, overwrite: bool) -> None:
        if not overwrite and self._meta_path(label).exists():
            raise PkiError(
                ErrorCode.KEY_EXISTS,
                f"key {label!r} already exists; zeroize it first or ask to overwrite it",
                {"label": label},
            )

    def _record(self, label: str) -> _Record:
        try:
            raw = self._meta_path(label).read_bytes()
        except FileNotFoundError:
            raise PkiError(
                ErrorCode.KEY_NOT_FOUND, f"no key labelled {label!r}", {"label": label}
            ) from None
        cached = self._decoded.get(label)
        if cached is not None and cached[0] == raw:
            return cached[1]
        record = _decode_record(label, raw)
        self._decoded[label] = (raw, record)
        return record

    def _store(
        self,
        label: str,
        keys: Mapping[KeyRole, PrivateKey | PublicKey],
        *,
        usage: KeyUsage,
        origin: KeyOrigin,
        source_format: KeyFormat | None,
    ) -> KeyInfo:
        """Write the record (the commit point), then destroy what it replaced."""
        info = _make_info(label, keys, usage, origin, source_format, self._clock.now())
        record = _encode_record(_Record(info, self._seal(keys)))
        meta = self._meta_path(label)
        old = _open_if_exists(meta)
        try:
            durable.atomic_write(meta, record)
            if old is not None:  # now unlinked, still open: its bytes held the old key
                durable.overwrite(old)
        finally:
            if old is not None:
                os.close(old)
        if old is not None:
            for path in self._key_files_of(label):  # a format-1 record's key files
                durable.destroy(path)
        return info

    def _seal(self, keys: Mapping[KeyRole, PrivateKey | PublicKey]) -> dict[KeyRole, bytes]:
        passphrase = self._master_passphrase()
        return {
            role: encrypt_at_rest(key, passphrase)
            for role, key in keys.items()
            if not isinstance(key, PublicKey)
        }

    def _master_passphrase(self) -> bytes:
        """The PKCS #8 passphrase: the master key in hex, made on first use."""
        with self._guard:
            if self._passphrase is None:
                master = _load_or_create_master(self._dir, self._holds_private_keys)
                self._passphrase = master.hex().encode("ascii")
            return self._passphrase

    def _holds_private_keys(self) -> bool:
        """True if a record or key file holds encrypted material (or cannot be read)."""
        if any(self._dir.glob(f"*{_KEY_SUFFIX}")):
            return True
        for label in self._labels():
            try:
                if not self._record(label).info.public_only:
                    return True
            except PkiError as exc:
                if exc.code is not ErrorCode.KEY_NOT_FOUND:
                    return True
        return False

    def _recover(self) -> None:
        """Destroy what a crash may have left: temp files and key files no record names."""
        for stale in self._dir.glob(f".*{durable.TEMP_SUFFIX}"):
            durable.destroy(stale)
        try:
            named = {n for label in self._labels() for n in self._record(label).files.values()}
        except PkiError:
            log.warning("key store metadata unreadable; orphan key files kept for inspection")
            return
        for path in self._dir.glob(f"*{_KEY_SUFFIX}"):
            if path.name not in named:
                log.warning("destroying orphan key file %s", path.name)
                durable.destroy(path)


# ---------------------------------------------------------------------------------------------
# helpers


def _check_label(label: str) -> None:
    # The YANG model validates labels; this guards the file system against any other caller.
    if not _LABEL_RE.fullmatch(label):
        raise ValueError(f"invalid key label {label!r}")


def _check_parameters(algorithm: KeyAlgorithm, modulus: int, usage: KeyUsage) -> None:
    if usage is KeyUsage.USAGE_KEYS and algorithm is not KeyAlgorithm.RSA:
        raise PkiError(
            ErrorCode.UNSUPPORTED_KEY_PARAMETERS,
            "usage-keys needs an RSA key: use algorithm rsa or usage general-keys",
        )
    if algorithm is KeyAlgorithm.RSA:
        check_rsa_modulus(modulus)


def _warn_if_weak(info: KeyInfo) -> None:
    if info.weak:
        warnings.warn(
            WeakKeyWarning(f"key {info.label!r}: RSA {info.key_size} bits is below 2048"),
            stacklevel=3,
        )


def _make_info(
    label: str,
    keys: Mapping[KeyRole, PrivateKey | PublicKey],
    usage: KeyUsage,
    origin: KeyOrigin,
    source_format: KeyFormat | None,
    now: datetime,
) -> KeyInfo:
    publics = {role: k if isinstance(k, PublicKey) else k.public_key() for role, k in keys.items()}
    algorithm, size = supported(next(iter(publics.values())))
    return KeyInfo(
        label=label,
        algorithm=algorithm,
        key_size=size,
        usage=usage,
        origin=origin,
        created=now.astimezone(UTC).replace(microsecond=0),
        public_only=all(isinstance(k, PublicKey) for k in keys.values()),
        components=tuple(KeyComponent.from_der(r, spki_der(k)) for r, k in publics.items()),
        source_format=source_format,
    )


def _load_or_create_master(directory: Path, holds_private_keys: Callable[[], bool]) -> bytes:
    path = directory / MASTER_KEY_FILE
    if not path.exists():
        if holds_private_keys():
            raise PkiError(
                ErrorCode.KEYSTORE_DAMAGED,
                "the master key is missing but encrypted keys exist; restore master.key",
            )
        durable.create_exclusive(path, secrets.token_bytes(MASTER_KEY_BYTES))
    key = path.read_bytes()
    if len(key) != MASTER_KEY_BYTES:
        raise PkiError(ErrorCode.KEYSTORE_DAMAGED, "the master key file has the wrong length")
    return key


def _encode_record(record: _Record) -> bytes:
    info = record.info
    doc: dict[str, Any] = {
        "version": _FORMAT_VERSION,
        "label": info.label,
        "algorithm": info.algorithm.value,
        "key-size": info.key_size,
        "usage": info.usage.value,
        "origin": info.origin.value,
        "created": info.created.isoformat(),
        "public-only": info.public_only,
        "source-format": info.source_format.value if info.source_format else None,
        "components": [
            {
                "role": c.role.value,
                "public-key": base64.b64encode(c.public_key_der).decode("ascii"),
                "private-key": _text_or_none(record.sealed.get(c.role)),
            }
            for c in info.components
        ],
    }
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def _decode_record(label: str, raw: bytes) -> _Record:
    try:
        doc = json.loads(raw)
        if doc["version"] not in (_FORMAT_VERSION, _FORMAT_FILES) or doc["label"] != label:
            raise ValueError("version or label mismatch")
        if doc["version"] == _FORMAT_FILES:
            return _Record(_decode_info(doc), {}, _decode_files(doc))
        return _Record(_decode_info(doc), _decode_sealed(doc))
    except (ValueError, KeyError, TypeError) as exc:
        raise PkiError(
            ErrorCode.KEYSTORE_DAMAGED,
            f"the metadata of key {label!r} is unreadable",
            {"label": label},
        ) from exc


def _decode_info(doc: Mapping[str, Any]) -> KeyInfo:
    created = datetime.fromisoformat(doc["created"])
    if created.tzinfo is None:
        raise ValueError("naive creation time")
    components = tuple(
        KeyComponent.from_der(KeyRole(c["role"]), base64.b64decode(c["public-key"], validate=True))
        for c in doc["components"]
    )
    fmt = doc["source-format"]
    return KeyInfo(
        label=str(doc["label"]),
        algorithm=KeyAlgorithm(doc["algorithm"]),
        key_size=int(doc["key-size"]),
        usage=KeyUsage(doc["usage"]),
        origin=KeyOrigin(doc["origin"]),
        created=created.astimezone(UTC),
        public_only=bool(doc["public-only"]),
        components=components,
        source_format=KeyFormat(fmt) if fmt is not None else None,
    )


def _text_or_none(data: bytes | None) -> str | None:
    return None if data is None else data.decode("ascii")


def _decode_sealed(doc: Mapping[str, Any]) -> dict[KeyRole, bytes]:
    sealed: dict[KeyRole, bytes] = {}
    for c in doc["components"]:
        pem = c["private-key"]
        if pem is None:
            continue
        if not isinstance(pem, str) or not pem.startswith("-----BEGIN ENCRYPTED PRIVATE KEY"):
            raise ValueError("bad private key")
        sealed[KeyRole(c["role"])] = pem.encode("ascii")
    if not doc["public-only"] and len(sealed) != len(doc["components"]):
        raise ValueError("a key pair has no private key")
    return sealed


def _open_if_exists(path: Path) -> int | None:
    try:
        return os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return None


def _decode_files(doc: Mapping[str, Any]) -> dict[KeyRole, str]:
    files: dict[KeyRole, str] = {}
    for c in doc["components"]:
        name = c["file"]
        if name is None:
            continue
        if not isinstance(name, str) or "/" in name or not name.endswith(_KEY_SUFFIX):
            raise ValueError("bad key file name")
        files[KeyRole(c["role"])] = name
    if not doc["public-only"] and len(files) != len(doc["components"]):
        raise ValueError("a key pair has no key file")
    return files
