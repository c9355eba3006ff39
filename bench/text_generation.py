"""Text plugin benchmark: generation speed and training speed against plain transformers / PyTorch,
and the held-out perplexity of the default ``gentoolkit run text``.

    python bench/text_generation.py            # writes the "text" section of docs/benchmarks.md
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from report import write_section  # noqa: E402

from gentoolkit.runtime import Runtime, RuntimeOptions  # noqa: E402
from gentoolkit_text.data import pydoc_topics, split_holdout, token_blocks, token_stream  # noqa: E402
from gentoolkit_text.generation import Sampling, generate  # noqa: E402
from gentoolkit_text.model import gpt2  # noqa: E402
from gentoolkit_text.task import DEFAULTS  # noqa: E402
from gentoolkit_text.tokenizer import train_bpe  # noqa: E402
from gentoolkit_text.training import TrainConfig, make_optimizer, train  # noqa: E402

THREADS = 2
REPEATS = 5


def default_model(tokenizer):
    torch.manual_seed(0)
    params = {k: v for k, v in DEFAULTS["model"].items() if k != "path"}
    return gpt2(vocab_size=len(tokenizer), eos_token_id=tokenizer.eos_token_id, **params).eval()


def generation_speed(model, tokenizer) -> dict[str, float]:
    """Tokens per second: gentoolkit's ``generate`` vs ``model.generate`` on the same batch and settings."""
    prompts = ["The for statement", "A function definition", "class", "The import system"] * 2
    sampling = Sampling(max_new_tokens=64, min_new_tokens=64, temperature=0.8, top_k=50, top_p=0.95)
    config = sampling.generation_config(tokenizer)
    tokenizer.padding_side = "left"
    inputs = tokenizer(prompts, return_tensors="pt", padding=True)
    new_tokens = len(prompts) * sampling.max_new_tokens

    def direct() -> None:
        torch.manual_seed(0)
        with torch.no_grad():
            model.generate(**inputs, generation_config=config)

    def through_gentoolkit() -> None:
        generate(model, tokenizer, prompts, sampling, seed=0, batch_size=len(prompts))

    times: dict[str, list[float]] = {"direct": [], "gentoolkit": []}
    direct(), through_gentoolkit()  # warm-up
    for _ in range(REPEATS):  # interleaved, so load on the machine hits both alike
        for name, fn in (("direct", direct), ("gentoolkit", through_gentoolkit)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: new_tokens / statistics.median(t) for name, t in times.items()}


def plain_loop(model, blocks, cfg: TrainConfig) -> float:
    """A bare PyTorch loop (shuffled batches, AdamW, clipping): tokens per second."""
    import torch.nn.functional as F

    optimizer = make_optimizer(model, cfg)
    order = torch.randperm(len(blocks), generator=torch.Generator().manual_seed(0))
    model.train()
    start = time.perf_counter()
    for step in range(cfg.steps):
        batch = blocks[order[step * cfg.batch_size:(step + 1) * cfg.batch_size]]
        logits = model(input_ids=batch[:, :-1]).logits
        loss = F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return cfg.steps * cfg.batch_size * (blocks.shape[1] - 1) / (time.perf_counter() - start)


def training_speed(tokenizer) -> dict[str, float]:
    """Tokens per second of ``gentoolkit_text.training.train`` (whole call, incl. final checkpoint)
    against :func:`plain_loop`, same model, data, batch and steps."""
    train_docs, held_docs = split_holdout(pydoc_topics(), 0.1)
    block, stride = DEFAULTS["train"]["block_size"], DEFAULTS["train"]["stride"]
    blocks = token_blocks(token_stream(train_docs, tokenizer), block, stride)
    held = token_blocks(token_stream(held_docs, tokenizer), block)
    cfg = TrainConfig(steps=40, batch_size=16, eval_every=10_000, eval_batches=1, checkpoint_every=0, resume=False)
    speeds: dict[str, list[float]] = {"plain": [], "gentoolkit": []}
    for _ in range(3):
        speeds["plain"].append(plain_loop(default_model(tokenizer), blocks, cfg))
        with tempfile.TemporaryDirectory() as out:
            runtime = Runtime(RuntimeOptions(device="cpu", out=Path(out), progress=False)).start()
            start = time.perf_counter()
            train(runtime, default_model(tokenizer), blocks, held, cfg)
            speeds["gentoolkit"].append(cfg.steps * cfg.batch_size * block / (time.perf_counter() - start))
    return {name: statistics.median(s) for name, s in speeds.items()}


def default_run() -> tuple[dict[str, float], float]:
    from gentoolkit import Toolkit

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = Toolkit().run("text", options=RuntimeOptions(device="cpu", threads=THREADS, out=Path(out),
                                                              progress=False))
        return result.metrics, time.perf_counter() - start


def main() -> None:
    torch.set_num_threads(THREADS)
    train_docs, _ = split_holdout(pydoc_topics(), DEFAULTS["data"]["holdout"])
    tokenizer = train_bpe(train_docs, DEFAULTS["tokenizer"]["vocab_size"])
    gen = generation_speed(default_model(tokenizer), tokenizer)
    fit = training_speed(tokenizer)
    metrics, seconds = default_run()
    load = os.getloadavg()[0]
    body = f"""
Model: the default GPT-2 ({metrics['parameters'] / 1e6:.2f}M parameters: 2 layers, 128 wide, 128 positions,
2048-token BPE). Load average at the end: {load:.1f} on {os.cpu_count()} cores (a shared machine: absolute
numbers are noisy, the ratios are measured interleaved).

| measure | gentoolkit | reference | ratio |
| --- | ---: | ---: | ---: |
| generation, tokens/s (8 prompts x 64 new tokens, top-k 50, top-p 0.95; median of {REPEATS}) | {gen['gentoolkit']:.0f} | {gen['direct']:.0f} (`model.generate`) | {gen['gentoolkit'] / gen['direct']:.3f} |
| training, tokens/s (40 steps x 16 x 128 tokens, AdamW; median of 3) | {fit['gentoolkit']:.0f} | {fit['plain']:.0f} (plain PyTorch loop) | {fit['gentoolkit'] / fit['plain']:.3f} |

Default `gentoolkit run text` ({DEFAULTS['train']['steps']} steps on pydoc topics, {THREADS} threads): {seconds:.0f} s wall.

| held-out perplexity (same tokens, same targets) | value |
| --- | ---: |
| GPT-2 (default run) | {metrics['heldout_perplexity']:.1f} |
| bigram, add-{DEFAULTS['evaluate']['baseline_k']} | {metrics['baseline_bigram_perplexity']:.1f} |
| unigram, add-{DEFAULTS['evaluate']['baseline_k']} | {metrics['baseline_unigram_perplexity']:.1f} |

Samples: distinct-1 {metrics['distinct_1']:.3f}, distinct-2 {metrics['distinct_2']:.3f}, self-BLEU
{metrics['self_bleu']:.3f}, repetition-4 {metrics['repetition_4']:.3f}.
"""
    write_section("text", "python bench/text_generation.py", body)
    print(body)


if __name__ == "__main__":
    main()
