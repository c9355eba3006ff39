"""The shared runtime: one object per process, handed to every task.

It owns what no plugin should decide for itself: the device, the precision, the seeds, the CPU
threads, the run folder, checkpoints, experiment tracking, progress display and distributed
training. Under ``torchrun`` it joins the process group (NCCL on GPU, gloo on CPU), wraps models
in DDP, shards data and lets only rank 0 write.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import tempfile
import weakref
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from gentoolkit import checkpoint as _checkpoint
from gentoolkit import tracking as _tracking
from gentoolkit.errors import GentoolkitError

if TYPE_CHECKING:
    import torch
    from rich.console import Console

    from gentoolkit.api import Toolkit
    from gentoolkit.parallel import MapResult, WorkerPool

__all__ = ["Runtime", "RuntimeOptions", "default_threads", "executor_settings", "PRECISIONS"]

PRECISIONS = ("fp32", "bf16", "fp16")
DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


@dataclass
class RuntimeOptions:
    """How a run uses the machine; the CLI's --device/--precision/--seed/... flags fill this."""

    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    precision: str = "fp32"  # fp32 | bf16 | fp16 (autocast)
    seed: int = 0
    deterministic: bool = False  # torch.use_deterministic_algorithms + cudnn settings
    threads: int | None = None  # torch CPU threads; None = default_threads()
    out: Path | None = None  # run folder; default runs/<task>/<timestamp>
    progress: bool = True  # rich progress bars (only rank 0 draws them)
    executor: str = "local"  # local | processes | ray: where runtime.map/pool spread independent work
    executor_address: str | None = None  # ray: auto | ray://host:port | host:port; None = a Ray instance here
    workers: int | None = None  # pool workers (processes, ray); None = the CPU count
    timeout: float | None = None  # seconds an item may take in a pool before it fails with a reason
    retries: int = 2  # how often an item whose worker died is sent again
    worker_cpus: float = 1.0  # CPUs Ray reserves per worker (fractions let I/O-bound workers share a core)

    def __post_init__(self) -> None:
        """Refuse impossible settings now, before any folder is made or model built."""
        from gentoolkit.parallel import EXECUTORS

        if self.precision not in PRECISIONS:
            raise GentoolkitError(f"Unknown precision {self.precision!r}; use one of {', '.join(PRECISIONS)}.")
        if not isinstance(self.device, str) or not DEVICE_PATTERN.fullmatch(self.device):
            raise GentoolkitError(f"Unknown device {self.device!r}; use auto, cpu, cuda, cuda:N (N a GPU index) "
                                  "or mps.")
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise GentoolkitError(f"--threads {self.threads!r}: give a positive number of CPU threads, or leave "
                                  f"it out to use the default ({default_threads()} on this machine).")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**63:
            raise GentoolkitError(f"--seed {self.seed!r}: a seed is a whole number from 0 to 2**63 - 1.")
        if self.executor not in EXECUTORS:
            raise GentoolkitError(f"Unknown executor {self.executor!r}; use one of {', '.join(EXECUTORS)}.")
        if self.workers is not None and (isinstance(self.workers, bool) or not isinstance(self.workers, int)
                                         or self.workers < 1):
            raise GentoolkitError(f"--workers {self.workers!r}: give a positive number of workers.")
        if self.timeout is not None and (not isinstance(self.timeout, (int, float)) or self.timeout <= 0):
            raise GentoolkitError(f"executor.timeout {self.timeout!r}: give positive seconds per item.")
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise GentoolkitError(f"executor.retries {self.retries!r}: give a whole number >= 0.")
        if self.out is not None:
            self.out = Path(self.out)
            if self.out.exists() and not self.out.is_dir():
                raise GentoolkitError(f"--out {self.out} is an existing file, not a folder; "
                                      "name a new or existing run folder instead.")


EXECUTOR_SETTINGS = {"address": "executor_address", "workers": "workers", "timeout": "timeout",
                     "retries": "retries", "worker_cpus": "worker_cpus"}


def executor_settings(options: RuntimeOptions, settings: Mapping[str, Any]) -> RuntimeOptions:
    """``options`` with ``--set executor.KEY=value`` settings applied (address, workers, timeout, ...)."""
    from dataclasses import replace

    unknown = sorted(set(settings) - set(EXECUTOR_SETTINGS))
    if unknown:
        raise GentoolkitError(f"Unknown executor setting {', '.join(map(repr, unknown))}; "
                              f"use executor.{', executor.'.join(EXECUTOR_SETTINGS)}.")
    return replace(options, **{EXECUTOR_SETTINGS[k]: v for k, v in settings.items()})


def default_threads() -> int:
    """CPU threads per process when --threads is not given: the physical cores of this rank's share.

    torch's own default counts logical CPUs; on SMT machines and small VMs that oversubscribes
    the cores, and spinning OpenMP threads then slow small models several times over (measured
    here: 12 s against 0.35 s per epoch of the image task on 2 shared vCPUs). Half the logical
    CPUs, split between the ranks on this node, is a safe default; --threads overrides it.
    """
    ranks_here = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(1, (os.cpu_count() or 2) // 2 // ranks_here)


class Runtime:
    """Device, precision, seeding, run folder, checkpoints, tracking, progress and distributed training."""

    def __init__(self, options: RuntimeOptions | None = None, task: str = "run", toolkit: Toolkit | None = None,
                 tracking: Mapping[str, Any] | None = None, settings: Mapping[str, Mapping[str, Any]] | None = None):
        self.options = options or RuntimeOptions()
        self.task = task
        self.tracking = dict(tracking or {})  # the [tracking] table; see gentoolkit.tracking.DEFAULTS
        self._settings = {name: dict(table) for name, table in (settings or {}).items()}  # plugins' tables
        env = os.environ
        self.world_size = int(env.get("WORLD_SIZE", "1"))
        self.rank = int(env.get("RANK", "0"))
        self.local_rank = int(env.get("LOCAL_RANK", "0"))
        self.toolkit = toolkit  # the Toolkit running this task: its registries, load_model, ...
        self.artifacts: list[Any] = []  # generated files declared with generated(), as processed
        self._out_dir: Path | None = None
        self._started = False
        self._scaler: torch.amp.GradScaler | None = None
        self._owns_group = False  # True only when start() made the process group
        self._pools: weakref.WeakSet[WorkerPool] = weakref.WeakSet()  # closed with the runtime

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Runtime:
        """Join the process group when distributed, set threads and seeds. Idempotent."""
        if self._started:
            return self
        import torch

        torch.set_num_threads(self.options.threads or default_threads())
        self.device  # resolve it now: an unusable device is refused before any folder or model exists
        if self.distributed:
            import torch.distributed as dist

            if not dist.is_initialized():
                backend = "nccl" if self.device.type == "cuda" else "gloo"
                if self.device.type == "cuda":
                    torch.cuda.set_device(self.device)
                dist.init_process_group(backend=backend)
                self._owns_group = True
            # Every rank must agree on the run folder (rank 0's timestamp) to resume from it.
            shared = [str(self.out_dir) if self.is_main else None]
            dist.broadcast_object_list(shared, src=0)
            self._out_dir = Path(shared[0])
        self.seed_everything()
        self._started = True
        return self

    def close(self, status: str = "FINISHED") -> None:
        """Stop the worker pools, flush and close the trackers (``status`` ends an MLflow run), and
        leave the process group if :meth:`start` made it (one the caller made stays theirs)."""
        for pool in list(self._pools):
            pool.close()
        if "tracker" in self.__dict__:
            self.tracker.close(status)
            del self.tracker
        if self._owns_group:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
            self._owns_group = False
        self._started = False

    def __enter__(self) -> Runtime:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        failed = kind is not None and not issubclass(kind, KeyboardInterrupt)
        self.close("FAILED" if failed else "KILLED" if kind else "FINISHED")

    # --- device and precision ------------------------------------------------------------------

    @cached_property
    def device(self) -> torch.device:
        """The torch device: ``auto`` takes CUDA when present (this rank's GPU), then CPU."""
        import torch

        name = self.options.device
        if name == "auto":
            if torch.cuda.is_available():
                return torch.device("cuda", self.local_rank % torch.cuda.device_count())
            return torch.device("cpu")
        device = torch.device(name)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise GentoolkitError(f"--device {name}: CUDA is not available on this machine; use --device cpu or auto.")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise GentoolkitError(f"--device {name}: MPS is not available on this machine; use --device cpu or auto.")
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", self.local_rank % torch.cuda.device_count())
        if device.type == "cuda" and device.index >= torch.cuda.device_count():
            raise GentoolkitError(f"--device {name}: this machine has {torch.cuda.device_count()} GPU(s), "
                                  f"numbered from 0; use --device cuda or auto.")
        return device

    @property
    def dtype(self) -> torch.dtype:
        """The autocast dtype of the chosen precision (float32 for fp32)."""
        import torch

        return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[self.options.precision]

    def autocast(self) -> contextlib.AbstractContextManager:
        """Context for forward passes: autocast to bf16/fp16, or nothing for fp32."""
        import torch

        if self.options.precision == "fp32":
            return contextlib.nullcontext()
        if self.options.precision == "fp16" and self.device.type == "cpu":
            raise GentoolkitError("--precision fp16 needs a GPU; on CPU use bf16 or fp32.")
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A gradient scaler, active only for fp16 (bf16 and fp32 need none)."""
        import torch

        return torch.amp.GradScaler(self.device.type, enabled=self.options.precision == "fp16")

    # --- seeding -------------------------------------------------------------------------------

    def seed_everything(self, seed: int | None = None) -> None:
        """Seed python, numpy and torch (each rank offset by its rank); deterministic if asked."""
        import numpy as np
        import torch

        seed = (self.options.seed if seed is None else seed) + self.rank
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
        if self.options.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
            torch.backends.cudnn.benchmark = False

    def seed_epoch(self, epoch: int) -> None:
        """Reseed from (run seed, rank, epoch), so a resumed run draws the same noise and data
        order in every epoch as an uninterrupted one."""
        import numpy as np

        seed = int(np.random.SeedSequence([self.options.seed, self.rank, epoch]).generate_state(1)[0])
        self.seed_everything(seed - self.rank)

    def generator(self, offset: int = 0) -> torch.Generator:
        """A torch generator seeded from the run seed, for sampling that must reproduce."""
        import torch

        return torch.Generator(device="cpu").manual_seed(self.options.seed + self.rank + offset)

    # --- distributed ---------------------------------------------------------------------------

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on rank 0, the only rank that writes files and draws progress."""
        return self.rank == 0

    def prepare(self, model: torch.nn.Module) -> torch.nn.Module:
        """Move a model to the device, wrapped in DDP when distributed."""
        model = model.to(self.device)
        if self.distributed:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            model = DistributedDataParallel(model, device_ids=ids)
        return model

    @staticmethod
    def unwrap(model: torch.nn.Module) -> torch.nn.Module:
        """The plain model inside a DDP wrapper (what to save)."""
        return getattr(model, "module", model)

    def dataloader(self, dataset: Any, batch_size: int | None, shuffle: bool = True, drop_last: bool = False,
                   **kwargs: Any) -> torch.utils.data.DataLoader:
        """A DataLoader that gives each rank its own shard, shuffled by (run seed, epoch).

        The order of an epoch depends only on the seed and the epoch given to :meth:`set_epoch`,
        so a run resumed at epoch k sees the same batches as one that never stopped.
        """
        from torch.utils.data import DataLoader, DistributedSampler

        if batch_size is None:  # the dataset yields whole batches itself
            return DataLoader(dataset, batch_size=None, shuffle=shuffle,
                              generator=self.generator() if shuffle else None, **kwargs)
        sampler = DistributedSampler(dataset, num_replicas=self.world_size, rank=self.rank,
                                     shuffle=shuffle, seed=self.options.seed, drop_last=drop_last)
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last, **kwargs)

    def set_epoch(self, loader: Any, epoch: int) -> None:
        """Tell a sharded loader which epoch starts, so each epoch shuffles differently."""
        sampler = getattr(loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)

    def all_reduce_mean(self, value: float | torch.Tensor) -> float:
        """The mean of a number over all ranks (the number itself when not distributed)."""
        import torch

        if not self.distributed:
            return float(value)
        import torch.distributed as dist

        tensor = torch.as_tensor(float(value), device=self.device)
        dist.all_reduce(tensor)
        return float(tensor) / self.world_size

    def broadcast_model(self, model: torch.nn.Module) -> None:
        """Copy rank 0's parameters and buffers to every rank (ranks start from one model)."""
        if not self.distributed:
            return
        import torch.distributed as dist

        for tensor in [*model.parameters(), *model.buffers()]:
            dist.broadcast(tensor.data, src=0)

    def average_buffers(self, model: torch.nn.Module) -> None:
        """Average floating-point buffers (BatchNorm statistics, EMA weights) over the ranks."""
        if not self.distributed:
            return
        import torch.distributed as dist

        for buffer in model.buffers():
            if buffer.is_floating_point():
                dist.all_reduce(buffer.data)
                buffer.data /= self.world_size

    def optimize(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer,
                 clip_norm: float | None = None) -> None:
        """Zero grads, backward, average gradients over ranks, clip, step (loss-scaled for fp16).

        Gradients are averaged here rather than by DDP, so a model may call its sub-networks in
        any order and any number of times within one ``training_step`` (a GAN, a CycleGAN).
        """
        import torch

        if self._scaler is None:
            self._scaler = self.grad_scaler()
        params = [p for group in optimizer.param_groups for p in group["params"]]
        optimizer.zero_grad(set_to_none=True)
        self._scaler.scale(loss).backward()
        if self.distributed:
            import torch.distributed as dist

            for p in params:
                if p.grad is not None:
                    dist.all_reduce(p.grad)
                    p.grad /= self.world_size
        if clip_norm is not None:
            self._scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(params, clip_norm)
        self._scaler.step(optimizer)
        self._scaler.update()

    def barrier(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            dist.barrier()

    # --- parallel work --------------------------------------------------------------------------

    def pool(self, factory: Callable[[], Callable[[Any], Any]], *, executor: str | None = None,
             workers: int | None = None, batched: bool = False, **settings: Any) -> WorkerPool:
        """A pool of workers on this run's executor (``--executor``), each calling ``factory()``
        once (load a receptor, a model) and then mapping chunks: ``pool.map(items, default=...)``.
        ``settings`` (timeout, retries, worker_cpus) override the run's; closed with the runtime."""
        from gentoolkit.parallel import make_pool

        o = self.options
        chosen = {"timeout": o.timeout, "retries": o.retries, "worker_cpus": o.worker_cpus, **settings}
        pool = make_pool(factory, executor=executor or o.executor, workers=workers or o.workers,
                         address=o.executor_address, batched=batched, **chosen)
        self._pools.add(pool)
        return pool

    def map(self, fn: Callable[[Any], Any], items: Any, *, default: Any = None, chunksize: int = 1,
            **pool: Any) -> MapResult:
        """``fn`` over ``items`` on this run's executor, in input order; an item that fails or times
        out gets ``default`` and a reason (``result.reasons``). For repeated maps keep a :meth:`pool`."""
        with self.pool(lambda: fn, **pool) as workers:
            return workers.map(items, default=default, chunksize=chunksize)

    # --- run folder and checkpoints ------------------------------------------------------------

    @property
    def out_dir(self) -> Path:
        """The run folder, absolute (created on first use by rank 0): --out, or runs/<task>/<timestamp>.

        Absolute, so a path built from it means the same after a chdir and when handed back to
        :meth:`save_checkpoint`. A default folder is always new, even for runs started in the
        same second; ``--out`` may name an existing run folder, to resume it.
        """
        if self._out_dir is None:
            if self.options.out is not None:
                out = self.options.out.absolute()
                if self.is_main:
                    _make_writable_folder(out, exist_ok=True)
            elif self.is_main:
                out = _new_run_folder(Path("runs", self.task).absolute())
            else:  # replaced by rank 0's folder in start()
                out = Path("runs", self.task, datetime.now().strftime("%Y%m%d-%H%M%S")).absolute()
            self._out_dir = out
        return self._out_dir

    def save_checkpoint(self, name: str, state: Mapping[str, Any],
                        metadata: Mapping[str, Any] | None = None) -> Path | None:
        """Write ``out_dir/NAME.{safetensors,json}`` atomically (rank 0 only; others return None)."""
        if not self.is_main:
            return None
        path = Path(name) if Path(name).is_absolute() else self.out_dir / name
        return _checkpoint.save_checkpoint(path, state, metadata)

    def load_checkpoint(self, path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, Any]]:
        """Read a checkpoint onto this runtime's device: ``(state, metadata)``."""
        return _checkpoint.load_checkpoint(path, device=str(self.device))

    def latest_checkpoint(self, name: str) -> Path | None:
        """The JSON file of the newest complete checkpoint ``out_dir/NAME`` (to resume from), else None.

        That is ``NAME.json``, or ``NAME.prev.json`` (with a warning) when a save of NAME was killed
        between its two files; a mismatched pair with nothing to fall back to is a CheckpointError.
        """
        path = self.out_dir / name
        if not any(p.exists() for p in (_checkpoint.checkpoint_paths(path)[1], _checkpoint.previous_paths(path)[1])):
            return None
        return _checkpoint.resolve_checkpoint(path)

    # --- generated content ---------------------------------------------------------------------

    def generated(self, path: str | os.PathLike, kind: str, **metadata: Any) -> Path:
        """Declare a file of generated content the task just wrote (samples, molecules, text), so
        every plugin's ``process_artifact`` hook can mark, sign or record it. Rank 0 only."""
        from gentoolkit.contributions import Artifact

        path = Path(path)
        if not self.is_main:
            return path
        artifact = Artifact(path, kind, self.task, {"seed": self.options.seed, **metadata})
        if self.toolkit is not None:
            artifact.processed = self.toolkit.host.call_strict("process_artifact", artifact=artifact, runtime=self)
        self.artifacts.append(artifact)
        return path

    def watermark(self, kind: str) -> dict[str, Any] | None:
        """The generation-time watermark settings a plugin supplies for ``kind`` content (its
        ``generation_watermark`` hook), or None: pass them to the generator, e.g. text sampling."""
        if self.toolkit is None:
            return None
        answers = self.toolkit.host.call_strict("generation_watermark", kind=kind, runtime=self)
        return next(iter(answers.values()), None)

    def settings(self, name: str) -> dict[str, Any]:
        """The run's ``[name]`` settings table a plugin declared with ``register_settings``: the
        user's values over the plugin's defaults (just the defaults for a runtime made outside
        ``Toolkit.run``); an empty dict when no plugin declared ``name``."""
        if name not in self._settings and self.toolkit is not None and name in self.toolkit.settings:
            self._settings[name] = dict(self.toolkit.settings[name].defaults)
        return dict(self._settings.get(name, {}))

    # --- tracking -------------------------------------------------------------------------------

    @cached_property
    def tracker(self) -> _tracking.Tracker:
        """TensorBoard (in the run folder) and MLflow as the tracking settings ask; rank 0 only."""
        return _tracking.Tracker(self.out_dir, self.tracking, self.task, enabled=self.is_main)

    def track(self, scalars: Mapping[str, float], step: int) -> None:
        """Log scalars (losses, scores, learning rate, throughput) at ``step``, e.g. ``{"train/loss": 2.1}``."""
        self.tracker.scalars(scalars, step)

    def track_params(self, config: Mapping[str, Any]) -> None:
        """Log a run's effective config, flattened to ``a.b`` keys (MLflow params, TensorBoard text)."""
        self.tracker.params(config)

    def track_artifact(self, path: str | os.PathLike) -> None:
        """Upload a file or folder the run wrote to MLflow (nothing happens for TensorBoard)."""
        self.tracker.artifact(path)

    # --- display -------------------------------------------------------------------------------

    @cached_property
    def console(self) -> Console:
        from rich.console import Console

        return Console(stderr=True, quiet=not self.is_main)

    def log(self, message: str, style: str | None = None) -> None:
        """Print a line on rank 0, as plain text (brackets in SMILES or paths stay), in ``style`` if given."""
        self.console.print(message, style=style, markup=False, highlight=False)

    @contextlib.contextmanager
    def progress(self, total: int | None, description: str) -> Iterator[Callable[..., None]]:
        """A rich progress bar; yields ``advance(n=1, **fields)`` (fields show after the bar)."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = [TextColumn("{task.description}", style="bold", markup=False), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TextColumn("{task.fields[status]}", markup=False)]
        enabled = self.options.progress and self.is_main
        with Progress(*columns, console=self.console, disable=not enabled, transient=False) as bar:
            task_id = bar.add_task(description, total=total, status="")

            def advance(n: int = 1, **fields: Any) -> None:
                status = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items())
                bar.update(task_id, advance=n, **({"status": status} if fields else {}))

            yield advance


def _make_writable_folder(folder: Path, exist_ok: bool) -> None:
    """``mkdir -p`` that says in one line why a run folder cannot be used (exists, read-only, ...)."""
    try:
        folder.mkdir(parents=True, exist_ok=exist_ok)
        tempfile.TemporaryFile(dir=folder).close()  # mkdir succeeds on an existing read-only folder
    except FileExistsError:
        raise
    except OSError as err:
        raise GentoolkitError(f"Cannot write the run folder {folder}: {err.strerror or err}. "
                              "Give --out a folder you can write to.") from err


def _new_run_folder(parent: Path) -> Path:
    """``parent/<timestamp>``, or ``<timestamp>-2``, ``-3``...: made atomically, so never shared by two runs."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for n in range(1, 10_000):
        folder = parent / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            _make_writable_folder(folder, exist_ok=False)
            return folder
        except FileExistsError:
            continue
    raise GentoolkitError(f"Cannot find a free run folder under {parent}; pass --out.")
