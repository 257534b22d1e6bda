"""ScepCache: GetCACaps asked once per URL and time window, signer certificates reused, and
what a failure does to both.

The CA is the real micromdm ``scepserver``.  Between it and the client sits a small
forwarding HTTP proxy written for these tests: it counts the operations it passes on and can
answer PKIOperation with an HTTP error instead, the way a CA reconfigured to refuse POST
would.  It forwards bytes; it does not speak SCEP.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from asn1crypto import cms  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AttributeOID, NameOID

from agent.clock import FakeClock
from agent.pki.enroll.online import (
    CAPS_TTL,
    MAX_SIGNERS,
    SIGNER_TTL,
    ScepCache,
    scep_enroll,
    scep_fetch_ca,
)
from agent.pki.enroll.scep import ScepClient
from agent.pki.enroll.transport import UrllibTransport
from agent.pki.errors import ErrorCode, PkiError
from tests.unit.pki.helpers import NOW, serving
from tests.unit.pki.scep_server import CHALLENGE, ScepServer, start_scep_server


class _Proxy(ThreadingHTTPServer):
    lock = threading.Lock()
    upstream: str
    seen: Counter[str]
    signers: list[bytes]  # DER of the certificate carried by each PKIOperation
    fail_posts: int  # answer this many PKIOperation POSTs with HTTP 500

    def count(self, operation: str) -> None:
        with self.lock:
            self.seen[operation] += 1

    def take_failure(self) -> bool:
        with self.lock:
            if self.fail_posts <= 0:
                return False
            self.fail_posts -= 1
            return True


class _Forward(BaseHTTPRequestHandler):
    server: _Proxy

    def do_GET(self) -> None:
        self._forward(None)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.signers.append(_carried_certificate(body))
        if self.server.take_failure():
            self._send(500, "text/plain", b"PKIOperation temporarily refused")
            return
        self._forward(body)

    def _forward(self, body: bytes | None) -> None:
        query = urlsplit(self.path).query
        self.server.count(parse_qs(query).get("operation", ["?"])[0])
        request = urllib.request.Request(f"{self.server.upstream}?{query}", data=body)
        if body is not None:
            request.add_header("Content-Type", self.headers["Content-Type"])
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                self._send(answer.status, answer.headers["Content-Type"], answer.read())
        except urllib.error.HTTPError as exc:
            self._send(exc.code, exc.headers["Content-Type"] or "text/plain", exc.read())

    def _send(self, status: int, media: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _carried_certificate(der: bytes) -> bytes:
    signed = cms.ContentInfo.load(der)["content"]
    return bytes(signed["certificates"][0].chosen.dump())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScepServer]:
    running = start_scep_server(tmp_path_factory.mktemp("scep"))
    yield running
    running.stop()


@pytest.fixture
def proxy(server: ScepServer) -> Iterator[_Proxy]:
    httpd = _Proxy(("127.0.0.1", 0), _Forward)
    httpd.upstream, httpd.seen, httpd.signers, httpd.fail_posts = server.url, Counter(), [], 0
    with serving(httpd):
        yield httpd


def _url(proxy: _Proxy) -> str:
    return f"http://127.0.0.1:{proxy.server_address[1]}/scep"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _csr_pem(key: rsa.RSAPrivateKey, cn: str, challenge: str = CHALLENGE) -> bytes:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    builder = builder.add_attribute(AttributeOID.CHALLENGE_PASSWORD, challenge.encode())
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _enroll(
    proxy: _Proxy, clock: FakeClock, key: rsa.RSAPrivateKey, cache: ScepCache | None, cn: str
) -> x509.Certificate:
    ca, ra = scep_fetch_ca(_url(proxy), clock)
    outcome = scep_enroll(
        _url(proxy), clock, ca, ra, key, _csr_pem(key, cn), UrllibTransport(), cache
    )
    assert outcome.certificate is not None
    return x509.load_der_x509_certificate(outcome.certificate.der)


def test_caps_asked_once_per_window(proxy: _Proxy, key: rsa.RSAPrivateKey) -> None:
    clock = FakeClock(NOW)
    cache = ScepCache(clock)
    issued = [_enroll(proxy, clock, key, cache, f"cached-{i}") for i in range(3)]
    assert proxy.seen["GetCACaps"] == 1 and proxy.seen["PKIOperation"] == 3
    assert len({c.serial_number for c in issued}) == 3
    clock.advance(CAPS_TTL.total_seconds())
    _enroll(proxy, clock, key, cache, "after-window")
    assert proxy.seen["GetCACaps"] == 2


def test_without_a_cache_caps_are_asked_every_time(proxy: _Proxy, key: rsa.RSAPrivateKey) -> None:
    clock = FakeClock(NOW)
    for i in range(2):
        _enroll(proxy, clock, key, None, f"uncached-{i}")
    assert proxy.seen["GetCACaps"] == 2
    assert len(set(proxy.signers)) == 2  # a new signer certificate per request


def test_signer_certificate_reused_per_key_and_subject(
    proxy: _Proxy, key: rsa.RSAPrivateKey
) -> None:
    clock = FakeClock(NOW)
    cache = ScepCache(clock)
    _enroll(proxy, clock, key, cache, "same")
    _enroll(proxy, clock, key, cache, "same")
    _enroll(proxy, clock, key, cache, "other")
    first, second, other = proxy.signers
    assert first == second and other != first
    signer = x509.load_der_x509_certificate(first)
    assert signer.subject.rfc4514_string() == "CN=same"
    assert signer.not_valid_after_utc - NOW > SIGNER_TTL  # valid through every reuse
    clock.advance(SIGNER_TTL.total_seconds())
    _enroll(proxy, clock, key, cache, "same")
    assert proxy.signers[-1] != first


def test_http_error_with_cached_caps_is_retried_once_with_fresh_caps(
    proxy: _Proxy, key: rsa.RSAPrivateKey
) -> None:
    clock = FakeClock(NOW)
    cache = ScepCache(clock)
    _enroll(proxy, clock, key, cache, "warm")
    proxy.fail_posts = 1
    cert = _enroll(proxy, clock, key, cache, "retried")
    assert cert.subject.rfc4514_string() == "CN=retried"
    assert proxy.seen["GetCACaps"] == 2  # the retry asked afresh
    assert proxy.seen["PKIOperation"] == 2  # the refused POST never reached the CA


def test_http_error_with_fresh_caps_fails_and_forgets_them(
    proxy: _Proxy, key: rsa.RSAPrivateKey
) -> None:
    clock = FakeClock(NOW)
    cache = ScepCache(clock)
    proxy.fail_posts = 2
    with pytest.raises(PkiError) as caught:
        _enroll(proxy, clock, key, cache, "refused")
    assert caught.value.code is ErrorCode.CA_UNREACHABLE
    assert caught.value.data["http-status"] == 500
    assert proxy.seen["GetCACaps"] == 1  # fresh caps: no retry
    proxy.fail_posts = 1  # a warm cache would retry; this one was emptied by the failure
    with pytest.raises(PkiError):
        _enroll(proxy, clock, key, cache, "refused-again")
    assert proxy.seen["GetCACaps"] == 2
    _enroll(proxy, clock, key, cache, "recovered")  # asks again: the failure forgot them
    assert proxy.seen["GetCACaps"] == 3


def test_ca_refusal_forgets_caps_and_is_not_retried(proxy: _Proxy, key: rsa.RSAPrivateKey) -> None:
    clock = FakeClock(NOW)
    cache = ScepCache(clock)
    _enroll(proxy, clock, key, cache, "warm")
    ca, ra = scep_fetch_ca(_url(proxy), clock)
    csr = _csr_pem(key, "wrong", challenge="not-the-challenge")
    with pytest.raises(PkiError) as caught:
        scep_enroll(_url(proxy), clock, ca, ra, key, csr, UrllibTransport(), cache)
    assert caught.value.code is ErrorCode.CA_REJECTED
    assert caught.value.data["fail-info"] == "badRequest"
    assert proxy.seen["PKIOperation"] == 2  # badRequest is no capability problem
    _enroll(proxy, clock, key, cache, "after-refusal")
    assert proxy.seen["GetCACaps"] == 2


def test_signer_cache_is_bounded_and_concurrent(key: rsa.RSAPrivateKey) -> None:
    clock = FakeClock(NOW)
    cache = ScepCache(clock, signer_ttl=timedelta(hours=1))
    client = ScepClient("http://127.0.0.1:9/scep", UrllibTransport(), clock=clock)
    names = [x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"n{i}")]) for i in range(3)]
    first = cache.signer(client, key, names[0])
    results: list[list[x509.Certificate]] = []

    def work() -> None:
        results.append([cache.signer(client, key, n) for n in names])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    for got in results:
        assert got[0] == first
        assert [c.subject for c in got] == names
    for i in range(MAX_SIGNERS):  # push the first out
        clock.advance(1)
        cache.signer(client, key, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"x{i}")]))
    assert cache.signer(client, key, names[0]) != first
