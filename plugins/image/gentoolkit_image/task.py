"""The ``image`` task: train a model family on an image dataset, sample it and measure it.

Modes: ``train`` (fit and checkpoint, with samples and a learning curve), ``generate`` (samples
from a checkpoint), ``evaluate`` (metrics of a checkpoint's samples) and ``full`` (train, then
evaluate). ``model = "cyclegan"`` trains unpaired translation between the dataset and a
transformed copy of it and draws a translation grid instead of samples.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    "mode": "full",  # train | generate | evaluate | full
    "model": "vae",  # a family of MODEL_FAMILIES
    "conditional": False,  # class-conditional model, when the dataset has labels
    "params": {},  # the family's hyperparameters (any keys it takes)
    "checkpoint": "",  # for generate / evaluate: the model checkpoint to read
    "data": {"name": "digits", "path": "", "size": 0, "channels": 0},  # size 0: native (digits 8x8)
    "train": {"epochs": 120, "batch_size": 64, "checkpoint_every": 10, "resume": True},
    "sample": {"n": 100, "options": {}},  # options go to model.sample (e.g. sampler = "ddim", steps = 50)
    "evaluate": {"n_samples": 1000, "features": "auto", "kid_subsets": 100},
    "translate": {"domain_b": "invert"},  # cyclegan: domain B is the dataset inverted or rotated
}
MODES = ("train", "generate", "evaluate", "full")
LEVELS_FAMILIES = ("realnvp", "glow", "pixelcnn")  # likelihood over discrete grey levels: given the dataset's
CHECKPOINT = "model"


def load_splits(data: dict[str, Any]) -> tuple[Any, Any]:
    """The (train, test) splits of the configured dataset."""
    from gentoolkit_image.data import load_dataset

    params = {"size": data["size"] or None, **({"channels": data["channels"]} if data["name"] == "folder" else {})}
    return (load_dataset(data["name"], data["path"], split="train", **params),
            load_dataset(data["name"], data["path"], split="test", **params))


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value, indent=1) + "\n")
    return path


def draw_samples(runtime: Any, model: Any, config: dict[str, Any]) -> tuple[Any, dict[str, Path]]:
    """The sample grid (class-ordered for a conditional model) and the samples as safetensors."""
    import torch
    from safetensors.torch import save_file

    from gentoolkit_image.grids import save_grid
    from gentoolkit_image.training import generate

    n = config["sample"]["n"]
    y = torch.arange(n) % model.num_classes if model.num_classes else None
    samples = generate(model, n, y=y, generator=runtime.generator(1), **config["sample"]["options"])
    artifacts = {}
    if runtime.is_main:
        nrow = model.num_classes or None
        artifacts["samples.png"] = save_grid(samples, runtime.out_dir / "samples.png", nrow=nrow)
        save_file({"samples": samples.contiguous()}, str(runtime.out_dir / "samples.safetensors"))
        artifacts["samples.safetensors"] = runtime.out_dir / "samples.safetensors"
    return samples, artifacts


def measure(runtime: Any, model: Any, train: Any, test: Any, config: dict[str, Any]) -> dict[str, Any]:
    """Every metric of ``model`` against the test split, on the configured features."""
    import torch

    from gentoolkit_image.metrics import evaluate_images, feature_network
    from gentoolkit_image.training import generate

    cfg = config["evaluate"]
    network = feature_network(cfg["features"], config["data"]["name"], train, log=runtime.log)
    n = cfg["n_samples"]
    y = torch.arange(n) % model.num_classes if model.num_classes else None  # balanced classes
    samples = generate(model, n, y=y, generator=runtime.generator(2), **config["sample"]["options"])
    return evaluate_images(samples, test.images, train.images, network, model=model,
                           kid_subsets=cfg["kid_subsets"], seed=runtime.options.seed)


def fit(runtime: Any, config: dict[str, Any], train: Any) -> tuple[Any, list[dict[str, Any]]]:
    from gentoolkit_image.models import create_model
    from gentoolkit_image.training import train as train_loop

    if config["conditional"] and not train.num_classes:
        from gentoolkit.errors import ConfigError

        raise ConfigError(f"conditional = true needs labels, and dataset {train.name!r} has none.")
    num_classes = train.num_classes if config["conditional"] else 0
    params = dict(config["params"])
    if config["model"] in LEVELS_FAMILIES:
        params.setdefault("levels", train.levels)  # 17 for digits, 256 for 8-bit images
    model = create_model(config["model"], train.image_shape, num_classes, **params)
    t = config["train"]
    history = train_loop(model, train, runtime, t["epochs"], t["batch_size"], name=CHECKPOINT,
                         checkpoint_every=t["checkpoint_every"], resume_run=t["resume"],
                         metadata={"dataset": config["data"]})
    return model, history


def checkpoint_model(runtime: Any, config: dict[str, Any], image_shape: tuple | None = None) -> Any:
    from gentoolkit.errors import ConfigError

    from gentoolkit_image.models import load_model

    if not config["checkpoint"]:
        raise ConfigError(f"mode = {config['mode']!r} reads a model: set checkpoint to a model checkpoint "
                          "(e.g. runs/image/<run>/model.json).")
    return load_model(config["checkpoint"], image_shape=image_shape, device=str(runtime.device))


def run(runtime: Any, config: dict[str, Any]) -> Any:
    from gentoolkit.contributions import RunResult
    from gentoolkit.errors import ConfigError, UnknownNameError

    from gentoolkit_image.grids import save_learning_curve
    from gentoolkit_image.models import MODEL_FAMILIES

    mode = config["mode"]
    if mode not in MODES:
        raise ConfigError(f"image mode {mode!r} is not one of {', '.join(MODES)}.")
    if config["model"] not in MODEL_FAMILIES:
        raise UnknownNameError("image model", config["model"], MODEL_FAMILIES)
    if config["model"] == "cyclegan":
        from gentoolkit_image.translation import run_translation

        return run_translation(runtime, config)
    out, artifacts, metrics = runtime.out_dir, {}, {}
    if mode == "generate":
        model = checkpoint_model(runtime, config)
        samples, artifacts = draw_samples(runtime, model, config)
        return RunResult("image", out, {"num_samples": float(len(samples))}, artifacts, {"samples": samples})
    train, test = load_splits(config["data"])
    if mode == "evaluate":
        model, history = checkpoint_model(runtime, config, train.image_shape), []
    else:
        model, history = fit(runtime, config, train)
        if runtime.is_main:
            artifacts["learning_curve.png"] = save_learning_curve(history, out / "learning_curve.png",
                                                                  f"{model.family} on {train.name}")
            artifacts["checkpoint"] = out / f"{CHECKPOINT}.json"
    samples, sample_files = draw_samples(runtime, model, config)
    artifacts.update(sample_files)
    if mode in ("evaluate", "full"):
        metrics = measure(runtime, model, train, test, config)
        if history:
            metrics["seconds_per_epoch"] = sum(r["seconds"] for r in history) / len(history)
            metrics["final_losses"] = {k: v for k, v in history[-1].items() if k not in ("epoch", "seconds")}
        metrics["model"] = model.config()
        if runtime.is_main:
            artifacts["metrics.json"] = write_json(out / "metrics.json", metrics)
    numbers = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return RunResult("image", out, numbers, artifacts, {"model": model, "samples": samples, "history": history,
                                                         "metrics": metrics})
