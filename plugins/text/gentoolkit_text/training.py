"""Next-token training of a causal LM on the shared runtime (nanoGPT's loop, on ``transformers`` models).

The runtime provides the device, DDP (``prepare``), the sharded loader, autocast and the grad
scaler. AdamW with weight decay on matrices only, linear warm-up then cosine decay to a tenth,
gradient clipping. A safetensors checkpoint (model, optimizer, scaler, data order) is written
every ``checkpoint_every`` steps and at the end; a run started again in the same folder resumes
from it exactly where it stopped, reports a finished run as finished, and trains a finished run
on when ``steps`` has grown. Each step's loss, learning rate and tokens/s (and the held-out loss
when measured) go to ``runtime.track`` as ``train/*`` and ``val/loss``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gentoolkit.checkpoint import check_compatible
from gentoolkit.errors import ConfigError

if TYPE_CHECKING:
    import torch

    from gentoolkit.runtime import Runtime


@dataclass
class TrainConfig:
    steps: int = 800  # optimizer steps in all (a resumed run counts those already done)
    batch_size: int = 16  # blocks per step on each rank
    lr: float = 1e-3  # peak learning rate
    warmup: int = 20  # steps of linear warm-up
    weight_decay: float = 0.1  # on weight matrices only
    grad_clip: float = 1.0  # max global gradient norm; 0 turns clipping off
    eval_every: int = 100  # steps between held-out losses
    eval_batches: int = 8  # held-out batches per evaluation
    checkpoint_every: int = 200  # steps between checkpoints; 0 writes one at the end only
    resume: bool = True  # continue from out_dir/checkpoint if one is there


@dataclass
class TrainResult:
    history: list[dict[str, float]] = field(default_factory=list)
    steps_run: int = 0  # optimizer steps taken by this call (0 when a resumed run had already finished)
    tokens_per_second: float = 0.0
    seconds: float = 0.0


def learning_rate(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to ``lr``, then cosine decay to ``lr / 10`` at the last step."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.45 * (1 + math.cos(math.pi * min(progress, 1.0))))


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW, decaying only tensors with two or more dimensions (not biases, norms)."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95))


def _loss(model, batch, runtime: Runtime) -> torch.Tensor:
    import torch.nn.functional as F

    with runtime.autocast():
        logits = model(input_ids=batch[:, :-1]).logits
    return F.cross_entropy(logits.flatten(0, 1).float(), batch[:, 1:].flatten())


def _held_out_loss(model, blocks, cfg: TrainConfig, runtime: Runtime) -> float:
    from gentoolkit_text.evaluate import perplexity

    sample = blocks[: cfg.eval_batches * cfg.batch_size]
    return perplexity(runtime.unwrap(model), sample, cfg.batch_size, runtime.autocast)["nll"]


def train(runtime: Runtime, model, train_blocks, val_blocks, cfg: TrainConfig,
          checkpoint: str = "checkpoint") -> TrainResult:
    """Train ``model`` in place on rows of ``train_blocks`` (N, T + 1); returns losses and speed."""
    import torch

    if len(train_blocks) < cfg.batch_size * runtime.world_size:
        raise ConfigError(f"train.batch_size {cfg.batch_size} x {runtime.world_size} rank(s) is more than the "
                          f"{len(train_blocks)} training blocks; lower it or give more text.")
    model = runtime.prepare(model)
    optimizer = make_optimizer(model, cfg)
    scaler = runtime.grad_scaler()
    loader = runtime.dataloader(train_blocks, cfg.batch_size, shuffle=True, drop_last=True)
    identity = {"architecture": type(runtime.unwrap(model)).__name__,
                "parameters": sum(p.numel() for p in model.parameters())}
    step, epoch, skip, result = 0, 0, 0, TrainResult()
    # The loader's random state as the current epoch began: on resume that epoch replays in the same order.
    epoch_order = loader.generator.get_state() if loader.generator is not None else None
    saved = runtime.latest_checkpoint(checkpoint) if cfg.resume else None
    if saved:
        state, meta = runtime.load_checkpoint(saved)
        check_compatible(meta, identity, saved)
        runtime.unwrap(model).load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        if loader.generator is not None:
            epoch_order = state["data_order"].cpu()
            loader.generator.set_state(epoch_order)
        step, epoch, result.history = meta["step"], meta["epoch"], meta["history"]
        skip = step - meta["epoch_start_step"]
        if step >= cfg.steps:
            runtime.log(f"Training already finished its {step} steps ({saved}); raise train.steps to train on.")
            return result
        runtime.log(f"Resuming from {saved} at step {step}.")
    epoch_start = step - skip

    def save() -> None:
        order = epoch_order if epoch_order is not None else torch.zeros(0, dtype=torch.uint8)
        runtime.save_checkpoint(checkpoint, {"model": runtime.unwrap(model).state_dict(),
                                             "optimizer": optimizer.state_dict(),
                                             "scaler": scaler.state_dict(), "data_order": order},
                                {**identity, "step": step, "epoch": epoch, "epoch_start_step": epoch_start,
                                 "history": result.history})

    tokens, started = 0, time.perf_counter()
    with runtime.progress(cfg.steps, "train text") as advance:
        advance(step)
        while step < cfg.steps:
            runtime.set_epoch(loader, epoch)
            epoch_start = step - skip
            epoch_order = loader.generator.get_state() if loader.generator is not None else None
            for i, batch in enumerate(loader):
                if i < skip:
                    continue
                if step >= cfg.steps:
                    break
                step_started = time.perf_counter()
                model.train()
                lr = learning_rate(step, cfg)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                loss = _loss(model, batch.to(runtime.device), runtime)
                scaler.scale(loss).backward()
                if cfg.grad_clip:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                result.steps_run += 1
                tokens += batch[:, 1:].numel() * runtime.world_size
                record = {"step": step, "train_loss": runtime.all_reduce_mean(loss.detach()), "lr": lr}
                scalars = {"train/loss": record["train_loss"], "train/lr": lr, "train/tokens_per_s":
                           batch[:, 1:].numel() * runtime.world_size / (time.perf_counter() - step_started)}
                if step % cfg.eval_every == 0 or step == cfg.steps:
                    record["val_loss"] = scalars["val/loss"] = _held_out_loss(model, val_blocks, cfg, runtime)
                runtime.track(scalars, step)
                result.history.append(record)
                advance(1, loss=record["train_loss"])
                if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < cfg.steps:
                    save()
            skip = 0
            if step < cfg.steps:
                epoch += 1
    result.seconds = time.perf_counter() - started
    result.tokens_per_second = tokens / result.seconds if result.seconds else 0.0
    save()
    runtime.barrier()
    return result


def plot_learning_curve(history: list[dict[str, Any]], path: Path) -> Path:
    """Training loss per step and held-out loss where measured, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([h["step"] for h in history], [h["train_loss"] for h in history], label="train", lw=1)
    held = [h for h in history if "val_loss" in h]
    ax.plot([h["step"] for h in held], [h["val_loss"] for h in held], "o-", label="held-out")
    ax.set(xlabel="step", ylabel="cross-entropy (nats/token)", title="text: learning curve")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
