"""A seed ensemble of any registered detector: ``members`` copies fitted from seeds
``seed, seed + 1, ...``, scored by the mean of their anomaly scores.

A deep detector's ranking varies from seed to seed (the VAE's one-class digits AUROC moves by a
few 1e-4 per digit); the mean score of several seeds is steadier and higher than one seed's
(Lakshminarayanan et al. 2017 for deep ensembles). Members are saved beside the card as detectors
of their own, each in its own format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gentoolkit.errors import ConfigError
from gentoolkit_anomaly.base import BaseDetector
from gentoolkit_anomaly.generative import UsesToolkit

DEFAULT_MEMBER = {"name": "anomaly-generative",
                  "params": {"model": "image-vae", "params": {"latent_dim": 8, "width": 16},
                             "score": "reconstruction", "epochs": 500}}


class EnsembleDetector(UsesToolkit, BaseDetector):
    """Mean anomaly score of ``members`` copies of the registered detector ``detector``
    (``{"name": ..., "params": {...}}``; default: the VAE's reconstruction error), the i-th
    built with seed ``seed + i``. ``device`` and ``toolkit`` go to members that take them."""

    registered_name = "anomaly-ensemble"

    def __init__(self, detector: dict | None = None, members: int = 5, device: str = "cpu", seed: int = 0,
                 contamination: float = 0.1, toolkit: Any = None):
        self.detector = detector
        self.members = members
        self.device = device
        self.seed = seed
        self.contamination = contamination
        self.toolkit = toolkit

    def _fit(self, X: np.ndarray) -> None:
        if not isinstance(self.members, int) or self.members < 1:
            raise ConfigError(f"EnsembleDetector needs members >= 1, got {self.members!r}.")
        self.members_ = [self._member(i).fit(X) for i in range(self.members)]

    def _anomaly_scores(self, X: np.ndarray) -> np.ndarray:
        return np.mean([member.decision_function(X) for member in self.members_], axis=0)

    def _member(self, index: int) -> Any:
        """The ``index``-th member, unfitted: the spec's detector with seed ``seed + index``."""
        spec = self.detector or DEFAULT_MEMBER
        if not isinstance(spec, dict) or "name" not in spec or set(spec) - {"name", "params"}:
            raise ConfigError("EnsembleDetector's detector is a table {name = a registered detector, params = "
                              f"{{...}}}}, got {spec!r}.")
        kit = self._toolkit()
        schema = kit.models.entry(spec["name"]).value.param_schema()
        if "seed" not in schema:
            raise ConfigError(f"{spec['name']!r} has no seed, so its copies would all be the same: an ensemble "
                              "needs a detector that takes seed (a generative detector, Deep SVDD).")
        params = {**(spec.get("params") or {}), "seed": self.seed + index}
        params.update({k: v for k, v in (("device", self.device), ("toolkit", kit)) if k in schema and k not in params})
        return kit.create_model(spec["name"], **params)

    def _save_state(self, folder: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        kit = self._toolkit()
        names = [Path(kit.save_model(member, folder / f"member_{i}")).name for i, member in enumerate(self.members_)]
        return {}, {"members": names}

    def _load_state(self, folder, arrays, values, toolkit, device) -> None:
        self.toolkit = toolkit
        self.members_ = [self._toolkit().load_model(folder / name, device=device) for name in values["members"]]
