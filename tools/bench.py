#!/usr/bin/env python3
"""A server-agnostic NETCONF benchmark: session set-up, get-config and edit-config + commit.

Why a tool of its own: the figures must be comparable with other servers (netopeer2 + sysrepo
is the reference), so nothing here knows about this project's agent.  The host, port, user,
password and a *model template* naming a list to fill are arguments; the same run works
against any NETCONF/SSH server that implements the list.

Its own client (tools/netconf_client.py), not ncclient: ncclient 0.7.1 polls its send queue
every 100 ms, so a round trip would measure the client.  Timers stop when the last byte of a
reply has arrived; the client's own XML parsing is not counted.

What one run measures (each row repeated ``--repeat`` times; min, median and max in ms):

==========================  ======================================================
session-setup               TCP + SSH connect and auth, hello exchange, close-session
get-config-small            get-config (subtree filter on the list), 10 entries
edit-commit-one-small       edit-config creating one entry + commit, 10 entries
edit-commit-bulk-1000       edit-config of 1,000 entries + commit, from empty
get-config-bulk-1000        get-config of those 1,000 entries
edit-commit-bulk-10000      the same with 10,000 entries
get-config-bulk-10000       get-config of those 10,000 entries
edit-commit-one-large       edit-config creating one entry + commit, 10,000 entries
get-xpath-one-large         get with an XPath filter selecting one entry of 10,000
get-xpath-all-large         get with an XPath filter selecting all 10,000 entries
==========================  ======================================================

The two XPath rows run only when the server advertises ``:xpath:1.0``; their select
expression is built from the template (the path to the list, and the entry's key leaves as
a predicate), with its prefixes declared on the ``<filter>`` element.

Before the rows, ``--warmup`` untimed rounds of one-entry edits and small get-configs bring
the server to its steady state.  Cheap rows (session set-up, small get-config, one-entry
edits) take ``--ops`` samples per repetition; bulk rows one.  Edit rows also report their
edit-config and commit parts.  After each timed one-entry edit the entry is removed again
(untimed) so that every sample runs on the datastore size the row claims; between phases the
list's parent is removed (``operation="remove"``) and committed.  The edit target is the
candidate datastore followed by ``<commit/>`` when the server advertises ``:candidate``, else
the running datastore (``:writable-running``, no commit).  ``--quick`` shrinks the sizes (100
and 1,000 entries instead of 1,000 and 10,000) and the sample counts for CI smoke runs.

Model template (TOML, or JSON with the same keys):

.. code-block:: toml

    name = "npa-keys"                       # optional, shown in the report
    namespace = "urn:example:keys"          # the list's XML namespace (checked)
    # The list's parent path as XML; {entries} marks where the list entries go.
    parent = '<keys xmlns="urn:example:keys">{entries}</keys>'
    # One list entry; every {i} becomes the entry's number (0, 1, 2, ...).
    entry = '<key><label>bench-{i}</label><modulus>2048</modulus></key>'
    # Optional: the get-config subtree filter (default: the parent path, emptied).
    filter = '<keys xmlns="urn:example:keys"><key/></keys>'
    # Optional: names of the entry's key leaves (default: its first child element).
    keys = ["label"]

Placeholders are replaced textually (no ``str.format``), so braces elsewhere are harmless.
The element that holds ``{entries}`` is the one removed between phases.

Example::

    python tools/bench.py --host 127.0.0.1 --port 8830 --user admin \\
        --password-file var/admin-password --template tools/bench_templates/npa-keys.toml \\
        --repeat 5 --json bench.json
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import statistics
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from lxml import etree
from netconf_client import BACKENDS, BenchError, Netconf, Target, qn

CAP_CANDIDATE = "urn:ietf:params:netconf:capability:candidate:1.0"
CAP_WRITABLE_RUNNING = "urn:ietf:params:netconf:capability:writable-running:1.0"
CAP_XPATH = "urn:ietf:params:netconf:capability:xpath:1.0"
_MARKER = "bench-entries-marker"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)

# netopeer2 2.4.5 + sysrepo on the same machine class: medians in ms, for the default sizes.
REFERENCE = {
    "session-setup": "17-34",
    "get-config-small": "1.0",
    "edit-commit-one-small": "3.5",
    "edit-commit-bulk-1000": "25",
    "edit-commit-bulk-10000": "260-330",
    "get-config-bulk-10000": "34-50",
}


# -- model templates ------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """Builds the XML of a list of generated entries from a model template file."""

    name: str
    namespace: str
    parent: str
    entry: str
    filter: str
    keys: tuple[str, ...]
    list_path: str  # ElementPath from <data> to the entries, in Clark notation

    @classmethod
    def load(cls, path: Path) -> Template:
        try:
            text = path.read_text(encoding="utf-8")
            raw = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        except (OSError, ValueError) as exc:  # TOMLDecodeError and JSONDecodeError too
            raise BenchError(f"template {path}: {exc}") from None
        missing = [k for k in ("namespace", "parent", "entry") if not raw.get(k)]
        if missing or "{entries}" not in raw.get("parent", ""):
            raise BenchError(
                f"template {path}: needs namespace, entry and a parent "
                f"with {{entries}} (missing: {', '.join(missing) or 'none'})"
            )
        return cls._build(path, raw)

    @classmethod
    def _build(cls, path: Path, raw: dict[str, Any]) -> Template:
        parent, entry = str(raw["parent"]), str(raw["entry"])
        try:
            _, first = _with_marker(parent, entry.replace("{i}", "0"))
        except (etree.XMLSyntaxError, StopIteration) as exc:
            raise BenchError(f"template {path}: parent with one entry is not XML: {exc}") from None
        if first is None or len(first) == 0:
            raise BenchError(f"template {path}: the entry must be one element with children")
        if etree.QName(first).namespace != raw["namespace"]:
            raise BenchError(
                f"template {path}: the entry's namespace is "
                f"{etree.QName(first).namespace!r}, not {raw['namespace']!r}"
            )
        keys = tuple(raw.get("keys") or [etree.QName(first[0]).localname])
        tags = [el.tag for el in reversed(list(first.iterancestors()))] + [first.tag]
        return cls(
            name=str(raw.get("name") or path.stem),
            namespace=str(raw["namespace"]),
            parent=parent,
            entry=entry,
            filter=str(raw.get("filter") or parent.replace("{entries}", "")),
            keys=keys,
            list_path="/".join(str(t) for t in tags),
        )

    def entries(self, start: int, count: int) -> str:
        one = self.entry
        return "".join(one.replace("{i}", str(i)) for i in range(start, start + count))

    def config(self, entries_xml: str) -> str:
        return self.parent.replace("{entries}", entries_xml)

    def remove_all(self) -> str:
        """The parent path with operation="remove" on the element that holds the list."""
        root, marker = _with_marker(self.parent)
        holder = marker.getparent()
        assert holder is not None
        holder.remove(marker)
        holder.set(qn("operation"), "remove")
        return str(etree.tostring(root, encoding="unicode"))

    def remove_entry(self, i: int) -> str:
        """Entry number i, reduced to its key leaves, with operation="remove"."""
        root, entry = _with_marker(self.parent, self.entries(i, 1))
        marker, holder = entry.getprevious(), entry.getparent()
        assert marker is not None and holder is not None
        holder.remove(marker)
        for child in list(entry):
            if etree.QName(child).localname not in self.keys:
                entry.remove(child)
        entry.set(qn("operation"), "remove")
        return str(etree.tostring(root, encoding="unicode"))

    def xpath(self, i: int | None) -> tuple[str, dict[str, str]]:
        """An XPath select for entry ``i`` by its keys (None: every entry) and the
        prefixes it uses."""
        _, entry = _with_marker(self.parent, self.entries(i or 0, 1))
        prefixes: dict[str, str] = {}
        steps = []
        for el in [*reversed(list(entry.iterancestors())), entry]:
            q = etree.QName(el)
            pfx = prefixes.setdefault(q.namespace or "", f"p{len(prefixes)}")
            steps.append(f"{pfx}:{q.localname}")
        select = "/" + "/".join(steps)
        if i is not None:
            for child in entry:
                q = etree.QName(child)
                if q.localname in self.keys:
                    select += f"[{prefixes.setdefault(q.namespace or '', f'p{len(prefixes)}')}"
                    select += f":{q.localname}={_xpath_literal(child.text or '')}]"
        return select, {p: ns for ns, p in prefixes.items()}

    def count(self, data: etree._Element) -> int:
        """How many entries of the list a get-config <data> element holds."""
        return len(data.findall(self.list_path))


def _xpath_literal(text: str) -> str:
    return f'"{text}"' if '"' not in text else f"'{text}'"


def _with_marker(parent: str, inner: str = "") -> tuple[etree._Element, etree._Element]:
    """Parse the parent path with a marker element (then ``inner``) in place of {entries};
    return the root and the element right after the marker (the marker itself if none)."""
    root = etree.fromstring(parent.replace("{entries}", f"<{_MARKER}/>{inner}"), _PARSER)
    marker = next(
        el for el in root.iter() if isinstance(el.tag, str) and etree.QName(el).localname == _MARKER
    )
    nxt = marker.getnext()
    return root, (nxt if inner and nxt is not None else marker)


# -- measurements ---------------------------------------------------------------------------


def _ms(ns: int) -> float:
    return ns / 1e6


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "min_ms": round(min(samples), 3),
        "median_ms": round(statistics.median(samples), 3),
        "max_ms": round(max(samples), 3),
    }


@dataclass
class Row:
    """One table row: what was measured, on how many entries, and its samples in ms."""

    name: str
    n: int  # entries edited or read per operation
    store: int | None  # entries in the datastore while measuring
    rate: bool = False  # report operations per second
    samples: list[float] = field(default_factory=list)
    parts: dict[str, list[float]] = field(default_factory=dict)

    def add(self, *parts: tuple[str, int]) -> None:
        """Record one sample made of named parts (in ns); the sample is their sum."""
        self.samples.append(_ms(sum(ns for _, ns in parts)))
        if len(parts) > 1:
            for name, ns in parts:
                self.parts.setdefault(name, []).append(_ms(ns))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"n": self.n, "store": self.store, "samples": len(self.samples)}
        out.update(_summary(self.samples))
        if self.rate:
            out["ops_per_s"] = round(1000 / out["median_ms"], 1)
        elif self.n > 1:
            out["entries_per_s"] = round(self.n * 1000 / out["median_ms"], 1)
        if self.parts:
            out["parts"] = {name: _summary(s) for name, s in self.parts.items()}
        return out


@dataclass(frozen=True)
class Plan:
    small: int = 10
    bulk: tuple[int, ...] = (1000, 10000)
    large: int = 10000
    repeat: int = 5
    ops: int = 10  # samples per repetition of the cheap rows
    warmup: int = 50  # untimed one-entry edit/removal/get-config rounds before measuring

    @classmethod
    def quick(cls, repeat: int | None) -> Plan:
        return cls(bulk=(100, 1000), large=1000, repeat=repeat or 2, ops=3, warmup=5)


class Bench:
    """Runs the phases over one long-lived session and collects the rows."""

    def __init__(
        self,
        backend: str,
        target: Target,
        template: Template,
        plan: Plan,
        *,
        allow_base11: bool = True,
    ) -> None:
        self.backend, self.target, self.template, self.plan = backend, target, template, plan
        self.allow_base11 = allow_base11
        self.rows: dict[str, Row] = {}
        self.size: int | None = None  # entries known to be in the datastore
        self.nc = Netconf.connect(backend, target, allow_base11=allow_base11)
        self.cipher = self.nc.cipher
        caps = self.nc.server_capabilities
        if CAP_CANDIDATE in caps:
            self.datastore = "candidate"
        elif CAP_WRITABLE_RUNNING in caps:
            self.datastore = "running"
        else:
            self.nc.close()
            raise BenchError("the server offers neither :candidate nor :writable-running")

    def row(self, name: str, n: int, store: int | None, *, rate: bool = False) -> Row:
        return self.rows.setdefault(name, Row(name, n, store, rate))

    # -- operations --

    def edit(self, config_xml: str, what: str) -> int:
        op = (
            f"<edit-config><target><{self.datastore}/></target>"
            f"<config>{config_xml}</config></edit-config>"
        )
        return self.nc.rpc(op, what)[0]

    def commit(self) -> int:
        if self.datastore == "running":
            return 0
        return self.nc.rpc("<commit/>", "commit")[0]

    def edit_commit(self, config_xml: str, what: str) -> tuple[tuple[str, int], ...]:
        edit = self.edit(config_xml, what)
        parts = (("edit-config", edit), ("commit", self.commit()))
        return parts if self.datastore == "candidate" else parts[:1]

    def get_config(self, expect: int) -> int:
        op = (
            f'<get-config><source><running/></source><filter type="subtree">'
            f"{self.template.filter}</filter></get-config>"
        )
        elapsed, reply = self.nc.rpc(op, "get-config")
        data = reply.find(qn("data"))
        got = 0 if data is None else self.template.count(data)
        if got != expect:
            raise BenchError(f"get-config returned {got} entries, expected {expect}")
        return elapsed

    def get_xpath(self, i: int | None, expect: int) -> int:
        """<get> with an XPath filter selecting entry i (None: all); checks the count."""
        select, prefixes = self.template.xpath(i)
        decls = "".join(f" xmlns:{p}={quoteattr(ns)}" for p, ns in prefixes.items())
        op = f'<get><filter type="xpath"{decls} select={quoteattr(select)}/></get>'
        elapsed, reply = self.nc.rpc(op, "get (xpath)")
        data = reply.find(qn("data"))
        got = 0 if data is None else self.template.count(data)
        if got != expect:
            raise BenchError(f"get with {select!r} returned {got} entries, expected {expect}")
        return elapsed

    def fill(self, n: int) -> None:
        """Untimed: make the datastore hold exactly entries 0..n-1 of the list."""
        self.edit_commit(self.template.remove_all(), "remove of the list's parent")
        self.size = 0
        if n:
            self.edit_commit(self.template.config(self.template.entries(0, n)), "fill")
            self.size = n

    def ensure(self, n: int) -> None:
        if self.size != n:
            self.fill(n)

    # -- phases --

    def warm_up(self) -> None:
        """Untimed rounds of the cheap operations.  A freshly started server answers its
        first hundred or so edits up to twice as slowly (our agent did: lazily built
        caches, a cold allocator); the rows are meant to show the steady state."""
        self.ensure(self.plan.small)
        for k in range(self.plan.warmup):
            i = self.plan.small + k
            self.edit_commit(self.template.config(self.template.entries(i, 1)), "warm-up edit")
            self.edit_commit(self.template.remove_entry(i), "warm-up removal")
            self.get_config(self.plan.small)

    def session_setup(self) -> None:
        row = self.row("session-setup", 0, None, rate=True)
        for _ in range(self.plan.repeat * self.plan.ops):
            row.add(*self._one_session())

    def _one_session(self) -> tuple[tuple[str, int], ...]:
        """Connect and authenticate, exchange hellos, close-session: the three parts in ns."""
        t0 = time.perf_counter_ns()
        channel = BACKENDS[self.backend](self.target)
        t1 = time.perf_counter_ns()
        try:
            nc = Netconf(channel, allow_base11=self.allow_base11)
        except BaseException:
            channel.close()
            raise
        t2 = time.perf_counter_ns()
        nc.close()
        t3 = time.perf_counter_ns()
        return ("ssh", t1 - t0), ("hello", t2 - t1), ("close", t3 - t2)

    def get_config_small(self) -> None:
        self.ensure(self.plan.small)
        row = self.row("get-config-small", self.plan.small, self.plan.small, rate=True)
        for _ in range(self.plan.repeat * self.plan.ops):
            row.add(("get-config", self.get_config(self.plan.small)))

    def one_entry(self, name: str, size: int) -> None:
        """Create one entry and commit, then (untimed) remove it again, on a datastore of
        ``size`` entries."""
        self.ensure(size)
        row = self.row(name, 1, size, rate=True)
        for k in range(self.plan.repeat * self.plan.ops):
            i = size + k
            row.add(
                *self.edit_commit(
                    self.template.config(self.template.entries(i, 1)), "one-entry edit-config"
                )
            )
            self.edit_commit(self.template.remove_entry(i), "removal of one entry")

    def bulk(self, n: int) -> None:
        """edit-config of n entries + commit on an empty list, then get-config of them."""
        edit_row = self.row(f"edit-commit-bulk-{n}", n, 0)
        get_row = self.row(f"get-config-bulk-{n}", n, n)
        config = self.template.config(self.template.entries(0, n))
        for _ in range(self.plan.repeat):
            self.fill(0)
            edit_row.add(*self.edit_commit(config, f"edit-config of {n} entries"))
            self.size = n
            get_row.add(("get-config", self.get_config(n)))

    def xpath_large(self) -> None:
        """get with an XPath filter: one entry of the large datastore, then all of it."""
        if CAP_XPATH not in self.nc.server_capabilities:
            return
        n = self.plan.large
        self.ensure(n)
        one = self.row("get-xpath-one-large", 1, n, rate=True)
        for k in range(self.plan.repeat * self.plan.ops):
            one.add(("get", self.get_xpath((k * 7919) % n, 1)))
        every = self.row("get-xpath-all-large", n, n)
        for _ in range(self.plan.repeat):
            every.add(("get", self.get_xpath(None, n)))

    def run(self, progress: Callable[[str], None]) -> None:
        steps: list[tuple[str, Callable[[], None]]] = [
            ("warm-up", self.warm_up),
            ("session set-up", self.session_setup),
            ("get-config, small datastore", self.get_config_small),
            (
                "one-entry edit, small datastore",
                lambda: self.one_entry("edit-commit-one-small", self.plan.small),
            ),
        ]
        steps += [(f"bulk {n}", functools.partial(self.bulk, n)) for n in self.plan.bulk]
        steps.append(
            (
                "one-entry edit, large datastore",
                lambda: self.one_entry("edit-commit-one-large", self.plan.large),
            )
        )
        steps.append(("XPath get, large datastore", self.xpath_large))
        try:
            for label, step in steps:
                progress(label)
                step()
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        try:
            self.fill(0)
            self.nc.close()
        except BenchError as exc:
            print(f"bench: cleanup failed: {exc}", file=sys.stderr)


# -- report ---------------------------------------------------------------------------------


def report(bench: Bench, *, quick: bool) -> dict[str, Any]:
    rows = {name: row.to_json() for name, row in bench.rows.items() if row.samples}
    out: dict[str, Any] = {
        "server": {
            "host": bench.target.host,
            "port": bench.target.port,
            "datastore": bench.datastore,
            "framing": "chunked (base:1.1)" if bench.nc.chunked else "end-of-message (base:1.0)",
            "capabilities": len(bench.nc.server_capabilities),
        },
        "client": {
            "ssh": bench.backend,
            "cipher": bench.cipher,
            "auth": "publickey" if bench.target.key_file else "password",
            "tcp_nodelay": True,
        },
        "template": bench.template.name,
        "plan": {"quick": quick, **vars(bench.plan)},
        "rows": rows,
        "ratios": {},
        "reference_netopeer2_median_ms": REFERENCE,
    }
    small, large = rows.get("edit-commit-one-small"), rows.get("edit-commit-one-large")
    if small and large:
        out["ratios"]["edit-commit-one-large/edit-commit-one-small"] = round(
            large["median_ms"] / small["median_ms"], 2
        )
    return out


def table(result: dict[str, Any]) -> str:
    """The plain-text table: one line per row, indented lines for its parts."""
    ref = not result["plan"]["quick"]
    head = (
        f"{'row':<24}{'n':>7}{'store':>7}{'samples':>8}{'min ms':>10}{'median ms':>11}"
        f"{'max ms':>10}{'ops/s':>9}" + (f"  {'netopeer2 median ms':>19}" if ref else "")
    )
    lines = [_title(result), head, "-" * len(head)]
    for name, row in result["rows"].items():
        store = "" if row["store"] is None else str(row["store"])
        ops = f"{row['ops_per_s']:.1f}" if "ops_per_s" in row else ""
        refcol = f"  {REFERENCE.get(name, ''):>19}" if ref else ""
        lines.append(
            f"{name:<24}{row['n']:>7}{store:>7}{row['samples']:>8}{_stats(row)}{ops:>9}{refcol}"
        )
        for part, stats in row.get("parts", {}).items():
            lines.append(f"{'  ' + part:<46}{_stats(stats)}")
    for name, ratio in result["ratios"].items():
        lines.append(f"ratio {name} (medians): {ratio:.2f}")
    return "\n".join(lines)


def _title(result: dict[str, Any]) -> str:
    srv = result["server"]
    return (
        f"NETCONF bench: {srv['host']}:{srv['port']}, template {result['template']}, "
        f"{srv['datastore']}{' + commit' if srv['datastore'] == 'candidate' else ''}, "
        f"{srv['framing']}, ssh {result['client']['ssh']}, repeat {result['plan']['repeat']}"
    )


def _stats(stats: dict[str, float]) -> str:
    return f"{stats['min_ms']:>10.2f}{stats['median_ms']:>11.2f}{stats['max_ms']:>10.2f}"


# -- command line ---------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    doc = __doc__ or ""
    p = argparse.ArgumentParser(
        prog="bench.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="A server-agnostic NETCONF/SSH benchmark.  The SSH host key is NOT\n"
        "verified: run it only against servers on networks you trust.\n\n"
        + doc[doc.index("What one run measures") : doc.index("Example::")].rstrip(),
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=830)
    p.add_argument("--user", default="admin")
    pw = p.add_mutually_exclusive_group(required=True)
    pw.add_argument("--password")
    pw.add_argument("--password-file", type=Path, help="file whose first line is the password")
    pw.add_argument(
        "--key-file",
        type=Path,
        help="private key for public-key authentication instead of a password",
    )
    p.add_argument(
        "--template",
        type=Path,
        required=True,
        help="model template (TOML or JSON) naming the list to fill",
    )
    p.add_argument("--repeat", type=int, help="repetitions of each row (default 5; 2 with --quick)")
    p.add_argument(
        "--ops",
        type=int,
        help="samples per repetition of the cheap rows (default 10; 3 with --quick)",
    )
    p.add_argument(
        "--warmup",
        type=int,
        help="untimed one-entry edit rounds before measuring "
        "(default 50; 5 with --quick; 0 for none)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smaller sizes (100 and 1,000 entries) and fewer samples, for CI",
    )
    p.add_argument(
        "--ssh",
        choices=sorted(BACKENDS),
        default=_default_backend(),
        help="SSH library for the client (default paramiko if installed: its "
        "round trips measured lowest)",
    )
    p.add_argument(
        "--base10", action="store_true", help="offer only base:1.0 (end-of-message framing)"
    )
    p.add_argument("--timeout", type=float, default=30.0, help="connect timeout in seconds")
    p.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = p.parse_args(argv)
    for name, least in (("repeat", 1), ("ops", 1), ("warmup", 0)):
        if getattr(args, name) is not None and getattr(args, name) < least:
            p.error(f"--{name} must be at least {least}")
    return args


def _default_backend() -> str:
    try:
        import paramiko  # noqa: F401
    except ImportError:
        return "asyncssh"
    return "paramiko"


def _plan(args: argparse.Namespace) -> Plan:
    plan = Plan.quick(args.repeat) if args.quick else Plan(repeat=args.repeat or 5)
    if args.ops:
        plan = dataclasses.replace(plan, ops=args.ops)
    if args.warmup is not None:
        plan = dataclasses.replace(plan, warmup=args.warmup)
    return plan


def _password(args: argparse.Namespace) -> str | None:
    if args.key_file is not None:
        return None
    if args.password is not None:
        return str(args.password)
    try:
        return str(args.password_file.read_text(encoding="utf-8").splitlines()[0].strip())
    except (OSError, IndexError) as exc:
        raise BenchError(f"cannot read the password from {args.password_file}: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        target = Target(
            args.host, args.port, args.user, _password(args), args.key_file, args.timeout
        )
        bench = Bench(
            args.ssh,
            target,
            Template.load(args.template),
            _plan(args),
            allow_base11=not args.base10,
        )
        bench.run(lambda label: print(f"bench: {label}", file=sys.stderr, flush=True))
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    result = report(bench, quick=args.quick)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
