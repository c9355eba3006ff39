"""A Bernoulli restricted Boltzmann machine trained by contrastive divergence (CD-k, or persistent
CD) with block Gibbs sampling (Hinton 2002; Tieleman 2008), as scikit-learn's ``BernoulliRBM`` but on
the core's training loop and model contract (Sampler, Trainable), so any binary image set trains it.

Energy E(v, h) = -v.b - h.c - v W h; free energy F(v) = -v.b - sum softplus(v W + c). The CD
gradient is the gradient of mean F(data) - mean F(model samples), the samples held fixed.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from gentoolkit.protocols import ItemSpec

# Defaults measured on binarised digits (plugins/sampling/README.md): CD-3 with momentum 0.9 and a
# decaying rate beat PCD-1 at a constant rate on pseudo-likelihood and on the samples' FID.
DEFAULTS: dict[str, Any] = {
    "image_shape": [1, 8, 8],
    "num_hidden": 64,
    "lr": 0.05,  # initial SGD learning rate, as BernoulliRBM's learning_rate
    "lr_decay": 300.0,  # the rate after t updates is lr / (1 + t / lr_decay); 0 keeps it constant
    "momentum": 0.9,
    "gibbs_steps": 3,  # k of CD-k / PCD-k
    "persistent": False,  # PCD: negative chains carry over between updates (else CD: they start at the data)
    "num_chains": 64,  # persistent negative chains
    "threshold": 0.5,  # grey levels above this are 1 when images are binarised
}


class BernoulliRBM(nn.Module):
    """Binary visible units (the pixels) and binary hidden units; items are (C, H, W) images in {0, 1}."""

    likelihood_kind = "pseudo"  # not a gentoolkit Density: log p needs the intractable partition function

    def __init__(self, image_shape: Sequence[int] = (1, 8, 8), num_hidden: int = 64, lr: float = 0.05,
                 lr_decay: float = 300.0, momentum: float = 0.9, gibbs_steps: int = 3, persistent: bool = False,
                 num_chains: int = 64, threshold: float = 0.5):
        super().__init__()
        self.item_spec = ItemSpec("image", tuple(image_shape), (0.0, 1.0))
        self.num_visible = math.prod(image_shape)
        self.lr, self.lr_decay, self.momentum = lr, lr_decay, momentum
        self.gibbs_steps, self.persistent = gibbs_steps, persistent
        self.threshold = threshold
        self.weight = nn.Parameter(torch.randn(self.num_visible, num_hidden) * 0.01)
        self.visible_bias = nn.Parameter(torch.zeros(self.num_visible))
        self.hidden_bias = nn.Parameter(torch.zeros(num_hidden))
        self.register_buffer("chains", torch.bernoulli(torch.full((num_chains, self.num_visible), 0.5)))
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))  # drives the decay; resumes exactly

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        state_dict.setdefault(prefix + "updates", torch.zeros((), dtype=torch.long))  # saved before lr_decay
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # --- the model ---------------------------------------------------------------------------

    def binarise(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) grey images -> (B, V) binary visible vectors."""
        return (images.reshape(len(images), -1) > self.threshold).to(self.weight.dtype)

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        return -v @ self.visible_bias - nn.functional.softplus(v @ self.weight + self.hidden_bias).sum(1)

    def gibbs(self, v: torch.Tensor, steps: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``steps`` sweeps of block Gibbs sampling v -> h -> v (all hidden, then all visible units at once)."""
        with torch.no_grad():
            for _ in range(steps):
                h = torch.bernoulli(torch.sigmoid(v @ self.weight + self.hidden_bias), generator=generator)
                v = torch.bernoulli(torch.sigmoid(h @ self.weight.T + self.visible_bias), generator=generator)
        return v

    def pseudo_log_likelihood(self, v: torch.Tensor, generator: torch.Generator | None = None, *,
                              exact: bool = False) -> torch.Tensor:
        """Per row, V log p(v_i | v_-i) for one random unit i (scikit-learn's ``score_samples``
        estimator), or with ``exact`` the pseudo-log-likelihood itself, sum_i log p(v_i | v_-i)."""
        with torch.no_grad():
            if exact:
                flips = 1 - 2 * v  # +1 where flipping unit i turns it on, -1 where it turns it off
                activations = (v @ self.weight + self.hidden_bias).unsqueeze(1) + flips.unsqueeze(2) * self.weight
                flipped = -(v @ self.visible_bias).unsqueeze(1) - flips * self.visible_bias \
                    - nn.functional.softplus(activations).sum(2)  # (B, V): F(v with unit i flipped)
                return nn.functional.logsigmoid(flipped - self.free_energy(v).unsqueeze(1)).sum(1)
            i = torch.randint(0, self.num_visible, (len(v),), generator=generator)
            flipped = v.clone()
            flipped[torch.arange(len(v)), i] = 1 - flipped[torch.arange(len(v)), i]
            return self.num_visible * nn.functional.logsigmoid(self.free_energy(flipped) - self.free_energy(v))

    # --- the contract: Sampler and Trainable -----------------------------------------------

    def sample(self, n: int, *, condition: Any = None, generator: torch.Generator | None = None,
               steps: int = 1000) -> torch.Tensor:
        """``n`` images from ``steps`` Gibbs sweeps started at random bits (visible means of the last sweep)."""
        v = torch.bernoulli(torch.full((n, self.num_visible), 0.5), generator=generator).to(self.weight)
        v = self.gibbs(v, steps - 1, generator)
        with torch.no_grad():
            h = torch.bernoulli(torch.sigmoid(v @ self.weight + self.hidden_bias), generator=generator)
            means = torch.sigmoid(h @ self.weight.T + self.visible_bias)
        return means.reshape(n, *self.item_spec.shape)

    def configure_optimizers(self) -> Mapping[str, torch.optim.Optimizer]:
        return {"sgd": torch.optim.SGD(self.parameters(), lr=self.lr, momentum=self.momentum)}

    def training_step(self, batch: Any, optimizers: Mapping[str, torch.optim.Optimizer],
                      runtime: Any) -> Mapping[str, float]:
        images = batch[0] if isinstance(batch, (list, tuple)) else batch
        v = self.binarise(images)
        start = self.chains if self.persistent else v
        negative = self.gibbs(start, self.gibbs_steps)
        if self.persistent:
            self.chains.copy_(negative)
        loss = self.free_energy(v).mean() - self.free_energy(negative).mean()
        for group in optimizers["sgd"].param_groups:
            group["lr"] = self.lr / (1 + self.updates.item() / self.lr_decay) if self.lr_decay > 0 else self.lr
        runtime.optimize(loss, optimizers["sgd"])
        self.updates += 1
        return {"cd_loss": loss.item(), "pseudo_ll": self.pseudo_log_likelihood(v).mean().item()}
