"""The model contract: what any plugin may rely on in any other plugin's models.

Each protocol is one capability a model may have. A model implements the ones it can, and its
:class:`~gentoolkit.contributions.Model` contribution lists them by name (``capabilities``), so
``gentoolkit models --can log_prob`` needs no torch. Consumers check with ``isinstance`` against
the protocol, never against a plugin's class:

    model = kit.load_model("runs/image/<run>/model.json")
    if isinstance(model, Density):
        scores = model.log_prob(images)          # (B,) nats, whatever plugin made the model

Every model also says which items it works on (:class:`ItemSpec`): images of a shape and value
range, strings of text or SMILES, waveforms at a sample rate, tabular vectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Mapping, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch

__all__ = ["ItemSpec", "Sampler", "Density", "Autoencoder", "Trainable", "ModuleWrapper", "LatentGenerator", "PartialDenoiser",
           "TokenDensity", "ReconstructionDensity", "CAPABILITIES",
           "LIKELIHOOD_KINDS", "capabilities_of"]

ItemKind = Literal["image", "text", "smiles", "waveform", "tabular"]
LIKELIHOOD_KINDS = ("exact", "bound", "dequantized")


@dataclass(frozen=True)
class ItemSpec:
    """What one item of a model or dataset is: its kind, tensor shape, value range, classes."""

    kind: str  # "image" (C, H, W) | "text" | "smiles" (str) | "waveform" (T,) | "tabular" (D,)
    shape: tuple[int, ...] = ()  # per-item tensor shape; () for strings
    value_range: tuple[float, float] | None = None  # e.g. (0.0, 1.0) for images
    sample_rate: int | None = None  # waveforms: samples per second
    classes: tuple[str, ...] = field(default=())  # class names of a conditional model, index = label

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "shape": list(self.shape),
                "value_range": list(self.value_range) if self.value_range else None,
                "sample_rate": self.sample_rate, "classes": list(self.classes)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ItemSpec:
        value_range = data.get("value_range")
        return cls(data["kind"], tuple(data.get("shape") or ()), tuple(value_range) if value_range else None,
                   data.get("sample_rate"), tuple(data.get("classes") or ()))


@runtime_checkable
class Sampler(Protocol):
    """Draws new items: ``sample(n)`` returns ``n`` of them (a tensor batch or a list of strings)."""

    item_spec: ItemSpec

    def sample(self, n: int, *, condition: Any = None, generator: torch.Generator | None = None) -> Any:
        """``condition``: class labels (B,) for a class-conditional model, a prompt for a language model."""


@runtime_checkable
class Density(Protocol):
    """Scores items: ``log_prob(x)`` is one log-density (nats) per item, shape (B,)."""

    item_spec: ItemSpec
    likelihood_kind: str  # "exact" | "bound" (ELBO, diffusion bound) | "dequantized" (flows on discrete data)

    def log_prob(self, x: Any, *, condition: Any = None) -> torch.Tensor:
        """Without ``condition`` a class-conditional model gives the marginal over its classes.
        Autograd flows through it where the density is differentiable in ``x`` (a continuous
        model, an MCMC target); likelihoods of discrete items (grey levels, tokens) need none."""


@runtime_checkable
class Autoencoder(Protocol):
    """Maps items to latent codes and back; ``reconstruct(x)`` is ``decode(encode(x))``."""

    item_spec: ItemSpec

    def encode(self, x: Any) -> torch.Tensor:
        """Latent codes (B, ...) of items ``x`` (the posterior mean for a VAE)."""

    def decode(self, z: torch.Tensor) -> Any:
        """Items in the model's value range from latent codes ``z``."""

    def reconstruct(self, x: Any) -> Any:
        """The items ``x`` passed through the code and back."""


@runtime_checkable
class Trainable(Protocol):
    """Trained by the core loop (:func:`gentoolkit.training.fit`), Lightning-style.

    The model builds its optimizers and does its own backward and optimizer steps in
    ``training_step`` (through ``runtime.optimize``), so a GAN can alternate two networks.
    An optional ``setup(dataset)``, called by the loop before anything else, builds what depends
    on the data (a tabular model fits its column encoders there).
    """

    def configure_optimizers(self) -> Mapping[str, torch.optim.Optimizer]:
        """The optimizers by name (saved and restored with every checkpoint)."""

    def training_step(self, batch: Any, optimizers: Mapping[str, torch.optim.Optimizer],
                      runtime: Any) -> Mapping[str, float]:
        """One update on ``batch`` (already on the device); returns the losses to log, by name."""


class ModuleWrapper:
    """The ``torch.nn.Module`` methods the core loop and checkpoints call (``train``, ``eval``,
    ``state_dict``, ``load_state_dict``, ``parameters``, ``buffers``), passed on to the network a
    model holds rather than is (a model that keeps a tokenizer or sampling code beside its network).
    Subclasses name that attribute in ``wrapped``.
    """

    wrapped: str = "network"

    def train(self, mode: bool = True):
        getattr(self, self.wrapped).train(mode)
        return self

    def eval(self):
        return self.train(False)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return getattr(self, self.wrapped).state_dict()

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        getattr(self, self.wrapped).load_state_dict(state)

    def parameters(self):
        return getattr(self, self.wrapped).parameters()

    def buffers(self):
        return getattr(self, self.wrapped).buffers()


@runtime_checkable
class LatentGenerator(Protocol):
    """A GAN's generator and critic, for detectors that invert the generator (f-AnoGAN).

    ``generate(z)`` maps codes of shape (B, *latent_shape) to items, differentiably in ``z``;
    ``critic_features(x)`` (B, F) are the features the discriminator scores items from.
    """

    item_spec: ItemSpec
    latent_shape: tuple[int, ...]

    def generate(self, z: torch.Tensor) -> Any:
        """Items (B, ...) in the model's value range from codes ``z``."""

    def critic_features(self, x: Any) -> torch.Tensor:
        """The discriminator's features of items ``x`` (B, F), differentiable in ``x``."""


@runtime_checkable
class PartialDenoiser(Protocol):
    """A diffusion model that noises items part way and denoises them back (AnoDDPM)."""

    item_spec: ItemSpec
    num_timesteps: int

    def denoise_from(self, x: Any, t: int, *, generator: torch.Generator | None = None) -> Any:
        """Items ``x`` noised to step ``t`` (0 <= t < num_timesteps), then denoised by the reverse
        process from ``t`` to 0; the same noise for every item, so an item's result is batch-free."""


@runtime_checkable
class TokenDensity(Protocol):
    """A ``Density`` over token sequences (SMILES, text) that also scores each token, for per-token
    NLL, perplexity and showing which tokens surprised the model."""

    item_spec: ItemSpec
    likelihood_kind: str

    def log_prob(self, x: Any, *, condition: Any = None) -> torch.Tensor:
        """As :meth:`Density.log_prob`: (B,) nats."""

    def token_log_probs(self, x: Any, *, condition: Any = None) -> list[tuple[list[str], torch.Tensor]]:
        """Per item: its tokens as text (the end token last) and each token's log-probability (T,)
        in nats given the tokens before it; they sum to ``log_prob(x)``."""


@runtime_checkable
class ReconstructionDensity(Protocol):
    """A latent-variable model (a VAE) that scores how well its decoder explains items from their own
    codes: An and Cho's (2015) reconstruction probability, for anomaly detection."""

    item_spec: ItemSpec

    def reconstruction_log_prob(self, x: Any, *, num_samples: int = 1) -> torch.Tensor:
        """E over z ~ q(z | x) of log p(x | z), (B,) nats, from ``num_samples`` draws of z that are the
        same for every item (an item scores the same alone or in any batch)."""


CAPABILITIES: dict[str, type] = {"sample": Sampler, "log_prob": Density, "encode": Autoencoder,
                                 "train": Trainable}


def capabilities_of(model: Any) -> set[str]:
    """The capability names (``sample``, ``log_prob``, ``encode``, ``train``) ``model`` implements."""
    return {name for name, protocol in CAPABILITIES.items() if isinstance(model, protocol)}
