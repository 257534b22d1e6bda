"""TrustpointStore: admission rules of a local certificate, persistence, removal by scope and
by key label (zeroize).  Certificates are made with cryptography against a pinned clock."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from agent.clock import FakeClock
from agent.pki import ErrorCode, KeyRole, KeyStore, PkiError, load_certificate
from agent.pki.trustpoints import TrustpointStore
from tests.unit.pki.helpers import DAY, NOW, der, ec_key, make_cert, name, pem, pem_key

CA_KEY = ec_key()
CA = load_certificate(der(make_cert(name("Unit CA"), CA_KEY.public_key(), CA_KEY, is_ca=True)))


@pytest.fixture
def tps(tmp_path: Path, clock: FakeClock) -> TrustpointStore:
    return TrustpointStore(tmp_path / "tp", clock)


def store_key(store: KeyStore, label: str) -> ec.EllipticCurvePrivateKey:
    key = ec_key()
    store.import_pair(label, pem_key(key))
    return key


def issued_for(
    store: KeyStore, label: str, not_before: datetime = NOW - DAY, not_after: datetime = NOW + DAY
) -> bytes:
    """A certificate from the unit CA for a fresh key stored under ``label``."""
    key = store_key(store, label)
    cert = make_cert(
        name(label),
        key.public_key(),
        CA_KEY,
        issuer=name("Unit CA"),
        not_before=not_before,
        not_after=not_after,
    )
    return pem(cert)


def code_of(exc: pytest.ExceptionInfo[PkiError]) -> ErrorCode:
    return exc.value.code


def test_import_needs_an_authenticated_ca(tps: TrustpointStore, store: KeyStore) -> None:
    data = issued_for(store, "k1")
    with pytest.raises(PkiError) as exc:
        tps.import_local("tp1", data, store.get("k1"))
    assert code_of(exc) is ErrorCode.CA_NOT_AUTHENTICATED
    assert tps.get("tp1").local == ()


def test_import_checks_key_issuer_and_validity(tps: TrustpointStore, store: KeyStore) -> None:
    tps.set_ca("tp1", CA)
    data = issued_for(store, "k1")
    store.import_pair("k2", pem_key(ec_key()))
    with pytest.raises(PkiError) as exc:
        tps.import_local("tp1", data, store.get("k2"))
    assert code_of(exc) is ErrorCode.CERTIFICATE_KEY_MISMATCH
    stranger = ec_key()
    other = make_cert(name("k3"), store_key(store, "k3").public_key(), stranger)
    with pytest.raises(PkiError) as exc:
        tps.import_local("tp1", pem(other), store.get("k3"))
    assert code_of(exc) is ErrorCode.CERTIFICATE_NOT_ISSUED_BY_CA
    expired = issued_for(store, "k4", not_before=NOW - 9 * DAY, not_after=NOW - DAY)
    with pytest.raises(PkiError) as exc:
        tps.import_local("tp1", expired, store.get("k4"))
    assert code_of(exc) is ErrorCode.CERTIFICATE_EXPIRED
    with pytest.raises(PkiError) as exc:
        tps.import_local("tp1", b"garbage", store.get("k1"))
    assert code_of(exc) is ErrorCode.MALFORMED_CERTIFICATE
    assert tps.get("tp1").local == ()


def test_import_persists_and_zeroize_removes_bound(
    tmp_path: Path, clock: FakeClock, tps: TrustpointStore, store: KeyStore
) -> None:
    tps.set_ca("tp1", CA)
    local = tps.import_local("tp1", issued_for(store, "k1"), store.get("k1"))
    assert (local.role, local.key_label) == (KeyRole.GENERAL, "k1")
    again = TrustpointStore(tmp_path / "tp", clock)
    assert again.get("tp1") == tps.get("tp1")
    assert again.bound_to("k1") == ["tp1"]
    assert again.remove_bound("k1") == [local.certificate.sha256_fingerprint]
    assert again.get("tp1").local == ()
    assert again.get("tp1").authenticated


def test_remove_local_and_all(tps: TrustpointStore, store: KeyStore) -> None:
    tps.set_ca("tp1", CA)
    local = tps.import_local("tp1", issued_for(store, "k1"), store.get("k1"))
    assert tps.remove_local("tp1") == [local.certificate.sha256_fingerprint]
    assert tps.get("tp1").authenticated
    assert tps.remove_all("tp1") == [CA.sha256_fingerprint]
    assert not tps.get("tp1").authenticated
    assert tps.names() == []
