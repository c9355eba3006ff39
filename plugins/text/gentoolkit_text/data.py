"""Text corpora as lists of documents, a held-out split, and token blocks for training.

Readers return ``list[str]``, one string per document: a text file is one document, a JSONL line
is one document, a pydoc topic is one document. A missing path raises :class:`TextDataError`; bad
records (an empty or non-UTF-8 file in a folder, a JSONL line that is not JSON or lacks the field)
are skipped and reported, or refused with ``strict`` (gentoolkit's one policy for partly bad input).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from gentoolkit.errors import GentoolkitError, skip_bad_records

if TYPE_CHECKING:
    import torch

TEXT_SUFFIXES = (".txt", ".md", ".rst", ".text")


class TextDataError(GentoolkitError):
    """A text file or JSONL line that cannot be read as a document."""


def _read_utf8(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise TextDataError(f"{path} is not UTF-8 text (byte {err.start}: {err.reason}); "
                            "convert it, e.g. `iconv -f latin1 -t utf-8`.") from err
    if not text.strip():
        raise TextDataError(f"{path} is empty; remove it or give it some text.")
    return text


def read_text_files(path: str | Path, suffixes: Sequence[str] = TEXT_SUFFIXES, strict: bool = False) -> list[str]:
    """Documents from a text file, or from every file with one of ``suffixes`` under a folder."""
    path = Path(path).expanduser()
    if path.is_file():
        return [_read_utf8(path)]
    if not path.is_dir():
        raise TextDataError(f"No text file or folder at {path}.")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
    if not files:
        raise TextDataError(f"{path} holds no text files (looked for {', '.join(suffixes)}).")
    docs, bad = [], []
    for file in files:
        try:
            docs.append(_read_utf8(file))
        except TextDataError as err:
            bad.append((f"file {file.relative_to(path)}", str(err)))
    skip_bad_records(str(path), bad, len(files), strict, "files", TextDataError)
    return docs


def read_jsonl(path: str | Path, field: str = "text", strict: bool = False) -> list[str]:
    """Documents from the string ``field`` of every non-blank line of a JSONL file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise TextDataError(f"No JSONL file at {path}.")
    docs, bad, total = [], [], 0
    for number, line in enumerate(_read_utf8(path).splitlines(), start=1):
        if not line.strip():
            continue
        total += 1
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            bad.append((f"line {number}", f"not valid JSON ({err.msg})"))
            continue
        value = record.get(field) if isinstance(record, dict) else None
        if not isinstance(value, str):
            bad.append((f"line {number}", f"no string field {field!r} (set data.field in the task config)"))
            continue
        docs.append(value)
    skip_bad_records(str(path), bad, total, strict, "lines", TextDataError)
    return docs


def pydoc_topics() -> list[str]:
    """CPython's help topics (``pydoc_data.topics``), installed with every Python: ~465k characters."""
    from pydoc_data.topics import topics

    return [topics[name] for name in sorted(topics)]


def split_holdout(docs: Sequence[str], fraction: float, seed: int = 0) -> tuple[list[str], list[str]]:
    """Shuffle documents with ``seed`` and hold out ``fraction`` of them (at least one) for evaluation."""
    if len(docs) < 2:
        raise TextDataError(f"Need at least two documents to hold one out for evaluation; got {len(docs)}.")
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    n_held = min(len(docs) - 1, max(1, round(fraction * len(docs))))
    return [docs[i] for i in order[n_held:]], [docs[i] for i in order[:n_held]]


def token_stream(docs: Sequence[str], tokenizer) -> list[int]:
    """All documents tokenized and joined, each followed by the end-of-text token."""
    eos = tokenizer.eos_token_id
    ids: list[int] = []
    for encoded in tokenizer(list(docs), add_special_tokens=False)["input_ids"]:
        ids.extend(encoded)
        if eos is not None:
            ids.append(eos)
    return ids


def token_blocks(ids: Sequence[int], block_size: int, stride: int | None = None) -> torch.Tensor:
    """Windows of ``block_size + 1`` tokens every ``stride`` tokens (default: non-overlapping).

    Shape (N, block_size + 1): a row's first ``block_size`` tokens are the input, its last
    ``block_size`` the targets.
    """
    import torch

    if len(ids) < block_size + 1:
        raise TextDataError(f"The corpus has {len(ids)} tokens, fewer than one block of {block_size + 1}; "
                            "give more text or a smaller block size.")
    return torch.tensor(ids, dtype=torch.long).unfold(0, block_size + 1, stride or block_size)
