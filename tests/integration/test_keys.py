"""The key part of issue 3 over real SSH with ncclient: keys declared in config and generated on
commit, the generate-key / zeroize-key / import-key RPCs, their refusals, keys-state, and
survival across a restart.

Every reply (data and errors) is recorded; the last tests check that none holds private key
material.  Tests run in file order and build on each other's keys (one agent per module).
RSA keys stay at 2048 bits so the module runs in seconds.
"""

from __future__ import annotations

import base64
import random
import re
import subprocess
from pathlib import Path

import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError

from agent.clock import SystemClock
from agent.pki import KeyStore
from tests.integration.agent_process import AgentProcess, run_until_killed, start_agent
from tests.integration.conftest import connect
from tests.integration.pki_rpc import assert_error, expect_error, send

KEYS = "urn:netconf-pki-agent:yang:npa-pki-keys"
TP = "urn:netconf-pki-agent:yang:npa-pki-trustpoints"
TYPES = "urn:netconf-pki-agent:yang:npa-pki-types"
NS = {"k": KEYS}
FINGERPRINT = re.compile(r"^([0-9A-F]{2}:){31}[0-9A-F]{2}$")
KEYS_FILTER = f'<keys-state xmlns="{KEYS}"/>'

REPLIES: list[bytes] = []  # every reply of this module, checked for private key material
PRIVATE_DER: list[bytes] = []  # DER of the private keys this module imported


# -- helpers --------------------------------------------------------------------------------


def rpc(m: manager.Manager, name: str, body: str) -> etree._Element:
    """Send a key RPC; record the reply (or the error) and return the reply element."""
    return send(m, f'<{name} xmlns="{KEYS}" xmlns:t="{TYPES}">{body}</{name}>', REPLIES)


def error_of(m: manager.Manager, name: str, body: str) -> RPCError:
    return expect_error(m, f'<{name} xmlns="{KEYS}" xmlns:t="{TYPES}">{body}</{name}>', REPLIES)


def keys_state(m: manager.Manager) -> dict[str, etree._Element]:
    reply = m.get(filter=("subtree", KEYS_FILTER))
    REPLIES.append(reply.xml.encode())
    root = etree.fromstring(REPLIES[-1])
    return {k.findtext("k:label", namespaces=NS): k for k in root.iterfind(".//k:key", NS)}


def running(m: manager.Manager) -> bytes:
    reply = m.get_config(source="running")
    REPLIES.append(reply.xml.encode())
    return etree.tostring(reply.data_ele, method="c14n")


def edit(m: manager.Manager, body: str) -> None:
    m.edit_config(
        target="candidate",
        config=f'<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">{body}</config>',
    )


def component(el: etree._Element) -> tuple[str, str, str]:
    """(role, public-key-pem, fingerprint) of the first component of a key or RPC output."""
    c = el.find("k:component", NS)
    assert c is not None
    return (
        c.findtext("k:role", namespaces=NS) or "",
        c.findtext("k:public-key-pem", namespaces=NS) or "",
        c.findtext("k:sha256-fingerprint", namespaces=NS) or "",
    )


def assert_public_pem(pem: str) -> None:
    """openssl must accept it as a public key."""
    subprocess.run(
        ["openssl", "pkey", "-pubin", "-noout"], input=pem.encode(), check=True, capture_output=True
    )


# -- keys declared in config ----------------------------------------------------------------


def test_declared_key_is_generated_on_commit(m: manager.Manager) -> None:
    edit(
        m,
        f'<keys xmlns="{KEYS}"><key><label>mykey</label>'
        f'<algorithm xmlns:t="{TYPES}">t:rsa</algorithm><modulus>2048</modulus></key></keys>',
    )
    m.commit()
    key = keys_state(m)["mykey"]
    assert key.findtext("k:origin", namespaces=NS) == "config"
    assert key.findtext("k:key-size", namespaces=NS) == "2048"
    assert key.findtext("k:public-only", namespaces=NS) == "false"
    algorithm = key.find("k:algorithm", NS)
    assert algorithm is not None and algorithm.text is not None
    prefix, _, name = algorithm.text.partition(":")
    assert (algorithm.nsmap[prefix], name) == (TYPES, "rsa")
    role, pem, fingerprint = component(key)
    assert role == "general"
    assert_public_pem(pem)
    assert FINGERPRINT.match(fingerprint)


def test_zeroize_of_a_declared_key_is_refused(m: manager.Manager) -> None:
    err = error_of(m, "zeroize-key", "<label>mykey</label>")
    assert_error(err, "in-use", "key-declared-in-config", "/pki-keys:zeroize-key/pki-keys:label")
    assert "remove it from config" in err.message
    assert "mykey" in keys_state(m)


def test_commit_removing_a_referenced_key_is_refused(m: manager.Manager) -> None:
    edit(
        m,
        f'<trustpoints xmlns="{TP}"><trustpoint><name>myca</name>'
        "<key-label>mykey</key-label></trustpoint></trustpoints>",
    )
    m.commit()
    before = running(m)
    edit(
        m,
        f'<keys xmlns="{KEYS}" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0">'
        '<key nc:operation="delete"><label>mykey</label></key></keys>',
    )
    with pytest.raises(RPCError) as exc:
        m.commit()
    REPLIES.append(etree.tostring(exc.value.xml))
    assert_error(
        exc.value, "in-use", "key-in-use", "/pki-keys:keys/pki-keys:key[pki-keys:label='mykey']"
    )
    m.discard_changes()
    assert running(m) == before
    key = keys_state(m)["mykey"]
    assert [u.text for u in key.iterfind("k:used-by", NS)] == ["myca"]


def test_commit_removing_a_key_zeroizes_it(m: manager.Manager, agent: AgentProcess) -> None:
    entry = f'<key><label>tmpkey</label><algorithm xmlns:t="{TYPES}">t:ed25519</algorithm></key>'
    edit(m, f'<keys xmlns="{KEYS}">{entry}</keys>')
    m.commit()
    assert keys_state(m)["tmpkey"].findtext("k:origin", namespaces=NS) == "config"
    edit(
        m,
        f'<keys xmlns="{KEYS}" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0">'
        '<key nc:operation="delete"><label>tmpkey</label></key></keys>',
    )
    m.commit()
    assert "tmpkey" not in keys_state(m)
    assert not [p for p in (agent.state_dir / "keys").iterdir() if "tmpkey" in p.name]


# -- generate-key ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "params", "size"),
    [
        ("gen-ec", "<algorithm>t:ecdsa-p256</algorithm>", "256"),
        ("gen-ed", "<algorithm>t:ed25519</algorithm>", "256"),
        ("gen-rsa", "<algorithm>t:rsa</algorithm><modulus>2048</modulus>", "2048"),
    ],
)
def test_generate_key_output_matches_state(
    m: manager.Manager, label: str, params: str, size: str
) -> None:
    out = rpc(m, "generate-key", f"<label>{label}</label>{params}")
    assert out.findtext("k:label", namespaces=NS) == label
    role, pem, fingerprint = component(out)
    assert_public_pem(pem)
    assert FINGERPRINT.match(fingerprint)
    key = keys_state(m)[label]
    assert component(key) == (role, pem, fingerprint)
    assert key.findtext("k:origin", namespaces=NS) == "rpc"
    assert key.findtext("k:key-size", namespaces=NS) == size


def test_generate_existing_label_needs_overwrite(m: manager.Manager) -> None:
    old = component(keys_state(m)["gen-ed"])[2]
    err = error_of(m, "generate-key", "<label>gen-ed</label><algorithm>t:ed25519</algorithm>")
    assert_error(err, "data-exists", "key-exists", "/pki-keys:generate-key/pki-keys:label")
    assert component(keys_state(m)["gen-ed"])[2] == old
    out = rpc(
        m,
        "generate-key",
        "<label>gen-ed</label><algorithm>t:ed25519</algorithm><overwrite>true</overwrite>",
    )
    new = component(out)[2]
    assert new != old
    assert component(keys_state(m)["gen-ed"])[2] == new


def test_generate_declared_label_is_refused(m: manager.Manager) -> None:
    err = error_of(m, "generate-key", "<label>mykey</label><overwrite>true</overwrite>")
    assert_error(err, "in-use", "key-declared-in-config")


# -- zeroize-key ----------------------------------------------------------------------------


def test_zeroize_rpc_key_removes_state_and_files(m: manager.Manager, agent: AgentProcess) -> None:
    keys_dir = agent.state_dir / "keys"
    assert any(p.name.startswith("gen-ec") for p in keys_dir.iterdir())
    out = rpc(m, "zeroize-key", "<label>gen-ec</label>")
    assert [z.text for z in out.iterfind("k:zeroized", NS)] == ["gen-ec"]
    assert "gen-ec" not in keys_state(m)
    assert not [p for p in keys_dir.iterdir() if p.name.startswith("gen-ec")]
    err = error_of(m, "zeroize-key", "<label>gen-ec</label>")
    assert_error(err, "data-missing", "key-not-found")


def test_zeroize_all_is_refused_as_a_whole(m: manager.Manager) -> None:
    before = set(keys_state(m))
    err = error_of(m, "zeroize-key", "<all/>")
    assert err.tag == "in-use"
    assert set(keys_state(m)) == before


# -- import-key -----------------------------------------------------------------------------


def _openssl_key(*args: str) -> bytes:
    return subprocess.run(["openssl", *args], check=True, capture_output=True).stdout


def test_import_public_key_is_public_only(m: manager.Manager) -> None:
    private = _openssl_key("genpkey", "-algorithm", "ed25519")
    public = subprocess.run(
        ["openssl", "pkey", "-pubout"], input=private, check=True, capture_output=True
    ).stdout
    out = rpc(
        m, "import-key", f"<label>peer</label><public-key-pem>{public.decode()}</public-key-pem>"
    )
    assert out.findtext("k:format", namespaces=NS).endswith(":spki")
    key = keys_state(m)["peer"]
    assert key.findtext("k:public-only", namespaces=NS) == "true"
    assert key.findtext("k:origin", namespaces=NS) == "imported"


def test_import_key_pair_never_echoes_it(m: manager.Manager) -> None:
    private = _openssl_key("genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:P-256")
    der = subprocess.run(
        ["openssl", "pkey", "-outform", "DER"], input=private, check=True, capture_output=True
    ).stdout
    PRIVATE_DER.append(der)
    out = rpc(m, "import-key", f"<label>pair</label><pkcs8-pem>{private.decode()}</pkcs8-pem>")
    assert out.findtext("k:format", namespaces=NS).endswith(":pkcs8")
    key = keys_state(m)["pair"]
    assert key.findtext("k:public-only", namespaces=NS) == "false"
    assert_public_pem(component(key)[1])


def test_import_with_wrong_passphrase(m: manager.Manager) -> None:
    encrypted = _openssl_key(
        "genpkey", "-algorithm", "ed25519", "-aes-256-cbc", "-pass", "pass:right-one"
    )
    err = error_of(
        m,
        "import-key",
        f"<label>locked</label><pkcs8-pem>{encrypted.decode()}</pkcs8-pem>"
        "<passphrase>wrong-one</passphrase>",
    )
    assert_error(err, "invalid-value", "bad-passphrase")
    assert "wrong-one" not in etree.tostring(err.xml).decode()
    assert "locked" not in keys_state(m)


# -- input checks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "tag", "path"),
    [
        ("<label>bad label!</label>", "invalid-value", "/pki-keys:generate-key/pki-keys:label"),
        (
            "<label>k1</label><modulus>100</modulus>",
            "invalid-value",
            "/pki-keys:generate-key/pki-keys:modulus",
        ),
        ("<label>k1</label><colour>red</colour>", "unknown-element", "/pki-keys:generate-key"),
        ("<modulus>2048</modulus>", "missing-element", "/pki-keys:generate-key/pki-keys:label"),
    ],
)
def test_bad_input(m: manager.Manager, body: str, tag: str, path: str) -> None:
    err = error_of(m, "generate-key", body)
    assert_error(err, tag, None, path)
    assert "k1" not in keys_state(m)


def test_zeroize_needs_exactly_one_target(m: manager.Manager) -> None:
    assert error_of(m, "zeroize-key", "").tag == "missing-element"
    assert error_of(m, "zeroize-key", "<label>gen-ed</label><all/>").tag == "bad-element"
    assert "gen-ed" in keys_state(m)


# -- crash safety -------------------------------------------------------------------------


def test_sigkill_during_key_generation(tmp_path: Path) -> None:
    """Every key acknowledged before a SIGKILL is there after the restart, with the same
    public key and a private key that decrypts; a key replaced (overwrite) in flight is the
    old or the new one; nothing half-written is left in the key directory."""
    state = tmp_path / "state"
    rng = random.Random(20261125)
    acked: dict[str, str] = {}  # label -> fingerprint last acknowledged
    counter = 0
    for _round in range(4):
        agent = start_agent(state)
        m = connect(agent, timeout=10)
        now = {label: component(el)[2] for label, el in keys_state(m).items()}
        assert set(acked) <= set(now) and len(set(now) - set(acked)) <= 1  # + one in flight
        assert all(now[label] == fp for label, fp in acked.items() if label != "rot")
        acked = now

        def generate_next(m: manager.Manager = m, acked: dict[str, str] = acked) -> None:
            nonlocal counter
            counter += 1
            replace = counter % 3 == 0
            label = "rot" if replace else f"k{counter}"
            body = (
                f"<label>{label}</label><algorithm>t:ecdsa-p256</algorithm>"
                f"<overwrite>{str(replace).lower()}</overwrite>"
            )
            acked[label] = component(rpc(m, "generate-key", body))[2]

        run_until_killed(agent, generate_next, rng.uniform(0.2, 1.0))
    keys_dir = state / "keys"
    store = KeyStore(keys_dir, SystemClock())  # recovers as the agent does, then reads
    assert not [p.name for p in keys_dir.iterdir() if p.name.endswith(".tmp")]
    stored = {info.label: info for info in store.list()}
    assert set(acked) <= set(stored) and len(set(stored) - set(acked)) <= 1
    for label, fingerprint in acked.items():
        if label != "rot":
            assert stored[label].components[0].sha256_fingerprint == fingerprint
        store.private_key(label)  # decrypts and matches its public key
    assert len(acked) > 8


# -- secrets and restart --------------------------------------------------------------------


def test_no_reply_or_log_holds_private_key_material(agent: AgentProcess) -> None:
    assert len(REPLIES) > 20
    assert PRIVATE_DER
    forms = [
        form for der in PRIVATE_DER for form in (der, base64.b64encode(der), der.hex().encode())
    ]
    for reply in REPLIES:
        assert b"PRIVATE KEY" not in reply
        assert not any(form in reply for form in forms)
    log = agent.log_text()
    assert "PRIVATE KEY" not in log
    assert "wrong-one" not in log


def test_keys_survive_restart(agent: AgentProcess, m: manager.Manager) -> None:
    before = {label: component(el) for label, el in keys_state(m).items()}
    m.close_session()
    agent.stop()
    again = start_agent(agent.state_dir)
    try:
        with connect(again) as m2:
            after = {label: component(el) for label, el in keys_state(m2).items()}
    finally:
        again.stop()
    assert after == before
    assert {"mykey", "gen-ed", "gen-rsa", "peer", "pair"} <= set(after)
