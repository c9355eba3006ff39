"""What the molecules tests share: a tiny prior trained in seconds."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def train_tiny_prior():
    """``train(smiles, seed=0, steps=150, embedding=32, hidden=64)``: a 1-layer GRU prior fitted to
    ``smiles`` for a few seconds (it then samples mostly valid SMILES), in eval mode."""
    def train(smiles: list[str], seed: int = 0, steps: int = 150, embedding: int = 32, hidden: int = 64):
        import torch

        from gentoolkit_molecules.prior import Prior
        from gentoolkit_molecules.tokenizer import Vocabulary

        torch.manual_seed(seed)
        prior = Prior.create(Vocabulary.from_smiles(smiles), kind="gru", embedding=embedding, hidden=hidden, layers=1)
        optimizer = torch.optim.Adam(prior.network.parameters(), lr=1e-2)
        batch = prior.encode(smiles)
        for _ in range(steps):
            loss = -prior.log_likelihood(batch).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        prior.network.eval()
        return prior

    return train
