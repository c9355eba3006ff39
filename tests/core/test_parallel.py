"""The runtime's parallel map: input order, failures and timeouts with reasons, lost workers retried."""

from __future__ import annotations

import os
import signal
import time

import pytest

from gentoolkit.errors import GentoolkitError
from gentoolkit.parallel import ParallelError, make_pool
from gentoolkit.runtime import Runtime, RuntimeOptions, executor_settings


def square_or_fail(x):
    if x == 3:
        raise ValueError("three is bad")
    if x == 5:
        time.sleep(30)
    time.sleep(0.01 * (x % 3))  # items finish out of order
    return x * x


def die_once(marker):
    """A worker function that kills its own process the first time it sees item 4."""
    def fn(x):
        if x == 4 and not os.path.exists(marker):
            open(marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        return (x, os.getpid())
    return fn


def test_local_map_keeps_order_and_records_failures():
    with Runtime(RuntimeOptions(progress=False)) as runtime:
        result = runtime.map(lambda x: square_or_fail(x) if x != 5 else -1, range(7), default=0)
    assert result.values == [0, 1, 4, 0, 16, -1, 36]
    assert result.failures == {3: "ValueError: three is bad"}


def test_processes_keep_order_record_errors_and_timeouts_and_replace_the_stuck_worker():
    with make_pool(lambda: square_or_fail, executor="processes", workers=2, timeout=1.0) as pool:
        start = time.monotonic()
        result = pool.map(range(10), default=0)
        elapsed = time.monotonic() - start
        assert pool.size == 2
        again = pool.map([6, 7], default=0)  # the replaced worker serves the next map
    assert result.values == [0, 1, 4, 0, 16, 0, 36, 49, 64, 81]
    assert result.failures == {3: "ValueError: three is bad", 5: "timed out after 1 s per item"}
    assert elapsed < 10  # the 30 s item was cut off, not waited for
    assert again.values == [36, 49] and not again.failures


def test_stateful_workers_call_the_factory_once_each(tmp_path):
    def factory():
        with open(tmp_path / f"init-{os.getpid()}", "w"):
            pass
        return lambda x: os.getpid()

    with make_pool(factory, executor="processes", workers=2) as pool:
        pids = pool.map(range(20), chunksize=3).values
    assert set(pids) == {int(p.name.split("-")[1]) for p in tmp_path.iterdir()}  # one init per worker
    assert len(list(tmp_path.iterdir())) == 2 and os.getpid() not in pids


def test_a_killed_process_is_replaced_and_its_item_retried_once(tmp_path):
    with make_pool(lambda: die_once(str(tmp_path / "died")), executor="processes", workers=2, retries=2) as pool:
        result = pool.map(range(8), default=None)
    assert [v[0] for v in result.values] == list(range(8)) and not result.failures
    assert result.attempts == [1, 1, 1, 1, 2, 1, 1, 1]  # only the killed item was sent again
    assert (tmp_path / "died").exists()


def test_an_item_whose_worker_keeps_dying_fails_with_a_reason(tmp_path):
    def always_dies(x):
        if x == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return x

    with make_pool(lambda: always_dies, executor="processes", workers=1, retries=1) as pool:
        result = pool.map([0, 1, 2], default=-1)
    assert result.values == [0, -1, 2] and result.attempts == [1, 2, 1]
    assert "worker process died" in result.reasons[1]


def test_batched_functions_fall_back_to_single_items_to_find_the_failure():
    def batch(xs):
        if 3 in xs:
            raise ValueError("three is bad")
        return [x + 100 for x in xs]

    with make_pool(lambda: batch, batched=True) as pool:
        result = pool.map(range(6), default=0, chunksize=4)
    assert result.values == [100, 101, 102, 0, 104, 105]
    assert result.failures == {3: "ValueError: three is bad"}


def test_a_factory_that_fails_stops_the_pool_with_its_reason():
    def factory():
        raise FileNotFoundError("receptor.pdbqt")

    with pytest.raises(ParallelError, match="receptor.pdbqt"):
        make_pool(factory, executor="processes", workers=1)


def test_runtime_options_and_executor_settings_are_checked():
    with pytest.raises(GentoolkitError, match="Unknown executor 'dask'"):
        RuntimeOptions(executor="dask")
    for bad, match in (({"workers": 0}, "--workers 0"), ({"timeout": -1}, "executor.timeout -1"),
                       ({"retries": -1}, "executor.retries -1")):
        with pytest.raises(GentoolkitError, match=match):
            RuntimeOptions(**bad)
    options = executor_settings(RuntimeOptions(executor="ray"), {"address": "auto", "timeout": 5.0, "workers": 3})
    assert (options.executor_address, options.timeout, options.workers) == ("auto", 5.0, 3)
    with pytest.raises(GentoolkitError, match="executor.address"):
        executor_settings(RuntimeOptions(), {"adress": "auto"})


def test_the_runtime_closes_its_pools():
    runtime = Runtime(RuntimeOptions(executor="processes", workers=1, progress=False))
    pool = runtime.pool(lambda: abs)
    process = pool.backend.workers[0][0]
    assert process.is_alive()
    runtime.close()
    assert not process.is_alive()


def test_the_command_line_splits_executor_settings_from_task_overrides():
    from gentoolkit.cli import _split_executor_settings, runtime_options

    rest, settings = _split_executor_settings(["rl.max_steps=3", "executor.address=ray://head:10001",
                                               "executor.timeout=30"])
    assert rest == ["rl.max_steps=3"] and settings == {"address": "ray://head:10001", "timeout": 30}
    options = runtime_options(executor="ray", workers=8, executor_settings=settings)
    assert (options.executor, options.workers, options.executor_address, options.timeout) == \
        ("ray", 8, "ray://head:10001", 30)
