"""WaveNet (van den Oord et al. 2016) on 8-bit mu-law audio, with Fast WaveNet sampling.

Clips are mu-law companded to 256 levels and modelled autoregressively with a 256-way softmax:
an embedding, a causal convolution, stacks of dilated causal convolutions (kernel 2, dilations
1, 2, ..., 2**(layers-1)) with gated units tanh(f) * sigmoid(g), residual and skip connections,
then ReLU -> 1x1 -> ReLU -> 1x1 to logits. A class-conditional model adds a learned per-class
bias to every gate (global conditioning). ``log_prob`` is the exact log-likelihood of a clip's
mu-law codes; ``sample`` runs the Fast WaveNet recursion (Paine et al. 2016): each dilated layer
keeps a queue of its last ``dilation`` inputs, so a new sample costs one step per layer instead of
a pass over the receptive field (``sample(..., cached=False)`` is that full recompute).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from gentoolkit import ConfigError

from gentoolkit_audio.models.base import AudioModel


@dataclass
class WaveNetParams:
    channels: int = 32  # residual channels
    skip_channels: int = 64
    layers: int = 10  # dilated layers per stack: dilations 1, 2, ..., 2**(layers - 1)
    stacks: int = 1  # receptive field = 2 + stacks * (2**layers - 1) samples
    quantization: int = 256  # mu-law levels (256: 8 bits)
    crop: int = 2000  # training window in samples (with full left context); 0 trains on whole clips
    lr: float = 2e-3


class WaveNet(AudioModel):
    """Sampler and Density (exact, over mu-law codes)."""

    family = "wavenet"
    likelihood_kind = "exact"

    def __init__(self, length: int = 16000, sample_rate: int = 16000, classes: Sequence[str] = (), **params: Any):
        p = self.parse_params(WaveNetParams, params)
        if p.layers < 1 or p.stacks < 1 or p.channels < 1 or not 2 <= p.quantization <= 65536:
            raise ConfigError(f"wavenet: layers, stacks and channels must be >= 1 and quantization in 2..65536; got {p}.")
        super().__init__(length, sample_rate, classes, **asdict(p))
        self.p = p
        c, s, q = p.channels, p.skip_channels, p.quantization
        self.dilations = [2**i for _ in range(p.stacks) for i in range(p.layers)]
        self.embed = nn.Embedding(q, c)
        self.causal = nn.Conv1d(c, c, 2)
        self.gates = nn.ModuleList(nn.Conv1d(c, 2 * c, 2, dilation=d) for d in self.dilations)
        self.residuals = nn.ModuleList(nn.Conv1d(c, c, 1) for _ in self.dilations)
        self.skips = nn.ModuleList(nn.Conv1d(c, s, 1) for _ in self.dilations)
        self.condition = nn.Embedding(self.num_classes, 2 * c * len(self.dilations)) if self.num_classes else None
        self.head = nn.Sequential(nn.ReLU(), nn.Conv1d(s, s, 1), nn.ReLU(), nn.Conv1d(s, q, 1))

    @property
    def receptive_field(self) -> int:
        """Inputs that one output sees: 2 from the causal convolution plus the dilations."""
        return 2 + sum(self.dilations)

    @property
    def start_code(self) -> int:
        """The code of silence (0.0), fed before the first sample."""
        return self.p.quantization // 2

    def encode(self, x: Tensor) -> Tensor:
        """Waveforms in [-1, 1] -> mu-law codes (long) in 0..quantization-1."""
        import torchaudio.functional as AF

        return AF.mu_law_encoding(x.clamp(-1, 1), self.p.quantization)

    def decode(self, codes: Tensor) -> Tensor:
        """Mu-law codes -> waveforms in [-1, 1]."""
        import torchaudio.functional as AF

        return AF.mu_law_decoding(codes, self.p.quantization)

    def shifted(self, codes: Tensor) -> Tensor:
        """The inputs that predict ``codes``: the start code, then every code but the last."""
        return F.pad(codes[:, :-1], (1, 0), value=self.start_code)

    def _gate_bias(self, y: Tensor | None) -> list[Tensor | None]:
        if self.condition is None:
            return [None] * len(self.dilations)
        if y is None:
            raise ConfigError("wavenet: this model is class-conditional; give class labels.")
        return list(self.condition(y).chunk(len(self.dilations), dim=1))  # each (B, 2C)

    def forward(self, inputs: Tensor, y: Tensor | None = None) -> Tensor:
        """Logits (B, Q, T) for input codes (B, T): position t sees inputs[..t] (zero padding before)."""
        h = self.causal(F.pad(self.embed(inputs).transpose(1, 2), (1, 0)))
        skip = 0
        for gate, residual, to_skip, bias, d in zip(self.gates, self.residuals, self.skips, self._gate_bias(y),
                                                     self.dilations):
            z = gate(F.pad(h, (d, 0)))
            if bias is not None:
                z = z + bias[:, :, None]
            f, g = z.chunk(2, dim=1)
            out = torch.tanh(f) * torch.sigmoid(g)
            skip = skip + to_skip(out)
            h = h + residual(out)
        return self.head(skip)

    # --- Density: exact log-likelihood of the mu-law codes -------------------------------------

    def log_prob(self, x: Tensor, *, condition: Tensor | None = None, batch_size: int = 8) -> Tensor:
        """log p(codes) in nats per clip (B,): the sum over samples of log p(code_t | code_<t), the
        exact likelihood of the clip's 8-bit mu-law codes. Without labels, a conditional model
        gives the marginal over its classes."""
        if self.num_classes and condition is None:
            return self.marginal(lambda w, y: self.log_prob(w, condition=y, batch_size=batch_size), x)
        x = torch.as_tensor(x).to(self.device)
        x = x if x.is_floating_point() else x.float()
        y = self.labels_for(len(x), condition) if self.num_classes else None
        out = []
        with torch.no_grad():
            for i in range(0, len(x), batch_size):
                codes = self.encode(x[i:i + batch_size])
                logits = self(self.shifted(codes), None if y is None else y[i:i + batch_size])
                logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
                out.append(-F.cross_entropy(logits, codes, reduction="none").sum(1))
        return torch.cat(out)

    # --- Trainable -----------------------------------------------------------------------------

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"wavenet": torch.optim.Adam(self.parameters(), lr=self.p.lr)}

    def loss(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Mean cross-entropy (nats per sample) on a random window of ``crop`` samples, one window
        per batch, each position seeing its full receptive field of real context."""
        codes = self.encode(x)
        inputs, length = self.shifted(codes), codes.shape[1]
        crop = min(self.p.crop or length, length)
        start = int(torch.randint(length - crop + 1, ()))
        context = min(start, self.receptive_field - 1)
        logits = self(inputs[:, start - context:start + crop], y)[:, :, context:]
        return F.cross_entropy(logits.float(), codes[:, start:start + crop])

    def training_step(self, batch: Any, optimizers: dict, runtime: Any) -> dict[str, float]:
        x, y = self.unpack(batch)
        with runtime.autocast():
            loss = self.loss(x, y)
        runtime.optimize(loss, optimizers["wavenet"])
        return {"loss": loss.item(), "bits_per_sample": loss.item() / 0.6931471805599453}

    def validation_step(self, batch: Any, runtime: Any) -> dict[str, float]:
        x, y = self.unpack(batch)
        return {"loss": self.loss(x, y).item()}

    # --- Sampler: Fast WaveNet ------------------------------------------------------------------

    @torch.no_grad()
    def sample(self, n: int, *, condition: Any = None, generator: torch.Generator | None = None,
               length: int | None = None, cached: bool = True, temperature: float = 1.0) -> Tensor:
        """``n`` clips (n, length) in [-1, 1]. Each code is drawn by inverse CDF from uniforms taken
        from ``generator`` up front, so cached and full-recompute sampling draw the same clips."""
        length = length or self.length
        y = self.labels_for(n, condition, generator)
        uniforms = torch.rand(n, length, generator=generator, dtype=torch.float64).to(self.device)
        step = self._cached_steps(n, y) if cached else self._recompute_steps(n, y, length)
        code = torch.full((n,), self.start_code, dtype=torch.long, device=self.device)
        codes = torch.empty(n, length, dtype=torch.long, device=self.device)
        for t in range(length):
            probs = torch.softmax(step(code).double() / temperature, dim=-1)
            cdf = probs.cumsum(-1)
            code = (cdf < uniforms[:, t:t + 1] * cdf[:, -1:]).sum(-1).clamp_(max=self.p.quantization - 1)
            codes[:, t] = code
        return self.decode(codes).float()

    def _recompute_steps(self, n: int, y: Tensor | None, length: int) -> Any:
        """Naive sampling: each step runs the network over the last receptive field of inputs."""
        inputs = torch.full((n, length), self.start_code, dtype=torch.long, device=self.device)
        t = 0

        def step(code: Tensor) -> Tensor:
            nonlocal t
            inputs[:, t] = code
            t += 1
            return self(inputs[:, max(0, t - self.receptive_field):t], y)[:, :, -1]

        return step

    def _cached_steps(self, n: int, y: Tensor | None) -> Any:
        """Fast WaveNet: one queue (B, C, dilation) per dilated convolution holds the inputs it
        still needs; a step reads the input from ``dilation`` steps ago and writes the new one.
        Each layer is two matrix products: [past, now] -> gate, and gate output -> [residual, skip]."""
        c, convs = self.p.channels, [self.causal, *self.gates]
        queues = [torch.zeros(n, d, c, device=self.device, dtype=self.causal.weight.dtype) for d in [1, *self.dilations]]
        conv_w = [torch.cat([conv.weight[:, :, 0], conv.weight[:, :, 1]], 1).T for conv in convs]  # (2C, out)
        conv_b = [conv.bias.expand(n, -1) for conv in convs]
        for i, bias in enumerate(self._gate_bias(y), start=1):
            if bias is not None:
                conv_b[i] = conv_b[i] + bias
        out_w = [torch.cat([r.weight[:, :, 0], k.weight[:, :, 0]]).T for r, k in zip(self.residuals, self.skips)]
        out_b = [torch.cat([r.bias, k.bias]) for r, k in zip(self.residuals, self.skips)]
        t = 0

        def conv_step(i: int, h: Tensor) -> Tensor:
            queue, slot = queues[i], t % queues[i].shape[1]
            out = torch.addmm(conv_b[i], torch.cat([queue[:, slot], h], 1), conv_w[i])
            queue[:, slot] = h
            return out

        def step(code: Tensor) -> Tensor:
            nonlocal t
            h, skip = conv_step(0, self.embed(code)), 0
            for i in range(1, len(convs)):
                f, g = conv_step(i, h).chunk(2, dim=1)
                res, to_skip = torch.addmm(out_b[i - 1], torch.tanh(f) * torch.sigmoid(g), out_w[i - 1]).split(
                    [c, self.p.skip_channels], dim=1)
                h, skip = h + res, skip + to_skip
            t += 1
            return self.head(skip[:, :, None])[:, :, 0]

        return step
