"""REINVENT's reinforcement learning: the agent, a copy of the prior, is pulled towards the score.

Each step samples a batch from the agent, scores it, and minimises the DAP loss
``(prior logL + sigma * score - agent logL)^2``, plus the same loss on a few molecules replayed
from the best seen so far. A scaffold diversity filter zeroes the score of molecules beyond their
scaffold's bucket. With ``augmentation_rounds = k`` (Augmented Memory, Guo & Schwaller 2024) each
oracle batch also gives k more updates on the batch and the whole replay memory written as
randomised SMILES, after the memory is purged of scaffolds the diversity filter penalised. Oracle calls are counted as PMO counts them: each unique valid molecule is
scored once (a canonical-SMILES cache answers repeats) and the run stops exactly at the budget.
Every step appends the newly scored molecules to ``molecules.csv`` and tracks its scores, loss,
oracle calls and molecules/s (``runtime.track``); every few steps the agent,
optimizer, replay memory, diversity filter and RNG go to a checkpoint, and a resumed run rebuilds
its cache from the CSV, so no scored molecule is lost or counted twice.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch

from gentoolkit.errors import ConfigError
from gentoolkit_molecules.data import standardise
from gentoolkit_molecules.diversity import DiversityFilter
from gentoolkit_molecules.outputs import MoleculeLog, log_columns, scored_rows
from gentoolkit_molecules.replay import ReplayMemory

if TYPE_CHECKING:
    from gentoolkit.runtime import Runtime
    from gentoolkit_molecules.prior import Prior
    from gentoolkit_molecules.scoring.function import ScoreResult, ScoringFunction


@dataclass
class RLConfig:
    """The knobs of one learning stage (REINVENT 4's defaults unless noted)."""

    batch_size: int = 64
    sigma: float = 128.0  # weight of the score in the augmented log-likelihood
    learning_rate: float = 1e-4
    max_steps: int = 100
    max_oracle_calls: int = 0  # unique valid molecules scored (PMO's budget); 0 = unlimited
    patience: int = 0  # stop after this many steps without a better top-k (PMO: top-100 for 5 steps); 0 = never
    top_k: int = 10  # the k of the patience criterion
    score_threshold: float = 0.0  # stop once a batch's mean score reaches this (REINVENT's max_score); 0 = never
    min_steps: int = 0  # steps to run before score_threshold may end the stage
    temperature: float = 1.0
    unique_sequences: bool = True  # drop repeated token sequences within a batch, as REINVENT does
    replay_memory: int = 100  # best molecules kept for experience replay; 0 = off
    replay_sample: int = 10  # replayed per step
    fragments: str = "largest"  # a sampled "A.B" is scored as its largest fragment, whole ("keep"), or invalid
    augmentation_rounds: int = 0  # Augmented Memory: extra updates per batch on randomised SMILES; 0 = REINVENT
    selective_memory_purge: bool = True  # Augmented Memory: drop replayed scaffolds the diversity filter penalised
    checkpoint_every: int = 5

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "rl") -> RLConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"Unknown key(s) {unknown} in [{where}]; valid keys: {', '.join(sorted(known))}.")
        from gentoolkit.config import check_ranges
        from gentoolkit_molecules.defaults import RANGES

        if problems := check_ranges(values, RANGES["rl"], where):
            raise ConfigError(" ".join(problems))
        from gentoolkit_molecules.data import FRAGMENTS

        if values.get("fragments", "largest") not in FRAGMENTS:
            raise ConfigError(f"[{where}] fragments = {values['fragments']!r} is not one of {', '.join(FRAGMENTS)}: "
                              "a sampled multi-fragment SMILES is scored as its largest fragment, whole (keep), "
                              "or counted invalid.")
        return cls(**values)


@dataclass
class StageResult:
    """What one learning stage did and where its molecules are."""

    name: str
    log_path: Path
    history: list[dict[str, float]]
    reason: str  # why it stopped
    oracle_calls: int
    budget: int  # the oracle budget it ran under (0 = none)
    wall_time: float = 0.0
    labels: list[str] = field(default_factory=list)


class Learning:
    """One stage of REINVENT learning; ``run()`` trains the agent in place until a stop criterion."""

    def __init__(self, runtime: Runtime, prior: Prior, agent: Prior, scoring: ScoringFunction,
                 config: RLConfig, diversity: DiversityFilter, name: str = "rl", folder: Path | None = None,
                 seed_offset: int = 0):
        self.runtime, self.prior, self.agent, self.scoring = runtime, prior, agent, scoring
        self.config, self.diversity, self.name = config, diversity, name
        folder = Path(folder or runtime.out_dir)
        self.checkpoint_name = str(folder / "checkpoint")
        self.log = MoleculeLog(folder / "molecules.csv", log_columns(scoring.labels))
        for p in prior.network.parameters():
            p.requires_grad_(False)
        for p in agent.network.parameters():
            p.requires_grad_(True)
        prior.network.eval()
        agent.network.eval()  # no dropout: sampling and the loss see the same network
        self.optimizer = torch.optim.Adam(agent.network.parameters(), lr=config.learning_rate)
        self.memory = ReplayMemory(config.replay_memory)
        self.scaffolds: dict[str, str] = {}  # canonical SMILES -> scaffold, for the selective purge
        self.generator = runtime.generator(1000 + seed_offset)
        self.cache: dict[str, float] = {r["smiles"]: float(r["score"]) for r in self.log.rows()}
        self.history: list[dict[str, float]] = []
        self.step, self.best, self.stale, self.reason = 0, -np.inf, 0, ""
        self._resume()

    # --- the loop --------------------------------------------------------------------------

    def run(self) -> StageResult:
        cfg, start = self.config, time.perf_counter()
        by_calls = cfg.max_oracle_calls > 0  # then the budget, not max_steps, normally ends the run
        total, unit = (cfg.max_oracle_calls, "oracle calls") if by_calls else (cfg.max_steps, "steps")
        with self.runtime.progress(total, f"{self.name} ({unit})") as advance:
            done = len(self.cache) if by_calls else self.step
            advance(done)
            while not self.reason:
                step_started = time.perf_counter()
                stats = self.train_step()
                self._track(stats, time.perf_counter() - step_started)
                self.reason = self._stop_reason(stats)
                if self.reason or self.step % cfg.checkpoint_every == 0:
                    self.save()
                now = int(stats["oracle_calls"]) if by_calls else self.step
                advance(now - done, step=self.step, score=stats["mean_score"], top10=stats["top10"])
                done = now
        if self.history:
            self.runtime.log(f"{self.name}: stopped after step {self.step}: {self.reason}")
        return StageResult(self.name, self.log.path, self.history, self.reason, len(self.cache),
                           cfg.max_oracle_calls, time.perf_counter() - start, list(self.scoring.labels))

    def train_step(self) -> dict[str, float]:
        """Sample, score, filter, update; returns the step's statistics."""
        cfg = self.config
        self.step += 1
        with torch.no_grad():
            samples = self.agent.sample_sequences(cfg.batch_size, temperature=cfg.temperature, generator=self.generator)
        sequences, smiles = samples.sequences, list(samples.smiles)
        if cfg.unique_sequences:
            keep = _first_occurrences(sequences)
            sequences, smiles = sequences[keep], [smiles[i] for i in keep]
        canonical = [standardise(s, cfg.fragments) for s in smiles]
        scores, scored, new, cut = self._score(canonical)
        rewards = self.diversity([c if ok else None for c, ok in zip(canonical, scored)], scores)
        if new is not None:
            self._log(new, canonical, rewards)
        mask = torch.as_tensor(scored, device=sequences.device)
        loss = self._update(sequences[mask], rewards[scored])
        kept = [c for c, ok in zip(canonical, scored) if ok]
        sampled = [s for s, ok in zip(smiles, scored) if ok]
        self.memory.add(kept, sampled, rewards[scored])
        if cfg.augmentation_rounds:
            self._augmented_memory(kept, sampled, scores[scored], rewards[scored])
        batch = np.sort(scores[scored])[::-1]
        best = np.sort(np.fromiter(self.cache.values(), float))[::-1]
        stats = {"step": self.step, "mean_score": float(batch.mean()) if batch.size else 0.0,
                 "batch_top10": float(batch[:10].mean()) if batch.size else 0.0,
                 "top10": float(best[:10].mean()) if best.size else 0.0,
                 "top_k": float(best[:cfg.top_k].sum() / cfg.top_k),  # missing ones count as 0
                 "validity": sum(c is not None for c in canonical) / max(len(canonical), 1),
                 "sampled": len(canonical),
                 "budget_cut": cut,  # the budget ran out mid-batch: batch statistics cover only part of it
                 "oracle_calls": len(self.cache), "loss": loss}
        self.history.append(stats)
        return stats

    def _track(self, stats: dict[str, float], seconds: float) -> None:
        """The step's scores, loss, oracle calls and speed, as ``<stage>/<name>`` scalars."""
        keys = ("mean_score", "batch_top10", "top10", "validity", "oracle_calls", "loss")
        scalars = {f"{self.name}/{k}": stats[k] for k in keys}
        scalars[f"{self.name}/molecules_per_s"] = stats["sampled"] / seconds if seconds > 0 else 0.0
        self.runtime.track(scalars, self.step)

    def _score(self, canonical: list[str | None]) -> tuple[np.ndarray, np.ndarray, ScoreResult | None, bool]:
        """Scores (0 for invalid), which molecules have one, the ScoreResult of the new ones, and
        whether the budget left some of them unscored.

        New molecules are scored in order while budget is left; the rest of the batch goes unscored.
        """
        budget = self.config.max_oracle_calls
        new = list(dict.fromkeys(c for c in canonical if c is not None and c not in self.cache))
        wanted = len(new)
        if budget:
            new = new[:max(budget - len(self.cache), 0)]
        result = self.scoring(new) if new else None
        if result is not None:
            self.cache.update(zip(new, map(float, result.total)))
        scores = np.array([self.cache.get(c, 0.0) if c is not None else 0.0 for c in canonical])
        scored = np.array([c is None or c in self.cache for c in canonical], dtype=bool)
        return scores, scored, result, len(new) < wanted

    def _log(self, new: ScoreResult, canonical: list[str | None], rewards: np.ndarray) -> None:
        """Append the newly scored molecules to molecules.csv (flushed, so a kill loses nothing)."""
        reward = {c: r for c, r in zip(canonical, rewards) if c is not None}
        self.log.append(scored_rows(self.step, new, [reward.get(s, t) for s, t in zip(new.smiles, new.total)]))

    def _update(self, sequences: torch.Tensor, rewards: np.ndarray) -> float:
        """One Adam step on the DAP loss of the batch plus replayed molecules."""
        replay_smiles, replay_scores = self.memory.sample(self.config.replay_sample, self.generator)
        return self._step(sequences, rewards, replay_smiles, replay_scores)

    def _augmented_memory(self, canonical: list[str | None], sampled: list[str], scores: np.ndarray,
                          rewards: np.ndarray) -> None:
        """Augmented Memory's k extra updates: the batch's valid molecules and the whole memory as
        randomised SMILES, after purging the memory of scaffolds the diversity filter penalised."""
        from gentoolkit_molecules.augmentation import randomized_smiles
        from gentoolkit_molecules.tokenizer import tokenize

        cfg = self.config
        valid = [i for i, c in enumerate(canonical) if c is not None]
        if cfg.selective_memory_purge and self.diversity.kind != "none":
            penalised = [canonical[i] for i in valid if scores[i] > 0 and rewards[i] == 0]
            self.memory.purge(penalised, self._scaffold)
        known = self.agent.vocabulary.index
        longest = getattr(self.agent.network, "block_size", 10**6) - 2  # a transformer's positions, less start/end

        def encodable(smiles: str) -> bool:
            tokens = tokenize(smiles)
            return len(tokens) <= longest and all(t in known for t in tokens)

        for _ in range(cfg.augmentation_rounds):
            memory, memory_sampled, memory_scores = self.memory.everything()
            batch = randomized_smiles([canonical[i] for i in valid] + memory, self.generator, encodable,
                                      fallback=[sampled[i] for i in valid] + memory_sampled)  # encodable: sampled
            sequences = self.agent.encode(batch).to(self.agent.device) if batch else torch.zeros(0, 1, dtype=torch.long)
            self._step(sequences, np.concatenate([rewards[valid], memory_scores]))

    def _scaffold(self, smiles: str) -> str:
        if smiles not in self.scaffolds:
            from gentoolkit_molecules.diversity import scaffold

            self.scaffolds[smiles] = scaffold(smiles, self.diversity.kind)
        return self.scaffolds[smiles]

    def _step(self, sequences: torch.Tensor, rewards: np.ndarray, extra_smiles: list[str] = (),
              extra_rewards: list[float] = ()) -> float:
        """One Adam step on the mean DAP loss of ``sequences`` and of ``extra_smiles`` (encoded here)."""
        cfg = self.config
        if len(extra_smiles):
            extra = self.agent.encode(list(extra_smiles)).to(sequences.device)
            width = max(sequences.shape[1], extra.shape[1])
            pad = self.agent.vocabulary.pad
            sequences = torch.cat([_pad(sequences, width, pad), _pad(extra, width, pad)])
            rewards = np.concatenate([rewards, extra_rewards])
        if len(sequences) == 0:
            return 0.0
        reward = torch.as_tensor(rewards, dtype=torch.float32, device=sequences.device)
        with self.runtime.autocast():
            agent_ll = self.agent.log_likelihood(sequences)
            with torch.no_grad():
                prior_ll = self.prior.log_likelihood(sequences)
        loss = dap_loss(agent_ll.float(), prior_ll.float(), reward, cfg.sigma).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def _stop_reason(self, stats: dict[str, float]) -> str:
        if stats["top_k"] > self.best + 1e-9:
            self.best, self.stale = stats["top_k"], 0
        else:
            self.stale += 1
        return self._check(stats)

    def _check(self, stats: dict[str, float]) -> str:
        """Why the stage should stop after a step with these statistics ("" = go on)."""
        cfg = self.config
        if cfg.max_oracle_calls and len(self.cache) >= cfg.max_oracle_calls:
            return f"oracle budget of {cfg.max_oracle_calls} calls reached"
        if cfg.score_threshold and self.step >= cfg.min_steps and stats["mean_score"] >= cfg.score_threshold:
            return f"mean score {stats['mean_score']:.3f} reached the threshold {cfg.score_threshold}"
        if cfg.patience and self.stale >= cfg.patience and self.best > 0:  # a sparse objective explores first
            return f"no better top-{cfg.top_k} mean for {cfg.patience} steps"
        if self.step >= cfg.max_steps:
            return f"max_steps={cfg.max_steps} reached"
        return ""

    # --- checkpoints -----------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {"agent": self.agent.network.state_dict(), "optimizer": self.optimizer.state_dict(),
                "memory": self.memory.state_dict(), "diversity": self.diversity.state_dict(),
                "generator": self.generator.get_state(), "step": self.step, "history": self.history,
                "best": float(self.best), "stale": self.stale, "reason": self.reason}

    def save(self) -> None:
        self.runtime.save_checkpoint(self.checkpoint_name, self.state_dict(),
                                     {"kind": "molecules-rl", "stage": self.name, "labels": self.scoring.labels,
                                      "step": self.step})

    def _resume(self) -> None:
        path = self.runtime.latest_checkpoint(self.checkpoint_name)
        if path is None:
            return
        state, meta = self.runtime.load_checkpoint(path)
        if meta.get("labels") != list(self.scoring.labels):
            raise ConfigError(f"Checkpoint {path} was made with scoring components {meta.get('labels')}, "
                              f"not {list(self.scoring.labels)}; resume with the same config or a new --out.")
        self.agent.network.load_state_dict(state["agent"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.memory.load_state_dict(state["memory"])
        self.diversity.load_state_dict(state["diversity"])
        self.generator.set_state(state["generator"].cpu())
        self.step, self.history = int(state["step"]), list(state["history"])
        self.best = float(state["best"]) if state["best"] is not None else -np.inf
        self.stale = int(state["stale"])
        # a finished stage goes on if the config now allows more (a larger max_steps or budget)
        self.reason = self._check(self.history[-1]) if state["reason"] and self.history else ""
        self.runtime.log(f"{self.name}: resuming after step {self.step} from {path} "
                         f"({len(self.cache)} molecules already scored)")


def dap_loss(agent_ll: torch.Tensor, prior_ll: torch.Tensor, scores: torch.Tensor, sigma: float) -> torch.Tensor:
    """REINVENT's DAP loss per molecule: (prior logL + sigma * score - agent logL)^2."""
    augmented = prior_ll + sigma * scores
    return (augmented - agent_ll) ** 2


def _first_occurrences(sequences: torch.Tensor) -> list[int]:
    seen: dict[tuple[int, ...], int] = {}
    for i, row in enumerate(sequences.tolist()):
        seen.setdefault(tuple(row), i)
    return sorted(seen.values())


def _pad(sequences: torch.Tensor, width: int, pad: int) -> torch.Tensor:
    if sequences.shape[1] >= width:
        return sequences
    return torch.nn.functional.pad(sequences, (0, width - sequences.shape[1]), value=pad)


def run_stages(runtime: Runtime, prior: Prior, stages: list[tuple[str, RLConfig, ScoringFunction]],
               diversity: Callable[[], DiversityFilter], staged: bool = False) -> tuple[Prior, list[StageResult]]:
    """Run learning stages in order, the agent carried from one to the next; returns it and the results.

    With ``staged`` each stage keeps its molecules and checkpoint in ``out_dir/<stage name>/``;
    a finished stage found there on resume is not run again.
    """
    agent = prior.copy()
    results = []
    for i, (name, config, scoring) in enumerate(stages):
        folder = runtime.out_dir / name if staged else runtime.out_dir
        learning = Learning(runtime, prior, agent, scoring, config, diversity(), name, folder, seed_offset=i)
        results.append(learning.run())
    return agent, results
