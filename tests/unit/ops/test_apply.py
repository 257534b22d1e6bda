"""KeySubscriber: commit generates declared keys, zeroizes removed ones, refuses removing a
key a trustpoint names; undo removes only what apply generated."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import xmlutil
from agent.clock import FakeClock
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
