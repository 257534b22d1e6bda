"""Errors of the PKI engine: one exception class with a stable code.

Why one class and not one subclass per failure: callers branch on the outcome the operator
sees, and that is the code.  ``ops/errors.py`` owns the single table mapping each code to a
NETCONF error-tag and error-type (the code itself becomes the error-app-tag), as asyncssh maps
its disconnect codes; keeping the codes in a ``StrEnum`` here lets that table be checked for
completeness.  The engine speaks no NETCONF: no tags, types or paths appear in this module.

Messages are for humans and never carry secrets: no passphrase, challenge password or key
bytes, and never an echo of the input that failed to parse (it may be a private key).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

__all__ = ["ErrorCode", "PkiError"]

DataValue = str | int | bool


class ErrorCode(StrEnum):
    """Stable failure codes, spelled as the error-app-tags of MODELS.md section 7."""

    # keys
    KEY_EXISTS = "key-exists"
    KEY_NOT_FOUND = "key-not-found"
    KEY_IN_USE = "key-in-use"
    KEY_DECLARED_IN_CONFIG = "key-declared-in-config"
    UNSUPPORTED_KEY_PARAMETERS = "unsupported-key-parameters"
    BAD_PASSPHRASE = "bad-passphrase"
    MALFORMED_KEY = "malformed-key"
    KEYSTORE_DAMAGED = "keystore-damaged"
    # certificates, bundles, requests
    MALFORMED_CERTIFICATE = "malformed-certificate"
    MALFORMED_BUNDLE = "malformed-bundle"
    MALFORMED_CSR = "malformed-csr"
    INVALID_SUBJECT = "invalid-subject"
    CERTIFICATE_KEY_MISMATCH = "certificate-key-mismatch"
    CERTIFICATE_NOT_ISSUED_BY_CA = "certificate-not-issued-by-ca"
    CERTIFICATE_EXPIRED = "certificate-expired"
    CERTIFICATE_NOT_YET_VALID = "certificate-not-yet-valid"
    # trustpoints and enrollment
    CA_NOT_AUTHENTICATED = "ca-not-authenticated"
    FINGERPRINT_MISMATCH = "fingerprint-mismatch"
    CA_UNREACHABLE = "ca-unreachable"
    URL_UNREACHABLE = "url-unreachable"
    CA_REJECTED = "ca-rejected"
    ENROLLMENT_IN_PROGRESS = "enrollment-in-progress"
    NO_ENROLLMENT_PENDING = "no-enrollment-pending"


class PkiError(Exception):
    """A PKI operation failed for a reason the operator can act on.

    ``code`` is stable (an :class:`ErrorCode`); ``message`` is human text free of secrets;
    ``data`` holds structured facts (a label, a fingerprint) for callers that render them.
    The exception pickles (for callers that run engine work in another process).
    """

    def __init__(
        self, code: ErrorCode, message: str, data: Mapping[str, DataValue] | None = None
    ) -> None:
        frozen = dict(data or {})
        super().__init__(ErrorCode(code), message, frozen)
        self.code = ErrorCode(code)
        self.message = message
        self.data: Mapping[str, DataValue] = MappingProxyType(frozen)

    def __reduce__(self) -> tuple[type[PkiError], tuple[ErrorCode, str, dict[str, DataValue]]]:
        return type(self), (self.code, self.message, dict(self.data))

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"PkiError({self.code.value!r}, {self.message!r})"
