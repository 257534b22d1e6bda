"""A PENDING SCEP enrollment over NETCONF (ncclient, real agent process): enroll answers
pending, state shows the transaction, a second enroll is refused, the pending work survives
an agent restart, and cancel-enrollment clears it.

The CA is the MINIMAL responder of tests/unit/ops/pending_scep_server.py, written for the
test because micromdm never answers PENDING; it stays unapproved here.  The agent's own
poller uses the system clock with a 2-minute retry period, so it does not poll during the
test; polling per period is proved with a fake clock in tests/unit/ops/test_polling_scep.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError

from tests.integration.agent_process import AgentProcess, start_agent
from tests.integration.conftest import connect
from tests.unit.ops.pending_scep_server import PendingCa, pending_scep_server

KEYS = "urn:netconf-pki-agent:yang:npa-pki-keys"
TP = "urn:netconf-pki-agent:yang:npa-pki-trustpoints"
TYPES = "urn:netconf-pki-agent:yang:npa-pki-types"
SYS = "urn:netconf-pki-agent:yang:npa-pki-system"
NS = {"tp": TP}


@pytest.fixture(scope="module")
def ca() -> Iterator[PendingCa]:
    with pending_scep_server() as server:
        yield server


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tp-pending") / "state"


@contextmanager
def _session(state_dir: Path) -> Iterator[manager.Manager]:
    """An agent on ``state_dir`` and a session to it; both end with the block."""
    proc: AgentProcess = start_agent(state_dir)
    try:
        session = connect(proc)
        try:
            yield session
        finally:
            if session.connected:
                session.close_session()
    finally:
        proc.stop()


def rpc(m: manager.Manager, name: str, body: str) -> etree._Element:
    reply = m.dispatch(etree.fromstring(f'<{name} xmlns="{TP}">{body}</{name}>'))
    return etree.fromstring(reply.xml.encode())


def enrollment(m: manager.Manager) -> etree._Element:
    reply = etree.fromstring(m.get(filter=("subtree", f'<trustpoints xmlns="{TP}"/>')).xml.encode())
    el = reply.find(".//tp:trustpoint/tp:state/tp:enrollment", NS)
    assert el is not None
    return el


def test_pending_enrollment_over_netconf(ca: PendingCa, state_dir: Path) -> None:
    fingerprint = ca.cert.fingerprint(hashes.SHA256()).hex(":").upper()
    with _session(state_dir) as m:
        rsa = f'<algorithm xmlns:t="{TYPES}">t:rsa</algorithm><modulus>2048</modulus>'
        m.edit_config(
            target="candidate",
            config=f'<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
            f'<device-identity xmlns="{SYS}"><hostname>myrouter</hostname>'
            f"<domain-name>mydomain.com</domain-name></device-identity>"
            f'<keys xmlns="{KEYS}"><key><label>mykey</label>{rsa}</key></keys>'
            f'<trustpoints xmlns="{TP}"><trustpoint><name>myca</name><enrollment>'
            f"<url>{ca.url}</url><retry><period>2</period><count>25</count></retry>"
            f"</enrollment><key-label>mykey</key-label></trustpoint></trustpoints></config>",
        )
        m.commit()
        rpc(m, "authenticate", f"<trustpoint>myca</trustpoint><from-ca/>"
            f"<accept-fingerprint>{fingerprint}</accept-fingerprint>")  # fmt: skip
        reply = rpc(m, "enroll", "<trustpoint>myca</trustpoint>")
        assert reply.findtext(".//tp:status", namespaces=NS) == "pending"
        tx = reply.findtext(".//tp:transaction-id", namespaces=NS)
        assert tx
        state = enrollment(m)
        assert state.findtext("tp:status", namespaces=NS) == "pending"
        assert state.findtext("tp:transaction-id", namespaces=NS) == tx
        assert state.findtext("tp:attempts-left", namespaces=NS) == "25"
        assert state.findtext("tp:next-poll", namespaces=NS)
        with pytest.raises(RPCError) as refused:
            rpc(m, "enroll", "<trustpoint>myca</trustpoint>")
        assert (refused.value.tag, refused.value._app_tag) == ("in-use", "enrollment-in-progress")
    # restart: the pending enrollment is restored from the state directory
    with _session(state_dir) as m:
        assert enrollment(m).findtext("tp:transaction-id", namespaces=NS) == tx
        reply = rpc(m, "cancel-enrollment", "<trustpoint>myca</trustpoint>")
        assert reply.findtext(".//tp:transaction-id", namespaces=NS) == tx
        assert enrollment(m).findtext("tp:status", namespaces=NS) == "idle"
        assert enrollment(m).find("tp:transaction-id", NS) is None
        with pytest.raises(RPCError) as none:
            rpc(m, "cancel-enrollment", "<trustpoint>myca</trustpoint>")
        assert (none.value.tag, none.value._app_tag) == (
            "operation-failed",
            "no-enrollment-pending",
        )
