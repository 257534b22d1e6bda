"""RFC 6242 framer: vectors fed whole, byte by byte, split at every offset and with
trailing data (h11's tests/test_io.py), the hello-then-chunked switch, send(), and
hypothesis properties (any input gives messages or FramingError, never anything else).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.server.framing import CLOSED, NEED_DATA, Event, Framer, FramingError, FramingMode

EOM = FramingMode.EOM
CHUNKED = FramingMode.CHUNKED
DEFAULT_MAX = 64 * 1024 * 1024
HELLO = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities>'
    b"<capability>urn:ietf:params:netconf:base:1.1</capability>"
    b"</capabilities></hello>"
)
RPC = b'<rpc message-id="101" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get/></rpc>'


# --- helpers ---------------------------------------------------------------------------


def make_framer(mode: FramingMode, max_message_size: int = DEFAULT_MAX) -> Framer:
    framer = Framer(max_message_size=max_message_size)
    if mode is CHUNKED:
        framer.switch_to_chunked()
    return framer


def drain(framer: Framer) -> tuple[list[bytes], Event]:
    """next_event() until a sentinel; return the messages and that sentinel."""
    messages: list[bytes] = []
    while True:
        event = framer.next_event()
        if isinstance(event, bytes):
            messages.append(event)
            continue
        assert event is NEED_DATA or event is CLOSED
        return messages, event


def feed(
    framer: Framer, pieces: Iterable[bytes], *, eof: bool = False
) -> tuple[list[bytes], Event]:
    """Feed each (non-empty) piece and drain after each; then EOF if asked."""
    messages: list[bytes] = []
    last: Event = NEED_DATA
    for piece in [*pieces, *([b""] if eof else [])]:
        framer.receive_data(piece)
        got, last = drain(framer)
        messages += got
        assert last is (CLOSED if piece == b"" else NEED_DATA)
    return messages, last


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def two_part_splits(data: bytes) -> Iterator[list[bytes]]:
    for i in range(1, len(data)):
        yield [data[:i], data[i:]]


def chunked(*parts: bytes) -> bytes:
    """Frame ``parts`` as one chunked message, one chunk per part (RFC 6242 §4.2)."""
    return b"".join(b"\n#%d\n%s" % (len(p), p) for p in parts) + b"\n##\n"


def parse_chunks(wire: bytes) -> list[bytes]:
    """An independent, strict reader of one chunked message: its chunks' data."""
    chunks: list[bytes] = []
    pos = 0
    while wire[pos : pos + 3] != b"\n##":
        assert wire[pos : pos + 2] == b"\n#"
        lf = wire.index(b"\n", pos + 2)
        size = int(wire[pos + 2 : lf])
        chunks.append(wire[lf + 1 : lf + 1 + size])
        pos = lf + 1 + size
    assert wire[pos:] == b"\n##\n"
    return chunks


# --- valid vectors ---------------------------------------------------------------------


@dataclass(frozen=True)
class Valid:
    id: str
    mode: FramingMode
    wire: bytes
    messages: list[bytes]
    max_size: int = DEFAULT_MAX


VALID = [
    Valid("1.0-simple", EOM, b"<hello/>]]>]]>", [b"<hello/>"]),
    Valid("1.0-leading-whitespace", EOM, b" \t\r\n\n<hello/>]]>]]>", [b"<hello/>"]),
    Valid("1.0-two-with-lf", EOM, b"<a/>]]>]]>\n<b/>]]>]]>\n", [b"<a/>", b"<b/>"]),
    Valid("1.0-ws-between", EOM, b"<a/>]]>]]> \r\n\t<b/>]]>]]>", [b"<a/>", b"<b/>"]),
    Valid("1.0-back-to-back", EOM, b"<a/>]]>]]><b/>]]>]]>", [b"<a/>", b"<b/>"]),
    Valid("1.0-inner-ws-kept", EOM, b"<a>\n  <b/>\n</a>\n]]>]]>", [b"<a>\n  <b/>\n</a>\n"]),
    Valid("1.0-near-miss", EOM, b"<a>]]</a>]]]>]]>", [b"<a>]]</a>]"]),
    Valid("1.0-partial-delims", EOM, b"]]>]]]>]]>", [b"]]>]"]),
    Valid("1.0-utf8", EOM, "<a>é€😀</a>]]>]]>".encode(), ["<a>é€😀</a>".encode()]),
    Valid("1.0-empty-message", EOM, b"\n]]>]]>", [b""]),
    Valid("1.0-only-whitespace", EOM, b" \n\r\t", []),
    Valid("1.0-at-limit", EOM, b"abcd]]>]]>", [b"abcd"], max_size=4),
    Valid("1.1-simple", CHUNKED, b"\n#4\n<a/>\n##\n", [b"<a/>"]),
    Valid("1.1-two-chunks", CHUNKED, chunked(b"<a", b"/>"), [b"<a/>"]),
    Valid(
        "1.1-rfc6242-example",
        CHUNKED,
        b'\n#4\n<rpc\n#18\n message-id="102"\n\n#79\n'
        b'     xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">\n'
        b"  <close-session/>\n</rpc>\n##\n",
        [
            b'<rpc message-id="102"\n     xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">\n'
            b"  <close-session/>\n</rpc>"
        ],
    ),
    Valid("1.1-markers-in-data", CHUNKED, chunked(b"\n##\n]]>]]>\n#9\n"), [b"\n##\n]]>]]>\n#9\n"]),
    Valid("1.1-ten-chunks-1-byte", CHUNKED, chunked(*bytewise(b"0123456789")), [b"0123456789"]),
    Valid("1.1-size-12", CHUNKED, chunked(b"<a>12345</a>"), [b"<a>12345</a>"]),
    Valid("1.1-two-messages", CHUNKED, chunked(b"<a/>") + chunked(b"<b/>"), [b"<a/>", b"<b/>"]),
    Valid(
        "1.1-scrapli-extra-lf",
        CHUNKED,
        b"\n" + chunked(b"<a/>") + b"\n" + chunked(b"<b/>") + b"\n",
        [b"<a/>", b"<b/>"],
    ),
    Valid("1.1-ws-run-before", CHUNKED, b" \t\r\n \r\n" + chunked(b"<a/>"), [b"<a/>"]),
    Valid("1.1-utf8", CHUNKED, chunked("é€".encode(), "😀".encode()), ["é€😀".encode()]),
    Valid("1.1-only-whitespace", CHUNKED, b"\n \n\r\n", []),
    Valid("1.1-at-limit", CHUNKED, chunked(b"ab", b"cd"), [b"abcd"], max_size=4),
]
# The start of a next message that fits every vector's max_size, for the trailing-data case.
NEXT = {EOM: b"<b/>]]>]]>", CHUNKED: chunked(b"<b/>")}


@pytest.mark.parametrize("vector", VALID, ids=lambda v: v.id)
@pytest.mark.parametrize("how", ["whole", "bytewise"])
def test_valid_vector(vector: Valid, how: str) -> None:
    pieces = [vector.wire] if how == "whole" else bytewise(vector.wire)
    framer = make_framer(vector.mode, vector.max_size)
    assert feed(framer, pieces, eof=True) == (vector.messages, CLOSED)


@pytest.mark.parametrize("vector", VALID, ids=lambda v: v.id)
def test_valid_vector_split_at_every_offset(vector: Valid) -> None:
    for pieces in two_part_splits(vector.wire):
        framer = make_framer(vector.mode, vector.max_size)
        assert feed(framer, pieces, eof=True) == (vector.messages, CLOSED), pieces


@pytest.mark.parametrize("vector", VALID, ids=lambda v: v.id)
def test_valid_vector_with_trailing_data(vector: Valid) -> None:
    after = NEXT[vector.mode]
    for cut in range(1, len(after)):
        framer = make_framer(vector.mode, vector.max_size)
        assert feed(framer, [vector.wire + after[:cut]]) == (vector.messages, NEED_DATA)
        assert feed(framer, [after[cut:]], eof=True) == ([b"<b/>"], CLOSED)


# --- invalid vectors -------------------------------------------------------------------


@dataclass(frozen=True)
class Invalid:
    id: str
    mode: FramingMode
    wire: bytes
    match: str
    eof: bool = False
    max_size: int = DEFAULT_MAX


BAD_HEADER = "bad chunk header"
NO_START = "expected a chunk header"
NO_NEXT = "expected LF '#' after chunk data"
MID = "closed in the middle of a message"
INVALID = [
    Invalid("1.1-zero-size", CHUNKED, b"\n#0\n", BAD_HEADER),
    Invalid("1.1-leading-zero", CHUNKED, b"\n#01\na\n##\n", BAD_HEADER),
    Invalid("1.1-empty-size", CHUNKED, b"\n#\n", BAD_HEADER),
    Invalid("1.1-letter", CHUNKED, b"\n#a\n", BAD_HEADER),
    Invalid("1.1-hex", CHUNKED, b"\n#1f\n", BAD_HEADER),
    Invalid("1.1-minus", CHUNKED, b"\n#-1\n", BAD_HEADER),
    Invalid("1.1-plus", CHUNKED, b"\n#+1\n", BAD_HEADER),
    Invalid("1.1-space-before-size", CHUNKED, b"\n# 1\na\n##\n", BAD_HEADER),
    Invalid("1.1-space-after-size", CHUNKED, b"\n#1 \na\n##\n", BAD_HEADER),
    Invalid("1.1-crlf-header", CHUNKED, b"\n#1\r\na\n##\n", BAD_HEADER),
    Invalid("1.1-non-ascii-digit", CHUNKED, b"\n#\xd9\xa1\n", BAD_HEADER),
    Invalid("1.1-eleven-digits", CHUNKED, b"\n#12345678901\n", BAD_HEADER),
    Invalid("1.1-above-rfc-max", CHUNKED, b"\n#4294967296\n", "exceeds 4294967295", max_size=2**40),
    Invalid("1.1-ten-nines", CHUNKED, b"\n#9999999999\n", "exceeds 4294967295", max_size=2**40),
    Invalid("1.1-no-lf-before-hash", CHUNKED, b"#1\na\n##\n", NO_START),
    Invalid("1.1-space-before-hash", CHUNKED, b"  #1\na\n##\n", NO_START),
    Invalid("1.1-cr-before-hash", CHUNKED, b"\n\r#1\na\n##\n", NO_START),
    Invalid("1.1-eom-message", CHUNKED, b"<rpc/>]]>]]>", NO_START),
    Invalid("1.1-next-without-lf", CHUNKED, chunked(b"a") + b"#1\nb\n##\n", NO_START),
    Invalid("1.1-data-then-garbage", CHUNKED, b"\n#1\naX", NO_NEXT),
    Invalid("1.1-lf-then-garbage", CHUNKED, b"\n#1\na\nX", NO_NEXT),
    Invalid("1.1-ws-between-chunks", CHUNKED, b"\n#1\na\n\n#1\nb\n##\n", NO_NEXT),
    Invalid("1.1-size-too-big", CHUNKED, b"\n#3\na\n##\n", NO_NEXT),
    Invalid("1.1-size-too-small", CHUNKED, b"\n#1\nab\n##\n", NO_NEXT),
    Invalid("1.1-end-without-chunk", CHUNKED, b"\n##\n", "end-of-chunks before any chunk"),
    Invalid("1.1-bad-end", CHUNKED, b"\n#1\na\n##X", "bad end-of-chunks"),
    Invalid("1.1-triple-hash", CHUNKED, b"\n#1\na\n###\n", "bad end-of-chunks"),
    Invalid("1.1-end-crlf", CHUNKED, b"\n#1\na\n##\r\n", "bad end-of-chunks"),
    Invalid("1.1-oversize-chunk", CHUNKED, chunked(b"abcde"), "exceeds 4 bytes", max_size=4),
    Invalid("1.1-oversize-sum", CHUNKED, chunked(b"abc", b"de"), "exceeds 4 bytes", max_size=4),
    Invalid("1.1-oversize-header-only", CHUNKED, b"\n#5\n", "exceeds 4 bytes", max_size=4),
    Invalid("1.1-default-limit", CHUNKED, b"\n#67108865\n", "exceeds 67108864 bytes"),
    Invalid("1.1-eof-after-lf-hash", CHUNKED, b"\n#", MID, eof=True),
    Invalid("1.1-eof-in-size", CHUNKED, b"\n#12", MID, eof=True),
    Invalid("1.1-eof-in-data", CHUNKED, b"\n#5\nab", MID, eof=True),
    Invalid("1.1-eof-after-data", CHUNKED, b"\n#1\na", MID, eof=True),
    Invalid("1.1-eof-after-lf", CHUNKED, b"\n#1\na\n", MID, eof=True),
    Invalid("1.1-eof-before-end", CHUNKED, b"\n#1\na\n##", MID, eof=True),
    Invalid("1.1-eof-next-message", CHUNKED, chunked(b"a") + b"\n#1\n", MID, eof=True),
    Invalid("1.0-oversize", EOM, b"abcde]]>]]>", "exceeds 4 bytes", max_size=4),
    Invalid("1.0-oversize-no-delimiter", EOM, b"abcdefghij", "exceeds 4 bytes", max_size=4),
    Invalid("1.0-oversize-second", EOM, b"<a/>]]>]]><bb/>]]>]]>", "exceeds 4 bytes", max_size=4),
    Invalid("1.0-eof-mid-message", EOM, b"<rpc/>", MID, eof=True),
    Invalid("1.0-eof-partial-delimiter", EOM, b"<rpc/>]]>]]", MID, eof=True),
    Invalid("1.0-eof-next-message", EOM, b"<a/>]]>]]>\n<b/", MID, eof=True),
]


@pytest.mark.parametrize("vector", INVALID, ids=lambda v: v.id)
@pytest.mark.parametrize("how", ["whole", "bytewise"])
def test_invalid_vector(vector: Invalid, how: str) -> None:
    pieces = [vector.wire] if how == "whole" else bytewise(vector.wire)
    framer = make_framer(vector.mode, vector.max_size)
    with pytest.raises(FramingError, match=vector.match) as raised:
        feed(framer, pieces, eof=vector.eof)
    with pytest.raises(FramingError) as again:  # sticky: the session is over
        framer.next_event()
    assert again.value is raised.value


def test_messages_before_an_error_are_returned() -> None:
    framer = make_framer(CHUNKED)
    framer.receive_data(chunked(b"<a/>") + b"\n#x\n")
    assert framer.next_event() == b"<a/>"
    with pytest.raises(FramingError, match=BAD_HEADER):
        framer.next_event()


def test_header_with_largest_size_is_accepted() -> None:
    framer = make_framer(CHUNKED, max_message_size=2**40)
    assert feed(framer, [b"\n#4294967295\n", b"abc"]) == ([], NEED_DATA)


# --- hello, then the switch to chunked -------------------------------------------------


def session_loop(framer: Framer, pieces: Iterable[bytes]) -> tuple[list[bytes], Event]:
    """What session.py does: switch to chunked right after taking the peer's hello."""
    messages: list[bytes] = []
    event: Event = NEED_DATA
    for piece in [*pieces, b""]:
        framer.receive_data(piece)
        while isinstance(event := framer.next_event(), bytes):
            messages.append(event)
            if len(messages) == 1:
                framer.switch_to_chunked()
    return messages, event


HELLO_THEN_CHUNKED = {
    "ncclient": HELLO + b"]]>]]>" + chunked(RPC) + chunked(RPC[:40], RPC[40:]),
    "scrapli": b"\n" + HELLO + b"]]>]]>\n" + chunked(RPC) + b"\n" + chunked(RPC) + b"\n",
}


@pytest.mark.parametrize("wire", HELLO_THEN_CHUNKED.values(), ids=HELLO_THEN_CHUNKED.keys())
def test_hello_then_chunked_in_one_read(wire: bytes) -> None:
    framer = Framer()
    framer.receive_data(wire)
    assert framer.next_event() == HELLO
    assert framer.mode is EOM
    framer.switch_to_chunked()
    assert framer.mode is CHUNKED
    assert drain(framer) == ([RPC, RPC], NEED_DATA)


@pytest.mark.parametrize("wire", HELLO_THEN_CHUNKED.values(), ids=HELLO_THEN_CHUNKED.keys())
def test_hello_then_chunked_in_any_split(wire: bytes) -> None:
    expected = ([HELLO, RPC, RPC], CLOSED)
    assert session_loop(Framer(), bytewise(wire)) == expected
    for pieces in two_part_splits(wire):
        assert session_loop(Framer(), pieces) == expected, pieces


def test_whitespace_taken_before_the_switch_still_counts() -> None:
    framer = Framer()
    assert feed(framer, [HELLO + b"]]>]]>\n"]) == ([HELLO], NEED_DATA)
    framer.switch_to_chunked()
    assert feed(framer, [b"#3\nabc\n##\n"], eof=True) == ([b"abc"], CLOSED)


def test_switch_requires_lf_hash_after_the_hello() -> None:
    framer = Framer()
    framer.receive_data(HELLO + b"]]>]]>#3\nabc\n##\n")
    assert framer.next_event() == HELLO
    framer.switch_to_chunked()
    with pytest.raises(FramingError, match=NO_START):
        framer.next_event()


def test_switch_is_idempotent_and_changes_send() -> None:
    framer = Framer()
    assert framer.send(b"<hello/>") == b"<hello/>]]>]]>"
    framer.switch_to_chunked()
    framer.receive_data(b"\n#2\n<a")
    assert framer.next_event() is NEED_DATA
    framer.switch_to_chunked()  # must not reset the message being read
    framer.receive_data(b"\n#2\n/>\n##\n")
    assert framer.next_event() == b"<a/>"
    assert framer.mode == "1.1"
    assert framer.send(b"<a/>") == b"\n#4\n<a/>\n##\n"


# --- whitespace, EOF, construction ------------------------------------------------------

WHITESPACE = [b" ", b"\t", b"\r\n", b"\n\n\n", b" \t\r\n"]


def frame(mode: FramingMode, message: bytes) -> bytes:
    return message + b"]]>]]>" if mode is EOM else chunked(message)


@pytest.mark.parametrize("mode", [EOM, CHUNKED], ids=["1.0", "1.1"])
@pytest.mark.parametrize("ws", WHITESPACE, ids=repr)
def test_whitespace_before_and_between_messages(mode: FramingMode, ws: bytes) -> None:
    wire = ws + frame(mode, b"<a/>") + ws + frame(mode, b"<b/>") + ws
    assert feed(make_framer(mode), [wire], eof=True) == ([b"<a/>", b"<b/>"], CLOSED)
    assert feed(make_framer(mode), bytewise(wire), eof=True) == ([b"<a/>", b"<b/>"], CLOSED)


@pytest.mark.parametrize("mode", [EOM, CHUNKED], ids=["1.0", "1.1"])
def test_eof(mode: FramingMode) -> None:
    framer = make_framer(mode)
    assert feed(framer, [], eof=True) == ([], CLOSED)
    framer.receive_data(b"")  # a second EOF is harmless
    assert framer.next_event() is CLOSED
    with pytest.raises(RuntimeError, match="after EOF"):
        framer.receive_data(b"x")


def test_complete_messages_come_before_closed() -> None:
    framer = make_framer(EOM)
    framer.receive_data(b"<a/>]]>]]><b/>]]>]]>\n")
    framer.receive_data(b"")
    assert [framer.next_event() for _ in range(4)] == [b"<a/>", b"<b/>", CLOSED, CLOSED]


def test_sentinels() -> None:
    assert repr(NEED_DATA) == str(NEED_DATA) == "NEED_DATA"
    assert repr(CLOSED) == "CLOSED"
    assert len({NEED_DATA, CLOSED}) == 2
    assert Framer().mode is FramingMode.EOM
    assert [m.value for m in FramingMode] == ["1.0", "1.1"]


@pytest.mark.parametrize(
    "kwargs", [{"max_message_size": 0}, {"chunk_size": 0}, {"chunk_size": 2**32}], ids=str
)
def test_bad_limits_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        Framer(**kwargs)


def test_eom_search_is_linear() -> None:
    """A message fed in small reads is scanned once, not once per read (O(n) total)."""

    class CountingBuffer(bytearray):
        scanned = 0

        def find(self, sub: bytes, start: int = 0, /) -> int:  # type: ignore[override]
            CountingBuffer.scanned += len(self) - start
            return super().find(sub, start)

    framer = Framer()
    framer._buf = CountingBuffer()  # white-box: count the bytes searched
    message = b"x" * 1_000_000
    pieces = [message[i : i + 1000] for i in range(0, len(message), 1000)]
    assert feed(framer, [*pieces, b"]]", b">]]>"]) == ([message], NEED_DATA)
    assert CountingBuffer.scanned < 2 * len(message)


# --- send ------------------------------------------------------------------------------


def test_send_eom() -> None:
    assert Framer().send(b"<a/>") == b"<a/>]]>]]>"
    for bad in [b"<!-- ]]>]]> -->", b"<a x=']]>'/>]]>"]:
        with pytest.raises(ValueError, match="delimiter"):
            Framer().send(bad)


def test_send_chunked_small_message_is_one_chunk() -> None:
    framer = make_framer(CHUNKED)
    assert framer.send(b"<a/>") == b"\n#4\n<a/>\n##\n"
    assert parse_chunks(framer.send(b"x" * 65536)) == [b"x" * 65536]
    assert parse_chunks(framer.send(b"x" * 65537)) == [b"x" * 65536, b"x"]
    with pytest.raises(ValueError, match="empty"):
        framer.send(b"")


BIG_TEXTS = {
    "e-acute": "é" * 100000,
    "odd-offset": "a" + "é" * 100000,
    "euro": "€" * 100000,
    "emoji": "😀" * 50000,
    "mixed": "aé€😀" * 30000,
}


@pytest.mark.parametrize("text", BIG_TEXTS.values(), ids=BIG_TEXTS.keys())
@pytest.mark.parametrize("chunk_size", [65536, 4093, 1000])
def test_send_splits_on_utf8_boundaries(text: str, chunk_size: int) -> None:
    sender = Framer(chunk_size=chunk_size)
    sender.switch_to_chunked()
    wire = sender.send(text.encode())
    chunks = parse_chunks(wire)
    assert len(chunks) > 1
    assert all(0 < len(c) <= chunk_size for c in chunks)
    assert "".join(c.decode() for c in chunks) == text  # each chunk decodes on its own
    assert feed(make_framer(CHUNKED), [wire]) == ([text.encode()], NEED_DATA)


@pytest.mark.parametrize(
    ("message", "chunk_size", "sizes"),
    [("é".encode(), 1, [1, 1]), (b"\x80" * 10, 4, [4, 4, 2]), ("😀".encode() * 2, 3, [3, 1, 3, 1])],
    ids=["tiny-chunk", "not-utf8", "emoji-in-3"],
)
def test_send_splits_hard_when_no_boundary_fits(
    message: bytes, chunk_size: int, sizes: list[int]
) -> None:
    sender = Framer(chunk_size=chunk_size)
    sender.switch_to_chunked()
    wire = sender.send(message)
    assert [len(c) for c in parse_chunks(wire)] == sizes
    assert feed(make_framer(CHUNKED), [wire]) == ([message], NEED_DATA)


@pytest.mark.parametrize("mode", [EOM, CHUNKED], ids=["1.0", "1.1"])
def test_send_round_trip(mode: FramingMode) -> None:
    """An in-memory client/server pair: one Framer's output is another's input."""
    messages = [HELLO, RPC, "<a>é€😀</a>".encode() * 5000, b"x" * 200000, b"<b> </b>"]
    sender = make_framer(mode)
    wire = b"".join(sender.send(m) for m in messages)
    receiver = make_framer(mode)
    pieces = [wire[i : i + 4096] for i in range(0, len(wire), 4096)]
    assert feed(receiver, pieces, eof=True) == (messages, CLOSED)


# --- properties ------------------------------------------------------------------------

TOKENS = [b"\n", b" ", b"\r", b"#", b"##", b"0", b"1", b"9", b"12", b"a", b"<", b"]"]
TOKENS += [b"]]>", b"]]>]]>", b"\n#1\n", b"\n#2\n", b"\n##\n", b"\n#4294967296\n"]
TOKENS += [b"<a/>]]>]]>", chunked(b"<a/>"), chunked(b"\n#", b"]]>]]>"), chunked(b"\xe9")] * 3
WIRE = st.one_of(
    st.lists(st.sampled_from(TOKENS) | st.binary(max_size=4), max_size=40).map(b"".join),
    st.binary(max_size=200),
)
MODES = st.sampled_from([EOM, CHUNKED])
MAX_SIZES = st.sampled_from([1, 8, DEFAULT_MAX, DEFAULT_MAX])


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in pairwise(points) if b > a]


def outcome(framer: Framer, pieces: list[bytes]) -> tuple[list[bytes], str]:
    """Messages then how it ended; asserts that nothing but the allowed events occur."""
    messages: list[bytes] = []
    try:
        for piece in [*pieces, b""]:
            framer.receive_data(piece)
            while True:
                event = framer.next_event()
                if not isinstance(event, bytes):
                    break
                messages.append(event)
            assert event is (CLOSED if piece == b"" else NEED_DATA)
    except FramingError:
        return messages, "FramingError"
    return messages, "CLOSED"


@settings(max_examples=400, deadline=None)
@given(data=WIRE, cuts=st.lists(st.integers(0, 300), max_size=8), mode=MODES, max_size=MAX_SIZES)
def test_any_bytes_give_messages_or_framing_error(
    data: bytes, cuts: list[int], mode: FramingMode, max_size: int
) -> None:
    whole = outcome(make_framer(mode, max_size), [data])
    split = outcome(make_framer(mode, max_size), split_at(data, cuts))
    assert split == whole  # how the bytes were split never matters
    assert all(len(m) <= max_size for m in whole[0])


@settings(max_examples=200, deadline=None)
@given(
    messages=st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=5),
    chunk_size=st.integers(1, 70),
    cuts=st.lists(st.integers(0, 2000), max_size=8),
    mode=MODES,
)
def test_send_then_receive_round_trips(
    messages: list[bytes], chunk_size: int, cuts: list[int], mode: FramingMode
) -> None:
    if mode is EOM:
        # Sendable in 1.0 (no delimiter, even across the end) and not trimmed by the reader.
        messages = [m for m in messages if (m + b"]]>]]>").find(b"]]>]]>") == len(m)]
        messages = [m for m in messages if m.lstrip(b" \t\r\n") == m]
    sender = Framer(chunk_size=chunk_size)
    if mode is CHUNKED:
        sender.switch_to_chunked()
    wire = b"".join(sender.send(m) for m in messages)
    assert outcome(make_framer(mode), split_at(wire, cuts)) == (messages, "CLOSED")


@settings(max_examples=200, deadline=None)
@given(text=st.text(min_size=1, max_size=300), chunk_size=st.integers(4, 64))
def test_chunks_always_decode_alone(text: str, chunk_size: int) -> None:
    sender = Framer(chunk_size=chunk_size)
    sender.switch_to_chunked()
    chunks = parse_chunks(sender.send(text.encode()))
    assert all(len(c) <= chunk_size for c in chunks)
    assert "".join(c.decode() for c in chunks) == text
