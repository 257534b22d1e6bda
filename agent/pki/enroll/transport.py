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
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from typing import IO, Protocol
from urllib.parse import urlsplit

from agent.pki.errors import ErrorCode, PkiError

__all__ = ["MAX_RESPONSE_BYTES", "HttpResponse", "HttpTransport", "UrllibTransport"]

_log = logging.getLogger(__name__)

# A SCEP answer is a few certificates; a CA bundle a few hundred.  1 MiB bounds memory use
# against a hostile or confused server while leaving two orders of magnitude of headroom.
MAX_RESPONSE_BYTES = 1 << 20

_SCHEMES = frozenset({"http", "https"})
_URL_LIMIT = 120


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
        short = _short(url)
        return PkiError(self._code, f"cannot reach {short}: {reason}", {"url": short})


def _short(url: str) -> str:
    """A URL fit for a log line or message: SCEP GETs carry kilobytes of base64."""
    return url if len(url) <= _URL_LIMIT else url[:_URL_LIMIT] + "..."
