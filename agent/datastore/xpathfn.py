"""The YANG XPath functions (RFC 7950 section 10), and XSD regular expressions in Python.

libxml2 (through lxml) evaluates every must, when and leafref path, parsed and rewritten
for it by :mod:`agent.datastore.xpathparse`; this module teaches it YANG:

- :class:`YangFunctions` provides deref(), derived-from(), derived-from-or-self(),
  re-match(), enum-value() and bit-is-set() as lxml extension functions.
- :func:`python_regex` reads the XSD regular expressions that Python reads the same way
  as Python ones, a faster road than libxml2's XSD engine for patterns and re-match().
- :func:`identity_of` reads an identityref value as encoded in XML, for these functions
  and for the type checks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import cast

from lxml import etree

from agent.datastore.schema import Schema, SchemaNode, TypeSpec, regex_schema

Element = etree._Element


# -- XSD regular expressions ---------------------------------------------------------------

_XSD_ESCAPES = frozenset(".-\\[](){}*+?|^nrt")  # single-character escapes of XSD


def python_regex(xsd: str) -> re.Pattern[str] | None:
    """The XSD regular expression as an equivalent Python one, or None when it uses what
    the two dialects read differently (\\p, \\w, \\i, class subtraction, ...). libxml2 stays
    the reference (schema.Pattern); this is only a faster route for the common patterns."""
    out: list[str] = []
    i, depth = 0, 0  # depth: inside a character class
    while i < len(xsd):
        ch = xsd[i]
        if ch == "\\":
            nxt = xsd[i + 1 : i + 2]
            if nxt == "d" or nxt in _XSD_ESCAPES:
                out.append("\\" + nxt)
            elif nxt == "s":
                out.append("[ \\t\\n\\r]" if not depth else " \\t\\n\\r")
            else:
                return None
            i += 2
            continue
        if ch == "[":
            if depth:
                return None
            depth = 1
        elif ch == "]":
            depth = 0
        elif ch == "-" and xsd[i + 1 : i + 2] == "[":
            return None  # class subtraction
        elif not depth and ch in "^$":
            ch = "\\" + ch  # literal characters in XSD, anchors in Python
        elif not depth and ch == ".":
            ch = "[^\\n\\r]"
        out.append(ch)
        i += 1
    try:
        return re.compile("".join(out))
    except re.error:
        return None


# -- YANG functions ---------------------------------------------------------------------


def string_value(arg: object) -> str:
    """XPath string(): a node-set's first node's text, or the value itself."""
    if isinstance(arg, list):
        if not arg:
            return ""
        first = arg[0]
        if isinstance(first, etree._Element):
            # lxml yields str text on Python 3; lxml-stubs says str | bytes
            return "".join(cast("Iterator[str]", first.itertext()))
        return str(first)
    if isinstance(arg, bool):
        return "true" if arg else "false"
    if isinstance(arg, float):
        return str(int(arg)) if arg.is_integer() else str(arg)
    return str(arg)


def _first_element(arg: object) -> Element | None:
    if isinstance(arg, list) and arg and isinstance(arg[0], etree._Element):
        return arg[0]
    return None


class YangFunctions:
    """The YANG XPath functions, bound to a schema and the validator's tree lookups.

    ``locate`` maps a data element to its schema node; ``deref`` follows a leafref or
    instance-identifier element to its targets. Both are the validator's, because only it
    knows which datastore element is the root of the current run.
    """

    def __init__(
        self,
        schema: Schema,
        locate: Callable[[Element], SchemaNode | None],
        deref: Callable[[Element], list[Element]],
    ) -> None:
        self.schema = schema
        self.locate = locate
        self._deref = deref
        self._regexes: dict[str, Callable[[str], bool]] = {}
        self._derivations: dict[tuple[tuple[str, str], tuple[str, str]], bool] = {}

    def extensions(self, nsmap: Mapping[str, str]) -> dict[tuple[None, str], Callable[..., object]]:
        """The functions for one expression; ``nsmap`` resolves identity prefixes in it."""
        return {
            (None, "deref"): self.deref,
            (None, "derived-from"): lambda _c, nodes, ident: self._derived(
                nodes, ident, nsmap, False
            ),
            (None, "derived-from-or-self"): lambda _c, nodes, ident: self._derived(
                nodes, ident, nsmap, True
            ),
            (None, "re-match"): self.re_match,
            (None, "enum-value"): self.enum_value,
            (None, "bit-is-set"): self.bit_is_set,
        }

    def deref(self, _context: object, nodes: object) -> list[Element]:
        el = _first_element(nodes)
        return self._deref(el) if el is not None else []

    def _derived(
        self, nodes: object, ident: object, nsmap: Mapping[str, str], or_self: bool
    ) -> bool:
        prefix, _, name = string_value(ident).rpartition(":")
        base = (nsmap.get(prefix, ""), name)
        for el in nodes if isinstance(nodes, list) else ():
            if not isinstance(el, etree._Element):
                continue
            value = identity_of((el.text or "").strip(), el.nsmap)
            if value is None:
                continue
            if (or_self and value == base) or self._derived_from(value, base):
                return True
        return False

    def _derived_from(self, ident: tuple[str, str], base: tuple[str, str]) -> bool:
        key = (ident, base)
        if key not in self._derivations:
            self._derivations[key] = self.schema.derived_from(ident, base)
        return self._derivations[key]

    def re_match(self, _context: object, value: object, pattern: object) -> bool:
        """XSD regular expressions, implicitly anchored, as in the pattern statement."""
        regex = string_value(pattern)
        if regex not in self._regexes:
            self._regexes[regex] = _matcher(regex)
        return self._regexes[regex](string_value(value))

    def enum_value(self, _context: object, nodes: object) -> float:
        el = _first_element(nodes)
        snode = self.locate(el) if el is not None else None
        text = (el.text or "") if el is not None else ""
        for spec in _member_types(snode.type) if snode is not None and snode.type else ():
            for name, value in spec.enums:
                if name == text:
                    return float(value)
        return math.nan

    def bit_is_set(self, _context: object, nodes: object, bit: object) -> bool:
        el = _first_element(nodes)
        snode = self.locate(el) if el is not None else None
        if el is None or snode is None or snode.type is None:
            return False
        if not any(spec.bits for spec in _member_types(snode.type)):
            return False
        return string_value(bit) in (el.text or "").split()


def _matcher(regex: str) -> Callable[[str], bool]:
    """A full-match test for an XSD regex: Python's re when it reads it the same way, else
    libxml2's XSD engine; nothing matches a regex that is not XSD."""
    fast = python_regex(regex)
    if fast is not None:
        return lambda text: fast.fullmatch(text) is not None
    try:
        xsd = regex_schema(regex)
    except etree.XMLSchemaParseError:
        return lambda _text: False

    def slow(text: str) -> bool:
        probe = etree.Element("v")
        probe.text = text
        return bool(xsd.validate(probe))

    return slow


def identity_of(value: str, nsmap: Mapping[str | None, str]) -> tuple[str, str] | None:
    """(namespace, name) of an identityref value as encoded in XML (RFC 7950 9.10.3)."""
    prefix, _, name = value.rpartition(":")
    ns = nsmap.get(prefix or None)
    return (ns, name) if ns is not None and name else None


def _member_types(spec: TypeSpec) -> Iterator[TypeSpec]:
    """A type and, for a union, its members, depth first."""
    yield spec
    for member in spec.members:
        yield from _member_types(member)
