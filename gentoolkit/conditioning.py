"""Class conditioning shared by every domain's models: the labels to sample with, and the
density of a class-conditional model when no labels are given (the mixture over its classes).

Torch is imported inside the functions, so importing this module stays free.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Sequence

from gentoolkit.errors import ConfigError

if TYPE_CHECKING:
    import torch

__all__ = ["labels_for", "marginal_log_prob"]


def labels_for(condition: Any, n: int, classes: Sequence[str], device: Any, who: str,
               generator: torch.Generator | None = None) -> torch.Tensor | None:
    """The class labels (n,) to sample ``n`` items with: ``condition`` (ints, a tensor or one int)
    checked against ``classes``; uniform random classes for a conditional model given none; None
    for an unconditional one. ``who`` names the model in errors."""
    import torch

    if condition is None:
        return torch.randint(len(classes), (n,), generator=generator).to(device) if classes else None
    if not classes:
        raise ConfigError(f"{who}: this model is not class-conditional; sample without a condition.")
    labels = torch.as_tensor(condition, dtype=torch.long).expand(n)
    if labels.min() < 0 or labels.max() >= len(classes):
        raise ConfigError(f"{who}: class labels must be in 0..{len(classes) - 1} ({', '.join(classes)}).")
    return labels.to(device)


def marginal_log_prob(log_prob_given: Callable[[Any, torch.Tensor], torch.Tensor], x: Any,
                      num_classes: int) -> torch.Tensor:
    """log sum_y p(y) p(x | y) with p(y) uniform, from ``log_prob_given(x, labels)``: what a
    class-conditional model's ``log_prob`` gives when no labels are given."""
    import torch

    per_class = [log_prob_given(x, torch.full((len(x),), c, dtype=torch.long, device=getattr(x, "device", None)))
                 for c in range(num_classes)]
    return torch.logsumexp(torch.stack(per_class, dim=1), dim=1) - math.log(num_classes)
