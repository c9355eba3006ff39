"""``gentoolkit train image`` and ``gentoolkit generate image``: thin fronts over the image task."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer


def add_commands(cli: Any) -> None:
    @cli.group("train").command("image")
    def train_image(
        model: str = typer.Option("image-vae", "--model", "-m", help="Any trainable image model: image-vae, "
                                  "image-gan, image-realnvp, image-glow, image-pixelcnn, image-ddpm, image-cyclegan, "
                                  "or a plugin's (gentoolkit models --can train)."),
        dataset: str = typer.Option("digits", help="Any image dataset: digits, image-folder, mnist, fashion-mnist, "
                                    "cifar10, or a plugin's (gentoolkit datasets)."),
        path: str = typer.Option("", help="Folder holding the dataset's files (not needed for digits)."),
        size: int = typer.Option(0, help="Image side to resize to (0: native; digits are 8x8, 16/32 upscale)."),
        epochs: int = typer.Option(120, help="Training epochs."),
        conditional: bool = typer.Option(False, help="Class-conditional model."),
        evaluate: bool = typer.Option(True, help="Measure the trained model (FID, KID, ...) afterwards."),
        overrides: list[str] = typer.Option([], "--set", "-s", help="Any image-task key: params.beta=4 (repeatable)."),
        device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N | mps"),
        precision: str = typer.Option("fp32", help="fp32 | bf16 | fp16"),
        seed: int = typer.Option(0, help="Seed."),
        out: Optional[Path] = typer.Option(None, help="Run folder (default runs/image/<timestamp>)."),
    ) -> None:
        """Train an image model; writes model.json/.safetensors, samples.png, learning_curve.png."""
        from gentoolkit.config import parse_override

        settings = {"model": model, "mode": "full" if evaluate else "train", "conditional": conditional,
                    "data.name": dataset, "data.path": path, "data.size": size, "train.epochs": epochs}
        settings.update({".".join(keys): value for keys, value in map(parse_override, overrides)})
        result = cli.toolkit.run("image", overrides=settings,
                                 options=cli.runtime_options(device, precision, seed, out=out))
        cli.print_result(result)

    @cli.group("generate").command("image")
    def generate_image(
        checkpoint: Path = typer.Option(..., "--checkpoint", "-c", help="A model checkpoint (model.json)."),
        n: int = typer.Option(64, "--n", help="How many images."),
        sampler: str = typer.Option("", help="DDPM only: ddpm or ddim."),
        steps: int = typer.Option(0, help="DDPM only: sampling steps (DDIM: fewer is faster)."),
        device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N | mps"),
        seed: int = typer.Option(0, help="Seed."),
        out: Optional[Path] = typer.Option(None, help="Run folder (default runs/image/<timestamp>)."),
    ) -> None:
        """Sample a saved image model; writes samples.png and samples.safetensors."""
        options = {**({"sampler": sampler} if sampler else {}), **({"steps": steps} if steps else {})}
        overrides = {"mode": "generate", "checkpoint": str(checkpoint), "sample": {"n": n, "options": options}}
        result = cli.toolkit.run("image", overrides=overrides, options=cli.runtime_options(device, seed=seed, out=out))
        cli.print_result(result)
