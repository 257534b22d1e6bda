"""What a commit changed, as RFC 6470 netconf-config-change's ``edit`` list: one entry per
distinct edit operation the candidate holds — each top-level node of an edit (with the
edit's default operation) and each node that carries its own ``operation`` attribute — with
the target as an instance-identifier and the operation that was asked for.  A copy-config
into the candidate is one ``replace`` of everything (no target)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from agent import xmlutil
from agent.datastore.runstate import ErrorPaths
from agent.xmlutil import BASE_NS, Element

_OPERATION = f"{{{BASE_NS}}}operation"


@dataclass(frozen=True, slots=True)
class ConfigEdit:
    operation: str  # merge, replace, create, delete or remove
    target: str | None = None  # an instance-identifier; None for the whole datastore
    namespaces: dict[str, str] = field(default_factory=dict)  # the prefixes target uses


def edit_list(records: Iterable[Element], paths: ErrorPaths, *, replaced: bool) -> list[ConfigEdit]:
    """The edits of commit-log <edit> records (store.py), in order."""
    if replaced:
        return [ConfigEdit("replace")]
    out: list[ConfigEdit] = []
    for record in records:
        config = record[0]
        default = record.get("default-operation", "merge")
        for el, op in _operations(config, default):
            target, namespaces = paths.of(config, el)
            out.append(ConfigEdit(op, target, namespaces))
    return out


def _operations(config: Element, default: str) -> Iterator[tuple[Element, str]]:
    for top in xmlutil.children(config):
        own = top.get(_OPERATION)
        if own is not None or default != "none":
            yield top, own or default
        yield from _explicit(top)


def _explicit(el: Element) -> Iterator[tuple[Element, str]]:
    for child in xmlutil.children(el):
        own = child.get(_OPERATION)
        if own is not None:
            yield child, own
        yield from _explicit(child)
