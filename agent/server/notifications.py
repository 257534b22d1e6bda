"""RFC 5277 event notifications: create-subscription on the NETCONF stream, replay, and the
per-session subscription that writes ``<notification>`` messages.

A session has at most one subscription.  The handler only checks and records the request;
the subscription starts once its reply is written (the client must see <ok/> before the
first notification, replayed or live), runs in its own task so the session keeps answering
RPCs (:interleave, RFC 5277 §6), and ends at stopTime or with the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from agent import xmlutil
from agent.clock import Clock
from agent.datastore.events import Event, EventStream
from agent.datastore.filter import subtree_filter
from agent.datastore.schema import Kind, Schema, SchemaNode
from agent.datastore.xpathfilter import XPathFilter, compile_element
from agent.errors import (
    BadElement,
    ErrorType,
    InvalidValue,
    MissingElement,
    OperationFailed,
    OperationNotSupported,
)
from agent.server.dispatch import HandlerResult, Registry, RpcContext
from agent.xmlutil import BASE_NS, NOTIF_NS, Element

STREAM = "NETCONF"
# replayComplete and notificationComplete live in RFC 5277's nc-notifications module.
NETMOD_NOTIFICATION_NS = "urn:ietf:params:xml:ns:netmod:notification"
CAPABILITIES = (
    "urn:ietf:params:netconf:capability:notification:1.0",
    "urn:ietf:params:netconf:capability:interleave:1.0",
)

Sender = Callable[[Element], Awaitable[None]]
# Events waiting for a client that does not read; beyond this the newest are dropped (and
# logged) rather than letting one stalled session grow the agent's memory without bound.
MAX_PENDING = 10_000

log = logging.getLogger(__name__)


def register(registry: Registry) -> None:
    registry.register(NOTIF_NS, "create-subscription", create_subscription)


@dataclass(frozen=True, slots=True)
class Request:
    """A checked create-subscription: an optional subtree or XPath filter and replay
    window."""

    filter: Element | XPathFilter | None = None
    start: datetime | None = None
    stop: datetime | None = None


def create_subscription(op: Element, ctx: RpcContext) -> HandlerResult:
    """RFC 5277 §2.1.1.  Answers <ok/>; the notifications follow the reply."""
    if ctx.notifications is None:
        raise OperationNotSupported("this agent serves no notification stream", error_type=None)
    now = ctx.notifications.now()
    ctx.notifications.subscribe(parse_request(op, now, ctx.datastore.schema))
    return None


def parse_request(op: Element, now: datetime, schema: Schema) -> Request:
    """The parameters, with the errors RFC 5277 §2.1.1 names for bad replay windows."""
    stream = _param(op, "stream")
    if stream is not None and xmlutil.text_of(stream) != STREAM:
        raise InvalidValue(
            f"unknown stream {xmlutil.text_of(stream)!r}; this agent serves {STREAM!r}",
            info=[("", "bad-element", "stream")],
        )
    start, stop = _time_param(op, "startTime"), _time_param(op, "stopTime")
    if stop is not None and start is None:
        raise MissingElement("stopTime needs a startTime", info=[("", "bad-element", "startTime")])
    if start is not None and start > now:
        raise BadElement("startTime is in the future", info=[("", "bad-element", "startTime")])
    if start is not None and stop is not None and stop < start:
        raise BadElement("stopTime is before startTime", info=[("", "bad-element", "stopTime")])
    return Request(_filter(op, schema), start, stop)


def _param(op: Element, name: str) -> Element | None:
    el = op.find(f"{{{NOTIF_NS}}}{name}")
    return el if el is not None else op.find(name)  # lenient: unqualified (INTEROP §2.3)


def _time_param(op: Element, name: str) -> datetime | None:
    el = _param(op, name)
    if el is None:
        return None
    try:
        when = datetime.fromisoformat(xmlutil.text_of(el))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise InvalidValue(
            f"{name} must be an RFC 3339 date-time with a time zone",
            info=[("", "bad-element", name)],
        )
    return when


def _filter(op: Element, schema: Schema) -> Element | XPathFilter | None:
    """The filter, in the notification or (ncclient, INTEROP §1) base namespace: a subtree
    filter element, or an XPath filter compiled now so that a bad one fails the request."""
    for ns in (NOTIF_NS, BASE_NS, ""):
        flt = op.find(xmlutil.qname(ns, "filter"))
        if flt is not None:
            kind = flt.get("type") or flt.get(f"{{{BASE_NS}}}type") or "subtree"
            if kind == "xpath":
                xpath = compile_element(flt, schema, top=_notification_root(schema))
                # A trial run raises now what would otherwise end the subscription at its
                # first event: an unbound variable, a result that is not a node-set.
                xpath.matches(xmlutil.root(NOTIF_NS, "notification"))
                return xpath
            if kind != "subtree":
                raise OperationNotSupported(
                    f"filter type {kind!r} is not supported", error_type=None
                )
            return flt
    return None


def _notification_root(schema: Schema) -> SchemaNode:
    """A schema root whose children are the notifications: the top-level nodes an XPath
    filter names (``/ncn:netconf-config-change``, or unprefixed ``/netconf-config-change``)."""
    return SchemaNode(
        Kind.CONTAINER,
        "",
        "",
        "",
        "",
        None,
        children=dict(schema.notifications),
        ordered=list(schema.notifications.values()),
    )


def selected(flt: Element | XPathFilter | None, content: Element) -> bool:
    """Does the filter select anything of this event's content?  The content is evaluated
    as the one child of a notification, as RFC 6241 §6 and §8.9 filter a datastore."""
    if flt is None:
        return True
    holder = etree.Element(f"{{{NOTIF_NS}}}notification")
    holder.append(copy.deepcopy(content))
    if isinstance(flt, XPathFilter):
        return flt.matches(holder)
    return len(subtree_filter(holder, flt)) > 0


def render(when: datetime, content: Element) -> Element:
    """``<notification><eventTime/>content</notification>`` (RFC 5277 §4); the content is
    copied because logged events are shared."""
    el = xmlutil.root(NOTIF_NS, "notification")
    stamp = when.astimezone(UTC).isoformat().replace("+00:00", "Z")
    xmlutil.sub(el, NOTIF_NS, "eventTime", stamp)
    el.append(copy.deepcopy(content))
    return el


class SessionNotifications:
    """One session's side of the NETCONF stream; notifications go only through here, so a
    session that never subscribed never receives one."""

    def __init__(self, stream: EventStream, clock: Clock, send: Sender) -> None:
        self._stream = stream
        self._clock = clock
        self._send = send
        self._pending: Request | None = None
        self._task: asyncio.Task[None] | None = None

    def now(self) -> datetime:
        return self._clock.now()

    def subscribe(self, request: Request) -> None:
        """Record a subscription, started by :meth:`start` after the reply is written."""
        if self._pending is not None or (self._task is not None and not self._task.done()):
            # RFC 5277 §6.5 names operation-failed (protocol) for this case.
            raise OperationFailed(
                "this session already has an active subscription; RFC 5277 allows one per "
                "session: open another session for a second one",
                error_type=ErrorType.PROTOCOL,
            )
        self._pending = request

    def start(self) -> None:
        """Start the recorded subscription, if any (called after each reply)."""
        if self._pending is None:
            return
        sub = Subscription(self._stream, self._pending, self._clock, self._send)
        self._pending = None
        self._task = asyncio.get_running_loop().create_task(sub.run())
        self._task.add_done_callback(_log_crash)

    async def close(self) -> None:
        """End the subscription with the session."""
        self._pending = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


class Subscription:
    """Replay (if asked), then live events until stopTime or cancellation."""

    def __init__(self, stream: EventStream, request: Request, clock: Clock, send: Sender) -> None:
        self._stream = stream
        self._request = request
        self._clock = clock
        self._send = send

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Event] = asyncio.Queue(MAX_PENDING)
        warned = False

        def offer(event: Event) -> None:
            nonlocal warned
            if not queue.full():
                queue.put_nowait(event)
            elif not warned:
                warned = True
                log.warning("subscriber is not reading; dropping its notifications")

        def listen(when: datetime, content: Element) -> None:
            # A closed loop (agent shutting down) has no session left to tell.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(offer, (when, content))

        # Listen before reading the log, so no event falls between the two; events seen in
        # both are recognised by identity (the stream shares its elements) and sent once.
        unsubscribe = self._stream.subscribe(listen)
        try:
            await self._live(queue, await self._replay())
        finally:
            unsubscribe()

    async def _replay(self) -> list[Event]:
        start, stop = self._request.start, self._request.stop
        if start is None:
            return []
        events = self._stream.replay(start, stop)
        for when, content in events:
            await self._deliver(when, content)
        await self._send(render(self._clock.now(), _marker("replayComplete")))
        return events

    async def _live(self, queue: asyncio.Queue[Event], replayed: list[Event]) -> None:
        # ``replayed`` stays referenced for the whole loop, so these ids cannot be reused.
        seen = {id(content) for _, content in replayed}
        stop = self._request.stop
        while True:
            timeout = None if stop is None else (stop - self._clock.now()).total_seconds()
            if timeout is not None and timeout <= 0:
                break
            try:
                when, content = await asyncio.wait_for(queue.get(), timeout)
            except TimeoutError:
                break
            if id(content) in seen:
                continue
            if stop is not None and when > stop:
                break
            await self._deliver(when, content)
        # Reached only with a stopTime, after which the subscription is over (RFC 5277 §2.1.1).
        await self._send(render(self._clock.now(), _marker("notificationComplete")))

    async def _deliver(self, when: datetime, content: Element) -> None:
        if selected(self._request.filter, content):
            await self._send(render(when, content))


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("subscription task crashed", exc_info=task.exception())


def _marker(name: str) -> Element:
    return xmlutil.root(NETMOD_NOTIFICATION_NS, name)
