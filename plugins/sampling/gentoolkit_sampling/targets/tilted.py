"""A discrete target: a registry model over strings (the molecules prior), tilted by a score.

pi(x) ∝ p(x)^alpha exp(beta s(x)) over the strings the model generates. p is the model's exact
``log_prob`` (a gentoolkit Density and Sampler, e.g. the molecules plugin's ``default-prior``); s is
a scoring component of the molecules plugin (``qed``, ``sa_score``, ...) reached through the registry,
or any Python callable on a list of strings. A NaN score (an invalid SMILES) puts the string outside
the target. The model also proposes (``samplers/imh.py``), so the chain moves in the model's own space.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from gentoolkit.errors import GentoolkitError
from gentoolkit.protocols import Density, Sampler

STRING_KINDS = ("smiles", "text")
Score = Callable[[list[str]], Sequence[float]]


class TiltedModel:
    """pi(x) ∝ p(x)^alpha exp(beta s(x)); each draw is summarised by its score and its log p(x)."""

    discrete = True  # items are strings: only samplers with ``discrete = True`` (imh) move on it
    dim = 2
    param_names = ["score", "log_prior"]

    def __init__(self, model: Any, score: Score, beta: float = 5.0, alpha: float = 1.0,
                 name: str = "molecules-prior", score_name: str = "score"):
        if not (isinstance(model, Density) and isinstance(model, Sampler)):
            raise GentoolkitError(f"Target {name!r}: the model must both sample and give an exact log_prob (a "
                                  "gentoolkit Sampler and Density), as the molecules plugin's `default-prior` does.")
        kind = getattr(getattr(model, "item_spec", None), "kind", None)
        if kind not in STRING_KINDS:
            raise GentoolkitError(f"Target {name!r}: the model generates {kind} items; this target needs a model of "
                                  f"strings ({', '.join(STRING_KINDS)}). For tensors use `model:<name>`.")
        if not (math.isfinite(beta) and math.isfinite(alpha) and alpha >= 0):
            raise GentoolkitError(f"Target {name!r}: beta = {beta} must be finite and alpha = {alpha} finite and >= 0.")
        self.model, self.score, self.beta, self.alpha = model, score, float(beta), float(alpha)
        self.name, self.score_name = name, score_name

    def propose(self, n: int, generator: torch.Generator | None = None) -> list[str]:
        """``n`` strings drawn from the model: the independence proposal q = p."""
        return list(self.model.sample(n, generator=generator))

    def evaluate(self, items: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Score s(x) (NaN outside the target) and log p(x) of each item, float64 (n,) each."""
        scores = torch.as_tensor(np.asarray(self.score(items), dtype=np.float64))
        if scores.shape != (len(items),):
            raise GentoolkitError(f"Target {self.name!r}: the score returned shape {tuple(scores.shape)} for "
                                  f"{len(items)} items; it must return one number per item.")
        if torch.isinf(scores).any():
            bad = items[int(torch.isinf(scores).nonzero()[0])]
            raise GentoolkitError(f"Target {self.name!r}: the score {self.score_name!r} is infinite for {bad!r}; "
                                  "give a score that is finite, or NaN for items outside the target.")
        with torch.no_grad():
            log_prior = self.model.log_prob(items).detach().double().cpu()
        return scores, log_prior

    def log_weight(self, score: torch.Tensor, log_prior: torch.Tensor) -> torch.Tensor:
        """log pi(x) - log q(x), up to a constant: beta s + (alpha - 1) log p; -inf outside the target."""
        value = self.beta * score + (self.alpha - 1) * log_prior
        return torch.nan_to_num(value, nan=-math.inf)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "dim": self.dim, "discrete": True, "score": self.score_name,
                "beta": self.beta, "alpha": self.alpha}


def component_score(toolkit: Any, name: str, params: dict[str, Any]) -> Score:
    """The molecules plugin's scoring component ``name`` as a function of SMILES strings, reached
    through the registry; a SMILES RDKit cannot parse scores NaN."""
    registry = toolkit.contributions("register_scoring_components", "component")
    if not len(registry):
        raise GentoolkitError(f"No scoring component {name!r}: none is registered. The molecules plugin "
                              "registers them (`pip install -e plugins/molecules`).")
    scorer = registry[name].create(**params)  # an unknown name raises, suggesting close ones

    def score(smiles: list[str]) -> np.ndarray:
        from rdkit import Chem, rdBase

        with rdBase.BlockLogs():
            mols = [Chem.MolFromSmiles(s) if s else None for s in smiles]
        out = np.full(len(smiles), np.nan)
        valid = [i for i, mol in enumerate(mols) if mol is not None]
        if valid:
            out[valid] = np.asarray(scorer([mols[i] for i in valid]), dtype=np.float64)
        return out

    return score


def tilted_prior(toolkit: Any, model: str = "default-prior", score: str = "qed",
                 score_params: dict[str, Any] | None = None, beta: float = 5.0, alpha: float = 1.0) -> TiltedModel:
    """The ``molecules-prior`` target: ``model`` (a registered name or a saved model.json) tilted by
    the scoring component ``score``."""
    if toolkit is None:
        raise GentoolkitError("The molecules-prior target needs the toolkit (run it through `gentoolkit sample`).")
    prior = toolkit.load_model(model) if Path(model).exists() else toolkit.create_model(model)
    return TiltedModel(prior, component_score(toolkit, score, dict(score_params or {})), beta, alpha,
                       score_name=score)
