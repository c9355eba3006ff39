"""Parallel map: independent work spread over in-process, local-process or Ray workers.

A pool's workers each call ``factory()`` once (load a receptor, a model) and then apply what it
returned to chunks of items. Results come back in input order. An item that raises, overruns its
timeout or whose worker stays lost gets the caller's ``default`` and a recorded reason instead of
crashing the run. Lost workers are replaced and their items sent again (on Ray by Ray itself: actor
restarts and task retries). Ray is imported only when a Ray pool starts: ``pip install 'gentoolkit[ray]'``.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from gentoolkit.errors import GentoolkitError

__all__ = ["EXECUTORS", "RAY_INSTALL", "MapResult", "ParallelError", "WorkerPool", "describe_error", "make_pool",
           "ray_available"]

EXECUTORS = ("local", "processes", "ray")
RAY_INSTALL = "pip install 'gentoolkit[ray]'"
READY_TIMEOUT_S = 120.0  # how long workers may take to start (spawn, imports, factory()) before we give up


class ParallelError(GentoolkitError):
    """Workers that cannot start: an unknown executor, Ray missing, or a factory that raises."""


@dataclass
class MapResult:
    """One map's outcome in input order: ``values`` (``default`` where it failed), the failure
    ``reasons`` (None where it worked) and how many times each item was sent (``attempts``)."""

    values: list[Any]
    reasons: list[str | None]
    attempts: list[int] = field(default_factory=list)

    @property
    def failures(self) -> dict[int, str]:
        """Index -> reason of every item that failed."""
        return {i: r for i, r in enumerate(self.reasons) if r is not None}


def ray_available() -> bool:
    """True when Ray can be imported (the ``ray`` extra is installed)."""
    import importlib.util

    return importlib.util.find_spec("ray") is not None


# --- what runs inside a worker -----------------------------------------------------------------

def _apply(fn: Callable[[Any], Any], chunk: list[Any], batched: bool) -> list[tuple[bool, Any]]:
    """``(ok, value or reason)`` per item. A batched ``fn`` takes the whole chunk; when it raises,
    the chunk is redone item by item so that only the items that fail are marked."""
    if batched:
        try:
            out = list(fn(chunk))
            if len(out) == len(chunk):
                return [(True, v) for v in out]
        except Exception:
            pass
        return [_one(lambda x: list(fn([x]))[0], item) for item in chunk]
    return [_one(fn, item) for item in chunk]


def _one(fn: Callable[[Any], Any], item: Any) -> tuple[bool, Any]:
    try:
        return True, fn(item)
    except Exception as err:
        return False, describe_error(err)


def describe_error(err: BaseException) -> str:
    """``"ValueError: message"`` on one line: a failure reason fit for a CSV column or a log."""
    return " ".join(f"{type(err).__name__}: {err}".split())


def _start_worker(payload: bytes) -> tuple[Callable[[Any], Any] | None, str | None]:
    """Unpickle ``(factory, batched)`` and call the factory: ``(fn, None)`` or ``(None, reason)``."""
    import cloudpickle

    factory = cloudpickle.loads(payload)
    try:
        return factory(), None
    except Exception as err:
        return None, describe_error(err)


def _process_main(conn: Any, payload: bytes, batched: bool) -> None:
    """A local worker process: build the state once, say ready, then answer chunks until None."""
    fn, error = _start_worker(payload)
    conn.send(error)
    if error is not None:
        return
    while (chunk := conn.recv()) is not None:
        conn.send(_apply(fn, chunk, batched))


class _RayWorker:
    """A Ray actor holding one worker's state; Ray restarts it (calling ``__init__`` again) if it dies."""

    def __init__(self, payload: bytes, batched: bool):
        self.fn, self.error = _start_worker(payload)
        self.batched = batched

    def ready(self) -> str | None:
        return self.error

    def pid(self) -> int:
        return os.getpid()

    def run(self, chunk: list[Any]) -> list[tuple[bool, Any]]:
        return _apply(self.fn, chunk, self.batched)


# --- backends: start workers, send a chunk, wait, replace a worker -----------------------------

class _Lost:
    """A chunk whose worker died before answering."""

    def __init__(self, reason: str):
        self.reason = reason


class _Local:
    """The calling process itself: no isolation, so timeouts are not enforced."""

    retries_itself = False

    def __init__(self, payload: bytes, workers: int, batched: bool, **_: Any):
        fn, error = _start_worker(payload)
        if error is not None:
            raise ParallelError(f"The worker factory failed: {error}")
        self.fn, self.batched, self.workers = fn, batched, [0]
        self._done: dict[int, list] = {}

    def submit(self, worker: int, chunk: list[Any]) -> int:
        self._done[worker] = _apply(self.fn, chunk, self.batched)
        return worker

    def wait(self, handles: list[int], timeout: float | None) -> list[tuple[int, Any]]:
        return [(h, self._done.pop(h)) for h in handles]

    def replace(self, worker: int) -> int:
        return worker

    def close(self) -> None:
        pass


class _Processes:
    """Spawned local processes (no torch/CUDA state or threads inherited), one pipe each, so a
    timed-out item's process can be killed and replaced without touching the others."""

    retries_itself = False

    def __init__(self, payload: bytes, workers: int, batched: bool, **_: Any):
        self.payload, self.batched = payload, batched
        self.context = multiprocessing.get_context("spawn")
        self.workers = [self._spawn() for _ in range(workers)]
        for worker in self.workers:
            self._ready(worker)

    def _spawn(self) -> tuple[Any, Any]:
        parent, child = self.context.Pipe()
        process = self.context.Process(target=_process_main, args=(child, self.payload, self.batched), daemon=True)
        process.start()
        child.close()
        return process, parent

    def _ready(self, worker: tuple[Any, Any]) -> None:
        process, conn = worker
        try:
            if not conn.poll(READY_TIMEOUT_S):
                raise ParallelError(f"A worker process did not start within {READY_TIMEOUT_S:.0f} s.")
            error = conn.recv()
        except EOFError:
            error = f"the process exited with code {process.exitcode}"
        if error is not None:
            self.close()
            raise ParallelError(f"The worker factory failed in a worker process: {error}")

    def submit(self, worker: tuple[Any, Any], chunk: list[Any]) -> tuple[Any, Any]:
        worker[1].send(chunk)
        return worker

    def wait(self, handles: list[tuple[Any, Any]], timeout: float | None) -> list[tuple[Any, Any]]:
        from multiprocessing.connection import wait

        ready = set(wait([w[1] for w in handles] + [w[0].sentinel for w in handles], timeout))
        answered = []
        for worker in handles:
            process, conn = worker
            if conn in ready:
                try:
                    answered.append((worker, conn.recv()))
                except (EOFError, OSError):
                    answered.append((worker, _Lost(f"worker process died (exit code {process.exitcode})")))
            elif process.sentinel in ready:
                process.join()
                answered.append((worker, _Lost(f"worker process died (exit code {process.exitcode})")))
        return answered

    def replace(self, worker: tuple[Any, Any]) -> tuple[Any, Any]:
        self._stop(worker, kill=True)
        fresh = self._spawn()
        self.workers[self.workers.index(worker)] = fresh
        self._ready(fresh)
        return fresh

    def _stop(self, worker: tuple[Any, Any], kill: bool = False) -> None:
        process, conn = worker
        if not kill and process.is_alive():
            try:
                conn.send(None)
                process.join(5)
            except (BrokenPipeError, OSError):
                pass
        if process.is_alive():
            process.kill()
            process.join()
        conn.close()

    def close(self) -> None:
        for worker in self.workers:
            self._stop(worker)
        self.workers = []


def _client_token_mode(address: str | None) -> None:
    """Ray 2.60 clusters use token authentication by default, but a Ray Client (``ray://``) sends
    the token only when ``RAY_AUTH_MODE=token`` was set before Ray was imported, and otherwise
    times out after a minute without saying why. Where a token is at hand (``RAY_AUTH_TOKEN``,
    ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``) and the mode is unset, turn token mode on."""
    token_file = os.environ.get("RAY_AUTH_TOKEN_PATH", os.path.expanduser("~/.ray/auth_token"))
    if (address and address.startswith("ray://") and "RAY_AUTH_MODE" not in os.environ
            and (os.environ.get("RAY_AUTH_TOKEN") or os.path.isfile(token_file))):
        os.environ["RAY_AUTH_MODE"] = "token"


CLIENT_CONNECT_TRIES = 3


def _connect_ray(ray: Any, address: str | None) -> None:
    """``ray.init`` for this process: a new local instance, or the cluster at ``address``.

    A Ray Client connection is tried again when the server side failed to start the server it forks
    for each client ("Initialization failure from server"): Ray's proxier races with that fork and
    loses now and then (ray-project/ray#63202, open); a second try gets a fresh server."""
    local = {} if address else {"num_cpus": os.cpu_count(), "include_dashboard": False}
    try:
        for attempt in range(1, CLIENT_CONNECT_TRIES + 1):
            try:  # "local": never a stray `ray start` cluster
                ray.init(address=address or "local", log_to_driver=False, **local)
                return
            except ConnectionError as err:
                if attempt == CLIENT_CONNECT_TRIES or "Initialization failure from server" not in str(err):
                    raise
                time.sleep(attempt)
    except (ConnectionError, TimeoutError) as err:
        raise ParallelError(
            f"Could not connect to the Ray cluster at {address!r}: {err}. Check that the head node is "
            "running (`ray status` there), that the port is reachable from here (a ray:// address needs "
            "the Ray Client server port, 10001 by default), and, if the cluster uses token authentication, "
            "that RAY_AUTH_TOKEN (or ~/.ray/auth_token) holds its token.") from None


_RAY = {"pools": 0, "owned": False}  # live Ray pools, and whether a pool started the Ray instance


class _Ray:
    """Ray actors (one per worker) that Ray restarts when their process dies, retrying the task
    that was running (``max_task_retries``). The pool only kills an actor whose item overran its
    timeout and starts a fresh one; ``ray.util.ActorPool`` cannot say which actor that was."""

    retries_itself = True

    def __init__(self, payload: bytes, workers: int, batched: bool, *, address: str | None, retries: int,
                 worker_cpus: float):
        _client_token_mode(address)
        try:
            import ray
        except ImportError:
            raise ParallelError(f"--executor ray needs Ray, which is not installed: {RAY_INSTALL}") from None
        self.ray = ray
        if not ray.is_initialized():  # the cluster at ``address`` (auto, ray://host:port), else one here
            _connect_ray(ray, address)
            _RAY["owned"] = True
        _RAY["pools"] += 1
        self.actor_class = ray.remote(_RayWorker).options(
            num_cpus=worker_cpus, max_restarts=-1, max_task_retries=retries, scheduling_strategy="SPREAD")
        self.payload, self.batched, self.worker_cpus = payload, batched, worker_cpus
        self.workers = [self.actor_class.remote(payload, batched) for _ in range(workers)]
        self._ready(self.workers)

    def _ready(self, actors: list[Any]) -> None:
        refs = [a.ready.remote() for a in actors]
        done, _ = self.ray.wait(refs, num_returns=len(refs), timeout=READY_TIMEOUT_S)
        if len(done) < len(refs):
            cpus = self.ray.cluster_resources().get("CPU", 0)
            self.close()
            raise ParallelError(f"Ray could not start {len(actors)} workers of {self.worker_cpus} CPU each within "
                                f"{READY_TIMEOUT_S:.0f} s (the cluster has {cpus:g} CPUs): use fewer --workers "
                                "or a smaller --set executor.worker_cpus=...")
        errors = [e for e in self.ray.get(refs) if e is not None]
        if errors:
            self.close()
            raise ParallelError(f"The worker factory failed in a Ray worker: {errors[0]}")

    def submit(self, actor: Any, chunk: list[Any]) -> Any:
        return actor.run.remote(chunk)

    def wait(self, handles: list[Any], timeout: float | None) -> list[tuple[Any, Any]]:
        done, _ = self.ray.wait(handles, num_returns=1, timeout=timeout)
        answered = []
        for ref in done:
            try:
                answered.append((ref, self.ray.get(ref)))
            except self.ray.exceptions.RayError as err:
                answered.append((ref, _Lost(f"Ray worker lost: {type(err).__name__}")))
        return answered

    def replace(self, actor: Any) -> Any:
        self.ray.kill(actor, no_restart=True)
        fresh = self.actor_class.remote(self.payload, self.batched)
        self.workers[self.workers.index(actor)] = fresh
        self._ready([fresh])
        return fresh

    def close(self) -> None:
        """Kill the actors; the last pool on a Ray instance that a pool started shuts it down."""
        if self.workers is None:
            return
        if self.ray.is_initialized():
            for actor in self.workers:
                self.ray.kill(actor, no_restart=True)
        self.workers = None
        _RAY["pools"] -= 1
        if _RAY["pools"] == 0 and _RAY["owned"]:
            self.ray.shutdown()
            _RAY["owned"] = False


# --- the pool ----------------------------------------------------------------------------------

class WorkerPool:
    """Workers that each call ``factory()`` once, then map chunks of items (see :func:`make_pool`)."""

    def __init__(self, backend: Any, timeout: float | None, retries: int):
        self.backend, self.timeout, self.retries = backend, timeout, retries
        self._finalizer = weakref.finalize(self, backend.close)

    @property
    def size(self) -> int:
        return len(self.backend.workers)

    def map(self, items: Sequence[Any], *, default: Any = None, chunksize: int = 1) -> MapResult:
        """Apply the workers' function to every item; results in input order (see the module doc)."""
        items = list(items)
        n = len(items)
        result = MapResult([default] * n, [None] * n, [0] * n)
        chunks = [range(i, min(i + max(1, chunksize), n)) for i in range(0, n, max(1, chunksize))]
        todo, idle = deque(range(len(chunks))), list(self.backend.workers)
        running: dict[Any, tuple[int, float, Any]] = {}  # handle -> (chunk, deadline, worker)
        while todo or running:
            while todo and idle:
                c, worker = todo.popleft(), idle.pop()
                for i in chunks[c]:
                    result.attempts[i] += 1
                deadline = time.monotonic() + self.timeout * len(chunks[c]) if self.timeout else math.inf
                handle = self.backend.submit(worker, [items[i] for i in chunks[c]])
                running[handle] = (c, deadline, worker)
            soonest = min(d for _, d, _ in running.values())
            wait = None if soonest == math.inf else max(0.0, soonest - time.monotonic())
            for handle, answer in self.backend.wait(list(running), wait):
                c, _, worker = running.pop(handle)
                if isinstance(answer, _Lost):
                    worker = self.backend.replace(worker) if not self.backend.retries_itself else worker
                    if not self.backend.retries_itself and result.attempts[chunks[c][0]] <= self.retries:
                        todo.appendleft(c)
                    else:
                        self._fail(result, chunks[c], answer.reason, default)
                else:
                    for i, (ok, value) in zip(chunks[c], answer):
                        result.values[i], result.reasons[i] = (value, None) if ok else (default, value)
                idle.append(worker)
            now = time.monotonic()
            for handle in [h for h, (_, d, _) in running.items() if d <= now]:
                c, _, worker = running.pop(handle)
                self._fail(result, chunks[c], f"timed out after {self.timeout:g} s per item", default)
                idle.append(self.backend.replace(worker))
        return result

    @staticmethod
    def _fail(result: MapResult, indices: range, reason: str, default: Any) -> None:
        for i in indices:
            result.values[i], result.reasons[i] = default, reason

    def close(self) -> None:
        """Stop the workers (and a Ray instance this pool started)."""
        self._finalizer()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def make_pool(factory: Callable[[], Callable[[Any], Any]], *, executor: str = "local", workers: int | None = None,
              address: str | None = None, timeout: float | None = None, retries: int = 2, worker_cpus: float = 1.0,
              batched: bool = False) -> WorkerPool:
    """A started pool of ``workers`` workers, each holding ``factory()``: a function of one item, or
    of a list of items when ``batched``. ``timeout`` is seconds per item (not enforced in-process);
    ``retries`` is how often an item whose worker died is sent again. ``factory`` may be a lambda
    or closure (it travels with cloudpickle)."""
    import cloudpickle

    if executor not in EXECUTORS:
        raise ParallelError(f"Unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}.")
    if workers is not None and workers < 1:
        raise ParallelError(f"workers must be at least 1, not {workers}.")
    if timeout is not None and timeout <= 0:
        raise ParallelError(f"The per-item timeout must be positive seconds, not {timeout}.")
    backend = {"local": _Local, "processes": _Processes, "ray": _Ray}[executor]
    count = 1 if executor == "local" else workers or max(1, os.cpu_count() or 1)
    options = {"address": address, "retries": retries, "worker_cpus": worker_cpus} if executor == "ray" else {}
    return WorkerPool(backend(cloudpickle.dumps(factory), count, batched, **options), timeout, retries)
