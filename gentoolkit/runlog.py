"""``run.json``: what every run folder says about the run that made it.

Written when a run starts (status ``running``) and rewritten when it ends (``finished``,
``failed`` with the error, or ``interrupted`` with the checkpoint kept), with the seed, device,
versions and git commit, so a folder explains itself. ``gentoolkit runs`` lists these files.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from gentoolkit.errors import GentoolkitError

if TYPE_CHECKING:
    from gentoolkit.plugins import PluginInfo
    from gentoolkit.runtime import Runtime

__all__ = ["RunLog", "recorded", "find_runs", "headline", "read", "write_metrics", "write_json", "finite", "FILE"]

FILE = "run.json"


class RunLog:
    """The ``run.json`` of one run; :meth:`end` records how it ended."""

    def __init__(self, runtime: Runtime, task: str, plugins: Mapping[str, PluginInfo] | None = None,
                 headline: str = ""):
        self.runtime, self.path = runtime, runtime.out_dir / FILE
        previous = read(self.path)
        _refuse_sharing(previous, task, runtime.out_dir)
        options = runtime.options
        self.record: dict[str, Any] = {
            "task": task, "status": "running", "error": None,
            "started": _now(), "ended": None, "duration_s": None,
            "attempt": previous.get("attempt", 1) + 1 if previous else 1,
            "seed": options.seed, "device": str(runtime.device), "precision": options.precision,
            "world_size": runtime.world_size, "command": sys.argv if _is_cli() else None,
            "versions": versions(plugins or {}), "git_commit": git_commit(Path.cwd()),
            "pid": os.getpid(), "host": socket.gethostname(), "headline": headline, "metrics": {},
            "checkpoint": None,
        }
        self.metrics: dict[str, Any] = {}  # the run's metrics, recorded when it finishes
        self._write()

    def end(self, status: str, error: BaseException | None = None,
            metrics: Mapping[str, Any] | None = None) -> None:
        """Record ``finished``, ``failed`` (with ``error``) or ``interrupted`` (with the last checkpoint)."""
        started = datetime.fromisoformat(self.record["started"])
        self.record.update(status=status, ended=_now(),
                           duration_s=round((datetime.now(timezone.utc) - started).total_seconds(), 3),
                           metrics=finite(dict(metrics or {})))
        self.record["generated"] = [{"file": str(a.path), "kind": a.kind, "processed": a.processed}
                                    for a in self.runtime.artifacts]  # what provenance plugins did to each
        if error is not None:
            message = str(error) if isinstance(error, GentoolkitError) else f"{type(error).__name__}: {error}"
            self.record["error"] = message
        if status == "interrupted":
            checkpoint = latest_checkpoint(self.runtime.out_dir)
            self.record["checkpoint"] = str(checkpoint) if checkpoint else None
        self._write()

    def interrupted_message(self) -> str:
        """What a user reads after Ctrl-C: what was kept and how to resume."""
        out, checkpoint = self.runtime.out_dir, self.record["checkpoint"]
        if checkpoint:
            return f"Interrupted; checkpoint at {checkpoint}; resume with the same --out {out}"
        return f"Interrupted before the first checkpoint; what was written so far is in {out}"

    def _write(self) -> None:
        write_json(self.path, self.record)


@contextlib.contextmanager
def recorded(runtime: Runtime, task: str, plugins: Mapping[str, PluginInfo] | None = None,
             headline: str = "") -> Iterator[RunLog]:
    """Write ``run.json`` around a run (rank 0 only); set ``log.metrics`` before the block ends."""
    if not runtime.is_main:
        yield None  # type: ignore[misc]
        return
    log = RunLog(runtime, task, plugins, headline)
    try:
        yield log
    except KeyboardInterrupt:
        with contextlib.suppress(OSError):  # a full disk must not hide why the run stopped
            log.end("interrupted")
        runtime.log(log.interrupted_message(), style="yellow")
        raise
    except BaseException as err:
        with contextlib.suppress(OSError):
            log.end("failed", error=err)
        raise
    log.end("finished", metrics=log.metrics)


def _refuse_sharing(previous: dict[str, Any], task: str, out: Path) -> None:
    """Never let two runs write into one folder: another task's, or one still running elsewhere."""
    if not previous:
        return
    if previous.get("task") not in (None, task):
        raise GentoolkitError(f"--out {out} holds a run of task {previous['task']!r}, not {task!r}; "
                              "give this run its own folder.")
    if previous.get("status") == "running" and _alive(previous) and previous.get("pid") != os.getpid():
        raise GentoolkitError(f"--out {out} is in use by a run still going (pid {previous['pid']}, started "
                              f"{previous.get('started')}); wait for it to end or give this run its own folder.")


def _alive(record: Mapping[str, Any]) -> bool:
    """Whether the process that wrote ``record`` still runs (on another host: assume it does)."""
    if record.get("host") != socket.gethostname():
        return True
    pid = record.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _is_cli() -> bool:
    return Path(sys.argv[0]).name in ("gentoolkit", "__main__.py") if sys.argv else False


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


# --- what a record holds -----------------------------------------------------------------------

def versions(plugins: Mapping[str, PluginInfo]) -> dict[str, Any]:
    """gentoolkit's, Python's and torch's versions, and each loaded plugin's."""
    from gentoolkit import __version__

    torch = sys.modules.get("torch")
    return {"gentoolkit": __version__, "python": sys.version.split()[0],
            "torch": getattr(torch, "__version__", None),
            "plugins": {name: info.version for name, info in plugins.items() if info.status == "loaded"}}


def git_commit(folder: Path) -> str | None:
    """The commit checked out in the git repository holding ``folder`` (with ``-dirty``), or None."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=folder,
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint (``NAME.json`` beside ``NAME.safetensors``) under ``folder``."""
    found = [p for p in folder.rglob("*.json") if p.with_suffix(".safetensors").is_file()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def finite(value: Any) -> Any:
    """``value`` with every NaN and infinity, in nested dicts and lists too, replaced by None (JSON has no NaN)."""
    if isinstance(value, Mapping):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return None if isinstance(value, float) and not math.isfinite(value) else value


def write_metrics(path: str | os.PathLike, metrics: Mapping[str, Any], reasons: Mapping[str, str] = ()) -> Path:
    """Write ``metrics.json``: a value that is NaN or infinite becomes null, with why under ``"null"``.

    ``reasons`` maps a metric to why it can be missing (e.g. "no validation split"); a
    non-finite value without one is explained as "not finite (nan)".
    """
    metrics = dict(metrics)
    why = {k: dict(reasons).get(k, "no value" if v is None else f"not finite ({v})") for k, v in metrics.items()
           if v is None or isinstance(v, float) and not math.isfinite(v)}
    document = finite(metrics)
    if why:
        document["null"] = why
    return write_json(Path(path), document)


def write_json(path: Path, document: Any) -> Path:
    """Write JSON atomically (a temporary file moved into place), never with NaN."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(json.dumps(document, indent=1, allow_nan=False, default=str) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


# --- reading -----------------------------------------------------------------------------------

def read(path: Path) -> dict[str, Any]:
    """A ``run.json`` as a dict ({} when missing or unreadable)."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def find_runs(root: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The runs under ``root`` (a run folder or a tree of them), newest first, each with its ``folder``."""
    paths = [root / FILE] if (root / FILE).is_file() else [
        p for depth in ("*", "*/*", "*/*/*") for p in root.glob(f"{depth}/{FILE}")]
    runs = []
    for path in paths:
        record = read(path)
        if record:
            if record.get("status") == "running" and not _alive(record):
                record["status"] = "died"  # killed without a chance to record it (SIGKILL, power loss)
            runs.append({**record, "folder": str(path.parent)})
    runs.sort(key=lambda r: (str(r.get("started", "")), r["folder"]), reverse=True)
    return runs[:limit] if limit else runs


def headline(record: Mapping[str, Any]) -> str:
    """The run's headline metric as ``name=value``: the one its task names (the last stage's, for
    ``stage/name`` keys), else the first number."""
    numbers = {k: v for k, v in (record.get("metrics") or {}).items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    name = record.get("headline") or ""
    keys = [k for k in numbers if k == name or k.endswith(f"/{name}")] if name else []
    key = keys[-1] if keys else next(iter(numbers), None)
    if key is None:
        return ""
    return f"{key}={numbers[key]:.4g}" if isinstance(numbers[key], float) else f"{key}={numbers[key]}"
