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
from gentoolkit.protocols import ModuleWrapper
from gentoolkit_text.generation import Sampling, encode_prompts, generate
from gentoolkit_text.model import context_length, load_local
from gentoolkit_text.tokenizer import load_tokenizer


class CausalLM(ModuleWrapper):
    """A transformers causal LM and its tokenizer: sample strings, score strings."""

    item_spec = ItemSpec("text")
    likelihood_kind = "exact"
    wrapped = "model"  # the transformers model: train/eval, state_dict and parameters are its

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
        scores = [values.sum() for _, values in self._token_scores(texts, condition)]
        return torch.stack(scores) if scores else torch.zeros(0)

    @torch.no_grad()
    def token_log_probs(self, texts: Sequence[str], *, condition: str | None = None
                        ) -> list[tuple[list[str], torch.Tensor]]:
        """Per text: its tokens as text (the end-of-text token last) and each one's log-probability
        (T,) in nats given the prompt and the tokens before it (the core's ``TokenDensity``)."""
        return [([self.tokenizer.decode([i]) for i in ids], values)
                for ids, values in self._token_scores(texts, condition)]

    def _token_scores(self, texts: Sequence[str], condition: str | None) -> list[tuple[list[int], torch.Tensor]]:
        """(target token ids, their log-probabilities) of each text after the prompt."""
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
            scores.append((target, logits.log_softmax(-1).gather(1, input_ids[0, len(prompt):, None])[:, 0].cpu()))
        return scores

    # --- the core's Trainable: fine-tuning by gentoolkit.training.fit on strings ------------------

    lr = 5e-5  # AdamW's learning rate for configure_optimizers (hf-local takes it as a param)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"lm": torch.optim.AdamW(self.model.parameters(), lr=self.lr)}

    def training_step(self, batch: Sequence[str], optimizers: dict, runtime: Any) -> dict[str, float]:
        """One AdamW step on the mean next-token NLL of a batch of texts (start token first,
        end-of-text last, cut to the model's context)."""
        limit = context_length(self.model)
        rows = [([self._start] + self.tokenizer(text, add_special_tokens=False)["input_ids"]
                 + [self.tokenizer.eos_token_id])[:limit] for text in batch]
        width = max(len(row) for row in rows)
        ids = torch.tensor([row + [self.tokenizer.eos_token_id] * (width - len(row)) for row in rows])
        mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows])
        labels = ids.masked_fill(mask == 0, -100)
        device = self.model.device
        loss = self.model(input_ids=ids.to(device), attention_mask=mask.to(device), labels=labels.to(device)).loss
        runtime.optimize(loss, optimizers["lm"], clip_norm=1.0)
        return {"nll": loss.item()}

    def sample(self, n: int, *, condition: str | None = None, generator: torch.Generator | None = None,
               **sampling: Any) -> list[str]:
        """``n`` continuations of the prompt ``condition`` (or unconditional texts); ``sampling``
        takes :class:`~gentoolkit_text.generation.Sampling`'s fields (max_new_tokens, top_p, ...)."""
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator)) if generator is not None else 0
        return generate(self.model, self.tokenizer, [condition or ""] * n, Sampling(**sampling), seed=seed,
                        warn=lambda message: None)
