"""Unusual SMILES or texts by a sequence model's per-token likelihood (the core's ``TokenDensity``:
the molecules prior, a causal LM), reached through the registry like every generative detector.

Scores: ``nll`` (-log p(x), nats), ``token-nll`` (its mean over the item's tokens: length-normalised,
exp of it is the perplexity), ``ratio`` (Ren et al. 2019: -log p(x) + log p_bg(x), ``model``
fine-tuned on the normal items, ``background`` as it is, by default ``model`` before fine-tuning,
e.g. the shipped prior) and ``token-ratio`` (the same per token). The background explains what any
molecule or text shares (common fragments, grammar); the ratio keeps what is particular to the series.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from gentoolkit.errors import ConfigError
from gentoolkit.protocols import TokenDensity
from gentoolkit_anomaly.generative import GenerativeDetector, _is_saved, shared

SEQUENCE_SCORES = ("nll", "token-nll", "ratio", "token-ratio")


class SequenceDetector(GenerativeDetector):
    """Anomaly score of strings from a ``TokenDensity`` model fine-tuned for ``epochs`` on the
    normal items (``model`` a registered name built with ``params``, or a saved model used as it
    is); ``background`` (a registered name or saved model, used as it is) for the ratio scores."""

    registered_name = "anomaly-sequence"

    def __init__(self, model: str = "default-prior", params: dict | None = None, score: str = "token-nll",
                 background: str = "", background_params: dict | None = None, epochs: int = 5,
                 batch_size: int = 64, device: str = "cpu", seed: int = 0, contamination: float = 0.1,
                 toolkit: Any = None):
        super().__init__(model, params, score, epochs, batch_size, device, seed, contamination, None, toolkit)
        self.background = background
        self.background_params = background_params

    def _fit(self, X: list[str]) -> None:
        if self.score not in SEQUENCE_SCORES:
            raise ConfigError(f"score must be one of {', '.join(SEQUENCE_SCORES)}; got {self.score!r}.")
        ratio = self.score.endswith("ratio")
        if ratio and not self.background and (_is_saved(self.model) or self.epochs < 1):
            raise ConfigError("The likelihood ratio compares a model fine-tuned on the normal items with a background "
                              "model: give epochs >= 1 with a registered model (its untouched copy is the background), "
                              "or a background (a registered name or a saved model).")
        self.model_ = self._checked(self._trained_model(X, X), self.model)
        self.score_ = self.score
        if ratio:
            self.background_ = self._checked(self._background_model(), self.background or self.model)

    def _background_model(self) -> Any:
        kit = self._toolkit()
        name = self.background or self.model
        if _is_saved(name):
            return kit.load_model(name, device=self.device)
        params = (self.params if self.background_params is None else self.background_params) or {}
        key = (id(kit), name, json.dumps(params, sort_keys=True, default=str), str(self.device))
        return shared(key, lambda: kit.create_model(name, **params).to(self.device))

    def _checked(self, model: Any, name: str) -> Any:
        if not isinstance(model, TokenDensity):
            raise ConfigError(f"{name!r} does not score each token (no token_log_probs): the sequence detector needs "
                              "a SMILES prior (default-prior, prior-lstm, ...) or a causal LM (hf-local).")
        if hasattr(model, "eval"):
            model.eval()
        return model

    def _anomaly_scores(self, X: list[str]) -> np.ndarray:
        return np.asarray([per_token.sum() / (len(per_token) if self.score_.startswith("token") else 1)
                           for _, per_token in self._token_scores(X)])

    def token_scores(self, X: Any) -> list[tuple[list[str], np.ndarray]]:
        """Per item: its tokens and each one's anomaly contribution in nats (the NLL, or for the ratio
        scores NLL minus the background's NLL where both models cut the item into the same tokens)."""
        self._check_fitted()
        return self._token_scores(self._check_items(X))

    def _token_scores(self, items: list[str]) -> list[tuple[list[str], np.ndarray]]:
        scored = self._token_nll(self.model_, items)
        if not self.score_.endswith("ratio"):
            return scored
        background = self._token_nll(self.background_, items)
        out = []
        for (tokens, nll), (bg_tokens, bg_nll) in zip(scored, background):
            if tokens == bg_tokens:
                out.append((tokens, nll - bg_nll))
            else:  # other tokenizers: only the totals compare; spread the background's evenly
                out.append((tokens, nll - bg_nll.sum() / len(nll)))
        return out

    def surprising_tokens(self, X: Any, top: int = 3) -> list[list[tuple[int, str, float]]]:
        """The ``top`` tokens of each item that add most to its score: (position, token, nats)."""
        out = []
        for tokens, values in self.token_scores(X):
            order = np.argsort(-values, kind="stable")[:top]
            out.append([(int(i), tokens[i], float(values[i])) for i in order])
        return out

    def _token_nll(self, model: Any, items: list[str]) -> list[tuple[list[str], np.ndarray]]:
        out = []
        for start in range(0, len(items), max(1, self.batch_size)):
            for tokens, values in model.token_log_probs(items[start:start + self.batch_size]):
                out.append((tokens, -values.double().cpu().numpy()))
        return out

    def _save_state(self, folder: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, values = super()._save_state(folder)
        if self.score_.endswith("ratio"):
            values["background"] = Path(self._toolkit().save_model(self.background_, folder / "background")).name
        return arrays, values

    def _load_state(self, folder, arrays, values, toolkit, device) -> None:
        super()._load_state(folder, arrays, values, toolkit, device)
        self.model_ = self._checked(self.model_, self.model)
        if "background" in values:
            self.background_ = self._checked(self._toolkit().load_model(folder / values["background"],
                                                                         device=device), "background")
