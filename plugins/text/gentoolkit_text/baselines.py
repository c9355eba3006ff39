"""Unigram and bigram language models with add-k smoothing: what a trained model must beat.

They count tokens of the same tokenizer on the training stream and are scored on exactly the
targets the model is scored on (the rows of :func:`gentoolkit_text.data.token_blocks`), so the
perplexities compare one to one.
"""

from __future__ import annotations

import math
from typing import Sequence


def ngram_perplexity(train_ids: Sequence[int], blocks, vocab_size: int, order: int, k: float = 0.1) -> float:
    """Held-out perplexity of an add-k unigram (``order=1``) or bigram (``order=2``) model.

    Unigram: p(w) = (c(w) + k) / (N + kV). Bigram: p(w | v) = (c(v w) + k) / (c(v ·) + kV).
    Bigram counts are kept sparse (sorted pair keys), so large vocabularies cost no V x V table.
    """
    import torch

    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, not {order}")
    train = torch.as_tensor(train_ids, dtype=torch.long)
    targets = blocks[:, 1:].flatten()
    if order == 1:
        counts = torch.bincount(train, minlength=vocab_size).double()
        probs = (counts[targets] + k) / (len(train) + k * vocab_size)
    else:
        context = torch.bincount(train[:-1], minlength=vocab_size).double()
        keys, pair_counts = torch.unique(train[:-1] * vocab_size + train[1:], return_counts=True)
        query = blocks[:, :-1].flatten() * vocab_size + targets
        at = torch.searchsorted(keys, query).clamp(max=len(keys) - 1)
        found = torch.where(keys[at] == query, pair_counts[at].double(), torch.zeros((), dtype=torch.double))
        probs = (found + k) / (context[blocks[:, :-1].flatten()] + k * vocab_size)
    return math.exp(-probs.log().mean().item())
