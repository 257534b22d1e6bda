"""TrustpointRemovalSubscriber: a trustpoint removed from config loses its certificates and
its enrollment record; undo (a later commit step failed) puts both back unchanged."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from agent import xmlutil
from agent.clock import FakeClock
from agent.datastore.store import CommitKind
from agent.ops.trustpoint_removal import TrustpointRemovalSubscriber
from agent.pki import load_certificate
from agent.pki.pending import PendingStore, start_pending
from agent.pki.trustpoints import TrustpointStore
from tests.unit.pki.helpers import NOW, der, ec_key, make_cert, name

TP = "urn:netconf-pki-agent:yang:npa-pki-trustpoints"
CA_KEY = ec_key()
CA = load_certificate(der(make_cert(name("Unit CA"), CA_KEY.public_key(), CA_KEY, is_ca=True)))


def tree(*names: str) -> xmlutil.Element:
    entries = "".join(f"<trustpoint><name>{n}</name></trustpoint>" for n in names)
    return xmlutil.parse(
        f'<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
        f'<trustpoints xmlns="{TP}">{entries}</trustpoints></data>'.encode()
    )


@pytest.fixture
def stores(tmp_path: Path) -> tuple[TrustpointStore, PendingStore]:
    certs = TrustpointStore(tmp_path / "tp", FakeClock(NOW))
    pending = PendingStore(tmp_path / "pending")
    for tp in ("a", "b"):
        certs.set_ca(tp, CA)
        pending.put(start_pending(tp, f"txn-{tp}", "k", ("general",), NOW, 5, 1))
    return certs, pending


def snapshot(certs: TrustpointStore, pending: PendingStore) -> tuple[object, ...]:
    return tuple((certs.get(n), pending.get(n)) for n in ("a", "b"))


def test_no_removal_no_action(stores: tuple[TrustpointStore, PendingStore]) -> None:
    assert TrustpointRemovalSubscriber(*stores).prepare(tree("a"), tree("a", "c")) is None


def test_removed_trustpoint_loses_certificates_and_enrollment(
    stores: tuple[TrustpointStore, PendingStore],
) -> None:
    certs, pending = stores
    action = TrustpointRemovalSubscriber(certs, pending).prepare(tree("a", "b"), tree("b"))
    assert action is not None
    assert certs.get("a").authenticated  # prepare changes nothing
    action.apply()
    assert not certs.get("a").authenticated and pending.get("a") is None
    assert certs.get("b").authenticated and pending.get("b") is not None
    assert certs.names() == ["b"]


def test_undo_restores_everything(stores: tuple[TrustpointStore, PendingStore]) -> None:
    certs, pending = stores
    before = snapshot(certs, pending)
    action = TrustpointRemovalSubscriber(certs, pending).prepare(tree("a", "b"), tree())
    assert action is not None
    action.apply()
    assert certs.names() == []
    action.undo()
    assert snapshot(certs, pending) == before
    restored = pending.get("a")
    assert restored is not None and restored.next_poll == NOW + timedelta(minutes=1)


def test_confirmed_commit_defers_removal_until_it_resolves(
    stores: tuple[TrustpointStore, PendingStore],
) -> None:
    certs, pending = stores
    sub = TrustpointRemovalSubscriber(certs, pending)
    assert sub.prepare(tree("a", "b"), tree("b"), CommitKind.TENTATIVE) is None
    # Resolving against the rollback point ("a", "b") to a config that kept only "b"; a
    # stored trustpoint that neither names ("c", authenticated meanwhile) goes too.
    certs.set_ca("c", CA)
    action = sub.prepare(tree("a", "b"), tree("b"), CommitKind.RESOLVE)
    assert action is not None
    action.precompute()
    action.apply()
    assert certs.names() == ["b"]


def test_the_datastores_removal_hint_skips_the_comparison(
    stores: tuple[TrustpointStore, PendingStore],
) -> None:
    sub = TrustpointRemovalSubscriber(*stores)
    key_only = frozenset({("urn:netconf-pki-agent:yang:npa-pki-keys", "key")})
    assert sub.prepare(tree("a", "b"), tree("b"), CommitKind.NORMAL, key_only) is None
    entry = frozenset({(TP, "trustpoint")})
    action = sub.prepare(tree("a", "b"), tree("b"), CommitKind.NORMAL, entry)
    assert action is not None and action.names == ["a"]
