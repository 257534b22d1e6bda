"""Differential test of the validator against yanglint (libyang 2), an independent oracle.

A table of instance documents (valid and invalid, both sides of every constraint kind the
validator checks) is validated by the agent and by yanglint, through one interactive
yanglint process; the verdicts (valid / invalid) must agree. validate_changes must agree
too, when the whole document is the change to an empty datastore. Cases where libyang and
RFC 7950 part ways are left out here, each with its reason, and tested in test_validate.py.
"""

from __future__ import annotations

import copy
import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from lxml import etree

from agent.datastore import schema
from agent.datastore.schema import Kind, SchemaNode, TypeSpec
from agent.datastore.validate import Validator
from agent.errors import RpcError

TEST_YANG = Path(__file__).resolve().parents[2] / "vectors" / "validate" / "yang"
PROJECT_YANG = Path(__file__).resolve().parents[3] / "yang"
TEST_MODULES = ("vt-types", "vt-main", "vt-aug")
VM = "urn:example:vt-main"
VTT = "urn:example:vt-types"
VA = "urn:example:vt-aug"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"


@dataclass(frozen=True)
class Case:
    kind: str  # the constraint kind, for the balance check
    name: str
    xml: str  # top-level elements, each declaring its namespaces


# Where libyang 2.1 and RFC 7950 disagree; test_validate.py tests our (RFC) behaviour.
EXCLUDED = {
    "dec '-.5'": "RFC 7950 9.3.1 wants a digit before the point; libyang 2.1 accepts '-.5' "
    "(and refuses '.5')",
    "idr2 'vtt:ecdsa-p256'": "RFC 7950 9.10.2: a value must derive from all the bases; libyang "
    "2.1 accepts one derived from any",
    "pct-ref default": "RFC 7950 6.4.1: defaults in use are in the accessible tree; libyang 2.1 "
    "resolves leafrefs before it adds implicit top-level containers, so misses this default",
    "ii mode default": "as for 'pct-ref default', for an instance-identifier",
}


def top(name: str, inner: str = "", ns: str = VM) -> str:
    return f'<{name} xmlns="{ns}" xmlns:vtt="{VTT}" xmlns:vm="{VM}">{inner}</{name}>'


def leaf(name: str, value: str | None) -> str:
    return f"<{name}/>" if value is None else f"<{name}>{escape(value)}</{name}>"


def key(label: str, extra: str = "") -> str:
    return f"<key>{leaf('label', label)}{extra}</key>"


def tp(name: str, extra: str = "<terminal/>") -> str:
    return f"<tp>{leaf('name', name)}{extra}</tp>"


# -- types -------------------------------------------------------------------------------

TYPE_VALUES: dict[str, tuple[str, ...]] = {
    "i8": (
        "-11",
        "-10",
        "0",
        "10",
        "11",
        "99",
        "100",
        "101",
        "+5",
        "05",
        " 5 ",
        "5.0",
        "",
        "abc",
        "-0",
        "0x5",
    ),
    "i16": ("-32768", "-32769", "32767", "32768"),
    "i32": ("0", "1", "-2147483648", "-2147483649"),
    "i64": ("0", "1", "-1", "9223372036854775807", "9223372036854775808", "-9223372036854775808"),
    "u8": ("0", "1", "255", "256", "-1"),
    "u16": ("65535", "65536"),
    "u32": ("4294967295", "4294967296"),
    "u64": ("9", "10", "18446744073709551615", "18446744073709551616"),
    "pct": ("9", "10", "50", "90", "91", "101"),
    "dec": (
        "5.5",
        "5.51",
        "-5.5",
        "-5.6",
        "1.5",
        "1.505",
        "1.500",
        "0",
        "1.",
        ".5",
        "-.5",
        "1e1",
        "+1.25",
        " 2.5 ",
    ),
    "dec18": (
        "9.223372036854775807",
        "9.223372036854775808",
        "-9.223372036854775808",
        "0.000000000000000001",
        "0.0000000000000000001",
    ),
    "str": ("ab", "a", "abcde", "abcdef", "aB", "ab1", "\u00e9\u00e9"),
    "two-pat": ("1a", "a1", "12", "", "1-"),
    "nox": ("abc", "xabc", "x", "ax"),
    "uni": ("\u00e9", "\u65e5\u672c\u8a9e", "\u65e5\u672c\u8a9ex", ""),
    "lbl": ("k1", "k_1.x-y", "a b", "", "a" * 16, "a" * 17),
    "en": ("a", "b", "with space", "c", "A", "7", " a"),
    "bi": ("", "x", "x y", "y x", "x z", "x x", "w", "  x  "),
    "bo": ("true", "false", "True", "1", ""),
    "un": ("5", "-128", "200", "unlimited", "ABC", "abc", "+5", ""),
    "idr": (
        "vtt:rsa",
        "vtt:ecdsa-p256",
        "vtt:key-alg",
        "vtt:hw-backed",
        "vtt:nope",
        "nope:rsa",
        "rsa",
        "vm:rsa",
    ),
    "idr2": ("vtt:tpm-ecdsa", "vtt:ecdsa-p256", "vtt:ecdsa", "vtt:hw-backed"),
    "bin": ("AAAA", "AAAAAA==", "AAAAAAAA", "", "AAA", "AA==", "A A=", "AAA=\n"),
    "addr": ("192.0.2.1", "256.0.0.1", "::1", "fe80::1%eth0", "x"),
    "mac": ("00:11:22:33:44:55", "00:11:22:33:44", "00-11-22-33-44-55"),
    "ii-opt": ("/vm:keys/vm:key[vm:label='zz']", "/vm:nothing", "vm:keys", "/vm:keys/vm:key"),
}


def type_cases() -> Iterator[Case]:
    for name, values in TYPE_VALUES.items():
        for value in values:
            yield Case("type:" + name, f"{name} {value!r}", top("types", leaf(name, value)))
    yield Case("type:em", "em empty", top("types", "<em/>"))
    yield Case("type:em", "em text", top("types", "<em>x</em>"))
    yield Case(
        "type:idr",
        "idr other prefix",
        f'<types xmlns="{VM}" xmlns:t="{VTT}"><idr>t:ecdsa</idr></types>',
    )
    yield Case("type:leaf-list", "ll three", top("types", "<ll>1</ll><ll>2</ll><ll>3</ll>"))
    yield Case(
        "type:leaf-list", "ll four", top("types", "<ll>1</ll><ll>2</ll><ll>3</ll><ll>4</ll>")
    )
    yield Case("type:leaf-list", "ll duplicate", top("types", "<ll>1</ll><ll>01</ll>"))
    yield Case("type:leaf-list", "lls duplicate", top("types", "<lls>a</lls><lls>a</lls>"))
    yield Case("type:leaf-list", "lls two", top("types", "<lls>a</lls><lls>b</lls>"))
    yield Case("type:anydata", "anydata", top("types", "<extra><any><thing/></any></extra>"))
    yield Case("unknown", "leaf with children", top("types", "<i8><x/></i8>"))


# -- structure, constraints, XPath --------------------------------------------------------

KEYS_K1 = top("keys", key("k1"))
SYS_BASE = top("sys", leaf("hostname", "h"))


def keys_cases() -> Iterator[Case]:
    k = "list-key"
    yield Case(k, "one key", KEYS_K1)
    yield Case(k, "key missing", top("keys", "<key><alias>x</alias></key>"))
    yield Case(k, "duplicate key", top("keys", key("k1") + key("k1")))
    yield Case(k, "two keys", top("keys", key("k1") + key("k2")))
    yield Case(k, "bad label", top("keys", key("a b")))
    u = "unique"
    yield Case(
        u,
        "unique clash defaults",
        top("keys", key("a", leaf("alias", "x")) + key("b", leaf("alias", "x"))),
    )
    yield Case(
        u,
        "unique clash explicit/default",
        top(
            "keys",
            key("a", leaf("alias", "x") + leaf("usage", "general")) + key("b", leaf("alias", "x")),
        ),
    )
    yield Case(
        u,
        "unique differs by usage",
        top(
            "keys",
            key("a", leaf("alias", "x") + leaf("usage", "signing")) + key("b", leaf("alias", "x")),
        ),
    )
    yield Case(u, "unique no alias", top("keys", key("a") + key("b")))
    w = "when"
    yield Case(w, "modulus rsa", top("keys", key("a", leaf("modulus", "4096"))))
    yield Case(
        w,
        "modulus ecdsa",
        top("keys", key("a", leaf("algorithm", "vtt:ecdsa") + leaf("modulus", "4096"))),
    )
    yield Case(
        w,
        "modulus rsa explicit",
        top("keys", key("a", leaf("algorithm", "vtt:rsa") + leaf("modulus", "512"))),
    )
    m = "must"
    yield Case(
        m,
        "encryption 1024",
        top("keys", key("a", leaf("usage", "encryption") + leaf("modulus", "1024"))),
    )
    yield Case(m, "encryption default modulus", top("keys", key("a", leaf("usage", "encryption"))))
    yield Case(
        m,
        "encryption ecdsa",
        top("keys", key("a", leaf("usage", "encryption") + leaf("algorithm", "vtt:ecdsa-p256"))),
    )
    yield Case(
        m, "signing 1024", top("keys", key("a", leaf("usage", "signing") + leaf("modulus", "1024")))
    )
    yield Case("type:uint16", "modulus range", top("keys", key("a", leaf("modulus", "256"))))


def tps_cases() -> Iterator[Case]:
    c = "choice"
    yield Case(c, "terminal", top("tps", tp("t")))
    yield Case(c, "url", top("tps", tp("t", leaf("url", "http://ca.example/"))))
    yield Case(c, "url and terminal", top("tps", tp("t", "<terminal/>" + leaf("url", "http://x/"))))
    yield Case(c, "no case", top("tps", tp("t", "")))
    yield Case(
        c,
        "retry-period with terminal",
        top("tps", tp("t", "<terminal/>" + leaf("retry-period", "5"))),
    )
    yield Case(c, "retry-period alone", top("tps", tp("t", leaf("retry-period", "5"))))
    yield Case("presence", "cmp without server", top("tps", tp("t", "<cmp/>")))
    yield Case("presence", "cmp with server", top("tps", tp("t", "<cmp><server>s</server></cmp>")))
    lr = "leafref"
    yield Case(
        lr,
        "key-label exists",
        KEYS_K1 + top("tps", tp("t", "<terminal/>" + leaf("key-label", "k1"))),
    )
    yield Case(
        lr, "key-label missing", top("tps", tp("t", "<terminal/>" + leaf("key-label", "k1")))
    )
    yield Case(
        lr, "alt-label missing ok", top("tps", tp("t", "<terminal/>" + leaf("alt-label", "zz")))
    )
    yield Case(
        lr, "alt-label bad type", top("tps", tp("t", "<terminal/>" + leaf("alt-label", "a b")))
    )
    yield Case(
        lr,
        "key-usage default",
        KEYS_K1
        + top(
            "tps", tp("t", "<terminal/>" + leaf("key-label", "k1") + leaf("key-usage", "general"))
        ),
    )
    yield Case(
        lr,
        "key-usage wrong",
        KEYS_K1
        + top(
            "tps", tp("t", "<terminal/>" + leaf("key-label", "k1") + leaf("key-usage", "signing"))
        ),
    )
    yield Case(
        lr,
        "key-usage without label",
        KEYS_K1 + top("tps", tp("t", "<terminal/>" + leaf("key-usage", "general"))),
    )
    yield Case(
        "must",
        "deref encryption key",
        top("keys", key("k1", leaf("usage", "encryption")))
        + top("tps", tp("t", "<terminal/>" + leaf("key-label", "k1"))),
    )
    yield Case(
        "must",
        "subject country only",
        top("tps", tp("t", "<terminal/><subject><country>DE</country></subject>")),
    )
    yield Case(
        "must",
        "subject cn and country",
        top("tps", tp("t", "<terminal/><subject><cn>x</cn><country>DE</country></subject>")),
    )
    yield Case(
        "type:string",
        "country length",
        top("tps", tp("t", "<terminal/><subject><cn>x</cn><country>DEU</country></subject>")),
    )
    yield Case(
        "type:leaf-list",
        "san duplicate",
        top("tps", tp("t", "<terminal/><san>a</san><san>a</san>")),
    )
    yield Case(
        "type:leaf-list", "san two", top("tps", tp("t", "<terminal/><san>a</san><san>b</san>"))
    )
    md = "mandatory"
    yield Case(
        md, "ocsp without url", top("tps", tp("t", "<terminal/>" + leaf("revocation", "ocsp")))
    )
    yield Case(
        md,
        "ocsp with url",
        top(
            "tps",
            tp("t", "<terminal/>" + leaf("revocation", "ocsp") + leaf("ocsp-url", "http://o/")),
        ),
    )
    yield Case(
        w := "when",
        "ocsp-url with crl",
        top("tps", tp("t", "<terminal/>" + leaf("ocsp-url", "http://o/"))),
    )
    yield Case(
        w,
        "ocsp-url with none",
        top(
            "tps",
            tp("t", "<terminal/>" + leaf("revocation", "none") + leaf("ocsp-url", "http://o/")),
        ),
    )
    mm = "min-max"
    yield Case(mm, "five tps", top("tps", "".join(tp(f"t{i}") for i in range(5))))
    yield Case(mm, "six tps", top("tps", "".join(tp(f"t{i}") for i in range(6))))
    yield Case("unknown", "tp state", top("tps", tp("t", "<terminal/><state>x</state>")))


POOL_OK = "<description>d</description><policy><cabundle-url>http://b/</cabundle-url></policy>"


def pool_cases() -> Iterator[Case]:
    md, mm = "mandatory", "min-max"
    yield Case(md, "empty pool", top("pool"))
    yield Case(md, "pool complete", top("pool", POOL_OK + "<ca>a</ca>"))
    yield Case(md, "pool without bundle", top("pool", "<description>d</description><ca>a</ca>"))
    yield Case(
        md,
        "pool without description",
        top("pool", "<policy><cabundle-url>http://b/</cabundle-url></policy><ca>a</ca>"),
    )
    yield Case(mm, "pool no ca", top("pool", POOL_OK))
    yield Case(mm, "pool three ca", top("pool", POOL_OK + "<ca>a</ca><ca>b</ca><ca>c</ca>"))
    yield Case(
        mm, "pool four ca", top("pool", POOL_OK + "<ca>a</ca><ca>b</ca><ca>c</ca><ca>d</ca>")
    )
    sched = "<schedule><day>1</day><hour>{}</hour></schedule>"
    yield Case(
        mm, "two schedules", top("pool", POOL_OK + "<ca>a</ca>" + sched.format(1) + sched.format(2))
    )
    yield Case(
        mm,
        "three schedules",
        top("pool", POOL_OK + "<ca>a</ca>" + "".join(sched.format(h) for h in (1, 2, 3))),
    )
    yield Case(
        "list-key",
        "schedule dup",
        top("pool", POOL_OK + "<ca>a</ca>" + sched.format(1) + sched.format("01")),
    )
    yield Case(
        "list-key",
        "schedule missing hour",
        top("pool", POOL_OK + "<ca>a</ca><schedule><day>1</day></schedule>"),
    )
    yield Case(
        "type:uint8", "schedule hour 24", top("pool", POOL_OK + "<ca>a</ca>" + sched.format(24))
    )


def sys_cases() -> Iterator[Case]:
    m, w, d = "must", "when", "defaults"
    yield Case(m, "domain without hostname", top("sys", leaf("domain", "example.com")))
    yield Case(m, "domain with hostname", top("sys", leaf("hostname", "h") + leaf("domain", "e")))
    yield Case("mandatory", "advanced without need", top("sys", leaf("mode", "advanced")))
    yield Case(
        "mandatory",
        "advanced with need",
        top("sys", leaf("mode", "advanced") + "<advanced><need>n</need></advanced>"),
    )
    yield Case(w, "advanced in basic mode", top("sys", "<advanced><need>n</need></advanced>"))
    yield Case(w, "flagged with x", top("sys", leaf("flags", "x y") + leaf("flagged", "f")))
    yield Case(w, "flagged without x", top("sys", leaf("flags", "y") + leaf("flagged", "f")))
    yield Case(w, "flagged no flags", top("sys", leaf("flagged", "f")))
    yield Case("xpath", "code ok", top("sys", leaf("code", "AB12")))
    yield Case("xpath", "code bad", top("sys", leaf("code", "ab12")))
    yield Case("xpath", "code partial", top("sys", leaf("code", "AB12x")))
    yield Case("xpath", "level low", top("sys", leaf("level", "low")))
    yield Case("xpath", "level high basic", top("sys", leaf("level", "high")))
    yield Case(
        "xpath",
        "level high advanced",
        top(
            "sys",
            leaf("level", "high")
            + leaf("mode", "advanced")
            + "<advanced><need>n</need></advanced>",
        ),
    )
    yield Case(d, "port-check default ssh", top("sys", leaf("port-check", "p")))
    yield Case(d, "port-check ssh 22", top("sys", leaf("port-check", "p") + leaf("ssh-port", "22")))
    yield Case(
        d, "port-check tls default", top("sys", leaf("port-check", "p") + leaf("tls-cert", "c"))
    )
    yield Case(
        d, "port-check tls 1000", top("sys", leaf("port-check", "p") + leaf("tls-port", "1000"))
    )
    yield Case("choice", "ssh and tls", top("sys", leaf("ssh-port", "22") + leaf("tls-port", "1")))
    yield Case(d, "tls-check tls", top("sys", leaf("tls-check", "t") + leaf("tls-cert", "c")))
    yield Case(d, "tls-check ssh", top("sys", leaf("tls-check", "t")))
    yield Case("type:uint8", "pct 101", top("sys", leaf("pct", "101")))
    yield Case(
        "augment", "extra in basic", f'<sys xmlns="{VM}"><extra xmlns="{VA}">e</extra></sys>'
    )
    yield Case(
        "augment",
        "extra in advanced",
        f'<sys xmlns="{VM}"><mode>advanced</mode>'
        f'<advanced><need>n</need></advanced><extra xmlns="{VA}">e</extra></sys>',
    )
    yield Case("unknown", "two sys", SYS_BASE + SYS_BASE)
    yield Case(
        "unknown", "two hostnames", top("sys", leaf("hostname", "a") + leaf("hostname", "b"))
    )


def multi(a: str, b: str, extra: str = "") -> str:
    return top("multi", leaf("a", a) + leaf("b", b) + extra)


def ref_cases() -> Iterator[Case]:
    lr = "leafref"
    yield Case("list-key", "multi two", multi("1", "a") + multi("1", "b"))
    yield Case("list-key", "multi dup canonical", multi("1", "a") + multi("01", "a"))
    yield Case("list-key", "multi missing b", top("multi", leaf("a", "1")))
    yield Case(
        "min-max", "multi three tags", multi("1", "a", "<tags>x</tags><tags>y</tags><tags>z</tags>")
    )
    yield Case(lr, "lref ok", multi("1", "a") + top("refs", leaf("lref", "a")))
    yield Case(lr, "lref missing", multi("1", "a") + top("refs", leaf("lref", "q")))
    yield Case(lr, "rel ok", SYS_BASE + top("refs", leaf("rel", "h")))
    yield Case(lr, "rel missing", top("refs", leaf("rel", "h")))
    yield Case(lr, "pct-ref default", top("refs", leaf("pct-ref", "50")))
    yield Case(lr, "pct-ref other", top("refs", leaf("pct-ref", "51")))
    yield Case(
        lr, "pct-ref set", top("sys", leaf("pct", "60")) + top("refs", leaf("pct-ref", "50"))
    )
    yield Case(
        lr, "pct-ref set match", top("sys", leaf("pct", "60")) + top("refs", leaf("pct-ref", "60"))
    )
    yield Case(lr, "ll-ref ok", top("types", "<ll>1</ll>") + top("refs", leaf("ll-ref", "1")))
    yield Case(lr, "ll-ref missing", top("types", "<ll>1</ll>") + top("refs", leaf("ll-ref", "9")))
    yield Case(lr, "int-ref canonical", multi("1", "a") + top("refs", leaf("int-ref", "01")))
    yield Case(lr, "int-ref missing", multi("1", "a") + top("refs", leaf("int-ref", "2")))
    yield Case(lr, "int-ref bad type", multi("1", "a") + top("refs", leaf("int-ref", "x")))
    ii = "instance-identifier"
    yield Case(
        ii, "ii key exists", KEYS_K1 + top("types", leaf("ii", "/vm:keys/vm:key[vm:label='k1']"))
    )
    yield Case(ii, "ii key missing", top("types", leaf("ii", "/vm:keys/vm:key[vm:label='k1']")))
    yield Case(
        ii,
        "ii default leaf",
        KEYS_K1 + top("types", leaf("ii", "/vm:keys/vm:key[vm:label='k1']/vm:modulus")),
    )
    yield Case(ii, "ii mode default", top("types", leaf("ii", "/vm:sys/vm:mode")))
    yield Case(ii, "ii hostname absent", top("types", leaf("ii", "/vm:sys/vm:hostname")))
    yield Case(
        ii, "ii leaf-list entry", top("types", "<ll>3</ll>" + leaf("ii", "/vm:types/vm:ll[.='3']"))
    )
    yield Case(
        ii, "ii leaf-list absent", top("types", "<ll>3</ll>" + leaf("ii", "/vm:types/vm:ll[.='4']"))
    )
    yield Case(ii, "ii no key", KEYS_K1 + top("types", leaf("ii", "/vm:keys/vm:key")))
    yield Case(ii, "ii unprefixed", KEYS_K1 + top("types", leaf("ii", "/keys")))
    yield Case(
        ii,
        "ii multi keys",
        multi("1", "a") + top("types", leaf("ii", "/vm:multi[vm:a='1'][vm:b='a']/vm:c")),
    )
    yield Case(
        ii, "ii multi one key", multi("1", "a") + top("types", leaf("ii", "/vm:multi[vm:a='1']"))
    )


def opts_grp_cases() -> Iterator[Case]:
    c = "choice"
    yield Case(c, "a1 only", top("opts", leaf("a1", "x")))
    yield Case(c, "a1 and i1", top("opts", leaf("a1", "x") + leaf("i1", "y")))
    yield Case(c, "i1 and b1", top("opts", leaf("i1", "y") + leaf("b1", "z")))
    yield Case(c, "b1 only", top("opts", leaf("b1", "z")))
    yield Case(c, "i1 only", top("opts", leaf("i1", "y")))
    yield Case(c, "i1 and i2", top("opts", leaf("i1", "y") + leaf("i2", "z")))
    g = "uses"
    yield Case(g, "grp ok", top("grp", leaf("flag", "true") + leaf("name2", "abc"), VA))
    yield Case(g, "grp short", top("grp", leaf("flag", "true") + leaf("name2", "ab"), VA))
    yield Case(
        g,
        "grp short ok",
        top("grp", leaf("flag", "true") + leaf("name2", "ab") + leaf("short-ok", "true"), VA),
    )
    yield Case(g, "grp flag false", top("grp", leaf("flag", "false") + leaf("name2", "abc"), VA))
    yield Case(g, "grp no flag", top("grp", leaf("short-ok", "true"), VA))
    yield Case(g, "grp alg rsa", top("grp", leaf("flag", "true") + leaf("alg2", "vtt:rsa"), VA))
    yield Case(
        g, "grp alg ecdsa", top("grp", leaf("flag", "true") + leaf("alg2", "vtt:ecdsa-p256"), VA)
    )
    u = "unknown"
    yield Case(u, "unknown top", top("nonexistent"))
    yield Case(u, "unknown namespace", '<thing xmlns="urn:example:nowhere"/>')
    yield Case(u, "unknown child", top("types", "<nothing/>"))
    yield Case(u, "known", top("types", leaf("i8", "1")))


def corpus() -> list[Case]:
    cases = list(
        itertools.chain(
            type_cases(),
            keys_cases(),
            tps_cases(),
            pool_cases(),
            sys_cases(),
            ref_cases(),
            opts_grp_cases(),
        )
    )
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases


# -- mutations of a valid document ---------------------------------------------------------

INT_BOUNDS = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}


def int_candidates(spec: TypeSpec) -> list[str]:
    bits = INT_BOUNDS.get(spec.base) or int(spec.base[4:])
    lo, hi = (
        (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if spec.base in INT_BOUNDS else (0, 2**bits - 1)
    )
    values = {lo - 1, lo, hi, hi + 1}
    for r in spec.ranges:
        for a, b in r.intervals:
            values |= {int(a) - 1, int(a), int(b), int(b) + 1}
    return [str(v) for v in sorted(values)] + ["x"]


def identity_candidates(sch: schema.Schema, spec: TypeSpec) -> list[tuple[str, str]]:
    """Identities as (namespace, name); with several bases only those derived from all or
    none of them (libyang accepts any: see EXCLUDED)."""
    out = []
    for ident in sorted(sch.identities):
        derived = [sch.derived_from(ident, b) for b in spec.identity_bases]
        if all(derived) or not any(derived) or len(derived) == 1:
            out.append(ident)
    return [*out, ("urn:example:nowhere", "x")]


def candidates(sch: schema.Schema, spec: TypeSpec) -> list[str | tuple[str, str]]:
    """Values of a type, valid and invalid, for the mutations below."""
    base = spec.base
    if base in INT_BOUNDS or base.startswith("uint"):
        return list(int_candidates(spec))
    simple: dict[str, list[str | tuple[str, str]]] = {
        "decimal64": ["0", "0.5", "1", "-1.25", "99999", "1.", "x"],
        "string": ["", "x", "a b", "\u00e9\u00e9\u00e9", "Z" * 70],
        "enumeration": [name for name, _ in spec.enums] + ["bogus"],
        "bits": ["", *(name for name, _ in spec.bits), "bogus"],
        "boolean": ["true", "false", "yes"],
        "empty": ["", "x"],
        "binary": ["AAAA", "A", ""],
        "leafref": ["zzz-missing"],
        "instance-identifier": ["/bogus", ""],
    }
    if base == "identityref":
        return list(identity_candidates(sch, spec))
    if base == "union":
        return [v for m in spec.members for v in candidates(sch, m)]
    return simple.get(base, ["x"])


def schema_node(sch: schema.Schema, el: etree._Element) -> SchemaNode | None:
    node: SchemaNode | None = sch.root
    for e in reversed([el, *el.iterancestors()][:-1]):
        q = etree.QName(e)
        node = node.children.get((q.namespace or "", q.localname)) if node else None
    return node


Change = tuple[list[etree._Element], list[tuple[SchemaNode, etree._Element]]]


def set_value(el: etree._Element, value: str | tuple[str, str]) -> etree._Element:
    if isinstance(value, str):
        el.text = value
        return el
    new = etree.Element(el.tag, nsmap={"zz": value[0]})  # a prefix only this value uses
    new.text = f"zz:{value[1]}"
    el.addprevious(new)
    el.getparent().remove(el)
    return new


def mutations(
    sch: schema.Schema, root: etree._Element
) -> Iterator[tuple[str, etree._Element, Change]]:
    """Every element deleted, every leaf set to each candidate of its type, every list
    entry duplicated: documents one change away from a valid one, with that change."""
    tree = root.getroottree()
    for el in root.iter():
        if el is root or not isinstance(el.tag, str):
            continue
        path = tree.getpath(el)
        node = schema_node(sch, el)
        doc = copy.deepcopy(root)
        target = doc.xpath(path)[0]
        parent = target.getparent()
        parent.remove(target)
        yield f"delete {path}", doc, ([], [(node, parent)] if node is not None else [])
        if node is not None and node.type is not None:
            for value in candidates(sch, node.type):
                doc = copy.deepcopy(root)
                new = set_value(doc.xpath(path)[0], value)
                yield f"set {path} {value!r}", doc, ([new], [])
        if node is not None and node.kind is Kind.LIST:
            doc = copy.deepcopy(root)
            target = doc.xpath(path)[0]
            twin = copy.deepcopy(target)
            target.addnext(twin)
            yield f"duplicate {path}", doc, ([twin], [])


# -- running both sides -------------------------------------------------------------------


def _yanglint() -> str:
    path = shutil.which("yanglint")
    assert path, "yanglint is missing: install libyang2-tools (make debs)"
    return path


def module_files(yang_dir: Path) -> list[Path]:
    """The modules of a directory, the types modules first: libyang must see a module
    implemented before another module takes identity defaults from it."""
    return sorted(yang_dir.glob("*.yang"), key=lambda p: ("types" not in p.name, p.name))


def yanglint_verdicts(yang_dir: Path, docs: dict[str, str], work: Path) -> dict[str, bool]:
    """Validate every document as a config datastore in one interactive yanglint process;
    a document is valid when yanglint printed it back and did not report it."""
    lines = [f"searchpath {d}" for d in [yang_dir, *schema.standard_module_dirs()]]
    lines += [f"add {f}" for f in module_files(yang_dir)]
    files: dict[str, tuple[Path, Path]] = {}
    for i, (name, xml) in enumerate(docs.items()):
        src, out = work / f"case{i}.xml", work / f"out{i}.xml"
        src.write_text(xml, encoding="utf-8")
        files[name] = (src, out)
        lines.append(f"data -t config -f xml -o {out} {src}")
    proc = subprocess.run(
        [_yanglint()],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(work)},
        timeout=120,
    )
    assert "Parsing schema module" not in proc.stderr, proc.stderr
    return {
        name: out.exists() and out.stat().st_size > 0 and f'"{src}"' not in proc.stderr
        for name, (src, out) in files.items()
    }


def agent_root(xml: str) -> etree._Element:
    return etree.fromstring(f'<data xmlns="{NC}">{xml}</data>')


def as_file(root: etree._Element) -> str:
    """A datastore as yanglint reads it: the top-level elements, each with its namespaces."""
    return "".join(etree.tostring(c, encoding="unicode") for c in root if isinstance(c.tag, str))


@dataclass
class Corpus:
    """Documents with yanglint's verdicts, and each one's change from a valid document."""

    sch: schema.Schema
    docs: dict[str, etree._Element]
    verdicts: dict[str, bool]
    changes: dict[str, Change]


def disagreements(corpus: Corpus) -> list[str]:
    validator = Validator(corpus.sch)
    out = []
    for name, root in corpus.docs.items():
        errors = validator.validate(copy.deepcopy(root))
        if (not errors) != corpus.verdicts[name]:
            said = "valid" if corpus.verdicts[name] else "invalid"
            out.append(
                f"{name}: yanglint says {said}, agent "
                f"{[(e.tag.value, e.app_tag, e.path) for e in errors]}"
            )
    return out


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    docs = {c.name: agent_root(c.xml) for c in corpus() if c.name not in EXCLUDED}
    verdicts = yanglint_verdicts(
        TEST_YANG, {n: as_file(r) for n, r in docs.items()}, tmp_path_factory.mktemp("table")
    )
    changes: dict[str, Change] = {n: (list(r), []) for n, r in docs.items()}  # from empty
    return Corpus(schema.load(TEST_YANG), docs, verdicts, changes)


def mutation_corpus(yang_dir: Path, base: etree._Element, work: Path) -> Corpus:
    sch = schema.load(yang_dir)
    found = [m for m in mutations(sch, base) if m[0] not in EXCLUDED]
    docs = {name: doc for name, doc, _ in found}
    verdicts = yanglint_verdicts(yang_dir, {n: as_file(r) for n, r in docs.items()}, work)
    return Corpus(sch, docs, verdicts, {name: change for name, _, change in found})


@pytest.fixture(scope="module")
def mutated(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    base = etree.parse(
        str(TEST_YANG.parent / "base.xml"), etree.XMLParser(remove_blank_text=True)
    ).getroot()
    return mutation_corpus(TEST_YANG, base, tmp_path_factory.mktemp("mutated"))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The project's own modules, mutating their example configuration."""
    example = PROJECT_YANG / "examples" / "example-config.xml"
    assert example.exists() and module_files(PROJECT_YANG), "yang/ or its example is missing"
    pyang = Path(sys.executable).with_name("pyang")
    path = ":".join(map(str, [PROJECT_YANG, *schema.standard_module_dirs()]))
    lint = subprocess.run(
        [str(pyang), "--strict", "-p", path, *map(str, module_files(PROJECT_YANG))],
        capture_output=True,
        text=True,
    )
    assert not (lint.returncode or lint.stdout or lint.stderr), (
        f"yang/ is not pyang --strict clean: {lint.stdout}{lint.stderr}"
    )
    parser = etree.XMLParser(remove_blank_text=True, remove_comments=True)
    base = etree.fromstring(f'<data xmlns="{NC}">{example.read_text()}</data>', parser)
    return mutation_corpus(PROJECT_YANG, base, tmp_path_factory.mktemp("project"))


def test_yanglint_is_installed() -> None:
    _yanglint()


def test_table_covers_both_sides_of_every_kind(table: Corpus) -> None:
    sides: dict[str, set[bool]] = {}
    for case in corpus():
        if case.name in table.verdicts:
            sides.setdefault(case.kind.split(":")[0], set()).add(table.verdicts[case.name])
    one_sided = {kind for kind, seen in sides.items() if seen != {True, False}}
    assert not one_sided, f"only valid or only invalid cases for: {sorted(one_sided)}"


def test_corpus_size(table: Corpus, mutated: Corpus) -> None:
    verdicts = [*table.verdicts.values(), *mutated.verdicts.values()]
    assert len(verdicts) >= 250
    assert verdicts.count(True) >= 50 and verdicts.count(False) >= 50


def test_table_agrees_with_yanglint(table: Corpus) -> None:
    assert not (found := disagreements(table)), "\n".join(found)


def test_mutations_agree_with_yanglint(mutated: Corpus) -> None:
    assert not (found := disagreements(mutated)), "\n".join(found)


def test_project_modules_agree_with_yanglint(project: Corpus) -> None:
    assert not (found := disagreements(project)), "\n".join(found)


def test_changes_agree_with_full_validation(table: Corpus, mutated: Corpus) -> None:
    """Each table document as one edit of an empty datastore, each mutation as the edit of
    the valid base document it is: validate_changes() finds what validate() finds."""
    wrong = []
    for corpus_ in (table, mutated):
        validator = Validator(corpus_.sch)
        for name, root in corpus_.docs.items():
            full = summary(validator.validate(root))
            if summary(validator.validate_changes(root, *corpus_.changes[name])) != full:
                wrong.append(name)
    assert not wrong, wrong


def summary(errors: list[RpcError]) -> list[str]:
    return sorted(f"{e.tag.value} {e.app_tag or '-'} {e.path}" for e in errors)
