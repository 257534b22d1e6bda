"""Path validation: trustpoint before pool, the YANG failure identities, revocation per anchor."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from agent.pki import Certificate
from agent.pki.fetch import UrlFetcher
from agent.pki.revocation import RevocationPolicy
from agent.pki.trustpool import TrustPool
from agent.pki.verify import FAILURES, Anchor, Purpose, Verdict, verify_chain
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
NO_CHECK = RevocationPolicy(("none",))
CRL = RevocationPolicy(("crl",))
REVOKED_AT = (NOW - 2 * DAY).replace(hour=0, minute=0, second=0)
DNS = "device.example.com"


@dataclass
class World:
    root: Ca
    inter: Ca
    server: HttpServer

    def leaf(self, **kw: object) -> x509.Certificate:
        kw.setdefault("dns", [DNS])
        kw.setdefault("crl_urls", [self.server.url("/inter.crl")])
        return self.inter.issue(Leaf(str(kw.pop("cn", "leaf")), **kw))  # type: ignore[arg-type]

    def chain(self, leaf: x509.Certificate) -> list[Certificate]:
        return [info(leaf), self.inter.info]

    def anchor(self, policy: RevocationPolicy = NO_CHECK, name: str = "tp1") -> Anchor:
        return Anchor(self.root.info, "trustpoint", name, policy)


@pytest.fixture
def world() -> Iterator[World]:
    root = Ca.root("Verify Root")
    with HttpServer() as server:
        inter = root.issue_ca("Verify Intermediate", crl_urls=[server.url("/root.crl")])
        server.routes["/inter.crl"] = inter.crl()
        server.routes["/root.crl"] = root.crl()
        yield World(root, inter, server)


def _verify(
    chain: Sequence[Certificate],
    anchors: Sequence[Anchor] = (),
    pool: TrustPool | None = None,
    pool_revocation: RevocationPolicy = NO_CHECK,
    *,
    purpose: Purpose = "server-auth",
    name: str | None = DNS,
    at: datetime = NOW,
) -> Verdict:
    verdict = verify_chain(
        chain, anchors, pool, pool_revocation, purpose=purpose, name=name, at=at, fetch=FETCH
    )
    assert verdict.failure is None or verdict.failure in FAILURES
    return verdict


def _pool(tmp_path: Path, *certs: Certificate) -> TrustPool:
    pool = TrustPool(tmp_path / "pool", builtin=[])
    pool.replace(certs)
    return pool


def test_good_chain_via_trustpoint(world: World) -> None:
    leaf = world.leaf()
    verdict = _verify(world.chain(leaf), [world.anchor(CRL)])
    assert verdict.trusted, verdict.detail
    assert verdict.anchor is not None and verdict.anchor.source == "trustpoint"
    assert [c.subject for c in verdict.path] == [
        "CN=leaf",
        "CN=Verify Intermediate",
        "CN=Verify Root",
    ]
    assert world.server.hits["/inter.crl"] == 1


def test_good_chain_via_pool_with_root_in_chain(world: World, tmp_path: Path) -> None:
    chain = [*world.chain(world.leaf()), world.root.info]
    verdict = _verify(chain, [], _pool(tmp_path, world.root.info), CRL)
    assert verdict.trusted, verdict.detail
    assert verdict.anchor is not None and verdict.anchor.source == "trustpool"
    assert len(verdict.path) == 3


def test_ca_in_both_trustpoint_wins_with_its_policy(world: World, tmp_path: Path) -> None:
    leaf = world.leaf()
    pool = _pool(tmp_path, world.root.info)
    verdict = _verify(world.chain(leaf), [world.anchor()], pool, CRL)
    assert verdict.trusted and verdict.anchor is not None
    assert (verdict.anchor.source, verdict.anchor.name) == ("trustpoint", "tp1")
    world.server.routes["/inter.crl"] = world.inter.crl([(leaf, REVOKED_AT, None)])
    assert _verify(world.chain(leaf), [world.anchor()], pool, CRL).trusted  # tp says none
    assert _verify(world.chain(leaf), [world.anchor(CRL)], pool, NO_CHECK).failure == "revoked"


@pytest.mark.parametrize(
    ("dates", "failure", "words"),
    [
        ({"not_before": NOW - 400 * DAY, "not_after": NOW - DAY}, "expired", "expired on"),
        (
            {"not_before": NOW + DAY, "not_after": NOW + 9 * DAY},
            "not-yet-valid",
            "not valid before",
        ),
    ],
)
def test_validity_dates(world: World, dates: dict[str, object], failure: str, words: str) -> None:
    verdict = _verify(world.chain(world.leaf(**dates)), [world.anchor()])
    assert (verdict.trusted, verdict.failure) == (False, failure)
    assert "CN=leaf" in verdict.detail and words in verdict.detail


def test_expired_anchor(world: World) -> None:
    old = Ca.root("Verify Root", key=world.root.key, not_after=NOW - DAY)
    verdict = _verify(world.chain(world.leaf()), [Anchor(old.info, "trustpoint", "t", NO_CHECK)])
    assert verdict.failure == "expired" and "trusted CA certificate" in verdict.detail


def test_unknown_issuer_and_missing_intermediate(world: World) -> None:
    other = Anchor(Ca.root("Someone Else").info, "trustpoint", "x", NO_CHECK)
    leaf = world.leaf()
    assert _verify(world.chain(leaf), [other]).failure == "untrusted-root"
    verdict = _verify([info(leaf)], [world.anchor()])
    assert verdict.failure == "untrusted-root"
    assert "CN=Verify Intermediate" in verdict.detail


def test_bad_signature(world: World) -> None:
    impostor = Ca(world.inter.cert, ec.generate_private_key(ec.SECP256R1()))
    forged = impostor.issue(Leaf("leaf", dns=[DNS]))
    verdict = _verify([info(forged), world.inter.info], [world.anchor()])
    assert verdict.failure == "bad-signature" and "CN=leaf" in verdict.detail


def test_revoked_by_crl_with_date_and_reason(world: World) -> None:
    leaf = world.leaf()
    revoked = [(leaf, REVOKED_AT, x509.ReasonFlags.key_compromise)]
    world.server.routes["/inter.crl"] = world.inter.crl(revoked)
    verdict = _verify(world.chain(leaf), [world.anchor(CRL)])
    assert verdict.failure == "revoked"
    assert f"revoked on {REVOKED_AT:%Y-%m-%dT%H:%M:%SZ}, reason keyCompromise" in verdict.detail


def test_revoked_intermediate_found_through_the_query_url(world: World, tmp_path: Path) -> None:
    inter = world.root.issue_ca("Checked Intermediate")  # no CRL distribution point
    leaf = inter.issue(Leaf("leaf", dns=[DNS], crl_urls=[world.server.url("/checked.crl")]))
    world.server.routes["/checked.crl"] = inter.crl()
    world.server.routes["/root.crl"] = world.root.crl([(inter.cert, REVOKED_AT, None)])
    policy = RevocationPolicy(("crl",), query_url=world.server.url("/root.crl"))
    verdict = _verify([info(leaf), inter.info], [], _pool(tmp_path, world.root.info), policy)
    assert verdict.failure == "revoked"
    assert "CN=Checked Intermediate" in verdict.detail


def test_crl_unreachable_hard_and_soft_fail(world: World) -> None:
    leaf = world.leaf(crl_urls=[closed_port_url()])
    hard = _verify(world.chain(leaf), [world.anchor(CRL)])
    assert hard.failure == "revocation-unknown"
    assert "unavailable" in hard.detail and "refused" in hard.detail
    soft = _verify(world.chain(leaf), [world.anchor(RevocationPolicy(("crl", "none")))])
    assert soft.trusted, soft.detail


def test_revoked_by_ocsp(tmp_path: Path) -> None:
    root = Ca.root("OCSP Verify Root")
    placeholder = root.issue(Leaf("ocsp-leaf", dns=[DNS]))
    index = index_line(placeholder, (REVOKED_AT, "keyCompromise"))
    with ocsp_responder(root, index, tmp_path) as url:
        root.serial = placeholder.serial_number - 1
        leaf = root.issue(Leaf("ocsp-leaf", dns=[DNS], ocsp_url=url))
        anchor = Anchor(root.info, "trustpoint", "o", RevocationPolicy(("ocsp",)))
        # The real responder's answers carry the real time; NOW is the suite's start.
        verdict = _verify([info(leaf)], [anchor], at=datetime.now(UTC))
    assert verdict.failure == "revoked", verdict.detail
    assert "reason keyCompromise" in verdict.detail and "OCSP" in verdict.detail


def test_name_mismatch(world: World) -> None:
    leaf = world.leaf(dns=["*.example.com"])
    assert _verify(world.chain(leaf), [world.anchor()], name="a.example.com").trusted
    verdict = _verify(world.chain(leaf), [world.anchor()], name="a.b.example.com")
    assert verdict.failure == "name-mismatch" and "a.b.example.com" in verdict.detail
    assert _verify(world.chain(leaf), [world.anchor()], name="192.0.2.1").failure == "name-mismatch"


def test_purpose_mismatch(world: World) -> None:
    leaf = world.leaf()  # serverAuth only
    verdict = _verify(world.chain(leaf), [world.anchor()], purpose="client-auth", name=None)
    assert verdict.failure == "purpose-mismatch" and "serverAuth" in verdict.detail
    assert _verify(world.chain(leaf), [world.anchor()], purpose="any", name=None).trusted
    client = world.leaf(eku=[ExtendedKeyUsageOID.CLIENT_AUTH], dns=[])
    assert _verify(world.chain(client), [world.anchor()], purpose="client-auth", name=None).trusted


def test_issuer_that_is_not_a_ca_is_path_invalid(world: World) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    not_a_ca = world.inter.issue(Leaf("not-a-ca"), key=key)
    forged = Ca(not_a_ca, key).issue(Leaf("victim", dns=[DNS]))
    verdict = _verify([info(forged), info(not_a_ca), world.inter.info], [world.anchor()])
    assert verdict.failure == "path-invalid", verdict.detail


def test_a_trusted_ca_certificate_itself(world: World) -> None:
    verdict = _verify([world.root.info], [world.anchor()], purpose="any", name=None)
    assert verdict.trusted and [c.subject for c in verdict.path] == ["CN=Verify Root"]
    lone = Ca.root("Self Signed Stranger")
    verdict = _verify([lone.info], [world.anchor()], purpose="any", name=None)
    assert verdict.failure == "untrusted-root" and "CN=Self Signed Stranger" in verdict.detail
