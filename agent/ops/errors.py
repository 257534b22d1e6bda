"""The one table from PKI engine failures to NETCONF errors (MODELS.md §7), like asyncssh's
disconnect-code maps.

The engine's code becomes the error-app-tag unchanged; this table only adds the error-tag, and
error-type is always ``application`` (a PKI failure, not a malformed request).  Keeping it a
total mapping over :class:`ErrorCode` lets a unit test prove no code is left unmapped.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from agent.errors import ErrorTag, ErrorType, RpcError
from agent.pki import ErrorCode, PkiError

_IN_USE = ErrorTag.IN_USE
_INVALID = ErrorTag.INVALID_VALUE
_FAILED = ErrorTag.OPERATION_FAILED

TAGS: Mapping[ErrorCode, ErrorTag] = MappingProxyType(
    {
        ErrorCode.KEY_EXISTS: ErrorTag.DATA_EXISTS,
        ErrorCode.KEY_NOT_FOUND: ErrorTag.DATA_MISSING,
        ErrorCode.KEY_IN_USE: _IN_USE,
        ErrorCode.KEY_DECLARED_IN_CONFIG: _IN_USE,
        ErrorCode.UNSUPPORTED_KEY_PARAMETERS: _INVALID,
        ErrorCode.BAD_PASSPHRASE: _INVALID,
        ErrorCode.MALFORMED_KEY: _INVALID,
        ErrorCode.KEYSTORE_DAMAGED: _FAILED,
        ErrorCode.MALFORMED_CERTIFICATE: _INVALID,
        ErrorCode.MALFORMED_BUNDLE: _INVALID,
        ErrorCode.MALFORMED_CSR: _INVALID,
        ErrorCode.INVALID_SUBJECT: _INVALID,
        ErrorCode.CERTIFICATE_KEY_MISMATCH: _INVALID,
        ErrorCode.CERTIFICATE_NOT_ISSUED_BY_CA: _INVALID,
        ErrorCode.CERTIFICATE_EXPIRED: _INVALID,
        ErrorCode.CERTIFICATE_NOT_YET_VALID: _INVALID,
        ErrorCode.CA_NOT_AUTHENTICATED: _FAILED,
        ErrorCode.FINGERPRINT_MISMATCH: _FAILED,
        ErrorCode.CA_UNREACHABLE: _FAILED,
        ErrorCode.URL_UNREACHABLE: _FAILED,
        ErrorCode.CA_REJECTED: _FAILED,
        ErrorCode.ENROLLMENT_IN_PROGRESS: _IN_USE,
        ErrorCode.NO_ENROLLMENT_PENDING: _FAILED,
    }
)


def to_rpc_error(
    e: PkiError, path: str | None = None, path_ns: Mapping[str, str] | None = None
) -> RpcError:
    """The ``<rpc-error>`` for an engine failure: tag from the table, app-tag = the code."""
    return RpcError(
        e.message,
        tag=TAGS[e.code],
        error_type=ErrorType.APPLICATION,
        app_tag=e.code.value,
        path=path,
        path_ns=path_ns,
    )
