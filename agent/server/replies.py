"""The only place that turns results and errors into <rpc-reply> XML (STYLE.md, "Errors").

Replies are unprefixed in the base namespace and copy every attribute of the <rpc>
(RFC 6241 §4.2); an error reply never carries <ok/> (INTEROP.md §2.6).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lxml import etree

from agent import xmlutil
from agent.errors import RpcError
from agent.xmlutil import BASE_NS, Element, qname


def reply(attributes: Mapping[str, str], children: Iterable[Element] = ()) -> Element:
    root = xmlutil.root(BASE_NS, "rpc-reply")
    for key, value in attributes.items():
        root.set(key, value)
    root.extend(children)
    return root


def ok(attributes: Mapping[str, str]) -> Element:
    return reply(attributes, [etree.Element(f"{{{BASE_NS}}}ok")])


def errors(attributes: Mapping[str, str], errs: Iterable[RpcError]) -> Element:
    return reply(attributes, [render_error(e) for e in errs])


def render_error(err: RpcError) -> Element:
    el = etree.Element(f"{{{BASE_NS}}}rpc-error")
    _leaf(el, "error-type", str(err.error_type))
    _leaf(el, "error-tag", str(err.tag))
    _leaf(el, "error-severity", str(err.severity))
    if err.app_tag:
        _leaf(el, "error-app-tag", err.app_tag)
    if err.path:
        path = etree.SubElement(el, f"{{{BASE_NS}}}error-path", nsmap=dict(err.path_ns) or None)
        path.text = err.path
    msg = _leaf(el, "error-message", err.message or str(err.tag))
    msg.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    if err.info:
        info = etree.SubElement(el, f"{{{BASE_NS}}}error-info")
        for ns, name, text in err.info:
            etree.SubElement(info, qname(ns or BASE_NS, name)).text = text
    return el


def _leaf(parent: Element, name: str, text: str) -> Element:
    el = etree.SubElement(parent, f"{{{BASE_NS}}}{name}")
    el.text = text
    return el
