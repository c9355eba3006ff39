"""Causal language models: a GPT-2 built from a config, or any Hugging Face causal LM on disk.

Both are plain ``transformers`` models: they save with ``save_pretrained`` and load with
``AutoModelForCausalLM.from_pretrained`` without gentoolkit.
"""

from __future__ import annotations

from pathlib import Path

from gentoolkit.errors import GentoolkitError


class ModelPathError(GentoolkitError):
    """A local model or tokenizer path that does not exist or holds no model."""


def require_local_dir(path: str | Path, what: str) -> Path:
    """``path`` as an existing folder, checked before transformers could try the hub."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise ModelPathError(f"No {what} folder at {folder}. Give the path of a folder saved with "
                             "save_pretrained; gentoolkit never downloads models from the hub.")
    return folder


def gpt2(vocab_size: int, n_positions: int = 128, n_layer: int = 2, n_head: int = 4, n_embd: int = 128,
         dropout: float = 0.0, eos_token_id: int = 0, bos_token_id: int = 0):
    """A fresh GPT-2 (``GPT2LMHeadModel``) of the given size, initialised as GPT-2 is."""
    from transformers import GPT2Config, GPT2LMHeadModel

    if n_embd % n_head:
        raise GentoolkitError(f"model.n_embd ({n_embd}) must be a multiple of model.n_head ({n_head}).")
    config = GPT2Config(vocab_size=vocab_size, n_positions=n_positions, n_layer=n_layer, n_head=n_head,
                        n_embd=n_embd, resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout,
                        bos_token_id=bos_token_id, eos_token_id=eos_token_id)
    return GPT2LMHeadModel(config)


def load_local(path: str | Path):
    """Any causal LM saved on disk (``from_pretrained`` path) as safetensors, loaded offline.

    Pickled weights (``pytorch_model.bin``) are refused: unpickling can run code.
    """
    from transformers import AutoModelForCausalLM

    folder = require_local_dir(path, "model")
    if not (folder / "config.json").is_file():
        raise ModelPathError(f"{folder} has no config.json: it is not a saved Hugging Face model.")
    if not any(folder.glob("*.safetensors")) and not any(folder.glob("*.safetensors.index.json")):
        pickled = sorted(p.name for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".ckpt"))
        found = f"holds {', '.join(pickled)}, weights in pickle format, which" if pickled else "has no weights that"
        raise ModelPathError(
            f"{folder} {found} gentoolkit does not load (unpickling can run code). It needs "
            "model.safetensors: where you trust the file, convert it with `AutoModelForCausalLM."
            "from_pretrained(folder).save_pretrained(folder)`, which writes safetensors.")
    try:
        return AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, use_safetensors=True)
    except (OSError, ValueError) as err:
        raise ModelPathError(f"Cannot load the model in {folder}: {err}") from err


def context_length(model) -> int:
    """How many positions the model attends over (GPT-2's n_positions, others' max_position_embeddings)."""
    config = model.config
    for key in ("n_positions", "max_position_embeddings", "n_ctx", "seq_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    raise GentoolkitError(f"Cannot tell the context length of {type(model).__name__}; its config "
                          "has none of n_positions, max_position_embeddings, n_ctx, seq_length.")
