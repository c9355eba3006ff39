"""The green-list text watermark (Kirchenbauer et al. 2023) through transformers' own
``WatermarkingConfig`` (applied while sampling, by the text plugin) and ``WatermarkDetector``.

The key seeds the green lists (``hashing_key``); the sidecar records everything else detection
needs (the tokenizer folder, vocabulary size, green-list ratio) but never the key. A file's
samples are scored together, each distinct bigram once, so repeated phrases cannot inflate z.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from gentoolkit_provenance.settings import Settings

__all__ = ["PARAMS", "Z_THRESHOLD", "text_watermark", "detection_claims", "z_score", "read_text_file"]

PARAMS = {"greenlist_ratio": 0.25, "bias": 2.0, "seeding_scheme": "lefthash", "context_width": 1}
Z_THRESHOLD = 4.0  # one-sided normal tail about 3e-5


def text_watermark(settings: Settings) -> dict[str, Any]:
    """``WatermarkingConfig`` keywords for this key."""
    digest = hmac.new(settings.key, b"text-greenlist", hashlib.sha256).digest()
    return {**PARAMS, "hashing_key": int.from_bytes(digest[:4], "big") | 1}


def detection_claims(metadata: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The sidecar's record for detection (tokenizer path relative to the file's folder when inside it)."""
    tokenizer = Path(metadata["tokenizer"])
    if tokenizer.is_relative_to(folder):
        tokenizer = tokenizer.relative_to(folder)
    return {"scheme": "green-list (Kirchenbauer et al. 2023), transformers WatermarkingConfig", **PARAMS,
            "tokenizer": str(tokenizer), "vocab_size": metadata["vocab_size"], "bos_token_id": metadata["bos_token_id"]}


def z_score(ids: list[int], claims: dict[str, Any], settings: Settings) -> tuple[float, int]:
    """(z, bigrams scored) for token ids, each distinct bigram counted once."""
    import torch

    detector = _detector(settings, claims["vocab_size"], claims["bos_token_id"])
    out = detector(torch.tensor([ids]), z_threshold=Z_THRESHOLD, return_dict=True)
    return float(out.z_score[0]), int(out.num_tokens_scored[0])


@lru_cache(maxsize=4)
def _detector(settings: Settings, vocab_size: int, bos_token_id: int | None):
    from transformers import WatermarkDetector

    config = SimpleNamespace(vocab_size=vocab_size, bos_token_id=bos_token_id, is_encoder_decoder=False)
    return WatermarkDetector(config, "cpu", text_watermark(settings), ignore_repeated_ngrams=True)


def read_text_file(path: Path, claims: dict[str, Any] | None, settings: Settings) -> dict[str, Any]:
    """The watermark verdict for a JSONL file of samples (``{"text": ...}`` per line)."""
    if not claims:
        return {"verdict": "not recorded", "reason": "no text watermark recorded for it (opted out, or no sidecar)"}
    from transformers import AutoTokenizer

    folder = path.parent / claims["tokenizer"]
    if not folder.is_dir():
        return {"verdict": "unreadable", "reason": f"the tokenizer folder {folder} is gone"}
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    texts = [json.loads(line).get("text", "") for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    ids = [i for text in texts for i in tokenizer(text, add_special_tokens=False)["input_ids"]]
    if len(ids) < 2:
        return {"verdict": "too short", "reason": f"{len(ids)} tokens: nothing to score"}
    z, scored = z_score(ids, claims, settings)
    return {"verdict": "marked" if z >= Z_THRESHOLD else "unmarked", "z_score": round(z, 2),
            "p_value": 0.5 * math.erfc(z / math.sqrt(2)), "threshold": Z_THRESHOLD, "samples": len(texts),
            "bigrams_scored": scored}
