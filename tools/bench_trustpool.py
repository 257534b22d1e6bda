#!/usr/bin/env python3
"""Trustpool figures of issue 4, in-process against the engine (agent.pki), no NETCONF:

- load of the built-in bundle (certifi's Mozilla set) and its replacement into a pool;
- verify_chain latency for a leaf issued by one pool CA, with pools of 100 and 10,000 CA
  certificates (anchor lookup is indexed by subject: the ratio should stay near 1);
- memory held by a 10,000-certificate pool (tracemalloc, after a collection).

Revocation is off ('none') so the figure is path building, not a CRL download.

Example::

    python tools/bench_trustpool.py --runs 200
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from agent.pki import RevocationPolicy, TrustPool, load_certificate, verify_chain
from agent.pki.fetch import UrlFetcher
from agent.pki.trustpool import load_builtin

NOW = datetime.now(UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, issuer: str, key: ec.EllipticCurvePrivateKey, ca: bool) -> bytes:
    builder = (
        x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )  # fmt: skip
    if not ca:
        san = x509.SubjectAlternativeName([x509.DNSName("peer.example.net")])
        builder = builder.add_extension(san, critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(Encoding.DER)


def pool_of(directory: Path, size: int, key: ec.EllipticCurvePrivateKey) -> TrustPool:
    """``size`` CA certificates (one shared key: signing speed is not what is measured)."""
    pool = TrustPool(directory, builtin=[])
    pool.replace([load_certificate(_cert(f"Bench CA {i}", f"Bench CA {i}", key, True))
                  for i in range(size)])  # fmt: skip
    return pool


def verify_ms(pool: TrustPool, key: ec.EllipticCurvePrivateKey, runs: int) -> float:
    leaf = load_certificate(_cert("peer", "Bench CA 7", key, False))
    fetch, policy = UrlFetcher(), RevocationPolicy(("none",))
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        verdict = verify_chain([leaf], [], pool, policy, purpose="any", name=None,
                               at=NOW, fetch=fetch)  # fmt: skip
        samples.append((time.perf_counter() - start) * 1000)
        if not verdict.trusted:
            raise SystemExit(f"bench: leaf not trusted: {verdict.detail}")
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--large", type=int, default=10_000)
    args = p.parse_args(argv)
    key = ec.generate_private_key(ec.SECP256R1())
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        builtin = load_builtin()
        loaded = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        TrustPool(Path(tmp) / "b", builtin=[]).replace(builtin)
        replaced = (time.perf_counter() - start) * 1000
        print(f"built-in bundle: {len(builtin)} CA certificates, load {loaded:.0f} ms, "
              f"replace into a pool {replaced:.0f} ms")  # fmt: skip
        small = verify_ms(pool_of(Path(tmp) / "s", 100, key), key, args.runs)
        gc.collect()
        tracemalloc.start()
        large_pool = pool_of(Path(tmp) / "l", args.large, key)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        large = verify_ms(large_pool, key, args.runs)
    print(f"verify-certificate (engine): pool 100 median {small:.3f} ms, pool {args.large} "
          f"median {large:.3f} ms, ratio {large / small:.2f}, {args.runs} runs")  # fmt: skip
    print(f"memory of a {args.large}-certificate pool: {held / 1e6:.1f} MB "
          f"({held / args.large / 1e3:.1f} kB per certificate)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
