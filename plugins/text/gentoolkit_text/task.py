"""The ``text`` task: tokenizer, GPT-2 training, held-out perplexity against n-gram baselines, samples.

``gentoolkit run text`` with the defaults trains a 0.7M-parameter GPT-2 on CPython's pydoc
topics in a few minutes on two CPU cores. With ``model.path`` set it fine-tunes (or, with
``train.steps = 0``, only samples from) a causal LM saved on disk.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any

from gentoolkit.contributions import RunResult
from gentoolkit.errors import ConfigError
from gentoolkit.runlog import write_metrics
from gentoolkit_text.training import TrainConfig

if TYPE_CHECKING:
    from gentoolkit.runtime import Runtime

DEFAULTS: dict[str, Any] = {
    "data": {"dataset": "pydoc-topics", "path": "", "field": "text", "holdout": 0.1,
             "strict": False},  # strict: refuse a file or line that cannot be read instead of skipping it
    "tokenizer": {"path": "", "vocab_size": 2048, "min_frequency": 2},
    "model": {"path": "", "n_layer": 2, "n_head": 4, "n_embd": 128, "n_positions": 128, "dropout": 0.0},
    "train": {**asdict(TrainConfig()), "block_size": 128, "stride": 64},
    "generate": {"prompts": ["", "The ", "A function "], "samples_per_prompt": 8, "batch_size": 8,
                 "max_new_tokens": 64, "min_new_tokens": 0, "temperature": 0.8, "top_k": 50, "top_p": 0.95,
                 "repetition_penalty": 1.0, "stop": [], "stream": False},
    "evaluate": {"perplexity": True, "baseline_k": 0.1, "repetition_n": 4},
}

# The valid range of every number above (gentoolkit.config.check_ranges).
RANGES = {
    "data": {"holdout": "(0, 1)"},
    "tokenizer": {"vocab_size": ">= 1", "min_frequency": ">= 1"},
    "model": {"n_layer": ">= 1", "n_head": ">= 1", "n_embd": ">= 1", "n_positions": ">= 2", "dropout": "[0, 1)"},
    "train": {"steps": ">= 0", "batch_size": ">= 1", "lr": "> 0", "warmup": ">= 0", "weight_decay": ">= 0",
              "grad_clip": ">= 0", "eval_every": ">= 1", "eval_batches": ">= 1", "checkpoint_every": ">= 0",
              "block_size": ">= 1", "stride": ">= 1"},
    "generate": {"samples_per_prompt": ">= 1", "batch_size": ">= 1", "max_new_tokens": ">= 1",
                 "min_new_tokens": ">= 0", "temperature": ">= 0", "top_k": ">= 0", "top_p": "(0, 1]",
                 "repetition_penalty": "> 0"},
    "evaluate": {"baseline_k": "> 0", "repetition_n": ">= 1"},
}


def load_documents(data: dict[str, Any]) -> list[str]:
    """The corpus named by ``data.dataset`` (``pydoc-topics``, ``text-files`` or ``jsonl``)."""
    from gentoolkit_text import data as readers

    name = data["dataset"]
    if name == "pydoc-topics":
        return readers.pydoc_topics()
    if not data["path"]:
        raise ConfigError(f"data.dataset {name!r} reads from disk: set data.path to the file or folder.")
    if name == "text-files":
        return readers.read_text_files(data["path"], strict=data["strict"])
    if name == "jsonl":
        return readers.read_jsonl(data["path"], data["field"], strict=data["strict"])
    raise ConfigError(f"Unknown data.dataset {name!r}; use pydoc-topics, text-files or jsonl.")


def _tokenizer(config: dict[str, Any], train_docs: list[str] | None):
    from gentoolkit_text.model import require_local_dir
    from gentoolkit_text.tokenizer import load_tokenizer, train_bpe

    if config["tokenizer"]["path"]:
        return load_tokenizer(config["tokenizer"]["path"])
    if config["model"]["path"]:  # a saved model's tokenizer sits beside it
        return load_tokenizer(require_local_dir(config["model"]["path"], "model"))
    return train_bpe(train_docs, config["tokenizer"]["vocab_size"], config["tokenizer"]["min_frequency"])


def _model(config: dict[str, Any], tokenizer):
    from gentoolkit_text.model import gpt2, load_local

    params = dict(config["model"])
    path = params.pop("path")
    if path:
        return load_local(path)
    return gpt2(vocab_size=len(tokenizer), eos_token_id=tokenizer.eos_token_id,
                bos_token_id=tokenizer.bos_token_id, **params)


def _samples(runtime: Runtime, model, tokenizer, gen: dict[str, Any], watermark: dict | None) -> list[dict[str, Any]]:
    from gentoolkit_text.generation import Sampling, generate

    sampling = Sampling(**{f.name: gen[f.name] for f in fields(Sampling)})
    prompts = [p for p in gen["prompts"] for _ in range(gen["samples_per_prompt"])]
    with runtime.autocast():
        texts = generate(model, tokenizer, prompts, sampling, seed=runtime.options.seed, batch_size=gen["batch_size"],
                         stream=gen["stream"], warn=runtime.log, watermark=watermark)
    return [{"prompt": p, "text": t} for p, t in zip(prompts, texts)]


def _detection_record(runtime: Runtime, model, tokenizer, artifacts: dict[str, Any]) -> dict[str, Any]:
    """What a watermark detector needs to re-score the samples: the tokenizer on disk and the vocabulary."""
    folder = artifacts.get("model")
    if folder is None:  # no model saved by this run: keep its tokenizer beside the samples
        folder = runtime.out_dir / "tokenizer"
        tokenizer.save_pretrained(folder)
    config = runtime.unwrap(model).config
    return {"watermarked": True, "tokenizer": str(folder), "vocab_size": config.vocab_size,
            "bos_token_id": config.bos_token_id}


def run(runtime: Runtime, config: dict[str, Any]) -> RunResult:
    from gentoolkit.models import write_card

    from gentoolkit_text.baselines import ngram_perplexity
    from gentoolkit_text.lm import CausalLM
    from gentoolkit_text.data import split_holdout, token_blocks, token_stream
    from gentoolkit_text.evaluate import distinct, perplexity, repetition, self_bleu
    from gentoolkit_text.model import context_length
    from gentoolkit_text.training import plot_learning_curve, train

    cfg_train = config["train"]
    needs_data = cfg_train["steps"] > 0 or config["evaluate"]["perplexity"]
    train_docs = held_docs = None
    if needs_data:
        train_docs, held_docs = split_holdout(load_documents(config["data"]), config["data"]["holdout"],
                                              seed=runtime.options.seed)
    tokenizer = _tokenizer(config, train_docs)
    model = _model(config, tokenizer).to(runtime.device)
    block = min(cfg_train["block_size"], context_length(model))
    out, metrics, artifacts = runtime.out_dir, {}, {}
    metrics["parameters"] = float(sum(p.numel() for p in model.parameters()))
    if needs_data:
        train_ids = token_stream(train_docs, tokenizer)
        held_blocks = token_blocks(token_stream(held_docs, tokenizer), block)
    if cfg_train["steps"] > 0:
        trained = train(runtime, model, token_blocks(train_ids, block, cfg_train["stride"]), held_blocks,
                        TrainConfig(**{f.name: cfg_train[f.name] for f in fields(TrainConfig)}))
        if trained.steps_run:
            metrics.update(train_tokens_per_second=trained.tokens_per_second, train_seconds=trained.seconds)
        if runtime.is_main:  # a folder transformers loads as it is, with the card Toolkit.load_model reads
            folder = CausalLM(runtime.unwrap(model), tokenizer).save(out / "model")
            write_card(folder, runtime.toolkit.card_for("hf-local", {"path": str(folder)}))
            artifacts["model"] = folder
            artifacts["learning_curve"] = plot_learning_curve(trained.history, out / "learning_curve.png")
    if config["evaluate"]["perplexity"]:
        metrics.update({f"heldout_{k}": v for k, v in perplexity(model, held_blocks, cfg_train["batch_size"],
                                                                 runtime.autocast).items()})
        for order, name in ((1, "unigram"), (2, "bigram")):
            metrics[f"baseline_{name}_perplexity"] = ngram_perplexity(
                train_ids, held_blocks, len(tokenizer), order, config["evaluate"]["baseline_k"])
    watermark = runtime.watermark("text")  # a provenance plugin's green list, or None
    samples = _samples(runtime, model, tokenizer, config["generate"], watermark)
    texts = [s["text"] for s in samples]
    metrics.update(distinct(texts))
    metrics.update(repetition(texts, config["evaluate"]["repetition_n"]))
    if sum(1 for t in texts if t.strip()) >= 2:
        metrics.update(self_bleu(texts))
    if runtime.is_main:
        artifacts["samples"] = out / "samples.jsonl"
        artifacts["samples"].write_text("".join(json.dumps(s) + "\n" for s in samples))
        runtime.generated(artifacts["samples"], "text",
                          **(_detection_record(runtime, model, tokenizer, artifacts) if watermark else {}))
        artifacts["metrics"] = write_metrics(out / "metrics.json", metrics)  # null, not NaN
    return RunResult(task="text", out_dir=out, metrics=metrics, artifacts=artifacts, outputs={"samples": texts})
