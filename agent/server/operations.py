"""The base NETCONF operations (RFC 6241 §7 and §8): parameter parsing and the calls into the
datastore.  One handler per operation, registered by :func:`register`."""

from __future__ import annotations

import asyncio
import copy
from enum import StrEnum
from typing import TypeVar

from agent import xmlutil
from agent.datastore import defaults
from agent.datastore.confirmed import ConfirmOptions
from agent.datastore.defaults import Mode
from agent.datastore.edit import ErrorOption, Operation
from agent.datastore.filter import subtree_filter, top_level_names
from agent.datastore.schema import Schema
from agent.datastore.store import CANDIDATE, RUNNING, TestOption, Wanted
from agent.datastore.xpathfilter import XPathFilter, compile_element
from agent.errors import (
    BadElement,
    ErrorType,
    InvalidValue,
    MissingElement,
    OperationNotSupported,
    RpcErrors,
)
from agent.server import netconf_events
from agent.server.dispatch import HandlerResult, Registry, RpcContext
from agent.xmlutil import BASE_NS, WITH_DEFAULTS_NS, Element


def register(registry: Registry) -> None:
    # (name, handler, audited, exclusive: changes a datastore, a lock or a session)
    for name, handler, audited, exclusive in (
        ("get", get, False, False),
        ("get-config", get_config, False, False),
        ("edit-config", edit_config, True, True),
        ("copy-config", copy_config, True, True),
        ("delete-config", delete_config, True, True),
        ("lock", lock, False, True),
        ("unlock", unlock, False, True),
        ("validate", validate, False, False),
        ("commit", commit, True, True),
        ("cancel-commit", cancel_commit, True, True),
        ("discard-changes", discard_changes, True, True),
        ("close-session", close_session, False, False),
        ("kill-session", kill_session, True, True),
    ):
        registry.register(BASE_NS, name, handler, audited=audited, exclusive=exclusive)


# -- parameters -----------------------------------------------------------------------------

_E = TypeVar("_E", bound=StrEnum)


def _param(op: Element, name: str, *, required: bool = False) -> Element | None:
    el = op.find(f"{{{BASE_NS}}}{name}")
    if el is None:
        el = op.find(name)  # lenient: unqualified parameters (INTEROP.md §2.3)
    if el is None and required:
        raise MissingElement(
            f"<{xmlutil.split(op)[1]}> needs a <{name}> parameter",
            info=[("", "bad-element", name)],
        )
    return el


def _datastore_name(op: Element, param: str) -> str:
    """The datastore named inside <source>/<target>, e.g. <target><candidate/></target>."""
    el = _param(op, param, required=True)
    assert el is not None
    names = xmlutil.children(el)
    if len(names) != 1:
        raise MissingElement(
            f"<{param}> must name exactly one datastore", info=[("", "bad-element", param)]
        )
    ns, name = xmlutil.split(names[0])
    if name == "url":
        raise OperationNotSupported("the :url capability is not supported", error_type=None)
    if name == "config":
        return name
    if ns not in (BASE_NS, ""):
        raise BadElement(f"unknown datastore {name}", info=[("", "bad-element", name)])
    return name


def _inline_config(op: Element, param: str) -> Element:
    el = _param(op, param, required=True)
    assert el is not None
    for child in xmlutil.children(el):
        if xmlutil.split(child) in ((BASE_NS, "config"), ("", "config")):
            return child
    raise MissingElement(f"<{param}> has no <config>", info=[("", "bad-element", "config")])


def _enum_param(op: Element, name: str, enum: type[_E], default: _E) -> _E:
    el = _param(op, name)
    if el is None:
        return default
    try:
        return enum(xmlutil.text_of(el))
    except ValueError:
        raise InvalidValue(
            f"<{name}> must be one of {', '.join(e.value for e in enum)}",
            error_type=None,
            info=[("", "bad-element", name)],
        ) from None


def _retrieve(op: Element, ctx: RpcContext, source: str | None) -> list[Element]:
    """The <data> of a get (``source`` None: running and state) or a get-config.

    Defaults are added before the filter, so that it sees them, and trimmed or tagged after
    (agent/datastore/defaults.py).  An XPath filter on <get> that names only config nodes
    selects from running itself and decorates only what it selected with state, so its
    cost follows the selection, not the datastore."""
    store, schema = ctx.datastore, ctx.datastore.schema
    mode = _with_defaults(op)
    flt = _param(op, "filter")
    xpath = _xpath(flt, schema)
    report_all = mode in (Mode.REPORT_ALL, Mode.REPORT_ALL_TAGGED)
    if source is None and xpath is not None and not xpath.reads_state and not report_all:
        nodes = xmlutil.children(xpath.select(store.tree(RUNNING), store.decorate))
    else:
        tree = store.operational(_wanted(flt, xpath)) if source is None else store.tree(source)
        if report_all:
            tree = tree if source is None else copy.deepcopy(tree)  # never the live tree
            defaults.add_defaults(tree, schema, config_only=source is not None)
        nodes = _filtered(tree, flt, xpath, ctx)
    nsmap = {None: BASE_NS, "wd": defaults.WD_NS} if mode is Mode.REPORT_ALL_TAGGED else None
    data = xmlutil.make(BASE_NS, "data", nsmap=nsmap)
    data.extend(nodes)
    if mode is Mode.TRIM:
        defaults.trim(data, schema)
    elif mode is Mode.REPORT_ALL_TAGGED:
        defaults.tag(data, schema)
    return [data]


def _with_defaults(op: Element) -> Mode:
    """The RFC 6243 <with-defaults> parameter; absent means the basic mode, explicit."""
    el = op.find(xmlutil.qname(WITH_DEFAULTS_NS, "with-defaults"))
    if el is None:
        return Mode.EXPLICIT
    try:
        return Mode(xmlutil.text_of(el))
    except ValueError:
        raise InvalidValue(
            f"with-defaults mode {xmlutil.text_of(el)!r} is not supported; "
            f"use one of {', '.join(m.value for m in Mode)}",
            error_type=ErrorType.PROTOCOL,
            info=[("", "bad-element", "with-defaults")],
        ) from None


def _wanted(flt: Element | None, xpath: XPathFilter | None) -> Wanted:
    """The top-level nodes a <get> must build: those a subtree filter names; all of them
    without a filter or with an XPath one that reads state."""
    return top_level_names(flt) if flt is not None and xpath is None else None


def _xpath(flt: Element | None, schema: Schema) -> XPathFilter | None:
    """The compiled XPath filter (RFC 6241 §8.9), if that is the filter's type."""
    if flt is None or (flt.get("type") or flt.get(f"{{{BASE_NS}}}type")) != "xpath":
        return None
    return compile_element(flt, schema)


def _filtered(
    tree: Element, flt: Element | None, xpath: XPathFilter | None, ctx: RpcContext
) -> list[Element]:
    """Copies of what the filter (subtree or xpath, RFC 6241 §6 and §8.9) selects from the
    top-level nodes of ``tree``; everything without a filter."""
    if flt is None:
        return [copy.deepcopy(c) for c in xmlutil.children(tree)]
    if xpath is not None:
        return xmlutil.children(xpath.select(tree))
    kind = flt.get("type") or flt.get(f"{{{BASE_NS}}}type") or "subtree"
    if kind != "subtree":
        raise OperationNotSupported(f"filter type {kind!r} is not supported", error_type=None)
    return xmlutil.children(subtree_filter(tree, flt, schema=ctx.datastore.schema))


# -- handlers -----------------------------------------------------------------------------


def get(op: Element, ctx: RpcContext) -> HandlerResult:
    return _retrieve(op, ctx, None)


def get_config(op: Element, ctx: RpcContext) -> HandlerResult:
    return _retrieve(op, ctx, _datastore_name(op, "source"))


async def edit_config(op: Element, ctx: RpcContext) -> HandlerResult:
    target = _datastore_name(op, "target")
    default_op = _enum_param(op, "default-operation", Operation, Operation.MERGE)
    if default_op not in (Operation.MERGE, Operation.REPLACE, Operation.NONE):
        raise InvalidValue("default-operation must be merge, replace or none", error_type=None)
    test_option = _enum_param(op, "test-option", TestOption, TestOption.TEST_THEN_SET)
    error_option = _enum_param(op, "error-option", ErrorOption, ErrorOption.STOP_ON_ERROR)
    config = _param(op, "config")
    if config is None:
        if _param(op, "url") is not None:
            raise OperationNotSupported("the :url capability is not supported", error_type=None)
        raise MissingElement("<edit-config> needs <config>", info=[("", "bad-element", "config")])
    result = ctx.datastore.edit(
        target,
        ctx.session.session_id,
        config,
        default_operation=default_op,
        error_option=error_option,
        test_option=test_option,
    )
    if target == RUNNING and test_option is not TestOption.TEST_ONLY:
        await _commit_staged(ctx)
    RpcErrors.raise_if_any(result.errors)
    return None


async def copy_config(op: Element, ctx: RpcContext) -> HandlerResult:
    target = _datastore_name(op, "target")
    source_name = _datastore_name(op, "source")
    source = _inline_config(op, "source") if source_name == "config" else source_name
    if source == target:
        raise InvalidValue("copy-config source and target are the same datastore", error_type=None)
    if target == RUNNING and source == CANDIDATE:
        await _commit(ctx, staged=True)  # the candidate, as it is, becomes running
        return None
    ctx.datastore.copy_config(ctx.session.session_id, source, target)
    if target == RUNNING:
        await _commit_staged(ctx)
    return None


async def _commit_staged(ctx: RpcContext) -> None:
    """Commit a write to running staged in the candidate; on failure the candidate drops
    it again, so running and candidate are as they were."""
    try:
        await _commit(ctx, staged=True)
    except BaseException:
        ctx.datastore.abandon_staged()
        raise


async def _commit(
    ctx: RpcContext,
    *,
    confirm: ConfirmOptions | None = None,
    persist_id: str | None = None,
    staged: bool = False,
) -> None:
    """Validate and prepare on the event loop, generate keys in a worker thread (other
    sessions' reads go on meanwhile), then swap and persist."""
    plan = ctx.datastore.begin_commit(
        ctx.session.session_id, confirm=confirm, persist_id=persist_id, staged=staged
    )
    if plan.actions:
        await asyncio.to_thread(plan.precompute)
    ctx.datastore.finish_commit(plan)
    if plan.edits and ctx.events is not None:
        ctx.events.publish(netconf_events.config_change(ctx.session, plan.edits))


def delete_config(op: Element, ctx: RpcContext) -> HandlerResult:
    ctx.datastore.delete_config(ctx.session.session_id, _datastore_name(op, "target"))
    return None


def lock(op: Element, ctx: RpcContext) -> HandlerResult:
    ctx.datastore.lock(_datastore_name(op, "target"), ctx.session.session_id)
    return None


def unlock(op: Element, ctx: RpcContext) -> HandlerResult:
    ctx.datastore.unlock(_datastore_name(op, "target"), ctx.session.session_id)
    return None


def validate(op: Element, ctx: RpcContext) -> HandlerResult:
    name = _datastore_name(op, "source")
    ctx.datastore.validate(_inline_config(op, "source") if name == "config" else name)
    return None


async def commit(op: Element, ctx: RpcContext) -> HandlerResult:
    """Commit, confirmed commit (RFC 6241 §8.4) or confirming commit."""
    confirm = _confirm_options(op)
    await _commit(ctx, confirm=confirm, persist_id=_text_param(op, "persist-id"))
    return None


def cancel_commit(op: Element, ctx: RpcContext) -> HandlerResult:
    ctx.datastore.cancel_commit(ctx.session.session_id, _text_param(op, "persist-id"))
    return None


def _confirm_options(op: Element) -> ConfirmOptions | None:
    if _param(op, "confirmed") is None:
        for name in ("confirm-timeout", "persist"):
            if _param(op, name) is not None:
                raise BadElement(
                    f"<{name}> is only allowed with <confirmed/>",
                    error_type=ErrorType.PROTOCOL,
                    info=[("", "bad-element", name)],
                )
        return None
    timeout = _text_param(op, "confirm-timeout")
    return ConfirmOptions(
        timeout=_positive_seconds(timeout) if timeout is not None else 600.0,
        persist=_text_param(op, "persist"),
    )


def _positive_seconds(text: str) -> float:
    # confirm-timeout is a uint32 with range 1..max (RFC 6241 YANG).
    if not text.isdigit() or not 0 < int(text) < 1 << 32:
        raise InvalidValue(
            f"confirm-timeout must be a number of seconds from 1 to {(1 << 32) - 1}",
            error_type=ErrorType.PROTOCOL,
            info=[("", "bad-element", "confirm-timeout")],
        )
    return float(text)


def _text_param(op: Element, name: str) -> str | None:
    el = _param(op, name)
    return xmlutil.text_of(el).strip() if el is not None else None


def discard_changes(op: Element, ctx: RpcContext) -> HandlerResult:
    ctx.datastore.discard_changes(ctx.session.session_id)
    return None


def close_session(op: Element, ctx: RpcContext) -> HandlerResult:
    ctx.close_after_reply = True
    return None


def kill_session(op: Element, ctx: RpcContext) -> HandlerResult:
    el = _param(op, "session-id", required=True)
    assert el is not None
    try:
        target = int(xmlutil.text_of(el))
    except ValueError:
        raise InvalidValue("session-id must be a positive integer", error_type=None) from None
    ctx.sessions.kill(target, by=ctx.session.session_id)
    # The killed session's locks go now, not when its transport finally closes (§7.9).
    ctx.datastore.session_closed(target)
    return None


__all__ = ["CANDIDATE", "RUNNING", "register"]
