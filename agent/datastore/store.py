"""The running and candidate datastores, the operations on them, and their persistence.

One shared candidate (RFC 6241 §8.3).  Every change is made on a copy and swapped in only
when it succeeded, so a rejected edit, validate or commit leaves both datastores exactly as
they were.  Commit subscribers (registered by ``ops``, the way sysrepo calls its plugins) first
check a change and may refuse it, then apply it; a failed apply undoes the swap.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from lxml import etree

from agent import xmlutil
from agent.datastore.edit import EditResult, ErrorOption, Operation, apply_edit
from agent.datastore.locks import Locks
from agent.datastore.persist import atomic_write, remove_stale_temps
from agent.datastore.schema import Schema
from agent.datastore.validate import Validator
from agent.errors import (
    InvalidValue,
    LockDenied,
    OperationNotSupported,
    RpcError,
    RpcErrors,
)
from agent.xmlutil import BASE_NS, Element

log = logging.getLogger(__name__)

RUNNING = "running"
CANDIDATE = "candidate"
DATASTORES = (RUNNING, CANDIDATE)


class TestOption(StrEnum):
    TEST_THEN_SET = "test-then-set"
    SET = "set"
    TEST_ONLY = "test-only"


class CommitSubscriber(Protocol):
    """Told about every commit, before and after the swap (sysrepo's change/done events)."""

    def check(self, old: Element, new: Element) -> None:
        """Raise an RpcError to refuse the change; must not change anything."""

    def apply(self, old: Element, new: Element) -> None:
        """Carry out the change; raise to make the commit fail and be undone."""


StateProvider = Callable[[], list[Element]]


@dataclass(slots=True)
class _Candidate:
    tree: Element
    # Sessions whose edits the candidate holds (RFC 6241 §8.3.5.1 lock rule).
    modified_by: set[int] = field(default_factory=set)


def empty_root() -> Element:
    return etree.Element(f"{{{BASE_NS}}}data", nsmap={None: BASE_NS})


class Datastore:
    def __init__(self, schema: Schema, state_dir: Path) -> None:
        self.schema = schema
        self.validator = Validator(schema)
        self.locks = Locks()
        self._file = state_dir / "running.xml"
        self._state_dir = state_dir
        self._subscribers: list[CommitSubscriber] = []
        self._state_providers: list[StateProvider] = []
        self._running = empty_root()
        self._candidate = _Candidate(empty_root())

    # -- start-up ------------------------------------------------------------------------

    def load(self) -> None:
        """Restore running from disk; the candidate starts equal to it."""
        self._state_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(self._state_dir)
        if self._file.exists():
            self._running = _reroot(xmlutil.parse(self._file.read_bytes()))
        self._candidate = _Candidate(copy.deepcopy(self._running))

    def subscribe(self, subscriber: CommitSubscriber) -> None:
        self._subscribers.append(subscriber)

    def add_state_provider(self, provider: StateProvider) -> None:
        self._state_providers.append(provider)

    # -- reads ---------------------------------------------------------------------------

    def tree(self, name: str) -> Element:
        """The live tree of a datastore; callers must not modify it."""
        if name == RUNNING:
            return self._running
        if name == CANDIDATE:
            return self._candidate.tree
        raise _unknown_datastore(name)

    def operational(self) -> Element:
        """Running config plus every state provider's nodes, for <get>."""
        out = copy.deepcopy(self._running)
        for provider in self._state_providers:
            out.extend(provider())
        return out

    def candidate_modified(self) -> bool:
        return bool(self._candidate.modified_by)

    # -- writes --------------------------------------------------------------------------

    def edit(
        self,
        target: str,
        session_id: int,
        config: Element,
        *,
        default_operation: Operation = Operation.MERGE,
        error_option: ErrorOption = ErrorOption.STOP_ON_ERROR,
        test_option: TestOption = TestOption.TEST_THEN_SET,
    ) -> EditResult:
        self._check_writable(target, session_id)
        work = copy.deepcopy(self._candidate.tree)
        checker = None if test_option is TestOption.SET else self.validator.check_value
        result = apply_edit(
            self.schema,
            work,
            config,
            default_operation=default_operation,
            error_option=error_option,
            check_value=checker,
        )
        if test_option is TestOption.TEST_ONLY:
            return result
        if result.errors and error_option is ErrorOption.ROLLBACK_ON_ERROR:
            return result
        if result.changed or result.removed:
            self._candidate.tree = work
            self._candidate.modified_by.add(session_id)
        return result

    def copy_config(self, session_id: int, source: str | Element, target: str) -> None:
        self._check_writable(target, session_id)
        tree = self._source_tree(source)
        if not isinstance(source, str):
            self._raise_invalid(tree)
        self._candidate.tree = copy.deepcopy(tree)
        self._candidate.modified_by.add(session_id)

    def delete_config(self, session_id: int, target: str) -> None:
        # RFC 6241 §7.4: running cannot be deleted; candidate is not a valid target either
        # (§8.3.5.3 uses discard-changes), so this agent has no deletable datastore.
        raise OperationNotSupported(
            f"delete-config of {target} is not supported; "
            "use discard-changes or copy-config to the candidate",
            error_type=None,
        )

    def discard_changes(self, session_id: int) -> None:
        self.locks.check_write(CANDIDATE, session_id)
        self._candidate = _Candidate(copy.deepcopy(self._running))

    def validate(self, source: str | Element) -> None:
        self._raise_invalid(self._source_tree(source))

    def commit(self, session_id: int) -> None:
        """Validate the candidate, let subscribers check it, make it running, persist."""
        self.locks.check_write(RUNNING, session_id)
        self.locks.check_write(CANDIDATE, session_id)
        new = self._candidate.tree
        self._raise_invalid(new)
        old = self._running
        for sub in self._subscribers:
            sub.check(old, new)
        new_running = copy.deepcopy(new)
        self._swap_and_apply(old, new_running)
        self._candidate.modified_by.clear()

    def _swap_and_apply(self, old: Element, new: Element) -> None:
        applied: list[CommitSubscriber] = []
        try:
            self._persist(new)
            self._running = new
            for sub in self._subscribers:
                sub.apply(old, new)
                applied.append(sub)
        except BaseException:
            log.exception("commit failed while applying; restoring the previous running")
            self._running = old
            self._persist(old)
            for sub in reversed(applied):
                sub.apply(new, old)
            raise

    def _persist(self, tree: Element) -> None:
        atomic_write(self._file, etree.tostring(tree, encoding="utf-8"))

    # -- locks and sessions ----------------------------------------------------------------

    def lock(self, name: str, session_id: int) -> None:
        _check_name(name)
        if name == CANDIDATE:
            others = self._candidate.modified_by - {session_id}
            if others:
                # RFC 6241 §8.3.5.1: no lock while the candidate holds others' changes.
                raise LockDenied(
                    "the candidate holds uncommitted changes of another session; "
                    "commit or discard-changes first",
                    holder=min(others),
                )
        self.locks.lock(name, session_id)

    def unlock(self, name: str, session_id: int) -> None:
        _check_name(name)
        self.locks.unlock(name, session_id)
        if name == CANDIDATE and self._candidate.modified_by:
            # RFC 6241 §8.3.5.2: releasing the candidate lock discards the holder's changes.
            self._candidate = _Candidate(copy.deepcopy(self._running))

    def session_closed(self, session_id: int) -> None:
        """Locks die with their session (RFC 6241 §7.5); so do its candidate changes when it
        held the candidate lock."""
        released = self.locks.release_all(session_id)
        if CANDIDATE in released and self._candidate.modified_by:
            self._candidate = _Candidate(copy.deepcopy(self._running))

    # -- helpers -------------------------------------------------------------------------

    def _check_writable(self, target: str, session_id: int) -> None:
        if target == RUNNING:
            raise OperationNotSupported(
                "the running datastore is not directly writable; "
                "edit the candidate and commit",
                error_type=None,
            )
        _check_name(target)
        self.locks.check_write(CANDIDATE, session_id)

    def _source_tree(self, source: str | Element) -> Element:
        if isinstance(source, str):
            return self.tree(source)
        return _reroot(source)

    def _raise_invalid(self, tree: Element) -> None:
        errors: list[RpcError] = self.validator.validate(tree)
        RpcErrors.raise_if_any(errors)


def _reroot(config: Element) -> Element:
    """Copy the children of a <config>/<data> element under a fresh datastore root."""
    root = empty_root()
    for child in config:
        if xmlutil.is_element(child):
            root.append(copy.deepcopy(child))
    return root


def _check_name(name: str) -> None:
    if name not in DATASTORES:
        raise _unknown_datastore(name)


def _unknown_datastore(name: str) -> RpcError:
    if name == "startup":
        return OperationNotSupported(
            "the startup datastore is not supported: running is persisted on every commit",
            error_type=None,
        )
    return InvalidValue(f"unknown datastore {name!r}", error_type=None)


__all__ = [
    "CANDIDATE",
    "DATASTORES",
    "RUNNING",
    "CommitSubscriber",
    "Datastore",
    "TestOption",
]
