"""DDPM (Ho et al. 2020): a small UNet learns to predict the noise added to an image.

Training noises a batch to a random timestep and regresses the noise (the "simple" loss).
Sampling starts from pure noise and walks back with the DDPM scheduler (all T steps) or the
DDIM scheduler (a few, deterministic with eta = 0). Classes, when given, enter as an embedding
added to the time embedding. ``noise="simplex"`` trains and samples with multi-octave simplex noise
instead of Gaussian (AnoDDPM, Wyatt et al. 2022); such a model has no likelihood bound.
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
from gentoolkit_image.schedulers import DDIMScheduler, DDPMScheduler, simplex_noise

SAMPLERS = ("ddpm", "ddim")
NOISES = ("gaussian", "simplex")


@dataclass
class DDPMParams:
    base_channels: int = 32
    channel_mults: tuple[int, ...] = (1, 2)  # one UNet level each; every level but the last halves H, W
    num_res_blocks: int = 1  # residual blocks per level on each side
    dropout: float = 0.0
    num_timesteps: int = 1000  # T of the training schedule
    beta_schedule: str = "linear"  # linear | cosine
    lr: float = 1e-3
    ema_decay: float = 0.995  # weights averaged for sampling (warmed up over the first steps); 0: none
    sampler: str = "ddpm"  # default sampler: ddpm (T steps) | ddim
    ddim_steps: int = 50
    ddim_eta: float = 0.0  # 0: deterministic DDIM
    levels: int = 256  # grey levels of the discrete images log_prob is for (17 for digits)
    noise: str = "gaussian"  # gaussian | simplex (AnoDDPM: smooth noise at several scales)
    simplex_octaves: int = 3  # simplex noise: octaves, each half the wavelength of the last
    simplex_persistence: float = 0.8  # each octave's weight relative to the last
    simplex_wavelength: float = 0.5  # the first octave's wavelength, a share of the image width


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal embedding of integer timesteps (B,) -> (B, dim), as in the Transformer."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels), channels)


class ResBlock(nn.Module):
    """Two 3x3 convolutions with the time (and class) embedding added in between."""

    def __init__(self, in_ch: int, out_ch: int, emb_dim: int, dropout: float):
        super().__init__()
        self.norm1, self.conv1 = _norm(in_ch), nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.emb = nn.Linear(emb_dim, out_ch)
        self.norm2, self.conv2 = _norm(out_ch), nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        nn.init.zeros_(self.conv2.weight)  # each block starts as the identity
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class UNet(nn.Module):
    """A small UNet eps_theta(x_t, t, y): levels of residual blocks, skip connections across."""

    def __init__(self, in_ch: int, base: int, mults: tuple[int, ...], num_res_blocks: int,
                 dropout: float, num_classes: int):
        super().__init__()
        emb_dim = 4 * base
        chs = [base * m for m in mults]
        self.base = base
        self.time_mlp = nn.Sequential(nn.Linear(base, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.class_emb = nn.Embedding(num_classes, emb_dim) if num_classes else None
        self.stem = nn.Conv2d(in_ch, base, 3, padding=1)
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        prev = base
        for i, ch in enumerate(chs):
            self.down.append(nn.ModuleList(
                ResBlock(prev if j == 0 else ch, ch, emb_dim, dropout) for j in range(num_res_blocks)))
            prev = ch
            if i < len(chs) - 1:
                self.downsample.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
        self.mid = nn.ModuleList([ResBlock(chs[-1], chs[-1], emb_dim, dropout) for _ in range(2)])
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for i in reversed(range(len(chs))):
            below = chs[i + 1] if i < len(chs) - 1 else chs[i]
            self.up.append(nn.ModuleList(
                ResBlock(below + chs[i] if j == 0 else chs[i], chs[i], emb_dim, dropout)
                for j in range(num_res_blocks)))
            if i > 0:
                self.upsample.append(nn.Conv2d(chs[i], chs[i], 3, padding=1))
        self.out = nn.Sequential(_norm(base), nn.SiLU(), nn.Conv2d(base, in_ch, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        emb = self.time_mlp(timestep_embedding(t, self.base))
        if self.class_emb is not None and y is not None:
            emb = emb + self.class_emb(y)
        h = self.stem(x)
        skips = []
        for i, blocks in enumerate(self.down):
            for block in blocks:
                h = block(h, emb)
            skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
        for block in self.mid:
            h = block(h, emb)
        for i, blocks in enumerate(self.up):
            if i > 0:  # back up to this level's resolution
                h = self.upsample[i - 1](F.interpolate(h, scale_factor=2.0, mode="nearest"))
            h = torch.cat([h, skips.pop()], dim=1)
            for block in blocks:
                h = block(h, emb)
        return self.out(h)


class DDPM(ImageModel):
    """Denoising diffusion with a UNet noise model; samples with DDPM or DDIM steps."""

    family = "ddpm"
    likelihood_kind = "bound"

    def __init__(self, image_shape: tuple[int, int, int], classes: Sequence[str] = (), **params: Any):
        p = self.parse_params(DDPMParams, params)
        p.channel_mults = tuple(p.channel_mults)
        super().__init__(image_shape, classes, **{**asdict(p), "channel_mults": list(p.channel_mults)})
        c, h, w = self.image_shape
        factor = 2 ** (len(p.channel_mults) - 1)
        if h % factor or w % factor:
            raise ConfigError(f"ddpm: images of {h}x{w} cannot be halved {len(p.channel_mults) - 1} times; "
                              f"use fewer channel_mults or upscale the images to a multiple of {factor}.")
        if p.sampler not in SAMPLERS:
            raise ConfigError(f"ddpm: unknown sampler {p.sampler!r}; use one of {', '.join(SAMPLERS)}.")
        if p.noise not in NOISES:
            raise ConfigError(f"ddpm: unknown noise {p.noise!r}; use one of {', '.join(NOISES)}.")
        self.p = p
        self.unet = UNet(c, p.base_channels, p.channel_mults, p.num_res_blocks, p.dropout, self.num_classes)
        self.ema = None
        if p.ema_decay > 0:
            self.ema = UNet(c, p.base_channels, p.channel_mults, p.num_res_blocks, p.dropout, self.num_classes)
            self.ema.load_state_dict(self.unet.state_dict())
            self.ema.requires_grad_(False)
            self.register_buffer("ema_updates", torch.zeros((), dtype=torch.long))
        self.scheduler = DDPMScheduler(p.num_timesteps, p.beta_schedule)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"model": torch.optim.Adam(self.unet.parameters(), lr=self.p.lr)}

    def training_step(self, batch: Any, optimizers: dict[str, torch.optim.Optimizer],
                      runtime: Any) -> dict[str, float]:
        x, y = self.unpack(batch)
        x0 = x * 2 - 1
        t = torch.randint(self.p.num_timesteps, (x.shape[0],), device=x.device)
        noise = torch.randn_like(x0) if self.p.noise == "gaussian" else self.draw_noise(len(x0))
        x_t = self.scheduler.add_noise(x0, noise, t)
        with runtime.autocast():
            eps = self.unet(x_t, t, y)
        loss = F.mse_loss(eps.float(), noise)
        runtime.optimize(loss, optimizers["model"], clip_norm=1.0)
        if self.ema is not None:
            self.update_ema()
        return {"loss": loss.item()}

    @torch.no_grad()
    def update_ema(self) -> None:
        """Move the averaged weights toward the trained ones; the decay grows from 0.1 to
        ``ema_decay`` over the first steps, so a short run is not dominated by the initial weights."""
        n = int(self.ema_updates)
        decay = min(self.p.ema_decay, (1 + n) / (10 + n))
        for e, w in zip(self.ema.parameters(), self.unet.parameters()):
            e.lerp_(w, 1 - decay)
        self.ema_updates += 1

    def draw_noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """(n, C, H, W) noise of the kind the model was trained with, on its device."""
        shape = (n, *self.image_shape)
        if self.p.noise == "gaussian":
            return torch.randn(shape, generator=generator).to(self.device)
        return simplex_noise(shape, self.p.simplex_octaves, self.p.simplex_persistence, self.p.simplex_wavelength,
                             generator).to(self.device)

    @torch.no_grad()
    def sample(self, n: int, *, condition: Tensor | None = None, generator: torch.Generator | None = None,
               sampler: str | None = None, steps: int | None = None, eta: float | None = None) -> Tensor:
        """``n`` images from noise; ``sampler`` ddpm walks all T steps, ddim ``steps`` of them."""
        sampler = sampler or self.p.sampler
        if sampler not in SAMPLERS:
            raise ConfigError(f"ddpm: unknown sampler {sampler!r}; use one of {', '.join(SAMPLERS)}.")
        eta = self.p.ddim_eta if eta is None else eta
        if self.p.noise != "gaussian" and sampler == "ddim" and eta:
            raise ConfigError("ddpm: a simplex-noise model samples with sampler='ddpm' or with DDIM at eta=0.")
        net = self.ema if self.ema is not None else self.unet
        y = self.labels_for(n, condition, generator)
        x = self.draw_noise(n, generator)
        if sampler == "ddpm" and self.p.noise != "gaussian":
            x = self._reverse(net, x, self.p.num_timesteps - 1, y, lambda: self.draw_noise(n, generator))
        elif sampler == "ddpm":
            for t in self.scheduler.timesteps.tolist():
                eps = net(x, torch.full((n,), t, device=self.device), y)
                x = self.scheduler.step(eps, t, x, generator)
        else:
            ddim = DDIMScheduler(self.p.num_timesteps, self.p.beta_schedule)
            ddim.set_timesteps(self.p.ddim_steps if steps is None else steps)
            for t in ddim.timesteps.tolist():
                eps = net(x, torch.full((n,), t, device=self.device), y)
                x = ddim.step(eps, t, x, eta, generator)
        return ((x + 1) / 2).clamp(0, 1)

    def _reverse(self, net: nn.Module, x_t: Tensor, t: int, y: Tensor | None, noise: Any) -> Tensor:
        """Ancestral steps from ``x_t`` at step ``t`` down to x0 in [-1, 1], ``noise()`` added at each."""
        sched, n = self.scheduler, len(x_t)
        for s in range(t, -1, -1):
            x0 = sched.predict_x0(net(x_t, torch.full((n,), s, device=self.device), y).float(), s, x_t)
            x_t = float(sched.coef_x0[s]) * x0 + float(sched.coef_xt[s]) * x_t
            if s > 0:
                x_t = x_t + math.sqrt(float(sched.posterior_variance[s])) * noise()
        return x_t

    @property
    def num_timesteps(self) -> int:
        return self.p.num_timesteps

    @torch.no_grad()
    def denoise_from(self, x: Tensor, t: int, *, condition: Tensor | None = None,
                     generator: torch.Generator | None = None) -> Tensor:
        """AnoDDPM's reconstruction (Wyatt et al. 2022): images noised to step ``t`` by q(x_t | x0),
        then ``t + 1`` ancestral steps back to x0. Every image gets the same noise draws, so its
        result does not depend on the rest of the batch. The noise is the model's own kind
        (Gaussian, or simplex for ``noise="simplex"``)."""
        if not 0 <= t < self.p.num_timesteps:
            raise ConfigError(f"ddpm: denoise_from needs 0 <= t < {self.p.num_timesteps}, got {t}.")
        net = self.ema if self.ema is not None else self.unet
        n = len(x)
        y = self.labels_for(n, condition, generator)

        def noise() -> Tensor:
            return self.draw_noise(1, generator).expand(n, -1, -1, -1)

        x_t = self.scheduler.add_noise(x.to(self.device).float() * 2 - 1, noise(), torch.full((n,), t))
        return ((self._reverse(net, x_t, t, y, noise) + 1) / 2).clamp(0, 1)

    # --- Density: the variational bound (Ho et al. 2020, eq. 5) ---

    @torch.no_grad()  # a score of discrete items: no gradient to keep
    def log_prob(self, x: Tensor, *, condition: Tensor | None = None, num_steps: int | None = None) -> Tensor:
        """The negative variational bound, in nats per discrete image (B,): a lower bound on log p(x)
        of the reverse process that ``sample(sampler="ddpm")`` draws from, with a discretised
        Gaussian decoder over ``levels`` grey levels. ``num_steps`` < T evaluates the KL term in the
        middle of each of that many equal strata of timesteps and scales their sum (faster,
        approximate). Noise draws are fixed and the same for every image, so an image scores the
        same alone or in any batch. Given no labels, a conditional model gives the bound on the
        marginal over its classes."""
        if self.p.noise != "gaussian":
            raise ConfigError("ddpm: log_prob is the variational bound of a Gaussian-noise DDPM; this one was trained "
                              f"with noise={self.p.noise!r} (for AnoDDPM's reconstruction). Train a "
                              "noise='gaussian' model for a likelihood.")
        if self.num_classes and condition is None:
            return self.marginal(lambda im, y: self.log_prob(im, condition=y, num_steps=num_steps), x)
        net = self.ema if self.ema is not None else self.unet
        sched, T = self.scheduler, self.p.num_timesteps
        x0 = x.to(self.device).float().clamp(0, 1) * 2 - 1
        x0 = torch.round((x0 + 1) / 2 * (self.p.levels - 1)) / (self.p.levels - 1) * 2 - 1  # the discrete image
        y = None if condition is None else torch.as_tensor(condition, dtype=torch.long, device=x0.device).expand(len(x0))
        generator = torch.Generator().manual_seed(0)

        def noised(t: int) -> tuple[Tensor, Tensor]:
            noise = torch.randn((1, *x0.shape[1:]), generator=generator).to(x0.device).expand_as(x0)
            x_t = sched.add_noise(x0, noise, torch.full((len(x0),), t))
            x0_hat = sched.predict_x0(net(x_t, torch.full((len(x0),), t, device=x0.device), y).float(), t, x_t)
            return x_t, x0_hat

        abar_T = float(sched.alphas_cumprod[-1])
        prior_kl = 0.5 * (abar_T * x0**2 + (1 - abar_T) - 1 - math.log(1 - abar_T))  # KL(q(x_T|x0) || N(0, I))
        bound = prior_kl.flatten(1).sum(1)
        steps = list(range(1, T))
        if num_steps is not None and 0 < num_steps < len(steps):  # the middle step of each of num_steps strata
            steps = sorted({1 + int((k + 0.5) * (T - 1) / num_steps) for k in range(num_steps)})
        kl_sum = torch.zeros(len(x0), device=x0.device)
        for t in steps:  # KL(q(x_{t-1} | x_t, x0) || p(x_{t-1} | x_t)): equal variances, means differ via x0
            _, x0_hat = noised(t)
            kl = float(sched.coef_x0[t]) ** 2 * (x0 - x0_hat) ** 2 / (2 * float(sched.posterior_variance[t]))
            kl_sum += kl.flatten(1).sum(1)
        bound += kl_sum * ((T - 1) / len(steps) if steps else 0.0)
        _, x0_hat = noised(0)  # the decoder p(x0 | x_1): discretised Gaussian with variance beta_1
        decoder = discretised_gaussian_log_prob(x0, x0_hat, math.sqrt(float(sched.betas[0])), self.p.levels)
        return decoder.flatten(1).sum(1) - bound


def discretised_gaussian_log_prob(x: Tensor, mean: Tensor, std: float, levels: int) -> Tensor:
    """log P(x) per pixel of x in [-1, 1] on ``levels`` grey levels, under N(mean, std^2) integrated
    over each level's bin; the end bins reach to -inf and +inf (Ho et al. 2020, section 3.3)."""
    half_bin = 1.0 / (levels - 1)
    upper, lower = (x - mean + half_bin) / std, (x - mean - half_bin) / std
    log_cdf_upper = torch.special.log_ndtr(upper)
    log_survival_lower = torch.special.log_ndtr(-lower)
    middle = torch.log((torch.special.ndtr(upper) - torch.special.ndtr(lower)).clamp(min=1e-12))
    return torch.where(x < -1 + half_bin, log_cdf_upper, torch.where(x > 1 - half_bin, log_survival_lower, middle))
