"""Atom-level SMILES tokenizer and vocabulary (the REINVENT / MOSES regex)."""

from __future__ import annotations

import json
import re
from typing import Iterable

from gentoolkit.errors import GentoolkitError

PAD, START, END = "<pad>", "<start>", "<end>"
SPECIAL = (PAD, START, END)

# Bracket atoms, two-letter organic atoms, %nn ring bonds, then any single character.
_TOKEN = re.compile(r"(\[[^\]]+\]|Br|Cl|%\d{2}|.)")


class TokenizerError(GentoolkitError):
    """A SMILES with a token the vocabulary does not know."""


def tokenize(smiles: str) -> list[str]:
    """Split a SMILES into atom-level tokens: ``[nH]``, ``Cl``, ``Br``, ``%10``, ``c``, ``(``..."""
    return _TOKEN.findall(smiles)


class Vocabulary:
    """Tokens and their ids; ids 0, 1, 2 are pad, start and end."""

    def __init__(self, tokens: Iterable[str]):
        tokens = [t for t in tokens if t not in SPECIAL]
        self.tokens: list[str] = [*SPECIAL, *sorted(set(tokens))]
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.pad, self.start, self.end = (self.index[t] for t in SPECIAL)

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.tokens == other.tokens

    def encode(self, smiles: str) -> list[int]:
        """Token ids of ``smiles`` framed by start and end tokens."""
        ids = [self.start]
        for token in tokenize(smiles):
            if token not in self.index:
                raise TokenizerError(f"Token {token!r} in SMILES {smiles!r} is not in the prior's vocabulary; "
                                     "remove such molecules or train a prior whose vocabulary has it.")
            ids.append(self.index[token])
        ids.append(self.end)
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """The SMILES of ``ids``: stops at the end token, skips start and pad."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.end:
                break
            if i not in (self.start, self.pad):
                out.append(self.tokens[i])
        return "".join(out)

    def to_json(self) -> str:
        return json.dumps(self.tokens)

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        tokens = json.loads(text)
        if tokens[:3] != list(SPECIAL):
            raise TokenizerError(f"Vocabulary JSON must start with {list(SPECIAL)}; got {tokens[:3]}.")
        return cls(tokens)

    @classmethod
    def from_smiles(cls, smiles: Iterable[str]) -> Vocabulary:
        """The vocabulary of every token in ``smiles``."""
        tokens: set[str] = set()
        for s in smiles:
            tokens.update(tokenize(s))
        return cls(tokens)
