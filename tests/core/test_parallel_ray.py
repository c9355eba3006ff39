"""The Ray executor: the same contract as local processes, with Ray restarting killed workers."""

from __future__ import annotations

import os
import signal
import time

import pytest

from gentoolkit.parallel import RAY_INSTALL, ParallelError, make_pool, ray_available
from gentoolkit.runtime import Runtime, RuntimeOptions

pytestmark = pytest.mark.skipif(not ray_available(), reason=f"Ray is not installed: {RAY_INSTALL}")


@pytest.fixture(scope="module")
def ray_instance():
    import ray

    ray.init(address="local", num_cpus=4, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def slow_square(x):
    if x == 2:
        raise ValueError("two is bad")
    if x == 6:
        time.sleep(60)
    time.sleep(0.02 * (x % 3))
    return x * x


def test_ray_map_keeps_order_and_records_errors_and_timeouts(ray_instance):
    options = RuntimeOptions(executor="ray", workers=3, timeout=2.0, worker_cpus=0.5, progress=False)
    with Runtime(options) as runtime:
        start = time.monotonic()
        result = runtime.map(slow_square, range(9), default=0)
        elapsed = time.monotonic() - start
    assert result.values == [0, 1, 0, 9, 16, 25, 0, 49, 64]
    assert result.failures == {2: "ValueError: two is bad", 6: "timed out after 2 s per item"}
    assert elapsed < 30
    assert ray_instance.is_initialized()  # the runtime did not start this Ray, so it leaves it running


def test_a_killed_ray_worker_is_restarted_by_ray_and_its_item_retried(ray_instance, tmp_path):
    marker = str(tmp_path / "died")

    def factory():
        def fn(x):
            if x == 5 and not os.path.exists(marker):
                open(marker, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)
            return x + 1000
        return fn

    with make_pool(factory, executor="ray", workers=2, retries=2, worker_cpus=0.5) as pool:
        result = pool.map(range(10), default=None)
    assert os.path.exists(marker)  # a worker really died mid-map
    assert result.values == [x + 1000 for x in range(10)] and not result.failures


def test_a_ray_worker_factory_that_fails_says_why(ray_instance):
    def factory():
        raise FileNotFoundError("receptor.pdbqt")

    with pytest.raises(ParallelError, match="receptor.pdbqt"):
        make_pool(factory, executor="ray", workers=1, worker_cpus=0.5)


class _FlakyRay:
    """``ray`` whose Ray Client connection fails at the server ``failures`` times, as Ray 2.60's
    proxier does when the server it forks for a client dies at start (ray-project/ray#63202)."""

    def __init__(self, failures: int):
        self.failures, self.calls = failures, 0

    def init(self, **kwargs):
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("Initialization failure from server:\nTraceback ...\n"
                                  "psutil.ZombieProcess: PID still exists but it's a zombie (pid=5110)")


def test_a_ray_client_connection_that_the_server_failed_to_start_is_tried_again(monkeypatch):
    from gentoolkit.parallel import _connect_ray

    monkeypatch.setattr("gentoolkit.parallel.time.sleep", lambda s: None)

    ray = _FlakyRay(failures=2)
    _connect_ray(ray, "ray://127.0.0.1:10001")
    assert ray.calls == 3


def test_a_ray_client_connection_that_keeps_failing_says_what_to_check(monkeypatch):
    from gentoolkit.parallel import _connect_ray

    monkeypatch.setattr("gentoolkit.parallel.time.sleep", lambda s: None)

    ray = _FlakyRay(failures=99)
    with pytest.raises(ParallelError, match="(?s)Could not connect to the Ray cluster at 'ray://127.0.0.1:10001'.*head node"):
        _connect_ray(ray, "ray://127.0.0.1:10001")
    assert 1 < ray.calls < 10
