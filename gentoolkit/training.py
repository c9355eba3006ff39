"""The core training loop: any :class:`~gentoolkit.protocols.Trainable` model, on the runtime.

Like Lightning's Trainer with manual optimisation: the model builds its optimizers and steps them
in ``training_step``; this loop owns epochs, the sharded data order, progress, checkpoints,
exact resume, early stopping, tracking (each epoch's means as ``train/*`` and ``val/*`` scalars)
and keeping the ranks of a distributed run in step. Every domain's
training goes through here, so a model a third-party plugin registers is trained the same way.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Mapping

from gentoolkit.checkpoint import load_checkpoint, read_metadata, save_checkpoint
from gentoolkit.errors import CheckpointError, ConfigError, GentoolkitError
from gentoolkit.models import CARD_KEY, card_of, save_model
from gentoolkit.protocols import Trainable

if TYPE_CHECKING:
    from gentoolkit.runtime import Runtime

__all__ = ["fit", "to_device"]


def to_device(batch: Any, device: Any) -> Any:
    """A batch (a tensor, or nested tuples/lists/dicts of them) moved to ``device``."""
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch.to(device) if hasattr(batch, "to") else batch


def fit(model: Any, dataset: Any, runtime: Runtime, *, epochs: int, batch_size: int, name: str = "model",
        checkpoint_every: int = 1, resume: bool = True, val_dataset: Any = None, monitor: str = "",
        patience: int = 0, min_delta: float = 0.0, metadata: Mapping[str, Any] | None = None
        ) -> list[dict[str, Any]]:
    """Train ``model`` on ``dataset`` for ``epochs``, checkpointing to ``runtime.out_dir/NAME``.

    A model with ``setup(dataset)`` gets the dataset first, to build what depends on the data.
    A checkpoint already there (same model card) is resumed exactly: weights, optimizers, the
    epoch, early-stopping state; each epoch's data order and noise come from (seed, epoch).
    With ``val_dataset`` and a model ``validation_step(batch, runtime)``, each epoch also logs
    ``val_*`` means. ``patience > 0`` stops when ``monitor`` (a logged key, lower is better) has
    not improved by ``min_delta`` for that many epochs. Returns one row per epoch.
    """
    if not isinstance(model, Trainable):
        raise GentoolkitError(f"{type(model).__name__} cannot be trained by gentoolkit: it needs "
                              "configure_optimizers() and training_step(batch, optimizers, runtime).")
    if epochs < 0 or batch_size < 1 or checkpoint_every < 1:
        raise ConfigError(f"Training needs epochs >= 0, batch_size >= 1 and checkpoint_every >= 1; got "
                          f"{epochs}, {batch_size} and {checkpoint_every}.")
    if len(dataset) == 0:
        raise ConfigError("The training dataset is empty.")
    if hasattr(model, "setup"):  # Lightning-style: build what depends on the data (a tabular model's encoders)
        model.setup(dataset)
    model.to(runtime.device)
    optimizers = dict(model.configure_optimizers())
    loop = {"epoch": 0, "best": math.inf, "stale": 0}
    history: list[dict[str, Any]] = []
    latest = runtime.latest_checkpoint(name) if resume else None
    if latest is not None:
        loop, history = _resume(model, optimizers, latest, runtime)
        runtime.log(f"Resuming {type(model).__name__} from {latest} after epoch {loop['epoch']}.")
    runtime.broadcast_model(model)  # every rank starts from rank 0's weights
    loader = runtime.dataloader(dataset, batch_size=batch_size, shuffle=True,
                                drop_last=len(dataset) > batch_size * runtime.world_size)
    label = type(model).__name__
    with runtime.progress(len(loader) * max(epochs - loop["epoch"], 0), f"train {label}") as advance:
        for epoch in range(loop["epoch"], epochs):
            runtime.seed_epoch(epoch)
            runtime.set_epoch(loader, epoch)
            began = time.perf_counter()
            row = {"epoch": epoch + 1, **_run_epoch(model, loader, optimizers, runtime, advance, epoch)}
            runtime.average_buffers(model)  # BatchNorm statistics and the like agree across ranks
            if val_dataset is not None and hasattr(model, "validation_step"):
                row.update(_validate(model, val_dataset, batch_size, runtime))
            row["seconds"] = time.perf_counter() - began
            history.append(row)
            runtime.track({f"train/{k}" if not k.startswith("val_") else f"val/{k[4:]}": float(v)
                           for k, v in row.items() if k != "epoch"}, step=epoch + 1)
            stop = _early_stop(loop, row, monitor, patience, min_delta)
            loop["epoch"] = epoch + 1
            if (epoch + 1) % checkpoint_every == 0 or epoch + 1 == epochs or stop:
                _save(model, optimizers, runtime, name, loop, history, metadata)
            if stop:
                runtime.log(f"Early stop after epoch {epoch + 1}: {monitor} has not improved for {patience} epochs.")
                break
    model.eval()
    return history


def _run_epoch(model: Any, loader: Any, optimizers: dict, runtime: Runtime, advance: Any,
               epoch: int) -> dict[str, float]:
    """One pass over the loader; the mean of each loss, averaged over ranks."""
    model.train()
    sums: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for batch in loader:
        losses = model.training_step(to_device(batch, runtime.device), optimizers, runtime)
        for key, value in losses.items():
            sums[key] += float(value)
            counts[key] += 1
        advance(1, epoch=epoch + 1, **{k: float(v) for k, v in losses.items()})
    return {k: runtime.all_reduce_mean(sums[k] / counts[k]) for k in sums}


def _validate(model: Any, dataset: Any, batch_size: int, runtime: Runtime) -> dict[str, float]:
    import torch

    model.eval()
    sums: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    with torch.no_grad():
        for batch in runtime.dataloader(dataset, batch_size=batch_size, shuffle=False):
            for key, value in model.validation_step(to_device(batch, runtime.device), runtime).items():
                sums[key] += float(value)
                counts[key] += 1
    return {f"val_{k}": runtime.all_reduce_mean(sums[k] / counts[k]) for k in sums}


def _early_stop(loop: dict[str, Any], row: Mapping[str, Any], monitor: str, patience: int,
                min_delta: float) -> bool:
    if patience <= 0 or not monitor:
        return False
    if monitor not in row:
        raise ConfigError(f"Early stopping monitors {monitor!r}, which training does not log; "
                          f"it logs {', '.join(k for k in row if k != 'epoch')}.")
    if row[monitor] < loop["best"] - min_delta:
        loop["best"], loop["stale"] = float(row[monitor]), 0
    else:
        loop["stale"] += 1
    return loop["stale"] >= patience


def _save(model: Any, optimizers: dict, runtime: Runtime, name: str, loop: dict[str, Any],
          history: list[dict[str, Any]], metadata: Mapping[str, Any] | None) -> None:
    if not runtime.is_main:
        return
    state = {"optimizers": {k: o.state_dict() for k, o in optimizers.items()},
             "loop": {**loop, "best": loop["best"] if math.isfinite(loop["best"]) else None}}
    meta = {**dict(metadata or {}), "epoch": loop["epoch"], "history": history}
    path = runtime.out_dir / name
    if card_of(model) is not None:
        save_model(model, path, state=state, metadata=meta)
    else:
        save_checkpoint(path, {"model": model.state_dict(), **state}, meta)


def _resume(model: Any, optimizers: dict, path: Any, runtime: Runtime) -> tuple[dict[str, Any], list]:
    metadata = read_metadata(path)
    card, saved = card_of(model), metadata.get(CARD_KEY)
    if card is not None and saved is not None:
        wanted = {k: v for k, v in card.to_json().items() if k in ("name", "params")}
        found = {k: saved.get(k) for k in wanted}
        if wanted != found:
            raise CheckpointError(f"Checkpoint {path} was made for another model ({found}); this run trains "
                                  f"{wanted}. Use another --out, or set train.resume = false to start over.")
    state, _ = load_checkpoint(path, device=str(runtime.device))
    try:
        model.load_state_dict(state["model"])
        for key, optimizer in optimizers.items():
            optimizer.load_state_dict(state["optimizers"][key])
    except (KeyError, RuntimeError, ValueError) as err:
        raise CheckpointError(f"Checkpoint {path} does not fit this model: {str(err).splitlines()[0]}. "
                              "Use another --out, or set train.resume = false to start over.") from err
    loop = dict(state["loop"])
    loop["best"] = math.inf if loop.get("best") is None else loop["best"]
    return loop, list(metadata.get("history", []))
