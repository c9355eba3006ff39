"""Experiment tracking: TensorBoard event files by default, MLflow when ``tracking.mlflow_uri`` is set."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gentoolkit import Toolkit
from gentoolkit.errors import ConfigError, GentoolkitError
from gentoolkit.runtime import Runtime, RuntimeOptions
from gentoolkit.tracking import flatten, mlflow_store

sys.path.insert(0, str(Path(__file__).parents[1] / "sample_plugin"))
import gentoolkit_sample  # noqa: E402


def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag in the TensorBoard event files of ``folder``: tag -> [(step, value)]."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder)).Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def options(out: Path) -> RuntimeOptions:
    return RuntimeOptions(device="cpu", out=out, progress=False, threads=1)


@pytest.fixture(scope="module")
def kit() -> Toolkit:
    return Toolkit(plugins=[gentoolkit_sample], entrypoints=False)


def test_runtime_track_writes_tensorboard_events_in_the_run_folder(tmp_path):
    with Runtime(options(tmp_path)) as runtime:
        for step in range(1, 4):
            runtime.track({"train/loss": 1.0 / step, "train/lr": 0.1}, step)
    assert list(tmp_path.glob("events.out.tfevents.*"))
    logged = scalars(tmp_path)
    assert [s for s, _ in logged["train/loss"]] == [1, 2, 3]
    assert [v for _, v in logged["train/loss"]] == pytest.approx([1.0, 0.5, 1 / 3])


def test_tensorboard_can_be_switched_off(kit, tmp_path):
    kit.run("sample-fit", overrides={"steps": 2, "tracking.tensorboard": False}, options=options(tmp_path))
    assert not list(tmp_path.glob("events.out.tfevents.*"))


def test_every_task_takes_a_validated_tracking_table(kit, tmp_path):
    assert kit.config("sample-fit")["tracking"] == {"tensorboard": True, "mlflow_uri": "", "experiment": ""}
    with pytest.raises(ConfigError, match="Did you mean 'mlflow_uri'"):
        kit.run("sample-fit", overrides={"tracking.mlflow_url": "x"}, options=options(tmp_path))
    kit.run("sample-fit", overrides={"steps": 5}, options=options(tmp_path))
    assert scalars(tmp_path)["nll"][0][0] == 0  # the task's final metrics, at step 0


def test_mlflow_run_holds_params_metrics_and_artifacts(kit, tmp_path):
    from mlflow import MlflowClient

    store = tmp_path / "mlruns"
    result = kit.run("sample-fit", overrides={"steps": 5, "tracking.mlflow_uri": str(store),
                                              "tracking.experiment": "gaussians"}, options=options(tmp_path / "run"))
    client = MlflowClient(tracking_uri=mlflow_store(str(store))[0])
    experiment = client.get_experiment_by_name("gaussians")
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    assert run.data.params["steps"] == "5" and run.data.params["tracking.experiment"] == "gaussians"
    assert run.data.metrics["nll"] == pytest.approx(result.metrics["nll"])
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["config.toml"]
    assert (store / "mlflow.db").exists()


def test_a_failed_run_ends_its_mlflow_run_as_failed(kit, tmp_path):
    from mlflow import MlflowClient

    store = tmp_path / "mlruns"
    with pytest.raises(RuntimeError):  # torch refuses a negative-size tensor mid-run
        kit.run("sample-fit", overrides={"dim": -1, "tracking.mlflow_uri": str(store)},
                options=options(tmp_path / "run"))
    client = MlflowClient(tracking_uri=mlflow_store(str(store))[0])
    [run] = client.search_runs([client.get_experiment_by_name("sample-fit").experiment_id])
    assert run.info.status == "FAILED" and run.data.params["dim"] == "-1"


def test_flatten_and_store_uris(tmp_path):
    assert flatten({"rl": {"sigma": 128, "k": [1]}, "x": 1, "empty": {}}) == {
        "rl.sigma": 128, "rl.k": [1], "x": 1, "empty": {}}
    assert mlflow_store("http://host:5000") == ("http://host:5000", None)
    uri, artifacts = mlflow_store(str(tmp_path / "mlruns"))
    assert uri == f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    assert artifacts == (tmp_path / "mlruns" / "artifacts").as_uri()


def test_params_reach_tensorboard_with_the_first_scalar_only(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with Runtime(options(tmp_path / "a")) as runtime:
        runtime.track_params({"model": {"width": 8}})
    assert not list((tmp_path / "a").glob("events.*"))  # a run that failed before its first step
    with Runtime(options(tmp_path / "b")) as runtime:
        runtime.track_params({"model": {"width": 8}})
        runtime.track({"loss": 1.0}, 1)
    events = EventAccumulator(str(tmp_path / "b"), size_guidance={"tensors": 0}).Reload()
    text = events.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "| model.width | 8 |" in text


def test_an_unusable_mlflow_uri_is_a_clear_error_before_the_task_runs(kit, tmp_path):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(GentoolkitError, match="tracking.mlflow_uri = .*a-file/mlruns.*leave tracking.mlflow_uri empty"):
        kit.run("sample-fit", overrides={"tracking.mlflow_uri": str(tmp_path / "a-file" / "mlruns")},
                options=options(tmp_path / "run"))
    assert not list((tmp_path / "run").glob("events.*"))
