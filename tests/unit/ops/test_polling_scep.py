"""PENDING and polling against a SCEP responder that answers PENDING until approved
(tests/unit/ops/pending_scep_server.py: a minimal responder written for this test, since
micromdm never answers PENDING).  Time is a FakeClock: the Poller is driven by run_due, no
test sleeps; only the real HTTP exchanges with the local responder take real time."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from agent.clock import FakeClock
from agent.datastore.events import EventStream
from agent.ops.polling import IssuedCertificate, Poller
from agent.pki import Certificate, load_certificate
from agent.pki.enroll.online import scep_enroll, scep_poll
from agent.pki.enroll.scep import MessageType
from agent.pki.pending import (
    EnrollmentStatus,
    PendingEnrollment,
    PendingStore,
    start_pending,
)
from tests.unit.ops.pending_scep_server import PendingCa, pending_scep_server
from tests.unit.ops.published import published
from tests.unit.pki.helpers import NOW

CERT_POLL = MessageType.CERT_POLL.value


@pytest.fixture
def ca() -> Iterator[PendingCa]:
    with pending_scep_server() as server:
        yield server


class Device:
    """The device side: one RSA key, its request, the certificates installed by polls."""

    def __init__(self, ca: PendingCa, clock: FakeClock) -> None:
        self.ca_url = ca.url
        self.ca_cert = load_certificate(ca.cert.public_bytes(serialization.Encoding.DER))
        self.clock = clock
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "myrouter.mydomain.com")])
        csr = x509.CertificateSigningRequestBuilder().subject_name(subject)
        self.csr_pem = csr.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
        self.installed: list[Certificate] = []

    def enroll(self) -> str:
        outcome = scep_enroll(self.ca_url, self.clock, self.ca_cert, (), self.key, self.csr_pem)
        assert outcome.certificate is None, "the responder answers PENDING first"
        return outcome.transaction_id

    def poll(self, record: PendingEnrollment) -> list[IssuedCertificate] | None:
        outcome = scep_poll(
            self.ca_url, self.clock, self.ca_cert, (), self.key, self.csr_pem,
            record.transaction_id,
        )  # fmt: skip
        if outcome.certificate is None:
            return None
        self.installed.append(outcome.certificate)
        cert = outcome.certificate
        return [IssuedCertificate("general", cert.sha256_fingerprint, cert.not_after)]


def _setup(tmp_path: Path, ca: PendingCa, count: int, period: int) -> tuple[Device, Poller]:
    clock = FakeClock(NOW)
    device = Device(ca, clock)
    poller = Poller(
        PendingStore(tmp_path / "pending"),
        EventStream(tmp_path / "events.log", clock=clock),
        device.poll,
        clock,
    )
    tx = device.enroll()
    poller.add(start_pending("myca", tx, "mykey", ("general",), clock.now(), count, period))
    return device, poller


def _minutes(device: Device, poller: Poller, minutes: int) -> None:
    device.clock.advance(minutes * 60)
    asyncio.run(poller.run_due(device.clock.now()))


def test_polls_each_period_and_installs_after_approval(tmp_path: Path, ca: PendingCa) -> None:
    device, poller = _setup(tmp_path, ca, count=25, period=2)
    _minutes(device, poller, 1)
    assert ca.requests.count(CERT_POLL) == 0  # not yet a retry period
    _minutes(device, poller, 1)
    assert ca.requests.count(CERT_POLL) == 1
    record = poller.get("myca")
    assert record is not None and record.attempts_left == 24
    assert record.next_poll == NOW + timedelta(minutes=4)
    ca.approved = True
    _minutes(device, poller, 1)
    assert device.installed == []  # approval is seen at the next poll, not before
    _minutes(device, poller, 1)
    assert ca.requests.count(CERT_POLL) == 2
    [cert] = device.installed
    issued = x509.load_der_x509_certificate(cert.der)
    assert issued.public_key().public_numbers() == device.key.public_key().public_numbers()
    ca_key = ca.cert.public_key()
    assert isinstance(ca_key, rsa.RSAPublicKey)
    hash_algorithm = issued.signature_hash_algorithm
    assert hash_algorithm is not None
    ca_key.verify(
        issued.signature, issued.tbs_certificate_bytes, padding.PKCS1v15(), hash_algorithm
    )
    assert poller.get("myca") is None
    [(name, fields)] = published(tmp_path / "events.log")
    assert (name, fields["sha256-fingerprint"]) == ("enrollment-complete", cert.sha256_fingerprint)


def test_fails_after_the_retry_count(tmp_path: Path, ca: PendingCa) -> None:
    device, poller = _setup(tmp_path, ca, count=3, period=1)
    for _ in range(6):
        _minutes(device, poller, 1)
    assert ca.requests.count(CERT_POLL) == 3
    record = poller.get("myca")
    assert record is not None and record.status is EnrollmentStatus.FAILED
    assert record.last_error_app_tag == "enrollment-timeout"
    assert device.installed == []
    [(name, _)] = published(tmp_path / "events.log")
    assert name == "enrollment-failed"


def test_a_restarted_poller_resumes_the_transaction(tmp_path: Path, ca: PendingCa) -> None:
    device, _ = _setup(tmp_path, ca, count=5, period=1)
    ca.approved = True
    restarted = Poller(
        PendingStore(tmp_path / "pending"),
        EventStream(tmp_path / "events.log", clock=device.clock),
        device.poll,
        device.clock,
    )  # fmt: skip
    _minutes(device, restarted, 1)
    assert len(device.installed) == 1
    assert restarted.get("myca") is None
