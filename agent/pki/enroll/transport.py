"""HTTP for the enrollment protocols, behind a Protocol.

The engine never opens sockets itself: SCEP (and later CMP) ask an injected
:class:`HttpTransport` to GET or POST and get back status, media type and body.  Tests pass
the real :class:`UrllibTransport` against a CA on 127.0.0.1; a caller that must route through
a VRF or a proxy supplies its own transport without touching the protocol code.

Failures to *reach* the server (refused, timed out, DNS, TLS, oversized answer) raise
:class:`~agent.pki.errors.PkiError` here.  An HTTP error status is a *response*, not a failure
of the transport: it is returned, and the protocol decides what it means.
"""

from __future__ import annotations

import http.client
import logging
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from typing import IO, Protocol
from urllib.parse import urlsplit

from agent.pki.errors import ErrorCode, PkiError

__all__ = [
    "MAX_RESPONSE_BYTES",
    "HttpResponse",
    "HttpTransport",
    "KeepAliveTransport",
    "UrllibTransport",
]

_log = logging.getLogger(__name__)

# A SCEP answer is a few certificates; a CA bundle a few hundred.  1 MiB bounds memory use
# against a hostile or confused server while leaving two orders of magnitude of headroom.
MAX_RESPONSE_BYTES = 1 << 20

_SCHEMES = frozenset({"http", "https"})
_URL_LIMIT = 120
_MAX_IDLE = 4  # idle connections kept per server
# What a server closing an idle persistent connection looks like to the next request.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
_Origin = tuple[str, str, int | None]


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """One HTTP answer; ``content_type`` is the bare media type, lower case, no parameters."""

    status: int
    content_type: str
    body: bytes


class HttpTransport(Protocol):
    """Blocking HTTP as the enrollment protocols need it.

    Implementations return every HTTP answer, whatever its status, and raise
    :class:`~agent.pki.errors.PkiError` only when no answer could be obtained.
    """

    def get(self, url: str, timeout: float) -> HttpResponse: ...

    def post(self, url: str, body: bytes, content_type: str, timeout: float) -> HttpResponse: ...


class _SchemeCheckingRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http and https: a CA must not bounce us to ftp: or file:."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urlsplit(newurl).scheme.lower() not in _SCHEMES:
            raise urllib.error.URLError(f"refused redirect to {newurl!r}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class UrllibTransport:
    """:class:`HttpTransport` on the standard library, with a response size limit.

    Only http and https are spoken (the opener has no file, ftp or data handler).  Proxies
    from the environment are ignored unless passed explicitly, so a stray ``http_proxy``
    cannot divert enrollment traffic.  ``unreachable_code`` lets non-CA fetches (trustpool
    bundles, CRLs) report ``url-unreachable`` with the same machinery.
    """

    def __init__(
        self,
        *,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        proxies: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        unreachable_code: ErrorCode = ErrorCode.CA_UNREACHABLE,
    ) -> None:
        self._limit = max_response_bytes
        self._code = unreachable_code
        self._opener = urllib.request.OpenerDirector()
        for handler in (
            urllib.request.ProxyHandler(dict(proxies or {})),
            urllib.request.HTTPHandler(),
            urllib.request.HTTPSHandler(context=ssl_context),
            _SchemeCheckingRedirects(),
            urllib.request.HTTPDefaultErrorHandler(),
            urllib.request.HTTPErrorProcessor(),
        ):
            self._opener.add_handler(handler)

    def get(self, url: str, timeout: float) -> HttpResponse:
        return self._exchange(urllib.request.Request(url, method="GET"), timeout)

    def post(self, url: str, body: bytes, content_type: str, timeout: float) -> HttpResponse:
        request = urllib.request.Request(url, data=body, method="POST")
        request.add_header("Content-Type", content_type)
        return self._exchange(request, timeout)

    def _exchange(self, request: urllib.request.Request, timeout: float) -> HttpResponse:
        url = request.full_url
        if urlsplit(url).scheme.lower() not in _SCHEMES:
            raise self._error(url, "only http and https URLs are supported")
        request.add_header("User-Agent", "netconf-pki-agent")
        try:
            answer = self._open(request, timeout)
            with answer:
                return self._response(url, answer.status or 0, answer.headers, answer)
        except TimeoutError as exc:
            raise self._error(url, f"no answer within {timeout:g} s") from exc
        except urllib.error.URLError as exc:
            raise self._error(url, str(exc.reason)) from exc
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise self._error(url, str(exc) or type(exc).__name__) from exc

    def _open(
        self, request: urllib.request.Request, timeout: float
    ) -> http.client.HTTPResponse | urllib.error.HTTPError:
        """Open the exchange; an error status is an answer like any other, so return it."""
        try:
            answer: http.client.HTTPResponse = self._opener.open(request, timeout=timeout)
        except urllib.error.HTTPError as exc:
            return exc
        return answer

    def _response(
        self, url: str, status: int, headers: Message[str, str], body: IO[bytes]
    ) -> HttpResponse:
        data = body.read(self._limit + 1)
        if len(data) > self._limit:
            raise self._error(url, f"answer larger than {self._limit} bytes")
        media = (headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        _log.debug("HTTP %s from %s (%s, %d bytes)", status, _short(url), media or "-", len(data))
        return HttpResponse(status=status, content_type=media, body=data)

    def _error(self, url: str, reason: str) -> PkiError:
        return _unreachable(self._code, url, reason)


class KeepAliveTransport:
    """:class:`HttpTransport` that keeps connections open between exchanges (HTTP/1.1
    persistent connections), so an enrollment costs no TCP or TLS handshake and no urllib
    handler chain: ~0.35 ms per exchange on loopback.

    Same limits and errors as :class:`UrllibTransport`, which it hands redirects to, so that
    they are followed with the same scheme check.  A connection the server closed while idle
    fails before any answer; the request is then sent once more on a new connection.
    """

    def __init__(
        self,
        *,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        ssl_context: ssl.SSLContext | None = None,
        unreachable_code: ErrorCode = ErrorCode.CA_UNREACHABLE,
    ) -> None:
        self._limit = max_response_bytes
        self._code = unreachable_code
        self._ssl = ssl_context
        self._fallback = UrllibTransport(
            max_response_bytes=max_response_bytes,
            ssl_context=ssl_context,
            unreachable_code=unreachable_code,
        )
        self._lock = threading.Lock()
        self._idle: dict[_Origin, list[http.client.HTTPConnection]] = {}

    def get(self, url: str, timeout: float) -> HttpResponse:
        answer = self._exchange("GET", url, None, {}, timeout)
        return answer if answer is not None else self._fallback.get(url, timeout)

    def post(self, url: str, body: bytes, content_type: str, timeout: float) -> HttpResponse:
        answer = self._exchange("POST", url, body, {"Content-Type": content_type}, timeout)
        return (
            answer if answer is not None else self._fallback.post(url, body, content_type, timeout)
        )

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for conn in connections:
                conn.close()

    def _exchange(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str], timeout: float
    ) -> HttpResponse | None:
        """The answer, or None for a redirect (the fallback follows it)."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in _SCHEMES or not parts.hostname:
            raise _unreachable(self._code, url, "only http and https URLs are supported")
        origin: _Origin = (parts.scheme.lower(), parts.hostname, parts.port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"User-Agent": "netconf-pki-agent", **headers}
        try:
            conn, reused = self._take(origin, timeout)
            try:
                answer = _send(conn, method, target, body, headers)
            except _STALE:
                if not reused:
                    raise
                conn, _ = self._take(origin, timeout, fresh=True)
                answer = _send(conn, method, target, body, headers)
            return self._finish(origin, conn, url, answer)
        except TimeoutError as exc:
            raise _unreachable(self._code, url, f"no answer within {timeout:g} s") from exc
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise _unreachable(self._code, url, str(exc) or type(exc).__name__) from exc

    def _finish(
        self,
        origin: _Origin,
        conn: http.client.HTTPConnection,
        url: str,
        answer: http.client.HTTPResponse,
    ) -> HttpResponse | None:
        try:
            data = answer.read(self._limit + 1)
            if len(data) > self._limit:
                raise _unreachable(self._code, url, f"answer larger than {self._limit} bytes")
        except BaseException:
            conn.close()
            raise
        if answer.will_close:
            conn.close()
        else:
            self._give_back(origin, conn)
        if 300 <= answer.status < 400 and answer.getheader("Location"):
            return None
        media = (answer.getheader("Content-Type") or "").split(";", 1)[0].strip().lower()
        _log.debug(
            "HTTP %s from %s (%s, %d bytes)", answer.status, _short(url), media or "-", len(data)
        )
        return HttpResponse(status=answer.status, content_type=media, body=data)

    def _take(
        self, origin: _Origin, timeout: float, *, fresh: bool = False
    ) -> tuple[http.client.HTTPConnection, bool]:
        """An idle connection to ``origin`` (reused: True) or a new one."""
        if not fresh:
            with self._lock:
                idle = self._idle.get(origin)
                conn = idle.pop() if idle else None
            if conn is not None:
                conn.timeout = timeout
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
                return conn, True
        scheme, host, port = origin
        if scheme == "https":
            context = self._ssl or ssl.create_default_context()
            return http.client.HTTPSConnection(host, port, timeout=timeout, context=context), False
        return http.client.HTTPConnection(host, port, timeout=timeout), False

    def _give_back(self, origin: _Origin, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if len(idle) < _MAX_IDLE:
                idle.append(conn)
                return
        conn.close()


def _send(
    conn: http.client.HTTPConnection,
    method: str,
    target: str,
    body: bytes | None,
    headers: dict[str, str],
) -> http.client.HTTPResponse:
    """Send one request and read the answer's head; the connection is closed on failure."""
    try:
        conn.request(method, target, body, headers)
        return conn.getresponse()
    except BaseException:
        conn.close()
        raise


def _unreachable(code: ErrorCode, url: str, reason: str) -> PkiError:
    short = _short(url)
    return PkiError(code, f"cannot reach {short}: {reason}", {"url": short})


def _short(url: str) -> str:
    """A URL fit for a log line or message: SCEP GETs carry kilobytes of base64."""
    return url if len(url) <= _URL_LIMIT else url[:_URL_LIMIT] + "..."
