"""Tokenizers: train a byte-level BPE on a corpus, or load one from disk.

Both return a ``transformers.PreTrainedTokenizerFast``, so it saves with ``save_pretrained``
beside the model and loads back with ``AutoTokenizer.from_pretrained`` without gentoolkit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from gentoolkit_text.model import require_local_dir

EOS = "<|endoftext|>"


def train_bpe(texts: Iterable[str], vocab_size: int = 2048, min_frequency: int = 2):
    """A byte-level BPE (GPT-2's scheme) trained on ``texts``; ``<|endoftext|>`` is id 0.

    Byte-level means every string encodes, whatever its characters: no unknown token.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=[EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=EOS, eos_token=EOS, pad_token=EOS)


def load_tokenizer(path: str | Path):
    """A tokenizer saved on disk (a folder with tokenizer.json or a model's tokenizer files).

    Never reaches the hub. A tokenizer without a padding token pads with its end-of-text token.
    """
    from transformers import AutoTokenizer

    path = require_local_dir(path, "tokenizer")
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
