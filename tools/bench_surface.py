#!/usr/bin/env python3
"""Benchmarks of the NETCONF surface beyond get and edit (issue 7's performance figures).

=============  ===============================================================================
confirm        edit-config + commit against edit-config + confirmed commit + confirming commit
               of the same one-entry change, interleaved run by run (median of each).
notify         notification delivery to one subscriber: a replay burst (create-subscription
               with a startTime before every stored notification, timed until replayComplete)
               and live delivery (one session commits as fast as it can, the subscriber counts
               the netconf-config-change notifications that arrive).
=============  ===============================================================================

The agent must be running on a scratch state directory (the tool changes the config).  Uses
tools/netconf_client.py, not ncclient (ncclient polls its send queue every 100 ms).

Example::

    python tools/bench_surface.py --port 8830 --password-file var/admin-password confirm
    python tools/bench_surface.py --port 8830 --password-file var/admin-password notify -n 500
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time

from netconf_client import BenchError, Netconf, Target, target_of, target_parser

BASE = "urn:ietf:params:xml:ns:netconf:base:1.0"
NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
NETMOD = "urn:ietf:params:xml:ns:netmod:notification"  # replayComplete (RFC 5277)
SYS = "urn:netconf-pki-agent:yang:npa-pki-system"
MS = 1e-6  # ns -> ms


def edit_hostname(nc: Netconf, name: str) -> int:
    op = (
        f'<edit-config><target><candidate/></target><config xmlns="{BASE}">'
        f'<device-identity xmlns="{SYS}"><hostname>{name}</hostname></device-identity>'
        "</config></edit-config>"
    )
    return nc.rpc(op, "edit-config")[0]


def bench_confirm(nc: Netconf, runs: int) -> list[str]:
    plain, confirmed = [], []
    for i in range(runs):
        elapsed = edit_hostname(nc, f"plain{i}")
        plain.append(elapsed + nc.rpc("<commit/>", "commit")[0])
        elapsed = edit_hostname(nc, f"confirmed{i}")
        elapsed += nc.rpc("<commit><confirmed/><confirm-timeout>60</confirm-timeout></commit>",
                          "confirmed commit")[0]  # fmt: skip
        confirmed.append(elapsed + nc.rpc("<commit/>", "confirming commit")[0])
    a, b = statistics.median(plain) * MS, statistics.median(confirmed) * MS
    return [
        f"edit + commit: median {a:.2f} ms; edit + confirmed commit + confirming commit: "
        f"median {b:.2f} ms ({b / a:.2f}x), {runs} runs each"
    ]


def bench_notify(target: Target, backend: str, count: int) -> list[str]:
    committer = Netconf.connect(backend, target)
    try:
        for i in range(count):  # fill the replay log
            edit_hostname(committer, f"fill{i}")
            committer.rpc("<commit/>", "commit")
        replay = _replay_rate(target, backend)
        live = _live_rate(target, backend, committer, count)
    finally:
        committer.close()
    return [replay, live]


def _replay_rate(target: Target, backend: str) -> str:
    sub = Netconf.connect(backend, target)
    try:
        start = time.perf_counter_ns()
        sub.send_rpc(
            f'<create-subscription xmlns="{NOTIF}"><startTime>1970-01-01T00:00:00Z</startTime>'
            "</create-subscription>"
        )
        received = 0
        while True:
            msg = sub.read_message("replay")
            if msg.find(f"{{{NETMOD}}}replayComplete") is not None:
                break
            received += msg.tag == f"{{{NOTIF}}}notification"
        seconds = (time.perf_counter_ns() - start) / 1e9
    finally:
        sub.drop()
    return (
        f"replay burst: {received} notifications in {seconds * 1e3:.1f} ms "
        f"= {received / seconds:,.0f}/s"
    )


def _live_rate(target: Target, backend: str, committer: Netconf, count: int) -> str:
    sub = Netconf.connect(backend, target)
    try:
        sub.rpc(f'<create-subscription xmlns="{NOTIF}"/>', "create-subscription")
        got: list[int] = []
        reader = threading.Thread(target=_count, args=(sub, count, got), daemon=True)
        start = time.perf_counter_ns()
        reader.start()
        for i in range(count):
            edit_hostname(committer, f"live{i}")
            committer.rpc("<commit/>", "commit")
        reader.join(60)
        if reader.is_alive():
            raise BenchError(f"only {len(got)} of {count} notifications arrived")
        seconds = (time.perf_counter_ns() - start) / 1e9
        lag = statistics.median(got) * MS
    finally:
        sub.drop()
    return (
        f"live: {count} commits, {count} netconf-config-change delivered in {seconds:.2f} s "
        f"= {count / seconds:,.0f}/s (commit-bound); median gap between arrivals {lag:.2f} ms"
    )


def _count(sub: Netconf, count: int, gaps: list[int]) -> None:
    last = time.perf_counter_ns()
    while len(gaps) < count:
        msg = sub.read_message("notification")
        if msg.find(f".//{{{NCN}}}netconf-config-change") is not None:
            now = time.perf_counter_ns()
            gaps.append(now - last)
            last = now


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p, sub = target_parser(__doc__ or "")
    sub.add_parser("confirm").add_argument("--runs", type=int, default=50)
    sub.add_parser("notify").add_argument("-n", "--count", type=int, default=500)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    target = target_of(args)
    try:
        if args.row == "confirm":
            nc = Netconf.connect(args.ssh, target)
            try:
                rows = bench_confirm(nc, args.runs)
            finally:
                nc.close()
        else:
            rows = bench_notify(target, args.ssh, args.count)
    except BenchError as exc:
        print(f"bench_surface: error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
