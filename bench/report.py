"""Write one benchmark's results into its own section of docs/benchmarks.md, and cache them honestly.

Each benchmark owns the text between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``, so
several benchmarks update the same file without touching each other's results. A
:class:`ResultCache` keys finished results by a hash of the code that produced them and keeps
when each was measured, so a changed plugin never republishes old numbers under a new date.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib.util
import json
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = "# Benchmarks\n\nEach section is rewritten by the command it names. Machine and date are recorded per run.\n"


def machine() -> str:
    """One line naming the machine: CPU model, cores, and the GPU if torch sees one."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = ""
    try:
        import torch

        if torch.cuda.is_available():
            gpu = f", GPU {torch.cuda.get_device_name()}"
        threads = torch.get_num_threads()
    except ImportError:
        threads = "?"
    return f"{cpu}, {os.cpu_count()} cores ({threads} torch threads){gpu}, Python {platform.python_version()}"


def commit() -> str:
    """The repository's short commit, with ``+changes`` when the working tree differs from it."""
    root = DOC.parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":!docs/benchmarks.md"], cwd=root,  # the file the benches write
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown commit"
    return f"commit {head}" + ("+changes" if dirty else "")


STARTED_AT = commit()  # taken when the bench starts, so later edits do not change what it reports


def code_digest(*sources: str | Path) -> str:
    """sha256 over the .py and .toml files of ``sources``: package names (``gentoolkit_molecules``,
    hashed where they are imported from), folders or files."""
    digest = hashlib.sha256()
    for source in sources:
        spec = importlib.util.find_spec(source) if isinstance(source, str) and source.isidentifier() else None
        root = Path(spec.submodule_search_locations[0] if spec and spec.submodule_search_locations else source)
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in files:
            if path.suffix in (".py", ".toml") and "__pycache__" not in path.parts:
                digest.update(f"{path.relative_to(root.parent)}\0".encode() + path.read_bytes())
    return digest.hexdigest()


class ResultCache:
    """Finished results as ``FOLDER/<code hash>/KEY.json``, each with the time it was measured.

    ``code`` is a :func:`code_digest` of everything that produced the results: a change to any of
    those files starts an empty cache. ``get`` returns the entry with ``"cached": True``.
    """

    def __init__(self, folder: str | Path, code: str):
        self.code = code
        self.folder = Path(folder) / code[:16]
        self.folder.mkdir(parents=True, exist_ok=True)

    def get(self, key: str) -> dict[str, Any] | None:
        path = self.folder / f"{key}.json"
        if not path.exists():
            return None
        entry = json.loads(path.read_text())
        return {**entry, "cached": True} if entry.get("code") == self.code else None

    def put(self, key: str, result: dict[str, Any]) -> dict[str, Any]:
        entry = {"result": result, "code": self.code,
                 "measured_at": datetime.datetime.now().isoformat(timespec="minutes"), "cached": False}
        (self.folder / f"{key}.json").write_text(json.dumps(entry))
        return entry


def provenance(entries: list[dict[str, Any]]) -> str:
    """``fresh``, or ``cache, measured <first>–<last>``, for the entries behind one table row."""
    cached = sorted(e["measured_at"].replace("T", " ") for e in entries if e["cached"])
    if not cached:
        return "fresh"
    when = cached[0] if cached[0] == cached[-1] else f"{cached[0]} to {cached[-1]}"
    return f"cache ({len(cached)}/{len(entries)}), measured {when}"


def write_section(name: str, command: str, body: str) -> None:
    """Replace (or append) the section ``name`` of docs/benchmarks.md, stamped with date, commit and machine."""
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    section = (f"<!-- bench:{name} -->\n## {name}\n\n`{command}` — {stamp}, {STARTED_AT}, {machine()}\n\n"
               f"{body.strip()}\n<!-- /bench:{name} -->")
    DOC.parent.mkdir(exist_ok=True)
    text = DOC.read_text() if DOC.exists() else HEADER
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
    DOC.write_text(text)
