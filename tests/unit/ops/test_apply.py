"""KeySubscriber: commit generates declared keys, zeroizes removed ones, refuses removing a
key a trustpoint names; undo removes only what apply generated."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import xmlutil
from agent.clock import FakeClock
from agent.datastore.store import CommitKind
from agent.errors import ErrorTag, RpcError
from agent.ops.apply import KeySubscriber
from agent.pki import ErrorCode, KeyAlgorithm, KeyOrigin, KeyStore

KEYS = "urn:netconf-pki-agent:yang:npa-pki-keys"
TP = "urn:netconf-pki-agent:yang:npa-pki-trustpoints"
TYPES = "urn:netconf-pki-agent:yang:npa-pki-types"


def tree(keys: dict[str, str], users: dict[str, str] | None = None) -> xmlutil.Element:
    """A datastore root with ed25519 keys (label -> algorithm) and trustpoints (name -> label)."""
    entries = "".join(
        f"<key><label>{k}</label><algorithm xmlns:t='{TYPES}'>t:{a}</algorithm></key>"
        for k, a in keys.items()
    )
    tps = "".join(
        f"<trustpoint><name>{n}</name><key-label>{k}</key-label></trustpoint>"
        for n, k in (users or {}).items()
    )
    return xmlutil.parse(
        f'<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><keys xmlns="{KEYS}">{entries}'
        f'</keys><trustpoints xmlns="{TP}">{tps}</trustpoints></data>'.encode()
    )


@pytest.fixture
def store(tmp_path: Path) -> KeyStore:
    return KeyStore(tmp_path / "keys", FakeClock())


def test_added_key_is_generated_with_origin_config(store: KeyStore) -> None:
    action = KeySubscriber(store).prepare(tree({}), tree({"a": "ed25519"}))
    assert action is not None
    assert not store.exists("a")  # prepare changes nothing
    action.apply()
    info = store.get("a")
    assert (info.origin, info.algorithm.value) == (KeyOrigin.CONFIG, "ed25519")


def test_no_change_means_no_action(store: KeyStore) -> None:
    store.generate("a", KeyAlgorithm.ED25519, origin=KeyOrigin.CONFIG)
    assert KeySubscriber(store).prepare(tree({"a": "ed25519"}), tree({"a": "ed25519"})) is None


def test_removed_key_is_zeroized(store: KeyStore) -> None:
    action = KeySubscriber(store).prepare(tree({}), tree({"a": "ed25519"}))
    assert action is not None
    action.apply()
    removal = KeySubscriber(store).prepare(tree({"a": "ed25519"}), tree({}))
    assert removal is not None
    removal.apply()
    assert not store.exists("a")


def test_removing_a_referenced_key_is_refused(store: KeyStore) -> None:
    old = tree({"a": "ed25519"}, {"myca": "a"})
    with pytest.raises(RpcError) as exc:
        KeySubscriber(store).prepare(old, tree({}, {"myca": "a"}))
    err = exc.value
    assert (err.tag, err.app_tag) == (ErrorTag.IN_USE, ErrorCode.KEY_IN_USE.value)
    assert err.path == "/pki-keys:keys/pki-keys:key[pki-keys:label='a']"


def test_removing_key_and_reference_together_is_allowed(store: KeyStore) -> None:
    old = tree({"a": "ed25519"}, {"myca": "a"})
    assert KeySubscriber(store).prepare(old, tree({})) is not None


def test_undo_zeroizes_only_generated_keys(store: KeyStore) -> None:
    store.generate("kept", KeyAlgorithm.ED25519)
    action = KeySubscriber(store).prepare(tree({}), tree({"kept": "ed25519", "b": "ed25519"}))
    assert action is not None
    action.apply()
    action.undo()
    assert store.exists("kept")
    assert not store.exists("b")


def test_changed_parameters_replace_the_material(store: KeyStore) -> None:
    first = KeySubscriber(store).prepare(tree({}), tree({"a": "ed25519"}))
    assert first is not None
    first.apply()
    old = store.get("a").components[0].sha256_fingerprint
    change = KeySubscriber(store).prepare(tree({"a": "ed25519"}), tree({"a": "ecdsa-p256"}))
    assert change is not None
    change.apply()
    info = store.get("a")
    assert (info.algorithm, info.origin) == (KeyAlgorithm.ECDSA_P256, KeyOrigin.CONFIG)
    assert info.components[0].sha256_fingerprint != old


def commit(store: KeyStore, old: dict[str, str], new: dict[str, str], kind: CommitKind) -> None:
    action = KeySubscriber(store).prepare(tree(old), tree(new), kind)
    if action is not None:
        action.precompute()
        action.apply()


def fingerprint(store: KeyStore, label: str) -> str:
    return store.get(label).components[0].sha256_fingerprint


def test_precompute_generates_without_storing(store: KeyStore) -> None:
    action = KeySubscriber(store).prepare(tree({}), tree({"a": "ed25519"}))
    assert action is not None
    action.precompute()
    assert not store.exists("a")
    action.apply()
    assert store.get("a").origin is KeyOrigin.CONFIG


def test_tentative_commit_generates_but_defers_zeroize_and_replacement(store: KeyStore) -> None:
    commit(store, {}, {"old": "ed25519", "changed": "ed25519"}, CommitKind.NORMAL)
    kept = fingerprint(store, "changed")
    tentative = {"changed": "ecdsa-p256", "new": "ed25519"}
    commit(store, {"old": "ed25519", "changed": "ed25519"}, tentative, CommitKind.TENTATIVE)
    assert store.exists("new") and store.exists("old")
    assert fingerprint(store, "changed") == kept  # not replaced yet


def test_rollback_restores_nothing_it_did_not_destroy(store: KeyStore) -> None:
    original = {"old": "ed25519", "changed": "ed25519"}
    commit(store, {}, original, CommitKind.NORMAL)
    kept = {label: fingerprint(store, label) for label in original}
    tentative = {"changed": "ecdsa-p256", "new": "ed25519"}
    commit(store, original, tentative, CommitKind.TENTATIVE)
    commit(store, tentative, original, CommitKind.RESOLVE)  # the rollback
    assert not store.exists("new")
    assert {label: fingerprint(store, label) for label in original} == kept


def test_confirmation_does_the_deferred_work(store: KeyStore) -> None:
    original = {"old": "ed25519", "changed": "ed25519"}
    commit(store, {}, original, CommitKind.NORMAL)
    kept = fingerprint(store, "changed")
    tentative = {"changed": "ecdsa-p256", "new": "ed25519", "brief": "ed25519"}
    commit(store, original, tentative, CommitKind.TENTATIVE)
    confirmed = {"changed": "ecdsa-p256", "new": "ed25519"}  # "brief" dropped again
    commit(store, original, confirmed, CommitKind.RESOLVE)  # old = the rollback point
    assert [i.label for i in store.list()] == ["changed", "new"]
    assert store.get("changed").algorithm is KeyAlgorithm.ECDSA_P256
    assert fingerprint(store, "changed") != kept


def test_resolve_leaves_keys_made_by_rpc_alone(store: KeyStore) -> None:
    store.generate("byrpc", KeyAlgorithm.ED25519)
    commit(store, {}, {}, CommitKind.RESOLVE)
    assert store.exists("byrpc")
