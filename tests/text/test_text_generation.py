"""Sampling: reproducible seeds, stop strings, long prompts, streaming, bad settings."""

from __future__ import annotations

import pytest

from gentoolkit.errors import ConfigError
from gentoolkit_text.generation import Sampling, generate

PROMPTS = ["The for statement", "", "class"]


def test_same_seed_same_text_other_seed_other_text(tiny_model, tokenizer):
    sampling = Sampling(max_new_tokens=12, min_new_tokens=12, temperature=1.0)
    first = generate(tiny_model, tokenizer, PROMPTS, sampling, seed=7, batch_size=2)
    assert len(first) == 3 and all(first)
    assert generate(tiny_model, tokenizer, PROMPTS, sampling, seed=7, batch_size=2) == first
    assert generate(tiny_model, tokenizer, PROMPTS, sampling, seed=8, batch_size=2) != first


def test_sampling_leaves_the_callers_random_state_alone(tiny_model, tokenizer):
    import random

    import numpy as np
    import torch

    torch.manual_seed(3), random.seed(3), np.random.seed(3)
    states = torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy()
    generate(tiny_model, tokenizer, PROMPTS, Sampling(max_new_tokens=4, temperature=1.0), seed=7, batch_size=2)
    assert torch.equal(torch.get_rng_state(), states[0]), "the global torch RNG continues where it was"
    assert random.getstate() == states[1] and (np.random.get_state()[1] == states[2]).all()


def test_greedy_matches_a_direct_argmax_loop(tiny_model, tokenizer):
    import torch

    ids = tokenizer("The for statement")["input_ids"]
    x = torch.tensor([ids])
    with torch.no_grad():
        for _ in range(8):
            x = torch.cat([x, tiny_model(input_ids=x).logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    expected = tokenizer.decode(x[0, len(ids):], skip_special_tokens=True)
    sampling = Sampling(max_new_tokens=8, min_new_tokens=8, temperature=0)
    assert generate(tiny_model, tokenizer, ["The for statement"], sampling) == [expected]


def test_stop_string_ends_and_is_cut(tiny_model, tokenizer):
    prompt, sampling = "The for statement", dict(max_new_tokens=20, min_new_tokens=20, temperature=1.0)
    free = generate(tiny_model, tokenizer, [prompt], Sampling(**sampling), seed=1)[0]
    stop = free[6:8]
    assert (prompt + free).index(stop) >= len(prompt)  # first met inside the continuation
    cut = generate(tiny_model, tokenizer, [prompt], Sampling(**sampling, stop=[stop]), seed=1)[0]
    assert cut == free[: free.index(stop)] and len(cut) < len(free)


def test_prompt_longer_than_context_keeps_its_end_and_warns(tiny_model, tokenizer):
    warnings = []
    long_prompt = "the statement " * 40  # ~80 tokens, context is 32
    sampling = Sampling(max_new_tokens=6, min_new_tokens=6, temperature=0)
    out = generate(tiny_model, tokenizer, [long_prompt], sampling, warn=warnings.append)
    assert len(warnings) == 1 and "generating from its last 26 tokens" in warnings[0]
    ids = tokenizer(long_prompt)["input_ids"][-26:]
    assert out == generate(tiny_model, tokenizer, [tokenizer.decode(ids)], sampling, warn=warnings.append)


def test_streaming_prints_the_text(tiny_model, tokenizer, capsys):
    sampling = Sampling(max_new_tokens=6, min_new_tokens=6, temperature=0)
    out = generate(tiny_model, tokenizer, ["The for", "class"], sampling, stream=True)
    printed = capsys.readouterr().out
    assert printed.startswith("The for" + out[0]) and "class" + out[1] in printed


def test_bad_settings_are_config_errors(tiny_model, tokenizer):
    with pytest.raises(ConfigError, match="below the model's context length"):
        generate(tiny_model, tokenizer, ["x"], Sampling(max_new_tokens=32))
    with pytest.raises(ConfigError, match="top_p"):
        generate(tiny_model, tokenizer, ["x"], Sampling(top_p=0))
