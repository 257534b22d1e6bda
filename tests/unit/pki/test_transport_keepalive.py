"""KeepAliveTransport: persistent connections, their failure paths, and parity with
UrllibTransport (limits, redirects, errors).

The servers are real HTTP servers on 127.0.0.1: micromdm's ``scepserver`` for an enrollment,
and a small Python server written for these tests that reports which TCP connection carried
each request and can drop a connection after answering, as a server timing out an idle
connection does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AttributeOID, NameOID

from agent.clock import FakeClock
from agent.pki.enroll.online import ScepCache, scep_enroll, scep_fetch_ca
from agent.pki.enroll.transport import KeepAliveTransport, UrllibTransport
from agent.pki.errors import ErrorCode, PkiError
from tests.unit.pki.helpers import NOW, serving
from tests.unit.pki.scep_server import CHALLENGE, ScepServer, free_port, start_scep_server


class _Server(ThreadingHTTPServer):
    lock = threading.Lock()
    peers: list[int]  # the client port of each request: one per TCP connection
    drop_after: set[int]  # request numbers after which the connection is dropped


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # persistent connections unless told otherwise
    server: _Server

    def _answer(self, body_in: bytes) -> None:
        with self.server.lock:
            self.server.peers.append(self.client_address[1])
            number = len(self.server.peers)
        if self.path.startswith("/big"):
            self._send(200, b"x" * 5000)
        elif self.path.startswith("/redirect-file"):
            self._send(302, b"", {"Location": "file:///etc/passwd"})
        elif self.path.startswith("/redirect-ftp"):
            self._send(302, b"", {"Location": "ftp://127.0.0.1/ca.cer"})
        elif self.path.startswith("/redirect"):
            self._send(302, b"", {"Location": "/moved"})
        else:
            self._send(200, b"answer %d to %s %s" % (number, self.command.encode(), body_in))
        if number in self.server.drop_after:
            self.close_connection = True  # closed with no Connection: close said

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=ascii")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(b"")

    def do_POST(self) -> None:
        self._answer(self.rfile.read(int(self.headers["Content-Length"])))

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.peers, httpd.drop_after = [], set()
    with serving(httpd):
        yield httpd


@pytest.fixture
def transport() -> Iterator[KeepAliveTransport]:
    keep = KeepAliveTransport(max_response_bytes=4096)
    yield keep
    keep.close()


def _url(web: _Server, path: str = "/scep?operation=GetCACaps") -> str:
    return f"http://127.0.0.1:{web.server_address[1]}{path}"


def test_one_connection_carries_every_exchange(web: _Server, transport: KeepAliveTransport) -> None:
    first = transport.get(_url(web), 5)
    second = transport.post(_url(web), b"payload", "application/x-pki-message", 5)
    third = transport.get(_url(web), 5)
    assert (first.status, first.content_type) == (200, "text/plain")
    assert second.body == b"answer 2 to POST payload"
    assert third.body == b"answer 3 to GET "
    assert len(set(web.peers)) == 1


def test_connection_dropped_while_idle_is_replaced(
    web: _Server, transport: KeepAliveTransport
) -> None:
    web.drop_after = {1}
    transport.get(_url(web), 5)
    again = transport.post(_url(web), b"once", "application/x-pki-message", 5)
    assert again.body == b"answer 2 to POST once"  # sent once, on a new connection
    assert len(web.peers) == 2 and web.peers[0] != web.peers[1]


def test_redirects_are_followed_by_the_urllib_rules(
    web: _Server, transport: KeepAliveTransport
) -> None:
    moved = transport.get(_url(web, "/redirect"), 5)
    assert moved.status == 200 and b"answer" in moved.body
    # urllib answers a redirect to file: with the 302 itself, and ours refuses ftp:
    for plain in (transport, UrllibTransport()):
        assert plain.get(_url(web, "/redirect-file"), 5).status == 302
        with pytest.raises(PkiError) as caught:
            plain.get(_url(web, "/redirect-ftp"), 5)
        assert caught.value.code is ErrorCode.CA_UNREACHABLE
        assert "refused redirect to 'ftp://127.0.0.1/ca.cer'" in caught.value.message


def test_oversized_answer_is_refused_and_its_connection_dropped(
    web: _Server, transport: KeepAliveTransport
) -> None:
    with pytest.raises(PkiError) as caught:
        transport.get(_url(web, "/big"), 5)
    assert caught.value.code is ErrorCode.CA_UNREACHABLE
    assert "larger than 4096 bytes" in caught.value.message
    transport.get(_url(web), 5)
    assert len(set(web.peers)) == 2


def test_unreachable_and_unsupported_urls(transport: KeepAliveTransport) -> None:
    closed = f"http://127.0.0.1:{free_port()}/scep"
    for call in (lambda: transport.get(closed, 5), lambda: transport.post(closed, b"x", "a/b", 5)):
        with pytest.raises(PkiError) as caught:
            call()
        assert caught.value.code is ErrorCode.CA_UNREACHABLE
        assert "refused" in caught.value.message.lower()
        assert caught.value.data["url"] == closed
    for url in ("ftp://127.0.0.1/ca", "file:///etc/passwd", "http:///no-host"):
        with pytest.raises(PkiError) as caught:
            transport.get(url, 5)
        assert "only http and https" in caught.value.message


def test_concurrent_exchanges_share_a_bounded_pool(
    web: _Server, transport: KeepAliveTransport
) -> None:
    bodies: list[bytes] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(5):
                payload = f"{i}-{j}".encode()
                answer = transport.post(_url(web), payload, "application/x-pki-message", 5)
                assert answer.body.endswith(b" to POST " + payload)
                bodies.append(answer.body)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(bodies) == 40
    assert len(set(web.peers)) <= 8  # connections were reused, never one per request


@pytest.fixture(scope="module")
def scep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScepServer]:
    running = start_scep_server(tmp_path_factory.mktemp("scep"))
    yield running
    running.stop()


def test_enrollments_against_micromdm(scep: ScepServer, transport: KeepAliveTransport) -> None:
    clock = FakeClock(NOW)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca, ra = scep_fetch_ca(scep.url, clock, transport)
    cache = ScepCache(clock)
    serials = set()
    for cn in ("first", "second", "third"):
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(subject)
            .add_attribute(AttributeOID.CHALLENGE_PASSWORD, CHALLENGE.encode())
            .sign(key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM)
        )
        outcome = scep_enroll(scep.url, clock, ca, ra, key, csr, transport, cache)
        assert outcome.certificate is not None
        assert outcome.certificate.subject == f"CN={cn}"
        serials.add(outcome.certificate.serial_number)
    assert len(serials) == 3
