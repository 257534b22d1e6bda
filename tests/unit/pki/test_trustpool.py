"""The trust pool: bundle formats, one-unit replacement, built-in shadowing, the schedule."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7

from agent.pki import Certificate, ErrorCode, PkiError
from agent.pki.fetch import UrlFetcher, fetch_url
from agent.pki.revocation import RevocationPolicy
from agent.pki.trustpool import (
    TrustPool,
    load_builtin,
    next_update_time,
    parse_bundle,
    subject_der,
)
from agent.pki.verify import verify_chain
from tests.unit.pki.pkiworld import NOW, Ca, HttpServer, Leaf, closed_port_url, der, info, pem

T0 = datetime(2026, 6, 1, tzinfo=UTC)
EXP = datetime(2026, 7, 1, tzinfo=UTC)
D = timedelta(days=1)


@pytest.fixture(scope="module")
def cas() -> list[Ca]:
    return [Ca.root(f"Pool Root {i}") for i in range(3)]


def _p7(certs: list[x509.Certificate], encoding: serialization.Encoding) -> bytes:
    return pkcs7.serialize_certificates(certs, encoding)


# -- bundle formats -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["pem", "p7-der", "p7-pem"])
def test_parse_bundle_formats(cas: list[Ca], fmt: str) -> None:
    certs = [c.cert for c in cas]
    data = {
        "pem": b"".join(pem(c) for c in certs),
        "p7-der": _p7(certs, serialization.Encoding.DER),
        "p7-pem": _p7(certs, serialization.Encoding.PEM),
    }[fmt]
    parsed = parse_bundle(data)
    assert sorted(c.subject for c in parsed) == sorted(c.info.subject for c in cas)


def _bundle_error(data: bytes) -> str:
    with pytest.raises(PkiError) as caught:
        parse_bundle(data)
    assert caught.value.code is ErrorCode.MALFORMED_BUNDLE
    return caught.value.message


def test_parse_bundle_refuses_empty() -> None:
    assert "empty" in _bundle_error(b"  \n")


def test_parse_bundle_refuses_truncated_pem(cas: list[Ca]) -> None:
    data = pem(cas[0].cert) + pem(cas[1].cert)[:200]
    assert "truncated" in _bundle_error(data)


def test_parse_bundle_refuses_truncated_pkcs7(cas: list[Ca]) -> None:
    data = _p7([c.cert for c in cas], serialization.Encoding.DER)
    assert "PKCS #7" in _bundle_error(data[: len(data) // 2])


def test_parse_bundle_names_the_corrupt_certificate(cas: list[Ca]) -> None:
    bad = bytearray(der(cas[1].cert))
    bad[10:20] = b"\xff" * 10
    block = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(bytes(bad))
    data = pem(cas[0].cert) + block + b"-----END CERTIFICATE-----\n"
    assert "certificate 2" in _bundle_error(data)


def test_parse_bundle_refuses_a_non_ca(cas: list[Ca]) -> None:
    leaf = cas[0].issue(Leaf("not a CA"))
    message = _bundle_error(pem(cas[0].cert) + pem(leaf))
    assert "certificate 2" in message and "not a CA" in message


def test_parse_bundle_accepts_expired_ca() -> None:
    old = Ca.root("Old Root", not_before=NOW - 900 * D, not_after=NOW - D)
    assert parse_bundle(pem(old.cert))[0].not_after < NOW


# -- the pool ---------------------------------------------------------------------------------


def test_replace_persists_and_survives_a_failed_import(tmp_path: Path, cas: list[Ca]) -> None:
    pool = TrustPool(tmp_path, builtin=[])
    pool.replace([c.info for c in cas[:2]])
    with pytest.raises(PkiError):
        pool.replace(parse_bundle(pem(cas[2].cert) + b"-----BEGIN CERTIFICATE-----\nAAAA"))
    again = TrustPool(tmp_path, builtin=[])
    for p in (pool, again):
        assert sorted(e.certificate.subject for e in p.entries()) == [
            "CN=Pool Root 0",
            "CN=Pool Root 1",
        ]


def test_replace_replaces_the_whole_downloaded_set(tmp_path: Path, cas: list[Ca]) -> None:
    pool = TrustPool(tmp_path, builtin=[])
    pool.replace([cas[0].info, cas[1].info])
    change = pool.replace([cas[2].info, cas[2].info])
    assert (change.added, change.inactive_built_in, change.total) == (1, 0, 1)
    assert [e.certificate.subject for e in TrustPool(tmp_path, builtin=[]).entries()] == [
        "CN=Pool Root 2"
    ]


def test_builtin_shadowed_by_subject_and_reactivated(tmp_path: Path, cas: list[Ca]) -> None:
    builtin_twin = Ca.root("Pool Root 0")  # same subject, different key: a reissued CA
    pool = TrustPool(tmp_path, builtin=[builtin_twin.info, cas[1].info])
    subject = subject_der(cas[0].info)
    assert pool.anchors_by_subject(subject) == [builtin_twin.info]

    change = pool.replace([cas[0].info])
    assert (change.added, change.inactive_built_in, change.total) == (1, 1, 3)
    flags = {(e.source, e.certificate.sha256_fingerprint): e.active for e in pool.entries()}
    assert flags[("built-in", builtin_twin.info.sha256_fingerprint)] is False
    assert pool.anchors_by_subject(subject) == [cas[0].info]

    pool.replace([cas[2].info])  # a new bundle without it: the built-in is active again
    assert pool.anchors_by_subject(subject) == [builtin_twin.info]
    pool.replace([cas[0].info])
    assert pool.clean() == 1
    assert pool.anchors_by_subject(subject) == [builtin_twin.info]
    assert all(e.active and e.source == "built-in" for e in pool.entries())
    assert pool.clean() == 0
    assert len(TrustPool(tmp_path, builtin=[builtin_twin.info, cas[1].info]).entries()) == 2


def test_earliest_expiry_counts_active_certificates_only(tmp_path: Path) -> None:
    soon = Ca.root("Soon", not_after=NOW + 10 * D)
    later = Ca.root("Soon", not_after=NOW + 100 * D)
    pool = TrustPool(tmp_path, builtin=[soon.info])
    assert pool.earliest_expiry() == soon.info.not_after
    pool.replace([later.info])
    assert pool.earliest_expiry() == later.info.not_after
    assert pool.earliest_expiry(after=later.info.not_after) is None
    assert TrustPool(tmp_path / "empty", builtin=[]).earliest_expiry() is None


def test_update_status_round_trip(tmp_path: Path) -> None:
    pool = TrustPool(tmp_path, builtin=[])
    assert pool.update_status().last_attempt is None
    pool.record_update(at=T0, trigger="manual", error=None, next_update=EXP)
    pool.record_update(at=T0 + D, trigger="automatic", error="cannot fetch x", next_update=EXP)
    status = TrustPool(tmp_path, builtin=[]).update_status()
    assert (status.last_attempt, status.trigger, status.result) == (T0 + D, "automatic", "failure")
    assert (status.last_success, status.last_error, status.next_update) == (
        T0,
        "cannot fetch x",
        EXP,
    )


def test_load_builtin_reads_certifi() -> None:
    builtin = load_builtin()
    assert len(builtin) > 100
    assert all(c.is_ca for c in builtin)


def _bulk_cas(count: int) -> list[Certificate]:
    """``count`` CA certificates, fast: one EC key signs them all, only the subject varies."""
    key = ec.generate_private_key(ec.SECP256R1())
    issuer = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Bulk Issuer")])
    base = (
        x509.CertificateBuilder()
        .issuer_name(issuer)
        .public_key(key.public_key())
        .not_valid_before(NOW - D)
        .not_valid_after(NOW + 365 * D)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    )
    return [
        info(
            base.subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, f"CA {i}")]))
            .serial_number(i + 1)
            .sign(key, hashes.SHA256())
        )
        for i in range(count)
    ]


def test_anchors_by_subject_on_a_10000_certificate_pool(tmp_path: Path) -> None:
    certs = _bulk_cas(10_000)
    pool = TrustPool(tmp_path, builtin=[])
    assert pool.replace(certs).total == 10_000
    wanted = subject_der(certs[7777])
    started = time.perf_counter()
    for _ in range(1000):
        found = pool.anchors_by_subject(wanted)
    assert found == [certs[7777]]
    assert time.perf_counter() - started < 0.5  # a dict lookup, not a scan of 10,000

    root = Ca.root("Needle Root")
    leaf = root.issue(Leaf("needle", dns=["needle.example"]))
    small = TrustPool(tmp_path / "small", builtin=[])
    small.replace([*certs[:99], root.info])
    pool.replace([*certs, root.info])
    _time_verify(leaf, small)  # warm-up
    assert _time_verify(leaf, pool) < 0.05 + 3 * _time_verify(leaf, small)


def _time_verify(leaf: x509.Certificate, pool: TrustPool) -> float:
    started = time.perf_counter()
    for _ in range(20):
        verdict = verify_chain(
            [info(leaf)],
            [],
            pool,
            RevocationPolicy(("none",)),
            purpose="server-auth",
            name="needle.example",
            at=NOW,
            fetch=UrlFetcher(),
        )
        assert verdict.trusted, verdict.detail
    return time.perf_counter() - started


# -- fetch -------------------------------------------------------------------------------------


def test_fetch_url_http_file_and_failures(tmp_path: Path, cas: list[Ca]) -> None:
    bundle = pem(cas[0].cert)
    (tmp_path / "b.pem").write_bytes(bundle)
    with HttpServer() as server:
        server.routes["/b.pem"] = bundle
        assert fetch_url(server.url("/b.pem"), timeout=5, limit=1 << 20) == bundle
        failures = [
            (server.url("/missing"), 1 << 20, "HTTP 404"),
            (server.url("/b.pem"), 10, "larger than 10"),
            (closed_port_url(), 1 << 20, "refused"),
            ((tmp_path / "nope.pem").as_uri(), 1 << 20, "no such file"),
            ((tmp_path / "b.pem").as_uri(), 10, "larger than 10"),
            ("ftp://127.0.0.1/b.pem", 1 << 20, "not supported"),
        ]
        for url, limit, words in failures:
            with pytest.raises(PkiError) as caught:
                fetch_url(url, timeout=5, limit=limit)
            assert caught.value.code is ErrorCode.URL_UNREACHABLE
            assert words in caught.value.message, caught.value.message
    assert fetch_url((tmp_path / "b.pem").as_uri(), timeout=5, limit=1 << 20) == bundle


# -- the schedule ------------------------------------------------------------------------------

H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("now", "expiry", "failures", "expected"),
    [
        (T0, EXP, 0, EXP),  # first attempt: at the earliest expiry
        (EXP + D, EXP, 0, EXP + D),  # expiry passed: now
        (T0, None, 0, T0),  # empty pool: now
        (T0, EXP, 1, EXP - 20 * D),  # table, first failure
        (EXP - 20 * D, EXP, 2, EXP - 15 * D),
        (EXP - 15 * D, EXP, 3, EXP - 10 * D),
        (EXP - 10 * D, EXP, 4, EXP - 5 * D),
        (EXP - 5 * D, EXP, 5, EXP - 4 * D),
        (EXP - 4 * D, EXP, 6, EXP - 3 * D),
        (EXP - 3 * D, EXP, 7, EXP - 2 * D),
        (EXP - 2 * D, EXP, 8, EXP - 1 * D),
        (EXP - 1 * D, EXP, 9, EXP - D + H),  # table exhausted: hourly
        (EXP - 12 * D, EXP, 1, EXP - 10 * D),  # late first failure skips passed points
        (EXP - 20 * D, EXP, 1, EXP - 15 * D),  # a point equal to now is passed
        (EXP + D, EXP, 1, EXP + D + H),  # at or after expiry: hourly
        (T0, EXP, 9, T0 + H),  # the count never moves back up the table
    ],
)
def test_next_update_time(
    now: datetime, expiry: datetime | None, failures: int, expected: datetime
) -> None:
    assert next_update_time(now, expiry, failures) == expected
