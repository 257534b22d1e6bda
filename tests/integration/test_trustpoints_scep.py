"""The Cisco seed walkthrough of issue 3 over real SSH with ncclient, against a real micromdm
``scepserver`` started by the test (tests/unit/pki/scep_server.py): authenticate from the CA,
accept, enroll with the challenge password, state; usage-keys; a wrong challenge; an
unreachable CA.  PENDING polling is not covered here (micromdm has no manual approval): see
test_trustpoints_pending.py and tests/unit/ops/test_polling_scep.py.

Tests run in file order and build on each other (one agent and one CA per module).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError

from tests.integration.agent_process import AgentProcess
from tests.integration.pki_rpc import assert_error, expect_error, send
from tests.unit.pki.scep_server import CHALLENGE, ScepServer, free_port, start_scep_server

KEYS = "urn:netconf-pki-agent:yang:npa-pki-keys"
TP = "urn:netconf-pki-agent:yang:npa-pki-trustpoints"
TYPES = "urn:netconf-pki-agent:yang:npa-pki-types"
SYS = "urn:netconf-pki-agent:yang:npa-pki-system"
NS = {"tp": TP}

REPLIES: list[bytes] = []


@pytest.fixture(scope="module")
def scep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScepServer]:
    server = start_scep_server(tmp_path_factory.mktemp("scep-ca"))
    yield server
    server.stop()


def rpc(m: manager.Manager, name: str, body: str) -> etree._Element:
    return send(m, f'<{name} xmlns="{TP}">{body}</{name}>', REPLIES)


def error_of(m: manager.Manager, name: str, body: str) -> RPCError:
    return expect_error(m, f'<{name} xmlns="{TP}">{body}</{name}>', REPLIES)


def state_of(m: manager.Manager, name: str) -> etree._Element:
    reply = m.get(filter=("subtree", f'<trustpoints xmlns="{TP}"/>'))
    REPLIES.append(reply.xml.encode())
    for tp in etree.fromstring(REPLIES[-1]).iterfind(".//tp:trustpoint", NS):
        if tp.findtext("tp:name", namespaces=NS) == name:
            state = tp.find("tp:state", NS)
            assert state is not None
            return state
    raise AssertionError(f"no trustpoint {name}")


def ca_fingerprint(pem: Path) -> str:
    out = subprocess.run(
        ["openssl", "x509", "-in", str(pem), "-noout", "-fingerprint", "-sha256"],
        check=True,
        capture_output=True,
    ).stdout.decode()
    return out.strip().split("=", 1)[1]


def trustpoint(name: str, url: str, key: str) -> str:
    return (
        f"<trustpoint><name>{name}</name><enrollment><url>{url}</url>"
        f"<retry><period>2</period><count>25</count></retry></enrollment>"
        f"<key-label>{key}</key-label></trustpoint>"
    )


def authenticate_and_accept(m: manager.Manager, name: str, scep: ScepServer) -> None:
    rpc(
        m,
        "authenticate",
        f"<trustpoint>{name}</trustpoint><from-ca/>"
        f"<accept-fingerprint>{ca_fingerprint(scep.ca_pem)}</accept-fingerprint>",
    )


def test_configure_the_seed(m: manager.Manager, scep: ScepServer) -> None:
    rsa = f'<algorithm xmlns:t="{TYPES}">t:rsa</algorithm><modulus>2048</modulus>'
    m.edit_config(
        target="candidate",
        config=f'<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
        f'<device-identity xmlns="{SYS}"><hostname>myrouter</hostname>'
        f"<domain-name>mydomain.com</domain-name></device-identity>"
        f'<keys xmlns="{KEYS}"><key><label>mykey</label>{rsa}</key>'
        f"<key><label>ukey</label>{rsa}<usage>usage-keys</usage></key>"
        f"<key><label>wkey</label>{rsa}</key></keys>"
        f'<trustpoints xmlns="{TP}">{trustpoint("myca", scep.url, "mykey")}'
        f"{trustpoint('myca-u', scep.url, 'ukey')}{trustpoint('myca-w', scep.url, 'wkey')}"
        f"{trustpoint('dead', f'http://127.0.0.1:{free_port()}/scep', 'mykey')}"
        f"</trustpoints></config>",
    )
    m.commit()


def test_enroll_before_authenticate(m: manager.Manager) -> None:
    err = error_of(m, "enroll", f"<trustpoint>myca</trustpoint><challenge-password>{CHALLENGE}"
                   "</challenge-password>")  # fmt: skip
    assert_error(err, "operation-failed", "ca-not-authenticated")


def test_authenticate_shows_the_depot_fingerprint(m: manager.Manager, scep: ScepServer) -> None:
    reply = rpc(m, "authenticate", "<trustpoint>myca</trustpoint><from-ca/>")
    assert reply.findtext(".//tp:sha256-fingerprint", namespaces=NS) == ca_fingerprint(scep.ca_pem)
    assert reply.findtext(".//tp:trusted", namespaces=NS) == "false"
    assert state_of(m, "myca").findtext("tp:authenticated", namespaces=NS) == "false"
    authenticate_and_accept(m, "myca", scep)
    assert state_of(m, "myca").findtext("tp:authenticated", namespaces=NS) == "true"


def test_enroll_issues_a_certificate(m: manager.Manager) -> None:
    reply = rpc(m, "enroll", f"<trustpoint>myca</trustpoint><challenge-password>{CHALLENGE}"
                "</challenge-password>")  # fmt: skip
    assert reply.findtext(".//tp:status", namespaces=NS) == "issued"
    certs = reply.findall(".//tp:certificate", NS)
    assert [c.findtext("tp:role", namespaces=NS) for c in certs] == ["general"]
    local = state_of(m, "myca").find("tp:local-certificate", NS)
    assert local is not None
    assert local.findtext("tp:status", namespaces=NS) == "available"
    assert local.findtext("tp:key-label", namespaces=NS) == "mykey"
    # The request's subject is unstructuredName=myrouter.mydomain.com plus that dNSName;
    # micromdm (Go's x509 template) keeps the SAN and drops unstructuredName from the subject.
    names = [local.findtext("tp:subject", namespaces=NS) or ""]
    names += [s.text or "" for s in local.iterfind("tp:subject-alt-name", NS)]
    assert any("myrouter.mydomain.com" in n for n in names), names
    assert local.findtext("tp:sha256-fingerprint", namespaces=NS) == certs[0].findtext(
        "tp:sha256-fingerprint", namespaces=NS
    )


def test_usage_keys_yield_two_certificates(m: manager.Manager, scep: ScepServer) -> None:
    authenticate_and_accept(m, "myca-u", scep)
    reply = rpc(m, "enroll", f"<trustpoint>myca-u</trustpoint><challenge-password>{CHALLENGE}"
                "</challenge-password>")  # fmt: skip
    roles = [c.findtext("tp:role", namespaces=NS) for c in reply.findall(".//tp:certificate", NS)]
    assert sorted(roles) == ["encryption", "signature"]
    state = state_of(m, "myca-u")
    locals_ = state.findall("tp:local-certificate", NS)
    assert sorted(lc.findtext("tp:role", namespaces=NS) or "" for lc in locals_) == [
        "encryption",
        "signature",
    ]
    assert {lc.findtext("tp:status", namespaces=NS) for lc in locals_} == {"available"}


def test_wrong_challenge_is_rejected(m: manager.Manager, scep: ScepServer) -> None:
    authenticate_and_accept(m, "myca-w", scep)
    err = error_of(m, "enroll", "<trustpoint>myca-w</trustpoint>"
                   "<challenge-password>not-the-challenge</challenge-password>")  # fmt: skip
    assert_error(err, "operation-failed", "ca-rejected")
    assert "reject" in (err.message or "")
    assert state_of(m, "myca-w").find("tp:local-certificate", NS) is None


def test_unreachable_ca(m: manager.Manager) -> None:
    err = error_of(m, "authenticate", "<trustpoint>dead</trustpoint><from-ca/>")
    assert_error(err, "operation-failed", "ca-unreachable")
    assert state_of(m, "dead").findtext("tp:authenticated", namespaces=NS) == "false"


def test_no_reply_or_log_holds_secrets(agent: AgentProcess) -> None:
    assert REPLIES
    for reply in REPLIES:
        assert b"PRIVATE KEY" not in reply
        assert CHALLENGE.encode() not in reply
        assert b"not-the-challenge" not in reply
    log = agent.log_text()
    assert CHALLENGE not in log and "not-the-challenge" not in log
