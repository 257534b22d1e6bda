"""What the interop tests know about the agent's models (from yang/)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BASE = "urn:ietf:params:xml:ns:netconf:base:1.0"
NS = {
    "keys": "urn:netconf-pki-agent:yang:npa-pki-keys",
    "sys": "urn:netconf-pki-agent:yang:npa-pki-system",
    "tp": "urn:netconf-pki-agent:yang:npa-pki-trustpoints",
    "pool": "urn:netconf-pki-agent:yang:npa-pki-trustpool",
    "types": "urn:netconf-pki-agent:yang:npa-pki-types",
}
# The project's own modules: every one must be downloadable by get-schema.
MODULES = sorted(p.name.split("@")[0] for p in (REPO / "yang").glob("*.yang"))


def trustpoints(*entries: tuple[str, str]) -> str:
    """Trustpoints (name, description) as data: the child of <config>."""
    body = "".join(
        f"<trustpoint><name>{name}</name><description>{text}</description></trustpoint>"
        for name, text in entries
    )
    return f'<trustpoints xmlns="{NS["tp"]}">{body}</trustpoints>'


def trustpoint(name: str, description: str) -> str:
    return trustpoints((name, description))


def generate_key(label: str, *, overwrite: bool = False) -> str:
    """The generate-key RPC element (Ed25519: quick to generate)."""
    return (
        f'<generate-key xmlns="{NS["keys"]}"><label>{label}</label>'
        f'<algorithm xmlns:t="{NS["types"]}">t:ed25519</algorithm>'
        f"<overwrite>{str(overwrite).lower()}</overwrite></generate-key>"
    )


def zeroize_unknown_key() -> str:
    """An RPC that always fails: key-not-found for a label nobody made."""
    return f'<zeroize-key xmlns="{NS["keys"]}"><label>no-such-key</label></zeroize-key>'


def trustpoint_filter(name: str) -> str:
    """A subtree filter selecting one trustpoint."""
    entry = f"<trustpoint><name>{name}</name></trustpoint>"
    return f'<trustpoints xmlns="{NS["tp"]}">{entry}</trustpoints>'
