"""Text plugin benchmark: generation and training speed against plain transformers / PyTorch
(same process, same threads, interleaved, min/median/max), and the held-out perplexity of the
default ``gentoolkit run text``.

    python bench/text_generation.py            # writes the "text" section of docs/benchmarks.md
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch

sys.path.insert(0, str(Path(__file__).parent))
from report import write_section  # noqa: E402

from gentoolkit.runtime import Runtime, RuntimeOptions  # noqa: E402
from gentoolkit_text.data import pydoc_topics, split_holdout, token_blocks, token_stream  # noqa: E402
from gentoolkit_text.generation import Sampling, generate  # noqa: E402
from gentoolkit_text.model import gpt2  # noqa: E402
from gentoolkit_text.task import DEFAULTS  # noqa: E402
from gentoolkit_text.tokenizer import train_bpe  # noqa: E402
from gentoolkit_text.training import TrainConfig, learning_rate, make_optimizer, train  # noqa: E402

THREADS = 1  # the runtime's default on this 2-core machine; both sides of every comparison use it
REPEATS = 9  # timed rounds per side (after one warm-up round), interleaved in alternating order
Arm = Callable[[], tuple[float, float]]  # does one round of work and returns its (wall, CPU) seconds


def default_model(tokenizer):
    torch.manual_seed(0)
    params = {k: v for k, v in DEFAULTS["model"].items() if k != "path"}
    return gpt2(vocab_size=len(tokenizer), eos_token_id=tokenizer.eos_token_id, **params).eval()


def clock() -> tuple[float, float]:
    """Wall time and this process's CPU time (all its threads), in seconds."""
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> tuple[float, float]:
    """(wall, CPU) seconds since ``start``. On a shared machine wall time also counts the time other
    jobs held the core; CPU time counts only what this process spent."""
    now = clock()
    return now[0] - start[0], now[1] - start[1]


def interleaved(arms: dict[str, Arm], repeats: int) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) seconds per round of each arm (each arm times only its own work and returns it).

    One untimed warm-up round, then ``repeats`` rounds with the order reversed every other round,
    so load on the shared machine and any drift hit every arm alike. The thread count is checked
    before each call: it must not change between arms.
    """
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in arms}
    for name in arms:
        arms[name]()
    for round_ in range(repeats):
        for name in (list(arms) if round_ % 2 == 0 else list(arms)[::-1]):
            assert torch.get_num_threads() == THREADS, f"{name} runs on {torch.get_num_threads()} threads"
            times[name].append(arms[name]())
    return times


def generation_arms(model, tokenizer) -> tuple[dict[str, Arm], int]:
    """gentoolkit's ``generate`` and the same batch as a transformers user writes it
    (tokenize, ``model.generate``, decode); returns the arms and the new tokens per call."""
    prompts = ["The for statement", "A function definition", "class", "The import system"] * 2
    sampling = Sampling(max_new_tokens=64, min_new_tokens=64, temperature=0.8, top_k=50, top_p=0.95)
    config = sampling.generation_config(tokenizer)
    tokenizer.padding_side = "left"

    def transformers_generate() -> tuple[float, float]:
        start = clock()
        torch.manual_seed(0)
        inputs = tokenizer(prompts, return_tensors="pt", padding=True)
        with torch.no_grad():
            out = model.generate(**inputs, generation_config=config)
        tokenizer.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        return since(start)

    def gentoolkit_generate() -> tuple[float, float]:
        start = clock()
        generate(model, tokenizer, prompts, sampling, seed=0, batch_size=len(prompts))
        return since(start)

    return {"transformers": transformers_generate, "gentoolkit": gentoolkit_generate}, len(prompts) * 64


def plain_loop(model, blocks, cfg: TrainConfig) -> None:
    """A bare PyTorch loop: shuffled batches, the same AdamW, warm-up/cosine schedule and clipping."""
    import torch.nn.functional as F

    optimizer = make_optimizer(model, cfg)
    order = torch.randperm(len(blocks), generator=torch.Generator().manual_seed(0))
    model.train()
    for step in range(cfg.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, cfg)
        batch = blocks[order[step * cfg.batch_size:(step + 1) * cfg.batch_size]]
        logits = model(input_ids=batch[:, :-1]).logits
        loss = F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)


def training_arms(tokenizer, cfg: TrainConfig) -> dict[str, Arm]:
    """The plain loop and ``gentoolkit_text.training.train`` (with TensorBoard tracking on, the
    default, and off), each on a freshly built model that is made before its timer starts."""
    train_docs, held_docs = split_holdout(pydoc_topics(), 0.1)
    block, stride = DEFAULTS["train"]["block_size"], DEFAULTS["train"]["stride"]
    blocks = token_blocks(token_stream(train_docs, tokenizer), block, stride)
    held = token_blocks(token_stream(held_docs, tokenizer), block)

    def plain() -> tuple[float, float]:
        model = default_model(tokenizer)
        start = clock()
        plain_loop(model, blocks, cfg)
        return since(start)

    def gentoolkit(tensorboard: bool) -> Arm:
        def arm() -> tuple[float, float]:
            model = default_model(tokenizer)
            with tempfile.TemporaryDirectory() as out:
                options = RuntimeOptions(device="cpu", threads=THREADS, out=Path(out), progress=False)
                with Runtime(options, tracking={"tensorboard": tensorboard}) as runtime:
                    start = clock()
                    train(runtime, model, blocks, held, cfg)
                    return since(start)
        return arm

    return {"plain PyTorch": plain, "gentoolkit, TensorBoard on": gentoolkit(True),
            "gentoolkit, tracking off": gentoolkit(False)}


TABLE = ("| side | clock | tokens/s min | median | max | spread (max-min)/median "
         "| time ratio to the reference, paired per round: median (min–max) |\n"
         "| --- | --- | ---: | ---: | ---: | ---: | ---: |")


def spread_rows(times: dict[str, list[tuple[float, float]]], work: int, reference: str) -> list[str]:
    """Rows per arm and clock (CPU, wall): tokens/s min / median / max, spread, paired ratio to ``reference``."""
    rows = []
    for name, rounds in times.items():
        for index, clock_name in ((1, "CPU"), (0, "wall")):
            seconds = [r[index] for r in rounds]
            speed = sorted(work / t for t in seconds)
            median = statistics.median(speed)
            ratios = sorted(t[index] / ref[index] for ref, t in zip(times[reference], rounds))
            paired = "—" if name == reference else (f"{statistics.median(ratios):.3f} "
                                                    f"({ratios[0]:.3f}–{ratios[-1]:.3f})")
            rows.append(f"| {name} | {clock_name} | {speed[0]:.0f} | {median:.0f} | {speed[-1]:.0f} | "
                        f"{100 * (speed[-1] - speed[0]) / median:.0f} % | {paired} |")
    return rows


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
    arms, new_tokens = generation_arms(default_model(tokenizer), tokenizer)
    gen = interleaved(arms, REPEATS)
    cfg = TrainConfig(steps=40, batch_size=16, eval_every=10_000, eval_batches=1, checkpoint_every=0, resume=False)
    fit = interleaved(training_arms(tokenizer, cfg), REPEATS)
    metrics, seconds = default_run()
    load = os.getloadavg()[0]
    body = f"""
Model: the default GPT-2 ({metrics['parameters'] / 1e6:.2f}M parameters: 2 layers, 128 wide, 128 positions,
2048-token BPE). Both sides of each comparison run in one process on {THREADS} torch thread(s) (checked
before every call), interleaved in alternating order, {REPEATS} timed rounds after a warm-up round;
each side's timer covers only its own work (models are built before it starts). A ratio above 1
means gentoolkit took longer. Each side is timed twice: by this process's CPU time (what the code
costs) and by wall time (which on this shared machine also counts time other jobs held the core).
Load average at the end: {load:.1f} on {os.cpu_count()} shared cores.

Generation, 8 prompts x 64 new tokens (top-k 50, top-p 0.95) in one batch. gentoolkit's
`generate` calls the same `model.generate`; the reference is what a transformers user writes
(tokenize, `model.generate`, decode), so the difference is only gentoolkit's wrapper (seeding,
left padding, stop strings) and anything beyond the spread is noise.

{TABLE}
{chr(10).join(spread_rows(gen, new_tokens, "transformers"))}

Training, {cfg.steps} steps x {cfg.batch_size} x 128 tokens, AdamW with warm-up/cosine and clipping on both
sides. gentoolkit's `train` also builds its data loader, computes one held-out batch at the last
step and writes its final checkpoint, all inside its timer; with TensorBoard on it also logs
three scalars per step.

{TABLE}
{chr(10).join(spread_rows(fit, cfg.steps * cfg.batch_size * 128, "plain PyTorch"))}

Default `gentoolkit run text` ({DEFAULTS['train']['steps']} steps on pydoc topics, {THREADS} thread(s)): {seconds:.0f} s wall.

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
