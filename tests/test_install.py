"""The README's set-up command works from a clean clone on Debian's own python3 (issue 14 item 1).

Debian 12 and Ubuntu 24.04 refuse ``pip install .`` into their Python (PEP
668: externally-managed-environment); the README's commands go through
``./setup``, which makes a venv in the checkout. Here the README's main
command runs verbatim in a fresh clone of this checkout with
``PATH=/usr/bin:/bin`` (no pyenv, no virtualenv: Debian's /usr/bin/python3)
and must install auditor and write a report of this machine. pip uses this
machine's own configuration (pip.conf, PIP_* variables).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from auditor.cli import exit_code

ROOT = Path(__file__).resolve().parent.parent
DEBIAN_PATH = "/usr/bin:/bin"
# Variables that would smuggle this test's Python into the command.
FOREIGN = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYENV_VERSION", "PYENV_DIR", "PYENV_HOOK_PATH", "CONDA_PREFIX")


def readme_command(marker: str) -> str:
    """The one line of the shell block after ``<!-- marker -->`` in README.md (as .ci/run reads the test command)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(rf"<!-- {marker} -->\n```sh\n(.*?)\n```", text, re.S)
    assert block, f"README.md has no ```sh block after <!-- {marker} -->"
    (line,) = block.group(1).splitlines()
    return line


def clean_clone(dest: Path) -> Path:
    """A git clone of this checkout, with its uncommitted changes (tracked and new files) applied."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the clean-clone test needs one")
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(dest)], check=True)
    diff = subprocess.run(["git", "-C", str(ROOT), "diff", "HEAD", "--binary"], check=True, capture_output=True).stdout
    if diff:
        subprocess.run(["git", "-C", str(dest), "apply", "--binary", "-"], input=diff, check=True)
    new = subprocess.run(["git", "-C", str(ROOT), "ls-files", "--others", "--exclude-standard", "-z"], check=True, capture_output=True).stdout
    for name in filter(None, new.decode().split("\0")):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)
    return dest


def debian_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
    return {**env, "PATH": DEBIAN_PATH, **extra}


def test_the_readme_commands_go_through_setup() -> None:
    assert readme_command("main-command").startswith("./setup && ")
    assert readme_command("test-command").startswith("./setup --test && ")


@pytest.mark.skipif(not os.access("/usr/bin/python3", os.X_OK), reason="no /usr/bin/python3: not a Debian/Ubuntu system")
def test_the_readme_main_command_audits_this_machine_from_a_clean_clone_with_debians_python(tmp_path: Path) -> None:
    clone = clean_clone(tmp_path / "auditor")
    command = readme_command("main-command")
    done = subprocess.run(["/bin/bash", "-euo", "pipefail", "-c", command], cwd=clone, env=debian_env(),
                          capture_output=True, text=True, timeout=900)
    output = done.stdout + done.stderr

    # Installed into a venv of Debian's own python3, not pyenv's, not the system's site-packages.
    assert (clone / ".venv" / "pyvenv.cfg").exists(), output
    cfg = (clone / ".venv" / "pyvenv.cfg").read_text()
    assert "home = /usr/bin\n" in cfg and "include-system-site-packages = false" in cfg, cfg
    # A report of this machine: the exit code is the verdict of its findings (0 compliant, 1 violations,
    # 3 something could not be verified, e.g. a path of the bundled inventory missing here), never 2 or 70.
    report = re.search(r"^report: (reports/\d{8}T\d{6}Z)/report\.html$", done.stdout, re.M)
    assert report, output
    folder = clone / report.group(1)
    doc = json.loads((folder / "run.json").read_text())
    assert doc["complete"] and doc["inventory"]["name"] == "localhost" and doc["policy"]["id"] == "baseline-eu"
    assert len(doc["findings"]) > 10
    code, why = exit_code(doc, "low")
    assert done.returncode == code and code in (0, 1, 3), output
    assert f"exit {code}: {why}" in done.stdout
    # The installed package (not the checkout) renders and verifies its own report: templates and policies shipped.
    verify = subprocess.run([str(clone / ".venv" / "bin" / "auditor"), "verify", str(folder)], cwd=tmp_path, env=debian_env(),
                            capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0 and "intact" in verify.stdout, verify.stdout + verify.stderr

    # `./setup --link DIR` (default /usr/local/bin) gives sudo and cron a stable path: run it as cron would,
    # from elsewhere with cron's PATH and nothing else in the environment.
    links = tmp_path / "bin"
    links.mkdir()
    linked = subprocess.run(["./setup", "--link", str(links)], cwd=clone, env=debian_env(), capture_output=True, text=True, timeout=600)
    assert linked.returncode == 0, linked.stderr
    assert os.readlink(links / "auditor") == str(clone / ".venv" / "bin" / "auditor")
    cron = subprocess.run([str(links / "auditor"), "validate"], cwd="/", env={"PATH": DEBIAN_PATH, "HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=120)
    assert cron.returncode == 0 and "localhost.yaml: valid" in cron.stdout, cron.stdout + cron.stderr


FAKE_PYTHON = """#!/bin/sh
# Debian's python3 before python3-venv is installed: `-m venv` fails as Debian's does (ensurepip missing).
if [ "$1" = -m ] && [ "$2" = venv ] && [ ! -e "{mark}" ]; then
    mkdir -p "$3"; echo "The virtual environment was not created successfully because ensurepip is not available." >&2; exit 1
fi
exec /usr/bin/python3 "$@"
"""
FAKE_APT = """#!/bin/sh
echo "$@" >> "{log}"
case "$*" in *"install -y -q python3-venv") touch "{mark}" ;; esac
"""


@pytest.mark.skipif(os.geteuid() != 0 or not os.access("/usr/bin/python3", os.X_OK), reason="needs root and /usr/bin/python3")
def test_setup_installs_python3_venv_with_apt_get_when_debians_python_cannot_make_a_venv(tmp_path: Path) -> None:
    """Only apt-get is stood in for (python3-venv cannot be uninstalled from a shared machine); the venv is real."""
    clone = clean_clone(tmp_path / "auditor")
    bin_dir, mark, log = tmp_path / "bin", tmp_path / "venv-installed", tmp_path / "apt.log"
    bin_dir.mkdir()
    for name, text in (("python3", FAKE_PYTHON), ("apt-get", FAKE_APT)):
        (bin_dir / name).write_text(text.format(mark=mark, log=log))
        (bin_dir / name).chmod(0o755)
    # pip offline and without this machine's configuration: it fails fast after the venv, which is all this test needs.
    env = debian_env(PATH=f"{bin_dir}:{DEBIAN_PATH}", PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1")
    env.pop("PIP_FIND_LINKS", None)
    done = subprocess.run(["./setup"], cwd=clone, env=env, capture_output=True, text=True, timeout=300)
    assert "installing python3-venv with apt-get" in done.stderr, done.stderr
    assert log.read_text().splitlines() == ["install -y -q python3-venv"]
    assert (clone / ".venv" / "bin" / "python").exists() and "home = /usr/bin" in (clone / ".venv" / "pyvenv.cfg").read_text()
    assert f"created {clone}/.venv with {bin_dir}/python3" in done.stderr, done.stderr
