"""The ``sampling`` task's energy-based model part: train the convolutional EBM on a registry image
dataset through the core loop, sample it by Langevin dynamics, and score its samples beside
uniform noise with the image plugin's evaluators, reached through the registry."""

from __future__ import annotations

import time
from typing import Any

from gentoolkit.training import fit

EVALUATORS = ("image-fid", "image-inception-score", "image-class-coverage")


def train_and_score(runtime: Any, config: dict[str, Any]) -> tuple[dict[str, float], dict[str, Any], dict[str, Any]]:
    """Metrics (``ebm.*``), artefacts (samples grid, model) and details of one EBM run."""
    import torch

    from gentoolkit_sampling.plots import save_image_grid

    toolkit, folder = runtime.toolkit, runtime.out_dir / "ebm"
    train = toolkit.load_dataset(config["dataset"], split="train")
    params = {"image_shape": list(train.images.shape[1:]), **config["params"]}
    model = toolkit.create_model("ebm", **params)
    began, cpu = time.perf_counter(), time.process_time()
    history = fit(model, train, runtime, epochs=config["epochs"], batch_size=config["batch_size"], name="ebm/model")
    seconds = {"train_seconds": time.perf_counter() - began, "train_cpu_seconds": time.process_time() - cpu}
    n = config["num_samples"]
    samples = model.sample(n, generator=runtime.generator(1000))
    noise = torch.rand((n, *train.images.shape[1:]), generator=runtime.generator(1001))
    scores = {"samples": _scores(toolkit, samples), "uniform_noise": _scores(toolkit, noise)}
    metrics = {f"ebm.{k}": v for k, v in scores["samples"].items()}
    metrics.update({f"ebm.noise_{k}": v for k, v in scores["uniform_noise"].items()})
    artifacts = {}
    if runtime.is_main:
        rows = {"digits (training data)": train.images, "EBM samples (Langevin from noise)": samples,
                "uniform noise (baseline)": noise}
        artifacts["ebm.samples"] = save_image_grid(rows, folder / "samples.png")
    table = ", ".join(f"{k} {scores['samples'][k]:.2f} (noise {scores['uniform_noise'][k]:.2f})"
                      for k in scores["samples"])
    runtime.log(f"EBM on {config['dataset']} after {config['epochs']} epochs: {table or 'no image evaluators'}")
    return metrics, artifacts, {"history": history, "scores": scores, "params": params, **seconds}


def _scores(toolkit: Any, images: Any) -> dict[str, float]:
    """FID, inception score and class coverage on the image plugin's features, where it is installed."""
    available = set(toolkit.evaluators.names())
    result: dict[str, float] = {}
    for name in EVALUATORS:
        if name in available:
            result.update({k: float(v) for k, v in toolkit.evaluate(name, images).items() if isinstance(v, float)})
    return result
