"""Commit side effects for /keys/key: a declared key without material is generated, an entry
whose algorithm, modulus or usage changed gets new material, a key removed from config is
zeroized (refused while a trustpoint in the new config names it).

The datastore calls :meth:`KeySubscriber.prepare` before running changes (sysrepo's change
event), the action's ``precompute`` (key generation, in a worker thread when the server
commits) and its ``apply`` after the swap; ``undo`` runs if a later step of the same commit
fails.  A zeroize (or a replacement, which destroys the old material) cannot be undone, so
apply generates new labels first and replaces and zeroizes last: an undo only ever has newly
generated labels to remove.

Confirmed commits (RFC 6241 §8.4): a tentative commit only generates; zeroize and replacement
wait for the confirmation, so a rollback finds the old material intact.  When the confirmed
commit resolves (confirmed, or rolled back), what to replace is judged against the stored
material, and what to zeroize includes every config-made key that the resolved config no
longer declares, whatever happened in between.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from agent.datastore.store import CommitKind, Removed
from agent.errors import InUse
from agent.ops._config import DeclaredKey, declared_keys, key_entry_path, key_users
from agent.ops.errors import to_rpc_error
from agent.pki import (
    ErrorCode,
    GeneratedKeys,
    KeyAlgorithm,
    KeyOrigin,
    KeyStore,
    PkiError,
    new_key_pairs,
)
from agent.pki.trustpoints import TrustpointStore
from agent.xmlutil import Element

log = logging.getLogger(__name__)


class KeySubscriber:
    """The commit subscriber for /keys (a CommitSubscriber)."""

    def __init__(self, store: KeyStore, certs: TrustpointStore | None = None) -> None:
        self._store = store
        self._certs = certs

    def prepare(
        self,
        old: Element,
        new: Element,
        kind: CommitKind = CommitKind.NORMAL,
        removed: Removed = None,
    ) -> KeyAction | None:
        """The keys to generate, replace and zeroize; raises InUse (key-in-use) when a
        removed key is still a trustpoint's key-label in ``new``.  Changes nothing.  Keys
        are few, so ``removed`` (the datastore's hint) is not needed here."""
        before, after = declared_keys(old), declared_keys(new)
        gone = set(before) - set(after)
        _refuse_removing_used(sorted(gone), new)
        added = [d for label, d in sorted(after.items()) if not self._store.exists(label)]
        replaced = [
            d
            for label, d in sorted(after.items())
            if label in before and before[label] != d and d not in added and not self._holds(d)
        ]
        if kind is CommitKind.TENTATIVE:
            replaced, gone = [], set()
        elif kind is CommitKind.RESOLVE:
            gone |= self._config_keys_not_in(after)
        if not added and not replaced and not gone:
            return None
        return KeyAction(self._store, added, replaced, sorted(gone), certs=self._certs)

    def _holds(self, decl: DeclaredKey) -> bool:
        """The stored material already is what ``decl`` asks for."""
        info = self._store.get(decl.label)
        size_ok = decl.algorithm is not KeyAlgorithm.RSA or info.key_size == decl.modulus
        return info.algorithm is decl.algorithm and info.usage is decl.usage and size_ok

    def _config_keys_not_in(self, declared: dict[str, DeclaredKey]) -> set[str]:
        return {
            info.label
            for info in self._store.list()
            if info.origin is KeyOrigin.CONFIG and info.label not in declared
        }


def _refuse_removing_used(removed: list[str], new: Element) -> None:
    if not removed:
        return
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
    fresh: dict[str, GeneratedKeys] = field(default_factory=dict, repr=False)

    def precompute(self) -> None:
        """Generate the new key pairs in memory (the slow part); nothing is stored yet."""
        todo = [d for d in (*self.added, *self.replaced) if d.label not in self.fresh]
        if todo:
            log.info("generating key pair(s) for the commit: %s", ", ".join(d.label for d in todo))
        for decl in todo:
            try:
                self.fresh[decl.label] = _new_pairs(decl)
            except PkiError as exc:
                raise to_rpc_error(exc, *key_entry_path(decl.label)) from None

    def apply(self) -> None:
        """Store the added keys, then replace the changed ones and zeroize the removed ones
        (irreversible, so last).  If storing fails, the keys stored so far are zeroized (the
        datastore undoes only actions whose apply succeeded) and the mapped RpcError is
        raised."""
        for decl in self.added:
            self._install(decl, overwrite=False)
            self.generated.append(decl.label)
        for decl in self.replaced:
            self._install(decl, overwrite=True)
        for label in self.removed:
            self._zeroize(label)

    def undo(self) -> None:
        """Zeroize what apply generated; removed keys are gone for good (see module doc)."""
        for label in reversed(self.generated):
            self._zeroize(label)
        self.generated.clear()

    def _install(self, decl: DeclaredKey, *, overwrite: bool) -> None:
        try:
            keys = self.fresh.pop(decl.label, None) or _new_pairs(decl)
            self.store.install_generated(decl.label, keys, overwrite=overwrite)
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


def _new_pairs(decl: DeclaredKey) -> GeneratedKeys:
    return new_key_pairs(decl.algorithm, decl.modulus, decl.usage)
