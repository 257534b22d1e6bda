"""PkiError: stable kebab-case codes matching MODELS.md section 7, data, no secrets, pickling."""

from __future__ import annotations

import pickle
import re

import pytest

from agent.pki import ErrorCode, PkiError

# The error-app-tag table of MODELS.md section 7 (PKI rows): each must be an ErrorCode.
MODELS_TABLE = {
    "key-exists",
    "key-not-found",
    "key-in-use",
    "key-declared-in-config",
    "unsupported-key-parameters",
    "bad-passphrase",
    "malformed-certificate",
    "malformed-bundle",
    "ca-not-authenticated",
    "fingerprint-mismatch",
    "ca-unreachable",
    "url-unreachable",
    "ca-rejected",
    "enrollment-in-progress",
    "no-enrollment-pending",
    "certificate-key-mismatch",
    "certificate-not-issued-by-ca",
}


def test_every_models_app_tag_is_a_code() -> None:
    assert {c.value for c in ErrorCode} >= MODELS_TABLE


@pytest.mark.parametrize("code", list(ErrorCode), ids=str)
def test_codes_are_kebab_case(code: ErrorCode) -> None:
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", code.value)


def test_error_carries_code_message_and_data() -> None:
    exc = PkiError(ErrorCode.KEY_EXISTS, "key 'k' already exists", {"label": "k"})
    assert exc.code is ErrorCode.KEY_EXISTS and str(exc.code) == "key-exists"
    assert str(exc) == exc.message == "key 'k' already exists"
    assert repr(exc) == "PkiError('key-exists', \"key 'k' already exists\")"
    assert dict(exc.data) == {"label": "k"}
    with pytest.raises(TypeError):
        exc.data["label"] = "other"  # type: ignore[index]


def test_string_codes_are_normalized() -> None:
    assert PkiError("ca-rejected", "no").code is ErrorCode.CA_REJECTED  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        PkiError("not-a-code", "no")  # type: ignore[arg-type]


def test_pickles() -> None:
    exc = PkiError(ErrorCode.CA_UNREACHABLE, "cannot reach", {"url": "http://ca", "n": 3})
    again = pickle.loads(pickle.dumps(exc))
    assert (again.code, again.message, dict(again.data)) == (exc.code, exc.message, dict(exc.data))
