"""The offline (Huawei / Cisco cut-and-paste) trustpoint flow of issue 3 over real SSH with
ncclient: an ``enrollment terminal`` trustpoint with entity fields, enroll returning a PKCS #10
that openssl verifies, a test CA made with openssl signing it, authenticate with the pasted CA
certificate, import-certificate, its precise refusals (state compared before and after), a
wrong configured fingerprint, restart, delete-certificates and zeroize.

Tests run in file order and build on each other (one agent and one test CA per module).
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError

from tests.integration.agent_process import AgentProcess, start_agent
from tests.integration.conftest import connect
from tests.integration.pki_rpc import assert_error, expect_error, send

KEYS = "urn:netconf-pki-agent:yang:npa-pki-keys"
TP = "urn:netconf-pki-agent:yang:npa-pki-trustpoints"
TYPES = "urn:netconf-pki-agent:yang:npa-pki-types"
SYS = "urn:netconf-pki-agent:yang:npa-pki-system"
NS = {"tp": TP}
TP_FILTER = f'<trustpoints xmlns="{TP}"/>'
CHALLENGE = "offline-secret-123"

REPLIES: list[bytes] = []
CSR: dict[str, str] = {}  # trustpoint -> PKCS #10 PEM returned by enroll


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with a test root CA (ca.pem, ca.key) and an unrelated one (other.*)."""
    d = tmp_path_factory.mktemp("test-ca")
    for name, cn in (("ca", "Offline Test Root CA"), ("other", "Unrelated CA")):
        openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
            "-subj", f"/O=Test/CN={cn}", "-keyout", str(d / f"{name}.key"),
            "-out", str(d / f"{name}.pem"),
        )  # fmt: skip
    return d


# -- helpers --------------------------------------------------------------------------------


def openssl(*args: str, data: bytes | None = None) -> str:
    done = subprocess.run(["openssl", *args], input=data, check=True, capture_output=True)
    return done.stdout.decode()


def rpc(m: manager.Manager, name: str, body: str, ns: str = TP) -> etree._Element:
    return send(m, f'<{name} xmlns="{ns}">{body}</{name}>', REPLIES)


def error_of(m: manager.Manager, name: str, body: str) -> RPCError:
    return expect_error(m, f'<{name} xmlns="{TP}">{body}</{name}>', REPLIES)


def trustpoints(m: manager.Manager) -> bytes:
    reply = m.get(filter=("subtree", TP_FILTER))
    REPLIES.append(reply.xml.encode())
    return etree.tostring(reply.data_ele, method="c14n")


def state_of(m: manager.Manager, name: str) -> etree._Element:
    root = etree.fromstring(trustpoints(m))
    for tp in root.iterfind(".//tp:trustpoint", NS):
        if tp.findtext("tp:name", namespaces=NS) == name:
            state = tp.find("tp:state", NS)
            assert state is not None
            return state
    raise AssertionError(f"no trustpoint {name}")


def edit(m: manager.Manager, body: str) -> None:
    m.edit_config(
        target="candidate",
        config=f'<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">{body}</config>',
    )


def fingerprint(pem_path: Path, digest: str = "sha256") -> str:
    out = openssl("x509", "-in", str(pem_path), "-noout", "-fingerprint", f"-{digest}")
    return out.strip().split("=", 1)[1]


def sign(ca: Path, csr_pem: str, issuer: str = "ca", out: str = "cert.pem") -> Path:
    """The CA signs the request as an operator's CA would (extensions copied)."""
    (ca / "req.p10").write_text(csr_pem)
    path = ca / out
    openssl(
        "x509", "-req", "-in", str(ca / "req.p10"), "-CA", str(ca / f"{issuer}.pem"),
        "-CAkey", str(ca / f"{issuer}.key"), "-CAcreateserial", "-days", "20",
        "-copy_extensions", "copy", "-out", str(path),
    )  # fmt: skip
    return path


def expired_certificate(ca: Path, csr_pem: str) -> str:
    """Signed by the right CA for the right key, but already expired (openssl 3.0's x509
    command cannot back-date, so cryptography signs this one)."""
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    key = serialization.load_pem_private_key((ca / "ca.key").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    issuer = x509.load_pem_x509_certificate((ca / "ca.pem").read_bytes())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(issuer.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now - timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def pem_input(path_or_text: Path | str) -> str:
    text = path_or_text.read_text() if isinstance(path_or_text, Path) else path_or_text
    return f"<certificate-pem>{text}</certificate-pem>"


# -- the walkthrough ------------------------------------------------------------------------


def test_configure_identity_keys_and_terminal_trustpoint(m: manager.Manager) -> None:
    rsa_key = f'<algorithm xmlns:t="{TYPES}">t:rsa</algorithm><modulus>2048</modulus>'
    edit(
        m,
        f'<device-identity xmlns="{SYS}"><hostname>ne40e</hostname>'
        f"<domain-name>example.net</domain-name></device-identity>"
        f'<keys xmlns="{KEYS}"><key><label>tpkey</label>{rsa_key}</key>'
        f"<key><label>otherkey</label>{rsa_key}</key></keys>"
        f'<trustpoints xmlns="{TP}">'
        f"<trustpoint><name>huawei</name><enrollment><terminal/></enrollment>"
        f"<key-label>tpkey</key-label><subject><common-name>ne40e-router</common-name>"
        f"<organization>Example Org</organization><organizational-unit>NOC</organizational-unit>"
        f"<locality>Shenzhen</locality><state>Guangdong</state><country>CN</country>"
        f"<email>noc@example.net</email><ip-address>192.0.2.10</ip-address></subject>"
        f"</trustpoint>"
        f"<trustpoint><name>other</name><enrollment><terminal/></enrollment>"
        f"<key-label>otherkey</key-label></trustpoint>"
        f"<trustpoint><name>pinned</name><enrollment><terminal/></enrollment>"
        f"<key-label>otherkey</key-label><ca-fingerprint>{'AB:' * 31}AB</ca-fingerprint>"
        f"</trustpoint><trustpoint><name>ghost</name><enrollment><terminal/></enrollment>"
        f"<key-label>ghostkey</key-label></trustpoint></trustpoints>",
    )
    m.commit()
    state = state_of(m, "huawei")
    assert state.findtext("tp:authenticated", namespaces=NS) == "false"
    assert state.findtext("tp:enrollment/tp:status", namespaces=NS) == "idle"
    method = state.find("tp:enrollment/tp:method", NS)
    assert method is not None and method.text is not None
    prefix, _, name = method.text.partition(":")
    assert (method.nsmap[prefix], name) == (TYPES, "terminal")


def test_enroll_returns_a_pkcs10_openssl_verifies(m: manager.Manager, agent: AgentProcess) -> None:
    reply = rpc(m, "enroll", "<trustpoint>huawei</trustpoint>")
    assert reply.findtext(".//tp:status", namespaces=NS) == "pending"
    csrs = reply.findall(".//tp:csr", NS)
    assert [c.findtext("tp:role", namespaces=NS) for c in csrs] == ["general"]
    pem = csrs[0].findtext("tp:pkcs10-pem", namespaces=NS) or ""
    openssl("req", "-verify", "-noout", data=pem.encode())
    subject = openssl("req", "-noout", "-subject", "-nameopt", "RFC2253", data=pem.encode())
    for part in (
        "CN=ne40e-router", "O=Example Org", "OU=NOC", "L=Shenzhen", "ST=Guangdong", "C=CN"
    ):  # fmt: skip
        assert part in subject
    text = openssl("req", "-noout", "-text", data=pem.encode())
    assert "DNS:ne40e.example.net" in text
    assert "IP Address:192.0.2.10" in text
    assert "email:noc@example.net" in text
    request_file = agent.state_dir / "requests" / "huawei-general.p10"
    assert request_file.read_text() == pem
    CSR["huawei"] = pem


def test_enroll_with_challenge_keeps_it_out_of_files(
    m: manager.Manager, agent: AgentProcess
) -> None:
    reply = rpc(
        m,
        "enroll",
        f"<trustpoint>other</trustpoint><challenge-password>{CHALLENGE}</challenge-password>",
    )
    pem = reply.findtext(".//tp:pkcs10-pem", namespaces=NS) or ""
    assert "challengePassword" in openssl("req", "-noout", "-text", data=pem.encode())
    assert not (agent.state_dir / "requests" / "other-general.p10").exists()
    CSR["other"] = pem


def test_enroll_unknown_trustpoint_and_missing_key(m: manager.Manager) -> None:
    err = error_of(m, "enroll", "<trustpoint>nosuch</trustpoint>")
    assert err.tag == "data-missing"
    err = error_of(m, "enroll", "<trustpoint>ghost</trustpoint>")
    assert_error(err, "data-missing", "key-not-found")


def test_authenticate_without_accept_shows_but_does_not_trust(m: manager.Manager, ca: Path) -> None:
    reply = rpc(
        m,
        "authenticate",
        f"<trustpoint>huawei</trustpoint><ca-certificate-pem>{(ca / 'ca.pem').read_text()}"
        "</ca-certificate-pem>",
    )
    assert reply.findtext(".//tp:sha256-fingerprint", namespaces=NS) == fingerprint(ca / "ca.pem")
    assert reply.findtext(".//tp:sha1-fingerprint", namespaces=NS) == fingerprint(
        ca / "ca.pem", "sha1"
    )
    assert "Offline Test Root CA" in (reply.findtext(".//tp:subject", namespaces=NS) or "")
    assert reply.findtext(".//tp:trusted", namespaces=NS) == "false"
    assert state_of(m, "huawei").findtext("tp:authenticated", namespaces=NS) == "false"


def test_import_before_authenticate_is_refused(m: manager.Manager, ca: Path) -> None:
    err = error_of(
        m,
        "import-certificate",
        f"<trustpoint>huawei</trustpoint>{pem_input(sign(ca, CSR['huawei']))}",
    )
    assert_error(err, "operation-failed", "ca-not-authenticated")


def test_configured_fingerprint_mismatch_stores_nothing(m: manager.Manager, ca: Path) -> None:
    before = trustpoints(m)
    err = error_of(
        m,
        "authenticate",
        f"<trustpoint>pinned</trustpoint><ca-certificate-pem>{(ca / 'ca.pem').read_text()}"
        "</ca-certificate-pem>",
    )
    assert_error(err, "operation-failed", "fingerprint-mismatch")
    assert trustpoints(m) == before


def test_authenticate_with_accept_trusts_the_ca(m: manager.Manager, ca: Path) -> None:
    reply = rpc(
        m,
        "authenticate",
        f"<trustpoint>huawei</trustpoint><ca-certificate-pem>{(ca / 'ca.pem').read_text()}"
        f"</ca-certificate-pem><accept-fingerprint>{fingerprint(ca / 'ca.pem')}"
        "</accept-fingerprint>",
    )
    assert reply.findtext(".//tp:trusted", namespaces=NS) == "true"
    state = state_of(m, "huawei")
    assert state.findtext("tp:authenticated", namespaces=NS) == "true"
    assert state.findtext("tp:ca-certificate/tp:sha256-fingerprint", namespaces=NS) == (
        fingerprint(ca / "ca.pem")
    )
    assert state.findtext("tp:ca-certificate/tp:is-ca", namespaces=NS) == "true"


@pytest.mark.parametrize(
    ("case", "tag", "app_tag"),
    [
        ("other-key", "invalid-value", "certificate-key-mismatch"),
        ("expired", "invalid-value", "certificate-expired"),
        ("other-ca", "invalid-value", "certificate-not-issued-by-ca"),
        ("garbage", "invalid-value", "malformed-certificate"),
        ("garbage-der", "invalid-value", "malformed-certificate"),
    ],
)
def test_bad_imports_change_nothing(
    m: manager.Manager, ca: Path, case: str, tag: str, app_tag: str
) -> None:
    body = {
        "other-key": lambda: pem_input(sign(ca, CSR["other"], out="other.crt")),
        "expired": lambda: pem_input(expired_certificate(ca, CSR["huawei"])),
        "other-ca": lambda: pem_input(sign(ca, CSR["huawei"], issuer="other", out="o.crt")),
        "garbage": lambda: pem_input(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
        ),
        "garbage-der": lambda: "<certificate-der>AAECAwQF</certificate-der>",
    }[case]()
    before = trustpoints(m)
    err = error_of(m, "import-certificate", f"<trustpoint>huawei</trustpoint>{body}")
    assert_error(err, tag, app_tag)
    assert trustpoints(m) == before


def test_import_installs_the_certificate(m: manager.Manager, ca: Path) -> None:
    cert = sign(ca, CSR["huawei"])
    reply = rpc(m, "import-certificate", f"<trustpoint>huawei</trustpoint>{pem_input(cert)}")
    assert reply.findtext(".//tp:role", namespaces=NS) == "general"
    assert reply.findtext(".//tp:sha256-fingerprint", namespaces=NS) == fingerprint(cert)
    local = state_of(m, "huawei").find("tp:local-certificate", NS)
    assert local is not None
    assert local.findtext("tp:status", namespaces=NS) == "available"
    assert local.findtext("tp:key-label", namespaces=NS) == "tpkey"
    assert local.findtext("tp:sha256-fingerprint", namespaces=NS) == fingerprint(cert)
    assert "CN=ne40e-router" in (local.findtext("tp:subject", namespaces=NS) or "")
    assert "Offline Test Root CA" in (local.findtext("tp:issuer", namespaces=NS) or "")
    assert "DNS:ne40e.example.net" in [s.text for s in local.iterfind("tp:subject-alt-name", NS)]
    assert (local.findtext("tp:pem", namespaces=NS) or "").strip() == cert.read_text().strip()


def test_restart_keeps_ca_and_certificate(agent: AgentProcess, m: manager.Manager) -> None:
    before = trustpoints(m)
    m.close_session()
    agent.stop()
    again = start_agent(agent.state_dir)
    try:
        with connect(again) as m2:
            after = trustpoints(m2)
            state = state_of(m2, "huawei")
            assert state.findtext("tp:authenticated", namespaces=NS) == "true"
            assert state.find("tp:local-certificate", NS) is not None
            # -- delete-certificates local, then all
            reply = rpc(
                m2, "delete-certificates", "<trustpoint>huawei</trustpoint><scope>local</scope>"
            )
            assert len(reply.findall(".//tp:deleted", NS)) == 1
            state = state_of(m2, "huawei")
            assert state.find("tp:local-certificate", NS) is None
            assert state.findtext("tp:authenticated", namespaces=NS) == "true"
    finally:
        again.stop()
    assert after == before


def test_zeroize_removes_bound_certificates(tmp_path: Path, ca: Path) -> None:
    """A fresh agent: import a certificate, then remove the key from config (zeroize)."""
    proc = start_agent(tmp_path / "state")
    try:
        with connect(proc) as m2:
            edit(
                m2,
                f'<device-identity xmlns="{SYS}"><hostname>r2</hostname></device-identity>'
                f'<keys xmlns="{KEYS}"><key><label>zk</label>'
                f'<algorithm xmlns:t="{TYPES}">t:ecdsa-p256</algorithm></key></keys>'
                f'<trustpoints xmlns="{TP}"><trustpoint><name>z</name>'
                f"<enrollment><terminal/></enrollment><key-label>zk</key-label>"
                f"</trustpoint></trustpoints>",
            )
            m2.commit()
            csr = rpc(m2, "enroll", "<trustpoint>z</trustpoint>").findtext(
                ".//tp:pkcs10-pem", namespaces=NS
            )
            assert csr is not None and "unstructuredName=r2" in openssl(
                "req", "-noout", "-subject", "-nameopt", "RFC2253", data=csr.encode()
            ).replace(" ", "")
            rpc(
                m2,
                "authenticate",
                f"<trustpoint>z</trustpoint><ca-certificate-pem>"
                f"{(ca / 'ca.pem').read_text()}</ca-certificate-pem>"
                f"<accept-fingerprint>{fingerprint(ca / 'ca.pem')}</accept-fingerprint>",
            )
            pem_lines = sign(ca, csr, out="z.pem").read_text().strip().splitlines()
            der_b64 = "".join(pem_lines[1:-1])  # the DER, as certificate-der carries it
            rpc(
                m2,
                "import-certificate",
                f"<trustpoint>z</trustpoint><certificate-der>{der_b64}</certificate-der>",
            )
            assert state_of(m2, "z").find("tp:local-certificate", NS) is not None
            m2.edit_config(
                target="candidate",
                config='<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" '
                'xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0">'
                f'<keys xmlns="{KEYS}"><key nc:operation="delete"><label>zk</label></key></keys>'
                f'<trustpoints xmlns="{TP}"><trustpoint><name>z</name>'
                '<key-label nc:operation="delete"/></trustpoint></trustpoints></config>',
            )
            m2.commit()
            state = state_of(m2, "z")
            assert state.find("tp:local-certificate", NS) is None
            assert state.findtext("tp:authenticated", namespaces=NS) == "true"
            zeroize_rpc_removes_bound(m2, ca)
            removing_the_trustpoint_drops_its_ca(m2, proc.state_dir)
    finally:
        proc.stop()


def zeroize_rpc_removes_bound(m2: manager.Manager, ca: Path) -> None:
    """The zeroize-key RPC path: an RPC-made key certified on trustpoint z, then unnamed in
    config (zeroize-key refuses a key a trustpoint names) and zeroized."""
    rpc(m2, "generate-key", f'<label>rk</label><algorithm xmlns:t="{TYPES}">t:ecdsa-p256'
        "</algorithm>", ns=KEYS)  # fmt: skip
    edit(m2, f'<trustpoints xmlns="{TP}"><trustpoint><name>z</name><key-label>rk</key-label>'
         "</trustpoint></trustpoints>")  # fmt: skip
    m2.commit()
    csr = rpc(m2, "enroll", "<trustpoint>z</trustpoint>").findtext(
        ".//tp:pkcs10-pem", namespaces=NS
    )
    assert csr is not None
    rpc(m2, "import-certificate",
        f"<trustpoint>z</trustpoint>{pem_input(sign(ca, csr, out='rk.pem'))}")  # fmt: skip
    assert state_of(m2, "z").find("tp:local-certificate", NS) is not None
    m2.edit_config(
        target="candidate",
        config='<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" '
        'xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0">'
        f'<trustpoints xmlns="{TP}"><trustpoint><name>z</name>'
        '<key-label nc:operation="delete"/></trustpoint></trustpoints></config>',
    )
    m2.commit()
    assert state_of(m2, "z").find("tp:local-certificate", NS) is not None  # not yet zeroized
    rpc(m2, "zeroize-key", "<label>rk</label>", ns=KEYS)
    assert state_of(m2, "z").find("tp:local-certificate", NS) is None


def removing_the_trustpoint_drops_its_ca(m2: manager.Manager, state: Path) -> None:
    """`no crypto ca trustpoint z`: its CA goes with it; the same name re-added starts
    unauthenticated."""
    assert state_of(m2, "z").findtext("tp:authenticated", namespaces=NS) == "true"
    m2.edit_config(
        target="candidate",
        config='<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" '
        'xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0">'
        f'<trustpoints xmlns="{TP}"><trustpoint nc:operation="delete"><name>z</name>'
        "</trustpoint></trustpoints></config>",
    )
    m2.commit()
    assert not list(state.rglob("z.json"))
    edit(m2, f'<trustpoints xmlns="{TP}"><trustpoint><name>z</name>'
         "<enrollment><terminal/></enrollment></trustpoint></trustpoints>")  # fmt: skip
    m2.commit()
    assert state_of(m2, "z").findtext("tp:authenticated", namespaces=NS) == "false"


def test_no_reply_holds_secrets(agent: AgentProcess) -> None:
    assert REPLIES
    for reply in REPLIES:
        assert b"PRIVATE KEY" not in reply
        assert CHALLENGE.encode() not in reply
    assert CHALLENGE not in agent.log_text()
