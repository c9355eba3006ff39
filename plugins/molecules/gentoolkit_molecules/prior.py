"""SMILES priors: an RNN (LSTM/GRU, REINVENT's CharRNN) and a small causal transformer (nanoGPT).

A :class:`Prior` is a vocabulary plus a network that maps token ids ``(B, T)`` to next-token
logits ``(B, T, V)``. It samples molecules token by token and scores given sequences; the RL
agent is a copy of the prior whose ``log_likelihood`` is differentiated.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from gentoolkit.checkpoint import check_compatible, load_checkpoint, read_metadata, save_checkpoint
from gentoolkit import ItemSpec
from gentoolkit.protocols import ModuleWrapper
from gentoolkit.errors import CheckpointError, GentoolkitError
from gentoolkit_molecules.tokenizer import Vocabulary

MODEL = "gentoolkit-molecules-prior"
KINDS = ("lstm", "gru", "transformer")

RNN_DEFAULTS = {"embedding": 256, "hidden": 512, "layers": 3, "dropout": 0.0}  # REINVENT's 3x512 LSTM
TRANSFORMER_DEFAULTS = {"embedding": 256, "layers": 4, "heads": 8, "dropout": 0.0, "block_size": 128}


class RNN(nn.Module):
    """Embedding -> stacked LSTM/GRU -> linear head."""

    def __init__(self, vocab_size: int, kind: str = "lstm", embedding: int = 256, hidden: int = 512,
                 layers: int = 3, dropout: float = 0.0):
        super().__init__()
        cell = nn.LSTM if kind == "lstm" else nn.GRU
        self.embedding = nn.Embedding(vocab_size, embedding)
        self.rnn = cell(embedding, hidden, num_layers=layers, dropout=dropout if layers > 1 else 0.0,
                        batch_first=True)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, ids: torch.Tensor, state=None):
        out, state = self.rnn(self.embedding(ids), state)  # (B, T, H)
        return self.head(out), state  # (B, T, V)


class CausalSelfAttention(nn.Module):
    def __init__(self, embedding: int, heads: int, dropout: float):
        super().__init__()
        self.qkv = nn.Linear(embedding, 3 * embedding)
        self.proj = nn.Linear(embedding, embedding)
        self.heads, self.dropout = heads, dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, embedding: int, heads: int, dropout: float):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(embedding), nn.LayerNorm(embedding)
        self.attn = CausalSelfAttention(embedding, heads, dropout)
        self.mlp = nn.Sequential(nn.Linear(embedding, 4 * embedding), nn.GELU(),
                                 nn.Linear(4 * embedding, embedding), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class Transformer(nn.Module):
    """A small GPT: token + position embeddings, pre-norm blocks, tied output head."""

    def __init__(self, vocab_size: int, embedding: int = 256, layers: int = 4, heads: int = 8,
                 dropout: float = 0.0, block_size: int = 128):
        super().__init__()
        if embedding % heads:
            raise GentoolkitError(f"Transformer prior: embedding {embedding} must be divisible by heads {heads}.")
        self.block_size = block_size
        self.tokens = nn.Embedding(vocab_size, embedding)
        self.positions = nn.Embedding(block_size, embedding)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(embedding, heads, dropout) for _ in range(layers))
        self.ln = nn.LayerNorm(embedding)
        self.head = nn.Linear(embedding, vocab_size, bias=False)
        self.head.weight = self.tokens.weight
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, ids: torch.Tensor, state=None):
        T = ids.shape[1]
        positions = torch.arange(T, device=ids.device)
        x = self.drop(self.tokens(ids) + self.positions(positions))  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x)), None  # (B, T, V)


def build_network(vocab_size: int, config: dict) -> nn.Module:
    """The network a prior ``config`` describes."""
    size = {k: v for k, v in config.items() if k != "kind"}
    if config["kind"] == "transformer":
        return Transformer(vocab_size, **size)
    return RNN(vocab_size, config["kind"], **size)


@dataclass
class Samples:
    """Sampled molecules: decoded SMILES (not standardised), token ids and their log-likelihood."""

    smiles: list[str]
    sequences: torch.LongTensor  # (B, T) incl. start token, pad after end
    log_likelihood: torch.Tensor  # (B,) log p(sequence) under the model (temperature 1)


class Prior(ModuleWrapper):
    """A vocabulary and a network that generates SMILES token by token.

    Implements the core's ``Sampler`` (``sample(n)`` -> SMILES strings) and ``Density``
    (``log_prob(smiles)``: the exact log-likelihood of each string's token sequence) protocols.
    """

    item_spec = ItemSpec("smiles")
    likelihood_kind = "exact"

    def __init__(self, vocabulary: Vocabulary, network: nn.Module, config: dict, card: dict | None = None):
        self.vocabulary, self.network, self.config = vocabulary, network, config
        self.card = card or {}

    @classmethod
    def create(cls, vocabulary: Vocabulary, kind: str = "lstm", **size) -> Prior:
        """A fresh, untrained prior; ``size`` overrides the kind's defaults (embedding, hidden, ...)."""
        if kind not in KINDS:
            raise GentoolkitError(f"Unknown prior kind {kind!r}; use one of {', '.join(KINDS)}.")
        defaults = TRANSFORMER_DEFAULTS if kind == "transformer" else RNN_DEFAULTS
        unknown = set(size) - set(defaults)
        if unknown:
            raise GentoolkitError(f"Unknown size option(s) {sorted(unknown)} for a {kind} prior; "
                                  f"known: {sorted(defaults)}.")
        config = {"kind": kind, **defaults, **size}
        return cls(vocabulary, build_network(len(vocabulary), config), config)

    @classmethod
    def load(cls, path: str | Path | None = None, device: str = "cpu") -> Prior:
        """Read a prior saved by :meth:`save`; ``None`` reads the shipped pretrained prior."""
        if path is None:
            path = Path(str(resources.files("gentoolkit_molecules") / "data" / "prior" / "prior"))
        metadata = read_metadata(path)
        check_compatible(metadata, {"model": MODEL}, path)
        try:
            vocabulary = Vocabulary(metadata["vocabulary"])
            network = build_network(len(vocabulary), metadata["config"])
        except (KeyError, TypeError) as err:
            raise CheckpointError(f"Prior checkpoint {path} has an incomplete config ({err}).") from err
        state, _ = load_checkpoint(path, device=device)
        try:
            network.load_state_dict(state["network"])
        except (KeyError, RuntimeError) as err:
            raise CheckpointError(f"Prior checkpoint {path} does not fit its own config: {err}") from err
        return cls(vocabulary, network.to(device), metadata["config"], metadata.get("card"))

    def save(self, path: str | Path, card: dict | None = None, metadata: dict | None = None) -> Path:
        """Write ``path.safetensors`` + ``path.json`` (config, vocabulary, card and any extra
        ``metadata``, such as gentoolkit's model card); returns the JSON path."""
        if card is not None:
            self.card = card
        metadata = {**(metadata or {}), "model": MODEL, "config": self.config,
                    "vocabulary": self.vocabulary.tokens, "card": self.card}
        return save_checkpoint(path, {"network": self.network.state_dict()}, metadata)

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    def to(self, device) -> Prior:
        self.network.to(device)
        return self

    def copy(self) -> Prior:
        return Prior(self.vocabulary, copy.deepcopy(self.network), dict(self.config), dict(self.card))

    def num_parameters(self) -> int:
        """The number of trainable parameters (tied weights counted once)."""
        return sum(p.numel() for p in self.network.parameters())

    def encode(self, smiles: list[str]) -> torch.LongTensor:
        """Token ids ``(B, T)`` with start/end tokens, right-padded; raises TokenizerError."""
        encoded = [self.vocabulary.encode(s) for s in smiles]
        return pad(encoded, self.vocabulary.pad).to(self.device)

    def log_likelihood(self, sequences: torch.LongTensor) -> torch.Tensor:
        """log p of each sequence ``(B, T)`` (start token first, pad after end): ``(B,)``, differentiable."""
        return sequence_log_likelihood(self.network, sequences.to(self.device), self.vocabulary)

    @torch.no_grad()  # a score of discrete items: no gradient to keep
    def log_prob(self, smiles: list[str], *, condition: None = None) -> torch.Tensor:
        """The exact log-likelihood (nats) of each SMILES string as tokenised, ``(B,)``; a token
        outside the vocabulary raises TokenizerError naming it."""
        return self.log_likelihood(self.encode(list(smiles))).float()

    @torch.no_grad()
    def token_log_probs(self, smiles: list[str], *, condition: None = None) -> list[tuple[list[str], torch.Tensor]]:
        """Per SMILES: its tokens (``<end>`` last) and each one's log-probability (T,) in nats given
        the tokens before it (the core's ``TokenDensity``); they sum to ``log_prob``."""
        sequences = self.encode(list(smiles))
        logits, _ = self.network(sequences[:, :-1])
        targets = sequences[:, 1:]
        logp = never_pad_or_start(logits, self.vocabulary).log_softmax(-1).gather(2, targets.unsqueeze(-1))
        out = []
        for row, values in zip(targets.tolist(), logp.squeeze(-1).cpu()):
            length = row.index(self.vocabulary.end) + 1
            out.append(([self.vocabulary.tokens[i] for i in row[:length]], values[:length].clone()))
        return out

    # --- the core's Trainable: fine-tuning by gentoolkit.training.fit on SMILES strings -----------

    lr = 1e-3  # Adam's learning rate for configure_optimizers (the registered models take it as a param)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"prior": torch.optim.Adam(self.network.parameters(), lr=self.lr)}

    def training_step(self, batch: list[str] | torch.LongTensor, optimizers: dict, runtime) -> dict[str, float]:
        """One Adam step on the mean NLL of a batch of SMILES strings (or padded token ids)."""
        sequences = batch if torch.is_tensor(batch) else self.encode(list(batch))
        loss = -self.log_likelihood(sequences).mean()
        runtime.optimize(loss, optimizers["prior"], clip_norm=1.0)
        return {"nll": loss.item()}

    def sample(self, n: int, *, condition: None = None, generator: torch.Generator | None = None,
               temperature: float = 1.0) -> list[str]:
        """``n`` SMILES strings (valid or not: a prior can make mistakes, ``standardise`` tells)."""
        with torch.no_grad():
            return self.sample_sequences(n, temperature=temperature, generator=generator).smiles

    def sample_sequences(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None,
                         max_length: int = 128) -> Samples:
        """Draw ``n`` molecules; each stops at the end token or after ``max_length`` tokens."""
        if temperature <= 0:
            raise GentoolkitError(f"Sampling temperature must be > 0, got {temperature}.")
        if isinstance(self.network, Transformer):
            max_length = min(max_length, self.network.block_size - 1)
        vocab, device = self.vocabulary, self.device
        ids = torch.full((n, 1), vocab.start, dtype=torch.long, device=device)
        total = torch.zeros(n, device=device)
        done = torch.zeros(n, dtype=torch.bool, device=device)
        state, step_input = None, ids
        for _ in range(max_length):
            if isinstance(self.network, Transformer):
                logits, _ = self.network(ids)
            else:
                logits, state = self.network(step_input, state)
            logits = never_pad_or_start(logits[:, -1], vocab)  # (B, V)
            probs = (logits / temperature).softmax(-1)
            token = torch.multinomial(probs.detach().float().cpu(), 1, generator=generator).squeeze(1).to(device)
            token = torch.where(done, torch.full_like(token, vocab.pad), token)
            logp = logits.log_softmax(-1).gather(1, token.unsqueeze(1)).squeeze(1)
            total = total + torch.where(done, torch.zeros_like(logp), logp)
            ids = torch.cat([ids, token.unsqueeze(1)], dim=1)
            step_input = token.unsqueeze(1)
            done = done | (token == vocab.end)
            if bool(done.all()):
                break
        smiles = [vocab.decode(row[1:].tolist()) for row in ids]
        return Samples(smiles, ids, total)


def never_pad_or_start(logits: torch.Tensor, vocabulary: Vocabulary) -> torch.Tensor:
    """Logits with pad and start ruled out: neither is ever a next token."""
    logits = logits.float().clone()
    logits[..., [vocabulary.pad, vocabulary.start]] = float("-inf")
    return logits


def sequence_log_likelihood(network: nn.Module, sequences: torch.LongTensor, vocabulary: Vocabulary) -> torch.Tensor:
    """Teacher-forced log p of each sequence under ``network`` (which may be DDP-wrapped): ``(B,)``."""
    logits, _ = network(sequences[:, :-1])  # (B, T-1, V)
    targets = sequences[:, 1:]
    logp = never_pad_or_start(logits, vocabulary).log_softmax(-1)
    logp = logp.gather(2, targets.unsqueeze(-1)).squeeze(-1)  # (B, T-1)
    return logp.masked_fill(targets == vocabulary.pad, 0.0).sum(1)


def pad(encoded: list[list[int]], pad_id: int) -> torch.LongTensor:
    """Right-pad lists of ids to one ``(B, T)`` tensor."""
    width = max(len(e) for e in encoded)
    out = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    for i, e in enumerate(encoded):
        out[i, : len(e)] = torch.tensor(e, dtype=torch.long)
    return out
