"""Micro benchmark of the YANG validator: full validation against validation of one change.

Builds datastores of N keys and N trustpoints (each trustpoint's key-label a leafref to a key,
the keys with defaults, a when and a must), for N = 10 and N = 10,000, and prints the best
time of validate() and of validate_changes() for one-entry commits: modifying a leaf, adding
a trustpoint, adding a key and deleting a trustpoint. The YANG module is written to a
temporary directory, so the benchmark does not depend on the project's modules.

    .venv/bin/python tools/bench_validate.py [--sizes 10 10000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from lxml import etree

from agent.datastore import schema
from agent.datastore.schema import Schema, SchemaNode
from agent.datastore.validate import Validator

NS = "urn:example:bench"
MODULE = """
module bench {
  yang-version 1.1;
  namespace "urn:example:bench";
  prefix b;
  identity key-alg;
  identity rsa { base key-alg; }
  identity ecdsa { base key-alg; }
  container keys {
    list key {
      key label;
      unique "alias";
      must "usage != 'encryption' or modulus >= 2048";
      leaf label { type string { length "1..32"; pattern "[a-z0-9-]+"; } }
      leaf algorithm { type identityref { base key-alg; } default rsa; }
      leaf modulus {
        when "derived-from-or-self(../algorithm, 'b:rsa')";
        type uint16 { range "512..4096"; }
        default 2048;
      }
      leaf usage { type enumeration { enum general; enum encryption; } default general; }
      leaf alias { type string; }
    }
  }
  container trustpoints {
    list trustpoint {
      key name;
      leaf name { type string; }
      leaf key-label { type leafref { path "/keys/key/label"; } mandatory true; }
      choice enrollment {
        mandatory true;
        leaf url { type string; }
        leaf terminal { type empty; }
      }
      leaf retry-period { type uint8 { range "1..60"; } default 1; }
    }
  }
}
"""


def q(name: str) -> str:
    return f"{{{NS}}}{name}"


def build(n: int) -> etree._Element:
    root = etree.Element("{urn:ietf:params:xml:ns:netconf:base:1.0}data")
    keys = etree.SubElement(root, q("keys"), nsmap={"b": NS})
    tps = etree.SubElement(root, q("trustpoints"), nsmap={"b": NS})
    for i in range(n):
        add_key(keys, f"k{i}")
        add_tp(tps, f"t{i}", f"k{i}")
    return root


def add_key(keys: etree._Element, label: str) -> etree._Element:
    key = etree.SubElement(keys, q("key"))
    etree.SubElement(key, q("label")).text = label
    etree.SubElement(key, q("alias")).text = f"alias-{label}"
    return key


def add_tp(tps: etree._Element, name: str, label: str) -> etree._Element:
    tp = etree.SubElement(tps, q("trustpoint"))
    etree.SubElement(tp, q("name")).text = name
    etree.SubElement(tp, q("key-label")).text = label
    etree.SubElement(tp, q("terminal"))
    return tp


def best_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


class Scenarios:
    """One-entry commits on a datastore, each validated incrementally and then undone."""

    def __init__(self, sch: Schema, validator: Validator, root: etree._Element) -> None:
        self.v = validator
        self.root = root
        self.keys, self.tps = root[0], root[1]
        self.tp_node: SchemaNode = sch.root.children[(NS, "trustpoints")].children[
            (NS, "trustpoint")
        ]

    def modify_leaf(self) -> None:
        leaf = self.tps[0][1]
        old, leaf.text = leaf.text, self.keys[-1][0].text
        self.check(self.v.validate_changes(self.root, [leaf], []))
        leaf.text = old

    def add_trustpoint(self) -> None:
        tp = add_tp(self.tps, "new", self.keys[0][0].text or "")
        self.check(self.v.validate_changes(self.root, [tp], []))
        self.tps.remove(tp)

    def add_key(self) -> None:
        key = add_key(self.keys, "new-key")
        self.check(self.v.validate_changes(self.root, [key], []))
        self.keys.remove(key)

    def delete_trustpoint(self) -> None:
        tp = self.tps[-1]
        self.tps.remove(tp)
        self.check(self.v.validate_changes(self.root, [], [(self.tp_node, self.tps)]))
        self.tps.append(tp)

    @staticmethod
    def check(errors: Sequence[object]) -> None:
        if errors:
            raise SystemExit(f"unexpected validation errors: {errors}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 10_000])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "bench.yang").write_text(MODULE, encoding="utf-8")
        sch = schema.load(Path(tmp))
    validator = Validator(sch)
    names = ("modify_leaf", "add_trustpoint", "add_key", "delete_trustpoint")
    print(f"{'entries':>8} {'full':>10} " + " ".join(f"{n:>18}" for n in names))
    for n in args.sizes:
        root = build(n)
        Scenarios.check(validator.validate(root))
        full = best_ms(functools.partial(validator.validate, root), max(3, args.repeat // 5))
        s = Scenarios(sch, validator, root)
        inc = [best_ms(getattr(s, name), args.repeat) for name in names]
        print(f"{n:>8} {full:>8.2f}ms " + " ".join(f"{t:>16.3f}ms" for t in inc))


if __name__ == "__main__":
    main()
