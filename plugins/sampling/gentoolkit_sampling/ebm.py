"""A small convolutional energy-based model trained with short-run Langevin dynamics and a replay
buffer (Du & Mordatch 2019; Nijkamp et al. 2019), on the core's model contract (Sampler, Trainable).

p(x) ∝ exp(-E(x)) over images in [0, 1]. Each update starts negative chains from the replay buffer
(a fraction ``reinit`` from uniform noise), runs ``langevin_steps`` of x <- x - step_size ∇E(x) +
noise ξ, writes them back, and lowers E on data while raising it on the chains, with an L2
penalty ``alpha`` on both energies. Buffer and weights are in the state dict, so a resumed run
continues exactly.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from gentoolkit.protocols import ItemSpec

DEFAULTS: dict[str, Any] = {
    "image_shape": [1, 8, 8],
    "width": 32,  # channels of the first convolution (then 2x, 2x)
    "lr": 1e-3,  # Adam, betas (0, 0.999) as Du & Mordatch
    "alpha": 0.1,  # weight of the energy-magnitude penalty E(x+)^2 + E(x-)^2
    "langevin_steps": 20,  # short-run chain length per update
    "step_size": 1.0,  # x <- x - step_size * grad E + noise * xi
    "noise": 0.01,
    "buffer_size": 10000,  # replay buffer of past chains (Du & Mordatch)
    "reinit": 0.05,  # share of each batch's chains restarted from uniform noise
    "sample_steps": 100,  # Langevin steps `sample(n)` runs from uniform noise
}


class ConvEBM(nn.Module):
    """E(x): three convolutions (the last two strided) with smooth SiLU activations, so ∇E is smooth."""

    likelihood_kind = "unnormalised"  # not a gentoolkit Density: log p needs the partition function

    def __init__(self, image_shape: Sequence[int] = (1, 8, 8), width: int = 32, lr: float = 1e-3,
                 alpha: float = 0.1, langevin_steps: int = 20, step_size: float = 1.0, noise: float = 0.01,
                 buffer_size: int = 10000, reinit: float = 0.05, sample_steps: int = 100):
        super().__init__()
        self.item_spec = ItemSpec("image", tuple(image_shape), (0.0, 1.0))
        self.lr, self.alpha, self.reinit = lr, alpha, reinit
        self.langevin_steps, self.step_size, self.noise, self.sample_steps = langevin_steps, step_size, noise, \
            sample_steps
        c, h, w = image_shape
        self.net = nn.Sequential(
            nn.Conv2d(c, width, 3, 1, 1), nn.SiLU(),
            nn.Conv2d(width, 2 * width, 3, 2, 1), nn.SiLU(),  # (B, 2w, H/2, W/2)
            nn.Conv2d(2 * width, 2 * width, 3, 2, 1), nn.SiLU(),  # (B, 2w, H/4, W/4)
            nn.Flatten(), nn.Linear(2 * width * ((h + 3) // 4) * ((w + 3) // 4), 1))
        self.register_buffer("buffer", torch.rand(buffer_size, *image_shape))

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """E(x) (B,) of images (B, C, H, W); low energy is likely."""
        return self.net(x).squeeze(1)

    def langevin(self, x: torch.Tensor, steps: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``steps`` of x <- clamp(x - step_size ∇E(x) + noise ξ, 0, 1); the weights get no gradient."""
        for _ in range(steps):
            x = x.detach().requires_grad_(True)
            with torch.enable_grad():
                (grad,) = torch.autograd.grad(self.energy(x).sum(), x)
            xi = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
            x = (x - self.step_size * grad + self.noise * xi).clamp(0, 1)
        return x.detach()

    # --- the contract: Sampler and Trainable -----------------------------------------------

    def sample(self, n: int, *, condition: Any = None, generator: torch.Generator | None = None,
               steps: int | None = None) -> torch.Tensor:
        """``n`` images from ``steps`` (default ``sample_steps``) Langevin steps started at uniform noise."""
        start = torch.rand((n, *self.item_spec.shape), generator=generator).to(self.buffer)
        return self.langevin(start, self.sample_steps if steps is None else steps, generator)

    def configure_optimizers(self) -> Mapping[str, torch.optim.Optimizer]:
        return {"adam": torch.optim.Adam(self.net.parameters(), lr=self.lr, betas=(0.0, 0.999))}

    def training_step(self, batch: Any, optimizers: Mapping[str, torch.optim.Optimizer],
                      runtime: Any) -> Mapping[str, float]:
        images = batch[0] if isinstance(batch, (list, tuple)) else batch
        positive = images.to(self.buffer)
        index = torch.randint(0, len(self.buffer), (len(positive),), device=self.buffer.device)
        start = self.buffer[index]
        fresh = torch.rand(len(positive), device=self.buffer.device) < self.reinit
        start = torch.where(fresh[:, None, None, None], torch.rand_like(start), start)
        negative = self.langevin(start, self.langevin_steps)
        self.buffer[index] = negative
        e_pos, e_neg = self.energy(positive), self.energy(negative)
        loss = e_pos.mean() - e_neg.mean() + self.alpha * (e_pos.pow(2).mean() + e_neg.pow(2).mean())
        runtime.optimize(loss, optimizers["adam"])
        return {"loss": loss.item(), "energy_data": e_pos.mean().item(), "energy_samples": e_neg.mean().item()}
