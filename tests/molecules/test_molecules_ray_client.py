"""`run molecules` from another process through Ray Client (ray://), as from a laptop to a cluster."""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gentoolkit.parallel import RAY_INSTALL, ray_available

pytestmark = [pytest.mark.skipif(not ray_available(), reason=f"Ray is not installed: {RAY_INSTALL}"),
              pytest.mark.slow]
pytest.importorskip("rdkit")

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    """A Ray head started with `ray start --head --block` (Ray Client server on its own port); stopping
    it stops only what it started, never another Ray instance on this machine."""
    client = _free_port()
    log = tmp_path_factory.mktemp("head") / "head.log"
    proc = subprocess.Popen([str(BIN / "ray"), "start", "--head", "--block", f"--port={_free_port()}",
                             f"--ray-client-server-port={client}", "--num-cpus=3", "--include-dashboard=false",
                             "--disable-usage-stats"], stdout=open(log, "w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", client), timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None, log.read_text()
            time.sleep(1)
    else:
        os.killpg(proc.pid, signal.SIGTERM)
        pytest.fail(f"the Ray head did not open its client port in 120 s:\n{log.read_text()}")
    yield f"ray://127.0.0.1:{client}"
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(90)


def test_a_run_scores_on_a_cluster_through_ray_client(head, tmp_path):
    oracle = tmp_path / "oracle.py"
    oracle.write_text(textwrap.dedent(f"""
        import os
        def heavy_atoms(smiles):
            open(os.path.join({str(tmp_path)!r}, f"scored-in-{{os.getpid()}}"), "w").close()
            return [sum(c.isalpha() and c.isupper() for c in s) for s in smiles]
    """))
    (tmp_path / "config.toml").write_text(textwrap.dedent(f"""
        [rl]
        max_steps = 1
        batch_size = 8
        [[scoring.components]]
        component = "user_function"
        params = {{ function = "{oracle}:heavy_atoms" }}
    """))
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}  # as a user's shell has it
    run = subprocess.run([str(BIN / "gentoolkit"), "run", "molecules", "--config", str(tmp_path / "config.toml"),
                          "--executor", "ray", "--workers", "2", "--set", f"executor.address={head}",
                          "--device", "cpu", "--out", str(tmp_path / "run"), "--no-progress"],
                         capture_output=True, text=True, timeout=400, env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "on 2 Ray workers" in run.stdout + run.stderr
    with open(tmp_path / "run" / "molecules.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and all(r["reason"] in ("", "invalid SMILES") for r in rows)
    assert list(tmp_path.glob("scored-in-*"))  # the oracle ran, in the cluster's worker processes


def test_an_unreachable_cluster_is_one_clear_error(tmp_path):
    run = subprocess.run([str(BIN / "gentoolkit"), "run", "molecules", "--executor", "ray", "--set",
                          f"executor.address=ray://127.0.0.1:{_free_port()}", "--set", "rl.max_steps=1",
                          "--set", "scoring.components=[{component='user_function', params={function='math:log'}}]",
                          "--device", "cpu", "--out", str(tmp_path / "run"), "--no-progress"],
                         capture_output=True, text=True, timeout=400,
                         env={**os.environ, "RAY_CLIENT_INITIAL_CONNECTION_TIMEOUT_S": "1",
                              "RAY_CLIENT_MAX_CONNECTION_TIMEOUT_S": "2"})  # Ray's own knobs: fail fast
    assert run.returncode == 2, run.stdout[-2000:] + run.stderr[-2000:]
    assert "Could not connect to the Ray cluster at 'ray://127.0.0.1:" in run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr


def test_without_an_address_a_run_starts_its_own_ray_and_never_joins_a_cluster_already_here(head):
    """`ray start` on this machine must not capture `--executor ray` runs that did not ask for it."""
    code = ("import os, ray\nfrom gentoolkit.parallel import make_pool\n"
            "pool = make_pool(lambda: (lambda x: 2 * x), executor='ray', workers=1)\n"
            "print(pool.map([1, 2]).values, ray.cluster_resources()['CPU'] == os.cpu_count() != 3)\npool.close()\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().endswith("[2, 4] True")
