"""Two CPU processes (gloo): ImageModel.optimize averages gradients, so ranks stay in step."""

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp


def _worker(rank: int, port: int, out: str) -> None:
    os.environ.update(WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from gentoolkit.runtime import Runtime, RuntimeOptions
    from gentoolkit_image.models import create_model

    runtime = Runtime(RuntimeOptions(device="cpu", seed=0, out=out, progress=False)).start()
    torch.manual_seed(0)  # the same initial weights on both ranks
    model = create_model("vae", (1, 8, 8), latent_dim=4, width=8)
    optimizers = model.configure_optimizers()
    torch.manual_seed(100 + rank)  # different data on each rank
    model.training_step(torch.rand(16, 1, 8, 8), None, optimizers, runtime)
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    gathered = [torch.empty_like(flat) for _ in range(2)]
    torch.distributed.all_gather(gathered, flat)
    if rank == 0:
        with open(os.path.join(out, "result.txt"), "w") as f:
            f.write("same" if torch.equal(gathered[0], gathered[1]) else "different")
    runtime.close()


@pytest.mark.slow  # two processes importing torch
def test_gradients_are_averaged_across_ranks(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_worker, args=(port, str(tmp_path)), nprocs=2, join=True)
    assert (tmp_path / "result.txt").read_text() == "same"
