"""The ``image`` task: train any registered image model on any registered image dataset, sample
it and measure it.

Models and datasets come from the toolkit's registry, so a family or dataset that a third-party
plugin registers (``items="image"``) is trained and measured exactly like the built-in ones.
Modes: ``train`` (fit and checkpoint, with samples and a learning curve), ``generate`` (samples
from a saved model), ``evaluate`` (metrics of a saved model's samples) and ``full`` (train, then
evaluate). ``model = "image-cyclegan"`` trains unpaired translation between the dataset and a
transformed copy of it and draws a translation grid instead of samples.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gentoolkit import ConfigError, Density, RunResult, Sampler

DEFAULTS: dict[str, Any] = {
    "mode": "full",  # train | generate | evaluate | full
    "model": "image-vae",  # any registered model with items "image" and the "train" capability
    "conditional": False,  # class-conditional model, when the dataset has labels
    "params": {},  # the model's hyperparameters (checked against its schema)
    "checkpoint": "",  # for generate / evaluate: a saved model (model.json)
    "data": {"name": "digits", "path": "", "size": 0, "channels": 0,  # any registered image dataset
             "strict": False},  # strict: refuse an image folder with an unreadable or odd-sized image
    "train": {"epochs": 120, "batch_size": 64, "checkpoint_every": 10, "resume": True,
              "patience": 0, "monitor": "loss"},  # patience > 0: stop when the monitored loss stalls
    "sample": {"n": 100, "options": {}},  # options go to model.sample (e.g. sampler = "ddim", steps = 50)
    "evaluate": {"n_samples": 1000, "features": "auto", "kid_subsets": 100},
    "translate": {"domain_b": "invert"},  # cyclegan: domain B is the dataset inverted or rotated
}
# The valid range of every number above (gentoolkit.config.check_ranges).
RANGES = {
    "data": {"size": ">= 0", "channels": "[0, 3]"},
    "train": {"epochs": ">= 0", "batch_size": ">= 1", "checkpoint_every": ">= 1", "patience": ">= 0"},
    "sample": {"n": ">= 1"},
    "evaluate": {"n_samples": ">= 2", "kid_subsets": ">= 1"},
}
MODES = ("train", "generate", "evaluate", "full")
TRANSLATION_MODEL = "image-cyclegan"
CHECKPOINT = "model"


def load_splits(toolkit: Any, data: dict[str, Any]) -> tuple[Any, Any]:
    """The (train, test) splits of the configured registry dataset, as ImageDatasets."""
    entry = toolkit.datasets.entry(data["name"])
    if entry.value.items != "image":
        raise ConfigError(f"data.name = {data['name']!r} holds {entry.value.items or 'unspecified'} items, not "
                          f"images; image datasets: {', '.join(image_datasets(toolkit))}.")
    params = {k: v for k, v in (("path", data["path"]), ("size", data["size"]), ("channels", data["channels"]),
                                ("strict", data["strict"])) if v}
    return tuple(as_image_dataset(entry.value.load(split=split, **params), data["name"]) for split in ("train", "test"))


def image_datasets(toolkit: Any) -> list[str]:
    return toolkit.names_of("datasets", items="image")


def as_image_dataset(dataset: Any, name: str) -> Any:
    """A registry dataset as an ImageDataset: the plugin's own as it is, any other torch dataset of
    (image, label) items stacked, with class names from its ``item_spec``."""
    import torch

    from gentoolkit_image.data import ImageDataset

    if isinstance(dataset, ImageDataset):
        return dataset
    items = [dataset[i] for i in range(len(dataset))]
    if not items:
        raise ConfigError(f"Image dataset {name!r} is empty.")
    images = torch.stack([torch.as_tensor(x).float() for x, _ in items])
    labels = torch.as_tensor([int(y) for _, y in items])
    spec = getattr(dataset, "item_spec", None)
    classes = list(spec.classes) if spec is not None else []
    return ImageDataset(images, labels if classes else None, classes, getattr(dataset, "levels", 256), name)


def write_json(path: Path, value: dict[str, Any]) -> Path:
    """metrics.json: a NaN or infinite metric is written as null, with the reason under "null"."""
    from gentoolkit.runlog import write_metrics

    return write_metrics(path, value)


def draw_samples(runtime: Any, model: Any, config: dict[str, Any]) -> tuple[Any, dict[str, Path]]:
    """The sample grid (class-ordered for a conditional model) and the samples as safetensors."""
    import torch
    from safetensors.torch import save_file

    from gentoolkit_image.grids import save_grid
    from gentoolkit_image.sampling import generate

    n, num_classes = config["sample"]["n"], len(model.item_spec.classes)
    y = torch.arange(n) % num_classes if num_classes else None
    samples = generate(model, n, condition=y, generator=runtime.generator(1), **config["sample"]["options"])
    artifacts = {}
    if runtime.is_main:
        grid = save_grid(samples, runtime.out_dir / "samples.png", nrow=num_classes or None)
        artifacts["samples.png"] = runtime.generated(grid, "image", **_card(model))
        save_file({"samples": samples.contiguous()}, str(runtime.out_dir / "samples.safetensors"))
        artifacts["samples.safetensors"] = runtime.generated(runtime.out_dir / "samples.safetensors", "image",
                                                             **_card(model))
    return samples, artifacts


def _card(model: Any) -> dict[str, Any]:
    card = getattr(model, "model_card", None)
    return {"model": card.to_json()} if card is not None else {}


def measure(runtime: Any, model: Any, train: Any, test: Any, config: dict[str, Any]) -> dict[str, Any]:
    """Every metric of ``model``'s samples against the test split, on the configured features;
    likelihood metrics too when the model is a ``Density``."""
    import torch

    from gentoolkit_image.metrics import evaluate_images, feature_network
    from gentoolkit_image.sampling import generate

    cfg = config["evaluate"]
    network = feature_network(cfg["features"], config["data"]["name"], train, log=runtime.log)
    n, num_classes = cfg["n_samples"], len(model.item_spec.classes)
    y = torch.arange(n) % num_classes if num_classes else None  # balanced classes
    samples = generate(model, n, condition=y, generator=runtime.generator(2), **config["sample"]["options"])
    return evaluate_images(samples, test.images, train.images, network,
                           model=model if isinstance(model, Density) else None,
                           kid_subsets=cfg["kid_subsets"], seed=runtime.options.seed)


def create(runtime: Any, config: dict[str, Any], train: Any) -> Any:
    """A fresh registry model for the dataset's image shape (and classes, when conditional)."""
    toolkit = runtime.toolkit
    entry = toolkit.models.entry(config["model"])
    if entry.value.items != "image" or "train" not in entry.value.capabilities:
        trainable = toolkit.names_of("models", items="image", can=["train"])
        raise ConfigError(f"model = {config['model']!r} is not a trainable image model (its items are "
                          f"{entry.value.items or 'unspecified'}, capabilities {', '.join(entry.value.capabilities) or 'none'}); "
                          f"trainable image models: {', '.join(trainable)}.")
    if config["conditional"] and not train.num_classes:
        raise ConfigError(f"conditional = true needs labels, and dataset {train.name!r} has none.")
    params = dict(config["params"])
    if "levels" in entry.value.param_schema():
        params.setdefault("levels", train.levels)  # likelihood over the dataset's grey levels (17 for digits)
    if config["conditional"]:  # unconditional models need no ``classes`` parameter (the sampling plugin's RBM)
        params["classes"] = list(train.classes)
    return toolkit.create_model(config["model"], image_shape=list(train.image_shape), **params)


def fit(runtime: Any, config: dict[str, Any], model: Any, dataset: Any) -> list[dict[str, Any]]:
    from gentoolkit.training import fit as fit_loop

    t = config["train"]
    return fit_loop(model, dataset, runtime, epochs=t["epochs"], batch_size=t["batch_size"], name=CHECKPOINT,
                    checkpoint_every=t["checkpoint_every"], resume=t["resume"], monitor=t["monitor"],
                    patience=t["patience"], metadata={"dataset": config["data"]})


def saved_model(runtime: Any, config: dict[str, Any]) -> Any:
    """The model saved at ``checkpoint``, whichever plugin made it; it must draw images."""
    if not config["checkpoint"]:
        raise ConfigError(f"mode = {config['mode']!r} reads a model: set checkpoint to a saved model "
                          "(e.g. runs/image/<run>/model.json).")
    model = runtime.toolkit.load_model(config["checkpoint"], device=str(runtime.device))
    spec = getattr(model, "item_spec", None)
    if spec is None or spec.kind != "image" or not isinstance(model, Sampler):
        raise ConfigError(f"checkpoint {config['checkpoint']} holds a model that does not sample images.")
    return model


def run(runtime: Any, config: dict[str, Any]) -> Any:
    from gentoolkit_image.grids import save_learning_curve

    mode = config["mode"]
    if mode not in MODES:
        raise ConfigError(f"image mode {mode!r} is not one of {', '.join(MODES)}.")
    runtime.toolkit.models.entry(config["model"])  # an unknown name fails before any work, with suggestions
    if config["model"] == TRANSLATION_MODEL:
        from gentoolkit_image.translation import run_translation

        return run_translation(runtime, config)
    out, artifacts, metrics = runtime.out_dir, {}, {}
    if mode == "generate":
        model = saved_model(runtime, config)
        samples, artifacts = draw_samples(runtime, model, config)
        return RunResult("image", out, {"num_samples": float(len(samples))}, artifacts, {"samples": samples})
    train, test = load_splits(runtime.toolkit, config["data"])
    history: list[dict[str, Any]] = []
    if mode == "evaluate":
        model = saved_model(runtime, config)
        if tuple(model.item_spec.shape) != tuple(train.image_shape):
            raise ConfigError(f"checkpoint {config['checkpoint']} is a model of image shape {tuple(model.item_spec.shape)}, "
                              f"but dataset {train.name!r} has images of {tuple(train.image_shape)}; set data.size "
                              "to match the model.")
    else:
        model = create(runtime, config, train)
        history = fit(runtime, config, model, train)
        if runtime.is_main:
            artifacts["learning_curve.png"] = save_learning_curve(history, out / "learning_curve.png",
                                                                  f"{config['model']} on {train.name}")
            artifacts["checkpoint"] = out / f"{CHECKPOINT}.json"
    if not isinstance(model, Sampler):
        raise ConfigError(f"{config['model']} trains but cannot sample, so it cannot be measured here.")
    samples, sample_files = draw_samples(runtime, model, config)
    artifacts.update(sample_files)
    if mode in ("evaluate", "full"):
        metrics = measure(runtime, model, train, test, config)
        if history:
            metrics["seconds_per_epoch"] = sum(r["seconds"] for r in history) / len(history)
            metrics["final_losses"] = {k: v for k, v in history[-1].items() if k not in ("epoch", "seconds")}
        metrics["model"] = model.model_card.to_json()
        if runtime.is_main:
            artifacts["metrics.json"] = write_json(out / "metrics.json", metrics)
    numbers = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return RunResult("image", out, numbers, artifacts, {"model": model, "samples": samples, "history": history,
                                                         "metrics": metrics})
