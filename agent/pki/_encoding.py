"""Byte-level encodings shared by keys, certificates and requests.

Fingerprints and serial numbers are printed the way operators compare them: upper-case hex
octets joined by colons, byte for byte what ``openssl x509 -fingerprint`` prints and what the
YANG ``sha256-fingerprint``/``hex-string`` types accept.  The PEM splitter is ours (RFC 7468,
lax form) so that each block can be judged on its own label and text around the blocks (a
pasted ``openssl x509 -text`` dump, Bag Attributes) is ignored rather than fatal.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "PemBlock",
    "cisco_hex_lines",
    "colon_hex",
    "integer_hex",
    "iter_pem_blocks",
    "looks_like_pem",
    "pem_encode",
    "sha1_fingerprint",
    "sha256_fingerprint",
]

# One linear pass over the markers; pairing BEGIN with the next END keeps the cost linear even
# for hostile input full of unterminated BEGIN lines.
_MARKER_RE = re.compile(rb"-----(BEGIN|END) ([A-Z0-9 ]{1,64})-----")


@dataclass(frozen=True, slots=True)
class PemBlock:
    """One PEM block as found: its label and its whole text, BEGIN line to END line."""

    label: str
    text: bytes

    def der(self) -> bytes:
        """The decoded body; ValueError if the base64 is broken or RFC 1421 headers exist."""
        body = self.text.split(b"-----", 2)[2].rsplit(b"-----END", 1)[0]
        try:
            return base64.b64decode(b"".join(body.split()), validate=True)
        except binascii.Error as exc:
            raise ValueError("PEM block with invalid base64") from exc


def colon_hex(data: bytes) -> str:
    """``b"\\x5f\\xf8"`` -> ``"5F:F8"`` (the YANG hex-string form, upper case)."""
    return data.hex(":").upper()


def sha1_fingerprint(der: bytes) -> str:
    return colon_hex(hashlib.sha1(der).digest())


def sha256_fingerprint(der: bytes) -> str:
    return colon_hex(hashlib.sha256(der).digest())


def integer_hex(value: int) -> str:
    """A certificate serial number as colon hex octets, like Cisco's 'Serial Number :6E'.

    Non-negative values use the minimal unsigned octets (``openssl x509 -serial`` without the
    colons); a negative serial, which broken CAs do issue, keeps its two's complement octets.
    """
    if value >= 0:
        return colon_hex(value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))
    length = (~value).bit_length() // 8 + 1
    return colon_hex(value.to_bytes(length, "big", signed=True))


def cisco_hex_lines(der: bytes) -> tuple[str, ...]:
    """The DER as Cisco ``show crypto key mypubkey rsa`` prints it under 'Data'.

    Groups of four octets in upper-case hex, eight groups a line; the last group may be short.
    """
    groups = [der[i : i + 4].hex().upper() for i in range(0, len(der), 4)]
    return tuple(" ".join(groups[i : i + 8]) for i in range(0, len(groups), 8))


def der_tlv(tag: int, body: bytes) -> bytes:
    """One DER element (definite length).  For the few fixed structures the agent writes
    itself, where asn1crypto costs milliseconds (_keyio, enroll/_cms)."""
    size = len(body)
    if size < 0x80:
        return bytes((tag, size)) + body
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(octets))) + octets + body


def pem_encode(label: str, der: bytes) -> str:
    """RFC 7468 text: 64-column base64 between BEGIN and END lines, as OpenSSL writes it."""
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""])


def looks_like_pem(data: bytes) -> bool:
    return b"-----BEGIN " in data


def iter_pem_blocks(data: bytes) -> Iterator[PemBlock]:
    """Yield each complete PEM block in order, ignoring any text between blocks.

    A BEGIN line not closed by an END line of the same label before the next marker is
    skipped; the caller then finds fewer blocks than it needs and reports that.
    """
    begin: re.Match[bytes] | None = None
    for marker in _MARKER_RE.finditer(data):
        if marker.group(1) == b"BEGIN":
            begin = marker
        elif begin is not None and marker.group(2) == begin.group(2):
            yield PemBlock(begin.group(2).decode("ascii"), data[begin.start() : marker.end()])
            begin = None
        else:
            begin = None
