"""Normalizing flows on images: RealNVP (Dinh et al. 2017) and Glow (Kingma & Dhariwal 2018).

Both map an image to Gaussian latents through invertible layers arranged in scales; a scale
squeezes the image (C, H, W) -> (4C, H/2, W/2) and sets half of its channels aside as latents,
so deeper layers work on fewer, coarser dimensions. Before the flow, the discrete image is
dequantised with uniform noise and moved to logit space. The change of variables through all of
it gives the density of the dequantised image in [0, levels)^D (the usual [0, 256) space for
8-bit images), where each discrete image owns a unit cube: that density is the log-probability
of the discrete image, comparable with PixelCNN's over the same levels. With one noise draw per
image it is a stochastic lower bound, tight up to the dequantisation gap (Theis et al. 2016).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from gentoolkit.errors import ConfigError
from gentoolkit_image.models.base import ImageModel


@dataclass
class FlowParams:
    num_scales: int = 2  # scales of the multi-scale architecture
    steps_per_scale: int = 3  # RealNVP: couplings per block (3 checkerboard + 3 channel-wise); Glow: K
    hidden_channels: int = 64  # width of each coupling's network
    levels: int = 256  # grey levels of the discrete images the likelihood is for (17 for digits)
    alpha: float = 0.05  # logit pre-processing: logit(alpha + (1 - 2 alpha) * x)
    temperature: float = 0.8  # latent standard deviation when sampling
    lr: float = 1e-3


# --- invertible layers: forward(x) -> (y, log|det dy/dx| per sample), inverse(y) -> x ----------


class Squeeze(nn.Module):
    """(C, H, W) -> (4C, H/2, W/2), each 2x2 block moved into channels."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        b, c, h, w = x.shape
        x = x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
        return x.reshape(b, 4 * c, h // 2, w // 2), x.new_zeros(b)

    def inverse(self, y: Tensor) -> Tensor:
        b, c, h, w = y.shape
        y = y.view(b, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
        return y.reshape(b, c // 4, 2 * h, 2 * w)


class Split(nn.Module):
    """Marks where half of the channels leave the flow as latents (handled by the model)."""


class ActNorm(nn.Module):
    """Per-channel affine y = (x + bias) * exp(logs), initialised from the first batch (Glow)."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.logs = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("initialized", torch.tensor(False))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.training and not self.initialized:
            with torch.no_grad():  # zero mean, unit variance per channel on the first batch (of all ranks)
                moments = torch.stack([x.mean(dim=(0, 2, 3)), (x * x).mean(dim=(0, 2, 3))])
                if torch.distributed.is_available() and torch.distributed.is_initialized():
                    torch.distributed.all_reduce(moments)
                    moments /= torch.distributed.get_world_size()
                mean, std = moments[0], (moments[1] - moments[0] ** 2).clamp(min=0).sqrt()
                self.bias.copy_(-mean.view_as(self.bias))
                self.logs.copy_(-torch.log(std.view_as(self.logs) + 1e-6))
                self.initialized.fill_(True)
        logdet = self.logs.sum() * x.shape[2] * x.shape[3]
        return (x + self.bias) * self.logs.exp(), logdet.expand(x.shape[0])

    def inverse(self, y: Tensor) -> Tensor:
        return y * torch.exp(-self.logs) - self.bias


class InvConv1x1(nn.Module):
    """Invertible 1x1 convolution, W = P L (U + diag(sign * exp(log_s))) (Glow's LU form)."""

    def __init__(self, channels: int):
        super().__init__()
        q = torch.linalg.qr(torch.randn(channels, channels))[0]
        p, lower, upper = torch.linalg.lu(q)
        s = torch.diagonal(upper)
        self.register_buffer("perm", p)
        self.register_buffer("sign_s", torch.sign(s))
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
        self.lower = nn.Parameter(lower)
        self.upper = nn.Parameter(torch.triu(upper, 1))
        self.log_s = nn.Parameter(torch.log(s.abs()))

    def weight(self) -> Tensor:
        eye = torch.eye(len(self.log_s), device=self.log_s.device, dtype=self.log_s.dtype)
        lower = self.lower * self.lower_mask + eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * self.log_s.exp())
        return self.perm @ lower @ upper

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = torch.einsum("oc,bchw->bohw", self.weight(), x)
        return y, (self.log_s.sum() * x.shape[2] * x.shape[3]).expand(x.shape[0])

    def inverse(self, y: Tensor) -> Tensor:
        return torch.einsum("oc,bchw->bohw", torch.linalg.inv(self.weight()), y)


class AffineCoupling(nn.Module):
    """Half of the entries, picked by a checkerboard or by channel, scaled and shifted by a
    network of the other half: y_b = x_b * exp(s(x_a)) + t(x_a)."""

    def __init__(self, channels: int, hidden: int, mask: str, parity: int):
        super().__init__()
        self.mask, self.parity = mask, parity
        in_ch = channels if mask == "checkerboard" else channels // 2
        out_ch = channels if mask == "checkerboard" else channels - channels // 2
        self.net = nn.Sequential(
            nn.Conv2d(in_ch, hidden, 3, padding=1), nn.ReLU(),
            nn.Conv2d(hidden, hidden, 1), nn.ReLU(),
            nn.Conv2d(hidden, 2 * out_ch, 3, padding=1))
        nn.init.zeros_(self.net[-1].weight)  # every coupling starts as the identity
        nn.init.zeros_(self.net[-1].bias)
        self.scale = nn.Parameter(torch.ones(1, out_ch, 1, 1))

    def _checkerboard(self, x: Tensor) -> Tensor:
        h, w = x.shape[2:]
        grid = torch.arange(h, device=x.device)[:, None] + torch.arange(w, device=x.device)[None]
        return ((grid + self.parity) % 2).to(x.dtype)[None, None]  # 1 where entries condition

    def _scale_shift(self, cond: Tensor) -> tuple[Tensor, Tensor]:
        raw_s, t = self.net(cond).chunk(2, dim=1)
        return self.scale * torch.tanh(raw_s), t

    def _halves(self, x: Tensor) -> tuple[Tensor, Tensor]:
        a, b = x[:, : x.shape[1] // 2], x[:, x.shape[1] // 2:]
        return (a, b) if self.parity == 0 else (b, a)

    def _join(self, a: Tensor, b: Tensor) -> Tensor:
        return torch.cat([a, b] if self.parity == 0 else [b, a], dim=1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.mask == "checkerboard":
            m = self._checkerboard(x)
            s, t = self._scale_shift(x * m)
            s, t = s * (1 - m), t * (1 - m)
            return x * torch.exp(s) + t, s.flatten(1).sum(1)
        a, b = self._halves(x)
        s, t = self._scale_shift(a)
        return self._join(a, b * torch.exp(s) + t), s.flatten(1).sum(1)

    def inverse(self, y: Tensor) -> Tensor:
        if self.mask == "checkerboard":
            m = self._checkerboard(y)
            s, t = self._scale_shift(y * m)
            return y * m + (1 - m) * (y - t) * torch.exp(-s)
        a, b = self._halves(y)
        s, t = self._scale_shift(a)
        return self._join(a, (b - t) * torch.exp(-s))


# --- the models ------------------------------------------------------------------------------


class Flow(ImageModel):
    """A multi-scale flow with a Gaussian prior (class-conditional mean and scale when labelled).

    Subclasses say which layers make up the flow in ``build_layers``.
    """

    likelihood_kind = "dequantized"

    def __init__(self, image_shape: tuple[int, int, int], classes: Sequence[str] = (), **params: Any):
        p = self.parse_params(FlowParams, params)
        super().__init__(image_shape, classes, **asdict(p))
        self.p = p
        c, h, w = self.image_shape
        factor = 2 ** self.num_squeezes
        if h % factor or w % factor:
            raise ConfigError(f"{self.family}: images of {h}x{w} cannot be squeezed {self.num_squeezes} times "
                              f"with num_scales={p.num_scales}; use fewer scales or a size divisible by {factor}.")
        if p.levels < 2:
            raise ConfigError(f"{self.family}: levels must be at least 2, got {p.levels}.")
        self.layers = nn.ModuleList(self.build_layers(c, p))
        self.latent_shapes = self._latent_shapes()
        self.prior = nn.Embedding(self.num_classes, 2 * self.num_dims) if self.num_classes else None
        if self.prior is not None:
            nn.init.zeros_(self.prior.weight)  # starts as the standard normal for every class

    @property
    @abstractmethod
    def num_squeezes(self) -> int:
        """How many times the flow halves H and W."""

    @abstractmethod
    def build_layers(self, channels: int, p: FlowParams) -> list[nn.Module]:
        """The flow's layers in order, for an input of ``channels`` channels."""

    def _latent_shapes(self) -> list[tuple[int, int, int]]:
        shapes, (c, h, w) = [], self.image_shape
        for layer in self.layers:
            if isinstance(layer, Squeeze):
                c, h, w = 4 * c, h // 2, w // 2
            elif isinstance(layer, Split):
                shapes.append((c // 2, h, w))
                c -= c // 2
        return shapes + [(c, h, w)]

    # --- the bijection image <-> latents ---

    def flow_forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Flow input (B, C, H, W) -> flat latents (B, D) and log|det| (B,)."""
        zs, logdet = [], x.new_zeros(x.shape[0])
        for layer in self.layers:
            if isinstance(layer, Split):
                z, x = x[:, : x.shape[1] // 2], x[:, x.shape[1] // 2:]
                zs.append(z)
            else:
                x, ld = layer(x)
                logdet = logdet + ld
        zs.append(x)
        return torch.cat([z.flatten(1) for z in zs], dim=1), logdet

    def flow_inverse(self, z: Tensor) -> Tensor:
        """Flat latents (B, D) -> flow input (B, C, H, W)."""
        sizes = [math.prod(s) for s in self.latent_shapes]
        zs = [part.view(-1, *s) for part, s in zip(z.split(sizes, dim=1), self.latent_shapes)]
        x = zs.pop()
        for layer in reversed(self.layers):
            x = torch.cat([zs.pop(), x], dim=1) if isinstance(layer, Split) else layer.inverse(x)
        return x

    # --- densities: the prior, and the discrete image <-> logit space ---

    def _log_prior(self, z: Tensor, y: Tensor | None) -> Tensor:
        """log N(z; mean_y, std_y) (B,); a conditional model given no labels mixes its classes evenly."""
        if self.prior is None:
            return (-0.5 * z**2 - 0.5 * math.log(2 * math.pi)).sum(1)
        if y is None:
            return self.marginal(self._log_prior, z)
        mean, log_std = self.prior(y).chunk(2, dim=1)
        return (-0.5 * ((z - mean) * torch.exp(-log_std)) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(1)

    def _to_logit(self, x: Tensor, noise: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Image in [0, 1] -> dequantised logits (uniform ``noise`` in [0, 1), drawn if not
        given), and log|det| (B,) of the map to them from [0, levels)^D, where each discrete
        image owns a unit cube."""
        levels, alpha = self.p.levels, self.p.alpha
        discrete = torch.round(x.clamp(0, 1) * (levels - 1))
        noise = torch.rand_like(discrete) if noise is None else noise
        q = alpha + (1 - 2 * alpha) * (discrete + noise) / levels
        logdet = (math.log((1 - 2 * alpha) / levels) - torch.log(q) - torch.log1p(-q)).flatten(1).sum(1)
        return torch.log(q) - torch.log1p(-q), logdet

    def _log_likelihood(self, x: Tensor, y: Tensor | None, noise: Tensor | None = None) -> Tensor:
        u, logdet_logit = self._to_logit(x, noise)
        z, logdet = self.flow_forward(u)
        return self._log_prior(z, y) + logdet + logdet_logit

    @torch.no_grad()  # a score of discrete items: no gradient to keep
    def log_prob(self, x: Tensor, *, condition: Tensor | None = None) -> Tensor:
        """log p(discrete image) in nats (B,) from one dequantisation draw per image: a stochastic
        lower bound, tight up to the dequantisation gap. The draw is fixed and the same for every
        image, so an image scores the same alone or in any batch. Given no labels, a
        class-conditional flow gives the marginal log sum_y p(y) p(x | y) with p(y) uniform."""
        x = x.to(self.device).float()
        noise = torch.rand((1, *x.shape[1:]), generator=torch.Generator().manual_seed(0)).to(x.device).expand_as(x)
        y = None if condition is None else torch.as_tensor(condition, dtype=torch.long, device=x.device)
        return self._log_likelihood(x, y, noise)

    # --- the ImageModel contract ---

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"model": torch.optim.Adam(self.parameters(), lr=self.p.lr)}

    def training_step(self, batch: Any, optimizers: dict[str, torch.optim.Optimizer],
                      runtime: Any) -> dict[str, float]:
        x, y = self.unpack(batch)
        with runtime.autocast():
            nll = -self._log_likelihood(x, y)
        bpd = nll.float().mean() / (self.num_dims * math.log(2))
        runtime.optimize(bpd, optimizers["model"], clip_norm=100.0)
        return {"bits_per_dim": bpd.item()}

    @torch.no_grad()
    def sample(self, n: int, *, condition: Tensor | None = None, generator: torch.Generator | None = None,
               temperature: float | None = None) -> Tensor:
        """``n`` images from latents drawn at ``temperature`` times the prior's scale."""
        y = self.labels_for(n, condition, generator)
        eps = torch.randn((n, self.num_dims), generator=generator).to(self.device)
        z = eps * (self.p.temperature if temperature is None else temperature)
        if self.prior is not None:
            mean, log_std = self.prior(y).chunk(2, dim=1)
            z = mean + log_std.exp() * z
        q = torch.sigmoid(self.flow_inverse(z))
        v = (q - self.p.alpha) / (1 - 2 * self.p.alpha)
        discrete = torch.floor(v * self.p.levels).clamp(0, self.p.levels - 1)
        return discrete / (self.p.levels - 1)


class RealNVP(Flow):
    """RealNVP: per scale, checkerboard couplings, a squeeze, channel-wise couplings, a split;
    the last scale has checkerboard couplings only."""

    family = "realnvp"

    @property
    def num_squeezes(self) -> int:
        return self.p.num_scales - 1

    def build_layers(self, channels: int, p: FlowParams) -> list[nn.Module]:
        layers: list[nn.Module] = []
        for scale in range(p.num_scales):
            last = scale == p.num_scales - 1
            steps = p.steps_per_scale + 1 if last else p.steps_per_scale
            layers += [AffineCoupling(channels, p.hidden_channels, "checkerboard", i % 2) for i in range(steps)]
            if last:
                break
            layers.append(Squeeze())
            channels *= 4
            layers += [AffineCoupling(channels, p.hidden_channels, "channel", i % 2)
                       for i in range(p.steps_per_scale)]
            layers.append(Split())
            channels -= channels // 2
        return layers


class Glow(Flow):
    """Glow: per scale, a squeeze, K steps of (actnorm, invertible 1x1 conv, affine coupling),
    then a split (except after the last scale)."""

    family = "glow"

    @property
    def num_squeezes(self) -> int:
        return self.p.num_scales

    def build_layers(self, channels: int, p: FlowParams) -> list[nn.Module]:
        layers: list[nn.Module] = []
        for scale in range(p.num_scales):
            layers.append(Squeeze())
            channels *= 4
            for _ in range(p.steps_per_scale):
                layers += [ActNorm(channels), InvConv1x1(channels),
                           AffineCoupling(channels, p.hidden_channels, "channel", 0)]
            if scale < p.num_scales - 1:
                layers.append(Split())
                channels -= channels // 2
        return layers
