"""Any registry model with a continuous density as an MCMC target, reached only through the
core's contract (:class:`gentoolkit.protocols.Density`), never through its plugin's classes.

An energy-based model (one with ``energy(x)``, as the ``ebm`` model) is a target too: log p = -E
up to a constant, which MCMC does not need.

Items with a bounded ``value_range`` (images in [0, 1]) are sampled in an unconstrained space:
x = lo + (hi - lo) sigmoid(u), with the log-Jacobian added, as Stan does for bounded parameters.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from gentoolkit.errors import GentoolkitError
from gentoolkit.protocols import Density
from gentoolkit_sampling.targets.base import Target

TENSOR_KINDS = ("image", "tabular", "waveform")


class ModelTarget(Target):
    """The density of ``model`` (a :class:`Density`, or a model with ``energy``) on flattened items."""

    def __init__(self, model: Any, name: str = "model"):
        self.energy = None if isinstance(model, Density) else getattr(model, "energy", None)
        if not isinstance(model, Density) and self.energy is None:
            raise GentoolkitError(f"Target {name!r}: the model has no log_prob (it is not a gentoolkit Density) "
                                  "and no energy; pick a model listed by `gentoolkit models --can log_prob`, or an "
                                  "energy-based model such as `ebm`.")
        spec = model.item_spec
        if spec.kind not in TENSOR_KINDS or not spec.shape:
            raise GentoolkitError(f"Target {name!r}: the model scores {spec.kind} items, not tensors; MCMC here "
                                  f"needs a continuous density over {', '.join(TENSOR_KINDS)} items.")
        self.model, self.name, self.shape = model, name, tuple(spec.shape)
        self.dim = math.prod(self.shape)
        self.bounds = tuple(spec.value_range) if spec.value_range else None
        parameter = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
        self.dtype = parameter.dtype if parameter is not None else torch.float32
        self.device = parameter.device if parameter is not None else torch.device("cpu")
        self.likelihood_kind = getattr(model, "likelihood_kind", "exact")

    def to_items(self, u: torch.Tensor) -> torch.Tensor:
        """Items (B, *shape) in the model's value range from unconstrained points (B, dim)."""
        if self.bounds is None:
            return u.view(-1, *self.shape)
        lo, hi = self.bounds
        return (lo + (hi - lo) * torch.sigmoid(u)).view(-1, *self.shape)

    def log_prob(self, u: torch.Tensor) -> torch.Tensor:
        items = self.to_items(u)
        log_density = -self.energy(items) if self.energy is not None else self.model.log_prob(items)
        if u.requires_grad and not log_density.requires_grad:  # else only the Jacobian would steer the chain
            raise GentoolkitError(f"Target {self.name!r}: the model's log_prob gives no gradient in its input "
                                  f"(a {self.likelihood_kind} likelihood of discrete values, or computed without "
                                  "autograd), so gradient samplers (hmc, nuts, mala, ula) cannot run on it; use "
                                  "rwmh or mwg.")
        if self.bounds is None:
            return log_density
        lo, hi = self.bounds
        log_jacobian = (math.log(hi - lo) - torch.nn.functional.softplus(u) - torch.nn.functional.softplus(-u)).sum(1)
        return log_density + log_jacobian

    def init(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        if hasattr(self.model, "sample") and self.bounds is not None:
            lo, hi = self.bounds
            items = self.model.sample(n, generator=generator).detach().to(self.device, self.dtype).reshape(n, -1)
            p = ((items - lo) / (hi - lo)).clamp(1e-3, 1 - 1e-3)
            return torch.log(p) - torch.log1p(-p)
        return super().init(n, generator)

    def describe(self) -> dict:
        return {**super().describe(), "shape": list(self.shape), "likelihood_kind": self.likelihood_kind}


def model_target(toolkit: Any, reference: str, device: str = "cpu") -> ModelTarget:
    """``reference`` is a saved model (a path to model.json or a model folder) or a registered model name."""
    from pathlib import Path

    if toolkit is None:
        raise GentoolkitError("A model target needs the toolkit (run it through `gentoolkit run sampling`).")
    if Path(reference).exists():
        model = toolkit.load_model(reference, device=device)
    else:
        model = toolkit.create_model(reference)
        model = model.to(device) if hasattr(model, "to") else model
    if hasattr(model, "eval"):
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
    return ModelTarget(model, f"model:{reference}")
