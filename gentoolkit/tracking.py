"""Experiment tracking: scalars, params and artefacts to TensorBoard and, when asked, MLflow.

Every task's config gets the ``[tracking]`` table below (``Toolkit.run`` adds it); the runtime
owns one :class:`Tracker` and exposes it as ``runtime.track(...)``. TensorBoard event files go
to the run folder; MLflow takes a tracking server URI or a local folder (kept as an SQLite
database plus an ``artifacts/`` folder, MLflow's recommended local store). Both libraries are
imported on first use, so ``gentoolkit --help`` never loads them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import urlparse

from gentoolkit.errors import GentoolkitError

if TYPE_CHECKING:
    from gentoolkit.contributions import RunResult
    from gentoolkit.runtime import Runtime

DEFAULTS: dict[str, Any] = {
    "tensorboard": True,  # event files in the run folder: tensorboard --logdir runs/
    "mlflow_uri": "",  # "" = off; a folder (./mlruns) or a server (http://host:5000)
    "experiment": "",  # the MLflow experiment; "" = the task's name
}


def with_tracking(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A task's config schema with the core ``tracking`` table added (a task's own one wins)."""
    return {**schema, "tracking": dict(DEFAULTS)} if "tracking" not in schema else dict(schema)


def track_result(runtime: Runtime, result: RunResult) -> None:
    """Track a finished run's numeric metrics (at step 0), its config.toml and artefact files.

    Folders (saved models) and weights are left out; ``runtime.track_artifact`` uploads them.
    """
    runtime.track({k: v for k, v in result.metrics.items() if isinstance(v, (int, float))}, step=0)
    for path in [runtime.out_dir / "config.toml", *result.artifacts.values()]:
        if Path(path).is_file() and Path(path).suffix != ".safetensors":
            runtime.track_artifact(path)


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"rl": {"sigma": 128}}`` -> ``{"rl.sigma": 128}``; lists stay values."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def mlflow_store(uri: str) -> tuple[str, str | None]:
    """(tracking URI, artifact location) for ``tracking.mlflow_uri``.

    A server or database URI is used as given. A plain folder becomes ``sqlite:///FOLDER/mlflow.db``
    with artefacts in ``FOLDER/artifacts``: MLflow 3 refuses its old file store by default.
    """
    scheme = urlparse(uri).scheme
    if (scheme and len(scheme) > 1) or uri == "databricks":  # len 1: a Windows drive letter
        return uri, None
    folder = Path(uri).expanduser().absolute()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}", (folder / "artifacts").as_uri()


class Tracker:
    """Writes to the enabled backends; a disabled one (or rank != 0) costs nothing."""

    def __init__(self, out_dir: Path, settings: Mapping[str, Any] | None = None, task: str = "run",
                 enabled: bool = True):
        unknown = set(settings or {}) - set(DEFAULTS)
        if unknown:
            raise GentoolkitError(f"Unknown tracking setting(s) {sorted(unknown)}; valid: {', '.join(DEFAULTS)}.")
        self.settings = {**DEFAULTS, **(settings or {})}
        self.out_dir, self.task, self.enabled = Path(out_dir), task, enabled
        self._writer: Any = None
        self._mlflow: Any = None  # (client, run_id)
        self._config_text = ""

    @property
    def tensorboard(self) -> Any:
        """The SummaryWriter (made on first use) or None when TensorBoard is off."""
        if self._writer is None and self.enabled and self.settings["tensorboard"]:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as err:
                raise GentoolkitError("tracking.tensorboard = true needs the tensorboard package: "
                                      "pip install tensorboard, or set tracking.tensorboard=false.") from err
            self._writer = SummaryWriter(log_dir=str(self.out_dir))
            if self._config_text:
                self._writer.add_text("config", self._config_text)
        return self._writer

    @property
    def mlflow(self) -> Any:
        """(MlflowClient, run id), the run made on first use, or None when MLflow is off."""
        if self._mlflow is None and self.enabled and self.settings["mlflow_uri"]:
            try:
                from mlflow import MlflowClient
            except ImportError as err:
                raise GentoolkitError("tracking.mlflow_uri is set but MLflow is not installed: "
                                      "pip install 'gentoolkit[mlflow]', or leave tracking.mlflow_uri empty.") from err
            try:
                uri, artifacts = mlflow_store(self.settings["mlflow_uri"])
                client = MlflowClient(tracking_uri=uri)
                name = self.settings["experiment"] or self.task
                experiment = client.get_experiment_by_name(name)
                experiment_id = experiment.experiment_id if experiment else client.create_experiment(
                    name, artifact_location=artifacts)
                run = client.create_run(experiment_id, run_name=self.out_dir.name,
                                        tags={"gentoolkit.task": self.task, "gentoolkit.out_dir": str(self.out_dir)})
            except Exception as err:  # MLflow raises many kinds: bad URI, server down, read-only folder
                raise GentoolkitError(f"tracking.mlflow_uri = {self.settings['mlflow_uri']!r}: could not start an "
                                      f"MLflow run ({type(err).__name__}: {err}). Give a writable folder or a "
                                      "reachable tracking server, or leave tracking.mlflow_uri empty.") from err
            self._mlflow = (client, run.info.run_id)
        return self._mlflow

    def scalars(self, values: Mapping[str, float], step: int) -> None:
        if not self.enabled:
            return
        values = {k: float(v) for k, v in values.items()}
        if self.tensorboard is not None:
            for tag, value in values.items():
                self.tensorboard.add_scalar(tag, value, step)
        if self.mlflow is not None:
            from mlflow.entities import Metric

            client, run_id = self.mlflow
            now = int(time.time() * 1000)
            client.log_batch(run_id, metrics=[Metric(k, v, now, step) for k, v in values.items()])

    def params(self, config: Mapping[str, Any]) -> None:
        if not self.enabled:
            return
        flat = flatten(config)
        # TensorBoard gets the config with the first scalar: a run failing before any leaves no event file.
        self._config_text = "| key | value |\n|---|---|\n" + "\n".join(f"| {k} | {v!r} |" for k, v in flat.items())
        if self.mlflow is not None:
            from mlflow.entities import Param

            client, run_id = self.mlflow
            params = [Param(k, str(v)[:6000]) for k, v in flat.items()]
            for i in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
                client.log_batch(run_id, params=params[i:i + 100])

    def artifact(self, path: str | Path) -> None:
        """Upload a file or folder to the MLflow run (TensorBoard has no artefacts)."""
        if self.enabled and self.mlflow is not None and Path(path).exists():
            client, run_id = self.mlflow
            if Path(path).is_dir():
                client.log_artifacts(run_id, str(path), artifact_path=Path(path).name)
            else:
                client.log_artifact(run_id, str(path))

    def close(self, status: str = "FINISHED") -> None:
        """Flush and close the writers; ``status`` (FINISHED, FAILED, KILLED) ends the MLflow run."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._mlflow is not None:
            client, run_id = self._mlflow
            client.set_terminated(run_id, status=status)
            self._mlflow = None
