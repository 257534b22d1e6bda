"""The base NETCONF operations (RFC 6241 §7 and §8): parameter parsing and the calls into the
datastore.  One handler per operation, registered by :func:`register`."""

from __future__ import annotations

import copy
from enum import StrEnum
from typing import TypeVar

from lxml import etree

from agent import xmlutil
from agent.datastore.edit import ErrorOption, Operation
from agent.datastore.filter import subtree_filter
from agent.datastore.store import CANDIDATE, RUNNING, TestOption
from agent.errors import (
    BadElement,
    InvalidValue,
    MissingElement,
    OperationNotSupported,
    RpcErrors,
)
from agent.server import netconf_events
from agent.server.dispatch import HandlerResult, Registry, RpcContext
from agent.xmlutil import BASE_NS, Element


def register(registry: Registry) -> None:
    for name, handler, audited in (
        ("get", get, False),
        ("get-config", get_config, False),
        ("edit-config", edit_config, True),
        ("copy-config", copy_config, True),
        ("delete-config", delete_config, True),
        ("lock", lock, False),
        ("unlock", unlock, False),
        ("validate", validate, False),
        ("commit", commit, True),
        ("discard-changes", discard_changes, True),
        ("close-session", close_session, False),
        ("kill-session", kill_session, True),
    ):
        registry.register(BASE_NS, name, handler, audited=audited)


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


def _filtered(tree: Element, op: Element, ctx: RpcContext) -> list[Element]:
    data = etree.Element(f"{{{BASE_NS}}}data")
    flt = _param(op, "filter")
    if flt is None:
        data.extend(copy.deepcopy(c) for c in xmlutil.children(tree))
        return [data]
    kind = flt.get("type") or flt.get(f"{{{BASE_NS}}}type") or "subtree"
    if kind != "subtree":
        raise OperationNotSupported(f"filter type {kind!r} is not supported", error_type=None)
    data.extend(xmlutil.children(subtree_filter(tree, flt, schema=ctx.datastore.schema)))
    return [data]


# -- handlers -----------------------------------------------------------------------------


def get(op: Element, ctx: RpcContext) -> HandlerResult:
    return _filtered(ctx.datastore.operational(), op, ctx)


def get_config(op: Element, ctx: RpcContext) -> HandlerResult:
    return _filtered(ctx.datastore.tree(_datastore_name(op, "source")), op, ctx)


def edit_config(op: Element, ctx: RpcContext) -> HandlerResult:
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
    RpcErrors.raise_if_any(result.errors)
    return None


def copy_config(op: Element, ctx: RpcContext) -> HandlerResult:
    target = _datastore_name(op, "target")
    source_name = _datastore_name(op, "source")
    source = _inline_config(op, "source") if source_name == "config" else source_name
    if source == target:
        raise InvalidValue("copy-config source and target are the same datastore", error_type=None)
    ctx.datastore.copy_config(ctx.session.session_id, source, target)
    return None


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


def commit(op: Element, ctx: RpcContext) -> HandlerResult:
    if _param(op, "confirmed") is not None or _param(op, "persist-id") is not None:
        raise OperationNotSupported("confirmed commit is not supported yet", error_type=None)
    changed = ctx.datastore.candidate_modified()
    ctx.datastore.commit(ctx.session.session_id)
    if changed and ctx.events is not None:
        ctx.events.publish(netconf_events.config_change(ctx.session))
    return None


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
