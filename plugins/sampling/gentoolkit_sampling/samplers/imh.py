"""Independence Metropolis-Hastings on a discrete model target (``targets/tilted.py``).

Each chain proposes x' from the model q = p and accepts with min(1, w(x') / w(x)), where
w = pi / q = p^(alpha - 1) exp(beta s). With alpha = 1 the model cancels: min(1, exp(beta (s' - s))).
Proposals do not depend on the chain's state, so they are drawn ``block`` steps at a time in one
batch of the model. A draw is recorded as (score, log p); the strings are kept in ``Chains.items``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from gentoolkit.errors import GentoolkitError
from gentoolkit_sampling.samplers.base import Chains, check_positive, positive


@dataclass
class IMHParams:
    block: int = positive(64)  # proposals per chain drawn in one batch of the model
    max_init_tries: int = positive(100)  # proposals a chain may take to find a start inside the target

    def __post_init__(self):
        check_positive(self)


@dataclass
class _Proposals:
    """A stream of C proposals per step, drawn and evaluated ``block`` steps at a time."""

    target: Any
    num_chains: int
    block: int
    generator: torch.Generator | None
    queue: list[tuple[list[str], torch.Tensor, torch.Tensor, torch.Tensor]] = field(default_factory=list)

    def next(self) -> tuple[list[str], torch.Tensor, torch.Tensor, torch.Tensor]:
        """Items, scores, log p and log weights (C,) of the next step's proposals."""
        if not self.queue:
            c = self.num_chains
            items = self.target.propose(c * self.block, self.generator)
            score, log_prior = self.target.evaluate(items)
            log_weight = self.target.log_weight(score, log_prior)
            self.queue = [(items[i * c:(i + 1) * c], score[i * c:(i + 1) * c], log_prior[i * c:(i + 1) * c],
                           log_weight[i * c:(i + 1) * c]) for i in reversed(range(self.block))]
        return self.queue.pop()


class IndependenceMH:
    name = "imh"
    uses_gradient = False
    discrete = True

    def __init__(self, params: IMHParams | None = None):
        self.params = params or IMHParams()

    def run(self, target: Any, *, num_chains: int, num_warmup: int, num_samples: int,
            generator: torch.Generator | None = None, progress: Callable[..., None] | None = None) -> Chains:
        """Warm up (burn in), then draw ``num_samples`` per chain; ``run_chains`` calls this."""
        if not getattr(target, "discrete", False):
            raise GentoolkitError(f"Sampler 'imh' proposes from a generative model, so it runs on discrete model "
                                  f"targets (molecules-prior), not on {target.name!r}; use nuts, hmc, mala or rwmh.")
        stream = _Proposals(target, num_chains, self.params.block, generator)
        start = time.perf_counter()
        items, score, log_prior, log_weight = self._start(target, stream)
        evals = torch.zeros(num_chains, dtype=torch.float64)
        draws, accept, kept = [], [], [[] for _ in range(num_chains)]
        for i in range(num_warmup + num_samples):
            if i == num_warmup:
                warmup_seconds, start = time.perf_counter() - start, time.perf_counter()
                evals.zero_()
            new_items, new_score, new_log_prior, new_log_weight = stream.next()
            evals += 1
            log_ratio = new_log_weight - log_weight  # log_weight is finite: chains start inside the target
            u = torch.rand(num_chains, generator=generator, dtype=torch.float64)
            move = torch.log(u) < log_ratio
            items = [new if m else old for new, old, m in zip(new_items, items, move.tolist())]
            score, log_prior = torch.where(move, new_score, score), torch.where(move, new_log_prior, log_prior)
            log_weight = torch.where(move, new_log_weight, log_weight)
            if i >= num_warmup:
                draws.append(torch.stack([score, log_prior], 1))
                accept.append(torch.exp(log_ratio.clamp(max=0)))
                for chain, item in enumerate(items):
                    kept[chain].append(item)
            if progress:
                progress()
        if num_warmup == 0:
            warmup_seconds = 0.0
        samples = torch.stack(draws, 1)  # (C, N, 2)
        return Chains(self.name, target.name, list(target.param_names), samples, torch.stack(accept, 1),
                      torch.zeros(samples.shape[:2], dtype=torch.bool), torch.zeros(num_chains, dtype=torch.float64),
                      evals, warmup_seconds, time.perf_counter() - start,
                      {"unique_share": len({x for chain in kept for x in chain}) / (num_chains * num_samples)},
                      items=kept)

    def _start(self, target: Any, stream: _Proposals) -> tuple[list[str], torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each chain starts at its first proposal inside the target (finite weight)."""
        items: list[str | None] = [None] * stream.num_chains
        score = log_prior = log_weight = torch.full((stream.num_chains,), math.nan, dtype=torch.float64)
        for _ in range(self.params.max_init_tries):
            new_items, new_score, new_log_prior, new_log_weight = stream.next()
            take = torch.isnan(log_weight) & torch.isfinite(new_log_weight)
            items = [new if t else old for new, old, t in zip(new_items, items, take.tolist())]
            score, log_prior = torch.where(take, new_score, score), torch.where(take, new_log_prior, log_prior)
            log_weight = torch.where(take, new_log_weight, log_weight)
            if not torch.isnan(log_weight).any():
                return items, score, log_prior, log_weight  # type: ignore[return-value]
        raise GentoolkitError(f"Target {target.name!r}: {int(torch.isnan(log_weight).sum())} chain(s) found no "
                              f"proposal inside the target in {self.params.max_init_tries} tries (every score was "
                              "NaN, e.g. invalid SMILES). Check the score, or raise imh.max_init_tries.")
