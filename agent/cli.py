"""``pki-agent``: the composition root.  Builds the schema, datastore, handler registry and
SSH server, wires them together and runs until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from agent import ops
from agent.clock import SystemClock
from agent.datastore import schema as schema_mod
from agent.datastore.events import EventStream
from agent.datastore.store import Datastore
from agent.durable import atomic_write
from agent.pki import KeyStore, TrustPool
from agent.pki.trustpoints import TrustpointStore
from agent.server import (
    auth,
    capabilities,
    monitoring,
    notifications,
    operations,
    transport,
    yang_library,
)
from agent.server.confirm_timer import ConfirmTimer
from agent.server.dispatch import Registry
from agent.server.service import NetconfService
from agent.server.sessions import Sessions

log = logging.getLogger("agent")

DEFAULT_YANG_DIR = Path(__file__).resolve().parent.parent / "yang"
ADMIN = "admin"


@dataclass(slots=True)
class Config:
    users: dict[str, auth.User] = field(default_factory=dict)
    limits: transport.Limits = field(default_factory=transport.Limits)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="pki-agent",
        description="NETCONF/YANG PKI agent: keys, CA trustpoints and the CA trustpool.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8830, help="TCP port for NETCONF over SSH (0: any)")
    p.add_argument("--state-dir", type=Path, default=Path("var"), help="state directory")
    p.add_argument("--config", type=Path, help="TOML file with users, limits and timeouts")
    p.add_argument("--yang-dir", type=Path, default=DEFAULT_YANG_DIR, help=argparse.SUPPRESS)
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return p.parse_args(argv)


def load_config(path: Path | None) -> Config:
    """Read the TOML configuration file (see README.md for its keys)."""
    if path is None:
        return Config()
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    users = {
        u["name"]: auth.User(u["name"], u.get("password-hash"), tuple(u.get("authorized-keys", ())))
        for u in data.get("users", [])
    }
    lim, tmo = data.get("limits", {}), data.get("timeouts", {})
    defaults = transport.Limits()
    limits = transport.Limits(
        max_message_size=int(lim.get("max-message-size", defaults.max_message_size)),
        max_sessions=int(lim.get("max-sessions", defaults.max_sessions)),
        hello_timeout=float(tmo.get("hello", defaults.hello_timeout)),
        idle_timeout=float(tmo.get("idle", defaults.idle_timeout)),
    )
    return Config(users, limits)


def first_run_users(state_dir: Path) -> tuple[dict[str, auth.User], Path | None]:
    """Users from the state directory; on the first start, create ``admin`` with a random
    password, keep only its hash, and write the password to a 0600 file."""
    users_file = state_dir / "users.json"
    password_file = state_dir / "admin-password"
    if not users_file.exists():
        password = auth.generate_password()
        atomic_write(password_file, (password + "\n").encode())
        record = {ADMIN: {"password-hash": auth.hash_password(password)}}
        atomic_write(users_file, json.dumps(record, indent=2).encode())
    record = json.loads(users_file.read_text(encoding="utf-8"))
    users = {
        name: auth.User(name, v.get("password-hash"), tuple(v.get("authorized-keys", ())))
        for name, v in record.items()
    }
    return users, password_file if password_file.exists() else None


async def serve(args: argparse.Namespace, config: Config) -> int:
    state_dir: Path = args.state_dir
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    users, password_file = (config.users, None) if config.users else first_run_users(state_dir)
    protocol_caps = capabilities.protocol()
    schema = schema_mod.load(
        args.yang_dir, extra_implemented=capabilities.standard_modules(protocol_caps)
    )
    datastore = Datastore(schema, state_dir)
    datastore.load()
    registry = Registry()
    operations.register(registry)
    notifications.register(registry)
    clock = SystemClock()
    events = EventStream(state_dir / "notifications.log", clock=SystemClock())
    stores = ops.PkiStores(
        KeyStore(state_dir / "keys", clock),
        TrustpointStore(state_dir / "trustpoints", clock),
        TrustPool(state_dir / "trustpool"),
        state_dir / "requests",
        state_dir / "enrollments",
        state_dir / "expiry-notified.json",
    )
    background = ops.register(registry, datastore, stores, events, clock)
    background.start()
    sessions = Sessions(clock.now())
    # ietf-netconf is implemented by the base operations' own handlers, not compiled as
    # implemented: the YANG input check would then apply to them (INTEROP.md §2.3).
    library = yang_library.build(
        schema,
        also_implemented=["ietf-netconf"],
        features={"ietf-netconf": capabilities.netconf_features(protocol_caps)},
    )
    hello_caps = capabilities.capabilities(protocol_caps, library)
    yang_library.register(datastore, library)
    monitoring.register(registry, datastore, sessions, library, hello_caps)
    confirm_timer = ConfirmTimer(datastore, sessions, events, registry.writer)
    confirm_timer.start()
    service = NetconfService(
        datastore,
        registry,
        sessions,
        hello_caps,
        config.limits,
        SystemClock(),
        events,
    )
    host_key = transport.load_or_create_host_key(state_dir / "ssh_host_ed25519_key")
    acceptor = await transport.listen(args.host, args.port, host_key, users, service.run)
    port = acceptor.get_port()
    _announce(args.host, port, host_key, password_file)
    await _wait_for_stop()
    log.info("shutting down")
    acceptor.close()
    sessions.terminate_all()
    await acceptor.wait_closed()
    await confirm_timer.stop()
    await background.stop()
    events.close()
    return 0


def _announce(host: str, port: int, host_key: object, password_file: Path | None) -> None:
    fingerprint = transport.host_key_fingerprint(host_key)  # type: ignore[arg-type]
    lines = [f"pki-agent listening on {host}:{port} (NETCONF over SSH)", f"host key {fingerprint}"]
    if password_file is not None:
        lines += [
            f"user {ADMIN}; password in {password_file}",
            "connect with ncclient:",
            "  from ncclient import manager",
            f"  m = manager.connect(host={host!r}, port={port}, username={ADMIN!r},",
            f"                      password=open({str(password_file)!r}).read().strip(),",
            "                      hostkey_verify=False, look_for_keys=False, allow_agent=False)",
        ]
    print("\n".join(lines), flush=True)


async def _wait_for_stop() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = load_config(args.config)
    except (OSError, tomllib.TOMLDecodeError, KeyError, ValueError) as exc:
        print(f"pki-agent: bad --config: {exc}", file=sys.stderr)
        return 2
    os.umask(0o077)
    try:
        return asyncio.run(serve(args, config))
    except schema_mod.SchemaError as exc:
        print(f"pki-agent: the YANG modules do not compile:\n{exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"pki-agent: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
