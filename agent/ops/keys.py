"""The key RPCs of npa-pki-keys: generate-key, zeroize-key, import-key.

Handlers run after the dispatcher has checked their input against the YANG input statement, so
they only read values and apply the defaults.  Key generation, import and zeroize run in a
worker thread: RSA generation takes up to seconds and must not stall other sessions.  Replies
carry public keys only; passphrases are used once, never logged or echoed.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import TypeVar

from agent import xmlutil
from agent.datastore.store import RUNNING, Datastore
from agent.errors import InUse, RpcError
from agent.ops._config import (
    KEYS_NS,
    KEYS_PREFIX,
    TYPES_NS,
    TYPES_PREFIX,
    declared_keys,
    identity_name,
    key_users,
)
from agent.ops.errors import to_rpc_error
from agent.pki import (
    ErrorCode,
    KeyAlgorithm,
    KeyComponent,
    KeyInfo,
    KeyStore,
    KeyUsage,
    PkiError,
)
from agent.pki.trustpoints import TrustpointStore
from agent.xmlutil import Element

_T = TypeVar("_T")


class KeyHandlers:
    """The handlers, bound to the key store and the datastore whose running config says
    which keys are declared and which trustpoints use them."""

    def __init__(
        self, store: KeyStore, datastore: Datastore, certs: TrustpointStore | None = None
    ) -> None:
        self._store = store
        self._datastore = datastore
        self._certs = certs

    async def generate_key(self, op: Element, ctx: object) -> list[Element]:
        """generate-key: refused for a label declared in config (its entry owns it)."""
        label = _leaf(op, "label") or ""
        self._refuse_declared(label, "generate-key", "change the config entry instead")
        algorithm = KeyAlgorithm(identity_name(_leaf(op, "algorithm") or "rsa"))
        modulus = int(_leaf(op, "modulus") or "2048")
        usage = KeyUsage(_leaf(op, "usage") or "general-keys")
        overwrite = _flag(op, "overwrite")

        def generate() -> KeyInfo:
            info = self._store.generate(
                label, algorithm, modulus=modulus, usage=usage, overwrite=overwrite
            )
            if overwrite:  # a new label has no certificates; replaced material loses its own
                self._unbind([label])
            return info

        info = await _run("generate-key", generate)
        return [_text("label", info.label), *_components(info)]

    async def zeroize_key(self, op: Element, ctx: object) -> list[Element]:
        """zeroize-key: one label or all; refused as a whole if any target is declared in
        config or referenced by a trustpoint, so nothing is destroyed then."""
        label = _leaf(op, "label")
        targets = [label] if label is not None else [i.label for i in self._store.list()]
        for target in targets:
            self._refuse_declared(target, "zeroize-key", "remove it from config and commit")
            self._refuse_used(target)
        if label is None:
            done = await _run("zeroize-key", self._store.zeroize_all)
        else:
            await _run("zeroize-key", lambda: self._store.zeroize(label))
            done = [label]
        await _run("zeroize-key", lambda: self._unbind(done))
        return [_text("zeroized", d) for d in done]

    async def import_key(self, op: Element, ctx: object) -> list[Element]:
        """import-key: a peer's public key (public-only) or a key pair (PKCS #8, PKCS #12)."""
        label = _leaf(op, "label") or ""
        overwrite = _flag(op, "overwrite")
        public = _material(op, "public-key-pem", "public-key-der")
        if public is not None:
            info = await _run(
                "import-key", lambda: self._store.import_public(label, public, overwrite=overwrite)
            )
        else:
            pair = _material(op, "pkcs8-pem", "pkcs12") or b""
            secret = _leaf(op, "passphrase")
            passphrase = secret.encode() if secret is not None else None
            info = await _run(
                "import-key",
                lambda: self._store.import_pair(label, pair, passphrase, overwrite=overwrite),
            )
        out = [_text("label", info.label)]
        if info.source_format is not None:
            out.append(_identity("format", info.source_format.value))
        return [*out, *_components(info)]

    def _unbind(self, labels: list[str]) -> None:
        """Remove the certificates bound to destroyed (or replaced) key material."""
        if self._certs is not None:
            for label in labels:
                self._certs.remove_bound(label)

    def _refuse_declared(self, label: str, rpc: str, advice: str) -> None:
        if label in declared_keys(self._datastore.tree(RUNNING)):
            raise _in_use(
                rpc,
                ErrorCode.KEY_DECLARED_IN_CONFIG,
                f"key {label!r} is declared in config (/keys/key); {advice}",
            )

    def _refuse_used(self, label: str) -> None:
        users = key_users(self._datastore.tree(RUNNING)).get(label)
        if users:
            raise _in_use(
                "zeroize-key",
                ErrorCode.KEY_IN_USE,
                f"key {label!r} is used by trustpoint(s) {', '.join(users)}; "
                "remove their key-label first",
            )


async def _run(rpc: str, work: Callable[[], _T]) -> _T:
    """Engine work in a worker thread, its failure as the mapped rpc-error."""
    try:
        return await asyncio.to_thread(work)
    except PkiError as exc:
        raise to_rpc_error(exc, *_label_path(rpc)) from None


def _in_use(rpc: str, code: ErrorCode, message: str) -> RpcError:
    path, ns = _label_path(rpc)
    return InUse(message, app_tag=code.value, path=path, path_ns=ns)


def _label_path(rpc: str) -> tuple[str, dict[str, str]]:
    return f"/{KEYS_PREFIX}:{rpc}/{KEYS_PREFIX}:label", {KEYS_PREFIX: KEYS_NS}


def _leaf(op: Element, name: str) -> str | None:
    """An input leaf's text; unqualified parameters are accepted as the dispatcher does."""
    el = op.find(f"{{{KEYS_NS}}}{name}")
    if el is None:
        el = op.find(name)
    return None if el is None else xmlutil.text_of(el)


def _flag(op: Element, name: str) -> bool:
    return _leaf(op, name) == "true"


def _material(op: Element, pem: str, der: str) -> bytes | None:
    """The bytes of whichever of a PEM (text) or DER (base64 binary) leaf is present."""
    text = _leaf(op, pem)
    if text is not None:
        return text.encode()
    b64 = _leaf(op, der)
    return None if b64 is None else base64.b64decode("".join(b64.split()))


def _text(name: str, value: str) -> Element:
    return xmlutil.make(KEYS_NS, name, value, nsmap={None: KEYS_NS})


def _identity(name: str, value: str) -> Element:
    """An identityref leaf with its prefix declared on the element itself."""
    nsmap: dict[str | None, str] = {None: KEYS_NS, TYPES_PREFIX: TYPES_NS}
    return xmlutil.make(KEYS_NS, name, f"{TYPES_PREFIX}:{value}", nsmap=nsmap)


def _components(info: KeyInfo) -> list[Element]:
    """The output's component list: role, public-key-pem, sha256-fingerprint."""
    return [_component(c) for c in info.components]


def _component(c: KeyComponent) -> Element:
    el = xmlutil.root(KEYS_NS, "component")
    xmlutil.sub(el, KEYS_NS, "role", c.role.value)
    xmlutil.sub(el, KEYS_NS, "public-key-pem", c.public_key_pem)
    xmlutil.sub(el, KEYS_NS, "sha256-fingerprint", c.sha256_fingerprint)
    return el
