"""Metrics for generated text: held-out perplexity, distinct-n, self-BLEU and repetition.

The diversity metrics work on whitespace-separated words, so they compare across tokenizers.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable, Sequence

from gentoolkit.errors import GentoolkitError


def perplexity(model, blocks, batch_size: int = 16, autocast: Callable | None = None) -> dict[str, float]:
    """``exp`` of the mean next-token NLL over every target of ``blocks`` (N, T + 1).

    Each row's first T tokens are the input and its last T the targets, as in
    :func:`gentoolkit_text.data.token_blocks`.
    """
    import contextlib

    import torch
    import torch.nn.functional as F

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(blocks), batch_size):
            batch = blocks[start:start + batch_size].to(model.device)
            with (autocast or contextlib.nullcontext)():
                logits = model(input_ids=batch[:, :-1]).logits
            total += F.cross_entropy(logits.flatten(0, 1).float(), batch[:, 1:].flatten(), reduction="sum").item()
            count += batch[:, 1:].numel()
    nll = total / count
    return {"perplexity": math.exp(nll), "nll": nll, "tokens": float(count)}


def _ngrams(words: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]


def distinct(samples: Iterable[str], orders: Sequence[int] = (1, 2)) -> dict[str, float]:
    """distinct-n (Li et al., 2016): distinct n-grams over all n-grams, pooled over the samples."""
    words = [text.split() for text in samples]
    scores = {}
    for n in orders:
        grams = [g for w in words for g in _ngrams(w, n)]
        scores[f"distinct_{n}"] = len(set(grams)) / len(grams) if grams else 0.0
    return scores


def repetition(samples: Iterable[str], n: int = 4) -> dict[str, float]:
    """seq-rep-n (Welleck et al., 2019): per sample, the share of its n-grams that repeat an
    earlier one (1 - distinct/total), averaged over samples long enough to have an n-gram."""
    rates = []
    for text in samples:
        grams = _ngrams(text.split(), n)
        if grams:
            rates.append(1 - len(set(grams)) / len(grams))
    return {f"repetition_{n}": sum(rates) / len(rates) if rates else 0.0}


def self_bleu(samples: Sequence[str], max_samples: int = 200) -> dict[str, float]:
    """Self-BLEU (Zhu et al., 2018): mean BLEU-4 of each sample against all the others, in [0, 1].

    High means the samples resemble each other (low diversity). sacrebleu's sentence BLEU with
    its default exponential smoothing; the first ``max_samples`` samples are scored (quadratic cost).
    """
    from sacrebleu.metrics import BLEU

    samples = [s for s in samples[:max_samples] if s.strip()]
    if len(samples) < 2:
        raise GentoolkitError(f"Self-BLEU needs at least two non-empty samples; got {len(samples)}.")
    bleu = BLEU(effective_order=True)
    scores = [bleu.sentence_score(s, samples[:i] + samples[i + 1:]).score for i, s in enumerate(samples)]
    return {"self_bleu": sum(scores) / len(scores) / 100}

