"""Evaluators and baselines on inputs checked by hand."""

from __future__ import annotations

import math

import pytest
import torch

from gentoolkit.errors import GentoolkitError
from gentoolkit_text.baselines import ngram_perplexity
from gentoolkit_text.evaluate import distinct, perplexity, repetition, self_bleu


def test_distinct_counts_unique_ngrams_over_all():
    assert distinct(["a a b"]) == {"distinct_1": pytest.approx(2 / 3), "distinct_2": 1.0}
    scores = distinct(["a b a", "b c"], orders=(1, 2))
    assert scores["distinct_1"] == pytest.approx(3 / 5)  # a, b, c over 5 words
    assert scores["distinct_2"] == pytest.approx(3 / 3)  # (a b), (b a), (b c): no 2-gram across samples
    assert distinct([""]) == {"distinct_1": 0.0, "distinct_2": 0.0}


def test_repetition_is_share_of_repeated_ngrams_per_sample():
    # "x y x y x y": 2-grams xy yx xy yx xy -> 2 unique of 5 -> 3/5 repeated; "p q r": 0 repeated
    assert repetition(["x y x y x y", "p q r"], n=2)["repetition_2"] == pytest.approx((3 / 5 + 0) / 2)
    assert repetition(["too short"], n=4) == {"repetition_4": 0.0}


def test_self_bleu_is_one_for_copies_and_low_for_unrelated_samples():
    same = ["the cat sat on the mat today"] * 3
    assert self_bleu(same)["self_bleu"] == pytest.approx(1.0)
    unrelated = ["alpha beta gamma delta epsilon", "one two three four five", "red green blue cyan pink"]
    assert self_bleu(unrelated)["self_bleu"] < 0.05
    half = self_bleu(["a b c d e f g h", "a b c d x y z w"])["self_bleu"]
    assert 0.1 < half < 0.9
    with pytest.raises(GentoolkitError, match="at least two"):
        self_bleu(["only one", "  "])


def test_perplexity_is_exp_of_mean_nll_computed_by_hand(tiny_model):
    torch.manual_seed(1)
    blocks = torch.randint(0, tiny_model.config.vocab_size, (3, 9))
    nll = []
    with torch.no_grad():
        for row in blocks:
            logp = torch.log_softmax(tiny_model(input_ids=row[None, :-1]).logits[0], dim=-1)
            nll += [-logp[t, row[t + 1]].item() for t in range(8)]
    got = perplexity(tiny_model, blocks, batch_size=2)
    assert got["tokens"] == 24
    assert got["perplexity"] == pytest.approx(math.exp(sum(nll) / 24), rel=1e-5)


def test_ngram_baselines_match_hand_counts():
    train = [0, 1, 0, 1, 2]  # unigram counts 2, 2, 1 of N=5; bigrams 01 x2, 10, 12
    blocks = torch.tensor([[0, 1, 2]])  # targets 1 (after 0) and 2 (after 1)
    v, k = 3, 1.0
    uni = math.exp(-(math.log((2 + k) / (5 + k * v)) + math.log((1 + k) / (5 + k * v))) / 2)
    assert ngram_perplexity(train, blocks, v, 1, k) == pytest.approx(uni)
    # p(1|0) = (2+1)/(2+3); p(2|1) = (1+1)/(2+3): contexts 0 and 1 each start 2 bigrams
    bi = math.exp(-(math.log(3 / 5) + math.log(2 / 5)) / 2)
    assert ngram_perplexity(train, blocks, v, 2, k) == pytest.approx(bi)
    unseen = torch.tensor([[2, 2]])  # context 2 never starts a bigram: p = k / (0 + kV) = 1/3
    assert ngram_perplexity(train, unseen, v, 2, k) == pytest.approx(3.0)
