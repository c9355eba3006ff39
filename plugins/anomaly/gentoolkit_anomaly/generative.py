"""Generative detectors on any registered model, through the core's model contract.

The model comes from a toolkit: a registered name (``toolkit.create_model(name, **params)``,
trained on the normal items by ``gentoolkit.training.fit``) or a saved model
(``toolkit.load_model(path)``, used as it is). Scores: ``nll`` (minus ``log_prob`` of a
``Density``: a flow, PixelCNN, the VAE's ELBO, a SMILES prior, a text LM), ``reconstruction``
(squared error of an ``Autoencoder``), ``reconstruction-probability`` (a VAE's -E_q log p(x | z), An
and Cho 2015), ``typicality`` (Nalisnick et al. 2019) and, in
:class:`LikelihoodRatioDetector`, log p(x) - log p_background(x) (Ren et al. 2019).
"""

from __future__ import annotations

import hashlib
import json
import math
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from gentoolkit.errors import ConfigError
from gentoolkit.protocols import Autoencoder, Density, ReconstructionDensity, Trainable
from gentoolkit_anomaly.base import BaseDetector, check_fraction, check_strings
from gentoolkit_anomaly.errors import AnomalyInputError

SCORES = ("auto", "nll", "reconstruction", "reconstruction-probability", "typicality")
NEEDS = {"reconstruction": (Autoencoder, "encode/decode/reconstruct"),
         "reconstruction-probability": (ReconstructionDensity, "reconstruction_log_prob (a VAE)")}
STRING_KINDS = ("text", "smiles")
_default_toolkit: Any = None
_shared: ContextVar[dict | None] = ContextVar("gentoolkit_anomaly_shared_fits", default=None)


@contextmanager
def shared_fits() -> Iterator[None]:
    """Inside it, detectors that build the same registered model with the same params, epochs, batch
    size, seed and device, and train it on the same items, share one trained copy: e.g. the NLL,
    per-token and ratio scores of one fine-tuned prior cost one fine-tune. Nested calls share the
    outer cache; leaving the outermost one drops it."""
    token = _shared.set({} if _shared.get() is None else _shared.get())
    try:
        yield
    finally:
        _shared.reset(token)


def shared(key: tuple, build: Callable[[], Any]) -> Any:
    """``build()``, or inside :func:`shared_fits` the object an earlier call with ``key`` built."""
    cache = _shared.get()
    if cache is None:
        return build()
    if key not in cache:
        cache[key] = build()
    return cache[key]


class UsesToolkit:
    """For detectors with a ``toolkit`` param: where models come from (default: one with every
    installed plugin). A clone shares the toolkit (a service, not state) and copies the rest."""

    toolkit: Any

    def __sklearn_clone__(self) -> Any:
        from sklearn.base import clone

        params = self.get_params(deep=False)
        return type(self)(**{k: v if k == "toolkit" else clone(v, safe=False) for k, v in params.items()})

    def _toolkit(self) -> Any:
        global _default_toolkit
        if self.toolkit is not None:
            return self.toolkit
        if _default_toolkit is None:
            from gentoolkit.api import Toolkit

            _default_toolkit = Toolkit()
        return _default_toolkit


class GenerativeDetector(UsesToolkit, BaseDetector):
    """Anomaly score from one generative model: ``nll``, ``reconstruction``, ``reconstruction-probability``
    or ``typicality``.

    ``model`` is a registered name (built with ``params``, trained for ``epochs``) or the path of
    a saved model (used as it is; ``fit`` then only sets the threshold). ``log_prob_options``
    go to the model's ``log_prob`` (e.g. ``num_samples`` of the VAE's importance-weighted bound).
    ``toolkit`` is the Toolkit to take models from (default: one with every installed plugin).
    """

    registered_name = "anomaly-generative"

    def __init__(self, model: str = "image-vae", params: dict | None = None, score: str = "auto",
                 epochs: int = 100, batch_size: int = 32, device: str = "cpu", seed: int = 0,
                 contamination: float = 0.1, log_prob_options: dict | None = None, toolkit: Any = None):
        self.model = model
        self.params = params
        self.score = score
        self.log_prob_options = log_prob_options
        self.epochs = epochs
        self.batch_size = batch_size
        self.device = device
        self.seed = seed
        self.contamination = contamination
        self.toolkit = toolkit

    # --- fit and score -------------------------------------------------------------------------

    def _fit(self, X: Any) -> None:
        if self.score not in SCORES:
            raise ConfigError(f"score must be one of {', '.join(SCORES)}; got {self.score!r}.")
        self.model_ = self._trained_model(X, X)
        self.score_ = self._resolve_score(self.model_)
        if self.score_ == "typicality":
            self.train_nll_ = self._nll(self.model_, self._model_items(X))
            self.entropy_ = float(np.mean(self.train_nll_))

    def _anomaly_scores(self, X: Any) -> np.ndarray:
        items = self._model_items(X)
        if self.score_ == "reconstruction":
            return reconstruction_error(self.model_, items, self.batch_size)
        if self.score_ == "reconstruction-probability":
            return negative_log_likelihood(self.model_, items, self.batch_size, "reconstruction_log_prob",
                                           **(self.log_prob_options or {}))
        nll = self._nll(self.model_, items)
        return np.abs(nll - self.entropy_) if self.score_ == "typicality" else nll

    def _nll(self, model: Any, items: Any) -> np.ndarray:
        return negative_log_likelihood(model, items, self.batch_size, **(self.log_prob_options or {}))

    def typicality_test(self, X: Any, reference: Any = None, alpha: float = 0.01, n_bootstrap: int = 1000,
                        seed: int = 0) -> dict[str, Any]:
        """Nalisnick et al.'s (2019) test of the batch ``X`` as a whole: is |mean -log p(X) - H| (H the mean
        training NLL) above the (1 - alpha) quantile of the same statistic over ``n_bootstrap`` batches of
        len(X) normal items, drawn with replacement from ``reference`` (held-out normal items; default:
        the training items, whose NLLs are optimistic)? For the ``nll`` and ``typicality`` scores."""
        self._check_fitted()
        if self.score_ not in ("nll", "typicality"):
            raise ConfigError(f"typicality_test needs a likelihood: score='nll' or 'typicality', not {self.score_!r}.")
        check_fraction("alpha", alpha, upper=0.5)
        train = self.train_nll_ if self.score_ == "typicality" else self.decision_scores_
        nll = self._nll(self.model_, self._model_items(self._check_items(X)))
        normal = train if reference is None else self._nll(self.model_, self._model_items(self._check_items(reference)))
        means = np.random.default_rng(seed).choice(normal, size=(n_bootstrap, len(nll))).mean(axis=1)
        threshold = float(np.quantile(np.abs(means - train.mean()), 1 - alpha))
        statistic = float(abs(nll.mean() - train.mean()))
        return {"statistic": statistic, "threshold": threshold, "out_of_distribution": statistic > threshold}

    def _resolve_score(self, model: Any) -> str:
        score = self.score
        if score == "auto":
            score = "nll" if isinstance(model, Density) else "reconstruction"
        needs, capability = NEEDS.get(score, (Density, "log_prob"))
        if not isinstance(model, needs):
            raise ConfigError(f"score={score!r} needs a model with {capability}; {self.model!r} has none. "
                              "Pick another score or another model (gentoolkit models lists capabilities).")
        return score

    # --- the model -----------------------------------------------------------------------------

    def _trained_model(self, X: Any, train_items: Any, params: dict | None = None) -> Any:
        """The model built from ``self.model`` for items like ``X``, trained on ``train_items``."""
        kit = self._toolkit()
        if _is_saved(self.model):
            model = kit.load_model(self.model, device=self.device)
            self.item_spec_ = model.item_spec
            return model
        params = dict((self.params if params is None else params) or {})
        schema = kit.models.entry(self.model).value.param_schema()
        if "image_shape" in schema and "image_shape" not in params and np.ndim(X) >= 3:
            params["image_shape"] = list(X.shape[1:]) if np.ndim(X) == 4 else [1, *X.shape[1:]]
        key = (id(kit), self.model, json.dumps(params, sort_keys=True, default=str), self.epochs, self.batch_size,
               str(self.device), self.seed, digest(train_items))
        model = shared(key, lambda: self._build_and_train(kit, params, train_items))
        self.item_spec_ = model.item_spec
        return model

    def _build_and_train(self, kit: Any, params: dict, train_items: Any) -> Any:
        import torch

        with torch.random.fork_rng(devices=[]):  # initial weights from `seed`, the caller's RNG untouched
            torch.manual_seed(self.seed)
            model = kit.create_model(self.model, **params)
        if hasattr(model, "to"):
            model.to(self.device)
        if self.epochs > 0 and isinstance(model, Trainable):
            train(model, self._model_items(train_items, model), kit, self.epochs, self.batch_size, self.device,
                  self.seed)
        return model

    # --- items ---------------------------------------------------------------------------------

    def _item_kind(self) -> str:
        """The kind of item the model works on, known before it is built."""
        kit = self._toolkit()
        if _is_saved(self.model):
            from gentoolkit.models import read_card

            card = read_card(self.model)
            return card.item_spec.kind if card.item_spec else kit.models.entry(card.name).value.items
        return kit.models.entry(self.model).value.items

    def _check_items(self, X: Any, reset: bool = False) -> Any:
        kind = self.item_spec_.kind if hasattr(self, "item_spec_") and not reset else self._item_kind()
        if kind not in STRING_KINDS:
            return super()._check_items(X, reset)
        X = check_strings(X, kind)
        if reset:
            self.item_shape_, self.n_features_in_ = (), 1
        return X

    def _model_items(self, X: Any, model: Any = None) -> Any:
        """``X`` as the model takes it: strings as a list, arrays as a float tensor of its item shape."""
        import torch

        model = model if model is not None else self.model_
        spec = model.item_spec
        if spec.kind in STRING_KINDS:
            return list(X)
        shape = tuple(spec.shape)
        if shape and math.prod(X.shape[1:]) != math.prod(shape):
            raise AnomalyInputError(f"X has items of shape {tuple(X.shape[1:])}, but the model {self.model!r} takes "
                                    f"items of shape {shape}. Reshape X, or build the model for that shape "
                                    "(params={'image_shape': [...]}).")
        if spec.value_range is not None:
            low, high = spec.value_range
            if X.min() < low - 1e-6 or X.max() > high + 1e-6:
                raise AnomalyInputError(f"X has values in [{X.min():.3g}, {X.max():.3g}], but the model {self.model!r} "
                                        f"takes items in [{low}, {high}]. Scale X into that range first.")
        return torch.as_tensor(X, dtype=torch.float32).reshape(len(X), *shape).to(self.device)

    # --- saving --------------------------------------------------------------------------------

    def _save_state(self, folder: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        saved = self._toolkit().save_model(self.model_, folder / "model")
        arrays = {}
        if self.score_ == "typicality":
            arrays = {"entropy_": np.asarray(self.entropy_), "train_nll_": self.train_nll_}
        return arrays, {"score_": self.score_, "model": Path(saved).name}

    def _load_state(self, folder, arrays, values, toolkit, device) -> None:
        self.toolkit = toolkit
        self.model_ = self._toolkit().load_model(folder / values["model"], device=device)
        self.score_ = values["score_"]
        self.item_spec_ = self.model_.item_spec
        if "entropy_" in arrays:
            self.entropy_ = float(arrays["entropy_"])
        if "train_nll_" in arrays:
            self.train_nll_ = arrays["train_nll_"]


class LikelihoodRatioDetector(GenerativeDetector):
    """Ren et al. 2019: score = log p(x) - log p_bg(x), p_bg trained on the normal items with each
    value replaced, with probability ``mutation_rate``, by a uniform draw from the value range.
    The background explains what all items share (smooth backgrounds, item statistics)."""

    registered_name = "anomaly-likelihood-ratio"

    def __init__(self, model: str = "image-vae", params: dict | None = None, background_params: dict | None = None,
                 mutation_rate: float = 0.2, epochs: int = 100, batch_size: int = 32, device: str = "cpu",
                 seed: int = 0, contamination: float = 0.1, log_prob_options: dict | None = None,
                 toolkit: Any = None):
        super().__init__(model, params, "nll", epochs, batch_size, device, seed, contamination, log_prob_options,
                         toolkit)
        self.background_params = background_params
        self.mutation_rate = mutation_rate

    def _fit(self, X: Any) -> None:
        if _is_saved(self.model) or self._item_kind() in STRING_KINDS:
            raise ConfigError("The likelihood ratio trains two models on arrays of numbers: give a registered "
                              f"model name, not {self.model!r}, and numeric items.")
        self.model_ = self._trained_model(X, X)
        self.score_ = self._resolve_score(self.model_)
        background = self.params if self.background_params is None else self.background_params
        self.background_ = self._trained_model(X, self._perturbed(X), params=background)

    def _perturbed(self, X: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        low, high = self.item_spec_.value_range or (float(X.min()), float(X.max()))
        mask = rng.random(X.shape) < self.mutation_rate
        return np.where(mask, rng.uniform(low, high, X.shape), X)

    def _anomaly_scores(self, X: Any) -> np.ndarray:
        items = self._model_items(X)
        return self._nll(self.model_, items) - self._nll(self.background_, items)

    def _save_state(self, folder: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, values = super()._save_state(folder)
        saved = self._toolkit().save_model(self.background_, folder / "background")
        return arrays, {**values, "background": Path(saved).name}

    def _load_state(self, folder, arrays, values, toolkit, device) -> None:
        super()._load_state(folder, arrays, values, toolkit, device)
        self.background_ = self._toolkit().load_model(folder / values["background"], device=device)


# --- the model contract, used generically ---------------------------------------------------------

def train(model: Any, items: Any, toolkit: Any, epochs: int, batch_size: int, device: str, seed: int) -> None:
    """Train a Trainable model on ``items`` with the core loop; its one checkpoint, at the end, goes to a
    temporary folder (nothing resumes it, and a save per epoch doubled the fit time of a small VAE)."""
    import tempfile

    import torch
    from torch.utils.data import TensorDataset

    from gentoolkit.runtime import Runtime, RuntimeOptions
    from gentoolkit.training import fit

    dataset = TensorDataset(items, torch.zeros(len(items), dtype=torch.long)) if torch.is_tensor(items) else items
    with tempfile.TemporaryDirectory(prefix="gentoolkit-anomaly-") as folder:
        options = RuntimeOptions(device=device, seed=seed, threads=torch.get_num_threads(), out=Path(folder),
                                 progress=False)
        with Runtime(options, task="anomaly-fit", toolkit=toolkit) as runtime:
            fit(model, dataset, runtime, epochs=epochs, batch_size=batch_size, resume=False,
                checkpoint_every=max(epochs, 1))


def negative_log_likelihood(model: Any, items: Any, batch_size: int, method: str = "log_prob",
                            **options: Any) -> np.ndarray:
    """-log p(x) in nats per item (a bound for a VAE or a diffusion model), or minus another of the
    model's per-item log-probabilities (``method``: ``reconstruction_log_prob``)."""
    import torch

    with torch.no_grad():
        return np.concatenate([-getattr(model, method)(chunk, **options).double().cpu().numpy()
                               for chunk in _batches(items, batch_size)])


def reconstruction_error(model: Any, items: Any, batch_size: int) -> np.ndarray:
    """Squared error of ``model.reconstruct(x)`` per item."""
    import torch

    errors = []
    with torch.no_grad():
        for chunk in _batches(items, batch_size):
            restored = model.reconstruct(chunk).double()
            errors.append(((restored - chunk.double()) ** 2).flatten(1).sum(1).cpu().numpy())
    return np.concatenate(errors)


def digest(items: Any) -> str:
    """A SHA-256 of training items (strings, or an array's shape, dtype and bytes): part of a shared fit's key."""
    sha = hashlib.sha256()
    if isinstance(items, (list, tuple)) and all(isinstance(item, str) for item in items):
        for item in items:
            sha.update(item.encode() + b"\0")
        return "str:" + sha.hexdigest()
    array = np.ascontiguousarray(np.asarray(items))
    sha.update(f"{array.shape}{array.dtype}".encode())
    sha.update(array.tobytes())
    return sha.hexdigest()


def _batches(items: Any, size: int) -> list:
    return [items[i:i + size] for i in range(0, len(items), max(1, size))]


def _is_saved(model: Any) -> bool:
    """True for the path of a saved model, False for a registered name."""
    return isinstance(model, Path) or (isinstance(model, str) and (model.endswith(".json") or Path(model).exists()))
