"""Type checks of leaf and leaf-list values: the YANG built-in types (RFC 7950 section 9).

:class:`TypeChecker` holds the lexical and value-space check of every built-in type with
its restrictions (range, length, pattern, enumeration, bits, identityref bases,
instance-identifier syntax), and ``canonical``, the value that equal values share ("01" and
"1" for an integer), so that keys, unique constraints and leafrefs compare values rather
than text. A check gives a :class:`Bad` (why, with the restriction's own error-message and
error-app-tag) or None; turning that into an RpcError with a path is for the caller
(Validator.check_value, the structural checks of a run). It lives apart from the rest of
validation because it needs nothing but the schema: no tree, no XPath.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from agent.datastore.schema import Kind, Pattern, Restriction, Schema, SchemaNode, TypeSpec
from agent.datastore.xpathfn import identity_of, python_regex

_XML_SPACE = " \t\n\r"


# -- types --------------------------------------------------------------------------------

_INT_RE = re.compile(r"[+-]?[0-9]+")
_DEC_RE = re.compile(r"[+-]?([0-9]+)(?:\.([0-9]+))?")
_B64_RE = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_INT_BOUNDS = {  # int8 .. uint64: (lowest, highest)
    **{f"int{bits}": (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) for bits in (8, 16, 32, 64)},
    **{f"uint{bits}": (0, 2**bits - 1) for bits in (8, 16, 32, 64)},
}
_II_STEP = re.compile(r"/([\w.\-]+):([\w.\-]+)")
_II_PRED = re.compile(
    r"""\[\s*(?:(?P<pos>[1-9][0-9]*)|(?:(?P<dot>\.)|(?P<prefix>[\w.\-]+):(?P<name>[\w.\-]+))"""
    r"""\s*=\s*(?P<value>'[^']*'|"[^"]*"))\s*\]"""
)


@dataclass(frozen=True, slots=True)
class Bad:
    """Why a value is invalid, with the restriction's own error texts (RFC 7950 8.3.1)."""

    message: str
    app_tag: str | None = None


@dataclass(frozen=True, slots=True)
class InstanceStep:
    """One step of an instance-identifier: node, key values, value or position."""

    node: SchemaNode
    keys: tuple[tuple[SchemaNode, str], ...] = ()
    value: str | None = None  # [.='v'] of a leaf-list entry
    position: int | None = None


class TypeChecker:
    """Lexical and value-space checks of the YANG built-in types (RFC 7950 section 9).

    Integers and decimal64 accept surrounding XML whitespace, as libyang does and as the XSD
    types of the DSDL mapping (RFC 6110) do; every other lexical space is exact.
    """

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._regexes: dict[str, re.Pattern[str] | None] = {}
        self._checks: dict[str, Callable[[TypeSpec, str, Mapping[str | None, str]], Bad | None]] = {
            **dict.fromkeys(_INT_BOUNDS, self._int),
            "decimal64": self._decimal,
            "boolean": lambda _s, t, _n: (
                None if t in ("true", "false") else Bad(f"{t!r} is not a boolean (true or false)")
            ),
            "empty": lambda _s, t, _n: (
                None if t == "" else Bad(f"{t!r} given for a leaf of type empty")
            ),
            "enumeration": self._enum,
            "bits": self._bits,
            "binary": self._binary,
            "identityref": self._identityref,
            "instance-identifier": self._instance_identifier,
            "leafref": self._leafref,
            "union": self._union,
        }

    def check(self, spec: TypeSpec, text: str, nsmap: Mapping[str | None, str]) -> Bad | None:
        return self._checks.get(spec.base, self._string)(spec, text, nsmap)

    def canonical(self, spec: TypeSpec, text: str, nsmap: Mapping[str | None, str]) -> Hashable:
        """A value to compare equal values with (keys, unique, leafrefs): "01" = "1"."""
        base = spec.base
        if base in _INT_BOUNDS:
            return int(text.strip(_XML_SPACE)) if _INT_RE.fullmatch(text.strip()) else text
        if base == "decimal64":
            return Decimal(text.strip(_XML_SPACE)) if _DEC_RE.fullmatch(text.strip()) else text
        if base == "identityref":
            return identity_of(text, nsmap) or text
        if base == "bits":
            return frozenset(text.split())
        if base == "leafref" and spec.leafref_target and spec.leafref_target.type:
            return self.canonical(spec.leafref_target.type, text, nsmap)
        if base == "union":
            for member in spec.members:
                if self.check(member, text, nsmap) is None:
                    return self.canonical(member, text, nsmap)
        return text

    def _int(self, spec: TypeSpec, text: str, _nsmap: object) -> Bad | None:
        stripped = text.strip(_XML_SPACE)
        if not _INT_RE.fullmatch(stripped):
            return Bad(f"{text!r} is not an integer")
        value = int(stripped)
        lo, hi = _INT_BOUNDS[spec.base]
        if not lo <= value <= hi:
            return Bad(f"{text!r} is out of the {spec.base} range {lo}..{hi}")
        return _ranges(spec.ranges, value, text)

    def _decimal(self, spec: TypeSpec, text: str, _nsmap: object) -> Bad | None:
        stripped = text.strip(_XML_SPACE)
        match = _DEC_RE.fullmatch(stripped)
        digits = spec.fraction_digits or 1
        if match is None:
            return Bad(f"{text!r} is not a decimal number")
        if (match.group(2) or "")[digits:].strip("0"):
            return Bad(f"{text!r} has more than {digits} fraction digits")
        value = Decimal(stripped)
        if abs(value.scaleb(digits)) > 2**63 - (value > 0):
            return Bad(f"{text!r} is out of the decimal64 range")
        return _ranges(spec.ranges, value, text)

    def _string(self, spec: TypeSpec, text: str, _nsmap: object) -> Bad | None:
        bad = _ranges(spec.lengths, len(text), text, "length")
        if bad is not None:
            return bad
        for pattern in spec.patterns:
            if not self._matches(pattern, text):
                verb = "matches" if pattern.invert else "does not match"
                return Bad(
                    pattern.error_message or f"{text!r} {verb} pattern {pattern.regex!r}",
                    pattern.error_app_tag,
                )
        return None

    def _matches(self, pattern: Pattern, text: str) -> bool:
        if pattern.regex not in self._regexes:
            self._regexes[pattern.regex] = python_regex(pattern.regex)
        fast = self._regexes[pattern.regex]
        if fast is None:
            return pattern.matches(text)
        return (fast.fullmatch(text) is not None) is not pattern.invert

    def _binary(self, spec: TypeSpec, text: str, _nsmap: object) -> Bad | None:
        if not _B64_RE.fullmatch(text):
            return Bad("the value is not base64 (RFC 4648)")
        try:
            size = len(base64.b64decode(text, validate=True))
        except binascii.Error:
            return Bad("the value is not base64 (RFC 4648)")
        return _ranges(spec.lengths, size, f"{size} octets", "length")

    def _enum(self, spec: TypeSpec, text: str, _nsmap: object) -> Bad | None:
        if any(name == text for name, _ in spec.enums):
            return None
        return Bad(f"{text!r} is not one of {', '.join(n for n, _ in spec.enums)}")

    def _bits(self, spec: TypeSpec, text: str, _nsmap: object) -> Bad | None:
        names = text.split()
        known = {name for name, _ in spec.bits}
        unknown = [n for n in names if n not in known]
        if unknown:
            return Bad(f"{unknown[0]!r} is not a bit of {', '.join(sorted(known))}")
        if len(set(names)) != len(names):
            return Bad(f"{text!r} names a bit twice")
        return None

    def _identityref(
        self, spec: TypeSpec, text: str, nsmap: Mapping[str | None, str]
    ) -> Bad | None:
        ident = identity_of(text, nsmap)
        if ident is None or ident not in self.schema.identities:
            return Bad(f"{text!r} is not a known identity")
        for base in spec.identity_bases:
            if not self.schema.derived_from(ident, base):
                return Bad(f"{text!r} is not derived from identity {base[1]}")
        return None

    def _instance_identifier(
        self, _spec: TypeSpec, text: str, nsmap: Mapping[str | None, str]
    ) -> Bad | None:
        if self.instance_path(text, nsmap) is None:
            return Bad(f"{text!r} is not an instance-identifier of this schema")
        return None

    def _leafref(self, spec: TypeSpec, text: str, nsmap: Mapping[str | None, str]) -> Bad | None:
        target = spec.leafref_target
        if target is None or target.type is None:
            return None
        return self.check(target.type, text, nsmap)

    def _union(self, spec: TypeSpec, text: str, nsmap: Mapping[str | None, str]) -> Bad | None:
        if any(self.check(m, text, nsmap) is None for m in spec.members):
            return None
        return Bad(f"{text!r} matches no member type of {spec.name}")

    def instance_path(
        self, text: str, nsmap: Mapping[str | None, str]
    ) -> tuple[InstanceStep, ...] | None:
        """Parse an instance-identifier (RFC 7950 9.13, every name prefixed) against the
        schema; None when it is malformed or names no data node."""
        steps: list[InstanceStep] = []
        node, pos = self.schema.root, 0
        while pos < len(text):
            m = _II_STEP.match(text, pos)
            ns = nsmap.get(m.group(1)) if m else None
            child = node.children.get((ns, m.group(2))) if m and ns else None
            if m is None or child is None or not child.config:
                return None
            step, pos = self._ii_predicates(child, text, m.end(), nsmap)
            if step is None:
                return None
            steps.append(step)
            node = child
        return tuple(steps) if steps else None

    def _ii_predicates(
        self, node: SchemaNode, text: str, pos: int, nsmap: Mapping[str | None, str]
    ) -> tuple[InstanceStep | None, int]:
        keys: list[tuple[SchemaNode, str]] = []
        value: str | None = None
        position: int | None = None
        while (m := _II_PRED.match(text, pos)) is not None:
            pos = m.end()
            if m.group("pos"):
                position = int(m.group("pos"))
            elif m.group("dot"):
                value = m.group("value")[1:-1]
            else:
                key = node.children.get((nsmap.get(m.group("prefix")) or "", m.group("name")))
                if key is None or key.name not in node.keys or key in dict(keys):
                    return None, pos
                keys.append((key, m.group("value")[1:-1]))
        step = InstanceStep(node, tuple(keys), value, position)
        return (step if _ii_step_ok(step) else None), pos


def _ii_step_ok(step: InstanceStep) -> bool:
    """RFC 7950 9.13: a list step names all keys or a position, a leaf-list step a value or
    a position, any other step nothing."""
    node, keyed, valued, placed = (
        step.node,
        bool(step.keys),
        step.value is not None,
        step.position is not None,
    )
    if node.kind is Kind.LIST:
        complete = len(step.keys) == len(node.keys)
        return not valued and ((complete and not placed) or (placed and not keyed))
    if node.kind is Kind.LEAF_LIST:
        return not keyed and valued != placed
    return not (keyed or valued or placed)


def _ranges(
    restrictions: tuple[Restriction, ...], value: int | Decimal, text: str, what: str = "range"
) -> Bad | None:
    for r in restrictions:
        if not r.allows(value):
            shown = " | ".join(f"{lo}..{hi}" if lo != hi else f"{lo}" for lo, hi in r.intervals)
            return Bad(
                r.error_message or f"{text!r} is outside the {what} {shown}", r.error_app_tag
            )
    return None


def ns_sensitive(spec: TypeSpec | None) -> bool:
    """Whether values of the type need the element's namespaces (prefixes)."""
    if spec is None:
        return False
    if spec.base in ("identityref", "instance-identifier"):
        return True
    if spec.base == "leafref" and spec.leafref_target is not None:
        return ns_sensitive(spec.leafref_target.type)
    return any(ns_sensitive(m) for m in spec.members)


def plain(spec: TypeSpec | None) -> bool:
    """Whether canonical(text) is text itself, so that values compare as strings."""
    if spec is None:
        return False
    if spec.base == "leafref":
        target = spec.leafref_target
        return target is not None and plain(target.type)
    return spec.base in ("string", "enumeration", "boolean", "empty", "binary")
