"""The state of one validation run, and what a Validator keeps from one run to the next.

A run (one validate() or validate_changes() call) is one object whose class is built in
layers, a module each, every layer a subclass of the one before: :class:`RunState` here
(the state, element lookups, error reports), then
:class:`~agent.datastore.xpathphase.XPathPhase` (defaults in use, must, when, leafref),
:class:`~agent.datastore.structure.StructureChecks` (values, keys, unique, counts,
mandatory nodes, choices) and :class:`~agent.datastore.run.Run` (the entry points and the
plan of a change validation). The layers share one state because the phases interleave:
a mandatory node behind a when waits for XPath, and every phase reports into one list.

:class:`ValidatorState` is what the runs of one Validator share: the compiled schema, the
type checker, the error-path writer (:class:`ErrorPaths`), the run whose XPath phase is
under way (the YANG functions call back into it) and, between runs, hints of where the
targets of absolute leafref paths were found.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Iterable, Mapping
from typing import Protocol

from agent.datastore.compiled import CompiledSchema
from agent.datastore.schema import Kind, Schema, SchemaNode
from agent.datastore.valuecheck import TypeChecker
from agent.datastore.xpathfn import YangFunctions
from agent.errors import ErrorType, OperationFailed, RpcError, UnknownElement
from agent.xmlutil import YANG_NS, Element

_APP = ErrorType.APPLICATION

Chain = tuple[SchemaNode, ...]  # absent non-presence containers, then a missing node


def nothing(_node: SchemaNode) -> bool:
    """``has`` for an element without children: no node is present."""
    return False


@functools.lru_cache(maxsize=4096)
def split_tag(tag: str) -> tuple[str, str]:
    """(namespace, local name) of a Clark-notation tag, memoised: tags repeat a lot."""
    if tag[:1] == "{":
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


class ErrorPaths:
    """Instance paths for error-path: /p:list[p:key='v']/p:leaf, prefixes of the modules."""

    def __init__(self, schema: Schema) -> None:
        self.prefix = {m.namespace: m.prefix for m in schema.modules.values()}
        self.schema_root = schema.root

    def of(
        self, root: Element, el: Element, tail: Iterable[SchemaNode] = ()
    ) -> tuple[str, dict[str, str]]:
        """The path of ``el`` below the datastore (or <config>) element ``root``, and the
        prefixes it uses."""
        chain: list[Element] = []
        cur: Element | None = el
        while cur is not None and cur is not root:
            chain.append(cur)
            cur = cur.getparent()
        parts: list[str] = []
        used: dict[str, str] = {}
        node: SchemaNode | None = self.schema_root
        for e in reversed(chain):
            ns, name = split_tag(e.tag)
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

    def _step(
        self, e: Element, ns: str, name: str, node: SchemaNode | None, used: dict[str, str]
    ) -> str:
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


class _XPathRun(Protocol):
    """The run whose XPath phase is under way, as the YANG functions see it."""

    def locate(self, el: Element) -> SchemaNode | None: ...

    def deref(self, el: Element) -> list[Element]: ...


class ValidatorState(CompiledSchema):
    """What the runs of one Validator share (see the module docstring); it serves one run
    at a time (the datastore serialises commits)."""

    def __init__(self, schema: Schema) -> None:
        self.types = TypeChecker(schema)
        self.paths = ErrorPaths(schema)
        self.run: _XPathRun | None = None
        self._lasting_root: Element | None = None
        self._lasting: dict[tuple[tuple[str, str], ...], dict[Hashable, Element]] = {}
        super().__init__(schema, YangFunctions(schema, self._locate, self._deref))

    def _locate(self, el: Element) -> SchemaNode | None:
        return self.run.locate(el) if self.run is not None else None

    def _deref(self, el: Element) -> list[Element]:
        return self.run.deref(el) if self.run is not None else []

    def lasting_targets(
        self, root: Element, steps: tuple[tuple[str, str], ...]
    ) -> dict[Hashable, Element]:
        """value -> target element of an absolute leafref path, kept between runs on the
        same root so that a change does not rebuild it; entries are hints, checked on use."""
        if self._lasting_root is not root:
            self._lasting_root, self._lasting = root, {}
        return self._lasting.setdefault(steps, {})


class RunState:
    """The state of one validate()/validate_changes() call, its lookups and error reports."""

    def __init__(self, v: ValidatorState, root: Element) -> None:
        self.v = v
        self.root = root
        self.info = v.info
        self.errors: list[RpcError] = []
        # visited interior nodes, with their children's schema nodes
        self.containers: list[tuple[Element, SchemaNode, Mapping[SchemaNode, object]]] = []
        self.owners: list[tuple[SchemaNode, Element]] = []  # instances with expressions
        self.deferred: list[tuple[Element, Chain]] = []  # requirements behind a when
        self.added: list[Element] = []  # materialised defaults, removed at the end
        self.pending: list[tuple[SchemaNode, Element]] = []  # materialised, when not checked
        self.xpath_ready = False
        self.everything = False  # every default in use is materialised
        self._targets: dict[tuple[object, int], tuple[Element, set[Hashable]]] = {}
        self._added_ids: set[int] = set()
        self._memo: dict[tuple[int, int], tuple[Element, bool]] = {}
        self.keys_unique = False  # see Validator.validate_changes

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
            node = node.children.get(split_tag(e.tag))
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
        return self.v.types.canonical(node.type, el.text or "", el.nsmap if info.ns_values else {})

    # -- errors ---------------------------------------------------------------------------

    def _error(
        self,
        cls: type[RpcError],
        message: str,
        el: Element,
        tail: Iterable[SchemaNode] = (),
        *,
        app_tag: str | None = None,
        info: Iterable[tuple[str, str, str]] = (),
    ) -> None:
        path, ns = self.v.paths.of(self.root, el, tail)
        self.errors.append(
            cls(message, error_type=_APP, app_tag=app_tag, path=path, path_ns=ns, info=info)
        )

    def _unknown(self, el: Element, node: SchemaNode | None) -> None:
        name = split_tag(el.tag)[1] if isinstance(el.tag, str) else "?"
        why = "is state data (config false)" if node is not None else "is not in the schema"
        self._error(UnknownElement, f"element {name!r} {why}", el, info=[("", "bad-element", name)])

    def _non_unique(self, message: str, el: Element, leaves: Iterable[Element]) -> None:
        info = [(YANG_NS, "non-unique", self.v.paths.of(self.root, leaf)[0]) for leaf in leaves]
        self._error(OperationFailed, message, el, app_tag="data-not-unique", info=info)
