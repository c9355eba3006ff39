"""Experience replay as in REINVENT: the best unique molecules so far, a few replayed each step.

Augmented Memory replays all of them (``everything``) and purges the scaffolds the diversity
filter penalised (``purge``).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence


class ReplayMemory:
    """The ``size`` best-scoring unique molecules (keyed by canonical SMILES), best first."""

    def __init__(self, size: int = 100):
        self.size = size
        self.items: list[tuple[str, str, float]] = []  # (canonical, SMILES as sampled, score)

    def __len__(self) -> int:
        return len(self.items)

    def add(self, canonical: Sequence[str | None], smiles: Sequence[str], scores: Sequence[float]) -> None:
        """Offer a batch; invalid (``None``) and zero-score molecules are not kept."""
        known = {c for c, _, _ in self.items}
        for c, s, score in zip(canonical, smiles, scores):
            if c is not None and score > 0 and c not in known:
                self.items.append((c, s, float(score)))
                known.add(c)
        self.items.sort(key=lambda item: -item[2])
        del self.items[self.size:]

    def sample(self, n: int, generator) -> tuple[list[str], list[float]]:
        """``n`` distinct molecules drawn uniformly (all of them when fewer are held)."""
        import torch

        if n <= 0 or not self.items:
            return [], []
        picks = torch.randperm(len(self.items), generator=generator)[:n].tolist()
        return [self.items[i][1] for i in picks], [self.items[i][2] for i in picks]

    def everything(self) -> tuple[list[str], list[str], list[float]]:
        """Every molecule held: canonical SMILES, SMILES as sampled, and score, best first."""
        return [c for c, _, _ in self.items], [s for _, s, _ in self.items], [v for _, _, v in self.items]

    def purge(self, penalised: Iterable[str], scaffold: Callable[[str], str]) -> list[str]:
        """Drop every molecule whose scaffold is one of the ``penalised`` molecules'; returns them.

        Augmented Memory's selective purge: a scaffold the diversity filter has started to zero
        out stops being replayed, so the extra updates do not keep pulling the agent back to it.
        """
        scaffolds = {scaffold(smiles) for smiles in penalised}
        if not scaffolds:
            return []
        dropped = [c for c, _, _ in self.items if scaffold(c) in scaffolds]
        self.items = [item for item in self.items if item[0] not in dropped]
        return dropped

    def state_dict(self) -> dict[str, Any]:
        return {"items": [list(item) for item in self.items]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.items = [(c, s, float(v)) for c, s, v in state["items"]]
