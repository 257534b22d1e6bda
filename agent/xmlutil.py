"""XML helpers shared by every layer: namespaces, a hardened parser, element factories.

All untrusted XML goes through :func:`parse`. It refuses DTDs (and so entity declarations),
never touches the network, keeps libxml2's nesting limit (256) and never recovers from
errors. Replies are built only with lxml factories, never with string templates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from lxml import etree

BASE_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
NOTIF_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"
MONITORING_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
WITH_DEFAULTS_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
YANG_NS = "urn:ietf:params:xml:ns:yang:1"

Element = etree._Element


class XmlError(ValueError):
    """Untrusted XML was refused; the message says why without echoing the input."""


def new_parser() -> etree.XMLParser:
    """A hardened parser (one per thread: lxml parsers must not be shared across threads)."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        recover=False,
    )


_PARSER = new_parser()


def parse(data: bytes) -> Element:
    """Parse one untrusted XML document and return its root element."""
    # The shared parser serves the event loop's thread; code parsing in worker threads
    # uses parse_with(new_parser(), ...).
    return parse_with(_PARSER, data)


def parse_with(parser: etree.XMLParser, data: bytes) -> Element:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise XmlError("DTDs and entity declarations are not allowed")
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise XmlError(f"not well-formed XML: {exc.msg}") from None
    if root is None:
        raise XmlError("empty document")
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise XmlError("DTDs and entity declarations are not allowed")
    return root


def root(ns: str, name: str) -> Element:
    """A new element that makes its namespace the default one (``<x xmlns="ns">``)."""
    return make(ns, name, nsmap={None: ns})


def qname(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}" if ns else name


def split(el: Element) -> tuple[str, str]:
    """(namespace, local-name) of an element; the namespace is '' when absent."""
    q = etree.QName(el)
    return q.namespace or "", q.localname


def make(
    ns: str,
    name: str,
    text: str | None = None,
    *children: Element,
    nsmap: Mapping[str | None, str] | None = None,
) -> Element:
    # lxml takes None as the default namespace's prefix; its stubs do not say so.
    el = etree.Element(qname(ns, name), nsmap=cast("dict[str, str] | None", nsmap))
    if text is not None:
        el.text = text
    el.extend(children)
    return el


def sub(parent: Element, ns: str, name: str, text: str | None = None) -> Element:
    el = etree.SubElement(parent, qname(ns, name))
    if text is not None:
        el.text = text
    return el


def is_element(node: object) -> bool:
    """True for real elements (lxml also yields comments and PIs when iterating)."""
    return isinstance(node, etree._Element) and isinstance(node.tag, str)


def children(el: Element) -> list[Element]:
    return [c for c in el if isinstance(c.tag, str)]


def to_bytes(el: Element, *, pretty: bool = False) -> bytes:
    return etree.tostring(el, encoding="utf-8", pretty_print=pretty)


def text_of(el: Element) -> str:
    return (el.text or "").strip()
