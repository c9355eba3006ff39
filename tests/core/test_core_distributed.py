"""Distributed training: two gloo processes on CPU under torchrun share gradients and shard data."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_gloo_processes_train_one_model(tmp_path):
    worker = Path(__file__).with_name("ddp_worker.py")
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
               f"--master_port={_free_port()}", str(worker), str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["world_size"] == ranks[1]["world_size"] == 2
    assert ranks[0]["weights"] == ranks[1]["weights"], "DDP must keep replicas identical"
    assert ranks[0]["out_dir"] == ranks[1]["out_dir"]
    seen0, seen1 = set(ranks[0]["seen"]), set(ranks[1]["seen"])
    assert not seen0 & seen1 and seen0 | seen1 == set(range(64)), "each rank gets its own shard"
    assert ranks[0]["losses"] == ranks[1]["losses"], "all_reduce_mean gives every rank the same loss"
    assert ranks[0]["losses"][-1] < ranks[0]["losses"][0]
    written = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert written == ["final.json", "final.safetensors"], "only rank 0 writes, once"
