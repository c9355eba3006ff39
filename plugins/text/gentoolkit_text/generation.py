"""Sampling from a causal LM: a thin layer over ``model.generate`` and ``GenerationConfig``.

What it adds to ``generate``: prompts longer than the context are cut from the left (the last
``context - max_new_tokens`` tokens are kept, with a warning), an empty prompt starts from the
end-of-text token, each batch is seeded so the same seed gives the same text, stop strings are
cut from the returned text, and one prompt at a time can stream to the terminal.

``transformers`` matches stop strings over the end of the whole sequence, so one that straddles
the end of the prompt stops generation too; the returned text is cut only where it holds one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from gentoolkit.errors import ConfigError
from gentoolkit_text.model import context_length


@dataclass
class Sampling:
    """Sampling controls, as in ``transformers.GenerationConfig``."""

    max_new_tokens: int = 64
    min_new_tokens: int = 0  # end-of-text is blocked until this many tokens are out
    temperature: float = 1.0  # 0 means greedy decoding
    top_k: int = 0  # keep the k most likely tokens; 0 keeps all
    top_p: float = 1.0  # nucleus sampling; 1.0 keeps all
    repetition_penalty: float = 1.0  # > 1 discourages tokens already in the text (CTRL)
    stop: Sequence[str] = field(default_factory=tuple)  # stop at (and drop) the first of these

    def generation_config(self, tokenizer, watermark: dict | None = None):
        """The ``GenerationConfig``; ``watermark`` (``WatermarkingConfig`` keywords, from
        ``runtime.watermark("text")``) biases sampling toward a keyed green list (Kirchenbauer et al. 2023)."""
        from transformers import GenerationConfig, WatermarkingConfig

        if self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be at least 1, not {self.max_new_tokens}.")
        if self.temperature < 0 or not 0 < self.top_p <= 1 or self.top_k < 0 or self.repetition_penalty <= 0:
            raise ConfigError(f"Bad sampling controls {self}: need temperature >= 0, 0 < top_p <= 1, "
                              "top_k >= 0, repetition_penalty > 0.")
        sample = self.temperature > 0
        return GenerationConfig(
            max_new_tokens=self.max_new_tokens, min_new_tokens=self.min_new_tokens, do_sample=sample,
            temperature=self.temperature if sample else None, top_k=self.top_k if sample else None,
            top_p=self.top_p if sample else None, repetition_penalty=self.repetition_penalty,
            stop_strings=list(self.stop) or None,
            pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
            bos_token_id=tokenizer.bos_token_id,
            watermarking_config=WatermarkingConfig(**watermark) if watermark else None)


def encode_prompts(tokenizer, prompts: Sequence[str], limit: int,
                   warn: Callable[[str], None]) -> list[list[int]]:
    """Token ids of each prompt, keeping at most its last ``limit`` tokens (and warning when cut)."""
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    encoded = []
    for i, ids in enumerate(tokenizer(list(prompts), add_special_tokens=False)["input_ids"]):
        if len(ids) > limit:
            warn(f"Prompt {i} has {len(ids)} tokens, more than the {limit} the context leaves room for "
                 f"before the new tokens; generating from its last {limit} tokens.")
            ids = ids[-limit:]
        encoded.append(ids or [start])
    return encoded


def _left_pad(batch: list[list[int]], pad_id: int, device):
    """``input_ids`` and ``attention_mask`` tensors with the rows padded on the left."""
    import torch

    width = max(len(ids) for ids in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, ids in enumerate(batch):
        input_ids[row, width - len(ids):] = torch.tensor(ids)
        mask[row, width - len(ids):] = 1
    return input_ids.to(device), mask.to(device)


def _cut_at_stop(text: str, stop: Sequence[str]) -> str:
    ends = [text.find(s) for s in stop if s in text]
    return text[: min(ends)] if ends else text


def generate(model, tokenizer, prompts: Sequence[str], sampling: Sampling, seed: int = 0, batch_size: int = 8,
             stream: bool = False, warn: Callable[[str], None] = print, watermark: dict | None = None) -> list[str]:
    """The continuation of each prompt (without the prompt), in order.

    Batch ``b`` is sampled after seeding with ``seed + b``, so the same prompts, batch size and
    seed give the same text; the seeding happens on a fork of torch's global RNG, which is left
    as it was. ``stream`` prints tokens as they come (one prompt at a time). ``watermark``: see
    :meth:`Sampling.generation_config`.
    """
    import torch
    from transformers import TextStreamer

    config = sampling.generation_config(tokenizer, watermark)
    limit = context_length(model) - sampling.max_new_tokens
    if limit < 1:
        raise ConfigError(f"max_new_tokens ({sampling.max_new_tokens}) must be below the model's context "
                          f"length ({context_length(model)}) to leave room for the prompt.")
    encoded = encode_prompts(tokenizer, prompts, limit, warn)
    batch_size = 1 if stream else batch_size
    streamer = TextStreamer(tokenizer, skip_prompt=False, skip_special_tokens=True) if stream else None
    texts = []
    model.eval()
    device = model.device
    forked = {"devices": [device], "device_type": device.type} if device.type != "cpu" else {"devices": []}
    for b, start in enumerate(range(0, len(encoded), batch_size)):
        input_ids, mask = _left_pad(encoded[start:start + batch_size], config.pad_token_id, device)
        with torch.random.fork_rng(**forked), torch.no_grad():
            torch.manual_seed(seed + b)
            out = model.generate(input_ids=input_ids, attention_mask=mask, generation_config=config,
                                 tokenizer=tokenizer, streamer=streamer)
        new = tokenizer.batch_decode(out[:, input_ids.shape[1]:], skip_special_tokens=True)
        texts.extend(_cut_at_stop(text, sampling.stop) for text in new)
    return texts
