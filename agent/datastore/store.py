"""The running and candidate datastores, the operations on them, and their persistence.

One shared candidate (RFC 6241 §8.3).  Costs follow the size of a change, not of the
datastore: edits change the candidate in place under an undo :class:`Journal`; the candidate
remembers the edits it holds beyond running, and commit replays them on running (a copy-config
into the candidate is the one case that copies whole trees); validation re-checks what the
pending edits reached; persistence appends a commit record to a :class:`CommitLog`.

A rejected edit, validate or commit leaves both datastores exactly as they were.  Commit
subscribers (registered by ``ops``, the way sysrepo calls its plugins) prepare an action from
the old and new trees and may refuse the change; their actions run after the swap and are
undone with it when anything later fails.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from lxml import etree

from agent import xmlutil
from agent.datastore.changes import ConfigEdit, edit_list
from agent.datastore.confirmed import ConfirmFile, ConfirmOptions, PendingConfirm
from agent.datastore.edit import (
    EditResult,
    ErrorOption,
    Operation,
    apply_edit,
)
from agent.datastore.index import EntryIndex
from agent.datastore.journal import Journal
from agent.datastore.locks import Locks
from agent.datastore.persist import CommitLog
from agent.datastore.runstate import ErrorPaths
from agent.datastore.schema import Schema, SchemaNode
from agent.datastore.stored import bind_module_prefixes
from agent.datastore.validate import Validator
from agent.durable import remove_stale_temps
from agent.errors import (
    ErrorType,
    InUse,
    InvalidValue,
    LockDenied,
    OperationFailed,
    OperationNotSupported,
    RpcError,
    RpcErrors,
)
from agent.xmlutil import BASE_NS, Element

log = logging.getLogger(__name__)

RUNNING = "running"
CANDIDATE = "candidate"
DATASTORES = (RUNNING, CANDIDATE)
_LOG_NS = "urn:netconf-pki-agent:commit-log"


class TestOption(StrEnum):
    __test__ = False  # not a pytest test class, despite the name

    TEST_THEN_SET = "test-then-set"
    SET = "set"
    TEST_ONLY = "test-only"


Removed = frozenset[tuple[str, str]] | None


class CommitKind(StrEnum):
    """What a commit means for the subscribers' side effects (RFC 6241 §8.4)."""

    NORMAL = "normal"
    # A confirmed commit: destructive side effects (zeroize, replacing material) wait for the
    # confirmation, so that a rollback finds everything as it was.
    TENTATIVE = "tentative"
    # The confirmation or rollback of a confirmed commit: ``old`` is the configuration at the
    # other end, and the deferred side effects happen now.
    RESOLVE = "resolve"


class CommitAction(Protocol):
    def precompute(self) -> None:
        """Slow work that changes nothing visible (key generation); may run in a worker
        thread between prepare and apply."""

    def apply(self) -> None:
        """Carry out the change; raise to make the commit fail and be undone."""

    def undo(self) -> None:
        """Reverse a successful apply (a later step of the same commit failed)."""


class CommitSubscriber(Protocol):
    """Told about every commit before running changes (sysrepo's change event)."""

    def prepare(
        self,
        old: Element,
        new: Element,
        kind: CommitKind = CommitKind.NORMAL,
        removed: Removed = None,
    ) -> CommitAction | None:
        """Raise an RpcError to refuse the change; must not change anything itself.
        ``removed``: the (namespace, name) of every node the commit removes, so that a
        subscriber can skip walking big trees when nothing it cares about went; None when
        that is not known (a copy-config, the resolution of a confirmed commit)."""


class ConfirmEvent(StrEnum):
    """RFC 6470 confirm-event values, told to the confirm listeners."""

    START = "start"
    CANCEL = "cancel"
    TIMEOUT = "timeout"
    EXTEND = "extend"
    COMPLETE = "complete"


# (event, session that caused it or None, timeout in seconds for start/extend or None)
ConfirmListener = Callable[[ConfirmEvent, int | None, float | None], None]


StateProvider = Callable[[], list[Element]]
# Adds config-false nodes inside config entries (a trustpoint's state) to the copy <get> reads.
StateDecorator = Callable[[Element], None]
# The top-level nodes a <get> asks for, by (namespace, name); None: all of them.
Wanted = Callable[[str, str], bool] | None
QName = tuple[str, str]


@dataclass(slots=True)
class _Pending:
    """What the candidate holds beyond running."""

    edits: list[Element] = field(default_factory=list)  # commit-log <edit> records
    replaced: bool = False  # a copy-config replaced the candidate: commit copies it whole
    size: int = 0  # bytes of the edit records, to choose between replay and copy at commit
    journal: Journal = field(default_factory=Journal)
    changed: list[Element] = field(default_factory=list)
    removed: list[tuple[SchemaNode, Element]] = field(default_factory=list)
    modified_by: set[int] = field(default_factory=set)  # RFC 6241 §8.3.5.1 lock rule

    @property
    def empty(self) -> bool:
        return not self.edits and not self.replaced


@dataclass(slots=True)
class CommitPlan:
    """A validated commit between :meth:`Datastore.begin_commit` and
    :meth:`Datastore.finish_commit`; :meth:`precompute` may run in a worker thread."""

    session_id: int
    actions: list[CommitAction]
    generation: int
    confirm: ConfirmOptions | None
    resolves: bool  # confirms the pending confirmed commit
    edits: list[ConfigEdit]  # what changes, for netconf-config-change (empty: nothing)

    def precompute(self) -> None:
        for action in self.actions:
            action.precompute()


def empty_root() -> Element:
    return xmlutil.root(BASE_NS, "data")


class Datastore:
    # Rewrite the snapshot once the log outgrows it (and at least this many bytes).
    MIN_LOG_BYTES = 1 << 20

    def __init__(
        self, schema: Schema, state_dir: Path, *, now: Callable[[], float] = time.time
    ) -> None:
        self.schema = schema
        self.now = now  # wall-clock seconds, for confirmed-commit deadlines
        self.validator = Validator(schema)
        self._paths = ErrorPaths(schema)
        self.locks = Locks()
        self._state_dir = state_dir
        self._log = CommitLog(state_dir / "running.xml", state_dir / "running.log")
        self._seq = 0
        self._snapshot_bytes = 0
        self._subscribers: list[CommitSubscriber] = []
        self._state_providers: list[tuple[tuple[QName, ...], StateProvider]] = []
        self._state_decorators: list[tuple[QName, StateDecorator]] = []
        self._running = empty_root()
        self._candidate = empty_root()
        self._run_index = EntryIndex()
        self._cand_index = EntryIndex()
        self._pending = self._fresh_pending()
        self._generation = 0  # bumped whenever running changes or the candidate is reset
        self._confirm_file = ConfirmFile(state_dir / "confirmed-commit.xml")
        self._confirm: PendingConfirm | None = None
        self._confirm_listeners: list[ConfirmListener] = []

    # -- start-up ------------------------------------------------------------------------

    def load(self) -> None:
        """Restore running from the snapshot and the commit log; candidate = running."""
        self._state_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(self._state_dir)
        if self._log.snapshot_path.exists():
            snap = xmlutil.parse(self._log.snapshot_path.read_bytes())
            self._seq = int(snap.get("seq", "0"))
            self._running = _reroot(snap)
        replayed = 0
        for seq, body in self._log.records():
            if seq > self._seq:
                for record in xmlutil.children(xmlutil.parse(body)):
                    self._replay(self._running, record, None)
                self._seq, replayed = seq, replayed + 1
        if replayed or not self._log.snapshot_path.exists():
            self._write_snapshot()
        self._set_candidate(copy.deepcopy(self._running))
        log.info("running restored at commit %d (%d replayed from the log)", self._seq, replayed)
        self._restore_confirm()

    def _restore_confirm(self) -> None:
        """A confirmed commit pending at shutdown stays pending if it had a persist token;
        without one its session is gone, so it is due at once (RFC 6241 §8.4.1).  The
        rollback itself waits for :meth:`expire`, once the subscribers are registered."""
        pending = self._confirm_file.load()
        if pending is not None and pending.persist is None:
            pending = replace(pending, deadline=0.0)
        self._confirm = pending
        if pending is not None:
            log.info("a confirmed commit is pending (persist=%s)", pending.persist is not None)

    def subscribe(self, subscriber: CommitSubscriber) -> None:
        self._subscribers.append(subscriber)

    def add_confirm_listener(self, listener: ConfirmListener) -> None:
        self._confirm_listeners.append(listener)

    def add_state_provider(self, tops: tuple[QName, ...], provider: StateProvider) -> None:
        """Register a function that returns the top-level state nodes ``tops``."""
        self._state_providers.append((tops, provider))

    def add_state_decorator(self, top: QName, decorator: StateDecorator) -> None:
        """Register a function that adds nested state inside the top-level node ``top`` of
        the operational copy, in place."""
        self._state_decorators.append((top, decorator))

    # -- reads ---------------------------------------------------------------------------

    def tree(self, name: str) -> Element:
        """The live tree of a datastore; callers must not modify it."""
        if name == RUNNING:
            return self._running
        if name == CANDIDATE:
            return self._candidate
        raise _unknown_datastore(name)

    def operational(self, wanted: Wanted = None) -> Element:
        """Running config plus state, for <get>: only the top-level nodes ``wanted`` accepts
        are copied, decorated or provided, so a filtered <get> costs what it asks for."""
        out = empty_root()
        for child in xmlutil.children(self._running):
            if wanted is None or wanted(*xmlutil.split(child)):
                out.append(copy.deepcopy(child))
        for top, decorate in self._state_decorators:
            if wanted is None or wanted(*top):
                decorate(out)
        for tops, provider in self._state_providers:
            if wanted is None or any(wanted(*t) for t in tops):
                out.extend(provider())
        return out

    def decorate(self, tree: Element) -> None:
        """Add the decorators' nested state to ``tree`` (a copy of part of running) in
        place, inside the top-level nodes it has: a <get> whose filter reads only config
        selects from running first, and decorates only what it selected."""
        for (ns, name), decorate in self._state_decorators:
            if tree.find(xmlutil.qname(ns, name)) is not None:
                decorate(tree)

    def candidate_modified(self) -> bool:
        return not self._pending.empty

    # -- edits ---------------------------------------------------------------------------

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
        record = _edit_record(config, default_operation, error_option, test_option)
        journal = Journal(self._cand_index)
        try:
            result = self._replay(self._candidate, record, journal)
        except (RpcError, RpcErrors):
            journal.undo()
            raise
        if test_option is TestOption.TEST_ONLY:
            journal.undo()
        elif result.changed or result.removed:
            p = self._pending
            p.edits.append(record)
            p.size += len(etree.tostring(record))
            p.journal.extend(journal)
            p.changed.extend(result.changed)
            p.removed.extend(result.removed)
            p.modified_by.add(session_id)
            self._generation += 1
        return result

    def _replay(self, tree: Element, record: Element, journal: Journal | None) -> EditResult:
        """Apply one <edit> record (also used to replay commits on running and at start)."""
        test_option = TestOption(record.get("test-option", TestOption.TEST_THEN_SET))
        checker = None if test_option is TestOption.SET else self.validator.check_value
        return apply_edit(
            self.schema,
            tree,
            record[0],
            default_operation=Operation(record.get("default-operation", Operation.MERGE)),
            error_option=ErrorOption(record.get("error-option", ErrorOption.STOP_ON_ERROR)),
            check_value=checker,
            journal=journal,
        )

    def copy_config(self, session_id: int, source: str | Element, target: str) -> None:
        """Copy into the candidate; a copy to running is staged there (see
        :meth:`_check_running_writable`) and committed by the caller."""
        self._check_writable(target, session_id)
        tree = self.tree(source) if isinstance(source, str) else self._inline(source)
        modified_by = self._pending.modified_by | {session_id}
        self._set_candidate(copy.deepcopy(tree))
        self._pending.replaced = True
        self._pending.modified_by = modified_by

    def delete_config(self, session_id: int, target: str) -> None:
        # RFC 6241 §7.4: running cannot be deleted, and this agent has no startup.
        raise OperationNotSupported(
            f"delete-config of {target} is not supported; "
            "use discard-changes, or copy-config to the candidate"
        )

    def discard_changes(self, session_id: int) -> None:
        self.locks.check_write(CANDIDATE, session_id)
        self._discard()

    def _discard(self) -> None:
        self._generation += 1
        if self._pending.replaced:
            self._set_candidate(copy.deepcopy(self._running))
        else:
            self._pending.journal.undo()
            self._pending = self._fresh_pending()

    def _set_candidate(self, tree: Element) -> None:
        self._generation += 1
        self._candidate = tree
        self._cand_index = EntryIndex()
        self._pending = self._fresh_pending()

    def _fresh_pending(self) -> _Pending:
        return _Pending(journal=Journal(self._cand_index))

    # -- validate and commit ---------------------------------------------------------------

    def validate(self, source: str | Element) -> None:
        if source == CANDIDATE:
            RpcErrors.raise_if_any(self._validate_candidate())
        elif isinstance(source, str):
            RpcErrors.raise_if_any(self.validator.validate(self.tree(source)))
        else:
            self._inline(source)

    def _validate_candidate(self) -> list[RpcError]:
        p = self._pending
        if p.replaced:
            return self.validator.validate(self._candidate)
        if not p.edits:
            return []
        root = self._candidate
        changed = [el for el in p.changed if _attached(el, root)]
        removed = [(sn, parent) for sn, parent in p.removed if _attached(parent, root)]
        return self.validator.validate_changes(root, changed, removed, keys_unique=True)

    def commit(
        self,
        session_id: int,
        *,
        confirm: ConfirmOptions | None = None,
        persist_id: str | None = None,
        staged: bool = False,
    ) -> None:
        """Validate the candidate, let subscribers refuse it, make it running, persist it
        (begin, precompute and finish in one go; the server runs precompute in a thread)."""
        plan = self.begin_commit(session_id, confirm=confirm, persist_id=persist_id, staged=staged)
        plan.precompute()
        self.finish_commit(plan)

    def begin_commit(
        self,
        session_id: int,
        *,
        confirm: ConfirmOptions | None = None,
        persist_id: str | None = None,
        staged: bool = False,
    ) -> CommitPlan:
        """Check locks and the confirmed-commit rules, validate, prepare the subscribers.
        Changes nothing.  ``staged``: a write to running, which neither confirms nor
        extends a pending confirmed commit, but defers destructive side effects while one
        is pending."""
        self.locks.check_write(RUNNING, session_id)
        self.locks.check_write(CANDIDATE, session_id)
        resolves = (
            not staged and self._check_confirm_rules(session_id, persist_id) and confirm is None
        )
        RpcErrors.raise_if_any(self._validate_candidate())
        if confirm is not None or (staged and self._confirm is not None):
            kind, old = CommitKind.TENTATIVE, self._running
        elif resolves and self._confirm is not None:
            kind, old = CommitKind.RESOLVE, self._confirm.rollback
        else:
            kind, old = CommitKind.NORMAL, self._running
        p = self._pending
        changes = not p.empty or kind is CommitKind.RESOLVE
        exact = not p.replaced and kind is not CommitKind.RESOLVE
        removed = frozenset((sn.namespace, sn.name) for sn, _ in p.removed) if exact else None
        actions = self._prepare(old, self._candidate, kind, removed) if changes else []
        edits = edit_list(p.edits, self._paths, replaced=p.replaced)
        return CommitPlan(session_id, actions, self._generation, confirm, resolves, edits)

    def finish_commit(self, plan: CommitPlan) -> None:
        """Make the candidate running and carry out the prepared actions, all or nothing."""
        if plan.generation != self._generation:
            raise OperationFailed(
                "the datastore changed while the commit was in progress; nothing was "
                "committed, commit again"
            )
        if plan.confirm is not None:
            self._commit_tentative(plan, plan.confirm)
            return
        self._make_running(plan.actions)
        if plan.resolves:
            self._end_confirm(ConfirmEvent.COMPLETE, plan.session_id)

    def _commit_tentative(self, plan: CommitPlan, options: ConfirmOptions) -> None:
        """A confirmed commit: the rollback point is made durable before running changes."""
        before = self._confirm
        rollback = before.rollback if before is not None else copy.deepcopy(self._running)
        owner = None if options.persist is not None else plan.session_id
        pending = PendingConfirm(rollback, self.now() + options.timeout, options.persist, owner)
        self._confirm_file.save(pending)
        try:
            self._make_running(plan.actions)
        except BaseException:
            if before is None:
                self._confirm_file.clear()
            else:
                self._confirm_file.save(before)
            raise
        self._confirm = pending
        event = ConfirmEvent.START if before is None else ConfirmEvent.EXTEND
        self._tell(event, plan.session_id, options.timeout)

    def _make_running(self, actions: list[CommitAction]) -> None:
        """The candidate's pending changes onto running, with the actions; afterwards the
        candidate holds nothing beyond running."""
        if not self._pending.empty or actions:
            self._transact(actions, self._advance_running)
            self._pending = self._fresh_pending()

    def _prepare(
        self, old: Element, new: Element, kind: CommitKind, removed: Removed = None
    ) -> list[CommitAction]:
        return [a for s in self._subscribers if (a := s.prepare(old, new, kind, removed))]

    def _transact(self, actions: list[CommitAction], advance: Callable[[Journal], bool]) -> None:
        """Advance running, apply the actions and persist; on any failure undo all three."""
        saved = (self._running, self._run_index, self._candidate, self._cand_index)
        journal = Journal(self._run_index)
        done: list[CommitAction] = []
        try:
            copied = advance(journal)
            for action in actions:
                action.apply()
                done.append(action)
            self._persist(snapshot=copied)
        except BaseException:
            log.exception("commit failed after validation; restoring the previous running")
            for action in reversed(done):
                action.undo()
            journal.undo()
            self._running, self._run_index, self._candidate, self._cand_index = saved
            raise
        self._generation += 1

    # -- confirmed commit (RFC 6241 §8.4) ----------------------------------------------------

    @property
    def confirm_deadline(self) -> float | None:
        """When the pending confirmed commit rolls back (wall-clock seconds), or None."""
        return self._confirm.deadline if self._confirm is not None else None

    def cancel_commit(self, session_id: int, persist_id: str | None) -> None:
        """<cancel-commit>: roll back the pending confirmed commit now."""
        if self._confirm is None:
            raise OperationFailed("no confirmed commit is pending", error_type=ErrorType.PROTOCOL)
        self._check_confirm_rules(session_id, persist_id)
        self._rollback(ConfirmEvent.CANCEL, session_id)

    def expire(self) -> bool:
        """Roll back the pending confirmed commit if its deadline has passed."""
        if self._confirm is None or self.now() < self._confirm.deadline:
            return False
        self._rollback(ConfirmEvent.TIMEOUT, None)
        return True

    def _check_confirm_rules(self, session_id: int, persist_id: str | None) -> bool:
        """True when a confirmed commit is pending and this session may confirm, extend or
        cancel it; raises when it may not."""
        pending = self._confirm
        if pending is None:
            if persist_id is not None:
                raise InvalidValue(
                    "persist-id given but no confirmed commit is pending",
                    error_type=ErrorType.PROTOCOL,
                    info=[("", "bad-element", "persist-id")],
                )
            return False
        if pending.persist is not None:
            if persist_id != pending.persist:
                raise InvalidValue(
                    "a confirmed commit with persist is pending: give its persist-id"
                    if persist_id is None
                    else "persist-id does not match the pending confirmed commit",
                    error_type=ErrorType.PROTOCOL,
                    info=[("", "bad-element", "persist-id")],
                )
        elif persist_id is not None:
            raise InvalidValue(
                "the pending confirmed commit has no persist token; confirm it on its session",
                error_type=ErrorType.PROTOCOL,
                info=[("", "bad-element", "persist-id")],
            )
        elif pending.owner != session_id:
            raise OperationFailed(
                f"a confirmed commit of session {pending.owner} is pending; only that session "
                "can commit or cancel until it is confirmed or rolled back",
                error_type=ErrorType.PROTOCOL,
            )
        return True

    def _rollback(self, event: ConfirmEvent, session_id: int | None) -> None:
        """Make the rollback point running again; the deferred side effects resolve against
        it.  A candidate without changes follows running; one with changes keeps them (its
        next commit copies it whole)."""
        assert self._confirm is not None
        target = copy.deepcopy(self._confirm.rollback)
        actions = self._prepare(self._running, target, CommitKind.RESOLVE)
        for action in actions:
            action.precompute()

        def advance(journal: Journal) -> bool:
            self._running, self._run_index = target, EntryIndex()
            if self._pending.empty:
                self._candidate, self._cand_index = copy.deepcopy(target), EntryIndex()
            return True

        was_empty = self._pending.empty
        self._transact(actions, advance)
        if was_empty:
            self._pending = self._fresh_pending()
        else:
            self._pending.replaced = True
        log.info("confirmed commit rolled back (%s)", event.value)
        self._end_confirm(event, session_id)

    def _end_confirm(self, event: ConfirmEvent, session_id: int | None) -> None:
        self._confirm_file.clear()
        self._confirm = None
        self._tell(event, session_id, None)

    def _tell(self, event: ConfirmEvent, session_id: int | None, timeout: float | None) -> None:
        for listener in self._confirm_listeners:
            listener(event, session_id, timeout)

    def _advance_running(self, journal: Journal) -> bool:
        """Make running equal the candidate: replay the pending edits on it when they are
        small next to the datastore, else take the candidate tree and give the candidate a
        copy.  True when trees were copied."""
        p = self._pending
        if p.replaced or p.size * 8 > self._snapshot_bytes + self._log.log_bytes:
            self._running, self._run_index = self._candidate, self._cand_index
            self._candidate, self._cand_index = copy.deepcopy(self._candidate), EntryIndex()
            return True
        for record in p.edits:
            self._replay(self._running, record, journal)
        return False

    def _persist(self, *, snapshot: bool) -> None:
        self._seq += 1
        if snapshot or self._log.log_bytes > max(self._snapshot_bytes, self.MIN_LOG_BYTES):
            self._write_snapshot()
            return
        body = xmlutil.root(_LOG_NS, "commit")
        body.extend(copy.deepcopy(r) for r in self._pending.edits)
        self._log.append(self._seq, etree.tostring(body, encoding="utf-8"))

    def _write_snapshot(self) -> None:
        self._running.set("seq", str(self._seq))
        try:
            data = etree.tostring(self._running, encoding="utf-8")
        finally:
            del self._running.attrib["seq"]
        self._log.write_snapshot(data)
        self._snapshot_bytes = len(data)

    # -- locks and sessions ----------------------------------------------------------------

    def lock(self, name: str, session_id: int) -> None:
        _check_name(name)
        if name == CANDIDATE:
            others = self._pending.modified_by - {session_id}
            if others and not self._pending.empty:
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
        if name == CANDIDATE:
            # RFC 6241 §8.3.5.2: releasing the candidate lock discards uncommitted changes.
            self._discard()

    def session_closed(self, session_id: int) -> None:
        """Locks die with their session (RFC 6241 §7.5); a candidate lock takes the
        candidate's uncommitted changes with it; a confirmed commit without persist that the
        session has not confirmed rolls back (§8.4.1)."""
        if CANDIDATE in self.locks.release_all(session_id):
            self._discard()
        pending = self._confirm
        if pending is not None and pending.persist is None and pending.owner == session_id:
            self._rollback(ConfirmEvent.CANCEL, session_id)

    # -- helpers -------------------------------------------------------------------------

    def _inline(self, config: Element) -> Element:
        """An inline <config> as a datastore tree: canonical namespaces, fully valid."""
        tree = _reroot(config)
        bind_module_prefixes(self.schema, tree)
        RpcErrors.raise_if_any(self.validator.validate(tree))
        return tree

    def _check_writable(self, target: str, session_id: int) -> None:
        _check_name(target)
        self.locks.check_write(CANDIDATE, session_id)
        if target == RUNNING:
            self._check_running_writable(session_id)

    def _check_running_writable(self, session_id: int) -> None:
        """:writable-running: an edit of running is staged in the candidate and committed at
        once, so the candidate must not hold anyone's uncommitted changes (they would be
        committed with it).  Afterwards the candidate equals running again."""
        self.locks.check_write(RUNNING, session_id)
        if not self._pending.empty:
            holders = ", ".join(str(s) for s in sorted(self._pending.modified_by))
            raise InUse(
                f"the candidate holds uncommitted changes (session {holders}); writes to "
                "running go through it: commit or discard-changes first",
                error_type=ErrorType.PROTOCOL,
            )

    def abandon_staged(self) -> None:
        """Drop a write to running staged in the candidate whose commit failed."""
        self._discard()


def _edit_record(
    config: Element, default: Operation, error: ErrorOption, test: TestOption
) -> Element:
    record = xmlutil.root(_LOG_NS, "edit")
    record.set("default-operation", default.value)
    record.set("error-option", error.value)
    record.set("test-option", test.value)
    record.append(copy.deepcopy(config))
    return record


def _attached(el: Element, root: Element) -> bool:
    node: Element | None = el
    while node is not None:
        if node is root:
            return True
        node = node.getparent()
    return False


def _reroot(config: Element) -> Element:
    """Copy the children of a <config>/<data> element under a fresh datastore root."""
    root = empty_root()
    for child in xmlutil.children(config):
        root.append(copy.deepcopy(child))
    return root


def _check_name(name: str) -> None:
    if name not in DATASTORES:
        raise _unknown_datastore(name)


def _unknown_datastore(name: str) -> RpcError:
    if name == "startup":
        return OperationNotSupported(
            "the startup datastore is not supported: running is persisted on every commit"
        )
    return InvalidValue(f"unknown datastore {name!r}")
