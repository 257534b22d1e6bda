"""Commit side effects for /keys/key: a declared key without material is generated, an entry
whose algorithm, modulus or usage changed gets new material, a key removed from config is
zeroized (refused while a trustpoint in the new config names it).

The datastore calls :meth:`KeySubscriber.prepare` before running changes (sysrepo's change
event) and the returned action's ``apply`` after the swap; ``undo`` runs if a later step of the
same commit fails.  A zeroize (or a replacement, which destroys the old material) cannot be
undone, so apply generates new labels first and replaces and zeroizes last: an undo only ever
has newly generated labels to remove.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from agent.errors import InUse
from agent.ops._config import DeclaredKey, declared_keys, key_entry_path, key_users
from agent.ops.errors import to_rpc_error
from agent.pki import ErrorCode, KeyOrigin, KeyStore, PkiError
from agent.pki.trustpoints import TrustpointStore
from agent.xmlutil import Element

log = logging.getLogger(__name__)


class KeySubscriber:
    """The commit subscriber for /keys (a CommitSubscriber)."""

    def __init__(self, store: KeyStore, certs: TrustpointStore | None = None) -> None:
        self._store = store
        self._certs = certs

    def prepare(self, old: Element, new: Element) -> KeyAction | None:
        """The keys to generate, replace and zeroize; raises InUse (key-in-use) when a
        removed key is still a trustpoint's key-label in ``new``.  Changes nothing."""
        before, after = declared_keys(old), declared_keys(new)
        removed = sorted(set(before) - set(after))
        _refuse_removing_used(removed, new)
        added = [d for label, d in sorted(after.items()) if not self._store.exists(label)]
        replaced = [
            d
            for label, d in sorted(after.items())
            if label in before and before[label] != d and d not in added
        ]
        if not added and not replaced and not removed:
            return None
        return KeyAction(self._store, added, replaced, removed, certs=self._certs)


def _refuse_removing_used(removed: list[str], new: Element) -> None:
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


@dataclass(slots=True)
class KeyAction:
    """The key work of one commit (a CommitAction)."""

    store: KeyStore
    added: list[DeclaredKey]
    replaced: list[DeclaredKey]
    removed: list[str]
    generated: list[str] = field(default_factory=list)
    certs: TrustpointStore | None = None

    def apply(self) -> None:
        """Generate the added keys, then replace the changed ones and zeroize the removed ones
        (irreversible, so last).  If a generation fails, the keys generated so far are
        zeroized (the datastore undoes only actions whose apply succeeded) and the mapped
        RpcError is raised."""
        for decl in self.added:
            self._generate(decl, overwrite=False)
            self.generated.append(decl.label)
        for decl in self.replaced:
            self._generate(decl, overwrite=True)
        for label in self.removed:
            self._zeroize(label)

    def undo(self) -> None:
        """Zeroize what apply generated; removed keys are gone for good (see module doc)."""
        for label in reversed(self.generated):
            self._zeroize(label)
        self.generated.clear()

    def _generate(self, decl: DeclaredKey, *, overwrite: bool) -> None:
        try:
            self.store.generate(
                decl.label,
                decl.algorithm,
                modulus=decl.modulus,
                usage=decl.usage,
                origin=KeyOrigin.CONFIG,
                overwrite=overwrite,
            )
        except PkiError as exc:
            self.undo()
            raise to_rpc_error(exc, *key_entry_path(decl.label)) from None
        if overwrite and self.certs is not None:
            # The certified key pair is gone: its certificates can no longer be used.
            self.certs.remove_bound(decl.label)

    def _zeroize(self, label: str) -> None:
        try:
            self.store.zeroize(label)
            if self.certs is not None:
                self.certs.remove_bound(label)
        except PkiError as exc:
            if exc.code is not ErrorCode.KEY_NOT_FOUND:
                raise
            log.info("key %s had no material to zeroize", label)
