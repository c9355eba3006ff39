"""run.json in every run folder, `gentoolkit runs`, unique default folders, and NaN-free JSON."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime

import pytest

from gentoolkit import GentoolkitError, RunResult, Task, hookimpl
from gentoolkit.api import Toolkit
from gentoolkit.runlog import find_runs, write_metrics
from gentoolkit.runtime import Runtime, RuntimeOptions


class Fit:
    @hookimpl
    def register_tasks(self, register):
        def fit(runtime, config):
            if config["fail"]:
                raise GentoolkitError("dataset [train] has no rows")
            return RunResult("fit", runtime.out_dir, metrics={"nll": config["nll"], "steps": 4})

        register(Task("fit", fit, {"fail": False, "nll": 1.25}))
        register(Task("other", fit, {"fail": False, "nll": 0.5}))


def options(out, **kw) -> RuntimeOptions:
    return RuntimeOptions(device="cpu", out=out, progress=False, **kw)


def test_run_json_records_a_finished_run(tmp_path, monkeypatch):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q",
                    "--allow-empty", "-m", "x"], check=True)
    monkeypatch.chdir(tmp_path)
    Toolkit(plugins=[Fit()], entrypoints=False).run("fit", options=options(tmp_path / "run", seed=7))
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert record["task"] == "fit" and record["status"] == "finished" and record["error"] is None
    assert record["seed"] == 7 and record["device"] == "cpu" and record["metrics"] == {"nll": 1.25, "steps": 4}
    assert record["git_commit"].startswith(head)
    assert record["versions"]["gentoolkit"] and "Fit" in record["versions"]["plugins"]
    assert record["started"] <= record["ended"] and record["duration_s"] >= 0


def test_a_failed_run_says_why_and_the_next_attempt_is_counted(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not a git repository
    kit = Toolkit(plugins=[Fit()], entrypoints=False)
    with pytest.raises(GentoolkitError):
        kit.run("fit", overrides={"fail": True}, options=options(tmp_path / "run"))
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["status"] == "failed" and record["error"] == "dataset [train] has no rows"
    assert record["git_commit"] is None and record["ended"]
    kit.run("fit", options=options(tmp_path / "run"))
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["status"] == "finished" and record["attempt"] == 2 and record["error"] is None


def test_two_runs_never_share_a_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    class Frozen(datetime):  # every run starts in the same second
        @classmethod
        def now(cls, tz=None):
            return datetime(2026, 1, 2, 3, 4, 5)

    monkeypatch.setattr("gentoolkit.runtime.datetime", Frozen)
    folders = [Runtime(RuntimeOptions(), task="fit").out_dir for _ in range(3)]
    assert [f.name for f in folders] == ["20260102-030405", "20260102-030405-2", "20260102-030405-3"]

    kit = Toolkit(plugins=[Fit()], entrypoints=False)
    kit.run("fit", options=options(tmp_path / "shared"))
    with pytest.raises(GentoolkitError, match="holds a run of task 'fit', not 'other'"):
        kit.run("other", options=options(tmp_path / "shared"))
    record = json.loads((tmp_path / "shared" / "run.json").read_text())
    record.update(status="running", pid=os.getppid())  # a live process still writing there
    (tmp_path / "shared" / "run.json").write_text(json.dumps(record))
    with pytest.raises(GentoolkitError, match="is in use by a run still going"):
        kit.run("fit", options=options(tmp_path / "shared"))


def test_runs_lists_recent_runs_with_status_and_headline(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, _ = cli("run", "fit", plugins=(Fit(),))
    assert code == 0
    assert cli("run", "fit", "--set", "fail=true", plugins=(Fit(),))[0] == 2
    code, out, _ = cli("runs", "--json", plugins=(Fit(),))
    runs = json.loads(out)
    assert code == 0 and [r["status"] for r in runs] == ["failed", "finished"]  # newest first
    assert runs[1]["metrics"]["nll"] == 1.25 and runs[0]["error"] == "dataset [train] has no rows"
    code, out, _ = cli("runs", "-n", "5", plugins=(Fit(),))
    assert code == 0 and "nll=1.25" in out and "failed: dataset [train] has no rows" in out
    cli("run", "other", plugins=(Fit(),))
    assert [r["task"] for r in json.loads(cli("runs", "--json", "-n", "2", plugins=(Fit(),))[1])] == ["other", "fit"]
    assert {r["task"] for r in json.loads(cli("runs", "--json", "--task", "fit", plugins=(Fit(),))[1])} == {"fit"}
    dead = json.loads((tmp_path / runs[1]["folder"] / "run.json").read_text())
    dead.update(status="running", pid=2**22 + 12345)  # killed with SIGKILL: nobody recorded its end
    (tmp_path / runs[1]["folder"] / "run.json").write_text(json.dumps(dead))
    assert [r["status"] for r in find_runs(tmp_path / "runs")] == ["finished", "failed", "died"]


def test_metrics_json_holds_null_and_says_why_instead_of_nan(tmp_path):
    path = write_metrics(tmp_path / "metrics.json", {"nll": float("nan"), "top": float("inf"), "n": 3,
                                                      "losses": {"g": [1.0, float("nan")]}},
                         reasons={"nll": "no validation split"})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"nll": None, "top": None, "n": 3, "losses": {"g": [1.0, None]},
                                "null": {"nll": "no validation split", "top": "not finite (inf)"}}


def test_the_headline_is_the_metric_the_task_names_else_the_first():
    from gentoolkit.runlog import headline

    metrics = {"validity": 0.9, "s1/top10_mean": 0.5, "s2/top10_mean": 0.75, "steps": 3}
    assert headline({"headline": "top10_mean", "metrics": metrics}) == "s2/top10_mean=0.75"  # the last stage's
    assert headline({"headline": "fid", "metrics": metrics}) == "validity=0.9"
    assert headline({"metrics": {"model": {"a": 1}, "steps": 3}}) == "steps=3"
    assert headline({"metrics": {}}) == ""
