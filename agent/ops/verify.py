"""verify-certificate (npa-pki-trustpoints): is this peer chain trusted, by which anchor, and
if not, why.  An untrusted chain is an answer, not an error; malformed input is an error.

Anchors are the CA certificates of the configured, authenticated trustpoints (each with its
revocation-check and query-url), then the active trustpool certificates under the trustpool
policy; the engine (agent.pki.verify) applies the seed's precedence rule.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from agent import xmlutil
from agent.clock import Clock
from agent.datastore.store import RUNNING, Datastore
from agent.ops._config import TP_NS, TP_PREFIX, pool_policy, trustpoint_trust
from agent.ops._notify import date_and_time
from agent.ops.errors import to_rpc_error
from agent.pki import (
    Anchor,
    CrlCache,
    Fetcher,
    PkiError,
    RevocationPolicy,
    TrustPool,
    Verdict,
    load_certificates,
    verify_chain,
)
from agent.pki.trustpoints import TrustpointStore
from agent.pki.verify import Purpose
from agent.xmlutil import Element

_PURPOSES: dict[str, Purpose] = {
    "any": "any",
    "server-auth": "server-auth",
    "client-auth": "client-auth",
}


class VerifyHandler:
    def __init__(
        self,
        certs: TrustpointStore,
        pool: TrustPool,
        datastore: Datastore,
        fetcher: Fetcher,
        clock: Clock,
    ) -> None:
        self._certs = certs
        self._pool = pool
        self._datastore = datastore
        self._fetcher = fetcher
        self._clock = clock
        self._crls = CrlCache()

    async def verify_certificate(self, op: Element, ctx: object) -> list[Element]:
        try:
            chain = load_certificates((_leaf(op, "chain-pem") or "").encode())
        except PkiError as exc:
            raise to_rpc_error(exc, *_input_path("chain-pem")) from None
        when = _leaf(op, "validation-time")
        at = datetime.fromisoformat(when.replace("Z", "+00:00")) if when else self._clock.now()
        only = _leaf(op, "trustpoint")
        root = self._datastore.tree(RUNNING)
        anchors = self._anchors(root, only)
        verdict = await asyncio.to_thread(
            verify_chain,
            chain,
            anchors,
            None if only else self._pool,
            RevocationPolicy(pool_policy(root).revocation),
            purpose=_PURPOSES[_leaf(op, "purpose") or "any"],
            name=_leaf(op, "name"),
            at=at,
            fetch=self._fetcher,
            crl_cache=self._crls,
        )
        return _render(verdict)

    def _anchors(self, root: Element, only: str | None) -> list[Anchor]:
        out = []
        for tp in trustpoint_trust(root):
            ca = self._certs.get(tp.name).ca if only in (None, tp.name) else None
            if ca is not None:
                policy = RevocationPolicy(tp.revocation, tp.query_url)
                out.append(Anchor(ca, "trustpoint", tp.name, policy))
        return out


def _render(verdict: Verdict) -> list[Element]:
    out = [_text("trusted", "true" if verdict.trusted else "false")]
    anchor = verdict.anchor
    if anchor is not None:
        out.append(_text("anchor-source", anchor.source))
        if anchor.name is not None:
            out.append(_text("anchor-name", anchor.name))
        out.append(_text("anchor-fingerprint", anchor.certificate.sha256_fingerprint))
    if verdict.failure is not None:
        nsmap = {None: TP_NS, "pki-types": "urn:netconf-pki-agent:yang:npa-pki-types"}
        out.append(
            xmlutil.make(TP_NS, "failure-reason", f"pki-types:{verdict.failure}", nsmap=nsmap)
        )
    out.append(_text("detail", verdict.detail))
    revocation = verdict.revocation
    if revocation is not None and revocation.revocation_date is not None:
        out.append(_text("revocation-date", date_and_time(revocation.revocation_date)))
    if revocation is not None and revocation.revocation_reason:
        out.append(_text("revocation-reason", revocation.revocation_reason))
    for cert in verdict.path:
        entry = xmlutil.make(TP_NS, "chain")
        xmlutil.sub(entry, TP_NS, "subject", cert.subject)
        xmlutil.sub(entry, TP_NS, "sha256-fingerprint", cert.sha256_fingerprint)
        out.append(entry)
    return out


def _text(name: str, value: str) -> Element:
    return xmlutil.make(TP_NS, name, value)


def _leaf(op: Element, name: str) -> str | None:
    el = op.find(f"{{{TP_NS}}}{name}")
    return None if el is None else xmlutil.text_of(el)


def _input_path(leaf: str) -> tuple[str, dict[str, str]]:
    return f"/{TP_PREFIX}:verify-certificate/{TP_PREFIX}:{leaf}", {TP_PREFIX: TP_NS}
