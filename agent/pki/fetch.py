"""Fetching a CA bundle or a CRL by URL: http and https through the shared transport, or file.

Why a function and not the SCEP :class:`~agent.pki.enroll.transport.HttpTransport`: a bundle
or CRL fetch only wants bytes or a reason it could not get them, and an HTTP error status is
such a reason here (for SCEP it is an answer).  Every failure becomes ``url-unreachable`` with
a message that names the URL and says what to fix; no other scheme (ftp, ldap, data) is
spoken, so a configured URL cannot make the agent reach for something unexpected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from agent.pki.enroll.transport import UrllibTransport
from agent.pki.errors import ErrorCode, PkiError

__all__ = [
    "DEFAULT_FETCH_LIMIT",
    "DEFAULT_FETCH_TIMEOUT",
    "Fetcher",
    "UrlFetcher",
    "fetch_url",
]

# A large CA bundle or CRL is a few MiB at most.
DEFAULT_FETCH_LIMIT = 8 << 20
DEFAULT_FETCH_TIMEOUT = 20.0


def fetch_url(url: str, *, timeout: float, limit: int) -> bytes:
    """The body at ``url`` (http, https or file); raises PkiError url-unreachable."""
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        return _fetch_http(url, timeout, limit)
    if scheme == "file":
        return _fetch_file(url, limit)
    raise _unreachable(
        url, f"scheme {scheme or '(none)'!r} is not supported; use http, https or file"
    )


def _fetch_http(url: str, timeout: float, limit: int) -> bytes:
    transport = UrllibTransport(
        max_response_bytes=limit, unreachable_code=ErrorCode.URL_UNREACHABLE
    )
    answer = transport.get(url, timeout)
    if answer.status != 200:
        raise _unreachable(url, f"the server answered HTTP {answer.status}")
    return answer.body


def _fetch_file(url: str, limit: int) -> bytes:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise _unreachable(url, "file URLs must name a local path (file:///path)")
    path = Path(unquote(parts.path))
    try:
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError as exc:
        raise _unreachable(url, f"no such file {path}") from exc
    except OSError as exc:
        raise _unreachable(url, exc.strerror or type(exc).__name__) from exc
    if len(data) > limit:
        raise _unreachable(url, f"the file is larger than {limit} bytes")
    return data


def _unreachable(url: str, reason: str) -> PkiError:
    return PkiError(ErrorCode.URL_UNREACHABLE, f"cannot fetch {url}: {reason}", {"url": url})


class Fetcher(Protocol):
    """What revocation checking needs from the network: GET bytes (CRL) and POST (OCSP).

    Both raise PkiError url-unreachable when no usable answer (HTTP 200) was obtained.
    """

    def get(self, url: str) -> bytes: ...

    def post(self, url: str, body: bytes, content_type: str) -> bytes: ...


class UrlFetcher:
    """:class:`Fetcher` over :func:`fetch_url` (GET) and the shared urllib transport (POST)."""

    def __init__(
        self, *, timeout: float = DEFAULT_FETCH_TIMEOUT, limit: int = DEFAULT_FETCH_LIMIT
    ) -> None:
        self._timeout = timeout
        self._limit = limit

    def get(self, url: str) -> bytes:
        return fetch_url(url, timeout=self._timeout, limit=self._limit)

    def post(self, url: str, body: bytes, content_type: str) -> bytes:
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            raise _unreachable(url, "only http and https URLs can be posted to")
        transport = UrllibTransport(
            max_response_bytes=self._limit, unreachable_code=ErrorCode.URL_UNREACHABLE
        )
        answer = transport.post(url, body, content_type, self._timeout)
        if answer.status != 200:
            raise _unreachable(url, f"the server answered HTTP {answer.status}")
        return answer.body
