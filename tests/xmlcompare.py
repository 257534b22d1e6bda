"""Structural comparison of XML trees for tests."""

from __future__ import annotations

from collections.abc import Mapping

from agent.xmlutil import Element, children


def render(el: Element, inherited: Mapping[str | None, str] | None = None) -> list[str]:
    """One line per element: tag, attributes, its own namespace declarations, trimmed text.

    Whitespace-only text (pretty-printing) is ignored; declarations are compared because
    where they sit decides whether prefixes in values resolve.
    """
    inherited = inherited or {}
    decls = sorted(f"xmlns:{p or ''}={u}" for p, u in el.nsmap.items() if inherited.get(p) != u)
    attrs = sorted(f"{k}={v}" for k, v in el.attrib.items())
    text = (el.text or "").strip()
    out = [" ".join([el.tag, *attrs, *decls]) + (f" = {text!r}" if text else "")]
    for c in children(el):
        out += ["  " + sub for sub in render(c, el.nsmap)]
    return out
