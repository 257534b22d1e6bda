"""Revocation by CRL (real HTTP server) and OCSP (real ``openssl ocsp`` responder)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from agent.pki.fetch import UrlFetcher
from agent.pki.revocation import CrlCache, RevocationPolicy, RevocationResult, check_revocation
from tests.unit.pki.pkiworld import (
    DAY,
    NOW,
    Ca,
    HttpServer,
    Leaf,
    closed_port_url,
    index_line,
    info,
    ocsp_responder,
)

FETCH = UrlFetcher(timeout=5)
REVOKED_AT = (NOW - 3 * DAY).replace(hour=0, minute=0, second=0)


@pytest.fixture
def server() -> Iterator[HttpServer]:
    with HttpServer() as s:
        yield s


@pytest.fixture(scope="module")
def ca() -> Ca:
    return Ca.root("Revocation Test CA")


def _check(
    ca: Ca,
    cert: x509.Certificate,
    *methods: str,
    query_url: str | None = None,
    cache: CrlCache | None = None,
) -> RevocationResult:
    policy = RevocationPolicy(tuple(methods), query_url)
    return check_revocation(info(cert), ca.info, policy, FETCH, NOW, cache=cache)


def test_policy_rejects_bad_methods() -> None:
    with pytest.raises(ValueError, match="only come last"):
        RevocationPolicy(("none", "crl"))
    with pytest.raises(ValueError, match="unknown"):
        RevocationPolicy(("ldap",))


def test_crl_good_and_revoked_with_date_and_reason(server: HttpServer, ca: Ca) -> None:
    good = ca.issue(Leaf("good", crl_urls=[server.url("/ca.crl")]))
    bad = ca.issue(Leaf("bad", crl_urls=[server.url("/ca.crl")]))
    server.routes["/ca.crl"] = ca.crl([(bad, REVOKED_AT, x509.ReasonFlags.key_compromise)])
    assert _check(ca, good, "crl").status == "good"
    result = _check(ca, bad, "crl")
    assert (result.status, result.method) == ("revoked", "crl")
    assert result.revocation_date == REVOKED_AT
    assert result.revocation_reason == "keyCompromise"
    assert f"revoked on {REVOKED_AT:%Y-%m-%dT%H:%M:%SZ}, reason keyCompromise" in result.detail


def test_crl_unreachable_is_unknown_and_none_is_soft_fail(ca: Ca) -> None:
    cert = ca.issue(Leaf("x", crl_urls=[closed_port_url()]))
    hard = _check(ca, cert, "crl")
    assert hard.status == "unknown"
    assert "unavailable" in hard.detail and "refused" in hard.detail
    soft = _check(ca, cert, "crl", "none")
    assert (soft.status, soft.method) == ("good", "none")


def test_crl_not_believed_when_forged_or_stale(server: HttpServer, ca: Ca) -> None:
    cert = ca.issue(Leaf("x", crl_urls=[server.url("/ca.crl")]))
    forger = ec.generate_private_key(ec.SECP256R1())
    server.routes["/ca.crl"] = ca.crl([(cert, REVOKED_AT, None)], signer=forger)
    assert "does not verify" in _check(ca, cert, "crl").detail
    server.routes["/ca.crl"] = ca.crl(last_update=NOW - 9 * DAY, next_update=NOW - 2 * DAY)
    assert "out of date" in _check(ca, cert, "crl").detail
    server.routes["/ca.crl"] = Ca.root("Someone Else").crl()
    assert "issued by CN=Someone Else" in _check(ca, cert, "crl").detail
    server.routes["/ca.crl"] = b"garbage"
    assert _check(ca, cert, "crl").status == "unknown"


def test_query_url_when_no_distribution_point(server: HttpServer, ca: Ca) -> None:
    cert = ca.issue(Leaf("no-cdp"))
    server.routes["/q.crl"] = ca.crl([(cert, REVOKED_AT, None)])
    assert "no CRL distribution point" in _check(ca, cert, "crl").detail
    result = _check(ca, cert, "crl", query_url=server.url("/q.crl"))
    assert (result.status, result.revocation_reason) == ("revoked", None)


def test_crl_cached_until_next_update(server: HttpServer, ca: Ca) -> None:
    cert = ca.issue(Leaf("cached", crl_urls=[server.url("/c.crl")]))
    server.routes["/c.crl"] = ca.crl()
    cache = CrlCache(size=2)
    for _ in range(3):
        assert _check(ca, cert, "crl", cache=cache).status == "good"
    assert server.hits["/c.crl"] == 1


def test_policy_none_alone_does_not_check(ca: Ca) -> None:
    cert = ca.issue(Leaf("unchecked", crl_urls=[closed_port_url()]))
    assert _check(ca, cert, "none").status == "good"


# -- OCSP ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ocsp_world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Ca, str, dict[str, x509.Certificate]]]:
    ca = Ca.root("OCSP Test CA")
    # The responder picks its port, so leaves naming it in their AIA are issued after it
    # starts, reusing the serials that its index.txt already lists.
    workdir: Path = tmp_path_factory.mktemp("ocsp")
    good = ca.issue(Leaf("ocsp-good"))
    revoked = ca.issue(Leaf("ocsp-revoked"))
    index = index_line(good) + index_line(revoked, (REVOKED_AT, "keyCompromise"))
    with ocsp_responder(ca, index, workdir) as url:
        certs = {
            "good": _reissue(ca, good, url),
            "revoked": _reissue(ca, revoked, url),
            "unknown": ca.issue(Leaf("ocsp-unknown", ocsp_url=url)),
        }
        yield ca, url, certs


def _reissue(ca: Ca, cert: x509.Certificate, url: str) -> x509.Certificate:
    """The same serial and subject, now with the responder's URL in its AIA."""
    cn = cert.subject.rfc4514_string().removeprefix("CN=")
    ca.serial = cert.serial_number - 1
    again = ca.issue(Leaf(cn, ocsp_url=url))
    ca.serial = 0x10000
    return again


def test_ocsp_good_revoked_and_unknown(
    ocsp_world: tuple[Ca, str, dict[str, x509.Certificate]],
) -> None:
    ca, _, certs = ocsp_world
    # A real responder stamps its answers with the real clock, not the module's NOW (which
    # is minutes old by the time this runs in a long suite).
    now = datetime.now(UTC)
    good = check_revocation(info(certs["good"]), ca.info, RevocationPolicy(("ocsp",)), FETCH, now)
    assert (good.status, good.method) == ("good", "ocsp"), good.detail
    bad = check_revocation(info(certs["revoked"]), ca.info, RevocationPolicy(("ocsp",)), FETCH, now)
    assert (bad.status, bad.revocation_reason, bad.revocation_date) == (
        "revoked",
        "keyCompromise",
        REVOKED_AT,
    )
    unknown = check_revocation(
        info(certs["unknown"]), ca.info, RevocationPolicy(("ocsp",)), FETCH, now
    )
    assert unknown.status == "unknown"


def test_ocsp_answer_for_another_ca_is_not_believed(
    ocsp_world: tuple[Ca, str, dict[str, x509.Certificate]],
) -> None:
    _, _, certs = ocsp_world
    other = Ca.root("OCSP Test CA")  # same name, different key: the responder is not its
    result = check_revocation(
        info(certs["good"]),
        other.info,
        RevocationPolicy(("ocsp", "none")),
        FETCH,
        datetime.now(UTC),
    )
    assert (result.status, result.method) == ("good", "none")
    assert "OCSP" in result.detail
