"""Gated PixelCNN (van den Oord et al. 2016): an autoregressive model over discrete pixels.

Each pixel's grey level is predicted by a softmax over ``levels`` values from the pixels above
it and to its left (raster order). A vertical stack sees every row above, a horizontal stack
the pixels to the left in the current row, and the vertical stack feeds the horizontal one
shifted down by a row, so the receptive field has no blind spot. Layers use gated activations
tanh(a) * sigmoid(b); a class embedding adds a bias to both gates. Channels of one pixel are
predicted independently given the pixels before it, so the log-likelihood stays exact for any C.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gentoolkit.errors import ConfigError
from gentoolkit_image.models.base import ImageModel


@dataclass
class PixelCNNParams:
    channels: int = 32  # feature maps in each stack
    num_layers: int = 8  # gated layers; each reaches kernel_size // 2 rows further up and left
    kernel_size: int = 3  # odd
    levels: int = 256  # grey levels of the discrete images (17 for digits)
    lr: float = 1e-3


def shift_down(x: Tensor) -> Tensor:
    """Move every row one down (zeros on top): row i then holds what row i - 1 saw."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


class GatedLayer(nn.Module):
    """One gated layer over the vertical and horizontal stacks.

    The vertical convolution at row i sees rows i - k//2 .. i; the horizontal one at (i, j)
    sees columns j - k//2 .. j of row i (.. j - 1 in the first layer, which must not see the
    pixel it predicts, and which therefore also has no residual connection).
    """

    def __init__(self, channels: int, kernel_size: int, num_classes: int, first: bool):
        super().__init__()
        k = kernel_size // 2
        self.k, self.first = k, first
        self.v_conv = nn.Conv2d(channels, 2 * channels, (k + 1, kernel_size))
        self.v_to_h = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.h_conv = nn.Conv2d(channels, 2 * channels, (1, k if first else k + 1))
        self.h_out = nn.Conv2d(channels, channels, 1)
        self.class_bias = nn.Embedding(num_classes, 4 * channels) if num_classes else None

    @staticmethod
    def gate(x: Tensor) -> Tensor:
        a, b = x.chunk(2, dim=1)
        return torch.tanh(a) * torch.sigmoid(b)

    def forward(self, v: Tensor, h: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor]:
        k = self.k
        v_pre = self.v_conv(F.pad(v, (k, k, k, 0)))  # rows i-k..i, all k columns either side
        h_in = F.pad(h, (k, 0, 0, 0))[:, :, :, :-1] if self.first else F.pad(h, (k, 0, 0, 0))
        h_pre = self.h_conv(h_in) + self.v_to_h(shift_down(v_pre))
        if self.class_bias is not None and y is not None:
            bv, bh = self.class_bias(y)[:, :, None, None].chunk(2, dim=1)
            v_pre, h_pre = v_pre + bv, h_pre + bh
        h_new = self.h_out(self.gate(h_pre))
        return self.gate(v_pre), h_new if self.first else h + h_new


class PixelCNN(ImageModel):
    """Gated PixelCNN with a softmax over grey levels; exact log-likelihood, sequential sampling."""

    family = "pixelcnn"
    likelihood_kind = "exact"

    def __init__(self, image_shape: tuple[int, int, int], classes: Sequence[str] = (), **params: Any):
        p = self.parse_params(PixelCNNParams, params)
        super().__init__(image_shape, classes, **asdict(p))
        if p.kernel_size < 3 or p.kernel_size % 2 == 0:
            raise ConfigError(f"pixelcnn: kernel_size must be odd and at least 3, got {p.kernel_size}.")
        if p.levels < 2:
            raise ConfigError(f"pixelcnn: levels must be at least 2, got {p.levels}.")
        self.p = p
        c = self.image_shape[0]
        self.embed = nn.Conv2d(c, p.channels, 1)
        self.layers = nn.ModuleList(GatedLayer(p.channels, p.kernel_size, self.num_classes, first=i == 0)
                                    for i in range(p.num_layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(p.channels, p.channels, 1), nn.ReLU(),
                                  nn.Conv2d(p.channels, c * p.levels, 1))

    def logits(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Unnormalised log-probabilities (B, levels, C, H, W) of each pixel given those before it."""
        y = y if self.num_classes else None
        v = h = self.embed(x * 2 - 1)
        for layer in self.layers:
            v, h = layer(v, h, y)
        b, c, height, width = x.shape
        return self.head(h).view(b, self.p.levels, c, height, width)

    def _discrete(self, x: Tensor) -> Tensor:
        return torch.round(x.clamp(0, 1) * (self.p.levels - 1)).long()

    @torch.no_grad()  # a score of discrete items: no gradient to keep
    def log_prob(self, x: Tensor, *, condition: Tensor | None = None) -> Tensor:
        """Exact log p(x) of the discrete image in nats (B,): the sum of every pixel's
        log-probability given those before it. Given no labels, a class-conditional model gives
        log sum_y p(y) p(x | y), p(y) uniform."""
        x = x.to(self.device).float()
        if self.num_classes and condition is None:
            return self.marginal(lambda im, y: self.log_prob(im, condition=y), x)
        y = None if condition is None else torch.as_tensor(condition, dtype=torch.long, device=x.device)
        target = self._discrete(x)
        logits = self.logits(target.float() / (self.p.levels - 1), y)
        return -F.cross_entropy(logits.float(), target, reduction="none").flatten(1).sum(1)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"model": torch.optim.Adam(self.parameters(), lr=self.p.lr)}

    def training_step(self, batch: Any, optimizers: dict[str, torch.optim.Optimizer],
                      runtime: Any) -> dict[str, float]:
        x, y = self.unpack(batch)
        target = self._discrete(x)
        with runtime.autocast():
            logits = self.logits(target.float() / (self.p.levels - 1), y)
        nll = F.cross_entropy(logits.float(), target)  # nats per dimension
        runtime.optimize(nll, optimizers["model"], clip_norm=1.0)
        return {"bits_per_dim": nll.item() / math.log(2)}

    @torch.no_grad()
    def sample(self, n: int, *, condition: Tensor | None = None, generator: torch.Generator | None = None,
               temperature: float = 1.0) -> Tensor:
        """``n`` images drawn pixel by pixel in raster order (H * W forward passes)."""
        y = self.labels_for(n, condition, generator)
        c, height, width = self.image_shape
        x = torch.zeros(n, c, height, width, device=self.device)
        for i in range(height):
            for j in range(width):
                logits = self.logits(x, y)[:, :, :, i, j] / temperature  # (n, levels, C)
                probs = torch.softmax(logits.float(), dim=1).permute(0, 2, 1).reshape(n * c, -1)
                level = torch.multinomial(probs.cpu(), 1, generator=generator).view(n, c)
                x[:, :, i, j] = level.to(self.device).float() / (self.p.levels - 1)
        return x
