"""NETCONF error vocabulary (RFC 6241 Appendix A) and the one exception hierarchy.

Every layer raises these; only ``server/replies.py`` turns them into ``<rpc-error>`` XML.
This module imports nothing from ``agent`` so that any layer may use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum


class ErrorType(StrEnum):
    TRANSPORT = "transport"
    RPC = "rpc"
    PROTOCOL = "protocol"
    APPLICATION = "application"


class ErrorTag(StrEnum):
    IN_USE = "in-use"
    INVALID_VALUE = "invalid-value"
    TOO_BIG = "too-big"
    MISSING_ATTRIBUTE = "missing-attribute"
    BAD_ATTRIBUTE = "bad-attribute"
    UNKNOWN_ATTRIBUTE = "unknown-attribute"
    MISSING_ELEMENT = "missing-element"
    BAD_ELEMENT = "bad-element"
    UNKNOWN_ELEMENT = "unknown-element"
    UNKNOWN_NAMESPACE = "unknown-namespace"
    ACCESS_DENIED = "access-denied"
    LOCK_DENIED = "lock-denied"
    RESOURCE_DENIED = "resource-denied"
    ROLLBACK_FAILED = "rollback-failed"
    DATA_EXISTS = "data-exists"
    DATA_MISSING = "data-missing"
    OPERATION_NOT_SUPPORTED = "operation-not-supported"
    OPERATION_FAILED = "operation-failed"
    PARTIAL_OPERATION = "partial-operation"
    MALFORMED_MESSAGE = "malformed-message"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class RpcError(Exception):
    """One ``<rpc-error>``.

    ``path`` is an XPath expression; ``path_ns`` maps the prefixes it uses to namespaces so
    the renderer can declare them.  ``info`` holds ``<error-info>`` children as
    (namespace, local-name, text); an empty namespace means the NETCONF base namespace.
    """

    tag: ErrorTag = ErrorTag.OPERATION_FAILED
    default_type: ErrorType = ErrorType.APPLICATION

    def __init__(
        self,
        message: str,
        *,
        error_type: ErrorType | None = None,
        app_tag: str | None = None,
        path: str | None = None,
        path_ns: Mapping[str, str] | None = None,
        info: Iterable[tuple[str, str, str]] = (),
        severity: Severity = Severity.ERROR,
        tag: ErrorTag | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if tag is not None:
            self.tag = tag
        self.error_type = error_type or self.default_type
        self.app_tag = app_tag
        self.path = path
        self.path_ns: dict[str, str] = dict(path_ns or {})
        self.info: tuple[tuple[str, str, str], ...] = tuple(info)
        self.severity = severity

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.tag}, {self.message!r}, path={self.path!r})"


class InUse(RpcError):
    tag = ErrorTag.IN_USE


class InvalidValue(RpcError):
    tag = ErrorTag.INVALID_VALUE


class TooBig(RpcError):
    tag = ErrorTag.TOO_BIG
    default_type = ErrorType.RPC


class MissingAttribute(RpcError):
    tag = ErrorTag.MISSING_ATTRIBUTE
    default_type = ErrorType.RPC


class BadAttribute(RpcError):
    tag = ErrorTag.BAD_ATTRIBUTE
    default_type = ErrorType.PROTOCOL


class UnknownAttribute(RpcError):
    tag = ErrorTag.UNKNOWN_ATTRIBUTE
    default_type = ErrorType.PROTOCOL


class MissingElement(RpcError):
    tag = ErrorTag.MISSING_ELEMENT
    default_type = ErrorType.PROTOCOL


class BadElement(RpcError):
    tag = ErrorTag.BAD_ELEMENT
    default_type = ErrorType.PROTOCOL


class UnknownElement(RpcError):
    tag = ErrorTag.UNKNOWN_ELEMENT
    default_type = ErrorType.APPLICATION


class UnknownNamespace(RpcError):
    tag = ErrorTag.UNKNOWN_NAMESPACE
    default_type = ErrorType.PROTOCOL


class AccessDenied(RpcError):
    tag = ErrorTag.ACCESS_DENIED


class LockDenied(RpcError):
    tag = ErrorTag.LOCK_DENIED
    default_type = ErrorType.PROTOCOL

    def __init__(self, message: str, *, holder: int, **kw: object) -> None:
        # RFC 6241 Appendix A: error-info carries the session-id of the lock holder
        # (0 when a non-NETCONF entity holds it).
        super().__init__(message, info=[("", "session-id", str(holder))], **kw)  # type: ignore[arg-type]
        self.holder = holder


class ResourceDenied(RpcError):
    tag = ErrorTag.RESOURCE_DENIED


class RollbackFailed(RpcError):
    tag = ErrorTag.ROLLBACK_FAILED


class DataExists(RpcError):
    tag = ErrorTag.DATA_EXISTS


class DataMissing(RpcError):
    tag = ErrorTag.DATA_MISSING


class OperationNotSupported(RpcError):
    tag = ErrorTag.OPERATION_NOT_SUPPORTED
    default_type = ErrorType.PROTOCOL


class OperationFailed(RpcError):
    tag = ErrorTag.OPERATION_FAILED


class MalformedMessage(RpcError):
    tag = ErrorTag.MALFORMED_MESSAGE
    default_type = ErrorType.RPC


class RpcErrors(Exception):
    """Several errors found together (a validator reports all it finds, pyang-style)."""

    def __init__(self, errors: Iterable[RpcError]) -> None:
        self.errors: tuple[RpcError, ...] = tuple(errors)
        if not self.errors:
            raise ValueError("RpcErrors needs at least one error")
        super().__init__("; ".join(e.message for e in self.errors))

    @classmethod
    def raise_if_any(cls, errors: list[RpcError]) -> None:
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise cls(errors)


def flatten(exc: RpcError | RpcErrors) -> tuple[RpcError, ...]:
    """The individual errors of a single error or a group."""
    return exc.errors if isinstance(exc, RpcErrors) else (exc,)
