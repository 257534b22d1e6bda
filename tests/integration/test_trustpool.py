"""Issue 4 over real SSH with ncclient against a real agent: the trustpool (import from a real
HTTP server in three formats, inline, clean, atomic replacement, built-in deactivation) and
verify-certificate (trustpoint, pool, CA in both, expired, unknown issuer, CRL and OCSP
revocation, CRL unreachable with and without 'none', name mismatch), and a subscribed
session receiving trustpool-updated and certificate-expiring.

Certificates come from tests/unit/pki/pkiworld.py (cryptography); CRLs and bundles are served
by a threaded http.server on 127.0.0.1; OCSP by a real ``openssl ocsp`` responder.  Tests run
in file order on one agent.
"""

from __future__ import annotations

import base64
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import certifi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from cryptography.utils import CryptographyDeprecationWarning
from lxml import etree
from ncclient import manager

from tests.integration.agent_process import AgentProcess
from tests.integration.conftest import connect
from tests.integration.pki_rpc import assert_error, expect_error, send
from tests.unit.pki.pkiworld import (
    Ca,
    HttpServer,
    Leaf,
    closed_port_url,
    index_line,
    ocsp_responder,
    pem,
)

POOL = "urn:netconf-pki-agent:yang:npa-pki-trustpool"
TP = "urn:netconf-pki-agent:yang:npa-pki-trustpoints"
NS = {"p": POOL, "tp": TP}
REPLIES: list[bytes] = []
NOW = datetime.now(UTC)
DNS = "peer.example.net"
GARBAGE_PEM = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"


class World:
    """Two roots: 'Pool Root' goes into the trustpool, 'TP Root' becomes a trustpoint CA."""

    def __init__(self, http: HttpServer) -> None:
        self.http = http
        self.pool_root = Ca.root("NPA Pool Root")
        self.tp_root = Ca.root("NPA Trustpoint Root")
        self.other_root = Ca.root("NPA Other Root")
        self.stranger = Ca.root("NPA Unknown Root")


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with HttpServer() as http:
        yield World(http)


@pytest.fixture(scope="module")
def sub(agent: AgentProcess) -> Iterator[manager.Manager]:
    """A second session subscribed to the NETCONF stream for the whole module."""
    with connect(agent) as m2:
        m2.create_subscription()
        yield m2


def rpc(m: manager.Manager, ns: str, name: str, body: str) -> etree._Element:
    return send(m, f'<{name} xmlns="{ns}">{body}</{name}>', REPLIES)


def pool_state(m: manager.Manager) -> etree._Element:
    reply = m.get(filter=("subtree", f'<trustpool xmlns="{POOL}"/>'))
    REPLIES.append(reply.xml.encode())
    root = etree.fromstring(REPLIES[-1])
    pool = root.find(".//p:trustpool", NS)
    assert pool is not None
    return pool


def downloaded(m: manager.Manager) -> set[str]:
    return {
        c.findtext("p:subject", namespaces=NS) or ""
        for c in pool_state(m).iterfind("p:certificate", NS)
        if c.findtext("p:source", namespaces=NS) == "downloaded"
    }


def notifications_until(m2: manager.Manager, name: str, ns: str) -> etree._Element:
    """The next notification named ``name`` (others are skipped), within a deadline."""
    deadline = datetime.now(UTC) + timedelta(seconds=20)
    while datetime.now(UTC) < deadline:
        n = m2.take_notification(timeout=5)
        if n is None:
            continue
        el = etree.fromstring(n.notification_xml.encode())
        found = el.find(f".//{{{ns}}}{name}")
        if found is not None:
            return found
    raise AssertionError(f"no {name} notification")


def verify(m: manager.Manager, chain: list[x509.Certificate], extra: str = "") -> etree._Element:
    pems = "".join(pem(c).decode() for c in chain)
    return rpc(m, TP, "verify-certificate", f"<chain-pem>{pems}</chain-pem>{extra}")


def outcome(reply: etree._Element) -> tuple[str | None, str | None, str | None]:
    reason = reply.findtext(".//tp:failure-reason", namespaces=NS)
    return (
        reply.findtext(".//tp:trusted", namespaces=NS),
        reason.split(":")[-1] if reason else None,
        reply.findtext(".//tp:anchor-source", namespaces=NS),
    )


# -- trustpool ------------------------------------------------------------------------------


def test_builtin_bundle_is_visible(m: manager.Manager) -> None:
    certs = pool_state(m).findall("p:certificate", NS)
    assert len(certs) > 100
    assert {c.findtext("p:source", namespaces=NS) for c in certs} == {"built-in"}


def test_import_pem_url_and_notification(
    m: manager.Manager, sub: manager.Manager, world: World
) -> None:
    world.http.routes["/pool.pem"] = pem(world.pool_root.cert) + pem(world.other_root.cert)
    reply = rpc(m, POOL, "trustpool-import", f"<url>{world.http.url('/pool.pem')}</url>")
    assert reply.findtext(".//p:added", namespaces=NS) == "2"
    assert downloaded(m) == {"CN=NPA Pool Root", "CN=NPA Other Root"}
    updated = notifications_until(sub, "trustpool-updated", POOL)
    assert updated.findtext("p:result", namespaces=NS) == "success"
    assert updated.findtext("p:trigger", namespaces=NS) == "manual"


@pytest.mark.parametrize("fmt", ["pkcs7-der-url", "pkcs7-pem-inline", "pkcs7-der-inline"])
def test_import_pkcs7_formats(m: manager.Manager, world: World, fmt: str) -> None:
    certs = [world.pool_root.cert, world.other_root.cert]
    if fmt == "pkcs7-der-url":
        world.http.routes["/pool.p7b"] = pkcs7.serialize_certificates(certs, Encoding.DER)
        body = f"<url>{world.http.url('/pool.p7b')}</url>"
    elif fmt == "pkcs7-pem-inline":
        text = pkcs7.serialize_certificates(certs, Encoding.PEM).decode()
        body = f"<bundle-pem>{text}</bundle-pem>"
    else:
        der = pkcs7.serialize_certificates(certs, Encoding.DER)
        body = f"<bundle-pkcs7>{base64.b64encode(der).decode()}</bundle-pkcs7>"
    rpc(m, POOL, "trustpool-import", body)
    assert downloaded(m) == {"CN=NPA Pool Root", "CN=NPA Other Root"}


def test_failed_imports_change_nothing(m: manager.Manager, world: World) -> None:
    before = etree.tostring(pool_state(m).find("p:certificate", NS), method="c14n")
    world.http.routes["/corrupt.pem"] = pem(world.tp_root.cert)[:-120]
    for body, tag, app_tag in (
        (f"<url>{world.http.url('/corrupt.pem')}</url>", "invalid-value", "malformed-bundle"),
        (f"<url>{world.http.url('/missing.pem')}</url>", "operation-failed", "url-unreachable"),
        (f"<url>{closed_port_url('/x.pem')}</url>", "operation-failed", "url-unreachable"),
        ("<bundle-pem>not a bundle</bundle-pem>", "invalid-value", None),  # YANG pattern
        (f"<bundle-pem>{GARBAGE_PEM}</bundle-pem>", "invalid-value", "malformed-bundle"),
    ):
        err = expect_error(
            m, f'<trustpool-import xmlns="{POOL}">{body}</trustpool-import>', REPLIES
        )
        assert_error(err, tag, app_tag)
    assert downloaded(m) == {"CN=NPA Pool Root", "CN=NPA Other Root"}
    assert etree.tostring(pool_state(m).find("p:certificate", NS), method="c14n") == before
    update = pool_state(m).find("p:update", NS)
    assert update is not None and update.findtext("p:last-result", namespaces=NS) == "failure"


def test_builtin_with_same_subject_goes_inactive_then_back(m: manager.Manager) -> None:
    with warnings.catch_warnings():  # Mozilla still ships roots with a zero serial
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        mozilla = x509.load_pem_x509_certificates(Path(certifi.where()).read_bytes())[0]
    key = ec.generate_private_key(ec.SECP256R1())
    twin = (
        x509.CertificateBuilder().subject_name(mozilla.subject).issuer_name(mozilla.subject)
        .public_key(key.public_key()).serial_number(77)
        .not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=900))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    reply = rpc(m, POOL, "trustpool-import", f"<bundle-pem>{pem(twin).decode()}</bundle-pem>")
    assert reply.findtext(".//p:inactive-built-in", namespaces=NS) == "1"
    fingerprint = mozilla.fingerprint(hashes.SHA256()).hex(":").upper()

    def active() -> str | None:
        for c in pool_state(m).iterfind("p:certificate", NS):
            if c.findtext("p:sha256-fingerprint", namespaces=NS) == fingerprint:
                return c.findtext("p:active", namespaces=NS)
        raise AssertionError("built-in certificate missing")

    assert active() == "false"
    removed = rpc(m, POOL, "trustpool-clean", "")
    assert removed.findtext(".//p:removed", namespaces=NS) == "1"
    assert active() == "true"
    assert downloaded(m) == set()


def test_add_without_clean_keeps_the_downloaded_set(m: manager.Manager, world: World) -> None:
    rpc(
        m,
        POOL,
        "trustpool-import",
        f"<bundle-pem>{pem(world.pool_root.cert).decode()}</bundle-pem>",
    )
    text = pem(world.other_root.cert).decode()
    rpc(m, POOL, "trustpool-import", f"<bundle-pem>{text}</bundle-pem><clean>false</clean>")
    assert downloaded(m) == {"CN=NPA Pool Root", "CN=NPA Other Root"}


# -- verify-certificate ---------------------------------------------------------------------


def test_setup_trustpoint_ca(m: manager.Manager, world: World) -> None:
    """Trustpoint 'corp' trusts TP Root; trustpoint 'both' trusts Pool Root (also pooled)
    with revocation 'none'."""
    m.edit_config(
        target="candidate",
        config=f'<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><trustpoints xmlns="{TP}">'
        "<trustpoint><name>corp</name><enrollment><terminal/></enrollment></trustpoint>"
        "<trustpoint><name>both</name><enrollment><terminal/></enrollment>"
        "<revocation-check>none</revocation-check></trustpoint></trustpoints></config>",
    )
    m.commit()
    for tp, ca in (("corp", world.tp_root), ("both", world.pool_root)):
        fp = ca.cert.fingerprint(hashes.SHA256()).hex(":").upper()
        rpc(m, TP, "authenticate", f"<trustpoint>{tp}</trustpoint><ca-certificate-pem>"
            f"{pem(ca.cert).decode()}</ca-certificate-pem><accept-fingerprint>{fp}"
            "</accept-fingerprint>")  # fmt: skip


def test_good_chain_via_trustpoint(m: manager.Manager, world: World) -> None:
    crl_path = "/corp.crl"
    world.http.routes[crl_path] = world.tp_root.crl()
    leaf = world.tp_root.issue(Leaf("peer", dns=[DNS], crl_urls=[world.http.url(crl_path)]))
    reply = verify(m, [leaf], f"<name>{DNS}</name><purpose>server-auth</purpose>")
    assert outcome(reply) == ("true", None, "trustpoint")
    assert reply.findtext(".//tp:anchor-name", namespaces=NS) == "corp"
    assert len(reply.findall(".//tp:chain", NS)) == 2


def test_name_mismatch_and_unknown_issuer(m: manager.Manager, world: World) -> None:
    world.http.routes["/corp.crl"] = world.tp_root.crl()
    leaf = world.tp_root.issue(Leaf("peer", dns=[DNS], crl_urls=[world.http.url("/corp.crl")]))
    assert outcome(verify(m, [leaf], "<name>other.example.net</name>"))[1] == "name-mismatch"
    stranger = world.stranger.issue(Leaf("x", dns=[DNS]))
    assert outcome(verify(m, [stranger]))[:2] == ("false", "untrusted-root")


def test_good_chain_via_pool_and_ca_in_both(m: manager.Manager, world: World) -> None:
    other = world.other_root.issue(Leaf("pooled", dns=[DNS], crl_urls=[world.http.url("/o.crl")]))
    world.http.routes["/o.crl"] = world.other_root.crl()
    assert outcome(verify(m, [other])) == ("true", None, "trustpool")
    both = world.pool_root.issue(Leaf("both", dns=[DNS]))  # no CRL: 'none' policy of 'both'
    reply = verify(m, [both])
    assert outcome(reply) == ("true", None, "trustpoint")
    assert reply.findtext(".//tp:anchor-name", namespaces=NS) == "both"


def test_expired(m: manager.Manager, world: World) -> None:
    old = world.tp_root.issue(
        Leaf(
            "old", dns=[DNS], not_before=NOW - timedelta(days=30), not_after=NOW - timedelta(days=1)
        )
    )
    reply = verify(m, [old])
    assert outcome(reply)[:2] == ("false", "expired")
    assert "old" in (reply.findtext(".//tp:detail", namespaces=NS) or "")


def test_validation_time_checks_the_past(m: manager.Manager, world: World) -> None:
    """An expired certificate was trusted when it was valid (trustpoint 'both': no CRL)."""
    lapsed = world.pool_root.issue(
        Leaf(
            "lapsed",
            dns=[DNS],
            not_before=NOW - timedelta(days=30),
            not_after=NOW - timedelta(days=1),
        )
    )
    assert outcome(verify(m, [lapsed]))[:2] == ("false", "expired")
    then = (NOW - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    reply = verify(m, [lapsed], f"<validation-time>{then}</validation-time>")
    assert outcome(reply) == ("true", None, "trustpoint")


def test_from_policy_without_cabundle_url_is_refused(m: manager.Manager) -> None:
    before = downloaded(m)
    err = expect_error(
        m, f'<trustpool-import xmlns="{POOL}"><from-policy/></trustpool-import>', REPLIES
    )
    assert (err.tag, err._app_tag) == ("invalid-value", "cabundle-url-not-configured"), (
        etree.tostring(err.xml)
    )
    assert downloaded(m) == before


def test_revoked_by_crl_and_crl_unreachable(m: manager.Manager, world: World) -> None:
    crl_url = world.http.url("/revoked.crl")
    leaf = world.tp_root.issue(Leaf("revoked", dns=[DNS], crl_urls=[crl_url]))
    when = (NOW - timedelta(days=2)).replace(microsecond=0)
    world.http.routes["/revoked.crl"] = world.tp_root.crl(
        [(leaf, when, x509.ReasonFlags.key_compromise)]
    )
    reply = verify(m, [leaf])
    assert outcome(reply)[:2] == ("false", "revoked")
    assert reply.findtext(".//tp:revocation-reason", namespaces=NS) == "keyCompromise"
    assert reply.findtext(".//tp:revocation-date", namespaces=NS) == when.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    dead = world.tp_root.issue(Leaf("dead-crl", dns=[DNS], crl_urls=[closed_port_url()]))
    assert outcome(verify(m, [dead]))[:2] == ("false", "revocation-unknown")


def test_crl_optional_accepts_when_unreachable(m: manager.Manager, world: World) -> None:
    m.edit_config(
        target="candidate",
        config=f'<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><trustpoints xmlns="{TP}">'
        "<trustpoint><name>corp</name><revocation-check>crl</revocation-check>"
        "<revocation-check>none</revocation-check></trustpoint></trustpoints></config>",
    )
    m.commit()
    dead = world.tp_root.issue(Leaf("dead-crl-2", dns=[DNS], crl_urls=[closed_port_url()]))
    assert outcome(verify(m, [dead])) == ("true", None, "trustpoint")


def test_revoked_by_ocsp(m: manager.Manager, world: World, tmp_path: Path) -> None:
    root = Ca.root("NPA OCSP Root")
    placeholder = root.issue(Leaf("ocsp-leaf", dns=[DNS]))
    with ocsp_responder(root, index_line(placeholder, (NOW - timedelta(days=1), "keyCompromise")),
                        tmp_path) as url:  # fmt: skip
        root.serial = placeholder.serial_number - 1
        leaf = root.issue(Leaf("ocsp-leaf", dns=[DNS], ocsp_url=url))
        m.edit_config(
            target="candidate",
            config='<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
            f'<trustpoints xmlns="{TP}"><trustpoint><name>ocsp</name><enrollment><terminal/>'
            "</enrollment><revocation-check>ocsp</revocation-check></trustpoint></trustpoints>"
            "</config>",
        )
        m.commit()
        fp = root.cert.fingerprint(hashes.SHA256()).hex(":").upper()
        rpc(m, TP, "authenticate", f"<trustpoint>ocsp</trustpoint><ca-certificate-pem>"
            f"{pem(root.cert).decode()}</ca-certificate-pem><accept-fingerprint>{fp}"
            "</accept-fingerprint>")  # fmt: skip
        reply = verify(m, [leaf])
    assert outcome(reply)[:2] == ("false", "revoked")
    assert reply.findtext(".//tp:revocation-reason", namespaces=NS) == "keyCompromise"


def test_malformed_chain_is_an_error(m: manager.Manager) -> None:
    err = expect_error(
        m,
        f'<verify-certificate xmlns="{TP}"><chain-pem>{GARBAGE_PEM}</chain-pem>'
        "</verify-certificate>",
        REPLIES,
    )
    assert_error(err, "invalid-value", "malformed-certificate")


# -- expiry ---------------------------------------------------------------------------------


def test_certificate_expiring_notification(
    m: manager.Manager, sub: manager.Manager, world: World
) -> None:
    """A CA that expires in 10 days, authenticated on a trustpoint: the watcher (woken by
    the change) sends certificate-expiring once."""
    soon = Ca.root("NPA Expiring Root", not_after=NOW + timedelta(days=10))
    m.edit_config(
        target="candidate",
        config=f'<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><trustpoints xmlns="{TP}">'
        "<trustpoint><name>soon</name><enrollment><terminal/></enrollment></trustpoint>"
        "</trustpoints></config>",
    )
    m.commit()
    fp = soon.cert.fingerprint(hashes.SHA256()).hex(":").upper()
    rpc(m, TP, "authenticate", f"<trustpoint>soon</trustpoint><ca-certificate-pem>"
        f"{pem(soon.cert).decode()}</ca-certificate-pem><accept-fingerprint>{fp}"
        "</accept-fingerprint>")  # fmt: skip
    note = notifications_until(sub, "certificate-expiring", TP)
    assert note.findtext("tp:trustpoint", namespaces=NS) == "soon"
    assert note.findtext("tp:is-ca", namespaces=NS) == "true"
    assert note.findtext("tp:days-remaining", namespaces=NS) in {"9", "10"}
