#!/usr/bin/env python3
"""Set up gentoolkit on a fresh machine, then run a job or the tests. Needs only Python >= 3.11.

    python3 dev.py run molecules     # creates .venv, installs everything, runs `gentoolkit run molecules`
    python3 dev.py test              # creates .venv, installs everything, runs the test suite

Everything after the first word goes to `gentoolkit` (`run ...`, `plugins`, ...) or to pytest
(`test -k config`). Installing is skipped when nothing it depends on has changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PLUGINS = sorted(p for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").is_file())
STAMP = VENV / ".gentoolkit-installed"


def requirements_digest() -> str:
    """A hash of every file that decides what gets installed."""
    digest = hashlib.sha256()
    for path in [ROOT / "pyproject.toml", ROOT / "tests" / "sample_plugin" / "pyproject.toml",
                 *(p / "pyproject.toml" for p in PLUGINS)]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_environment() -> None:
    """Create .venv and install the core (with MLflow), every built-in plugin and the test tools (once)."""
    if sys.version_info < (3, 11):
        sys.exit(f"gentoolkit needs Python >= 3.11; this is {sys.version.split()[0]}.")
    if not (BIN / "python").exists():
        print(f"Creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = requirements_digest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    print("Installing gentoolkit and its built-in plugins into .venv (a few minutes the first time) ...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip", "setuptools>=68", "wheel"], check=True)
    # every extra of the core and the plugins, so CI runs the tracking, Ray and Vina tests too
    extras = {ROOT: "[mlflow,ray]", ROOT / "plugins" / "molecules": "[docking]", ROOT / "plugins" / "anomaly": "[pyod]",
              ROOT / "plugins" / "augmentation": "[molecules,text]"}
    editable = [arg for path in (ROOT, *PLUGINS) for arg in ("-e", f"{path}{extras.get(path, '')}")]
    subprocess.run([*pip, *editable, "pytest>=8"], check=True)
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    ensure_environment()
    if argv[0] == "test":
        command = [str(BIN / "python"), "-m", "pytest", *argv[1:]]
    elif argv[0] == "setup":
        return 0
    else:
        command = [str(BIN / "gentoolkit"), *argv]
    return subprocess.run(command, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
