"""The YANG modules are clean for pyang --strict and for yanglint (libyang)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from agent.datastore.schema import standard_module_dirs

YANG = Path(__file__).resolve().parents[2] / "yang"


def _modules() -> list[str]:
    # npa-pki-types first: libyang must see it implemented before the identity defaults
    # that other modules take from it.
    files = sorted(
        YANG.glob("*.yang"), key=lambda p: (not p.name.startswith("npa-pki-types"), p.name)
    )
    return [str(p) for p in files]


def _dirs() -> list[str]:
    return [str(YANG), *map(str, standard_module_dirs())]


def _path() -> str:
    return ":".join(_dirs())


def _yanglint_path() -> list[str]:
    # yanglint takes one directory per -p.
    return [arg for d in _dirs() for arg in ("-p", d)]


def test_pyang_strict_is_clean() -> None:
    pyang = Path(sys.executable).with_name("pyang")
    out = subprocess.run(
        [str(pyang), "--strict", "-p", _path(), *_modules()], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout == "" and out.stderr == "", out.stdout + out.stderr


def test_yanglint_is_clean() -> None:
    yanglint = shutil.which("yanglint")
    assert yanglint, "yanglint not found: install libyang2-tools (make test does, as root)"
    out = subprocess.run([yanglint, *_yanglint_path(), *_modules()], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout == "" and out.stderr == "", out.stdout + out.stderr


def test_example_config_is_valid_for_yanglint() -> None:
    yanglint = shutil.which("yanglint")
    assert yanglint, "yanglint not found: install libyang2-tools"
    example = YANG / "examples" / "example-config.xml"
    out = subprocess.run(
        [yanglint, "-t", "config", *_yanglint_path(), *_modules(), str(example)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
