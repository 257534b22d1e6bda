"""A small real PKI for trustpool, revocation and verification tests.

- :class:`Ca` issues CA and leaf certificates and CRLs with ``cryptography`` (EC P-256, fast),
  with dates around the real wall clock: the OCSP responder stamps its answers with it.
- :class:`HttpServer` is a threaded ``http.server`` on 127.0.0.1 (ephemeral port) serving
  bytes per path, for bundle and CRL URLs.
- :class:`OcspResponder` runs the real ``openssl ocsp`` responder for one CA from an
  ``index.txt``, on a port it chooses itself; readiness is polled with a deadline.
"""

from __future__ import annotations

import http.server
import select
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from agent.pki import Certificate, load_certificate
from tests.unit.pki.helpers import OPENSSL

NOW = datetime.now(UTC).replace(microsecond=0)
DAY = timedelta(days=1)
YEAR = 365 * DAY


def name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def info(cert: x509.Certificate) -> Certificate:
    """The engine's view of a test certificate."""
    return load_certificate(der(cert))


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=not ca,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass(frozen=True)
class Leaf:
    """What a leaf's certificate should carry."""

    cn: str
    dns: Sequence[str] = ()
    eku: Sequence[x509.ObjectIdentifier] = (ExtendedKeyUsageOID.SERVER_AUTH,)
    crl_urls: Sequence[str] = ()
    ocsp_url: str | None = None
    not_before: datetime = NOW - DAY
    not_after: datetime = NOW + YEAR


@dataclass
class Ca:
    """A CA: its key and certificate; ``issue_ca``/``issue`` make children."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    serial: int = 0x1000
    children: list[x509.Certificate] = field(default_factory=list)

    @classmethod
    def root(
        cls,
        cn: str,
        *,
        key: ec.EllipticCurvePrivateKey | None = None,
        not_before: datetime = NOW - 30 * DAY,
        not_after: datetime = NOW + 10 * YEAR,
        serial: int = 1,
    ) -> Ca:
        key = key or ec.generate_private_key(ec.SECP256R1())
        subject = name(cn)
        builder = _base(subject, subject, key.public_key(), serial, not_before, not_after)
        builder = _ca_extensions(builder, key.public_key(), key.public_key())
        return cls(builder.sign(key, hashes.SHA256()), key)

    @property
    def info(self) -> Certificate:
        return info(self.cert)

    def next_serial(self) -> int:
        self.serial += 1
        return self.serial

    def issue_ca(
        self, cn: str, *, not_after: datetime = NOW + 5 * YEAR, crl_urls: Sequence[str] = ()
    ) -> Ca:
        key = ec.generate_private_key(ec.SECP256R1())
        serial = self.next_serial()
        subject, issuer = name(cn), self.cert.subject
        builder = _base(subject, issuer, key.public_key(), serial, NOW - 20 * DAY, not_after)
        builder = _ca_extensions(builder, key.public_key(), self.key.public_key())
        if crl_urls:
            builder = builder.add_extension(_distribution_points(crl_urls), False)
        return Ca(builder.sign(self.key, hashes.SHA256()), key)

    def issue(
        self, leaf: Leaf, *, key: ec.EllipticCurvePrivateKey | None = None
    ) -> x509.Certificate:
        public = (key or ec.generate_private_key(ec.SECP256R1())).public_key()
        builder = _base(
            name(leaf.cn),
            self.cert.subject,
            public,
            self.next_serial(),
            leaf.not_before,
            leaf.not_after,
        )
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        builder = builder.add_extension(_usage(ca=False), True)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
        )
        if leaf.dns:
            sans = [x509.DNSName(d) for d in leaf.dns]
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), False)
        if leaf.eku:
            builder = builder.add_extension(x509.ExtendedKeyUsage(list(leaf.eku)), False)
        if leaf.crl_urls:
            builder = builder.add_extension(_distribution_points(leaf.crl_urls), False)
        if leaf.ocsp_url:
            access = x509.AccessDescription(
                x509.AuthorityInformationAccessOID.OCSP,
                x509.UniformResourceIdentifier(leaf.ocsp_url),
            )
            builder = builder.add_extension(x509.AuthorityInformationAccess([access]), False)
        cert = builder.sign(self.key, hashes.SHA256())
        self.children.append(cert)
        return cert

    def ocsp_signer(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """A delegated OCSP responder certificate (id-kp-OCSPSigning) and its key."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self.issue(Leaf("OCSP responder", eku=(ExtendedKeyUsageOID.OCSP_SIGNING,)), key=key)
        return cert, key

    def crl(
        self,
        revoked: Sequence[tuple[x509.Certificate, datetime, x509.ReasonFlags | None]] = (),
        *,
        last_update: datetime = NOW - DAY,
        next_update: datetime = NOW + 7 * DAY,
        signer: ec.EllipticCurvePrivateKey | None = None,
    ) -> bytes:
        """A DER CRL listing ``revoked`` (certificate, date, reason)."""
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.cert.subject)
            .last_update(last_update)
            .next_update(next_update)
        )
        for cert, when, reason in revoked:
            entry = x509.RevokedCertificateBuilder().serial_number(cert.serial_number)
            entry = entry.revocation_date(when)
            if reason is not None:
                entry = entry.add_extension(x509.CRLReason(reason), False)
            builder = builder.add_revoked_certificate(entry.build())
        crl = builder.sign(signer or self.key, hashes.SHA256())
        return crl.public_bytes(serialization.Encoding.DER)


def _distribution_points(urls: Sequence[str]) -> x509.CRLDistributionPoints:
    uris = [[x509.UniformResourceIdentifier(u)] for u in urls]
    return x509.CRLDistributionPoints([x509.DistributionPoint(u, None, None, None) for u in uris])


def _base(
    subject: x509.Name,
    issuer: x509.Name,
    public: ec.EllipticCurvePublicKey,
    serial: int,
    not_before: datetime,
    not_after: datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )


def _ca_extensions(
    builder: x509.CertificateBuilder,
    public: ec.EllipticCurvePublicKey,
    issuer_public: ec.EllipticCurvePublicKey,
) -> x509.CertificateBuilder:
    return (
        builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .add_extension(_usage(ca=True), True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public), False)
    )


# ---------------------------------------------------------------------------------------------
# HTTP


class HttpServer:
    """``routes`` path -> body; anything else is 404.  ``url(path)`` is the full URL."""

    def __init__(self) -> None:
        self.routes: dict[str, bytes] = {}
        self.hits: dict[str, int] = {}
        routes, hits = self.routes, self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits[self.path] = hits.get(self.path, 0) + 1
                body = routes.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def __enter__(self) -> HttpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def closed_port_url(path: str = "/x.crl") -> str:
    """An http URL on 127.0.0.1 where nothing listens (the port was just released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


# ---------------------------------------------------------------------------------------------
# OCSP


def _ocsp_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%y%m%d%H%M%SZ")


def index_line(cert: x509.Certificate, revoked: tuple[datetime, str] | None = None) -> str:
    """One ``openssl ca`` index.txt line: V(alid) or R(evoked) with date and reason."""
    serial = f"{cert.serial_number:X}"
    serial = serial if len(serial) % 2 == 0 else "0" + serial
    expiry = _ocsp_time(cert.not_valid_after_utc)
    subject = "/CN=" + cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    if revoked is None:
        return f"V\t{expiry}\t\t{serial}\tunknown\t{subject}\n"
    when, reason = revoked
    return f"R\t{expiry}\t{_ocsp_time(when)},{reason}\t{serial}\tunknown\t{subject}\n"


@contextmanager
def ocsp_responder(ca: Ca, index: str, workdir: Path) -> Iterator[str]:
    """Run ``openssl ocsp`` for ``ca`` with a delegated signer; yield its URL."""
    assert OPENSSL is not None, "the openssl CLI is not installed"
    signer, signer_key = ca.ocsp_signer()
    files = {
        "index.txt": index.encode(),
        "ca.pem": pem(ca.cert),
        "signer.pem": pem(signer),
        "signer.key": signer_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    }
    for file, data in files.items():
        (workdir / file).write_bytes(data)
    args = [OPENSSL, "ocsp", "-index", "index.txt", "-port", "0", "-CA", "ca.pem"]
    args += ["-rsigner", "signer.pem", "-rkey", "signer.key", "-nmin", "60", "-ignore_err"]
    proc = subprocess.Popen(args, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        port = _accept_port(proc, deadline=time.monotonic() + 15)
        url = f"http://127.0.0.1:{port}/"
        _wait_answering(url, ca.cert, deadline=time.monotonic() + 15)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()


def _accept_port(proc: subprocess.Popen[bytes], deadline: float) -> int:
    """The port from the responder's 'ACCEPT [::]:PORT PID=..' line."""
    assert proc.stdout is not None
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        ready, _, _ = select.select([proc.stdout], [], [], max(left, 0))
        if not ready or proc.poll() is not None:
            raise RuntimeError(f"openssl ocsp did not start: {line!r}")
        line += proc.stdout.read1(256)  # type: ignore[attr-defined]
    return int(line.split(b"ACCEPT ", 1)[1].split(b" ", 1)[0].rsplit(b":", 1)[1])


def _wait_answering(url: str, ca: x509.Certificate, deadline: float) -> None:
    """POST a real OCSP request until the responder answers (or the deadline passes).

    A bare TCP probe is not enough and even harmful: ``openssl ocsp`` serves one connection
    at a time and would wait on the silent probe.
    """
    request = ocsp.OCSPRequestBuilder().add_certificate(ca, ca, hashes.SHA1()).build()
    body = request.public_bytes(serialization.Encoding.DER)
    while True:
        try:
            post = urllib.request.Request(url, data=body, method="POST")
            post.add_header("Content-Type", "application/ocsp-request")
            with urllib.request.urlopen(post, timeout=2) as answer:
                answer.read()
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            select.select([], [], [], 0.02)
