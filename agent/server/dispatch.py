"""The RPC pipeline (netopeer2's np2srv_rpc_cb): envelope and message-id, handler lookup by
(namespace, name), YANG input check, call, audit, reply.

Handlers are registered at start-up: the base operations from ``server/operations.py`` and
the PKI RPCs from ``ops``.  A handler receives the operation element and an RpcContext,
returns None (-> <ok/>) or a list of reply children, and raises RpcError/RpcErrors.  This
module holds the one broad ``except``: anything else is logged and answered with a generic
operation-failed, never with the exception text.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent import xmlutil
from agent.datastore.rpcinput import check_input
from agent.errors import (
    MissingAttribute,
    MissingElement,
    OperationFailed,
    OperationNotSupported,
    RpcError,
    RpcErrors,
    flatten,
)
from agent.server import replies
from agent.xmlutil import BASE_NS, Element

if TYPE_CHECKING:
    from agent.datastore.events import EventStream
    from agent.datastore.store import Datastore
    from agent.server.notifications import SessionNotifications
    from agent.server.sessions import SessionInfo, Sessions

log = logging.getLogger(__name__)
audit = logging.getLogger("agent.audit")

HandlerResult = list[Element] | None
Handler = Callable[[Element, "RpcContext"], HandlerResult | Awaitable[HandlerResult]]


@dataclass(slots=True)
class RpcContext:
    """What a handler may use: the calling session, the datastore, the session table, the
    event stream (to publish) and the session's side of it (to subscribe)."""

    session: SessionInfo
    datastore: Datastore
    sessions: Sessions
    events: EventStream | None = None
    notifications: SessionNotifications | None = None
    close_after_reply: bool = False


@dataclass(slots=True)
class Registry:
    handlers: dict[tuple[str, str], Handler] = field(default_factory=dict)
    # Operations whose outcome goes to the audit log (config changes, PKI work).
    audited: set[tuple[str, str]] = field(default_factory=set)
    # Operations that change the datastores run one at a time: a commit awaits its key
    # generation in a worker thread, and no other session's edit, lock or commit may slip in
    # between its validation and its swap.  Reads go on meanwhile.
    exclusive: set[tuple[str, str]] = field(default_factory=set)
    writer: asyncio.Lock = field(default_factory=asyncio.Lock)

    def register(
        self,
        ns: str,
        name: str,
        handler: Handler,
        *,
        audited: bool = False,
        exclusive: bool = False,
    ) -> None:
        if (ns, name) in self.handlers:
            raise ValueError(f"duplicate handler for {{{ns}}}{name}")
        self.handlers[(ns, name)] = handler
        if audited:
            self.audited.add((ns, name))
        if exclusive:
            self.exclusive.add((ns, name))

    def lookup(self, ns: str, name: str) -> tuple[tuple[str, str], Handler] | None:
        if (ns, name) in self.handlers:
            return (ns, name), self.handlers[(ns, name)]
        if ns == "":
            # Ansible's netconf_rpc sends the RPC element with no namespace; accept it when
            # the name is unambiguous (INTEROP.md §2.3).
            matches = [k for k in self.handlers if k[1] == name]
            if len(matches) == 1:
                return matches[0], self.handlers[matches[0]]
        return None


async def dispatch(registry: Registry, rpc: Element, ctx: RpcContext) -> Element:
    """Answer one <rpc>; always returns a reply element."""
    attrs = {str(k): str(v) for k, v in rpc.attrib.items()}
    try:
        if "message-id" not in attrs:
            raise MissingAttribute(
                "the <rpc> element has no message-id attribute",
                info=[("", "bad-attribute", "message-id"), ("", "bad-element", "rpc")],
            )
        op = _operation(rpc)
        found = registry.lookup(*xmlutil.split(op))
        if found is None:
            raise OperationNotSupported(
                f"operation <{xmlutil.split(op)[1]}> is not supported by this agent"
            )
        key, handler = found
        _check_input(key, op, ctx)
        if key in registry.exclusive:
            async with registry.writer:
                result = await _call(handler, op, ctx)
        else:
            result = await _call(handler, op, ctx)
    except (RpcError, RpcErrors) as exc:
        _audit(registry, rpc, ctx, "failed", exc)
        return replies.errors(attrs, flatten(exc))
    except Exception:
        log.exception("internal error in %s (session %d)", _op_name(rpc), ctx.session.session_id)
        return replies.errors(attrs, [OperationFailed("internal error; see the agent log")])
    _audit(registry, rpc, ctx, "ok", None)
    if result is None:
        return replies.ok(attrs)
    return replies.reply(attrs, result)


async def _call(handler: Handler, op: Element, ctx: RpcContext) -> HandlerResult:
    result = handler(op, ctx)
    if inspect.isawaitable(result):
        return await result
    return result


def _check_input(key: tuple[str, str], op: Element, ctx: RpcContext) -> None:
    """Check the input of an RPC that the YANG modules define (the base operations are not
    in the schema; their handlers parse their own parameters)."""
    rpc = ctx.datastore.schema.rpcs.get(key)
    if rpc is not None and rpc.input is not None:
        RpcErrors.raise_if_any(check_input(rpc.input, op, ctx.datastore.validator))


def _operation(rpc: Element) -> Element:
    ops = xmlutil.children(rpc)
    if len(ops) != 1:
        raise MissingElement(
            "an <rpc> must contain exactly one operation element",
            info=[("", "bad-element", "rpc")],
        )
    return ops[0]


def _op_name(rpc: Element) -> str:
    ops = xmlutil.children(rpc)
    return xmlutil.split(ops[0])[1] if ops else "?"


def _audit(
    registry: Registry,
    rpc: Element,
    ctx: RpcContext,
    outcome: str,
    exc: RpcError | RpcErrors | None,
) -> None:
    ops = xmlutil.children(rpc)
    if not ops or xmlutil.split(ops[0]) not in registry.audited:
        return
    tags = ",".join(str(e.tag) for e in flatten(exc)) if exc is not None else ""
    audit.info(
        "op=%s user=%s session=%d outcome=%s%s",
        xmlutil.split(ops[0])[1],
        ctx.session.user,
        ctx.session.session_id,
        outcome,
        f" error-tag={tags}" if tags else "",
    )


__all__ = ["BASE_NS", "Handler", "Registry", "RpcContext", "dispatch"]
