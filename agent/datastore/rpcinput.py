"""The YANG check of an RPC's input (RFC 7950 §7.14.2), run before a handler is called.

Why here and not in each handler: the input statement already says which parameters exist,
their types, which are mandatory and which exclude each other, so one generic pass gives every
RPC the same precise errors (tag, error-path, ``<bad-element>``) and lets the handlers trust
their input.  Defaults are not filled in; a handler takes them from the schema or its own.
``when`` and ``must`` on input nodes are not evaluated here.

Error paths name the RPC then the input node, e.g. ``/pki-keys:generate-key/pki-keys:modulus``.
"""

from __future__ import annotations

from collections.abc import Mapping

from agent import xmlutil
from agent.datastore.schema import Kind, SchemaNode
from agent.datastore.validate import Validator
from agent.errors import BadElement, MissingElement, RpcError, UnknownElement
from agent.xmlutil import Element

_VALUE_KINDS = frozenset({Kind.LEAF, Kind.LEAF_LIST})
_INNER_KINDS = frozenset({Kind.CONTAINER, Kind.LIST})


def check_input(input_node: SchemaNode, element: Element, validator: Validator) -> list[RpcError]:
    """Every error of ``element`` (the RPC element) against ``input_node``; empty if valid."""
    errors: list[RpcError] = []
    _check_level(input_node, element, validator, errors)
    return errors


def _check_level(
    schema: SchemaNode, element: Element, validator: Validator, errors: list[RpcError]
) -> None:
    """One level of the input tree: the children present, then what is missing."""
    cases: dict[SchemaNode, SchemaNode] = {}
    seen: set[SchemaNode] = set()
    for child in xmlutil.children(element):
        node = _schema_child(schema, child)
        if node is None:
            errors.append(_unknown(schema, child))
            continue
        if _second_case(node, cases):
            errors.append(_error(BadElement, node, "is in another case of a choice already given"))
        if node in seen and node.kind in (Kind.LEAF, Kind.CONTAINER):
            errors.append(_error(BadElement, node, "is given twice"))  # RFC 7950 7.6
        seen.add(node)
        if node.kind in _VALUE_KINDS:
            _check_value(node, child, validator, errors)
        elif node.kind in _INNER_KINDS:
            _check_level(node, child, validator, errors)
    present = {xmlutil.split(c)[1] for c in xmlutil.children(element)}
    errors.extend(_missing(schema, present, cases))


def _schema_child(schema: SchemaNode, child: Element) -> SchemaNode | None:
    """The schema node of a child element; an unqualified child takes the RPC's namespace
    (Ansible sends bare names, INTEROP.md §2.3)."""
    ns, name = xmlutil.split(child)
    return schema.child(ns or schema.namespace, name)


def _second_case(node: SchemaNode, cases: dict[SchemaNode, SchemaNode]) -> bool:
    """Record the case ``node`` belongs to; True if its choice already has another case."""
    clash = False
    for choice, case in node.choice_path:
        seen = cases.setdefault(choice, case)
        clash = clash or seen is not case
    return clash


def _check_value(
    node: SchemaNode, child: Element, validator: Validator, errors: list[RpcError]
) -> None:
    nsmap: Mapping[str | None, str] = child.nsmap
    bad = validator.check_value(node, xmlutil.text_of(child), nsmap)
    if bad is not None:
        bad.path = _path(node)
        errors.append(bad)


def _missing(
    schema: SchemaNode, present: set[str], cases: dict[SchemaNode, SchemaNode]
) -> list[RpcError]:
    """Mandatory leaves outside any choice, and mandatory choices with no case given."""
    errors: list[RpcError] = [
        _error(MissingElement, node, "is mandatory")
        for node in schema.children.values()
        if node.kind is Kind.LEAF
        and node.mandatory
        and not node.choice_path
        and node.name not in present
    ]
    errors.extend(
        MissingElement(
            f"one of {_case_names(choice)} is required",
            path=_path(schema),
            path_ns={schema.prefix: schema.namespace},
            info=[("", "bad-element", choice.name)],
        )
        for choice in schema.choices
        if choice.mandatory and choice not in cases
    )
    return errors


def _case_names(choice: SchemaNode) -> str:
    return ", ".join(f"<{n.name}>" for n in choice.walk() if n.kind in _VALUE_KINDS | _INNER_KINDS)


def _unknown(schema: SchemaNode, child: Element) -> RpcError:
    name = xmlutil.split(child)[1]
    return UnknownElement(
        f"<{name}> is not a parameter of {_path(schema)}",
        path=_path(schema),
        path_ns={schema.prefix: schema.namespace},
        info=[("", "bad-element", name)],
    )


def _error(cls: type[RpcError], node: SchemaNode, what: str) -> RpcError:
    return cls(
        f"<{node.name}> {what}",
        path=_path(node),
        path_ns={node.prefix: node.namespace},
        info=[("", "bad-element", node.name)],
    )


def _path(node: SchemaNode) -> str:
    """``/prefix:rpc/prefix:leaf``: the input node's place under its RPC."""
    parts: list[str] = []
    cur: SchemaNode | None = node
    while cur is not None and cur.kind is not Kind.RPC:
        if cur.kind not in (Kind.CHOICE, Kind.CASE, Kind.INPUT):
            parts.append(f"{cur.prefix}:{cur.name}")
        cur = cur.parent
    if cur is not None:
        parts.append(f"{cur.prefix}:{cur.name}")
    return "/" + "/".join(reversed(parts))
