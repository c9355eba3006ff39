"""A causal LM with its tokenizer, as the core's model contract sees it.

:class:`CausalLM` is a ``Sampler`` (``sample(n, condition=prompt)`` -> strings) and a
``Density`` (``log_prob(texts, condition=prompt)``: the exact log-probability, in nats, that the
model writes each text and then its end-of-text token). It saves as a Hugging Face folder plus
gentoolkit's model card, so ``Toolkit.load_model(folder)`` finds it from any plugin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch

from gentoolkit import ConfigError, ItemSpec
from gentoolkit_text.generation import Sampling, encode_prompts, generate
from gentoolkit_text.model import context_length, load_local
from gentoolkit_text.tokenizer import load_tokenizer


class CausalLM:
    """A transformers causal LM and its tokenizer: sample strings, score strings."""

    item_spec = ItemSpec("text")
    likelihood_kind = "exact"

    def __init__(self, model: Any, tokenizer: Any):
        self.model, self.tokenizer = model, tokenizer

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> CausalLM:
        """The model and tokenizer saved in the folder ``path`` (never from the hub)."""
        return cls(load_local(path).to(device).eval(), load_tokenizer(path))

    def save(self, path: str | Path) -> Path:
        """``save_pretrained`` of the model and the tokenizer into the folder ``path``."""
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        return Path(path)

    def to(self, device: Any) -> CausalLM:
        self.model.to(device)
        return self

    @property
    def _start(self) -> int:
        tok = self.tokenizer
        return tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id

    @torch.no_grad()  # a score of discrete items: no gradient to keep
    def log_prob(self, texts: Sequence[str], *, condition: str | None = None) -> torch.Tensor:
        """log p(text, end-of-text | prompt) in nats for each text, ``(B,)``; the prompt
        (``condition``) defaults to the start token alone."""
        prompt = encode_prompts(self.tokenizer, [condition or ""], context_length(self.model), print)[0]
        if not condition:
            prompt = [self._start]
        scores = []
        for text in texts:
            target = self.tokenizer(text, add_special_tokens=False)["input_ids"] + [self.tokenizer.eos_token_id]
            ids = prompt + target
            if len(ids) > context_length(self.model):
                raise ConfigError(f"A text of {len(target)} tokens (with its prompt {len(ids)}) is longer than the "
                                  f"model's context of {context_length(self.model)} tokens; its exact likelihood "
                                  "is not defined. Score shorter texts.")
            input_ids = torch.tensor([ids], device=self.model.device)
            logits = self.model(input_ids=input_ids).logits[0, len(prompt) - 1:-1].float()  # predicts target
            scores.append(logits.log_softmax(-1).gather(1, input_ids[0, len(prompt):, None]).sum())
        return torch.stack(scores).cpu() if scores else torch.zeros(0)

    def sample(self, n: int, *, condition: str | None = None, generator: torch.Generator | None = None,
               **sampling: Any) -> list[str]:
        """``n`` continuations of the prompt ``condition`` (or unconditional texts); ``sampling``
        takes :class:`~gentoolkit_text.generation.Sampling`'s fields (max_new_tokens, top_p, ...)."""
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator)) if generator is not None else 0
        return generate(self.model, self.tokenizer, [condition or ""] * n, Sampling(**sampling), seed=seed,
                        warn=lambda message: None)
