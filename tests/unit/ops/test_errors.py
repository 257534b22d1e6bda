"""The PkiError -> rpc-error table is total and follows MODELS.md section 7."""

from __future__ import annotations

import pytest

from agent.errors import ErrorTag, ErrorType
from agent.ops.errors import TAGS, to_rpc_error
from agent.pki import ErrorCode, PkiError


def test_every_code_is_mapped() -> None:
    assert set(TAGS) == set(ErrorCode)


@pytest.mark.parametrize(
    ("code", "tag"),
    [
        (ErrorCode.KEY_EXISTS, ErrorTag.DATA_EXISTS),
        (ErrorCode.KEY_NOT_FOUND, ErrorTag.DATA_MISSING),
        (ErrorCode.KEY_IN_USE, ErrorTag.IN_USE),
        (ErrorCode.KEY_DECLARED_IN_CONFIG, ErrorTag.IN_USE),
        (ErrorCode.BAD_PASSPHRASE, ErrorTag.INVALID_VALUE),
        (ErrorCode.KEYSTORE_DAMAGED, ErrorTag.OPERATION_FAILED),
        (ErrorCode.ENROLLMENT_IN_PROGRESS, ErrorTag.IN_USE),
    ],
)
def test_code_becomes_app_tag(code: ErrorCode, tag: ErrorTag) -> None:
    err = to_rpc_error(PkiError(code, "human text"), "/p:x", {"p": "urn:p"})
    assert (err.tag, err.error_type, err.app_tag) == (tag, ErrorType.APPLICATION, code.value)
    assert (err.message, err.path, err.path_ns) == ("human text", "/p:x", {"p": "urn:p"})
