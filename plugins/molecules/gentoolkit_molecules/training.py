"""Training a prior from scratch or fine-tuning one on a user's molecules (transfer learning).

Teacher-forced NLL of whole SMILES, Adam with a cosine decay to a tenth of ``lr``, gradient
clipping, a validation NLL and a checkpoint after every epoch. Batches group molecules of similar
length (less padding); the runtime shards them under ``torchrun`` and resumes from the checkpoint.
"""

from __future__ import annotations

import math
import random
import time

import numpy as np
import torch

from gentoolkit.checkpoint import check_compatible
from gentoolkit.errors import GentoolkitError
from gentoolkit_molecules.prior import MODEL, Prior, pad, sequence_log_likelihood
from gentoolkit_molecules.tokenizer import TokenizerError, Vocabulary


class Encoded:
    """Token ids of many SMILES in one flat array (int32) plus offsets: small in memory."""

    def __init__(self, rows: list[list[int]]):
        self.lengths = np.array([len(r) for r in rows], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)])
        self.ids = np.fromiter((i for r in rows for i in r), dtype=np.int32, count=int(self.offsets[-1]))

    def __len__(self) -> int:
        return len(self.lengths)

    def row(self, i: int) -> list[int]:
        return self.ids[self.offsets[i]: self.offsets[i + 1]].tolist()


class LengthBatches(torch.utils.data.Dataset):
    """Padded batches of molecules of similar length: shuffle, sort within pools of 50 batches, cut."""

    def __init__(self, encoded: Encoded, batch_size: int, vocabulary: Vocabulary, seed: int):
        order = np.random.default_rng(seed).permutation(len(encoded))
        pool = batch_size * 50
        self.batches = []
        for start in range(0, len(order), pool):
            chunk = order[start: start + pool]
            chunk = chunk[np.argsort(encoded.lengths[chunk], kind="stable")]
            self.batches += [chunk[i: i + batch_size] for i in range(0, len(chunk), batch_size)]
        self.encoded, self.vocabulary = encoded, vocabulary

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> torch.LongTensor:
        return pad([self.encoded.row(j) for j in self.batches[i]], self.vocabulary.pad)


def encode_usable(prior: Prior, smiles: list[str], runtime) -> Encoded:
    """Encode ``smiles``, leaving out (and reporting, with the first of each) those the prior cannot represent."""
    limit = prior.config.get("block_size")
    rows: list[list[int]] = []
    unknown: list[str] = []
    too_long: list[str] = []
    for s in smiles:
        try:
            ids = prior.vocabulary.encode(s)
        except TokenizerError:
            unknown.append(s)
            continue
        if limit is not None and len(ids) > limit + 1:
            too_long.append(s)
            continue
        rows.append(ids)
    reasons = [f"{len(unknown)} with a token outside the prior's vocabulary (first: {unknown[0]!r})"] if unknown else []
    reasons += [f"{len(too_long)} longer than its block size of {limit} tokens (first: {too_long[0]!r})"] \
        if too_long else []
    if not rows:
        raise GentoolkitError(f"No molecule left to train on: of {len(smiles)}, {' and '.join(reasons)}. "
                              "Train a new prior on these molecules instead of fine-tuning this one.")
    if reasons:
        runtime.log(f"Left out {len(smiles) - len(rows)} of {len(smiles)} molecules: {'; '.join(reasons)}.",
                    style="yellow")
    return Encoded(rows)


@torch.no_grad()
def validation_nll(model, batches: LengthBatches, runtime) -> float:
    """Mean NLL per molecule over ``batches`` (averaged over ranks)."""
    model.eval()
    total, count = 0.0, 0
    for batch in runtime.dataloader(batches, batch_size=None, shuffle=False):
        with runtime.autocast():
            total -= float(sequence_log_likelihood(model, batch.to(runtime.device), batches.vocabulary).sum())
        count += len(batch)
    return runtime.all_reduce_mean(total / max(count, 1))


def train_prior(prior: Prior, smiles: list[str], runtime, epochs: int, batch_size: int = 128,
                lr: float = 1e-3, valid_fraction: float = 0.05, checkpoint_name: str | None = None,
                clip: float = 1.0, time_limit: float | None = None) -> list[dict]:
    """Train ``prior`` in place on ``smiles``; returns one history row per epoch.

    ``time_limit`` (seconds) ends training early at the first step past it, after which that
    epoch is validated, checkpointed and counted as done; the cosine learning-rate decay then runs
    over whichever ends first, the steps or the time, so a run cut short still ends annealed. Resumes from ``runtime.out_dir /
    checkpoint_name`` when it exists.
    """
    name = checkpoint_name or "prior"
    shuffled = list(smiles)
    random.Random(runtime.options.seed).shuffle(shuffled)
    usable = encode_usable(prior, shuffled, runtime)  # before splitting: a bad molecule never is the split
    rows = [usable.row(i) for i in range(len(usable))]
    n_valid = min(len(rows) - 1, max(1, int(len(rows) * valid_fraction))) if valid_fraction > 0 else 0
    valid = Encoded(rows[:n_valid]) if n_valid else None
    train = Encoded(rows[n_valid:])
    vocabulary = prior.vocabulary

    prior.to(runtime.device)
    model = runtime.prepare(prior.network)
    optimizer = torch.optim.Adam(prior.network.parameters(), lr=lr)
    scaler = runtime.grad_scaler()
    history: list[dict] = []
    start_epoch, step = 0, 0
    if (path := runtime.latest_checkpoint(name)) is not None:
        state, metadata = runtime.load_checkpoint(path)
        check_compatible(metadata, {"model": MODEL, "config": prior.config,
                                    "vocabulary": prior.vocabulary.tokens}, path)
        prior.network.load_state_dict(state["network"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, step, history = state["epoch"], state["step"], state["history"]
        runtime.log(f"Resuming from {path} after epoch {start_epoch}.")

    steps_per_epoch = len(LengthBatches(train, batch_size, vocabulary, 0)) // runtime.world_size
    total_steps = max(1, epochs * steps_per_epoch)
    started = time.monotonic()
    for epoch in range(start_epoch, epochs):
        batches = LengthBatches(train, batch_size, vocabulary, seed=runtime.options.seed + epoch)
        loader = runtime.dataloader(batches, batch_size=None, shuffle=True)
        runtime.set_epoch(loader, epoch)
        model.train()
        running, seen, stopped = 0.0, 0, False
        with runtime.progress(len(loader), f"epoch {epoch + 1}/{epochs}") as advance:
            for batch in loader:
                progress = step / total_steps
                if time_limit is not None:
                    progress = max(progress, (time.monotonic() - started) / time_limit)
                current_lr = lr * (0.1 + 0.45 * (1 + math.cos(math.pi * min(progress, 1.0))))
                for group in optimizer.param_groups:
                    group["lr"] = current_lr
                with runtime.autocast():
                    nll = -sequence_log_likelihood(model, batch.to(runtime.device), prior.vocabulary).mean()
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(nll).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(prior.network.parameters(), clip)
                scaler.step(optimizer)
                scaler.update()
                step += 1
                running += nll.item() * len(batch)
                seen += len(batch)
                advance(nll=nll.item())
                if time_limit is not None and time.monotonic() - started > time_limit:
                    stopped = True
                    break
        row = {"epoch": epoch + 1, "step": step, "train_nll": runtime.all_reduce_mean(running / max(seen, 1)),
               "valid_nll": validation_nll(model, LengthBatches(valid, batch_size, vocabulary, 0), runtime)
               if valid is not None else float("nan"),
               "molecules": seen * runtime.world_size, "seconds": time.monotonic() - started,
               "lr": optimizer.param_groups[0]["lr"]}
        history.append(row)
        runtime.log(f"epoch {row['epoch']}: train NLL {row['train_nll']:.3f}, valid NLL {row['valid_nll']:.3f}"
                    + (" (time limit reached)" if stopped else ""))
        runtime.save_checkpoint(name, {"network": prior.network.state_dict(), "optimizer": optimizer.state_dict(),
                                       "epoch": epoch + 1, "step": step, "history": history},
                                {"model": MODEL, "config": prior.config,
                                 "vocabulary": prior.vocabulary.tokens, "card": prior.card})
        if stopped:
            break
    prior.network.eval()
    return history
