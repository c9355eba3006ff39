"""gentoolkit's audio plugin: waveform models, datasets and evaluators.

Only the hook implementations live here; every registered callable imports torch and the
plugin's modules when it is called, so loading the plugin costs nothing.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from gentoolkit import Dataset, Evaluator, Model, Task, hookimpl

DOMAIN = "audio"
# family: (description, capabilities of the core's model contract)
FAMILIES = {
    "wavenet": ("WaveNet on 8-bit mu-law audio: gated dilated causal convolutions, class-conditional, "
                "exact log-likelihood, Fast WaveNet cached sampling", ("sample", "log_prob", "train")),
    "mel-vae": ("class-conditional convolutional VAE on log-mel spectrograms with a Griffin-Lim vocoder: "
                "samples that sound like their class in minutes on a CPU", ("sample", "train")),
    "wavegan": ("WaveGAN: 1-D DCGAN on raw audio (transposed convolutions, phase shuffle), WGAN-GP, "
                "optionally class-conditional", ("sample", "train")),
}
DATASETS = {
    "spoken-digits": "'zero'..'nine' spoken by eSpeak NG in many voices, 16 kHz one-second clips (SC09 layout), "
                     "made offline; test split = unseen voices",
    "synthetic-sounds": "tones, chords, chirps and Karplus-Strong plucks with exact references, labelled by kind",
    "audio-folder": "your WAV/FLAC/OGG files, one subfolder per class, resampled and cut or padded",
}
EVALUATORS = {
    "digit-classifier-scores": "the WaveGAN protocol on one-second 16 kHz spoken digits: Inception score, "
                               "Fréchet distance on the shipped digit CNN's features (reference=; not FAD) and "
                               "the share of samples classified as their label (labels=)",
    "bits-per-sample": "a Density model's bits per audio sample on clips, with the 8-bit uniform baseline "
                       "and (given reference=train clips) the mu-law marginal baseline",
    "log-spectral-distance": "log-spectral distance (dB) between clips and their references, paired",
    "mel-cepstral-distortion": "mel-cepstral distortion (dB, Kubichek 1993, mel-cepstral-distance library) between "
                               "clips and their references, paired, frames aligned by DTW",
    "mean-spectrum-distance": "RMS dB difference between the average power spectra of two sets of clips",
}


def _create(family: str) -> Callable[..., Any]:
    def create(length: int = 16000, sample_rate: int = 16000, classes: Sequence[str] = (), **params: Any) -> Any:
        from gentoolkit_audio.models import create_model

        return create_model(family, length, sample_rate, classes, **params)

    return create


def _schema(family: str) -> Callable[[], dict[str, Any]]:
    def schema() -> dict[str, Any]:
        from gentoolkit_audio.models import param_schema

        return param_schema(family)

    return schema


def _load(name: str) -> Callable[..., Any]:
    def load(split: str = "train", **params: Any) -> Any:
        from gentoolkit_audio.datasets import load_dataset

        return load_dataset(name, split, **params)

    return load


def _evaluate(metric: str) -> Callable[..., Any]:
    def evaluate(samples: Any, **params: Any) -> Any:
        from gentoolkit_audio.metrics import evaluator

        return evaluator(metric)(samples, **params)

    return evaluate


def _run(runtime: Any, config: dict[str, Any]) -> Any:
    from gentoolkit_audio.task import run

    return run(runtime, config)


@hookimpl
def register_models(register: Callable) -> None:
    for family, (description, capabilities) in FAMILIES.items():
        register(Model(name=f"audio-{family}", create=_create(family), description=description, domain=DOMAIN,
                       params=_schema(family), capabilities=capabilities, items="waveform"))


@hookimpl
def register_datasets(register: Callable) -> None:
    for name, description in DATASETS.items():
        register(Dataset(name=name, load=_load(name), description=description, domain=DOMAIN, items="waveform"))


@hookimpl
def register_evaluators(register: Callable) -> None:
    for metric, description in EVALUATORS.items():
        register(Evaluator(name=f"audio-{metric}", evaluate=_evaluate(metric), description=description, domain=DOMAIN))


@hookimpl
def register_tasks(register: Callable) -> None:
    from gentoolkit_audio.task import DEFAULTS, RANGES

    register(Task(name="audio", run=_run, config=DEFAULTS, domain=DOMAIN, ranges=RANGES,
                  headline="label_accuracy_digitcnn",
                  description="Train a mel-spectrogram VAE with a Griffin-Lim vocoder (or WaveNet, WaveGAN, any "
                              "registered audio model) on spoken digits, sample WAVs, score them with the shipped "
                              "digit classifier (and bits per sample for WaveNet); writes index.html to listen."))


@hookimpl
def register_commands(cli: Any) -> None:
    from gentoolkit_audio.commands import add_commands

    add_commands(cli)
