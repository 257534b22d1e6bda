"""RFC 6242 message framing, sans I/O: bytes in, whole NETCONF messages out.

Shaped like h11's Connection: the caller owns the socket, feeds what it read to
``receive_data`` and drains ``next_event`` until NEED_DATA; ``send`` returns bytes to
write. Keeping I/O out makes every framing rule testable byte by byte. Why the details:
- Both framings (RFC 6242 §4.3 end-of-message, §4.2 chunked) skip whitespace before a
  message: clients send "\\n" after ``]]>]]>`` and scrapli adds one after ``\\n##\\n``.
  Inside a chunked message the grammar is enforced strictly.
- A FramingError means the byte stream can no longer be trusted, so no rpc-error is
  possible: the session must be closed. The error is sticky.
- ``max_message_size`` caps what one message may buffer; a chunk header announcing too
  much fails before its data arrives. The caller must drain ``next_event`` after each
  ``receive_data`` so that the cap can act.
- ``send`` keeps small messages in one chunk and splits large ones on UTF-8 character
  boundaries, because ncclient decodes each chunk on its own (ncclient/ncclient#447).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import Enum, StrEnum
from typing import Final, TypeAlias

__all__ = ["CLOSED", "NEED_DATA", "Event", "Framer", "FramingError", "FramingMode"]


class _Sentinel(Enum):  # single-member enums: singletons that mypy narrows with ``is``
    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__


class _NeedData(_Sentinel):
    NEED_DATA = 0


class _Closed(_Sentinel):
    CLOSED = 0


NEED_DATA: Final = _NeedData.NEED_DATA  # no complete message yet: receive more data
CLOSED: Final = _Closed.CLOSED  # the peer sent EOF and no complete message remains
Event: TypeAlias = bytes | _NeedData | _Closed  # a whole message (the XML document) or sentinel
_Step: TypeAlias = bytes | _NeedData | None  # None: the state advanced, read on


class FramingMode(StrEnum):
    EOM = "1.0"
    CHUNKED = "1.1"


class FramingError(Exception):
    """The peer broke RFC 6242 framing or a limit; the session must be closed."""


_EOM: Final = b"]]>]]>"
_LF: Final = 0x0A
_HASH: Final = 0x23
_MAX_CHUNK_SIZE: Final = 4294967295  # RFC 6242 §4.2
_WHITESPACE: Final = re.compile(rb"[ \t\r\n]*")
_SIZE_DIGITS: Final = re.compile(rb"[1-9][0-9]{0,9}")  # at most 10 digits, no leading 0
_HEADER_RULE: Final = "chunk-size must be 1 to 10 decimal digits without a leading zero, then LF"


class Framer:
    """One session's framing state: EOM until ``switch_to_chunked``."""

    def __init__(
        self, *, max_message_size: int = 64 * 1024 * 1024, chunk_size: int = 65536
    ) -> None:
        if max_message_size < 1:
            raise ValueError("max_message_size must be positive")
        if not 1 <= chunk_size <= _MAX_CHUNK_SIZE:
            raise ValueError(f"chunk_size must be in 1..{_MAX_CHUNK_SIZE}")
        self._max = max_message_size
        self._chunk_size = chunk_size
        self._mode = FramingMode.EOM
        # The state is the reader for what comes next (h11's per-state readers); each
        # returns a message, NEED_DATA, or None after moving to another state.
        self._reader: Callable[[], _Step] = self._read_eom
        self._buf = bytearray()
        self._eof = False
        self._error: FramingError | None = None
        self._scan = 0  # EOM: the delimiter does not start before this offset
        self._lf_seen = False  # CHUNK_START: the whitespace skipped so far ended in LF
        self._message = bytearray()  # chunked: data of the chunks read so far
        self._remaining = 0  # CHUNK_DATA: bytes of the current chunk still to read

    @property
    def mode(self) -> FramingMode:
        return self._mode

    def switch_to_chunked(self) -> None:
        """Parse everything not yet returned by ``next_event`` as chunked; send chunked.

        Call it right after ``next_event`` returned the peer's hello, once both hellos
        listed base:1.1 (RFC 6242 §4.1). Bytes buffered after the hello's ``]]>]]>`` are
        then read as chunks. Calling it again is a no-op.
        """
        if self._mode is FramingMode.CHUNKED:
            return
        self._mode = FramingMode.CHUNKED
        self._reader = self._read_chunk_start
        self._scan = 0  # whitespace skipped since the hello still counts (_lf_seen)

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes read from the peer; ``b""`` means EOF (and may be repeated).

        Data after EOF is a caller bug: RuntimeError.
        """
        if not data:
            self._eof = True
        elif self._eof:
            raise RuntimeError("receive_data() called with data after EOF")
        else:
            self._buf += data

    def next_event(self) -> Event:
        """Return the next complete message, NEED_DATA or CLOSED.

        Raises FramingError on a framing violation, an oversize message, or EOF inside a
        message; once raised, every later call raises it again.
        """
        if self._error is not None:
            raise self._error
        try:
            return self._next_event()
        except FramingError as exc:
            self._error = exc
            raise

    def send(self, message: bytes) -> bytes:
        """Return ``message`` framed for the current mode.

        Raises ValueError if the message cannot be framed: empty in chunked mode, or
        one that would contain ``]]>]]>`` in end-of-message mode.
        """
        if self._mode is FramingMode.EOM:
            framed = message + _EOM
            if framed.find(_EOM) != len(message):  # also a message ending in "]]>"
                raise ValueError("message would contain the ]]>]]> delimiter")
            return framed
        if not message:
            raise ValueError("chunked framing cannot send an empty message")
        parts: list[bytes | memoryview] = []
        view, start = memoryview(message), 0
        while start < len(message):
            end = _chunk_end(message, start, self._chunk_size)
            parts += [b"\n#%d\n" % (end - start), view[start:end]]
            start = end
        return b"".join([*parts, b"\n##\n"])

    def _next_event(self) -> Event:
        while True:
            step = self._reader()
            if step is None:
                continue
            if step is not NEED_DATA or not self._eof:
                return step
            if self._buf or self._reader not in (self._read_eom, self._read_chunk_start):
                raise FramingError("connection closed in the middle of a message")
            return CLOSED

    def _skip_whitespace(self) -> None:
        """Drop whitespace at the head of the buffer (only used between messages)."""
        match = _WHITESPACE.match(self._buf)
        if match and match.end():
            self._lf_seen = self._buf[match.end() - 1] == _LF
            del self._buf[: match.end()]

    def _too_big(self) -> FramingError:
        return FramingError(f"message exceeds {self._max} bytes")

    def _read_eom(self) -> _Step:
        """RFC 6242 §4.3: leading whitespace, then the message up to ``]]>]]>``."""
        if self._scan == 0:
            self._skip_whitespace()
        buf = self._buf
        end = buf.find(_EOM, self._scan)
        if end < 0:
            # A delimiter may straddle reads: rescan only its possible first bytes.
            self._scan = max(0, len(buf) - (len(_EOM) - 1))
            if self._scan > self._max:
                raise self._too_big()
            return NEED_DATA
        if end > self._max:
            raise self._too_big()
        message = bytes(buf[:end])
        del buf[: end + len(_EOM)]
        self._scan = 0
        self._lf_seen = False
        return message

    def _read_chunk_start(self) -> _Step:
        """Between chunked messages: any whitespace, ending in the LF of LF HASH."""
        self._skip_whitespace()
        if not self._buf:
            return NEED_DATA
        if self._buf[0] != _HASH or not self._lf_seen:
            raise FramingError("expected a chunk header (LF '#') at the start of a message")
        del self._buf[:1]
        self._lf_seen = False
        self._reader = self._read_chunk_header
        return None

    def _read_chunk_header(self) -> _Step:
        """After LF HASH: chunk-size LF, or HASH LF (end-of-chunks)."""
        buf = self._buf
        if buf[:1] == b"#":
            return self._read_end_of_chunks()
        match = _SIZE_DIGITS.match(buf)
        digits = match.end() if match else 0
        if digits == len(buf):
            return NEED_DATA
        if digits == 0 or buf[digits] != _LF:
            raise FramingError(f"bad chunk header {bytes(buf[: digits + 1])!r}: {_HEADER_RULE}")
        size = int(buf[:digits])
        if size > _MAX_CHUNK_SIZE:
            raise FramingError(f"chunk-size {size} exceeds {_MAX_CHUNK_SIZE} (RFC 6242 §4.2)")
        if len(self._message) + size > self._max:
            raise self._too_big()
        del buf[: digits + 1]
        self._remaining = size
        self._reader = self._read_chunk_data
        return None

    def _read_end_of_chunks(self) -> _Step:
        if len(self._buf) < 2:
            return NEED_DATA
        if self._buf[1] != _LF:
            raise FramingError("bad end-of-chunks: expected LF after '##'")
        if not self._message:
            raise FramingError("end-of-chunks before any chunk")
        del self._buf[:2]
        message = bytes(self._message)
        self._message = bytearray()
        self._reader = self._read_chunk_start
        return message

    def _read_chunk_data(self) -> _Step:
        if not self._buf:
            return NEED_DATA
        take = min(self._remaining, len(self._buf))
        self._message += self._buf[:take]
        del self._buf[:take]
        self._remaining -= take
        if self._remaining == 0:
            self._reader = self._read_chunk_next
        return None

    def _read_chunk_next(self) -> _Step:
        """After chunk data, strictly LF HASH: no whitespace inside a message."""
        head = bytes(self._buf[:2])
        if not b"\n#".startswith(head):
            raise FramingError(f"expected LF '#' after chunk data, got {head!r}")
        if len(head) < 2:
            return NEED_DATA
        del self._buf[:2]
        self._reader = self._read_chunk_header
        return None


def _chunk_end(message: bytes, start: int, chunk_size: int) -> int:
    """End of the chunk from ``start``: at most ``chunk_size`` bytes, on a UTF-8 boundary.

    Backs off over up to 3 continuation bytes (0b10xxxxxx); without a character start
    there (not UTF-8, or a tiny chunk_size) it splits at ``chunk_size``."""
    end = min(start + chunk_size, len(message))
    if end == len(message):
        return end
    for cut in range(end, max(start, end - 4), -1):
        if message[cut] & 0xC0 != 0x80:
            return cut
    return end
