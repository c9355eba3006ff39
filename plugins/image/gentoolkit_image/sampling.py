"""Drawing many images from any image ``Sampler``, a batch at a time."""

from __future__ import annotations

from typing import Any

import torch


@torch.no_grad()
def generate(model: Any, n: int, condition: torch.Tensor | None = None, generator: torch.Generator | None = None,
             batch_size: int = 500, **options: Any) -> torch.Tensor:
    """``n`` samples (on the CPU, in [0, 1]) from ``model`` in eval mode, ``batch_size`` at a time;
    ``options`` go to ``model.sample`` (e.g. ``sampler="ddim", steps=50``)."""
    if hasattr(model, "eval"):
        model.eval()
    out = []
    for start in range(0, n, batch_size):
        labels = None if condition is None else condition[start: start + batch_size]
        batch = model.sample(min(batch_size, n - start), condition=labels, generator=generator, **options)
        out.append(batch.float().cpu())
    return torch.cat(out).clamp(0, 1)
