"""The ``audio`` task: train a registered audio model on a registered waveform dataset, sample
it, measure it and write what a person can listen to.

Modes: ``train`` (fit and checkpoint, with samples), ``generate`` (samples from a saved model)
and ``full`` (train, sample, evaluate). Models and datasets come from the registry
(``items="waveform"``), so a third-party plugin's are trained and measured like the built-ins.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from gentoolkit import ConfigError, Density, RunResult, Sampler

DEFAULTS: dict[str, Any] = {
    "mode": "full",  # train | generate | full
    "model": "audio-mel-vae",  # any registered model with items "waveform" and the "train" capability
    "conditional": True,  # class-conditional model (samples cycle through the classes)
    "params": {},  # the model's parameters (its defaults where not given); see README for WaveNet's CPU settings
    "checkpoint": "",  # generate: a saved model (model.json)
    "data": {"name": "spoken-digits", "path": "", "options": {}},  # options go to the dataset (voices = 16, ...)
    "train": {"epochs": 60, "batch_size": 16, "checkpoint_every": 5, "resume": True, "patience": 0, "monitor": "loss"},
    "sample": {"n": 50, "temperature": 1.0, "length": 0},  # length: samples per clip (0: the model's clips)
    "evaluate": {"n_clips": 20},  # test clips scored for bits per sample (Density models)
}
# The valid range of every number above (gentoolkit.config.check_ranges).
RANGES = {
    "params": {"channels": ">= 1", "skip_channels": ">= 1", "layers": ">= 1", "crop": ">= 0"},
    "train": {"epochs": ">= 0", "batch_size": ">= 1", "checkpoint_every": ">= 1", "patience": ">= 0"},
    "sample": {"n": ">= 1", "temperature": "> 0", "length": ">= 0"},
    "evaluate": {"n_clips": ">= 1"},
}
MODES = ("train", "generate", "full")
CHECKPOINT = "model"


def waveform_datasets(toolkit: Any) -> list[str]:
    return toolkit.names_of("datasets", items="waveform")


def load_splits(toolkit: Any, data: dict[str, Any]) -> tuple[Any, Any]:
    """The (train, test) splits of the configured waveform dataset."""
    entry = toolkit.datasets.entry(data["name"])
    if entry.value.items != "waveform":
        raise ConfigError(f"data.name = {data['name']!r} holds {entry.value.items or 'unspecified'} items, not "
                          f"waveforms; waveform datasets: {', '.join(waveform_datasets(toolkit))}.")
    params = {**({"path": data["path"]} if data["path"] else {}), **data["options"]}
    return tuple(entry.value.load(split=split, **params) for split in ("train", "test"))


def create(runtime: Any, config: dict[str, Any], train: Any) -> Any:
    """A fresh registry model for the dataset's clip length, sample rate (and classes)."""
    toolkit = runtime.toolkit
    entry = toolkit.models.entry(config["model"])
    if entry.value.items != "waveform" or "train" not in entry.value.capabilities:
        trainable = toolkit.names_of("models", items="waveform", can=["train"])
        raise ConfigError(f"model = {config['model']!r} is not a trainable audio model; trainable audio models: "
                          f"{', '.join(trainable)}.")
    spec = train.item_spec
    if config["conditional"] and not spec.classes:
        raise ConfigError(f"conditional = true needs labelled clips, and dataset {train.name!r} has none.")
    classes = list(spec.classes) if config["conditional"] else []
    return toolkit.create_model(config["model"], length=spec.shape[0], sample_rate=spec.sample_rate,
                                classes=classes, **config["params"])


def saved_model(runtime: Any, config: dict[str, Any]) -> Any:
    """The model saved at ``checkpoint``, whichever plugin made it; it must draw waveforms."""
    if not config["checkpoint"]:
        raise ConfigError("mode = 'generate' reads a model: set checkpoint to a saved model "
                          "(e.g. runs/audio/<run>/model.json).")
    model = runtime.toolkit.load_model(config["checkpoint"], device=str(runtime.device))
    spec = getattr(model, "item_spec", None)
    if spec is None or spec.kind != "waveform" or not isinstance(model, Sampler):
        kind = spec.kind if spec is not None else "unknown"
        raise ConfigError(f"checkpoint {config['checkpoint']} holds a model of {kind} items "
                          f"({getattr(getattr(model, 'model_card', None), 'name', type(model).__name__)}), not one "
                          "that samples audio; give an audio model's model.json.")
    return model


def draw(runtime: Any, model: Any, config: dict[str, Any]) -> tuple[Any, dict[str, Path], list]:
    """Samples (one per class in turn for a conditional model), written as WAVs with spectrograms."""
    import torch

    from gentoolkit_audio.report import save_spectrogram_grid, write_samples

    spec, n = model.item_spec, config["sample"]["n"]
    y = torch.arange(n) % len(spec.classes) if spec.classes else None
    options = {k: config["sample"][k] for k, default in (("temperature", 1.0), ("length", 0))
               if config["sample"][k] != default}
    began = time.perf_counter()
    samples = model.sample(n, condition=y, generator=runtime.generator(1), **options).cpu()
    seconds = time.perf_counter() - began
    labels = [spec.classes[int(c)] if y is not None else "sample" for c in (y if y is not None else range(n))]
    names = [f"sample_{i:03d}_{label}" for i, label in enumerate(labels)]
    artifacts: dict[str, Path] = {}
    rows = []
    if runtime.is_main:
        card = _card(model)
        for (wav, png), name, label in zip(write_samples(runtime.out_dir / "samples", samples, spec.sample_rate, names),
                                           names, labels):
            runtime.generated(wav, "audio", **card)
            rows.append((label, wav, png))
        artifacts["samples"] = runtime.out_dir / "samples"
        artifacts["spectrograms.png"] = save_spectrogram_grid(samples, spec.sample_rate,
                                                              runtime.out_dir / "spectrograms.png", labels)
    return samples, artifacts, [rows, seconds]


def _card(model: Any) -> dict[str, Any]:
    card = getattr(model, "model_card", None)
    return {"model": card.to_json()} if card is not None else {}


def digit_metrics(samples: Any, labels: Any, train: Any, test: Any) -> dict[str, Any]:
    """The WaveGAN protocol on spoken digits: the shipped classifier's Inception score, Fréchet
    distance on its features and label accuracy of the samples, beside the real-data values
    (test clips; train against test clips)."""
    from gentoolkit_audio.classifier import FEATURES, digit_scores, load_classifier

    classifier, card = load_classifier()
    scores = digit_scores(samples, test.waveforms, labels, classifier)
    real = digit_scores(test.waveforms, train.waveforms, test.labels, classifier)
    scores.update({f"real_{k}": v for k, v in real.items()})
    scores[f"classifier_{FEATURES}_unseen_voice_accuracy"] = card["test_accuracy"]
    return scores


def measure(model: Any, samples: Any, train: Any, test: Any, config: dict[str, Any]) -> dict[str, Any]:
    """Bits per sample on test clips (with the uniform and mu-law marginal baselines) for a
    Density model, the mean-spectrum distance of the samples to the test clips, and on spoken
    digits the classifier scores."""
    import torch

    from gentoolkit_audio.digits import DIGITS

    from gentoolkit_audio.metrics import marginal_bits_per_sample, mean_spectrum_distance

    metrics: dict[str, Any] = {"mean_spectrum_distance_db": mean_spectrum_distance(samples, test.waveforms)}
    levels = int(getattr(model, "params", {}).get("quantization", 256))
    metrics["uniform_bits_per_sample"] = math.log2(levels)
    metrics["marginal_bits_per_sample"] = marginal_bits_per_sample(train.waveforms, test.waveforms, levels)
    if isinstance(model, Density):
        n = min(config["evaluate"]["n_clips"], len(test))
        index = torch.linspace(0, len(test) - 1, n).round().long()  # spread over the test voices and classes
        x = test.waveforms[index]
        y = test.labels[index] if model.item_spec.classes and test.labels is not None else None
        log_prob = model.log_prob(x, condition=y)
        key = "test_bits_per_sample" + ("_given_class" if y is not None else "")
        metrics[key] = float(-log_prob.double().mean() / (x.shape[1] * math.log(2)))
        metrics["likelihood_kind"] = model.likelihood_kind
    spec = model.item_spec
    if train.classes == DIGITS and (spec.sample_rate, spec.shape) == (16000, (16000,)) and samples.shape[1] == 16000:
        labels = torch.arange(len(samples)) % len(spec.classes) if spec.classes else None
        metrics.update(digit_metrics(samples, labels, train, test))
    return metrics


def real_clips(runtime: Any, test: Any) -> list:
    """One test clip per class (or the first ten), written beside the samples for comparison."""
    from gentoolkit_audio.report import write_samples

    if test.labels is not None and test.classes:
        index = [int((test.labels == c).nonzero()[0]) for c in range(len(test.classes)) if (test.labels == c).any()]
    else:
        index = list(range(min(10, len(test))))
    labels = [test.classes[int(test.labels[i])] if test.classes and test.labels is not None else "clip" for i in index]
    names = [f"real_{i:03d}_{label}" for i, label in enumerate(labels)]
    files = write_samples(runtime.out_dir / "real", test.waveforms[index], test.sample_rate, names)
    return [(label, wav, png) for label, (wav, png) in zip(labels, files)]


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value, indent=1) + "\n")
    return path


def run(runtime: Any, config: dict[str, Any]) -> Any:
    from gentoolkit.training import fit

    from gentoolkit_audio.report import save_learning_curve, write_index

    mode = config["mode"]
    if mode not in MODES:
        raise ConfigError(f"audio mode {mode!r} is not one of {', '.join(MODES)}.")
    out, artifacts, metrics, history = runtime.out_dir, {}, {}, []
    train = test = None
    if mode == "generate":
        model = saved_model(runtime, config)
    else:
        runtime.toolkit.models.entry(config["model"])  # an unknown name fails before any work
        train, test = load_splits(runtime.toolkit, config["data"])
        model = create(runtime, config, train)
        t = config["train"]
        history = fit(model, train, runtime, epochs=t["epochs"], batch_size=t["batch_size"], name=CHECKPOINT,
                      checkpoint_every=t["checkpoint_every"], resume=t["resume"], monitor=t["monitor"],
                      patience=t["patience"], metadata={"dataset": config["data"]})
        artifacts["checkpoint"] = out / f"{CHECKPOINT}.json"
        if runtime.is_main and history:
            artifacts["learning_curve.png"] = save_learning_curve(history, out / "learning_curve.png",
                                                                  f"{config['model']} on {train.name}")
    if not isinstance(model, Sampler):
        raise ConfigError(f"{config['model']} trains but cannot sample, so it cannot be listened to here.")
    samples, sample_files, (rows, sample_seconds) = draw(runtime, model, config)
    artifacts.update(sample_files)
    metrics["sampling_seconds"] = sample_seconds
    metrics["generated_samples_per_second"] = samples.numel() / sample_seconds
    if history:
        metrics["training_seconds"] = sum(r["seconds"] for r in history)
        if "bits_per_sample" in history[-1]:
            metrics["final_train_bits_per_sample"] = history[-1]["bits_per_sample"]
    if mode == "full":
        metrics.update(measure(model, samples, train, test, config))
    metrics["model"] = model.model_card.to_json() if getattr(model, "model_card", None) else {}
    if runtime.is_main:
        artifacts["metrics.json"] = write_json(out / "metrics.json", metrics)
        real = real_clips(runtime, test) if test is not None else []
        images = [p for p in (artifacts.get("spectrograms.png"), artifacts.get("learning_curve.png")) if p]
        artifacts["index.html"] = write_index(out / "index.html", f"gentoolkit audio: {config['model']}", rows,
                                              metrics, images, real)
    numbers = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return RunResult("audio", out, numbers, artifacts, {"model": model, "samples": samples, "history": history,
                                                         "metrics": metrics})
