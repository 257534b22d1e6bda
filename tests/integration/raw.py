"""A raw NETCONF-over-SSH client for tests that must send what no well-behaved client sends
(missing message-ids, broken XML, bad chunk headers, DTDs)."""

from __future__ import annotations

import socket
import time

import paramiko

HELLO_10 = (
    b'<?xml version="1.0" encoding="UTF-8"?><hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
    b"<capabilities><capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>"
    b"]]>]]>"
)
HELLO_11 = HELLO_10.replace(
    b"</capabilities>",
    b"<capability>urn:ietf:params:netconf:base:1.1</capability></capabilities>",
)


class RawSession:
    def __init__(self, host: str, port: int, password: str, *, timeout: float = 20.0) -> None:
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.transport = paramiko.Transport(sock)
        self.transport.connect(username="admin", password=password)
        self.chan = self.transport.open_session()
        self.chan.settimeout(timeout)
        self.chan.invoke_subsystem("netconf")
        self.buf = b""
        self.server_hello = self.read_until(b"]]>]]>")

    def send(self, data: bytes) -> None:
        self.chan.sendall(data)

    def read_until(self, marker: bytes, timeout: float = 20.0) -> bytes:
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {marker!r} in {self.buf[-200:]!r}")
            data = self.chan.recv(65536)
            if not data:
                raise EOFError(f"closed; buffer {self.buf[-200:]!r}")
            self.buf += data
        head, _, self.buf = self.buf.partition(marker)
        return head

    def read_chunked(self) -> bytes:
        """One base:1.1 message (tests only: assumes well-formed server framing)."""
        body = self.read_until(b"\n##\n")
        out = b""
        while body:
            body = body.lstrip(b"\n")
            header, _, rest = body.partition(b"\n")
            size = int(header[1:])
            out, body = out + rest[:size], rest[size:]
        return out

    def closed_by_peer(self, timeout: float = 20.0) -> bool:
        """True when the server closes the channel before the deadline."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if not self.chan.recv(65536):
                    return True
            except TimeoutError:
                return False
            except OSError:
                return True
        return False

    def close(self) -> None:
        self.transport.close()


def chunk(msg: bytes) -> bytes:
    return b"\n#%d\n%s\n##\n" % (len(msg), msg)
