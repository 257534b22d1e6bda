"""yangcli 2.13 (yuma123, Debian package) in batch mode.

At connect it learns the agent's modules (yang-library:1.0 and /modules-state, or module
capabilities) and downloads every one it lacks with get-schema, then compiles them; only then
can it address the agent's data. It exits 0 whatever happens, so the output is what we check.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.integration.agent_process import AgentProcess
from tests.interop.conftest import connect, run, trustpoint_description
from tests.interop.model import MODULES, REPO

YANGCLI = shutil.which("yangcli") or "yangcli"  # a missing binary fails the test, never skips

EDIT = """\
get-config source=running
merge /trustpoints/trustpoint[name="{name}"]/description value="{text}"
commit
sget /trustpoints/trustpoint[name="{name}"]/description
"""


def replies(output: str) -> list[str]:
    """The kinds of reply (OK, Data, Error) to the script's commands, in order."""
    return re.findall(r"^RPC (OK|Data|Error) Reply \d+ ", script_part(output), re.M)


def script_part(output: str) -> str:
    """What yangcli printed once connected and done loading modules."""
    return output[output.index("Begin startup script") :]


def yangcli(agent: AgentProcess, home: Path, script: str, *options: str) -> str:
    home.mkdir(exist_ok=True)
    path = home / "script"
    path.write_text(script)
    cmd = [
        YANGCLI,
        f"--server={agent.host}",
        f"--ncport={agent.port}",
        "--user=admin",
        f"--password={agent.password}",
        "--batch-mode",
        f"--run-script={path}",
        "--log-level=debug",
        *options,
    ]
    out = run(cmd, env={"HOME": str(home), "PATH": "/usr/bin:/bin"}, cwd=home, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "NETCONF session established" in out.stdout, out.stdout[-3000:]
    return out.stdout + out.stderr


@pytest.fixture(scope="module")
def autoloaded(agent: AgentProcess, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One session that downloads every module, then edits with them."""
    home = tmp_path_factory.mktemp("yangcli")
    return yangcli(agent, home, EDIT.format(name="yangcli-ca", text="downloaded schema"))


@pytest.mark.parametrize("module", MODULES)
def test_get_schema_downloads_every_module(autoloaded: str, module: str) -> None:
    assert f"Sending autoload request for '{module}'" in autoloaded, autoloaded[-3000:]
    assert f"Got autoload reply for '{module}'" in autoloaded
    assert f"<get-schema> for module '{module}'" not in autoloaded  # "... failed"


def test_downloaded_modules_compile(autoloaded: str) -> None:
    assert "autoload compile modules failed" not in autoloaded
    assert "autoload get modules failed" not in autoloaded
    assert "has no child node 'trustpoints'. Using anyxml" not in autoloaded


def test_edit_and_commit_after_autoload(autoloaded: str, agent: AgentProcess) -> None:
    # get-config, edit-config (merge), commit, get
    assert replies(autoloaded) == ["Data", "OK", "OK", "Data"], script_part(autoloaded)
    assert "description 'downloaded schema'" in script_part(autoloaded)
    assert trustpoint_description(agent, "yangcli-ca") == "downloaded schema"


def test_edit_with_local_modules(agent: AgentProcess, tmp_path: Path) -> None:
    """The same edit with the modules on yangcli's own module path (no download needed)."""
    options = (f"--modpath={REPO / 'yang'}", "--module=npa-pki-trustpoints")
    out = yangcli(agent, tmp_path, EDIT.format(name="yangcli-local", text="local"), *options)
    assert replies(out) == ["Data", "OK", "OK", "Data"], script_part(out)
    assert trustpoint_description(agent, "yangcli-local") == "local"


def test_failed_commit_is_an_error_reply(agent: AgentProcess, tmp_path: Path) -> None:
    """A must violation is found at commit; the error reply stops the script."""
    script = 'merge /keys/key[label="yangcli-bad"]/algorithm value=pki-types:ecdsa\ncommit\n'
    options = (f"--modpath={REPO / 'yang'}", "--module=npa-pki-keys")
    out = yangcli(agent, tmp_path, script, *options)
    assert replies(out) == ["OK", "Error"], script_part(out)
    assert "error-app-tag unsupported-key-parameters" in script_part(out)
    assert "error-message 'algorithm ecdsa needs a curve" in script_part(out)
    assert "canceled" in script_part(out)
    with connect(agent) as m:  # the shared candidate keeps the edit until discarded
        assert "yangcli-bad" in m.get_config(source="candidate").data_xml
        m.discard_changes()


def test_xget_slash_returns_everything(agent: AgentProcess, tmp_path: Path) -> None:
    """`xget /` sends select="/": the whole datastore, state included."""
    options = (f"--modpath={REPO / 'yang'}", "--module=npa-pki-trustpoints")
    out = yangcli(agent, tmp_path, "xget /\n", *options)
    assert replies(out) == ["Data"], script_part(out)
    assert "trustpoint yangcli-local" in script_part(out)
    assert "modules-state" in script_part(out)  # ietf-yang-library state, not only config
