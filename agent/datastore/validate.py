"""YANG 1.1 validation of a configuration datastore tree, in full or only what a change reaches.

API
---
``Validator(schema)``
    Compiles, once, every must, when and leafref path of the schema for lxml (with the YANG
    functions of :mod:`agent.datastore.xpathfn` registered) and works out which schema nodes
    each expression can read. A Validator serves one validation at a time (the datastore
    serialises commits). Between calls it keeps only hints for the last root: where each
    value of an absolute leafref path was found, re-checked on every use, so that a change
    that sets a leafref does not re-index all its targets.
``check_value(node, text, nsmap) -> RpcError | None``
    The type check of one leaf or leaf-list value; ``nsmap`` (the element's in-scope
    namespaces) resolves identityref and instance-identifier prefixes. None when valid.
``validate(root) -> list[RpcError]``
    The full check. ``root`` is the datastore element (any tag) whose children are the
    top-level nodes of the implemented modules, in NETCONF XML encoding. Returns every error
    found; an empty list means valid. ``root`` is left as it was given.
``validate_changes(root, changed, removed) -> list[RpcError]``
    The verdict of ``validate(root)`` when ``root`` was valid before an edit that created or
    modified the elements in ``changed`` (their ancestors implied; a listed element's whole
    subtree is re-checked) and deleted data of each ``(schema node, former parent)`` in
    ``removed``. It re-checks the changed subtrees, the constraints of their parents
    (keys, unique, min/max-elements, choices, mandatory nodes) and every must, when and
    leafref whose expression can read a changed or removed node, at the instances that can
    read it. A changed key leaf counts as its entry removed and created again. Elements of
    ``changed`` no longer in the tree, and removals from parents no longer in it, are
    ignored (a later part of the edit removed them).

Errors (error-type application; RFC 7950 section 15 and 8.3.1, RFC 6241 Appendix A)
-------------------------------------------------------------------------------------
==================================  ================  ==================  ==================
condition                           error-tag         error-app-tag       reference
==================================  ================  ==================  ==================
type, range, length, pattern        invalid-value     the restriction's   RFC 7950 8.3.1
unknown node, config false node     unknown-element   -                   RFC 7950 8.3.1
when false with the node present    unknown-element   -                   RFC 7950 8.3.1
list entry without all its keys     missing-element   -                   RFC 7950 8.3.1
mandatory leaf/anydata absent       missing-element   -                   RFC 6241 App. A
data in two cases of one choice     bad-element       -                   RFC 7950 8.3.1
second instance of a leaf/container bad-element       -                   RFC 7950 7.5, 7.6
duplicate list key/leaf-list value  operation-failed  data-not-unique     RFC 7950 7.7, 7.8.2
unique statement violated           operation-failed  data-not-unique     RFC 7950 15.1
max-elements exceeded               operation-failed  too-many-elements   RFC 7950 15.2
min-elements not reached            operation-failed  too-few-elements    RFC 7950 15.3
must false                          operation-failed  must-violation *    RFC 7950 15.4
leafref/instance-identifier target  data-missing      instance-required   RFC 7950 15.5
mandatory choice without a case     data-missing      missing-choice      RFC 7950 15.6
==================================  ================  ==================  ==================
(*) or the must's own error-app-tag; a must's or restriction's error-message replaces ours.
bad-element, missing-element and unknown-element carry ``<bad-element>``, unique and key
errors ``<non-unique>`` per leaf and a missing choice ``<missing-choice>`` (RFC 7950 15).
RFC 7950 names no error for three of these; the choices follow RFC 6241 Appendix A and
the nearest RFC 7950 rule: a missing mandatory leaf is "an expected element is missing"
(missing-element, as for a missing key in 8.3.1); a second instance of a single node is
present but not allowed, like data of a second case (bad-element); config false data is
"an unexpected element" (unknown-element), as a configuration datastore has no such node
(RFC 7950 7.21.1). A duplicate key or leaf-list value is a uniqueness violation (15.1).

Defaults
--------
XPath must see default values as if present (RFC 7950 6.4.1 "the data tree", 7.6.1). The
validator adds the defaults in use (with the non-presence containers holding them, and
those carrying a must, which exist whenever their parent does: RFC 7950 7.5.1) to the tree
itself just before it evaluates XPath and removes them afterwards, in a ``finally``. A full
validation adds the defaults in use that some expression can read (every one of them when
an expression uses deref(), // or another step the analysis cannot follow); a change
validation adds only those an expression it re-evaluates can reach, by following the
expression's location paths through the data. Defaults whose when is false are not in use
and are removed again before any must runs.

Cost
----
A full validation is linear in the tree. A change validation costs what the change
reaches: the changed subtrees, the musts/whens/leafrefs that can read what changed (at
the instances that can read it), and, for a created or removed list or leaf-list entry,
one C-level scan of its siblings for keys, unique values and counts (as edit.py's own
lookup of an entry by key). See tools/bench_validate.py.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import re
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from lxml import etree

from agent.datastore.schema import (
    DATA_KINDS,
    Kind,
    Pattern,
    Restriction,
    Schema,
    SchemaError,
    SchemaNode,
    TypeSpec,
    XPathExpr,
)
from agent.datastore.xpathfn import (
    PathVisitor,
    Ref,
    SchemaWalk,
    YangFunctions,
    identity_of,
    is_key,
    parse,
    python_regex,
    reaches,
    simple_path,
)
from agent.errors import (
    BadElement,
    DataMissing,
    ErrorType,
    InvalidValue,
    MissingElement,
    OperationFailed,
    RpcError,
    UnknownElement,
)
from agent.xmlutil import YANG_NS, Element

_APP = ErrorType.APPLICATION
_XML_SPACE = " \t\n\r"


# -- types --------------------------------------------------------------------------------

_INT_RE = re.compile(r"[+-]?[0-9]+")
_DEC_RE = re.compile(r"[+-]?([0-9]+)(?:\.([0-9]+))?")
_B64_RE = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_INT_BOUNDS = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint8": (0, 2**8 - 1),
    "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
}
_II_STEP = re.compile(r"/([\w.\-]+):([\w.\-]+)")
_II_PRED = re.compile(
    r"""\[\s*(?:(?P<pos>[1-9][0-9]*)|(?:(?P<dot>\.)|(?P<prefix>[\w.\-]+):(?P<name>[\w.\-]+))"""
    r"""\s*=\s*(?P<value>'[^']*'|"[^"]*"))\s*\]"""
)


@dataclass(frozen=True, slots=True)
class _Bad:
    """Why a value is invalid, with the restriction's own error texts (RFC 7950 8.3.1)."""

    message: str
    app_tag: str | None = None


@dataclass(frozen=True, slots=True)
class _IIStep:
    node: SchemaNode
    keys: tuple[tuple[SchemaNode, str], ...] = ()
    value: str | None = None  # [.='v'] of a leaf-list entry
    position: int | None = None


class _Types:
    """Lexical and value-space checks of the YANG built-in types (RFC 7950 section 9).

    Integers and decimal64 accept surrounding XML whitespace, as libyang does and as the XSD
    types of the DSDL mapping (RFC 6110) do; every other lexical space is exact.
    """

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._regexes: dict[str, re.Pattern[str] | None] = {}
        self._checks: dict[str, Callable[[TypeSpec, str, Mapping[str | None, str]],
                                         _Bad | None]] = {
            **dict.fromkeys(_INT_BOUNDS, self._int),
            "decimal64": self._decimal,
            "boolean": lambda _s, t, _n: None if t in ("true", "false") else _Bad(
                f"{t!r} is not a boolean (true or false)"),
            "empty": lambda _s, t, _n: None if t == "" else _Bad(
                f"{t!r} given for a leaf of type empty"),
            "enumeration": self._enum,
            "bits": self._bits,
            "binary": self._binary,
            "identityref": self._identityref,
            "instance-identifier": self._instance_identifier,
            "leafref": self._leafref,
            "union": self._union,
        }

    def check(self, spec: TypeSpec, text: str, nsmap: Mapping[str | None, str]) -> _Bad | None:
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

    def _int(self, spec: TypeSpec, text: str, _nsmap: object) -> _Bad | None:
        stripped = text.strip(_XML_SPACE)
        if not _INT_RE.fullmatch(stripped):
            return _Bad(f"{text!r} is not an integer")
        value = int(stripped)
        lo, hi = _INT_BOUNDS[spec.base]
        if not lo <= value <= hi:
            return _Bad(f"{text!r} is out of the {spec.base} range {lo}..{hi}")
        return _ranges(spec.ranges, value, text)

    def _decimal(self, spec: TypeSpec, text: str, _nsmap: object) -> _Bad | None:
        stripped = text.strip(_XML_SPACE)
        match = _DEC_RE.fullmatch(stripped)
        digits = spec.fraction_digits or 1
        if match is None:
            return _Bad(f"{text!r} is not a decimal number")
        if (match.group(2) or "")[digits:].strip("0"):
            return _Bad(f"{text!r} has more than {digits} fraction digits")
        value = Decimal(stripped)
        if abs(value.scaleb(digits)) > 2**63 - (value > 0):
            return _Bad(f"{text!r} is out of the decimal64 range")
        return _ranges(spec.ranges, value, text)

    def _string(self, spec: TypeSpec, text: str, _nsmap: object) -> _Bad | None:
        bad = _ranges(spec.lengths, len(text), text, "length")
        if bad is not None:
            return bad
        for pattern in spec.patterns:
            if not self._matches(pattern, text):
                verb = "matches" if pattern.invert else "does not match"
                return _Bad(pattern.error_message or f"{text!r} {verb} pattern {pattern.regex!r}",
                            pattern.error_app_tag)
        return None

    def _matches(self, pattern: Pattern, text: str) -> bool:
        if pattern.regex not in self._regexes:
            self._regexes[pattern.regex] = python_regex(pattern.regex)
        fast = self._regexes[pattern.regex]
        if fast is None:
            return pattern.matches(text)
        return (fast.fullmatch(text) is not None) is not pattern.invert

    def _binary(self, spec: TypeSpec, text: str, _nsmap: object) -> _Bad | None:
        if not _B64_RE.fullmatch(text):
            return _Bad("the value is not base64 (RFC 4648)")
        try:
            size = len(base64.b64decode(text, validate=True))
        except binascii.Error:
            return _Bad("the value is not base64 (RFC 4648)")
        return _ranges(spec.lengths, size, f"{size} octets", "length")

    def _enum(self, spec: TypeSpec, text: str, _nsmap: object) -> _Bad | None:
        if any(name == text for name, _ in spec.enums):
            return None
        return _Bad(f"{text!r} is not one of {', '.join(n for n, _ in spec.enums)}")

    def _bits(self, spec: TypeSpec, text: str, _nsmap: object) -> _Bad | None:
        names = text.split()
        known = {name for name, _ in spec.bits}
        unknown = [n for n in names if n not in known]
        if unknown:
            return _Bad(f"{unknown[0]!r} is not a bit of {', '.join(sorted(known))}")
        if len(set(names)) != len(names):
            return _Bad(f"{text!r} names a bit twice")
        return None

    def _identityref(self, spec: TypeSpec, text: str,
                     nsmap: Mapping[str | None, str]) -> _Bad | None:
        ident = identity_of(text, nsmap)
        if ident is None or ident not in self.schema.identities:
            return _Bad(f"{text!r} is not a known identity")
        for base in spec.identity_bases:
            if not self.schema.derived_from(ident, base):
                return _Bad(f"{text!r} is not derived from identity {base[1]}")
        return None

    def _instance_identifier(self, _spec: TypeSpec, text: str,
                             nsmap: Mapping[str | None, str]) -> _Bad | None:
        if self.instance_path(text, nsmap) is None:
            return _Bad(f"{text!r} is not an instance-identifier of this schema")
        return None

    def _leafref(self, spec: TypeSpec, text: str,
                 nsmap: Mapping[str | None, str]) -> _Bad | None:
        target = spec.leafref_target
        if target is None or target.type is None:
            return None
        return self.check(target.type, text, nsmap)

    def _union(self, spec: TypeSpec, text: str, nsmap: Mapping[str | None, str]) -> _Bad | None:
        if any(self.check(m, text, nsmap) is None for m in spec.members):
            return None
        return _Bad(f"{text!r} matches no member type of {spec.name}")

    def instance_path(self, text: str,
                      nsmap: Mapping[str | None, str]) -> tuple[_IIStep, ...] | None:
        """Parse an instance-identifier (RFC 7950 9.13, every name prefixed) against the
        schema; None when it is malformed or names no data node."""
        steps: list[_IIStep] = []
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

    def _ii_predicates(self, node: SchemaNode, text: str, pos: int,
                       nsmap: Mapping[str | None, str]) -> tuple[_IIStep | None, int]:
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
        step = _IIStep(node, tuple(keys), value, position)
        return (step if _ii_step_ok(step) else None), pos


def _ii_step_ok(step: _IIStep) -> bool:
    """RFC 7950 9.13: a list step names all keys or a position, a leaf-list step a value or
    a position, any other step nothing."""
    node, keyed, valued, placed = step.node, bool(step.keys), step.value is not None, \
        step.position is not None
    if node.kind is Kind.LIST:
        complete = len(step.keys) == len(node.keys)
        return not valued and ((complete and not placed) or (placed and not keyed))
    if node.kind is Kind.LEAF_LIST:
        return not keyed and valued != placed
    return not (keyed or valued or placed)


def _ranges(restrictions: tuple[Restriction, ...], value: int | Decimal, text: str,
            what: str = "range") -> _Bad | None:
    for r in restrictions:
        if not r.allows(value):
            shown = " | ".join(f"{lo}..{hi}" if lo != hi else f"{lo}" for lo, hi in r.intervals)
            return _Bad(r.error_message or f"{text!r} is outside the {what} {shown}",
                        r.error_app_tag)
    return None


# -- compiled schema information ------------------------------------------------------------


@dataclass(eq=False, slots=True)
class _Expr:
    kind: str  # must, when or leafref
    owner: SchemaNode
    source: XPathExpr
    xpath: etree.XPath
    ast: object
    nsmap: dict[str, str]
    parent_context: bool  # evaluated at the owner's data parent (uses/augment/choice/case)
    refs: tuple[Ref, ...] = ()
    opaque: bool = False  # reads nodes the analysis cannot name (deref, *, //, other axes)
    reads_defaults: bool = False


@dataclass(eq=False, slots=True)
class _Info:
    depth: int
    gates: tuple[_Expr, ...] = ()  # the whens deciding whether the node may exist
    musts: tuple[_Expr, ...] = ()
    leafref: _Expr | None = None
    simple: tuple[bool, int, tuple[tuple[str, str], ...]] | None = None  # plain leafref path
    keys: tuple[SchemaNode, ...] = ()
    uniques: tuple[tuple[tuple[SchemaNode, ...], ...], ...] = ()
    implicit: tuple[SchemaNode, ...] = ()  # children that exist without being written
    materialise: tuple[SchemaNode, ...] = ()  # those of them some expression can read
    required: bool = False  # its absence can be an error
    implicit_here: bool = False  # it can exist without being written (a default, ...)
    case_nodes: tuple[SchemaNode, ...] = ()  # a choice's or case's data nodes
    ns_values: bool = False  # values need the element's nsmap (identityref, ...)
    plain: bool = False  # a value's text is its canonical form (strings, enumerations)
    leafy: bool = False  # a leaf or leaf-list
    inner: bool = False  # a container or list: its instances have children to check
    counted: bool = False  # a list or leaf-list: its instances are checked together
    # the structural pass checks the value's type (not for a string that takes any text,
    # nor a leafref that must match a target: check_leafref checks those)
    typed: bool = False
    has_exprs: bool = False
    requirements: tuple[SchemaNode, ...] = ()  # choices and children whose absence can be wrong
    by_tag: dict[str, SchemaNode] = field(default_factory=dict)  # children by Clark tag
    defaults: tuple[str, ...] = ()  # the default values a missing instance stands for
    default_nsmap: dict[str, str] | None = None  # their prefixes, when they have any


@functools.lru_cache(maxsize=4096)
def _split_tag(tag: str) -> tuple[str, str]:
    """(namespace, local name) of a Clark-notation tag, memoised: tags repeat a lot."""
    if tag[:1] == "{":
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _ns_sensitive(spec: TypeSpec | None) -> bool:
    if spec is None:
        return False
    if spec.base in ("identityref", "instance-identifier"):
        return True
    if spec.base == "leafref" and spec.leafref_target is not None:
        return _ns_sensitive(spec.leafref_target.type)
    return any(_ns_sensitive(m) for m in spec.members)


def _plain(spec: TypeSpec | None) -> bool:
    """Whether canonical(text) is text itself, so that values compare as strings."""
    if spec is None:
        return False
    if spec.base == "leafref":
        target = spec.leafref_target
        return target is not None and _plain(target.type)
    return spec.base in ("string", "enumeration", "boolean", "empty", "binary")


def _case_data(node: SchemaNode) -> Iterator[SchemaNode]:
    for child in node.ordered:
        if child.kind in (Kind.CHOICE, Kind.CASE):
            yield from _case_data(child)
        else:
            yield child


class _Paths:
    """Instance paths for error-path: /p:list[p:key='v']/p:leaf, prefixes of the modules."""

    def __init__(self, schema: Schema) -> None:
        self.prefix = {m.namespace: m.prefix for m in schema.modules.values()}

    def of(self, run: _Run, el: Element, tail: Iterable[SchemaNode] = ()
           ) -> tuple[str, dict[str, str]]:
        chain: list[Element] = []
        cur: Element | None = el
        while cur is not None and cur is not run.root:
            chain.append(cur)
            cur = cur.getparent()
        parts: list[str] = []
        used: dict[str, str] = {}
        node: SchemaNode | None = run.v.schema.root
        for e in reversed(chain):
            ns, name = _split_tag(e.tag)
            node = node.children.get((ns, name)) if node is not None else None
            parts.append(self._step(e, ns, name, node, used))
        for t in tail:
            if t.kind not in (Kind.CHOICE, Kind.CASE):
                parts.append(self._name(t.namespace, t.name, used))
        return "/" + "/".join(parts), used

    def _name(self, ns: str, name: str, used: dict[str, str]) -> str:
        prefix = self.prefix.get(ns)
        if prefix is None:
            return name if not ns else f"*[local-name()={_quote(name)}]"
        used[prefix] = ns
        return f"{prefix}:{name}"

    def _step(self, e: Element, ns: str, name: str, node: SchemaNode | None,
              used: dict[str, str]) -> str:
        step = self._name(ns, name, used)
        if node is not None and node.kind is Kind.LIST:
            for key in node.keys:
                value = next(e.iterchildren(f"{{{node.namespace}}}{key}"), None)
                if value is not None:
                    step += f"[{self._name(node.namespace, key, used)}={_quote(value.text or '')}]"
        elif node is not None and node.kind is Kind.LEAF_LIST:
            step += f"[.={_quote(e.text or '')}]"
        return step


def _quote(value: str) -> str:
    return f"'{value}'" if "'" not in value else f'"{value}"'


class Validator:
    """Validates datastore trees against one compiled schema (see the module docstring)."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.types = _Types(schema)
        self.paths = _Paths(schema)
        self.run: _Run | None = None
        self.functions = YangFunctions(schema, self._locate, self._deref)
        self.info: dict[SchemaNode, _Info] = {}
        self._xpaths: dict[tuple[int, str], tuple[object, etree.XPath]] = {}
        self._related: dict[SchemaNode, list[tuple[_Expr, Ref]]] = {}
        self._case_related: dict[SchemaNode, list[tuple[_Expr, Ref]]] = {}
        self._counters: dict[SchemaNode, etree.XPath] = {}
        self._lasting_root: Element | None = None
        self._lasting: dict[tuple[tuple[str, str], ...], dict[Hashable, Element]] = {}
        self._build()

    # -- public API -----------------------------------------------------------------------

    def check_value(self, node: SchemaNode, text: str,
                    nsmap: Mapping[str | None, str]) -> RpcError | None:
        """The type check of one leaf or leaf-list value; None when it is valid."""
        if node.type is None:
            return None
        bad = self.types.check(node.type, text, nsmap)
        if bad is None:
            return None
        prefixes = {m.prefix: m.namespace for m in self.schema.modules.values()}
        return InvalidValue(f"{node.name}: {bad.message}", error_type=_APP, app_tag=bad.app_tag,
                            path=node.path(), path_ns=prefixes)

    def validate(self, root: Element) -> list[RpcError]:
        """Every error of the datastore ``root``; empty when it is valid."""
        return _Run(self, root).full()

    def validate_changes(self, root: Element, changed: Iterable[Element],
                         removed: Iterable[tuple[SchemaNode, Element]], *,
                         keys_unique: bool = False) -> list[RpcError]:
        """The verdict of validate(root) for a valid tree after an edit, at the cost of the
        constraints the edit can reach.

        ``keys_unique``: the edit cannot have given two list entries one key or a leaf-list
        one value twice (edit.py finds the existing entry first), so the scan of the
        siblings for duplicates, the one cost here that grows with the list, is skipped."""
        run = _Run(self, root)
        run.keys_unique = keys_unique
        return run.changes(list(changed), list(removed))

    # -- for the run and the XPath functions ------------------------------------------------

    def _locate(self, el: Element) -> SchemaNode | None:
        return self.run.locate(el) if self.run is not None else None

    def _deref(self, el: Element) -> list[Element]:
        return self.run.deref(el) if self.run is not None else []

    def case_related(self, node: SchemaNode) -> list[tuple[_Expr, Ref]]:
        """The expressions reading the other nodes of the choices around ``node``: adding
        or removing it can switch the active case, and with it which defaults are in use."""
        hit = self._case_related.get(node)
        if hit is None:
            hit = []
            for choice, _case in node.choice_path:
                for other in self.info[choice].case_nodes:
                    if other is not node:
                        for below in other.walk():
                            hit.extend(self._by_ref.get(below, ()))
            self._case_related[node] = hit
        return hit

    def count(self, parent: Element, node: SchemaNode) -> int:
        """How many ``node`` children ``parent`` has, counted by libxml2."""
        xpath = self._counters.get(node)
        if xpath is None:
            xpath = etree.XPath(f"count(n:{node.name})", namespaces={"n": node.namespace})
            self._counters[node] = xpath
        return int(xpath(parent))  # type: ignore[arg-type]

    def lasting_targets(self, root: Element, steps: tuple[tuple[str, str], ...]
                        ) -> dict[Hashable, Element]:
        """value -> target element of an absolute leafref path, kept between runs on the
        same root so that a change does not rebuild it; entries are hints, checked on use."""
        if self._lasting_root is not root:
            self._lasting_root, self._lasting = root, {}
        return self._lasting.setdefault(steps, {})

    def related(self, node: SchemaNode) -> list[tuple[_Expr, Ref]]:
        """The expressions reading ``node``, an ancestor or a descendant of it."""
        hit = self._related.get(node)
        if hit is None:
            hit = []
            up: SchemaNode | None = node
            while up is not None:
                hit.extend(self._by_ref.get(up, ()))
                up = up.data_parent
            for below in node.walk():
                if below is not node:
                    hit.extend(self._by_ref.get(below, ()))
            self._related[node] = hit
        return hit

    # -- compilation ----------------------------------------------------------------------

    def _build(self) -> None:
        nodes = [n for n in self.schema.root.walk() if n.config]
        for node in nodes:
            up = node.data_parent
            depth = 0 if up is None else self.info[up].depth + (
                0 if node.kind in (Kind.CHOICE, Kind.CASE) else 1)
            self.info[node] = _Info(depth)
        for node in reversed(nodes):  # children before parents
            self._structure(node)
        self._by_ref: dict[SchemaNode, list[tuple[_Expr, Ref]]] = {}
        self.opaque: list[_Expr] = []
        self.instance_ids: list[SchemaNode] = []
        for node in nodes:
            self._expressions(node)
        readable = self._readable()
        for node in nodes:
            info = self.info[node]
            info.materialise = tuple(c for c in info.implicit if c in readable)

    def _readable(self) -> set[SchemaNode]:
        """The nodes some expression can read (with what is inside them: a node's string
        value is its text), the containers of implicit musts, and their ancestors: only
        those defaults need to exist while XPath runs."""
        read = {ref.node for refs in self._by_ref.values() for _, ref in refs}
        read |= {n for n, info in self.info.items() if info.musts and n.kind is Kind.CONTAINER}
        out: set[SchemaNode] = set()
        for node in read:
            out.update(node.walk())
            up = node.data_parent
            while up is not None and up not in out:
                out.add(up)
                up = up.data_parent
        return out

    def _structure(self, node: SchemaNode) -> None:
        info = self.info[node]
        children = [c for c in node.children.values() if c.config]
        info.implicit = tuple(c for c in children if self._implicit(c))
        info.implicit_here = self._implicit(node)
        info.case_nodes = tuple(_case_data(node)) if node.kind in (Kind.CHOICE, Kind.CASE) else ()
        info.required = self._required(node)
        info.by_tag = {c.qname: c for c in node.children.values()}
        info.requirements = tuple(c for c in node.ordered if c.config and (
            c.kind is Kind.CHOICE or self.info[c].required))
        info.defaults = node.default[:1] if node.kind is Kind.LEAF else node.default
        if any(":" in d for d in info.defaults):
            info.default_nsmap = dict(node.default_namespaces)
        info.ns_values = _ns_sensitive(node.type)
        info.plain = _plain(node.type)
        info.leafy = node.kind in (Kind.LEAF, Kind.LEAF_LIST)
        info.inner = node.kind in (Kind.CONTAINER, Kind.LIST)
        info.counted = node.kind in (Kind.LIST, Kind.LEAF_LIST)
        spec = node.type
        info.typed = spec is not None and not (
            (spec.base == "string" and not (spec.lengths or spec.patterns))
            or (spec.base == "leafref" and spec.require_instance))
        if node.kind is Kind.LIST:
            by_name = {c.name: c for c in children}
            info.keys = tuple(by_name[k] for k in node.keys if k in by_name)
            info.uniques = tuple(tuple(self._descend(node, p) for p in u) for u in node.unique)

    def _implicit(self, node: SchemaNode) -> bool:
        """Exists without being written: a default, or a non-presence container with
        something implicit inside or a must of its own (RFC 7950 7.5.1, 7.6.1, 7.7.2)."""
        if node.kind in (Kind.LEAF, Kind.LEAF_LIST):
            return bool(node.default)
        if node.kind is Kind.CONTAINER and not node.presence:
            return bool(self.info[node].implicit or node.musts)
        return False

    def _required(self, node: SchemaNode) -> bool:
        if node.kind in (Kind.LEAF, Kind.ANYDATA, Kind.ANYXML, Kind.CHOICE):
            return node.mandatory
        if node.kind in (Kind.LIST, Kind.LEAF_LIST):
            return node.min_elements > 0
        if node.kind is Kind.CONTAINER and not node.presence:
            return any(self.info[c].required for c in node.ordered if c in self.info)
        return False

    def _descend(self, node: SchemaNode, path: str) -> tuple[SchemaNode, ...]:
        """The data nodes of a unique statement's descendant schema node identifier, e.g.
        "a/b" or, through a choice and a case, "a/choice/case/b" (RFC 7950 7.8.3)."""
        out: list[SchemaNode] = []
        for part in path.split("/"):
            name = part.split(":")[-1]
            node = next(c for c in node.ordered if c.name == name)
            if node.kind not in (Kind.CHOICE, Kind.CASE):
                out.append(node)
        return tuple(out)

    def _expressions(self, node: SchemaNode) -> None:
        info = self.info[node]
        if node.kind in DATA_KINDS or (node.kind is Kind.CHOICE and node.mandatory):
            info.gates = tuple(self._gates(node))
        info.musts = tuple(self._expr("must", m, node, False) for m in node.musts)
        spec = node.type
        if spec is not None and spec.base == "leafref" and spec.leafref is not None:
            info.leafref = self._expr("leafref", spec.leafref, node, False)
            info.simple = simple_path(info.leafref.ast, info.leafref.nsmap)
        if spec is not None and spec.base == "instance-identifier" and spec.require_instance:
            self.instance_ids.append(node)
        info.has_exprs = bool(info.gates or info.musts or info.leafref) or (
            spec is not None and spec.base == "instance-identifier")

    def _gates(self, node: SchemaNode) -> Iterator[_Expr]:
        if node.when is not None:
            yield self._expr("when", node.when, node, node.kind is Kind.CHOICE)
        holders = [node, *(x for pair in node.choice_path for x in pair)]
        for holder in holders:
            if holder is not node and holder.when is not None:
                yield self._expr("when", holder.when, node, True)
            for when in holder.parent_whens:
                yield self._expr("when", when, node, True)

    def _expr(self, kind: str, source: XPathExpr, owner: SchemaNode, parent_context: bool) -> _Expr:
        ast, xpath = self._compile(source, kind)
        nsmap = source.nsmap
        context = owner.data_parent if parent_context else owner
        walk = SchemaWalk(nsmap, self.schema.root, lambda n: self.info[n].depth,
                           kind == "leafref")
        if context is not None:
            start = (context, self.info[context].depth if context in self.info else 0)
            walk.nodes(ast, start, start)  # type: ignore[arg-type]
        expr = _Expr(kind, owner, source, xpath, ast, nsmap, parent_context, tuple(walk.refs),
                     walk.is_opaque)
        expr.reads_defaults = walk.is_opaque or any(
            r.node.kind in (Kind.LEAF, Kind.LEAF_LIST, Kind.CONTAINER) and self._implicit(r.node)
            for r in walk.refs)
        if expr.opaque:
            self.opaque.append(expr)
        for ref in expr.refs:
            self._by_ref.setdefault(ref.node, []).append((expr, ref))
        return expr

    def _compile(self, source: XPathExpr, kind: str) -> tuple[object, etree.XPath]:
        key = (id(source), kind)
        if key not in self._xpaths:
            try:
                parsed = parse(source.expr)
                text = parsed.lxml if kind == "leafref" else f"boolean({parsed.lxml})"
                xpath = etree.XPath(text, namespaces=source.nsmap, smart_strings=False,
                                    extensions=self.functions.extensions(source.nsmap))
            except (ValueError, etree.XPathSyntaxError) as exc:
                raise SchemaError(f"cannot compile XPath {source.source!r}: {exc}") from None
            self._xpaths[key] = (parsed.ast, xpath)
        return self._xpaths[key]


# -- one validation ---------------------------------------------------------------------------

_Chain = tuple[SchemaNode, ...]  # absent non-presence containers, then a missing node


_NO_CHILDREN: dict[SchemaNode, list[Element]] = {}


def _nothing(_node: SchemaNode) -> bool:
    return False


class _Parents(dict[Element, tuple[list[tuple[SchemaNode, Element]], set[SchemaNode]]]):
    """Per parent of a change: its created or modified children and its removed nodes.
    Keyed by element: lxml gives one proxy per node while a reference lives."""

    def _entry(self, parent: Element) -> tuple[list[tuple[SchemaNode, Element]], set[SchemaNode]]:
        if parent not in self:
            self[parent] = ([], set())
        return self[parent]

    def created(self, parent: Element, node: SchemaNode, el: Element) -> None:
        self._entry(parent)[0].append((node, el))

    def gone(self, parent: Element, node: SchemaNode) -> None:
        self._entry(parent)[1].add(node)


class _Run:
    """The state of one validate()/validate_changes() call."""

    def __init__(self, v: Validator, root: Element) -> None:
        self.v = v
        self.root = root
        self.info = v.info
        self.errors: list[RpcError] = []
        # visited interior nodes, with their children's schema nodes
        self.containers: list[tuple[Element, SchemaNode, Mapping[SchemaNode, object]]] = []
        self.owners: list[tuple[SchemaNode, Element]] = []  # instances with expressions
        self.deferred: list[tuple[Element, _Chain]] = []  # requirements behind a when
        self.added: list[Element] = []  # materialised defaults, removed at the end
        self.pending: list[tuple[SchemaNode, Element]] = []  # materialised, when not checked
        self.xpath_ready = False
        self.everything = False  # every default in use is materialised
        self._targets: dict[tuple[object, int], tuple[Element, set[Hashable]]] = {}
        self._added_ids: set[int] = set()
        self._memo: dict[tuple[int, int], tuple[Element, bool]] = {}
        self.keys_unique = False  # see Validator.validate_changes

    # -- entry points -------------------------------------------------------------------

    def full(self) -> list[RpcError]:
        self.check_element(self.root, self.v.schema.root)
        with self._xpath_phase():
            everything = bool(self.v.opaque)
            for el, node, present in self.containers:
                self._add_implicit(el, node, present.__contains__, everything)
            self.everything = True
            self._settle()
            for node, el in self.owners:
                self.evaluate_instance(node, el)
            self._evaluate_deferred()
        return self._result()

    def changes(self, changed: list[Element], removed: list[tuple[SchemaNode, Element]]
                ) -> list[RpcError]:
        touched, parents = self._collect(changed, removed)
        for parent, (created, gone) in parents.items():
            self._check_parent(parent, created, gone)
        for node, el, was_removed in touched:
            self._recheck_unique(node, el, was_removed)
        with self._xpath_phase():
            for el, node, present in self.containers:
                self._add_implicit(el, node, present.__contains__, bool(self.v.opaque))
            self._settle()
            jobs = _Jobs(self)
            for node, el in self.owners:
                jobs.instance(node, el)
            jobs.schedule(touched)
            jobs.execute()
            self._evaluate_deferred()
        return self._result()

    def _collect(self, changed: list[Element], removed: list[tuple[SchemaNode, Element]]
                 ) -> tuple[list[tuple[SchemaNode, Element, bool]], _Parents]:
        """Check the changed subtrees; return what changed (node, element or former
        parent, removed?) and, per parent, its created children and removed nodes."""
        touched: list[tuple[SchemaNode, Element, bool]] = []
        parents = _Parents()
        for el in self._tops(changed):
            node = self.locate(el)
            if node is None or not node.config:
                self._unknown(el, node)
                continue
            touched.append((node, el, False))
            parents.created(el.getparent(), node, el)
            self.check_instance(el, node)
            if is_key(node):  # a new key value: the entry is new, and the old one is gone
                entry, lst = el.getparent(), node.parent
                assert lst is not None
                touched.append((lst, entry.getparent(), True))
                parents.created(entry.getparent(), lst, entry)
        for node, parent in removed:
            if self._attached(parent):  # else an ancestor was removed by the edit too
                touched.append((node, parent, True))
                parents.gone(parent, node)
        return touched, parents

    def _tops(self, changed: list[Element]) -> list[Element]:
        """The listed elements still in the tree and not inside another listed one (a
        listed element's whole subtree is checked)."""
        listed = {id(e) for e in changed}
        out: dict[int, Element] = {}
        for el in changed:
            up, inside = el.getparent(), False
            while up is not None and up is not self.root:
                inside = inside or id(up) in listed
                up = up.getparent()
            if up is self.root and not inside:
                out.setdefault(id(el), el)
        return list(out.values())

    def _attached(self, el: Element) -> bool:
        while el is not self.root:
            up = el.getparent()
            if up is None:
                return False
            el = up
        return True

    def _result(self) -> list[RpcError]:
        seen: set[tuple[object, ...]] = set()
        out = []
        for e in self.errors:
            key = (e.tag, e.app_tag, e.path, e.message)
            if key not in seen:
                seen.add(key)
                out.append(e)
        return out

    # -- lookups --------------------------------------------------------------------------

    def locate(self, el: Element) -> SchemaNode | None:
        """The schema node of an element of this tree (None when unknown or outside)."""
        chain: list[Element] = []
        cur: Element | None = el
        while cur is not None and cur is not self.root:
            chain.append(cur)
            cur = cur.getparent()
        if cur is None:
            return None
        node: SchemaNode | None = self.v.schema.root
        for e in reversed(chain):
            if node is None or not isinstance(e.tag, str):
                return None
            node = node.children.get(_split_tag(e.tag))
        return node

    def has(self, el: Element, node: SchemaNode) -> bool:
        return next(el.iterchildren(node.qname), None) is not None

    def _nsmap(self, el: Element, node: SchemaNode) -> Mapping[str | None, str]:
        return el.nsmap if self.info[node].ns_values else {}

    def _value(self, el: Element, node: SchemaNode) -> Hashable:
        info = self.info[node]
        if info.plain:
            return el.text or ""
        assert node.type is not None
        return self.v.types.canonical(node.type, el.text or "",
                                      el.nsmap if info.ns_values else {})

    # -- errors ---------------------------------------------------------------------------

    def _error(self, cls: type[RpcError], message: str, el: Element,
               tail: Iterable[SchemaNode] = (), *, app_tag: str | None = None,
               info: Iterable[tuple[str, str, str]] = ()) -> None:
        path, ns = self.v.paths.of(self, el, tail)
        self.errors.append(cls(message, error_type=_APP, app_tag=app_tag, path=path,
                               path_ns=ns, info=info))

    def _unknown(self, el: Element, node: SchemaNode | None) -> None:
        name = _split_tag(el.tag)[1] if isinstance(el.tag, str) else "?"
        why = "is state data (config false)" if node is not None else "is not in the schema"
        self._error(UnknownElement, f"element {name!r} {why}", el,
                    info=[("", "bad-element", name)])

    def _non_unique(self, message: str, el: Element, leaves: Iterable[Element]) -> None:
        info = [(YANG_NS, "non-unique", self.v.paths.of(self, leaf)[0]) for leaf in leaves]
        self._error(OperationFailed, message, el, app_tag="data-not-unique", info=info)

    # -- structure: the children of one element ---------------------------------------------

    def check_element(self, el: Element, node: SchemaNode) -> dict[SchemaNode, list[Element]]:
        """Check the children of ``el`` (the root, a container or a list entry), deeply;
        return them by schema node. The hottest loop of a full validation: kept flat."""
        groups: dict[SchemaNode, list[Element]] = {}
        self.containers.append((el, node, groups))
        children = self.info[node].by_tag
        for child in el:
            cnode = children.get(child.tag)  # type: ignore[call-overload]
            if cnode is not None and cnode.config:
                if cnode in groups:
                    groups[cnode].append(child)
                else:
                    groups[cnode] = [child]
            elif isinstance(child.tag, str):
                self._unknown(child, cnode)
        for cnode, els in groups.items():
            info = self.info[cnode]
            if info.inner:
                inner = [self.check_instance(child, cnode) for child in els]
            else:
                inner = []
                if info.has_exprs:
                    self.owners.extend((cnode, child) for child in els)
                if info.leafy:
                    self._check_leaves(cnode, els, info)
            if len(els) > 1 or info.counted:
                self._check_group(el, cnode, els, inner)
        if self.info[node].requirements:
            self._require_in(el, self.info[node].requirements, groups.__contains__, True, ())
        return groups

    def check_instance(self, el: Element, node: SchemaNode) -> dict[SchemaNode, list[Element]]:
        """Check one instance (deeply); return its children by schema node."""
        info = self.info[node]
        if info.has_exprs:
            self.owners.append((node, el))
        if info.inner:
            return self.check_element(el, node)
        if info.leafy:
            self._check_leaves(node, [el], info)
        return _NO_CHILDREN

    def _check_leaves(self, node: SchemaNode, els: list[Element], info: _Info) -> None:
        for el in els:
            if len(el):
                self._error(InvalidValue, f"{node.name} has child elements", el)
            elif info.typed:
                self._check_value(el, node)

    def _check_value(self, el: Element, node: SchemaNode) -> None:
        assert node.type is not None
        bad = self.v.types.check(node.type, el.text or "", self._nsmap(el, node))
        if bad is not None:
            self._error(InvalidValue, f"{node.name}: {bad.message}", el, app_tag=bad.app_tag)

    def _check_parent(self, parent: Element, created: list[tuple[SchemaNode, Element]],
                      gone: set[SchemaNode]) -> None:
        """The constraints between changed elements and their siblings. A removal cannot
        break keys or uniqueness, only counts and mandatory nodes."""
        pnode = self.locate(parent) if parent is not self.root else self.v.schema.root
        if pnode is None:
            return
        if pnode.kind is Kind.LIST and any(is_key(n) for n in gone):
            keys = self.info[pnode].keys
            self._keys_present(pnode, parent, keys,
                               [next(parent.iterchildren(k.qname), None) for k in keys])
        for node, el in created:
            self._check_siblings(parent, node, el)
        for node in {n for n, _ in created} | gone:
            if node.max_elements is not None or node.min_elements:
                self._check_counts(parent, node, self.v.count(parent, node))
        self.require_all(parent, pnode)

    def _check_siblings(self, parent: Element, node: SchemaNode, el: Element) -> None:
        """One changed instance against the others: keys, leaf-list values, single nodes.
        As in a full check, every instance but the first of a value is the one in error."""
        if self.keys_unique and node.kind in (Kind.LIST, Kind.LEAF_LIST):
            return
        if node.kind is Kind.LIST:
            keys = self.info[node].keys
            leaves = [next(el.iterchildren(k.qname), None) for k in keys]
            if not keys or not self._keys_present(node, el, keys, leaves):
                return
            want = tuple(self._value(leaf, k) for leaf, k in zip(leaves, keys, strict=True))
            same = [e for e in self._entries_with(parent, node, (keys[0],), want[0])
                    if self._key_of(e, keys) == want]
            for dup in same[1:]:
                self._non_unique(f"two {node.name} entries have the same key", dup,
                                 [next(dup.iterchildren(k.qname)) for k in keys])
        elif node.kind is Kind.LEAF_LIST:
            want = self._value(el, node)
            same = [c for c in parent.iterchildren(node.qname) if self._value(c, node) == want]
            for dup in same[1:]:
                self._non_unique(f"{node.name} has the value {dup.text!r} twice", dup, [dup])
        else:
            for dup in list(parent.iterchildren(node.qname))[1:]:
                self._error(BadElement, f"{node.name} appears more than once", dup,
                            info=[("", "bad-element", node.name)])

    def _entries_with(self, parent: Element, node: SchemaNode, chain: tuple[SchemaNode, ...],
                      want: Hashable) -> Iterator[Element]:
        """The entries of list ``node`` under ``parent`` whose leaf at ``chain`` has the
        value ``want``, in document order: one scan of the leaf's tag, filtered by libxml2."""
        leaf_node = chain[-1]
        plain = self.info[leaf_node].plain
        for leaf in parent.iterdescendants(leaf_node.qname):
            if plain and (leaf.text or "") != want:
                continue
            entry = leaf
            for _ in chain:
                entry = entry.getparent()
            if entry.getparent() is not parent or entry.tag != node.qname:
                continue
            if plain or self._value(leaf, leaf_node) == want:
                yield entry

    def _key_of(self, entry: Element, keys: tuple[SchemaNode, ...]) -> tuple[Hashable, ...] | None:
        leaves = [next(entry.iterchildren(k.qname), None) for k in keys]
        if any(leaf is None for leaf in leaves):
            return None
        return tuple(self._value(leaf, k) for leaf, k in zip(leaves, keys, strict=True))  # type: ignore[arg-type]

    def _keys_present(self, node: SchemaNode, el: Element, keys: tuple[SchemaNode, ...],
                      leaves: list[Element | None]) -> bool:
        for k, leaf in zip(keys, leaves, strict=True):
            if leaf is None:
                self._error(MissingElement, f"{node.name} entry has no key {k.name}", el,
                            info=[("", "bad-element", k.name)])
                return False
        return True

    def _recheck_unique(self, node: SchemaNode, el: Element, removed: bool) -> None:
        """Unique constraints of the list entries around a change (RFC 7950 7.8.3)."""
        cur: Element | None = el
        cnode: SchemaNode | None = node.data_parent if removed else node
        while cur is not None and cnode is not None and cur is not self.root:
            if cnode.kind is Kind.LIST and cnode.unique:
                parent = cur.getparent()
                if parent is not None:
                    self._recheck_unique_entry(cnode, cur, parent)
            cur, cnode = cur.getparent(), cnode.data_parent

    def _check_group(self, parent: Element, node: SchemaNode, els: list[Element],
                     inner: list[dict[SchemaNode, list[Element]]]) -> None:
        """Constraints across the instances of one schema node under one parent;
        ``inner`` holds each instance's children by schema node."""
        kind = node.kind
        if kind is Kind.LIST:
            self._check_keys(node, els, inner)
            if node.unique:
                self._check_unique(node, els)
        elif kind is Kind.LEAF_LIST:
            self._check_leaf_list(node, els)
        else:
            for extra in els[1:]:
                self._error(BadElement, f"{node.name} appears more than once", extra,
                            info=[("", "bad-element", node.name)])
        if kind is Kind.LIST or kind is Kind.LEAF_LIST:
            self._check_counts(parent, node, len(els))

    def _check_counts(self, parent: Element, node: SchemaNode, count: int) -> None:
        if node.max_elements is not None and count > node.max_elements:
            self._error(OperationFailed, f"{node.name} has {count} entries, more than "
                        f"max-elements {node.max_elements}", parent, (node,),
                        app_tag="too-many-elements")
        if 0 < count < node.min_elements:
            self._error(OperationFailed, f"{node.name} has {count} entries, fewer than "
                        f"min-elements {node.min_elements}", parent, (node,),
                        app_tag="too-few-elements")

    def _check_keys(self, node: SchemaNode, els: list[Element],
                    inner: list[dict[SchemaNode, list[Element]]]) -> None:
        keys = self.info[node].keys
        if len(keys) == 1:
            self._check_single_keys(node, els, inner, keys[0])
            return
        seen: dict[tuple[Hashable, ...], Element] = {}
        for el, children in zip(els, inner, strict=True):
            leaves = [children[k][0] if k in children else None for k in keys]
            if not self._keys_present(node, el, keys, leaves):
                continue
            value = tuple(self._value(leaf, k) for leaf, k in zip(leaves, keys, strict=True))
            if value in seen:
                self._non_unique(f"two {node.name} entries have the same key", el, leaves)
            else:
                seen[value] = el

    def _check_single_keys(self, node: SchemaNode, els: list[Element],
                           inner: list[dict[SchemaNode, list[Element]]], key: SchemaNode) -> None:
        """_check_keys for the common one-key list, without the tuples."""
        seen: set[Hashable] = set()
        plain = self.info[key].plain
        for el, children in zip(els, inner, strict=True):
            leaves = children.get(key)
            if leaves is None:
                self._keys_present(node, el, (key,), [None])
                continue
            leaf = leaves[0]
            value = (leaf.text or "") if plain else self._value(leaf, key)
            if value in seen:
                self._non_unique(f"two {node.name} entries have the same key", el, [leaf])
            seen.add(value)

    def _check_unique(self, node: SchemaNode, els: list[Element]) -> None:
        """RFC 7950 7.8.3: entries where every leaf exists or has a default must differ."""
        for chains in self.info[node].uniques:
            seen: set[tuple[Hashable, ...]] = set()
            for el in els:
                value = self._unique_value(el, chains)
                if value is not None and value in seen:
                    self._not_unique(node, chains, el)
                seen.add(value)  # type: ignore[arg-type]

    def _recheck_unique_entry(self, node: SchemaNode, el: Element, parent: Element) -> None:
        """A changed entry's unique values against all its siblings (one scan each)."""
        for chains in self.info[node].uniques:
            value = self._unique_value(el, chains)
            if value is None:
                continue
            same = [o for o in self._unique_candidates(parent, node, chains, value)
                    if self._unique_value(o, chains) == value]
            for dup in same[1:]:
                self._not_unique(node, chains, dup)

    def _not_unique(self, node: SchemaNode, chains: tuple[tuple[SchemaNode, ...], ...],
                    el: Element) -> None:
        found = [self._unique_leaf(el, c) for c in chains]
        leaves = [f[1] for f in found if f is not None and f[1] is not None]
        names = " ".join(c[-1].name for c in chains)
        self._non_unique(f"{node.name} entries are not unique in ({names})", el, leaves or [el])

    def _unique_value(self, el: Element, chains: tuple[tuple[SchemaNode, ...], ...]
                      ) -> tuple[Hashable, ...] | None:
        found = [self._unique_leaf(el, chain) for chain in chains]
        if any(f is None for f in found):
            return None
        return tuple(f[0] for f in found)  # type: ignore[index]

    def _unique_candidates(self, parent: Element, node: SchemaNode,
                           chains: tuple[tuple[SchemaNode, ...], ...], value: tuple[Hashable, ...]
                           ) -> Iterable[Element]:
        first = chains[0]
        if value[0] == self._unique_default(first[-1]):  # entries without the leaf match too
            return parent.iterchildren(node.qname)
        return self._entries_with(parent, node, first, value[0])

    def _unique_leaf(self, el: Element, chain: tuple[SchemaNode, ...]
                     ) -> tuple[Hashable, Element | None] | None:
        cur: Element | None = el
        for step in chain:
            cur = next(cur.iterchildren(step.qname), None) if cur is not None else None
        if cur is not None:
            return self._value(cur, chain[-1]), cur
        default = self._unique_default(chain[-1])
        return None if default is None else (default, None)

    def _unique_default(self, leaf: SchemaNode) -> Hashable | None:
        if not leaf.default or leaf.type is None:
            return None
        return self.v.types.canonical(leaf.type, leaf.default[0], dict(leaf.default_namespaces))

    def _check_leaf_list(self, node: SchemaNode, els: list[Element]) -> None:
        seen: set[Hashable] = set()
        for el in els:
            value = self._value(el, node)
            if value in seen:
                self._non_unique(f"{node.name} has the value {el.text!r} twice", el, [el])
            seen.add(value)

    # -- structure: mandatory nodes, choices, min-elements -------------------------------------

    def _require_in(self, el: Element, nodes: list[SchemaNode], has: Callable[[SchemaNode], bool],
                    active: bool, chain: _Chain) -> None:
        """RFC 7950 3 "mandatory node", 7.6.5, 7.7.5, 7.9.4: what must exist under ``el``
        (through ``chain``, the absent non-presence containers in between)."""
        for node in nodes:
            if node.kind is Kind.CHOICE:
                self._require_choice(el, node, has, active, chain)
            elif active and not has(node):
                self._require_absent(el, node, chain)

    def _require_choice(self, el: Element, choice: SchemaNode, has: Callable[[SchemaNode], bool],
                        active: bool, chain: _Chain) -> None:
        cases = [c for c in choice.ordered if any(has(d) for d in self.info[c].case_nodes)]
        if len(cases) > 1:
            second = next(d for d in self.info[cases[1]].case_nodes if has(d))
            self._error(BadElement, f"choice {choice.name} has data in cases {cases[0].name} "
                        f"and {cases[1].name}", el, chain, info=[("", "bad-element", second.name)])
        elif not cases and choice.mandatory and active:
            self._missing(el, (*chain, choice))
        for case in choice.ordered:
            self._require_in(el, self.info[case].requirements, has, active and case in cases,
                             chain)

    def _require_absent(self, el: Element, node: SchemaNode, chain: _Chain) -> None:
        kind = node.kind
        if kind is Kind.CONTAINER:
            if node.presence or not self.info[node].required:
                return
            inner = (*chain, node)
            if self.info[node].gates:
                if not self.xpath_ready:
                    self.deferred.append((el, inner))
                    return
                if not self._gates_hold(el, inner):
                    return
            self._require_in(el, self.info[node].requirements, _nothing, True, inner)
        elif self.info[node].required:
            self._missing(el, (*chain, node))

    def _missing(self, el: Element, chain: _Chain) -> None:
        if any(self.info[n].gates for n in chain):
            if not self.xpath_ready:
                self.deferred.append((el, chain))
                return
            if not self._gates_hold(el, chain):
                return
        node = chain[-1]
        if node.kind is Kind.CHOICE:
            self._error(DataMissing, f"no case of mandatory choice {node.name} exists", el,
                        chain, app_tag="missing-choice", info=[(YANG_NS, "missing-choice",
                                                                 node.name)])
        elif node.kind in (Kind.LIST, Kind.LEAF_LIST):
            self._error(OperationFailed, f"{node.name} needs at least {node.min_elements} "
                        "entries", el, chain, app_tag="too-few-elements")
        else:
            self._error(MissingElement, f"mandatory {node.name} is missing", el, chain,
                        info=[("", "bad-element", node.name)])

    def _evaluate_deferred(self) -> None:
        deferred, self.deferred = self.deferred, []
        for el, chain in deferred:
            if chain[-1].kind is Kind.CONTAINER:
                self._require_absent(el, chain[-1], chain[:-1])
            else:
                self._missing(el, chain)

    # -- XPath: defaults in use, evaluation ----------------------------------------------

    @contextlib.contextmanager
    def _xpath_phase(self) -> Iterator[None]:
        """Lend the tree to XPath: defaults get added, and are always taken out again."""
        self.v.run, self.xpath_ready = self, True
        try:
            yield
        finally:
            self.v.run = None
            for el in reversed(self.added):
                parent = el.getparent()
                if parent is not None:
                    parent.remove(el)
            self.added.clear()

    def _add_implicit(self, el: Element, node: SchemaNode, has: Callable[[SchemaNode], bool],
                      everything: bool) -> None:
        """Add, deeply, what exists under ``el`` without being written: every default in use
        when ``everything``, else those some expression can read (Validator.readable)."""
        info = self.info[node]
        for child in info.implicit if everything else info.materialise:
            if not has(child) and self._in_use(child, has):
                for new in self._create(el, child, deep=True):
                    if child.kind is Kind.CONTAINER:
                        self._add_implicit(new, child, _nothing, everything)

    def _in_use(self, node: SchemaNode, has: Callable[[SchemaNode], bool]) -> bool:
        """RFC 7950 7.6.1, 7.9.3: a default counts in an active case, or in the default
        case when no case of the choice has data."""
        for choice, case in node.choice_path:
            if any(has(d) for d in self.info[case].case_nodes):
                continue
            if choice.default[:1] != (case.name,) or any(
                    has(d) for d in self.info[choice].case_nodes):
                return False
        return True

    def _create(self, el: Element, node: SchemaNode, deep: bool) -> list[Element]:
        info = self.info[node]
        if node.kind is Kind.CONTAINER:
            made = [etree.SubElement(el, node.qname)]
        else:
            made = []
            for value in info.defaults:
                new = etree.SubElement(el, node.qname, nsmap=info.default_nsmap)  # type: ignore[arg-type]
                new.text = value
                made.append(new)
        for new in made:
            self.added.append(new)
            self._added_ids.add(id(new))
            if info.gates:
                self.pending.append((node, new))
            if info.musts and deep:
                self.owners.append((node, new))  # an implicit container's must still holds
        return made

    def _settle(self) -> None:
        """Take out the defaults whose when is false: they are not in use (RFC 7950 7.6.1)."""
        pending, self.pending = self.pending, []
        for node, el in pending:
            parent = el.getparent()
            if parent is not None and not self._gates_true(node, el, parent):
                parent.remove(el)
                self._memo.clear()  # results that saw it are stale

    def materialise_everything(self) -> None:
        """For expressions the analysis cannot follow: every default in use, everywhere."""
        if self.everything:
            return
        self.everything = True
        todo: list[tuple[Element, SchemaNode]] = [(self.root, self.v.schema.root)]
        while todo:
            el, node = todo.pop()
            present: set[SchemaNode] = set()
            for child in el:
                cnode = node.children.get(_split_tag(child.tag)) if isinstance(
                    child.tag, str) else None
                if cnode is not None:
                    present.add(cnode)
                    if cnode.kind in (Kind.CONTAINER, Kind.LIST):
                        todo.append((child, cnode))
            self._add_implicit(el, node, present.__contains__, True)
        self._settle()

    def children_or_defaults(self, el: Element, namespace: str, name: str) -> list[Element]:
        """The children named so, with the default (or implicit container) in use when
        there is none."""
        found = list(el.iterchildren(f"{{{namespace}}}{name}"))
        if found:
            return found
        node = self.locate(el) if el is not self.root else self.v.schema.root
        child = node.children.get((namespace, name)) if node is not None else None
        if child is None or child not in self.info[node].implicit or (
                self.everything and child in self.info[node].materialise):
            return found
        if not self._in_use(child, lambda n: self.has(el, n)):
            return found
        made = self._create(el, child, deep=False)
        self._settle()
        return [m for m in made if m.getparent() is not None]

    def prepare(self, expr: _Expr, ctx: Element) -> None:
        """Before evaluating ``expr`` at ``ctx``: the defaults it can read must exist."""
        if expr.reads_defaults and not self.everything:
            _DataWalk(self, expr.nsmap).nodes(expr.ast, ctx, ctx)  # type: ignore[arg-type]

    def true(self, expr: _Expr, ctx: Element) -> bool:
        """The boolean value of a must or when at ``ctx``. The whens of a parent context
        are shared by all its children's instances: their results are kept for the run."""
        if not expr.parent_context:
            return self._evaluate(expr, ctx)
        key = (id(expr), id(ctx))
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = (ctx, self._evaluate(expr, ctx))
        return hit[1]

    def _evaluate(self, expr: _Expr, ctx: Element) -> bool:
        self.prepare(expr, ctx)
        try:
            return bool(expr.xpath(ctx, root=self.root, current=ctx))
        except etree.XPathError:
            return False  # e.g. a function given arguments of the wrong type

    def _gates_true(self, node: SchemaNode, el: Element, parent: Element) -> bool:
        return all(self.true(g, parent if g.parent_context else el)
                   for g in self.info[node].gates)

    def _gates_hold(self, el: Element, chain: _Chain) -> bool:
        """The whens along ``chain`` for nodes that do not exist (RFC 7950 7.21.5: the
        context is a dummy node of the same name, tentatively added)."""
        dummies: list[Element] = []
        parent = el
        try:
            for node in chain:
                if node.kind is Kind.CHOICE:
                    if not all(self.true(g, parent) for g in self.info[node].gates):
                        return False
                    continue
                here = next(parent.iterchildren(node.qname), None)
                if here is None:
                    here = etree.SubElement(parent, node.qname)
                    dummies.append(here)
                if not self._gates_true(node, here, parent):
                    return False
                parent = here
            return True
        finally:
            for dummy in dummies[:1]:
                el_parent = dummy.getparent()
                if el_parent is not None:
                    el_parent.remove(dummy)
            self._memo.clear()  # results were computed with the dummies in place

    def evaluate_instance(self, node: SchemaNode, el: Element) -> None:
        """Every expression of one existing instance: its whens, musts and references."""
        if el.getparent() is None:
            return  # a default taken out again
        info = self.info[node]
        for gate in info.gates:
            if not self.check_gate(gate, el):
                break
        for must in info.musts:
            self.evaluate_must(must, el)
        if info.leafref is not None:
            self.check_leafref(node, el)
        elif node.type is not None and node.type.base == "instance-identifier":
            self.check_instance_id(node, el)

    def check_gate(self, gate: _Expr, el: Element) -> bool:
        """RFC 7950 8.3.1: data whose when is false is an unknown element."""
        parent = el.getparent()
        if parent is None or self.true(gate, parent if gate.parent_context else el):
            return True
        node = gate.owner
        self._error(UnknownElement, f"{node.name} exists but its when condition "
                    f"{gate.source.source!r} is false", el, info=[("", "bad-element", node.name)])
        return False

    def require_all(self, el: Element, node: SchemaNode) -> None:
        self._require_in(el, self.info[node].requirements, lambda n: self.has(el, n), True, ())

    def evaluate_must(self, must: _Expr, el: Element) -> None:
        if not self.true(must, el):
            src = must.source
            self._error(OperationFailed, src.error_message or f"must condition "
                        f"{src.source!r} of {must.owner.name} is false", el,
                        app_tag=src.error_app_tag or "must-violation")

    def check_leafref(self, node: SchemaNode, el: Element) -> None:
        """RFC 7950 9.9: the value is of the target's type and, with require-instance,
        some target has it. The type is checked here, only when no target has the value."""
        spec = node.type
        if spec is None or not spec.require_instance:
            return
        target = spec.leafref_target
        tspec = target.type if target is not None and target.type is not None else spec
        nsmap = el.nsmap if self.info[node].ns_values else {}
        want = self.v.types.canonical(tspec, el.text or "", nsmap)
        if self._has_target(node, el, tspec, want):
            return
        bad = self.v.types.check(spec, el.text or "", nsmap)
        if bad is not None:
            self._error(InvalidValue, f"{node.name}: {bad.message}", el, app_tag=bad.app_tag)
            return
        where = target.path() if target is not None else "its path"
        self._error(DataMissing, f"{node.name} {el.text!r} refers to no existing {where}", el,
                    app_tag="instance-required")

    def _has_target(self, node: SchemaNode, el: Element, tspec: TypeSpec, want: Hashable) -> bool:
        info = self.info[node]
        expr = info.leafref
        assert expr is not None
        if info.simple is None:
            self.prepare(expr, el)
            nodes = expr.xpath(el, root=self.root, current=el)
            return any(self._target_value(n, tspec) == want
                       for n in nodes if isinstance(n, etree._Element))
        absolute, ups, steps = info.simple
        if not absolute:
            anchor = el
            for _ in range(ups):
                anchor = anchor.getparent() if anchor is not self.root else anchor
            return want in self._target_set(steps, anchor, tspec)
        built = self._targets.get((steps, id(self.root)))
        if built is not None:
            return want in built[1]
        hint = self.v.lasting_targets(self.root, steps).get(want)
        if hint is not None and self._still_target(hint, steps, want, tspec):
            return True
        return want in self._target_set(steps, self.root, tspec)

    def _target_set(self, steps: tuple[tuple[str, str], ...], anchor: Element,
                    tspec: TypeSpec) -> set[Hashable]:
        """The values at ``steps`` below ``anchor``, defaults included, once per run; for
        the root, the lasting hints are refreshed too."""
        key = (steps, id(anchor))
        if key not in self._targets:
            items = [anchor]
            for ns, name in steps:
                items = [c for it in items for c in self.children_or_defaults(it, ns, name)]
            values = {self._target_value(n, tspec): n for n in items}
            if anchor is self.root:
                hints = self.v.lasting_targets(self.root, steps)
                hints.clear()
                hints.update((v, n) for v, n in values.items() if id(n) not in self._added_ids)
            self._targets[key] = (anchor, set(values))
        return self._targets[key][1]

    def _target_value(self, el: Element, tspec: TypeSpec) -> Hashable:
        nsmap = el.nsmap if _ns_sensitive(tspec) else {}
        return self.v.types.canonical(tspec, el.text or "", nsmap)

    def _still_target(self, el: Element, steps: tuple[tuple[str, str], ...], want: Hashable,
                      tspec: TypeSpec) -> bool:
        cur: Element | None = el
        for ns, name in reversed(steps):
            if cur is None or cur.tag != f"{{{ns}}}{name}":
                return False
            cur = cur.getparent()
        return cur is self.root and self._target_value(el, tspec) == want

    def check_instance_id(self, node: SchemaNode, el: Element) -> None:
        spec = node.type
        if spec is None or not spec.require_instance:
            return
        steps = self.v.types.instance_path(el.text or "", el.nsmap)
        if steps is not None and not self.instance_targets(steps):
            self._error(DataMissing, f"{node.name} {el.text!r} points to no existing node", el,
                        app_tag="instance-required")

    def instance_targets(self, steps: tuple[_IIStep, ...]) -> list[Element]:
        items = [self.root]
        for step in steps:
            found = [c for it in items for c in self.children_or_defaults(
                it, step.node.namespace, step.node.name) if self._ii_matches(c, step)]
            if step.position is not None:
                found = found[step.position - 1 : step.position]
            items = found
        return items

    def _ii_matches(self, el: Element, step: _IIStep) -> bool:
        types = self.v.types
        for key, value in step.keys:
            leaf = next(el.iterchildren(key.qname), None)
            if leaf is None or key.type is None or self._value(leaf, key) != types.canonical(
                    key.type, value, el.nsmap):
                return False
        if step.value is not None and step.node.type is not None:
            return self._value(el, step.node) == types.canonical(step.node.type, step.value,
                                                                 el.nsmap)
        return True

    def deref(self, el: Element) -> list[Element]:
        """deref(): the targets of a leafref or instance-identifier element."""
        node = self.locate(el)
        if node is None or node.type is None:
            return []
        info = self.info[node]
        if info.leafref is not None:
            target = node.type.leafref_target
            tspec = target.type if target is not None and target.type is not None else node.type
            want = self.v.types.canonical(tspec, el.text or "", self._nsmap(el, node))
            self.prepare(info.leafref, el)
            nodes = info.leafref.xpath(el, root=self.root, current=el)
            return [n for n in nodes if isinstance(n, etree._Element)
                    and self._target_value(n, tspec) == want]
        if node.type.base == "instance-identifier":
            steps = self.v.types.instance_path(el.text or "", el.nsmap)
            return self.instance_targets(steps) if steps is not None else []
        return []


class _DataWalk(PathVisitor[Element]):
    """Follows an expression over the data, adding the defaults it passes (see prepare)."""

    def __init__(self, run: _Run, nsmap: Mapping[str, str]) -> None:
        super().__init__(nsmap)
        self.run = run

    def root(self) -> Element:
        return self.run.root

    def children(self, item: Element, namespace: str, name: str, final: bool) -> list[Element]:
        return self.run.children_or_defaults(item, namespace, name)

    def parent(self, item: Element) -> Element | None:
        return None if item is self.run.root else item.getparent()

    def opaque(self) -> None:
        self.run.materialise_everything()

    def deref(self, items: list[Element]) -> list[Element]:
        return [target for el in items for target in self.run.deref(el)]


class _Jobs:
    """What validate_changes re-evaluates: the instances inside changed subtrees, and every
    expression whose paths reach a changed or removed node, at the contexts that reach it."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.info = run.info
        self.instances: dict[tuple[int, int], tuple[SchemaNode, Element]] = {}
        self.exprs: dict[tuple[int, int], tuple[_Expr, Element]] = {}
        self.requirements: dict[int, Element] = {}  # parents whose requirements to re-check
        self.instance_ids = False
        self._touched: dict[tuple[int, int, bool], Element] = {}  # (kept alive for the ids)

    def instance(self, node: SchemaNode, el: Element) -> None:
        self.instances[(id(node), id(el))] = (node, el)

    def schedule(self, touched: list[tuple[SchemaNode, Element, bool]]) -> None:
        for node, el, removed in touched:
            self._touch(node, el, removed)
            # an instance-identifier can only lose its target to a removal, or to a new
            # value of the leaf-list entry it names
            self.instance_ids = self.instance_ids or removed or node.kind is Kind.LEAF_LIST
        if touched:
            for expr in self.run.v.opaque:
                self._at(expr, self.run.root, 0)

    def _touch(self, node: SchemaNode, el: Element, removed: bool) -> None:
        """Schedule what reads ``node``, changed at ``el`` (or removed from parent ``el``)."""
        key = (id(node), id(el), removed)
        if key in self._touched:
            return
        self._touched[key] = el
        v = self.run.v
        for expr, ref in v.related(node):
            if reaches(ref, node, removed):
                anchor = self._anchor(ref.anchor, node, el, removed)
                if anchor is not None:
                    self._at(expr, *anchor)
        shared = self.info[node].depth - 1  # the parent, shared with the other cases
        for expr, ref in v.case_related(node):
            if removed or not ref.monotone:
                anchor = self._anchor(min(ref.anchor, shared), node, el, removed)
                if anchor is not None:
                    self._at(expr, *anchor)

    def _anchor(self, want: int, node: SchemaNode, el: Element, removed: bool
                ) -> tuple[Element, int] | None:
        """The instance at depth ``want`` above the change (for a removal, ``el`` is the
        former parent); below it lie all the contexts the change can affect."""
        depth = self.info[node].depth
        if removed:
            return None if depth <= want else (self._up(el, depth - 1 - want), want)
        if depth < want:
            return el, depth
        return self._up(el, depth - want), want

    def _up(self, el: Element, steps: int) -> Element:
        for _ in range(steps):
            if el is self.run.root:
                break
            el = el.getparent()
        return el

    def _at(self, expr: _Expr, anchor: Element, depth: int) -> None:
        owner = expr.owner
        if expr.kind != "when":
            for inst in self._below(anchor, depth, owner, False):
                self.exprs[(id(expr), id(inst))] = (expr, inst)
            return
        parent_node = owner.data_parent
        if parent_node is None:
            return
        if depth > self.info[parent_node].depth:
            self.exprs[(id(expr), id(anchor))] = (expr, anchor)
            return
        required = self.info[owner].required
        for parent in self._below(anchor, depth, parent_node, required):
            found = list(parent.iterchildren(owner.qname)) if owner.kind in DATA_KINDS else []
            if not found and required:
                self.requirements[id(parent)] = parent
            if not found and self.info[owner].implicit_here:
                self._touch(owner, parent, True)  # its default may have come or gone
            for inst in found:
                self.exprs[(id(expr), id(inst))] = (expr, inst)

    def _below(self, anchor: Element, depth: int, target: SchemaNode, note_absent: bool
               ) -> list[Element]:
        """The instances of ``target`` below ``anchor`` (an instance at ``depth``)."""
        chain: list[SchemaNode] = []
        node: SchemaNode | None = target
        while node is not None and self.info[node].depth > depth:
            chain.append(node)
            node = node.data_parent
        items = [anchor]
        for step in reversed(chain):
            found: list[Element] = []
            for it in items:
                here = self.run.children_or_defaults(it, step.namespace, step.name)
                if not here and note_absent and step is not target:
                    self.requirements[id(it)] = it
                found.extend(here)
            items = found
        return items

    def execute(self) -> None:
        run = self.run
        for node, el in self.instances.values():
            run.evaluate_instance(node, el)
        for expr, el in self.exprs.values():
            if (id(expr.owner), id(el)) in self.instances or el.getparent() is None:
                continue
            if expr.kind == "must":
                run.evaluate_must(expr, el)
            elif expr.kind == "leafref":
                run.check_leafref(expr.owner, el)
            else:
                run.check_gate(expr, el)
        for parent in self.requirements.values():
            pnode = run.locate(parent) if parent is not run.root else run.v.schema.root
            if pnode is not None:
                run.require_all(parent, pnode)
        if self.instance_ids:
            for node in run.v.instance_ids:
                for inst in self._below(run.root, 0, node, False):
                    run.check_instance_id(node, inst)
