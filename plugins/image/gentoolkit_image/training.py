"""The generic training loop over any :class:`ImageModel`: epochs, progress, learning curve and
checkpoints that a run resumes from.

The model does its own backward and optimizer steps (``training_step``), so the same loop drives
a VAE, a GAN's alternating updates or a CycleGAN's two domains.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch

from gentoolkit.checkpoint import check_compatible, load_checkpoint, read_metadata

from gentoolkit_image.models import ImageModel, save_model


def _to(x: Any, device: torch.device) -> Any:
    """A batch (a tensor, or a tuple of tensors for two-domain models) on ``device``."""
    return type(x)(_to(v, device) for v in x) if isinstance(x, (list, tuple)) else x.to(device)


def save_training_checkpoint(model: ImageModel, path: Path, optimizers: dict, epoch: int,
                             history: list[dict[str, Any]], metadata: dict[str, Any] | None = None) -> Path:
    """Weights, optimizer states and the learning curve so far, resumable at ``epoch``."""
    return save_model(model, path, {"epoch": epoch, "history": history, **(metadata or {})},
                      {"optimizers": {k: o.state_dict() for k, o in optimizers.items()}, "epoch": epoch})


def resume(model: ImageModel, path: Path, optimizers: dict, device: torch.device) -> tuple[int, list[dict]]:
    """Load weights and optimizer states from a training checkpoint made with the same config
    (another family, image shape or hyperparameters raises CheckpointError).
    Returns (epochs done, history)."""
    metadata = read_metadata(path)
    check_compatible(metadata, json.loads(json.dumps(model.config())), path)
    state, _ = load_checkpoint(path, device=str(device))
    model.load_state_dict(state["model"])
    for name, optimizer in optimizers.items():
        optimizer.load_state_dict(state["optimizers"][name])
    return int(state["epoch"]), metadata["history"]


def train(model: ImageModel, dataset: Any, runtime: Any, epochs: int, batch_size: int, name: str = "model",
          checkpoint_every: int = 5, resume_run: bool = True, metadata: dict[str, Any] | None = None
          ) -> list[dict[str, Any]]:
    """Train ``model`` for ``epochs`` on ``dataset`` (items ``(x, label)``, label -1 when none),
    checkpointing to ``runtime.out_dir/NAME`` and resuming from it when it exists.

    Returns the history: one row per epoch with the mean of every loss and the seconds it took.
    """
    model.to(runtime.device)
    optimizers = model.configure_optimizers()
    start, history = 0, []
    latest = runtime.latest_checkpoint(name)
    if resume_run and latest is not None:
        start, history = resume(model, latest, optimizers, runtime.device)
        runtime.log(f"Resuming {model.family} from {latest} after epoch {start}.")
    loader = runtime.dataloader(dataset, batch_size=batch_size, shuffle=True, drop_last=len(dataset) > batch_size)
    with runtime.progress(len(loader) * (epochs - start), f"train {model.family}") as advance:
        for epoch in range(start, epochs):
            runtime.set_epoch(loader, epoch)
            model.train()
            sums: dict[str, float] = defaultdict(float)
            counts: dict[str, int] = defaultdict(int)
            began = time.perf_counter()
            for x, y in loader:
                labels = y.to(runtime.device) if model.num_classes else None
                losses = model.training_step(_to(x, runtime.device), labels, optimizers, runtime)
                for key, value in losses.items():
                    sums[key] += value
                    counts[key] += 1
                advance(1, epoch=epoch + 1, **losses)
            row = {"epoch": epoch + 1, **{k: runtime.all_reduce_mean(sums[k] / counts[k]) for k in sums},
                   "seconds": time.perf_counter() - began}
            history.append(row)
            if runtime.is_main and ((epoch + 1) % checkpoint_every == 0 or epoch + 1 == epochs):
                save_training_checkpoint(model, runtime.out_dir / name, optimizers, epoch + 1, history, metadata)
    model.eval()
    return history


@torch.no_grad()
def generate(model: ImageModel, n: int, y: torch.Tensor | None = None, generator: torch.Generator | None = None,
             batch_size: int = 500, **options: Any) -> torch.Tensor:
    """``n`` samples (on the CPU) from ``model`` in eval mode, drawn ``batch_size`` at a time."""
    model.eval()
    out = []
    for start in range(0, n, batch_size):
        labels = None if y is None else y[start: start + batch_size]
        out.append(model.sample(min(batch_size, n - start), y=labels, generator=generator, **options).float().cpu())
    return torch.cat(out).clamp(0, 1)
