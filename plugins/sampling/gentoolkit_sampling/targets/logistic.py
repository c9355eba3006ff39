"""Bayesian logistic regression written as a log-joint: the worked example of a posterior target.

y_n ~ Bernoulli(sigmoid(alpha + x_n . beta)), alpha ~ N(0, prior_scale^2), beta ~ N(0, prior_scale^2 I),
on scikit-learn's breast-cancer data (569 tumours, 30 standardised features) by default.
"""

from __future__ import annotations

import math

import torch

from gentoolkit.errors import GentoolkitError
from gentoolkit_sampling.targets.base import Target

DATASETS = ("breast_cancer",)


class LogisticRegression(Target):
    """The posterior over (alpha, beta) of a logistic regression; ``log_prob`` is the log-joint."""

    name = "logistic-regression"

    def __init__(self, features: torch.Tensor, labels: torch.Tensor, prior_scale: float = 1.0,
                 feature_names: list[str] | None = None):
        if prior_scale <= 0:
            raise GentoolkitError(f"Target 'logistic-regression': prior_scale = {prior_scale} must be > 0.")
        self.features = torch.as_tensor(features, dtype=torch.float64)  # (N, F)
        self.labels = torch.as_tensor(labels, dtype=torch.float64)  # (N,)
        self.prior_scale = prior_scale
        self.dim = self.features.shape[1] + 1
        self._names = ["alpha"] + [f"beta[{n}]" for n in (feature_names or range(self.dim - 1))]

    @property
    def param_names(self) -> list[str]:
        return self._names

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return self._log_joint(x, x[:, :1] + x[:, 1:] @ self.features.T)

    def _log_joint(self, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        # log sigmoid(l) for y = 1, log sigmoid(-l) for y = 0, computed stably.
        likelihood = -torch.nn.functional.softplus(-(2 * self.labels - 1) * logits).sum(1)
        prior = -0.5 * (x / self.prior_scale).pow(2).sum(1) - self.dim * (math.log(self.prior_scale)
                                                                          + 0.5 * math.log(2 * math.pi))
        return likelihood + prior

    def log_prob_and_grad(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The log-joint and its analytic gradient X^T (y - sigmoid(logits)) - x / s^2, without autograd."""
        logits = x[:, :1] + x[:, 1:] @ self.features.T  # (B, N)
        residual = self.labels - torch.sigmoid(logits)
        grad = torch.cat([residual.sum(1, keepdim=True), residual @ self.features], 1) - x / self.prior_scale**2
        return self._log_joint(x, logits), grad

    @property
    def num_data(self) -> int:
        return self.features.shape[0]

    def minibatch_grad(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """An unbiased estimate of the log-joint's gradient for each chain x (C, D) from its own data rows
        ``index`` (C, n): the prior's gradient plus N / n times the minibatch's likelihood gradient (SGLD)."""
        features, labels = self.features[index], self.labels[index]  # (C, n, F), (C, n)
        logits = x[:, :1] + (features @ x[:, 1:, None]).squeeze(-1)  # (C, n)
        residual = labels - torch.sigmoid(logits)
        likelihood = torch.cat([residual.sum(1, keepdim=True), (residual[:, :, None] * features).sum(1)], 1)
        return self.num_data / index.shape[1] * likelihood - x / self.prior_scale**2

    def describe(self) -> dict:
        return {**super().describe(), "observations": int(self.features.shape[0])}


def logistic_regression(dataset: str = "breast_cancer", prior_scale: float = 1.0) -> LogisticRegression:
    """The posterior of a logistic regression on a scikit-learn dataset, features standardised."""
    from sklearn import datasets
    from sklearn.preprocessing import StandardScaler

    if dataset not in DATASETS:
        raise GentoolkitError(f"Target 'logistic-regression': unknown dataset {dataset!r}; use one of "
                              f"{', '.join(DATASETS)}.")
    data = datasets.load_breast_cancer()
    features = StandardScaler().fit_transform(data.data)
    return LogisticRegression(torch.from_numpy(features), torch.from_numpy(data.target), prior_scale,
                              [str(n).replace(" ", "_") for n in data.feature_names])
