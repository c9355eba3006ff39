"""``gentoolkit train audio`` and ``gentoolkit generate audio``: thin fronts over the audio task."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer


def add_commands(cli: Any) -> None:
    @cli.group("train").command("audio")
    def train_audio(
        model: str = typer.Option("audio-mel-vae", "--model", "-m", help="Any trainable audio model "
                                  "(gentoolkit models --can train): audio-mel-vae, audio-wavenet, audio-wavegan."),
        dataset: str = typer.Option("spoken-digits", help="spoken-digits, synthetic-sounds, audio-folder, or a "
                                    "plugin's waveform dataset."),
        path: str = typer.Option("", help="Folder of WAV/FLAC files (audio-folder only)."),
        epochs: int = typer.Option(60, help="Training epochs."),
        conditional: bool = typer.Option(True, help="Class-conditional model."),
        overrides: list[str] = typer.Option([], "--set", "-s", help="Any audio-task key: params.layers=10 (repeatable)."),
        device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N | mps"),
        seed: int = typer.Option(0, help="Seed."),
        out: Optional[Path] = typer.Option(None, help="Run folder (default runs/audio/<timestamp>)."),
    ) -> None:
        """Train an audio model; writes model.json, samples/*.wav, spectrograms.png, index.html."""
        from gentoolkit.config import parse_override

        settings = {"model": model, "conditional": conditional, "data.name": dataset, "data.path": path,
                    "train.epochs": epochs}
        settings.update({".".join(keys): value for keys, value in map(parse_override, overrides)})
        result = cli.toolkit.run("audio", overrides=settings, options=cli.runtime_options(device, seed=seed, out=out))
        cli.print_result(result)

    @cli.group("generate").command("audio")
    def generate_audio(
        model_path: Path = typer.Option(..., "--model-path", "-c", help="A saved audio model (model.json)."),
        n: int = typer.Option(10, "--n", help="How many clips (a conditional model cycles through its classes)."),
        temperature: float = typer.Option(1.0, help="Sampling temperature: WaveNet's softmax, the mel-VAE's and "
                                          "WaveGAN's latent scale (below 1: less noisy, less varied)."),
        length: int = typer.Option(0, help="Samples per clip (0: the model's clip length)."),
        device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N | mps"),
        seed: int = typer.Option(0, help="Seed."),
        out: Optional[Path] = typer.Option(None, help="Run folder (default runs/audio/<timestamp>)."),
    ) -> None:
        """Sample a saved audio model; writes samples/*.wav, spectrograms.png and index.html."""
        sample = {"n": n, "temperature": temperature, "length": length}
        overrides = {"mode": "generate", "checkpoint": str(model_path), "sample": sample}
        result = cli.toolkit.run("audio", overrides=overrides, options=cli.runtime_options(device, seed=seed, out=out))
        cli.print_result(result)
