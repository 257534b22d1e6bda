"""Commit side effects for /keys/key: a declared key without material is generated, a key
removed from config is zeroized (refused while a trustpoint in the new config names it).

The datastore calls :meth:`KeySubscriber.prepare` before running changes (sysrepo's change
event) and the returned action's ``apply`` after the swap; ``undo`` runs if a later step of the
same commit fails.  A zeroize cannot be undone, so apply generates first and zeroizes last:
once zeroize starts nothing of ours can fail the commit any more, and an undo only ever has
generated keys to remove.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from agent.errors import InUse
from agent.ops._config import DeclaredKey, declared_keys, key_entry_path, key_users
from agent.ops.errors import to_rpc_error
from agent.pki import ErrorCode, KeyOrigin, KeyStore, PkiError
from agent.xmlutil import Element

log = logging.getLogger(__name__)


class KeySubscriber:
    """The commit subscriber for /keys (a CommitSubscriber)."""

    def __init__(self, store: KeyStore) -> None:
        self._store = store

    def prepare(self, old: Element, new: Element) -> KeyAction | None:
        """The keys to generate and to zeroize; raises InUse (key-in-use) when a removed key
        is still a trustpoint's key-label in ``new``.  Changes nothing."""
        before, after = declared_keys(old), declared_keys(new)
        added = [d for label, d in sorted(after.items()) if not self._store.exists(label)]
        removed = sorted(set(before) - set(after))
        users = key_users(new)
        for label in removed:
            if users.get(label):
                path, ns = key_entry_path(label)
                raise InUse(
                    f"key {label!r} is used by trustpoint(s) {', '.join(users[label])}; "
                    "remove their key-label in the same commit or first",
                    app_tag=ErrorCode.KEY_IN_USE.value,
                    path=path,
                    path_ns=ns,
                )
        if not added and not removed:
            return None
        return KeyAction(self._store, added, removed)


@dataclass(slots=True)
class KeyAction:
    """The key work of one commit (a CommitAction)."""

    store: KeyStore
    added: list[DeclaredKey]
    removed: list[str]
    generated: list[str] = field(default_factory=list)

    def apply(self) -> None:
        """Generate the added keys, then zeroize the removed ones (irreversible, so last).
        If a generation fails, the keys generated so far are zeroized (the datastore undoes
        only actions whose apply succeeded) and the mapped RpcError is raised."""
        for decl in self.added:
            try:
                self.store.generate(
                    decl.label,
                    decl.algorithm,
                    modulus=decl.modulus,
                    usage=decl.usage,
                    origin=KeyOrigin.CONFIG,
                )
            except PkiError as exc:
                self.undo()
                raise to_rpc_error(exc, *key_entry_path(decl.label)) from None
            self.generated.append(decl.label)
        for label in self.removed:
            self._zeroize(label)

    def undo(self) -> None:
        """Zeroize what apply generated; removed keys are gone for good (see module doc)."""
        for label in reversed(self.generated):
            self._zeroize(label)
        self.generated.clear()

    def _zeroize(self, label: str) -> None:
        try:
            self.store.zeroize(label)
        except PkiError as exc:
            if exc.code is not ErrorCode.KEY_NOT_FOUND:
                raise
            log.info("key %s had no material to zeroize", label)
