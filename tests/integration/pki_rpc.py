"""Helpers for the PKI RPC tests: send an RPC with ncclient and keep every reply (or error)
for the module's own secrets check."""

from __future__ import annotations

import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError


def send(m: manager.Manager, op: str, replies: list[bytes]) -> etree._Element:
    """Dispatch the operation ``op`` (XML text); the reply, also appended to ``replies``."""
    try:
        reply = m.dispatch(etree.fromstring(op))
    except RPCError as exc:
        replies.append(etree.tostring(exc.xml))
        raise
    replies.append(reply.xml.encode() if isinstance(reply.xml, str) else reply.xml)
    return etree.fromstring(replies[-1])


def expect_error(m: manager.Manager, op: str, replies: list[bytes]) -> RPCError:
    with pytest.raises(RPCError) as exc:
        send(m, op, replies)
    return exc.value


def assert_error(err: RPCError, tag: str, app_tag: str | None, path: str | None = None) -> None:
    assert (err.tag, err._app_tag) == (tag, app_tag), etree.tostring(err.xml)
    if path is not None:
        assert err.path is not None and err.path.strip() == path
