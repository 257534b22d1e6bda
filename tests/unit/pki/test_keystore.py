"""KeyStore: generation, storage at rest, reopening, zeroize, crash leftovers, concurrency."""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from agent.clock import FakeClock
from agent.pki import (
    ErrorCode,
    KeyAlgorithm,
    KeyInfo,
    KeyOrigin,
    KeyRole,
    KeyStore,
    KeyUsage,
    PkiError,
    WeakKeyWarning,
)
from tests.unit.pki.helpers import NOW, stored_private_pem


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _private_der(store: KeyStore, label: str, role: KeyRole = KeyRole.GENERAL) -> bytes:
    return store.private_key(label, role).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.mark.parametrize(
    ("algorithm", "size"),
    [
        (KeyAlgorithm.RSA, 2048),
        (KeyAlgorithm.ECDSA_P256, 256),
        (KeyAlgorithm.ECDSA_P384, 384),
        (KeyAlgorithm.ED25519, 256),
    ],
    ids=str,
)
def test_generate_each_algorithm(store: KeyStore, algorithm: KeyAlgorithm, size: int) -> None:
    info = store.generate("k1", algorithm)
    assert (info.label, info.algorithm, info.key_size) == ("k1", algorithm, size)
    assert info.usage is KeyUsage.GENERAL_KEYS
    assert info.origin is KeyOrigin.RPC
    assert info.created == NOW
    assert not info.public_only and info.source_format is None
    assert info.roles == (KeyRole.GENERAL,)
    component = info.component(KeyRole.GENERAL)
    assert component.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert len(component.sha256_fingerprint) == 95
    assert component.sha256_fingerprint == component.sha256_fingerprint.upper()
    assert bytes.fromhex(component.public_key_hex.replace(":", "")) == component.public_key_der
    assert store.get("k1") == info


def test_usage_keys_are_two_distinct_pairs(store: KeyStore) -> None:
    info = store.generate("u", modulus=2048, usage=KeyUsage.USAGE_KEYS, origin=KeyOrigin.CONFIG)
    assert info.roles == (KeyRole.SIGNATURE, KeyRole.ENCRYPTION)
    assert info.origin is KeyOrigin.CONFIG
    signature, encryption = info.components
    assert signature.public_key_der != encryption.public_key_der
    assert _private_der(store, "u", KeyRole.SIGNATURE) != _private_der(
        store, "u", KeyRole.ENCRYPTION
    )
    with pytest.raises(PkiError) as caught:
        store.private_key("u")  # general is not a role of usage-keys
    assert caught.value.code is ErrorCode.KEY_NOT_FOUND


@pytest.mark.parametrize(
    "algorithm", [KeyAlgorithm.ECDSA_P256, KeyAlgorithm.ED25519, KeyAlgorithm.ECDSA], ids=str
)
def test_usage_keys_need_rsa(store: KeyStore, algorithm: KeyAlgorithm) -> None:
    with pytest.raises(PkiError) as caught:
        store.generate("u", algorithm, usage=KeyUsage.USAGE_KEYS)
    assert caught.value.code is ErrorCode.UNSUPPORTED_KEY_PARAMETERS
    assert not store.exists("u")


def test_abstract_ecdsa_is_refused(store: KeyStore) -> None:
    with pytest.raises(PkiError) as caught:
        store.generate("e", KeyAlgorithm.ECDSA)
    assert caught.value.code is ErrorCode.UNSUPPORTED_KEY_PARAMETERS


@pytest.mark.parametrize("modulus", [0, 511, 4097, 8192])
def test_rsa_modulus_out_of_range(store: KeyStore, modulus: int) -> None:
    with pytest.raises(PkiError) as caught:
        store.generate("r", modulus=modulus)
    assert caught.value.code is ErrorCode.UNSUPPORTED_KEY_PARAMETERS
    assert str(modulus) in caught.value.message
    assert store.list() == []


def test_rsa_4096(store: KeyStore) -> None:
    info = store.generate("big", modulus=4096)
    assert info.key_size == 4096
    assert store.private_key("big").key_size == 4096  # type: ignore[union-attr]


@pytest.mark.parametrize("modulus", [512, 1000, 2047])
def test_weak_rsa_warns(store: KeyStore, modulus: int) -> None:
    with pytest.warns(WeakKeyWarning, match=str(modulus)):
        info = store.generate("weak", modulus=modulus)
    assert info.weak and info.key_size == modulus
    assert store.private_key("weak").key_size == modulus  # type: ignore[union-attr]


def test_modulus_is_ignored_for_curves(store: KeyStore) -> None:
    assert store.generate("e", KeyAlgorithm.ECDSA_P256, modulus=1).key_size == 256


def test_existing_label_is_refused_without_overwrite(store: KeyStore) -> None:
    first = store.generate("k", KeyAlgorithm.ECDSA_P256)
    with pytest.raises(PkiError) as caught:
        store.generate("k", KeyAlgorithm.ED25519)
    assert caught.value.code is ErrorCode.KEY_EXISTS
    assert caught.value.data["label"] == "k"
    assert store.get("k") == first


def test_overwrite_replaces_and_destroys_old_material(
    store: KeyStore, keystore_dir: Path, clock: FakeClock
) -> None:
    store.generate("k", KeyAlgorithm.RSA, modulus=2048, usage=KeyUsage.USAGE_KEYS)
    # A second hard link shows what becomes of the replaced record's bytes.
    witness = keystore_dir.parent / "witness"
    witness.hardlink_to(keystore_dir / "k.json")
    before = witness.read_bytes()
    clock.advance(60)
    info = store.generate("k", KeyAlgorithm.ECDSA_P384, overwrite=True)
    assert info.algorithm is KeyAlgorithm.ECDSA_P384 and info.roles == (KeyRole.GENERAL,)
    assert info.created > NOW
    assert _files(keystore_dir) == ["k.json", "master.key"]
    assert store.get("k") == info
    after = witness.read_bytes()
    assert len(after) == len(before) and after != before
    assert b"BEGIN" not in after


def test_files_are_encrypted_and_private(store: KeyStore, keystore_dir: Path) -> None:
    store.generate("r", modulus=2048)
    store.generate("e", KeyAlgorithm.ED25519)
    assert _mode(keystore_dir) == 0o700
    master = keystore_dir / "master.key"
    assert _mode(master) == 0o600 and len(master.read_bytes()) == 32
    for path in keystore_dir.iterdir():
        assert _mode(path) == 0o600, path.name
        text = path.read_bytes()
        assert b"-----BEGIN PRIVATE KEY-----" not in text
        assert b"RSA PRIVATE KEY" not in text
    for label in ("r", "e"):
        text = stored_private_pem(keystore_dir, label)
        assert text.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        with pytest.raises(TypeError):
            serialization.load_pem_private_key(text, None)
        with pytest.raises(ValueError):
            serialization.load_pem_private_key(text, b"not the master key")
        key = serialization.load_pem_private_key(text, master.read_bytes().hex().encode())
        assert key is not None


def test_record_holds_the_private_key_only_encrypted(store: KeyStore, keystore_dir: Path) -> None:
    store.generate("r", modulus=2048)
    private = _private_der(store, "r")
    doc = json.loads((keystore_dir / "r.json").read_text())
    assert doc["label"] == "r" and doc["public-only"] is False
    assert private not in (keystore_dir / "r.json").read_bytes()


def test_reopen_gives_the_same_keys(keystore_dir: Path, clock: FakeClock) -> None:
    first = KeyStore(keystore_dir, clock)
    infos = [
        first.generate("a", KeyAlgorithm.ECDSA_P256),
        first.generate("b", modulus=2048, usage=KeyUsage.USAGE_KEYS),
        first.generate("c.with.dots", KeyAlgorithm.ED25519),
    ]
    secrets_before = {(i.label, r): _private_der(first, i.label, r) for i in infos for r in i.roles}
    again = KeyStore(keystore_dir, FakeClock())
    assert again.list() == sorted(infos, key=lambda i: i.label)
    assert {(i.label, r): _private_der(again, i.label, r) for i in infos for r in i.roles} == (
        secrets_before
    )


def test_zeroize_removes_every_file_of_the_key_only(store: KeyStore, keystore_dir: Path) -> None:
    store.generate("a", modulus=2048, usage=KeyUsage.USAGE_KEYS)
    store.generate("a.b", KeyAlgorithm.ECDSA_P256)  # a label that extends the other
    keep = {n for n in _files(keystore_dir) if n.startswith("a.b.")}
    store.zeroize("a")
    assert set(_files(keystore_dir)) == keep | {"master.key"}
    assert [i.label for i in store.list()] == ["a.b"]
    with pytest.raises(PkiError) as caught:
        store.get("a")
    assert caught.value.code is ErrorCode.KEY_NOT_FOUND
    with pytest.raises(PkiError) as caught:
        store.zeroize("a")
    assert caught.value.code is ErrorCode.KEY_NOT_FOUND
    store.private_key("a.b")


def test_zeroize_overwrites_before_unlinking(store: KeyStore, keystore_dir: Path) -> None:
    # Keep a second hard link to observe the bytes the inode holds after zeroize.
    store.generate("k", KeyAlgorithm.ED25519)
    key_file = keystore_dir / "k.json"
    witness = keystore_dir.parent / "witness"
    witness.hardlink_to(key_file)
    before = witness.read_bytes()
    store.zeroize("k")
    after = witness.read_bytes()
    assert len(after) == len(before) and after != before
    assert b"BEGIN" not in after


def test_zeroize_all(store: KeyStore, keystore_dir: Path) -> None:
    store.generate("a", KeyAlgorithm.ED25519)
    store.generate("b", KeyAlgorithm.ECDSA_P256)
    store.import_public("peer", store.get("a").components[0].public_key_pem.encode())
    assert store.zeroize_all() == ["a", "b", "peer"]
    assert _files(keystore_dir) == ["master.key"]
    assert store.list() == []
    assert store.zeroize_all() == []


def test_zeroize_works_with_damaged_metadata(store: KeyStore, keystore_dir: Path) -> None:
    store.generate("k", KeyAlgorithm.ED25519)
    (keystore_dir / "k.json").write_text("{not json")
    with pytest.raises(PkiError) as caught:
        store.get("k")
    assert caught.value.code is ErrorCode.KEYSTORE_DAMAGED
    store.zeroize("k")
    assert _files(keystore_dir) == ["master.key"]


def test_private_key_checks_the_stored_public_key(store: KeyStore, keystore_dir: Path) -> None:
    store.generate("a", KeyAlgorithm.ED25519)
    other = store.generate("b", KeyAlgorithm.ED25519)
    doc = json.loads((keystore_dir / "a.json").read_text())
    doc["components"][0]["public-key"] = json.loads((keystore_dir / "b.json").read_text())[
        "components"
    ][0]["public-key"]
    (keystore_dir / "a.json").write_text(json.dumps(doc))
    assert store.get("a").components[0] == other.components[0]
    with pytest.raises(PkiError) as caught:
        store.private_key("a")
    assert caught.value.code is ErrorCode.KEYSTORE_DAMAGED


def test_lost_master_key_is_reported_not_replaced(keystore_dir: Path, clock: FakeClock) -> None:
    KeyStore(keystore_dir, clock).generate("k", KeyAlgorithm.ED25519)
    (keystore_dir / "master.key").unlink()
    store = KeyStore(keystore_dir, clock)
    with pytest.raises(PkiError) as caught:
        store.private_key("k")
    assert caught.value.code is ErrorCode.KEYSTORE_DAMAGED
    assert not (keystore_dir / "master.key").exists()


def test_wrong_master_key_is_keystore_damaged(keystore_dir: Path, clock: FakeClock) -> None:
    KeyStore(keystore_dir, clock).generate("k", KeyAlgorithm.ED25519)
    (keystore_dir / "master.key").write_bytes(bytes(32))
    with pytest.raises(PkiError) as caught:
        KeyStore(keystore_dir, clock).private_key("k")
    assert caught.value.code is ErrorCode.KEYSTORE_DAMAGED


def test_reopen_destroys_crash_leftovers(keystore_dir: Path, clock: FakeClock) -> None:
    store = KeyStore(keystore_dir, clock)
    store.generate("k", KeyAlgorithm.ED25519)
    live = _files(keystore_dir)
    # A crash between writing new key files and their metadata, and one mid-write.
    (keystore_dir / "k.0123abcd.general.p8").write_bytes(b"orphan")
    (keystore_dir / ".k.json.x1y2.tmp").write_bytes(b"torn")
    KeyStore(keystore_dir, clock)
    assert _files(keystore_dir) == live


def test_public_only_key_has_no_private_key(store: KeyStore) -> None:
    source = store.generate("mine", KeyAlgorithm.ECDSA_P256)
    info = store.import_public("peer", source.components[0].public_key_der)
    assert info.public_only and info.origin is KeyOrigin.IMPORTED
    with pytest.raises(PkiError) as caught:
        store.private_key("peer")
    assert caught.value.code is ErrorCode.KEY_NOT_FOUND


@pytest.mark.parametrize("label", ["", ".hidden", "../x", "a/b", "a" * 65, "sp ace"])
def test_bad_labels_never_reach_the_file_system(store: KeyStore, label: str) -> None:
    with pytest.raises(ValueError):
        store.generate(label, KeyAlgorithm.ED25519)


def test_unknown_label(store: KeyStore) -> None:
    for call in (store.get, store.private_key, store.zeroize):
        with pytest.raises(PkiError) as caught:
            call("nope")
        assert caught.value.code is ErrorCode.KEY_NOT_FOUND
        assert "nope" in str(caught.value)


def test_parallel_generation_of_distinct_labels(store: KeyStore) -> None:
    errors: list[BaseException] = []
    results: dict[str, KeyInfo] = {}

    def work(label: str) -> None:
        try:
            results[label] = store.generate(label, KeyAlgorithm.ECDSA_P256)
        except BaseException as exc:  # deliberate: reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"k{i}",)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {i.label for i in store.list()} == set(results)
    assert len({i.components[0].public_key_der for i in results.values()}) == 16


def test_parallel_generation_of_one_label_creates_it_once(store: KeyStore) -> None:
    codes: list[str] = []

    def work() -> None:
        try:
            store.generate("same", KeyAlgorithm.ECDSA_P256)
            codes.append("ok")
        except PkiError as exc:
            codes.append(exc.code)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == ["key-exists"] * 7 + ["ok"]


def test_repr_and_errors_never_show_private_material(store: KeyStore) -> None:
    info = store.generate("r", modulus=2048)
    key = store.private_key("r")
    assert isinstance(key, rsa.RSAPrivateKey)
    numbers = key.private_numbers()
    secrets = [
        format(numbers.d, "x"),
        format(numbers.p, "x"),
        format(numbers.d, "X"),
        str(numbers.d),
        _private_der(store, "r").hex(),
    ]
    texts = [repr(info), str(info), repr(info.components), repr(store.list())]
    for call in (lambda: store.generate("r"), lambda: store.private_key("r", KeyRole.SIGNATURE)):
        with pytest.raises(PkiError) as caught:
            call()
        texts += [repr(caught.value), str(caught.value), repr(caught.value.data)]
    joined = "\n".join(texts).lower()
    assert all(s.lower() not in joined for s in secrets)
    assert "public_key_der" not in repr(info)


# -- format 1: private keys in files of their own -------------------------------------------


def _format_1(store: KeyStore, keystore_dir: Path, label: str, usage: KeyUsage) -> list[str]:
    """Rewrite ``label`` as format 1 stored it: each private key in <label>.<token>.<role>.p8
    (PBKDF2 with cryptography's default rounds), the record naming the files."""
    store.generate(label, modulus=2048, usage=usage)
    passphrase = (keystore_dir / "master.key").read_bytes().hex().encode()
    doc = json.loads((keystore_dir / f"{label}.json").read_text())
    names = []
    for component in doc["components"]:
        role = component.pop("private-key") and component["role"]
        name = f"{label}.0123abcd.{role}.p8"
        pem = store.private_key(label, KeyRole(role)).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )
        (keystore_dir / name).write_bytes(pem)
        component["file"] = name
        names.append(name)
    doc["version"] = 1
    (keystore_dir / f"{label}.json").write_text(json.dumps(doc))
    return names


def test_format_1_store_loads(keystore_dir: Path, clock: FakeClock) -> None:
    first = KeyStore(keystore_dir, clock)
    info = first.generate("new", KeyAlgorithm.ECDSA_P256)
    files = _format_1(first, keystore_dir, "old", KeyUsage.USAGE_KEYS)
    secrets_before = {r: _private_der(first, "old", r) for r in first.get("old").roles}
    again = KeyStore(keystore_dir, clock)  # recovery keeps the key files a record names
    assert set(files) <= set(_files(keystore_dir))
    assert [i.label for i in again.list()] == ["new", "old"]
    assert again.get("new") == info
    assert {r: _private_der(again, "old", r) for r in again.get("old").roles} == secrets_before


def test_format_1_key_replaced_or_zeroized_loses_its_key_files(
    store: KeyStore, keystore_dir: Path
) -> None:
    files = _format_1(store, keystore_dir, "a", KeyUsage.USAGE_KEYS)
    _format_1(store, keystore_dir, "b", KeyUsage.GENERAL_KEYS)
    witness = keystore_dir.parent / "witness"
    witness.hardlink_to(keystore_dir / files[0])
    store.generate("a", KeyAlgorithm.ED25519, overwrite=True)
    assert b"BEGIN" not in witness.read_bytes()
    assert json.loads((keystore_dir / "a.json").read_text())["version"] == 2
    store.private_key("a")
    store.zeroize("b")
    assert _files(keystore_dir) == ["a.json", "master.key"]


def test_record_without_its_private_key_is_damaged(store: KeyStore, keystore_dir: Path) -> None:
    store.generate("k", KeyAlgorithm.ED25519)
    doc = json.loads((keystore_dir / "k.json").read_text())
    doc["components"][0]["private-key"] = None
    (keystore_dir / "k.json").write_text(json.dumps(doc))
    with pytest.raises(PkiError) as caught:
        store.get("k")
    assert caught.value.code is ErrorCode.KEYSTORE_DAMAGED
