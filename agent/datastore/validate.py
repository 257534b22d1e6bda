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

Modules
-------
This module is the facade; the work is done in:

- :mod:`~agent.datastore.valuecheck`: the type check of one value (TypeChecker).
- :mod:`~agent.datastore.compiled`: the per-node tables and compiled expressions, built
  once per schema, and which expressions read which nodes.
- :mod:`~agent.datastore.runstate`, :mod:`~agent.datastore.xpathphase`,
  :mod:`~agent.datastore.structure` and :mod:`~agent.datastore.run`: one call, in layers
  (state and error reports; defaults and XPath; structural checks; entry points and the
  plan of a change validation).
- :mod:`~agent.datastore.xpathparse`, :mod:`~agent.datastore.xpathwalk` and
  :mod:`~agent.datastore.xpathfn`: XPath parsing, walks of its paths over the schema or
  the data, and the YANG functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from agent.datastore.run import Run
from agent.datastore.runstate import ValidatorState
from agent.datastore.schema import Schema, SchemaNode
from agent.errors import ErrorType, InvalidValue, RpcError
from agent.xmlutil import Element

_APP = ErrorType.APPLICATION


class Validator:
    """Validates datastore trees against one compiled schema (see the module docstring)."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._state = ValidatorState(schema)

    # -- public API -----------------------------------------------------------------------

    def check_value(
        self, node: SchemaNode, text: str, nsmap: Mapping[str | None, str]
    ) -> RpcError | None:
        """The type check of one leaf or leaf-list value; None when it is valid."""
        if node.type is None:
            return None
        bad = self._state.types.check(node.type, text, nsmap)
        if bad is None:
            return None
        prefixes = {m.prefix: m.namespace for m in self.schema.modules.values()}
        return InvalidValue(
            f"{node.name}: {bad.message}",
            error_type=_APP,
            app_tag=bad.app_tag,
            path=node.path(),
            path_ns=prefixes,
        )

    def validate(self, root: Element) -> list[RpcError]:
        """Every error of the datastore ``root``; empty when it is valid."""
        return Run(self._state, root).full()

    def validate_changes(
        self,
        root: Element,
        changed: Iterable[Element],
        removed: Iterable[tuple[SchemaNode, Element]],
        *,
        keys_unique: bool = False,
    ) -> list[RpcError]:
        """The verdict of validate(root) for a valid tree after an edit, at the cost of the
        constraints the edit can reach.

        ``keys_unique``: the edit cannot have given two list entries one key or a leaf-list
        one value twice (edit.py finds the existing entry first), so the scan of the
        siblings for duplicates, the one cost here that grows with the list, is skipped."""
        run = Run(self._state, root)
        run.keys_unique = keys_unique
        return run.changes(list(changed), list(removed))
