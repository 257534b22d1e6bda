"""The YANG library: which modules the agent implements or imports, served as RFC 8525
/yang-library and as the RFC 7895 /modules-state that yangcli reads (INTEROP.md, yangcli),
and the source text that get-schema returns.

Built once at start-up from the compiled schema.  The library is the one list of modules:
the hello's module capabilities, both trees and /netconf-state/schemas all come from it.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from agent import xmlutil
from agent.datastore.schema import Schema
from agent.datastore.store import Datastore
from agent.xmlutil import Element

YANGLIB_NS = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
DATASTORES_NS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
# The one module set and schema: every datastore has the same modules.
_SET = "complete"
_DATASTORES = ("running", "candidate")


@dataclass(frozen=True, slots=True)
class Submodule:
    name: str
    revision: str  # "" when the submodule has no revision statement
    text: str


@dataclass(frozen=True, slots=True)
class Module:
    name: str
    revision: str  # "" when the module has no revision statement
    namespace: str
    yang_version: str
    implemented: bool
    features: tuple[str, ...]
    submodules: tuple[Submodule, ...]
    text: str  # the file's exact contents, for get-schema


@dataclass(frozen=True, slots=True)
class YangLibrary:
    modules: tuple[Module, ...]  # by name
    # Changes whenever the module set does; serves as RFC 8525 content-id and RFC 7895
    # module-set-id, since both trees describe the same set.
    content_id: str


def build(
    schema: Schema,
    *,
    also_implemented: Iterable[str] = (),
    features: Mapping[str, Iterable[str]] | None = None,
) -> YangLibrary:
    """The library of every module the schema loaded.

    ``also_implemented`` names modules the server implements outside the schema: the base
    operations of ietf-netconf have lenient handlers of their own (INTEROP.md §2.3), so the
    module is compiled import-only while the agent does implement it.  ``features`` lists a
    module's supported features (ietf-netconf's follow the advertised capabilities).
    """
    extra, feats = set(also_implemented), features or {}
    modules = tuple(
        Module(
            name=m.name,
            revision=m.revision or "",
            namespace=m.namespace,
            yang_version=m.yang_version,
            implemented=m.implemented or m.name in extra,
            features=tuple(feats.get(m.name, ())),
            submodules=tuple(
                Submodule(name, rev or "", path.read_text(encoding="utf-8"))
                for name, rev, path in m.submodules
            ),
            text=m.path.read_text(encoding="utf-8"),
        )
        for m in sorted(schema.modules.values(), key=lambda m: m.name)
    )
    return YangLibrary(modules, _digest(modules))


def _digest(modules: tuple[Module, ...]) -> str:
    h = hashlib.sha256()
    for m in modules:
        subs = ",".join(f"{s.name}@{s.revision}" for s in m.submodules)
        feats = ",".join(m.features)
        h.update(f"{m.name}@{m.revision}|{m.namespace}|{m.implemented}|{feats}|{subs};".encode())
    return h.hexdigest()[:16]


def register(datastore: Datastore, library: YangLibrary) -> None:
    """Serve both trees through <get>; they never change while the agent runs."""
    trees = [yang_library_tree(library), modules_state_tree(library)]
    tops = ((YANGLIB_NS, "yang-library"), (YANGLIB_NS, "modules-state"))
    datastore.add_state_provider(tops, lambda: [copy.deepcopy(t) for t in trees])


def yang_library_tree(library: YangLibrary) -> Element:
    """RFC 8525 /yang-library: one module set, one schema, the datastores using it."""
    # Datastore names are identities of ietf-datastores, written with the ds prefix.
    root = xmlutil.make(YANGLIB_NS, "yang-library", nsmap={None: YANGLIB_NS, "ds": DATASTORES_NS})
    mset = _sub(root, "module-set")
    _sub(mset, "name", _SET)
    for m in library.modules:
        if m.implemented:
            el = _sub(mset, "module")
            _sub(el, "name", m.name)
            if m.revision:
                _sub(el, "revision", m.revision)
            _sub(el, "namespace", m.namespace)
            _submodules(el, m, keep_empty_revision=False)
            for feature in m.features:
                _sub(el, "feature", feature)
    for m in library.modules:
        if not m.implemented:
            el = _sub(mset, "import-only-module")
            _sub(el, "name", m.name)
            _sub(el, "revision", m.revision)
            _sub(el, "namespace", m.namespace)
            _submodules(el, m, keep_empty_revision=False)
    schema = _sub(root, "schema")
    _sub(schema, "name", _SET)
    _sub(schema, "module-set", _SET)
    for name in _DATASTORES:
        ds = _sub(root, "datastore")
        _sub(ds, "name", f"ds:{name}")
        _sub(ds, "schema", _SET)
    _sub(root, "content-id", library.content_id)
    return root


def modules_state_tree(library: YangLibrary) -> Element:
    """RFC 7895 /modules-state (deprecated in RFC 8525, still what yangcli reads)."""
    root = xmlutil.root(YANGLIB_NS, "modules-state")
    _sub(root, "module-set-id", library.content_id)
    for m in library.modules:
        el = _sub(root, "module")
        _sub(el, "name", m.name)
        _sub(el, "revision", m.revision)
        _sub(el, "namespace", m.namespace)
        for feature in m.features:
            _sub(el, "feature", feature)
        _sub(el, "conformance-type", "implement" if m.implemented else "import")
        _submodules(el, m, keep_empty_revision=True)
    return root


def _submodules(parent: Element, module: Module, *, keep_empty_revision: bool) -> None:
    for s in module.submodules:
        el = _sub(parent, "submodule")
        _sub(el, "name", s.name)
        if s.revision or keep_empty_revision:
            _sub(el, "revision", s.revision)


def _sub(parent: Element, name: str, text: str | None = None) -> Element:
    return xmlutil.sub(parent, YANGLIB_NS, name, text)
