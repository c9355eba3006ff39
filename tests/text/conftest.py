"""Shared fixtures for the text plugin's tests: a small corpus, a BPE on it, a one-layer GPT-2."""

from __future__ import annotations

import pytest
import torch

from gentoolkit.runtime import Runtime, RuntimeOptions

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def corpus() -> list[str]:
    from gentoolkit_text.data import pydoc_topics

    return pydoc_topics()[:12]


@pytest.fixture(scope="session")
def tokenizer(corpus):
    from gentoolkit_text.tokenizer import train_bpe

    return train_bpe(corpus, vocab_size=300)


@pytest.fixture
def tiny_model(tokenizer):
    from gentoolkit_text.model import gpt2

    torch.manual_seed(0)
    return gpt2(vocab_size=len(tokenizer), n_positions=32, n_layer=1, n_head=2, n_embd=32).eval()


@pytest.fixture
def runtime(tmp_path) -> Runtime:
    return Runtime(RuntimeOptions(device="cpu", seed=0, out=tmp_path / "run", progress=False), task="text").start()
