"""Capture the SCEP vectors in this directory from a real micromdm scepserver.

Run from the repository root (needs the Debian package ``scep``):

    PYTHONPATH=. .venv/bin/python tests/vectors/pki/scep/capture.py

It starts scepserver in a temporary depot, sends two PKCSReq messages built by
``agent.pki.enroll.scep`` (one with the right challenge password, one with a wrong one) and
writes each request and the CA's raw CertRep, with the keys and facts needed to replay them.
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AttributeOID, NameOID

from agent.pki.enroll.scep import (
    PKI_MESSAGE_TYPE,
    SystemRandomness,
    build_pkcs_req,
    make_signer_certificate,
    negotiate,
    parse_ca_caps,
    parse_ca_certs,
)
from agent.pki.enroll.transport import UrllibTransport
from tests.unit.pki.scep_server import CHALLENGE, ScepServer, start_scep_server

HERE = Path(__file__).resolve().parent
SUBJECT = x509.Name(
    [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "netconf-pki-agent"),
        x509.NameAttribute(NameOID.COMMON_NAME, "router1.example.net"),
    ]
)


def _csr(key: rsa.RSAPrivateKey, challenge: str) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(SUBJECT)
    builder = builder.add_attribute(AttributeOID.CHALLENGE_PASSWORD, challenge.encode())
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def capture(server: ScepServer, out: Path) -> None:
    transport = UrllibTransport()
    caps = parse_ca_caps(transport.get(f"{server.url}?operation=GetCACaps", 10).body)
    ca_certs = parse_ca_certs(transport.get(f"{server.url}?operation=GetCACert", 10).body)
    algorithms = negotiate(caps)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signer = make_signer_certificate(key, SUBJECT, datetime.now(UTC), serial=0x5CE9)
    facts: dict[str, object] = {"caps": sorted(caps), "subject": SUBJECT.rfc4514_string()}
    for name, challenge in (("success", CHALLENGE), ("failure", "wrong-challenge")):
        request = build_pkcs_req(
            _csr(key, challenge), key, signer, ca_certs, algorithms, SystemRandomness()
        )
        url = f"{server.url}?operation=PKIOperation"
        reply = transport.post(url, request.der, PKI_MESSAGE_TYPE, 10)
        assert reply.status == 200, reply
        (out / f"{name}-request.der").write_bytes(request.der)
        (out / f"{name}-reply.der").write_bytes(reply.body)
        facts[name] = {
            "transaction_id": request.transaction_id,
            "sender_nonce": request.sender_nonce.hex(),
            "digest": algorithms.digest,
            "cipher": algorithms.cipher.value,
            "post": algorithms.post,
        }
    (out / "ca.pem").write_bytes(server.ca_pem.read_bytes())
    (out / "signer.pem").write_bytes(signer.public_bytes(serialization.Encoding.PEM))
    (out / "requester-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (out / "exchanges.json").write_text(json.dumps(facts, indent=2) + "\n")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = start_scep_server(Path(tmp))
        try:
            capture(server, HERE)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
